//! The model artifact: one JSON file, versioned, that `train` writes and `backtest` and
//! `serve` load. Its JSON Schema is `schemas/model.schema.json`.
//!
//! It holds the pipeline it was trained with ([`PipelineSpec`]: step, entity labels,
//! each signal's expression and feature columns, each target's comparison and
//! threshold), the horizon, per target the inputs, classifier, calibration and decision
//! policy, a summary of the training data and the held-out evaluation. Loading checks the
//! format and version; [`Model::check`] compares the pipeline with the one in use and
//! names every difference.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::calibration::Calibration;
use super::classifier::{Classifier, Kind};
use super::front::{FrontPoint, Picked};
use super::policy::Policy;
use super::scorer::TargetScorer;
use crate::dataset::Dataset;
use crate::evaluation::{Figures, Gains};
use crate::pipeline::Pipeline;
use crate::rules::{Comparison, Target};

pub const FORMAT: &str = "harbinger-model";
/// 5: the classifier's inputs end with the signal's `anomaly_score`.
/// 6: features gain `line_<w>`; a target's passage names its method.
pub const VERSION: u32 = 6;

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when written; a loader refuses other versions.
    pub version: u32,
    /// The harbinger version that wrote it.
    pub written_by: String,
    pub seed: u64,
    pub pipeline: PipelineSpec,
    pub targets: Vec<TargetModel>,
    pub data: DataSummary,
}

/// What a model expects of the pipeline it scores with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    pub step_seconds: f64,
    pub entity_labels: Vec<String>,
    pub signals: Vec<SignalSpec>,
    pub targets: Vec<TargetSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalSpec {
    pub name: String,
    pub expr: String,
    pub features: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub alert: String,
    /// `below` or `above`.
    pub comparison: String,
    pub threshold: f64,
    pub hold_seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetModel {
    pub alert: String,
    /// How far ahead it predicts: the horizon it was trained for, which serving and
    /// `backtest` keep whatever the pipeline's `horizons` say.
    pub horizon_seconds: f64,
    /// The classifier's input names, in order (see `model::Inputs`).
    pub inputs: Vec<String>,
    /// The first-passage probability: the probability without a classifier, and while
    /// the classifier's inputs lack history.
    pub passage: Passage,
    /// None when training saw no onset of this alert, or when the first-passage
    /// probability did better on held-out entities.
    pub classifier: Option<Classifier>,
    pub kind: Option<Kind>,
    pub calibration: Option<Calibration>,
    pub policy: Policy,
    pub training: TrainingSummary,
    /// Held-out figures, next to the baselines; None when there was nothing to hold out.
    pub evaluation: Option<HeldOut>,
    /// When a false-ticket budget replaced the trained policy ([`Model::spend`]): the
    /// budget and the picked policy's held-out figures. Not part of the file.
    #[serde(skip)]
    pub budget: Option<Picked>,
}

/// What a target's probability is when no classifier scores it: the first-passage
/// probability of a window (see `model::passage`), or the canonical `predict_linear`
/// rule over it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Passage {
    pub method: PassageMethod,
    /// The window whose drift and volatility it is computed from (`5m`), or whose
    /// least-squares line `predict_linear` extends.
    pub window: String,
    /// The drift is lowered by this many of its standard errors (first passage only).
    pub z: f64,
    /// Reads 0 while the margin at the closest level of the longest window, over the
    /// margin now, is below this (the signal came closer and fell back); 0 never.
    pub memory: f64,
    /// From the chance of reaching the threshold to that of the alert firing within the
    /// horizon, as it came true on the training entities; None: not recalibrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
}

/// How [`Passage`] reads a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PassageMethod {
    /// P(the threshold is reached within the horizon) for the window's drift and
    /// volatility.
    FirstPassage,
    /// 1 when `predict_linear(signal[window], horizon)` is beyond the threshold, else 0:
    /// the one-line rule every Prometheus user can write, so that on its own data a
    /// trained model never does worse than it.
    PredictLinear,
}

/// What scores the target, in words: `first-passage probability over 5m`,
/// `predict_linear over 15m`.
impl std::fmt::Display for Passage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let method = match self.method {
            PassageMethod::FirstPassage => "first-passage probability",
            PassageMethod::PredictLinear => "predict_linear",
        };
        write!(f, "{method} over {}", self.window)
    }
}

impl Passage {
    /// Without training: the shortest window, the drift lowered by two standard errors,
    /// and no ticket while the signal is back more than a tenth of its distance from
    /// where it turned before.
    pub const DEFAULT_Z: f64 = 2.0;
    pub const DEFAULT_MEMORY: f64 = 0.9;

    /// `predict_linear` over `window`, as written: no lowering, no memory.
    pub fn predict_linear(window: &str) -> Passage {
        Passage {
            method: PassageMethod::PredictLinear,
            window: window.to_owned(),
            z: 0.0,
            memory: 0.0,
            calibration: None,
        }
    }

