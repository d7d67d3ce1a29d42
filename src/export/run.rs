//! One export from start to end: list the series, then query them, `concurrency` at a
//! time, and write them one by one in the list's order.
//!
//! The queries of up to `concurrency` series are in flight at once (each series' chunks
//! in order); a series is written as soon as it and every series before it have been
//! answered. The file is therefore the same, byte for byte, whatever the concurrency, and
//! an interrupted export resumes as a sequential one does: after the last series written
//! whole. Memory holds at most `concurrency` answered series.

use std::path::PathBuf;

use futures_util::{StreamExt, TryStreamExt, stream};

use super::client::Client;
use super::error::ExportError;
use super::grid::Grid;
use super::partial::{Identity, PartialFile};
use super::series::SeriesList;

/// Prometheus's default lookback: a series listed only before the start can still have a
/// value at the first point.
const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// What to export, and where.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Series selectors; the export holds every series matching one of them.
    pub matchers: Vec<String>,
    pub grid: Grid,
    /// At most this many points per `query_range` (Prometheus allows 11,000).
    pub points_per_query: u32,
    /// Series queried at once (at least 1).
    pub concurrency: usize,
    pub out: PathBuf,
    /// Continue an interrupted export of the same request, if one is recorded.
    pub resume: bool,
}

/// What the caller hears while the export runs, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportEvent {
    /// The work: `queries` in all, of which `done` belong to series written before.
    Planned {
        series: usize,
        queries: u64,
        done: u64,
    },
    /// A query's answer written, this many rows.
    Queried { rows: usize },
}

/// What an export did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    pub series: usize,
    /// Series written by an interrupted export that this one resumed.
    pub series_resumed: usize,
    /// Rows and queries of this run (not counting resumed series).
    pub rows: u64,
    pub queries: u64,
}

/// Runs `request` against `client`, telling `observe` how it goes.
pub async fn export(
    client: &Client,
    request: &ExportRequest,
    mut observe: impl FnMut(ExportEvent),
) -> Result<ExportSummary, ExportError> {
    let grid = request.grid;
    let listed = client
        .series(
            &request.matchers,
            grid.start_ms.saturating_sub(LOOKBACK_MS),
            grid.end_ms,
        )
        .await?;
    let list = SeriesList::new(listed)?;
    if list.series.is_empty() {
        tracing::warn!(matchers = ?request.matchers, "no series match: the file will hold the header only");
    }
    let identity = Identity {
        matchers: request.matchers.clone(),
        grid,
        series: list.series.len(),
        series_fingerprint: format!("{:016x}", list.fingerprint()),
    };
    let resumed = match request.resume {
        true => PartialFile::resume(&request.out, identity.clone())?,
        false => None,
    };
    let mut partial = match resumed {
        Some(partial) => partial,
        None => PartialFile::create(&request.out, identity, &list.header())?,
    };
    let series_resumed = partial.series_done();
    let chunks_per_series = grid.chunks(request.points_per_query).count() as u64;
    tracing::info!(
        series = list.series.len(),
        label_columns = list.label_names.len(),
        series_resumed,
        points_per_series = grid.points(),
        queries_per_series = chunks_per_series,
        out = %request.out.display(),
        "export started"
    );
    observe(ExportEvent::Planned {
        series: list.series.len(),
        queries: chunks_per_series * list.series.len() as u64,
        done: chunks_per_series * series_resumed as u64,
    });
    let (mut rows, mut queries) = (0, 0);
    let chunks: Vec<_> = grid.chunks(request.points_per_query).collect();
    let mut answered = stream::iter(&list.series[series_resumed..])
        .map(|series| {
            let selector = list.selector(series);
            let chunks = &chunks;
            async move {
                let mut answers = Vec::with_capacity(chunks.len());
                for &chunk in chunks {
                    answers.push(
                        client
                            .query_range(series, &selector, chunk, grid.step_ms)
                            .await?,
                    );
                }
                Ok::<_, ExportError>((series, answers))
            }
        })
        .buffered(request.concurrency.max(1));
    while let Some((series, answers)) = answered.try_next().await? {
        let cells = list.cells(series);
        let mut member = partial.member();
        for points in answers {
            for point in &points {
                let time = crate::dataset::format_seconds(point.timestamp_ms);
                let head = [series.name.as_str(), &time, &point.value];
                member.write_record(head.into_iter().chain(cells.iter().copied()))?;
            }
            queries += 1;
            rows += points.len() as u64;
            observe(ExportEvent::Queried { rows: points.len() });
        }
        member.commit(1)?;
        tracing::debug!(series = %series.display(), "series written");
    }
    partial.finish()?;
    Ok(ExportSummary {
        series: list.series.len(),
        series_resumed,
        rows,
        queries,
    })
}
