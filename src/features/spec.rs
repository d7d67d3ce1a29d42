//! The feature specification: windows, half-lives, the anomaly window and thresholds,
//! checked once into a [`FeatureSpec`] that the states of all signals share.

use std::sync::Arc;
use std::time::Duration;

use super::anomaly::Season;
use crate::config::duration;
use crate::rules::{Comparison, Target};

/// Ring positions are stored as `u16`, so no window may span more steps than this.
pub const MAX_WINDOW_STEPS: u64 = u16::MAX as u64 - 1;

/// A week: a daily cycle is seen seven times, a weekly event once.
pub const DEFAULT_ANOMALY_MEMORY: Duration = Duration::from_secs(7 * 86_400);

/// The warning fraction `Threshold::from_target` uses.
pub const DEFAULT_WARNING_FRACTION: f64 = 0.8;

/// Feature parameters as written, before they are checked. `Default` gives the set of the
/// default pipeline without thresholds: windows 5m, 15m and 1h at a 15 s step, EWMA
/// half-lives 1m and 10m, a 1h anomaly window, a week's anomaly memory.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureParams {
    /// The evaluation step: the engine expects one update per step.
    pub step: Duration,
    /// Windows for change, slope, standard deviation, min and max, each a multiple of the
    /// step. The ETA uses the longest one that has enough points.
    pub windows: Vec<Duration>,
    /// EWMA half-lives: a value's weight halves with every half-life that passes.
    pub half_lives: Vec<Duration>,
    /// History for the median, the MAD and the fractions of time beyond a warning level;
    /// a multiple of the step.
    pub anomaly_window: Duration,
    /// How long a history the anomaly score judges a value against: the weight of a past
    /// residual in its tail decays by `1/e` over this much time's worth of values (see
    /// `features::anomaly`). At least one step.
    pub anomaly_memory: Duration,
    /// One per target whose signal this is.
    pub thresholds: Vec<Threshold>,
}

impl Default for FeatureParams {
    fn default() -> FeatureParams {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        FeatureParams {
            step: Duration::from_secs(15),
            windows: vec![minutes(5), minutes(15), minutes(60)],
            half_lives: vec![minutes(1), minutes(10)],
            anomaly_window: minutes(60),
            anomaly_memory: DEFAULT_ANOMALY_MEMORY,
            thresholds: Vec::new(),
        }
    }
}

/// A target's threshold on this signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The target's name (its alert), used in column names.
    pub name: String,
    pub comparison: Comparison,
    /// Whether the threshold itself is on the alert side (`<=`, `>=`).
    pub inclusive: bool,
    pub value: f64,
    /// Places the warning level: the threshold moved toward the normal side by
    /// `(1 − warning_fraction) × |value|`. With 0.8, `> 80` warns from 64 and `< 10` from 12;
    /// with 1 the warning level is the threshold. A fixed level, rather than one placed
    /// between the window's median and the threshold, keeps the fraction comparable from
    /// one step to the next (a median that drifts toward the threshold would move the level
    /// with it) and lets it be counted incrementally.
    pub warning_fraction: f64,
}

impl Threshold {
    /// The threshold of a target, with the default warning fraction.
    pub fn from_target(target: &Target) -> Threshold {
        Threshold {
            name: target.alert.clone(),
            comparison: target.comparison,
            inclusive: target.inclusive,
            value: target.threshold,
            warning_fraction: DEFAULT_WARNING_FRACTION,
        }
    }

    /// The level from which a value counts as beyond warning.
    pub fn warning_level(&self) -> f64 {
        let margin = (1.0 - self.warning_fraction) * self.value.abs();
        match self.comparison {
            Comparison::Above => self.value - margin,
            Comparison::Below => self.value + margin,
        }
    }

    /// Whether `v` is on the alert side of the threshold (false for NaN).
    pub fn is_beyond(&self, v: f64) -> bool {
        self.past(v, self.value)
    }

    pub(super) fn past(&self, v: f64, level: f64) -> bool {
        match (self.comparison, self.inclusive) {
            (Comparison::Above, false) => v > level,
            (Comparison::Above, true) => v >= level,
            (Comparison::Below, false) => v < level,
            (Comparison::Below, true) => v <= level,
        }
    }

    /// +1 when the alert side is above, −1 when it is below.
    pub(super) fn direction(&self) -> f64 {
        match self.comparison {
            Comparison::Above => 1.0,
            Comparison::Below => -1.0,
        }
    }
}

