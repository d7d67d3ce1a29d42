//! Scoring one target: a feature row in, what the policy observes out. `backtest`,
//! training's held-out evaluation and `serve` all score through this.
//!
//! In: the pipeline, a target of it, the horizon, and the target's trained model (or none
//! while training fits it); then, per step, the target signal's feature row and the
//! rule's own state. Out: an [`Observation`]: calibrated probability (NaN without a
//! classifier), ETA and its standard error, plus the anomaly score and level for the
//! output table.

use super::artifact::TargetModel;
use super::inputs::Inputs;
use super::policy::{AlertState, Observation};
use crate::pipeline::Pipeline;
use crate::rules::Target;

#[derive(Debug, Clone)]
pub struct TargetScorer {
    pub target: Target,
    /// The target's signal, by index in the pipeline.
    pub signal: usize,
    pub inputs: Inputs,
    level: usize,
    /// The slope over the shortest window, if the signal has windows.
    slope: Option<usize>,
    anomaly: usize,
    eta: usize,
    eta_stderr: usize,
}

/// What one step of one target and entity gives.
#[derive(Debug, Clone, Copy)]
pub struct Scored {
    pub observation: Observation,
    pub level: f64,
    /// Slope per second over the shortest window; NaN without one.
    pub trend_per_second: f64,
    pub anomaly_score: f64,
}

impl TargetScorer {
    /// The scorer of `target`, whose signal is the pipeline's signal named after it.
    pub fn new(pipeline: &Pipeline, target: &Target, horizon_s: f64) -> TargetScorer {
        let signal = pipeline
            .signals
            .iter()
            .position(|s| s.name == target.alert)
            .expect("a pipeline names each target's signal after its alert");
        let names = pipeline.signals[signal].features.names();
        let column = |name: &str| {
            names
                .iter()
                .position(|n| n == name)
                .expect("every target signal has these columns")
        };
        TargetScorer {
            target: target.clone(),
            signal,
            inputs: Inputs::new(&names, target, horizon_s),
            level: column("level"),
            slope: names.iter().position(|n| n.starts_with("slope_")),
            anomaly: column("anomaly_score"),
            eta: column(&format!("eta_seconds:{}", target.alert)),
            eta_stderr: column(&format!("eta_stderr_seconds:{}", target.alert)),
        }
    }

    /// The column of the signal's value in its feature rows.
    pub fn level_column(&self) -> usize {
        self.level
    }

    /// The classifier's uncalibrated score for a row; `buffer` is scratch space.
    pub fn raw_score(&self, model: &TargetModel, row: &[f64], buffer: &mut Vec<f64>) -> f64 {
        match &model.classifier {
            Some(classifier) => {
                buffer.clear();
                self.inputs.encode(row, buffer);
                classifier.score(buffer)
            }
            None => f64::NAN,
        }
    }

    /// The inputs that moved the classifier's score most for `row`, largest effect first:
    /// (input name, its value, the score minus the score with it at its mean training
    /// value). Empty without a classifier.
    pub fn evidence(
        &self,
        model: &TargetModel,
        row: &[f64],
        most: usize,
    ) -> Vec<(String, f64, f64)> {
        let Some(classifier) = &model.classifier else {
            return Vec::new();
        };
        let mut input = Vec::new();
        self.inputs.encode(row, &mut input);
        let mut effects: Vec<(String, f64, f64)> = classifier
            .effects(&input)
            .into_iter()
            .enumerate()
            .map(|(i, effect)| (self.inputs.names()[i].clone(), input[i], effect))
            .collect();
        effects.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()));
        effects.truncate(most);
        effects
    }

    /// The step's observation, given the probability already computed for the row.
    pub fn observe(&self, row: &[f64], probability: f64, alert: AlertState) -> Scored {
        Scored {
            observation: Observation {
                probability,
                eta_seconds: row[self.eta],
                eta_stderr_seconds: row[self.eta_stderr],
                alert,
            },
            level: row[self.level],
            trend_per_second: self.slope.map_or(f64::NAN, |at| row[at]),
            anomaly_score: row[self.anomaly],
        }
    }

    /// The full scoring of a row with a trained model.
    pub fn score(
        &self,
        model: &TargetModel,
        row: &[f64],
        alert: AlertState,
        buffer: &mut Vec<f64>,
    ) -> Scored {
        let raw = self.raw_score(model, row, buffer);
        let probability = match &model.calibration {
            Some(calibration) if !raw.is_nan() => calibration.probability(raw),
            _ => raw,
        };
        self.observe(row, probability, alert)
    }
}
