//! Scoring one target: a feature row in, what the policy observes out. `backtest`,
//! training's held-out evaluation and `serve` all score through this.
//!
//! In: the pipeline, a target of it, the horizon, and the target's model; then, per
//! step, the target signal's feature row and the rule's own state. Out: an
//! [`Observation`]: the probability that the rule's threshold is reached within the
//! horizon, ETA and its standard error, plus the anomaly score and level for the
//! output table.
//!
//! The probability is the calibrated classifier's when the model has one and every
//! input is known; otherwise the model's [`Passage`] over its window: the first-passage
//! probability ([`Inputs::passage`]) or the `predict_linear` rule
//! ([`Inputs::predict_linear`]), calibrated, or, while that window still lacks history,
//! over the longest shorter window that has it. With no window known it is NaN: nothing is claimed, and
//! no ticket opens, on absent data.

use super::artifact::{Passage, PassageMethod, TargetModel};
use super::inputs::Inputs;
use super::policy::{AlertState, Observation};
use crate::config::duration;
use crate::features::FeatureSpec;
use crate::pipeline::Pipeline;
use crate::rules::Target;
use crate::tickets::Evidence;

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

/// The suffixes of a spec's window columns (`5m`, `1h`), shortest first.
pub fn window_names(spec: &FeatureSpec) -> Vec<String> {
    let mut windows = spec.params().windows.clone();
    windows.sort();
    windows.into_iter().map(duration::format).collect()
}

impl TargetScorer {
    /// The scorer of `target` over its horizon, whose signal is the pipeline's signal
    /// named after it.
    pub fn new(pipeline: &Pipeline, target: &Target) -> TargetScorer {
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
            inputs: Inputs::new(
                &names,
                &window_names(&pipeline.signals[signal].features),
                target,
                target.horizon.as_secs_f64(),
            ),
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

    /// The columns of the signal's feature rows that scoring reads, ascending.
    pub fn columns(&self) -> Vec<usize> {
        let mut columns = self.inputs.columns();
        columns.extend([self.level, self.anomaly, self.eta, self.eta_stderr]);
        columns.extend(self.slope);
        columns.sort_unstable();
        columns.dedup();
        columns
    }

    /// The classifier's uncalibrated score for a row; NaN without a classifier or with
    /// an input unknown. `buffer` is scratch space.
    pub fn raw_score(&self, model: &TargetModel, row: &[f64], buffer: &mut Vec<f64>) -> f64 {
        match &model.classifier {
            Some(classifier) => {
                buffer.clear();
                self.inputs.encode(row, buffer);
                if buffer.iter().any(|x| x.is_nan()) {
                    return f64::NAN;
                }
                classifier.score(buffer)
            }
            None => f64::NAN,
        }
    }

    /// The first-passage probability of the model's window, or of the longest shorter
    /// window with enough history; NaN when none has. 0 while the signal has fallen back
    /// from a level closer to the threshold, within the longest window, that did not
    /// cross it: below [`Passage::memory`] of the way there (a log rotated, a scratch
    /// disk emptied: until it passes that level again, it has shown it turns back).
    pub fn passage(&self, passage: &Passage, row: &[f64]) -> f64 {
        let raw = self
            .uncalibrated_passage(passage, row)
            .map_or(f64::NAN, |(_, raw)| raw);
        self.calibrate_passage(passage, raw, row)
    }

    /// [`TargetScorer::passage`] of a row whose probability before calibration (its
    /// `passage` without calibration) is known already: calibrating another way does
    /// not compute it again.
    pub fn calibrate_passage(&self, passage: &Passage, uncalibrated: f64, row: &[f64]) -> f64 {
        if uncalibrated.is_nan() {
            return f64::NAN;
        }
        if (0.0..passage.memory).contains(&self.inputs.closest(row)) {
            return 0.0;
        }
        calibrated(passage, uncalibrated)
    }

    /// The window the first-passage probability uses for `row` (the model's, or the
    /// longest shorter one with enough history) and its probability before calibration;
    /// None when no window has enough history.
    fn uncalibrated_passage(&self, passage: &Passage, row: &[f64]) -> Option<(usize, f64)> {
        let chosen = self
            .inputs
            .windows()
            .position(|w| w == passage.window)
            .unwrap_or(0);
        let probability = |k: usize| match passage.method {
            PassageMethod::FirstPassage => self.inputs.passage(row, k, passage.z),
            PassageMethod::PredictLinear => self.inputs.predict_linear(row, k),
        };
        (0..=chosen)
            .rev()
            .map(|k| (k, probability(k)))
            .find(|(_, p)| !p.is_nan())
    }

    /// What the row's probability rests on, largest effect first, at most `most`: the
    /// classifier's inputs that moved its score most (the score minus the score with the
    /// input at its mean training value) when the classifier scored the row; otherwise
    /// the drift, volatility and distance behind the first-passage probability.
    pub fn evidence(&self, model: &TargetModel, row: &[f64], most: usize) -> Vec<Evidence> {
        let mut input = Vec::new();
        self.inputs.encode(row, &mut input);
        let mut evidence: Vec<Evidence> = match &model.classifier {
            Some(classifier) if input.iter().all(|x| !x.is_nan()) => classifier
                .effects(&input)
                .into_iter()
                .enumerate()
                .map(|(i, effect)| Evidence {
                    input: self.inputs.names()[i].clone(),
                    value: input[i],
                    effect,
                })
                .collect(),
            _ => match self.uncalibrated_passage(&model.passage, row) {
                Some((k, raw)) => match model.passage.method {
                    PassageMethod::FirstPassage => self
                        .inputs
                        .passage_evidence(row, k, model.passage.z, |p| {
                            calibrated(&model.passage, p)
                        })
                        .into(),
                    PassageMethod::PredictLinear => {
                        let window = self.inputs.windows().nth(k).unwrap_or_default();
                        vec![Evidence {
                            input: format!("predict_linear_{window}"),
                            value: self.inputs.predicted(row, k),
                            effect: calibrated(&model.passage, raw)
                                - calibrated(&model.passage, 0.0),
                        }]
                    }
                },
                None => Vec::new(),
            },
        };
        evidence.sort_by(|a, b| b.effect.abs().total_cmp(&a.effect.abs()));
        evidence.truncate(most);
        evidence
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
            _ if !raw.is_nan() => raw,
            _ => self.passage(&model.passage, row),
        };
        self.observe(row, probability, alert)
    }
}

/// `probability` through the passage's calibration, if it has one.
fn calibrated(passage: &Passage, probability: f64) -> f64 {
    match &passage.calibration {
        Some(calibration) if !probability.is_nan() => calibration.probability(probability),
        _ => probability,
    }
}
