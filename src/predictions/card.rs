//! What the status page says about the rules scored and the model scoring them.
//!
//! In: the pipeline's targets and the model (trained, or none) as live scoring holds
//! them. Out: a [`RuleCard`] per target (its condition, `for`, horizon and the window a
//! sparkline covers) and a [`ModelCard`] (who wrote the model, on what data, and per
//! target how it scores, how it opens tickets and its held-out figures). Small clones,
//! nothing of the classifiers themselves.

use std::time::Duration;

use crate::model::artifact::{DataSummary, TrainingSummary};
use crate::model::front::Picked;
use crate::model::{HeldOut, Model, TargetModel};
use crate::rules::Target;

/// One rule as it is predicted.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleCard {
    pub alert: String,
    /// `signal < threshold`, as the rule has it.
    pub condition: String,
    pub threshold: f64,
    pub hold: Duration,
    pub horizon: Duration,
    /// The longest feature window of the rule's signal: what a sparkline covers.
    pub window: Duration,
}

impl RuleCard {
    pub fn of(target: &Target, window: Duration) -> RuleCard {
        RuleCard {
            alert: target.alert.clone(),
            condition: target.condition(),
            threshold: target.threshold,
            hold: target.hold,
            horizon: target.horizon,
            window,
        }
    }
}

/// The model scoring now.
#[derive(Debug, Clone)]
pub struct ModelCard {
    /// The harbinger version that wrote it; None without a model file or the embedded one.
    pub written_by: Option<String>,
    pub data: Option<DataSummary>,
    pub targets: Vec<TargetCard>,
}

/// How one target is scored.
#[derive(Debug, Clone)]
pub struct TargetCard {
    pub alert: String,
    /// `logistic classifier`, `forest classifier`, or what scores without one
    /// (`first-passage probability over 5m`, `predict_linear over 15m`).
    pub method: String,
    /// Whether the model was trained for this target (otherwise it scores untrained).
    pub trained: bool,
    pub horizon: Duration,
    pub training: TrainingSummary,
    pub evaluation: Option<HeldOut>,
    /// How it opens tickets, in words.
    pub policy: String,
    /// When a false-ticket budget replaced the trained policy: the budget and the
    /// picked policy's held-out figures.
    pub budget: Option<Picked>,
}

impl ModelCard {
    /// `scoring` is each target's model as live scoring holds it (trained, or untrained).
    pub fn of<'a>(
        model: Option<&Model>,
        scoring: impl IntoIterator<Item = &'a TargetModel>,
    ) -> ModelCard {
        let targets = scoring
            .into_iter()
            .map(|target| TargetCard {
                alert: target.alert.clone(),
                method: target.scored_by(),
                trained: model.is_some_and(|m| m.target(&target.alert).is_some()),
                horizon: Duration::from_secs_f64(target.horizon_seconds),
                training: target.training.clone(),
                evaluation: target.evaluation.clone(),
                policy: target.policy.to_string(),
                budget: target.budget.clone(),
            })
            .collect();
        ModelCard {
            written_by: model.map(|m| m.written_by.clone()),
            data: model.map(|m| m.data.clone()),
            targets,
        }
    }
}
