//! Model inputs from a target's features.
//!
//! In: the feature names of the target's signal (in [`FeatureSpec::names`] order), the
//! target and the horizon; then one feature row per step. Out: the input vector a
//! classifier sees. Each feature is made relative to the threshold and the horizon, so
//! that one model carries across entities whose signals sit at different levels:
//!
//! - `level`, `ewma_*`, `min_*`, `max_*`: the **margin**, the distance to the threshold
//!   on the safe side (`level − 10` for `< 10`; `80 − level` for `> 80`), negative beyond;
//! - `change_*`: the change away from the threshold (negative: approaching);
//! - `slope_*`: the slope away from the threshold times the horizon (how far the trend
//!   carries the signal within the horizon), and for each a `margin_in_horizon_*`: the
//!   margin the trend leaves at the horizon (negative: a linear forecast crosses);
//! - `eta_seconds:*`, `eta_stderr_seconds:*`: in horizons, capped at [`CAP_HORIZONS`];
//!   an undefined ETA (no crossing) is the cap;
//! - `since_gap_seconds`, `since_reset_seconds`: left out; they grow with the length of
//!   the history replayed, which says nothing of the future;
//! - anything else (`stddev_*`, `mad_*`, `anomaly_score`, `beyond_warning_fraction_*`)
//!   as it is.
//!
//! An input still undefined (NaN: too little history) becomes 0, and infinities are
//! clipped to ±[`CLIP`]: a classifier never sees a non-finite number.
//!
//! [`FeatureSpec::names`]: crate::features::FeatureSpec::names

use crate::rules::{Comparison, Target};

/// Durations are given in horizons, up to this many.
pub const CAP_HORIZONS: f64 = 4.0;
/// Inputs are clipped to ±CLIP.
pub const CLIP: f64 = 1e9;

#[derive(Debug, Clone, Copy)]
enum Encoding {
    Margin,
    Change,
    Slope,
    MarginInHorizon { level: usize },
    /// An ETA or its error, in horizons; undefined is the cap.
    Eta,
    Plain,
}

/// How a target's feature row becomes model inputs.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Per input: the feature column it reads and how.
    columns: Vec<(usize, Encoding)>,
    names: Vec<String>,
    /// +1 when the alert side is below the threshold, −1 when above.
    side: f64,
    threshold: f64,
    horizon_s: f64,
}

impl Inputs {
    /// The inputs for `target` over its signal's `features` (column names).
    pub fn new(features: &[String], target: &Target, horizon_s: f64) -> Inputs {
        let level = features.iter().position(|f| f == "level");
        let mut columns = Vec::new();
        let mut names = Vec::new();
        for (at, name) in features.iter().enumerate() {
            let encoding = if name == "level"
                || ["ewma_", "min_", "max_"]
                    .iter()
                    .any(|p| name.starts_with(p))
            {
                Encoding::Margin
            } else if name.starts_with("change_") {
                Encoding::Change
            } else if name.starts_with("slope_") {
                Encoding::Slope
            } else if name.starts_with("eta_") {
                Encoding::Eta
            } else if name.starts_with("since_") {
                // Time since a gap or a reset grows with the length of the history
                // replayed, which says nothing of the future; leave it out.
                continue;
            } else {
                Encoding::Plain
            };
            columns.push((at, encoding));
            names.push(name.clone());
            if let (Encoding::Slope, Some(level)) = (encoding, level) {
                columns.push((at, Encoding::MarginInHorizon { level }));
                names.push(name.replacen("slope_", "margin_in_horizon_", 1));
            }
        }
        Inputs {
            columns,
            names,
            side: match target.comparison {
                Comparison::Below => 1.0,
                Comparison::Above => -1.0,
            },
            threshold: target.threshold,
            horizon_s,
        }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Appends the inputs for one feature row to `out`.
    pub fn encode(&self, row: &[f64], out: &mut Vec<f64>) {
        let margin = |v: f64| self.side * (v - self.threshold);
        out.extend(self.columns.iter().map(|&(at, encoding)| {
            let v = row[at];
            let input = match encoding {
                Encoding::Margin => margin(v),
                Encoding::Change => self.side * v,
                Encoding::Slope => self.side * v * self.horizon_s,
                Encoding::MarginInHorizon { level } => {
                    margin(row[level]) + self.side * v * self.horizon_s
                }
                Encoding::Eta if v.is_nan() => CAP_HORIZONS,
                Encoding::Eta => (v / self.horizon_s).min(CAP_HORIZONS),
                Encoding::Plain => v,
            };
            if input.is_nan() {
                0.0
            } else {
                input.clamp(-CLIP, CLIP)
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::split_rule;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn inputs_are_relative_to_the_threshold_and_the_horizon() {
        let target = split_rule("disk_free_percent < 10").unwrap();
        let features = names(&["level", "slope_5m", "eta_seconds:t", "since_gap_seconds"]);
        // since_gap_seconds is left out.
        let inputs = Inputs::new(&features, &target, 1800.0);
        assert_eq!(
            inputs.names(),
            names(&[
                "level",
                "slope_5m",
                "margin_in_horizon_5m",
                "eta_seconds:t",
            ])
        );
        let mut out = Vec::new();
        // 30 % free, falling 1 % per minute: 20 points above the threshold, −30 over
        // 30 min, so −10 at the horizon; ETA 20 min = 2/3 horizon.
        inputs.encode(&[30.0, -1.0 / 60.0, 1200.0, 90.0], &mut out);
        let expected = [20.0, -30.0, -10.0, 2.0 / 3.0];
        assert_eq!(out.len(), expected.len());
        for (got, want) in out.iter().zip(expected) {
            assert!((got - want).abs() < 1e-9, "{out:?}");
        }
    }

    #[test]
    fn an_upper_threshold_mirrors_and_undefined_inputs_are_finite() {
        let target = split_rule("cpu_percent > 80").unwrap();
        let features = names(&["level", "eta_seconds:t", "anomaly_score"]);
        let inputs = Inputs::new(&features, &target, 600.0);
        let mut out = Vec::new();
        inputs.encode(&[f64::INFINITY, f64::NAN, f64::NAN], &mut out);
        assert_eq!(out, vec![-CLIP, CAP_HORIZONS, 0.0]);
        out.clear();
        inputs.encode(&[50.0, 60.0, 1.5], &mut out);
        assert_eq!(out, vec![30.0, 0.1, 1.5]);
    }
}
