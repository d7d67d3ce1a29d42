//! How well tickets anticipate alerts, and the baselines they are measured against.
//!
//! - [`episodes`]: tickets (entity, open time) and alert onsets in; recall, precision,
//!   lead times and false tickets per entity-day out.
//! - [`baselines`]: the two references every figure is shown next to: the rule itself,
//!   and the canonical `predict_linear` rule.

pub mod baselines;
pub mod episodes;

pub use episodes::{Figures, Onset, Ticket, onsets, score};
