//! How well harbinger's outputs anticipate what happened, measured the way the
//! comparisons people trust measure it. Pure code: no I/O.
//!
//! - [`episodes`]: tickets (entity, open time) and alert episodes in; recall, precision,
//!   lead times and false tickets per entity-day out, as outside judges score them.
//! - [`baselines`]: the two references every figure is shown next to: the rule itself,
//!   and the canonical `predict_linear` rule.
//! - [`nab`]: the Numenta Anomaly Benchmark's scorer (windows, scaled-sigmoid rewards,
//!   probation, the three application profiles, a threshold swept over the corpus, and
//!   the normalised 0–100 score), for anomaly scores against labelled windows; its
//!   driver, which reads CSV files, is `examples/nab.rs`.

pub mod baselines;
pub mod episodes;
pub mod nab;

pub use episodes::{Figures, Judge, Onset, Ticket, onsets, score};
