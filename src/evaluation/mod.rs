//! How well harbinger's outputs anticipate what happened, measured the way the
//! comparisons people trust measure it. Pure code: no I/O.
//!
//! - [`episodes`]: tickets (entity, open time) and alert episodes in; recall, precision,
//!   lead times and false tickets per entity-day out, as outside judges score them.
//! - [`bootstrap`]: each entity's figures in; 90 % intervals over entities resampled,
//!   and the paired gains of one method over another.
//! - [`baselines`]: the two references every figure is shown next to: the rule itself,
//!   and the canonical `predict_linear` rule.
//! - [`reliability`]: per-step forecasts and outcomes in; the Brier score, the base
//!   rate's, and the reliability diagram's bins out.
//! - [`nab`]: the Numenta Anomaly Benchmark's scorer (windows, scaled-sigmoid rewards,
//!   probation, the three application profiles, a threshold swept over the corpus, and
//!   the normalised 0–100 score), for anomaly scores against labelled windows; its
//!   driver, which reads CSV files, is `examples/nab.rs`.

pub mod baselines;
pub mod bootstrap;
pub mod episodes;
pub mod nab;
pub mod reliability;

pub use bootstrap::{Gains, Interval, Intervals, gains, with_intervals};
pub use episodes::{Figures, Judge, Onset, Ticket, onsets, score, score_each};
