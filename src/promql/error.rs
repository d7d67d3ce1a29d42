//! Why a PromQL expression cannot be loaded or evaluated.

/// A failure while evaluating a supported expression, with Prometheus's wording.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EvalError {
    /// Vector matching found several series for one match group where one was required,
    /// e.g. "found duplicate series for the match group {instance=\"a\"} on the right
    /// hand-side of the operation: ...; many-to-many matching not allowed: matching
    /// labels must be unique on one side".
    #[error("{0}")]
    Matching(String),
    /// Two output elements ended up with one label set.
    #[error("vector cannot contain metrics with the same labelset")]
    DuplicateLabelset,
}
