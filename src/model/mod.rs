//! Models: what turns a target's features into a probability, and the policy that turns
//! probabilities and ETAs into tickets.
//!
//! - [`inputs`]: feature row → classifier inputs, relative to threshold and horizon;
//! - [`classifier`]: logistic regression or random forest (fitted with linfa);
//! - [`passage`]: the first-passage probability of a drifting, wandering signal;
//! - [`calibration`]: scores → probabilities (isotonic);
//! - [`policy`]: observations → open / close decisions, one state per target and entity;
//! - [`front`]: the policies no other beats on held-out entities, and the false-ticket
//!   budget that picks one;
//! - [`scorer`]: one target's feature row → observation, the code every caller shares;
//! - [`artifact`]: the model file.

pub mod artifact;
pub mod calibration;
pub mod classifier;
pub mod front;
pub mod inputs;
pub mod passage;
pub mod policy;
pub mod scorer;

pub use artifact::{HeldOut, Model, ModelError, Passage, PassageMethod, PipelineSpec, TargetModel};
pub use calibration::Calibration;
pub use classifier::{Classifier, Kind};
pub use front::{BudgetChoice, Budgets, FrontPoint};
pub use inputs::Inputs;
pub use policy::{
    AlertState, Decision, Observation, Outcome, Policy, PolicyState, TicketSpan, steps_that_matter,
};
pub use scorer::{Scored, TargetScorer};
