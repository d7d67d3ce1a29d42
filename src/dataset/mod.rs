//! Datasets: CSV exports of Prometheus data read into series of samples, for `query`,
//! `train` and `backtest`.
//!
//! In: paths of CSV files, gzip-compressed or not, in either of the two formats told apart
//! by the header:
//! - the long format, one row per sample: `name,timestamp,value,<label columns...>`
//!   (Prometheus `query_range` exports; see `long`);
//! - Grafana's "series joined by time": a `Time` column, then one column per series named
//!   in PromQL notation (see `joined`).
//!
//! Out: a [`Dataset`], every series with its label set and its samples in time order.
//! Files are merged: the same label set in two files is one series, and a sample present
//! in both is kept once. A series with two different values at one timestamp (a
//! daylight-saving hour folded by the source system, for one) keeps the one
//! [`Duplicates`] says, and [`Loaded::resolved`] counts them per file. Any problem is a [`DatasetError`] naming the file, the line and
//! the column. Nothing here knows about models or the pipeline; it owns only the parsing.

mod builder;
mod error;
mod joined;
mod long;
mod selector;
mod source;
mod time;

#[cfg(test)]
mod real_data_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) use real_data_tests::lab_dev;

use std::path::Path;

pub use error::{At, Conflict, DatasetError, Problem};
pub use selector::{format_series, parse_series};
pub use time::{format_seconds, parse_api_time};

use builder::Builder;
use source::CsvFile;

/// Every series read, sorted by label set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    pub series: Vec<SeriesData>,
}

/// One series: its labels and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    /// Sorted by label name; includes `("__name__", metric)`; no empty values.
    pub labels: Vec<(String, String)>,
    /// Sorted by timestamp, no two with the same timestamp.
    pub samples: Vec<Sample>,
}

/// A float sample. Defined here rather than shared with `ingest`, whose samples belong to
/// the wire format and may change with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub timestamp_ms: i64,
    pub value: f64,
}

impl Dataset {
    /// The number of samples over all series.
    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }

    /// The series having every one of `labels` (name and value, `__name__` for the metric
    /// name), in label-set order.
    pub fn select<'a>(
        &'a self,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a SeriesData> + 'a {
        self.series.iter().filter(|series| {
            labels
                .iter()
                .all(|&(name, value)| series.label(name) == Some(value))
        })
    }
}

impl SeriesData {
    /// The value of one label, `None` if the series does not have it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(label, _)| label.as_str().cmp(name))
            .ok()
            .map(|i| self.labels[i].1.as_str())
    }

    pub fn metric_name(&self) -> &str {
        self.label("__name__").unwrap_or_default()
    }

    /// The series in PromQL notation, `node_load1{instance="host1", job="node"}`.
    pub fn selector(&self) -> String {
        format_series(&self.labels)
    }
}

/// Which of two different values of a series at one timestamp is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Duplicates {
    /// Refuse the file, naming both lines.
    Error,
    /// Keep the value read first.
    First,
    /// Keep the value read last (a later file, or a later line of one file).
    #[default]
    Last,
}

/// A dataset and the duplicates resolved while reading it.
#[derive(Debug)]
pub struct Loaded {
    pub dataset: Dataset,
    /// Per file that had any: how many of its samples repeated a timestamp of their
    /// series with another value (and lost to, or replaced, the other).
    pub resolved: Vec<ResolvedDuplicates>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedDuplicates {
    pub path: std::path::PathBuf,
    pub samples: usize,
}

/// Reads one CSV file, refusing two values at one timestamp.
pub fn read(path: impl AsRef<Path>) -> Result<Dataset, DatasetError> {
    read_files(&[path], Duplicates::Error).map(|loaded| loaded.dataset)
}

/// Reads several CSV files into one dataset; a label set found in several files is one
/// series.
pub fn read_files(
    paths: &[impl AsRef<Path>],
    duplicates: Duplicates,
) -> Result<Loaded, DatasetError> {
    read_into(Builder::default(), paths, duplicates)
}

/// Reads several CSV files as [`read_files`] does, keeping only the series of the metric
/// `names`. Every line is still parsed and refused when malformed; two values at one
/// timestamp are looked for only in the series kept.
pub fn read_files_named(
    paths: &[impl AsRef<Path>],
    duplicates: Duplicates,
    names: &[&str],
) -> Result<Loaded, DatasetError> {
    read_into(Builder::keeping(names), paths, duplicates)
}

fn read_into(
    mut builder: Builder,
    paths: &[impl AsRef<Path>],
    duplicates: Duplicates,
) -> Result<Loaded, DatasetError> {
    for path in paths {
        let path = path.as_ref();
        let file_id = builder.add_file(path.to_owned());
        read_file(path, file_id, &mut builder)?;
    }
    builder.finish(duplicates)
}

fn read_file(path: &Path, file_id: u32, builder: &mut Builder) -> Result<(), DatasetError> {
    let mut file = CsvFile::open(path)?;
    let Some(header_line) = file.next()? else {
        return Err(file.error(At::file(), Problem::Empty));
    };
    let header = (0..file.len())
        .map(|index| file.field(index))
        .map(|cell| match std::str::from_utf8(cell) {
            Ok(name) => Ok(name.to_owned()),
            Err(_) => Err(file.error(
                At::cell(header_line.into(), &long::lossy(cell)),
                Problem::NotUtf8,
            )),
        })
        .collect::<Result<Vec<String>, DatasetError>>()?;
    if header
        .first()
        .is_some_and(|first| joined::is_time_column(first))
    {
        joined::read(&mut file, file_id, &header, header_line, builder)
    } else if header
        .iter()
        .any(|column| matches!(column.as_str(), "name" | "timestamp" | "value"))
    {
        long::read(&mut file, file_id, &header, header_line, builder)
    } else {
        let mut shown = header.join(",");
        if shown.len() > 80 {
            let end = (0..=77)
                .rev()
                .find(|&i| shown.is_char_boundary(i))
                .unwrap_or(0);
            shown.truncate(end);
            shown.push_str("...");
        }
        Err(file.error(
            At::line(header_line.into()),
            Problem::UnknownHeader { header: shown },
        ))
    }
}
