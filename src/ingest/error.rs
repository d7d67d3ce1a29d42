//! Why a write request was refused. Every variant is a client error (the sender must not
//! retry it); the HTTP layer maps each to its status code in one place.

use super::histogram::HistogramProblem;
use super::wire::WireError;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("snappy: {0}")]
    Snappy(String),
    #[error("decoded body of {decoded} bytes exceeds the limit of {limit} bytes")]
    DecodedTooLarge { decoded: usize, limit: usize },
    #[error("protobuf: {0}")]
    Protobuf(WireError),
    #[error("series {series}: protobuf: {error}")]
    SeriesProtobuf { series: usize, error: WireError },
}

/// What is wrong with one series' labels or symbol references.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum SeriesProblem {
    #[error("label {index}: empty label name")]
    EmptyName { index: usize },
    #[error("label {index}: name is not valid UTF-8")]
    NameNotUtf8 { index: usize },
    #[error("label {name:?}: value is not valid UTF-8")]
    ValueNotUtf8 { name: String },
    #[error("label {name:?}: duplicate label name")]
    Duplicate { name: String },
    #[error("label {name:?}: labels not sorted by name ({name:?} after {previous:?})")]
    Unsorted { name: String, previous: String },
    #[error("{count} labels exceed the limit of {limit} per series")]
    TooManyLabels { count: usize, limit: usize },
    #[error("label {name:?}: name is {len} bytes, over the limit of {limit}")]
    NameTooLong {
        name: String,
        len: usize,
        limit: usize,
    },
    #[error("label {name:?}: value is {len} bytes, over the limit of {limit}")]
    ValueTooLong {
        name: String,
        len: usize,
        limit: usize,
    },
    #[error("odd number of label refs ({count}); refs come in name/value pairs")]
    OddLabelRefs { count: usize },
    #[error("symbol ref {reference} is out of range of the {symbols} symbols")]
    SymbolOutOfRange { reference: u32, symbols: usize },
    #[error("no __name__ label")]
    NoMetricName,
    #[error("samples and histograms in one series (2.0 wants a series for each)")]
    SamplesAndHistograms,
    #[error("histogram {index}: {problem}")]
    Histogram {
        index: usize,
        problem: HistogramProblem,
    },
}

impl SeriesProblem {
    /// A bounded name for the kind of problem, used as a metric label value.
    pub fn reason(&self) -> &'static str {
        match self {
            SeriesProblem::TooManyLabels { .. }
            | SeriesProblem::NameTooLong { .. }
            | SeriesProblem::ValueTooLong { .. } => "label_limits",
            SeriesProblem::OddLabelRefs { .. } | SeriesProblem::SymbolOutOfRange { .. } => {
                "invalid_symbol_refs"
            }
            SeriesProblem::NoMetricName => "no_metric_name",
            SeriesProblem::SamplesAndHistograms => "samples_and_histograms",
            SeriesProblem::Histogram { .. } => "invalid_histogram",
            _ => "invalid_labels",
        }
    }
}

impl DecodeError {
    /// A bounded name for the kind of error, used as a metric label value.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Snappy(_) => "snappy",
            DecodeError::DecodedTooLarge { .. } => "too_large",
            DecodeError::Protobuf(_) | DecodeError::SeriesProtobuf { .. } => "protobuf",
        }
    }
}