/// One reason why parameters cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecProblem {
    #[error("step: {0:?} is not a positive whole number of milliseconds")]
    Step(Duration),
    #[error("windows: name at least one window (slopes and ETAs are fitted over windows)")]
    NoWindow,
    #[error("{field}: {value:?} is not a positive multiple of the step {step:?}")]
    NotMultipleOfStep {
        field: String,
        value: Duration,
        step: Duration,
    },
    #[error("{field}: {value:?} spans {steps} steps; at most {MAX_WINDOW_STEPS} are supported")]
    TooLong {
        field: String,
        value: Duration,
        steps: u64,
    },
    #[error("{field}: {value:?} is listed twice")]
    Duplicate { field: String, value: Duration },
    #[error("anomaly_memory: {0:?} is shorter than one step")]
    AnomalyMemory(Duration),
    #[error("half_lives[{index}]: must be greater than 0")]
    HalfLife { index: usize },
    #[error("thresholds[{index}]: the name is empty")]
    ThresholdName { index: usize },
    #[error("thresholds[{index}]: the name {name:?} is used twice")]
    ThresholdNameTwice { index: usize, name: String },
    #[error("threshold {name:?}: value {value} is not a finite number")]
    ThresholdValue { name: String, value: f64 },
    #[error("threshold {name:?}: warning_fraction {value} is not between 0 and 1")]
    WarningFraction { name: String, value: f64 },
}

/// Why parameters cannot be used: every problem found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("feature parameters: {}", crate::config::problem_list(problems))]
pub struct FeatureSpecError {
    pub problems: Vec<SpecProblem>,
}

/// Checked parameters, shared (cheaply cloned) by the state of every signal that uses
/// them. Two specs are equal when their parameters are.
#[derive(Debug, Clone)]
pub struct FeatureSpec(Arc<Checked>);

/// What the engine derives from the parameters once.
#[derive(Debug)]
pub(super) struct Checked {
    pub params: FeatureParams,
    pub step_ms: i64,
    pub step_seconds: f64,
    /// Steps per window, in the order of `params.windows`.
    pub window_steps: Vec<usize>,
    /// Window indexes, longest first: the order in which the ETA tries them.
    pub longest_first: Vec<usize>,
    pub anomaly_steps: usize,
    /// The window as long as the anomaly window, if any: its min and max come from the
    /// anomaly window's ordered values instead of deques of their own.
    pub same_as_anomaly: Option<usize>,
    /// One more than the longest window, so that the value one window ago is still held.
    pub ring_len: usize,
    /// The shortest window, in steps: how long a signal must have been non-decreasing for
    /// a decrease to count as a reset.
    pub reset_steps: usize,
    /// Per half-life: the decay over one step, and the half-life in steps.
    pub decay_per_step: Vec<f64>,
    pub half_life_steps: Vec<f64>,
    /// Per threshold: its warning level.
    pub warning_levels: Vec<f64>,
    /// The anomaly score's season buckets, and its memory in values.
    pub season: Season,
    pub anomaly_memory_values: f64,
    pub names: Vec<String>,
}

impl PartialEq for FeatureSpec {
    fn eq(&self, other: &FeatureSpec) -> bool {
        self.0.params == other.0.params
    }
}

impl FeatureSpec {
    /// How much history the features need to equal those of a process that saw every
    /// sample: the longest window (one step more), the anomaly window, and four of the
    /// longest half-life (where an average is within 1/16 of converged).
    pub fn warm_up(&self) -> Duration {
        let checked = &self.0;
        let half_lives = checked
            .half_life_steps
            .iter()
            .map(|h| (4.0 * h).ceil() as usize);
        let steps = half_lives
            .chain([checked.ring_len, checked.anomaly_steps])
            .max()
            .unwrap_or(0);
        Duration::from_millis(steps as u64 * checked.step_ms as u64)
    }

