//! The long format: one row per sample, `name,timestamp,value,<label columns...>`.
//!
//! In: the header's column names and the file's records. Out: samples pushed into the
//! `Builder`. An empty label cell means the series does not have that label; the column
//! `label_name` holds the label `name` (which would clash with the metric-name column).
//! The timestamp is unix seconds, the value a Prometheus float string (`NaN`, `+Inf`, ...).
//! The three columns may stand anywhere, but exports put them first.
//!
//! Each row costs one hash lookup: a key made of the row's metric name and label cells
//! maps to the series, so a label set is built and validated once per series, not once
//! per row. When the three columns come first, the key is the name and the raw text of
//! the rest of the row (see `CsvFile::rest`): no work per label cell at all.

use super::builder::{Builder, Located, SeriesIndex};
use super::error::{At, DatasetError, Problem};
use super::selector::Labels;
use super::source::CsvFile;
use super::time::parse_unix_seconds;

type HashMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;

/// Separates cells in a key: 0xFF never occurs in UTF-8, and a cell that is not UTF-8 is
/// refused when its key is first seen, so keys of accepted rows are unambiguous.
const SEPARATOR: u8 = 0xFF;
/// The first byte of a key tells how it was made, so the two kinds never collide.
const RAW_KEY: u8 = 0;
const CELL_KEY: u8 = 1;

/// Which column holds what.
struct Layout<'h> {
    name: usize,
    timestamp: usize,
    value: usize,
    /// Label columns: index, and the label name they hold.
    labels: Vec<(usize, &'h str)>,
    /// The name column, then the label columns: the cells that identify a series.
    key: Vec<usize>,
    /// Whether the columns start `name,timestamp,value`, so that the rest is all labels.
    standard: bool,
}

pub fn read(
    file: &mut CsvFile<'_>,
    file_id: u32,
    header: &[String],
    header_line: u32,
    builder: &mut Builder,
) -> Result<(), DatasetError> {
    let layout = layout(header).map_err(|(column, problem)| {
        let at = At {
            line: Some(header_line.into()),
            column: column.map(|index| header[index].clone()),
        };
        file.error(at, problem)
    })?;
    if layout.standard {
        file.split_after(3);
    }
    let mut series_of_key: HashMap<Box<[u8]>, SeriesIndex> = HashMap::default();
    let mut key = Vec::new();
    while let Some(line) = file.next()? {
        key.clear();
        match file.rest().filter(|_| layout.standard) {
            Some(rest) => {
                key.push(RAW_KEY);
                key.extend_from_slice(file.field(layout.name));
                key.push(SEPARATOR);
                key.extend_from_slice(rest);
            }
            None => {
                key.push(CELL_KEY);
                for &column in &layout.key {
                    key.extend_from_slice(file.field(column));
                    key.push(SEPARATOR);
                }
            }
        }
        let cell_error =
            |column: usize, problem| file.error(At::cell(line.into(), &header[column]), problem);
        let series = match series_of_key.get(key.as_slice()) {
            Some(&series) => series,
            None => {
                let labels = labels(file, &layout).map_err(|(c, p)| cell_error(c, p))?;
                let series = builder.intern(labels);
                series_of_key.insert(key.as_slice().into(), series);
                series
            }
        };
        let timestamp_ms = match file.field(layout.timestamp) {
            b"" => return Err(cell_error(layout.timestamp, Problem::EmptyCell)),
            text => parse_unix_seconds(text)
                .ok_or_else(|| cell_error(layout.timestamp, Problem::UnixSeconds(lossy(text))))?,
        };
        let value = match file.field(layout.value) {
            b"" => return Err(cell_error(layout.value, Problem::EmptyCell)),
            text => parse_value(text)
                .ok_or_else(|| cell_error(layout.value, Problem::Number(lossy(text))))?,
        };
        builder.push(
            series,
            Located {
                timestamp_ms,
                value,
                file: file_id,
                line,
            },
        );
    }
    Ok(())
}

/// A Prometheus sample value: a decimal or exponent float, `NaN`, `Inf`, `+Inf`, `-Inf`
/// (any case; also JavaScript's `Infinity`).
pub fn parse_value(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

pub fn lossy(text: &[u8]) -> String {
    String::from_utf8_lossy(text).into_owned()
}

/// Finds the name, timestamp and value columns and the label columns; an error carries the
/// index of the offending column, if there is one.
fn layout(header: &[String]) -> Result<Layout<'_>, (Option<usize>, Problem)> {
    const ROLES: [&str; 3] = ["name", "timestamp", "value"];
    let mut found: [Option<usize>; 3] = [None; 3];
    let mut labels: Vec<(usize, &str)> = Vec::new();
    for (index, column) in header.iter().enumerate() {
        if let Some(role) = ROLES.iter().position(|role| role == column) {
            if let Some(first) = found[role] {
                return Err((Some(index), Problem::DuplicateColumn { first: first + 1 }));
            }
            found[role] = Some(index);
            continue;
        }
        let label = match column.as_str() {
            "" => return Err((None, Problem::EmptyColumnName { index: index + 1 })),
            "__name__" => return Err((Some(index), Problem::ReservedColumn(column.clone()))),
            "label_name" => "name",
            label => label,
        };
        if let Some(&(first, _)) = labels.iter().find(|(_, l)| *l == label) {
            return Err((Some(index), Problem::DuplicateColumn { first: first + 1 }));
        }
        labels.push((index, label));
    }
    let [name, timestamp, value] = [0, 1, 2].map(|role| {
        found[role].ok_or((
            None,
            Problem::MissingColumn {
                column: ROLES[role],
            },
        ))
    });
    let (name, timestamp, value) = (name?, timestamp?, value?);
    let key = std::iter::once(name)
        .chain(labels.iter().map(|&(index, _)| index))
        .collect();
    Ok(Layout {
        name,
        timestamp,
        value,
        labels,
        key,
        standard: (name, timestamp, value) == (0, 1, 2),
    })
}

/// The label set of a row whose key has not been seen before; an error carries the column.
fn labels(file: &CsvFile<'_>, layout: &Layout<'_>) -> Result<Labels, (usize, Problem)> {
    let text = |column: usize| {
        std::str::from_utf8(file.field(column)).map_err(|_| (column, Problem::NotUtf8))
    };
    let name = text(layout.name)?;
    if name.is_empty() {
        return Err((layout.name, Problem::EmptyMetricName));
    }
    let mut labels = vec![("__name__".to_owned(), name.to_owned())];
    for &(column, label) in &layout.labels {
        let value = text(column)?;
        if !value.is_empty() {
            labels.push((label.to_owned(), value.to_owned()));
        }
    }
    labels.sort_unstable();
    Ok(labels)
}
