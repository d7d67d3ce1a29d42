//! Export: Prometheus's HTTP API in, the long CSV format out (`harbinger export`).
//!
//! In: a Prometheus URL, series selectors, a time range and a step. Out: one CSV file,
//! plain or gzip, in the format `dataset` reads and lab-dev uses:
//! `name,timestamp,value,<every label name of the exported series, sorted>`, rows ordered
//! by metric name, series and time; each row the value Prometheus's `query_range` gives
//! at a grid point (the latest sample within the lookback), written as Prometheus wrote it.
//!
//! How: `/api/v1/series` lists the series first (the header needs all label names), then
//! each series is asked for on its own with an exact selector, in `query_range` chunks of
//! at most 11,000 points, several series at a time, and written out in the list's order:
//! memory holds the series list and the answers of at most `concurrency` series,
//! whatever the size of the export.
//!
//! - `grid`: the evaluation grid and its chunks (pure);
//! - `retry`: how many attempts, how long to wait (pure; the classification and the
//!   backoff are [`crate::retry`]'s);
//! - `series`: row order, label columns, exact selectors (pure);
//! - `client`: the two API calls, with retries;
//! - `partial`: the output file while it grows, and the record that lets an interrupted
//!   export resume with the same bytes;
//! - `run`: the loop tying them together, [`export`].

mod client;
mod error;
mod grid;
mod partial;
mod retry;
mod run;
mod series;

pub use client::{Client, ClientOptions, Point};
pub use error::{ApiProblem, ExportError};
pub use grid::{Chunk, Grid, MAX_POINTS_PER_QUERY};
pub use retry::RetryPolicy;
pub use run::{ExportEvent, ExportRequest, ExportSummary, export};
pub use series::{Series, SeriesList};