    /// Checks the parameters, reporting every problem at once.
    pub fn new(params: FeatureParams) -> Result<FeatureSpec, FeatureSpecError> {
        let mut problems = Vec::new();
        let step = params.step;
        let step_ms = if step.is_zero() || !step.subsec_nanos().is_multiple_of(1_000_000) {
            problems.push(SpecProblem::Step(step));
            None
        } else {
            Some(step.as_millis())
        };
        // Steps in a duration, if it is a positive multiple of the step and not too long.
        let mut steps_in = |field: String, value: Duration| -> usize {
            let step_ms = match step_ms {
                Some(ms) => ms,
                None => return 1,
            };
            let ms = value.as_millis();
            if value.is_zero()
                || !value.subsec_nanos().is_multiple_of(1_000_000)
                || !ms.is_multiple_of(step_ms)
            {
                problems.push(SpecProblem::NotMultipleOfStep { field, value, step });
                return 1;
            }
            let steps = u64::try_from(ms / step_ms).unwrap_or(u64::MAX);
            if steps > MAX_WINDOW_STEPS {
                problems.push(SpecProblem::TooLong {
                    field,
                    value,
                    steps,
                });
                return 1;
            }
            steps as usize
        };
        let window_steps: Vec<usize> = params
            .windows
            .iter()
            .enumerate()
            .map(|(i, &w)| steps_in(format!("windows[{i}]"), w))
            .collect();
        let anomaly_steps = steps_in("anomaly_window".to_owned(), params.anomaly_window);
        if params.windows.is_empty() {
            problems.push(SpecProblem::NoWindow);
        }
        if params.anomaly_memory < step {
            problems.push(SpecProblem::AnomalyMemory(params.anomaly_memory));
        }
        for (field, list) in [
            ("windows", &params.windows),
            ("half_lives", &params.half_lives),
        ] {
            for (i, value) in list.iter().enumerate() {
                if list[..i].contains(value) {
                    problems.push(SpecProblem::Duplicate {
                        field: format!("{field}[{i}]"),
                        value: *value,
                    });
                }
            }
        }
        for (index, half_life) in params.half_lives.iter().enumerate() {
            if half_life.is_zero() {
                problems.push(SpecProblem::HalfLife { index });
            }
        }
        for (index, threshold) in params.thresholds.iter().enumerate() {
            let name = threshold.name.clone();
            if name.is_empty() {
                problems.push(SpecProblem::ThresholdName { index });
            } else if params.thresholds[..index].iter().any(|t| t.name == name) {
                problems.push(SpecProblem::ThresholdNameTwice {
                    index,
                    name: name.clone(),
                });
            }
            if !threshold.value.is_finite() {
                problems.push(SpecProblem::ThresholdValue {
                    name: name.clone(),
                    value: threshold.value,
                });
            }
            if !(0.0..=1.0).contains(&threshold.warning_fraction) {
                problems.push(SpecProblem::WarningFraction {
                    name,
                    value: threshold.warning_fraction,
                });
            }
        }
        if !problems.is_empty() {
            return Err(FeatureSpecError { problems });
        }
        let step_ms = step_ms.unwrap_or(1) as i64;
        let step_seconds = step_ms as f64 / 1000.0;
        let mut longest_first: Vec<usize> = (0..window_steps.len()).collect();
        longest_first.sort_by_key(|&k| std::cmp::Reverse(window_steps[k]));
        let longest = window_steps.iter().copied().max().unwrap_or(1);
        let half_life_steps: Vec<f64> = params
            .half_lives
            .iter()
            .map(|h| h.as_secs_f64() / step_seconds)
            .collect();
        Ok(FeatureSpec(Arc::new(Checked {
            names: names(&params),
            step_ms,
            step_seconds,
            same_as_anomaly: window_steps.iter().position(|&n| n == anomaly_steps),
            ring_len: longest.max(anomaly_steps) + 1,
            reset_steps: window_steps.iter().copied().min().unwrap_or(1),
            decay_per_step: half_life_steps.iter().map(|h| (-1.0 / h).exp2()).collect(),
            half_life_steps,
            warning_levels: params
                .thresholds
                .iter()
                .map(Threshold::warning_level)
                .collect(),
            season: Season::for_step(step_ms),
            anomaly_memory_values: params.anomaly_memory.as_secs_f64() / step_seconds,
            window_steps,
            longest_first,
            anomaly_steps,
            params,
        })))
    }

    /// The parameters this spec was checked from.
    pub fn params(&self) -> &FeatureParams {
        &self.0.params
    }

    /// The column names, in the order `SignalFeatures::write` appends values.
    pub fn names(&self) -> Vec<String> {
        self.0.names.clone()
    }

    /// The number of columns.
    pub fn width(&self) -> usize {
        self.0.names.len()
    }

    pub(super) fn checked(&self) -> &Checked {
        &self.0
    }
}

/// Column names: one family after the other, each in the order of its parameters.
fn names(params: &FeatureParams) -> Vec<String> {
    let d = |duration: &Duration| duration::format(*duration);
    let per_window = |family: &'static str| {
        params
            .windows
            .iter()
            .map(move |w| format!("{family}_{}", d(w)))
    };
    let anomaly = d(&params.anomaly_window);
    let mut names = vec!["level".to_owned()];
    names.extend(per_window("change"));
    names.extend(per_window("slope"));
    names.extend(per_window("line"));
    names.extend(params.half_lives.iter().map(|h| format!("ewma_{}", d(h))));
    names.extend(per_window("stddev"));
    names.push(format!("mad_{anomaly}"));
    names.extend(per_window("min"));
    names.extend(per_window("max"));
    names.extend(per_window("drift"));
    names.extend(per_window("drift_stderr"));
    names.extend(per_window("volatility"));
    names.push("anomaly_score".to_owned());
    for threshold in &params.thresholds {
        let name = &threshold.name;
        names.push(format!("eta_seconds:{name}"));
        names.push(format!("eta_stderr_seconds:{name}"));
        names.push(format!("beyond_warning_fraction_{anomaly}:{name}"));
    }
    names.push("since_gap_seconds".to_owned());
    names.push("since_reset_seconds".to_owned());
    names
}
