//! The PromQL differential test's data and harness, included only by
//! `tests/promql_differential.rs` (which holds the expressions and the test itself).
//!
//! In: the series of a data set and the expressions to evaluate. Out: the data files both
//! engines read (`files`), the generated data set (`generated`), and the outcome of each
//! expression in both engines (`harness`).

pub mod files;
pub mod generated;
pub mod harness;