    pub fn default_for(scorer: &TargetScorer) -> Passage {
        Passage {
            method: PassageMethod::FirstPassage,
            window: scorer
                .inputs
                .windows()
                .next()
                .unwrap_or_default()
                .to_owned(),
            z: Passage::DEFAULT_Z,
            memory: Passage::DEFAULT_MEMORY,
            calibration: None,
        }
    }
}

/// A target's figures on held-out entities, with both baselines on the same entities.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeldOut {
    pub harbinger: Figures,
    pub predict_linear: Figures,
    pub predict_linear_window_seconds: f64,
    /// The `for` of the best `predict_linear` rule.
    pub predict_linear_hold_seconds: f64,
    pub rule: Figures,
    /// harbinger over `predict_linear`, with entities resampled in pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gains: Option<Gains>,
    /// Every candidate policy no other beat on these entities, quietest first (see
    /// `model::front`): what a false-ticket budget picks from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub front: Vec<FrontPoint>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingSummary {
    pub entities: usize,
    pub examples: usize,
    pub positives: usize,
    pub onsets: usize,
    /// Held-out (validation) figures of each kind tried, by name.
    pub validation: Vec<(String, f64)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSummary {
    pub files: Vec<String>,
    pub start_unix: f64,
    pub end_unix: f64,
    pub series: usize,
    pub samples: usize,
}

impl DataSummary {
    pub fn of(dataset: &Dataset, files: &[std::path::PathBuf]) -> DataSummary {
        let times = dataset
            .series
            .iter()
            .flat_map(|s| s.samples.first().into_iter().chain(s.samples.last()))
            .map(|s| s.timestamp_ms);
        let (start, end) = times.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
        DataSummary {
            files: files.iter().map(|f| f.display().to_string()).collect(),
            start_unix: if start <= end {
                start as f64 / 1e3
            } else {
                0.0
            },
            end_unix: if start <= end { end as f64 / 1e3 } else { 0.0 },
            series: dataset.series.len(),
            samples: dataset.sample_count(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("reading model {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("model {path} is not a harbinger model: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error(
        "model {path}: format {found:?} version {version}; this harbinger reads {FORMAT:?} version {VERSION}"
    )]
    Version {
        path: String,
        found: String,
        version: u32,
    },
    #[error("the model does not match the pipeline:\n  {}", .0.join("\n  "))]
    Mismatch(Vec<String>),
}

impl PipelineSpec {
    pub fn of(pipeline: &Pipeline) -> PipelineSpec {
        PipelineSpec {
            step_seconds: pipeline.step.as_secs_f64(),
            entity_labels: pipeline.entity_labels.clone(),
            signals: pipeline
                .signals
                .iter()
                .map(|s| SignalSpec {
                    name: s.name.clone(),
                    expr: s.expr.clone(),
                    features: s.features.names(),
                })
                .collect(),
            targets: pipeline
                .targets
                .iter()
                .map(|t| TargetSpec {
                    alert: t.alert.clone(),
                    comparison: match t.comparison {
                        Comparison::Below => "below",
                        Comparison::Above => "above",
                    }
                    .to_owned(),
                    threshold: t.threshold,
                    hold_seconds: t.hold.as_secs_f64(),
                })
                .collect(),
        }
    }

    /// Every way `self` differs from `other` (the pipeline's), `self` called `mine` in
    /// the messages (the model, a feature table).
    pub fn differences(&self, mine_is: &str, other: &PipelineSpec) -> Vec<String> {
        let mut found = Vec::new();
        if self.step_seconds != other.step_seconds {
            found.push(format!(
                "step: {mine_is} {} s, pipeline {} s",
                self.step_seconds, other.step_seconds
            ));
        }
        if self.entity_labels != other.entity_labels {
            found.push(format!(
                "entity_labels: {mine_is} {:?}, pipeline {:?}",
                self.entity_labels, other.entity_labels
            ));
        }
        for mine in &self.signals {
            match other.signals.iter().find(|s| s.name == mine.name) {
                None => found.push(format!("signal {}: not in the pipeline", mine.name)),
                Some(theirs) if theirs.expr != mine.expr => found.push(format!(
                    "signal {}: {mine_is} has `{}`, pipeline has `{}`",
                    mine.name, mine.expr, theirs.expr
                )),
                Some(theirs) if theirs.features != mine.features => found.push(format!(
                    "signal {}: feature columns differ ({mine_is} {:?}, pipeline {:?})",
                    mine.name, mine.features, theirs.features
                )),
                Some(_) => {}
            }
        }
        for mine in &self.targets {
            match other.targets.iter().find(|t| t.alert == mine.alert) {
                None => found.push(format!("target {}: not in the pipeline", mine.alert)),
                Some(theirs) if theirs != mine => found.push(format!(
                    "target {}: {mine_is} has {} {} (for {} s), pipeline has {} {} (for {} s)",
                    mine.alert,
                    mine.comparison,
                    mine.threshold,
                    mine.hold_seconds,
                    theirs.comparison,
                    theirs.threshold,
                    theirs.hold_seconds
                )),
                Some(_) => {}
            }
        }
        found
    }
}

impl TargetModel {
    /// What its probability comes from, in words: `forest classifier`, `logistic
    /// classifier`, or the [`Passage`] (`first-passage probability over 5m`,
    /// `predict_linear over 15m`).
    pub fn scored_by(&self) -> String {
        match self.kind {
            Some(kind) if self.classifier.is_some() => {
                format!("{kind:?} classifier").to_lowercase()
            }
            _ => self.passage.to_string(),
        }
    }

    /// The model of a target without a classifier: `policy` decides on the default
    /// first-passage probability (and the ETA, if it says so).
    pub fn untrained(scorer: &TargetScorer, policy: Policy) -> TargetModel {
        TargetModel {
            alert: scorer.target.alert.clone(),
            horizon_seconds: scorer.target.horizon.as_secs_f64(),
            inputs: scorer.inputs.names().to_vec(),
            passage: Passage::default_for(scorer),
            classifier: None,
            kind: None,
            calibration: None,
            policy,
            training: TrainingSummary::default(),
            evaluation: None,
            budget: None,
        }
    }
}

impl Model {
    /// `target` with the horizon this model was trained for, if it knows the target.
    pub fn target_as_trained(&self, target: &Target) -> Target {
        let horizon = self.target(&target.alert).map_or(target.horizon, |t| {
            Duration::from_secs_f64(t.horizon_seconds)
        });
        Target {
            horizon,
            ..target.clone()
        }
    }

    /// The built-in copy of `models/default.json`, trained for the built-in pipeline.
    pub fn embedded_default() -> Model {
        const MODEL: &str = include_str!("../../models/default.json");
        serde_json::from_str(MODEL).expect("the embedded default model is valid (a test checks it)")
    }

    pub fn load(path: &Path) -> Result<Model, ModelError> {
        let shown = path.display().to_string();
        let text = std::fs::read(path).map_err(|source| ModelError::Io {
            path: shown.clone(),
            source,
        })?;
        // The format and version first, so that a newer model is named as such rather
        // than failing on a field this version does not know.
        #[derive(Deserialize)]
        struct Header {
            format: String,
            version: u32,
        }
        let header: Header = serde_json::from_slice(&text).map_err(|source| ModelError::Parse {
            path: shown.clone(),
            source,
        })?;
        if header.format != FORMAT || header.version != VERSION {
            return Err(ModelError::Version {
                path: shown,
                found: header.format,
                version: header.version,
            });
        }
        serde_json::from_slice(&text).map_err(|source| ModelError::Parse {
            path: shown,
            source,
        })
    }

    /// The JSON Schema of the artifact, as committed in `schemas/model.schema.json`.
    pub fn schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Model)).expect("a schema is JSON")
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }

