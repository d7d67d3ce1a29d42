//! Training: an export in, a model artifact and its held-out evaluation out.
//!
//! The export is replayed through the pipeline's signals and feature engine (the code
//! `serve` runs; [`trajectories`]), or its features are read back from a table that
//! `harbinger features` wrote as Parquet ([`cache`]). Labels come from the rules' own
//! episodes in `ALERTS` ([`alerts`]), and each target is fitted by [`fit::fit_target`],
//! its model chosen on a weighted, stratified sample of the training entities ([`choice`]). Evaluation is by
//! entity: the entities are split into folds, and each fold is scored by a model fitted
//! (with its own inner validation) on the other folds only, so every figure is on
//! entities the model never saw; the two baselines run over the same entities, and every
//! candidate ticket policy too, whose front the model keeps for false-ticket budgets
//! ([`front`]). The folds' fits and the final one run in parallel.

pub mod alerts;
pub mod assess;
pub mod cache;
pub mod choice;
pub mod data;
pub mod fit;
pub mod folds;
pub mod front;
pub mod parallel;
pub mod reach;
pub mod rows;
pub mod run;
pub mod sample;
pub mod trajectories;

pub use alerts::{AlertHistory, Episode};
pub use data::TargetData;
pub use fit::fit_target;
pub use rows::Rows;
pub use run::{HeldOutTicket, Options, Trained, train};
pub use trajectories::{Trajectory, collect, columns_read};
