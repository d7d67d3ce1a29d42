//! PromQL for signals: expressions parsed with `promql-parser`, checked once against the
//! supported set, and evaluated step by step over the live series state.
//!
//! In: an expression text, and at each evaluation step the samples of the series it
//! selects. Out: a scalar or an instant vector, with Prometheus 2.42's semantics (the
//! version the differential test compares against).
//!
//! - `plan`: text → checked `Plan` (unsupported constructs are refused here, with their
//!   column, never at run time).
//! - `store`: the live series state (recent samples per series, lookback, staleness).
//! - `eval`: one `Plan` at one instant; `functions`, `aggregate` and `binary` hold the
//!   arithmetic, as pure functions.
//! - `replay`: a recorded `Dataset` fed through the store, evaluated at every step.

pub mod aggregate;
pub mod binary;
mod error;
mod eval;
pub mod functions;
mod plan;
mod replay;
mod store;
mod value;

pub use error::EvalError;
pub use eval::evaluate;
pub use plan::{Plan, PlanError};
pub use replay::{Steps, replay, replay_plan, replay_series};
pub use store::{LOOKBACK_MS, SeriesIndex, SeriesStore};
pub use value::{
    Element, Labels, LabelsMap, LabelsSet, METRIC_NAME, Point, Value, Vector, format_value,
};