    /// Refuses a pipeline that differs from the one the model was trained with.
    pub fn check(&self, pipeline: &Pipeline) -> Result<(), ModelError> {
        let differences = self
            .pipeline
            .differences("model", &PipelineSpec::of(pipeline));
        if differences.is_empty() {
            Ok(())
        } else {
            Err(ModelError::Mismatch(differences))
        }
    }

    pub fn target(&self, alert: &str) -> Option<&TargetModel> {
        self.targets.iter().find(|t| t.alert == alert)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schema is the one the code derives.
    #[test]
    fn the_committed_schema_matches_the_artifact_types() {
        crate::schema_check::assert_committed("model.schema.json", &Model::schema());
    }

    #[test]
    fn the_embedded_default_model_fits_the_embedded_default_pipeline() {
        let model = Model::embedded_default();
        let pipeline = Pipeline::embedded_default();
        model.check(&pipeline).unwrap();
        let disk = model.target("HostOutOfDiskSpace").unwrap();
        assert!(disk.evaluation.is_some(), "trained with held-out figures");
        // It was trained for 10 minutes ahead; the pipeline's default is 30.
        let target = &pipeline.targets[0];
        assert_eq!(target.horizon, Duration::from_secs(1800));
        let trained = model.target_as_trained(target);
        assert_eq!(trained.horizon, Duration::from_secs(600));
        assert_eq!(
            Target {
                horizon: target.horizon,
                ..trained
            },
            *target
        );
    }

    #[test]
    fn a_model_of_another_format_or_version_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        std::fs::write(&path, r#"{"format": "harbinger-model", "version": 99}"#).unwrap();
        let error = Model::load(&path).unwrap_err().to_string();
        assert!(
            error.contains("version 99")
                && error.contains(&format!("reads \"harbinger-model\" version {VERSION}")),
            "{error}"
        );
        std::fs::write(&path, "not json").unwrap();
        let error = Model::load(&path).unwrap_err().to_string();
        assert!(error.contains("is not a harbinger model"), "{error}");
    }
}
