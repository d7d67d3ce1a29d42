//! Why a CSV file could not be read, and where: every error names the file, and the line
//! (1-based, the header is line 1) and column when there is one.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A file that could not be read into a dataset.
///
/// Displays as `metrics.csv.gz: line 1234, column "value": cannot parse "abc" as a number`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {at}{problem}", path.display())]
pub struct DatasetError {
    /// The path as the caller gave it.
    pub path: PathBuf,
    pub at: At,
    pub problem: Problem,
}

/// The position of an error inside its file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct At {
    /// 1-based physical line where the CSV record starts; `None` for whole-file errors.
    pub line: Option<u64>,
    /// The column's name as written in the header.
    pub column: Option<String>,
}

impl At {
    pub fn file() -> At {
        At::default()
    }

    pub fn line(line: u64) -> At {
        At {
            line: Some(line),
            column: None,
        }
    }

    pub fn cell(line: u64, column: &str) -> At {
        At {
            line: Some(line),
            column: Some(column.to_owned()),
        }
    }
}

/// Prints `line 3, column "value": `, `line 3: `, or nothing, ready to precede the problem.
impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, &self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column:?}: "),
            (Some(line), None) => write!(f, "line {line}: "),
            (None, Some(column)) => write!(f, "column {column:?}: "),
            (None, None) => Ok(()),
        }
    }
}

/// What is wrong.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("cannot open: {0}")]
    Open(io::Error),
    #[error("cannot read: {0}")]
    Read(io::Error),
    #[error("the name ends in .gz but the content is not gzip")]
    NotGzip,
    #[error("the file is empty (a CSV header was expected)")]
    Empty,
    #[error(
        "unrecognised header {header:?}: expected the long format \
         \"name,timestamp,value,<label columns>\" or Grafana's series joined by time \
         \"Time,<one column per series>\""
    )]
    UnknownHeader { header: String },
    #[error("no {column:?} column: the long format needs the columns name, timestamp and value")]
    MissingColumn { column: &'static str },
    #[error("the column appears twice (first as column {first})")]
    DuplicateColumn { first: usize },
    #[error("column {index} has an empty name")]
    EmptyColumnName { index: usize },
    #[error("a label column cannot be called {0:?}: the metric name is in the \"name\" column")]
    ReservedColumn(String),
    #[error(
        "cannot read the header as a series name such as node_load1{{instance=\"host1\"}}: {0}"
    )]
    SeriesName(String),
    #[error("the series has no metric name")]
    NoMetricName,
    #[error("the metric name is empty")]
    EmptyMetricName,
    #[error("the cell is empty")]
    EmptyCell,
    #[error("the cell is not valid UTF-8")]
    NotUtf8,
    #[error("cannot parse {0:?} as a number")]
    Number(String),
    #[error("cannot parse {0:?} as a unix timestamp in seconds")]
    UnixSeconds(String),
    #[error(
        "cannot parse {0:?} as a time: expected a date and time such as \
         2026-11-25T01:52:40Z or 2026-11-25 01:52:40 (UTC), or epoch seconds or milliseconds"
    )]
    Time(String),
    #[error("the row has {found} fields but the header has {expected}")]
    RowLength { found: usize, expected: usize },
    #[error("more than {} lines are not supported", u32::MAX)]
    TooManyLines,
    #[error(
        "{} has two values at {}: {} on {} and {} on this line",
        .0.series, .0.time, .0.first_value, .0.first, .0.value
    )]
    Conflict(Box<Conflict>),
}

/// One timestamp of a series read twice with different values.
#[derive(Debug)]
pub struct Conflict {
    /// The series in PromQL notation.
    pub series: String,
    /// The timestamp, in unix seconds with millisecond precision.
    pub time: String,
    /// Where the first value was read: `line 3`, or `other.csv line 3` in another file.
    pub first: String,
    pub first_value: f64,
    pub value: f64,
}
