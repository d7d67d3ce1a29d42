//! What can go wrong in an export, each error naming the URL, series or file involved.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A request to Prometheus failed; `url` is the endpoint (without its query), and
    /// `request` says what was asked (the series selector, the time range).
    #[error("{url} ({request}): {problem}")]
    Api {
        url: String,
        request: String,
        problem: ApiProblem,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot resume into {}: {reason}; run again without --resume to start over", path.display())]
    Resume { path: PathBuf, reason: String },
    #[error(
        "series {series}: its label {label:?} cannot be a column of the long CSV format, \
         where {label:?} {meaning}"
    )]
    LabelClash {
        series: String,
        label: String,
        meaning: &'static str,
    },
}

/// Why a request to Prometheus failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiProblem {
    /// A 4xx other than 429: the request is wrong, and retrying would not help.
    #[error("Prometheus answered {status}: {message}")]
    Refused { status: u16, message: String },
    /// Transient failures (429, 5xx) until the attempts ran out.
    #[error("answered {status} to each of {attempts} attempts, last: {message}")]
    GaveUp {
        attempts: u32,
        status: u16,
        message: String,
    },
    /// No answer (connection refused, timeout, connection reset) until the attempts ran out.
    #[error("no answer after {attempts} attempts, last: {reason}")]
    Unreachable { attempts: u32, reason: String },
    /// A 2xx answer that is not what the API documents.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

impl ExportError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ExportError {
        let path = path.into();
        move |source| ExportError::Io { path, source }
    }
}
