//! Model inputs from a target's features: scale-free, so that one model carries across
//! entities, signals and thresholds.
//!
//! In: the feature names of the target's signal (in [`FeatureSpec::names`] order), the
//! target and the horizon; then one feature row per step. Out: the first-passage
//! probability of a window ([`Inputs::passage`]), and the input vector a classifier sees
//! ([`Inputs::encode`]). With `d` the margin (distance to the threshold on the safe side:
//! `level − 10` for `< 10`, `80 − level` for `> 80`), `μ` the drift toward the threshold
//! and `σ` the volatility of a window (`drift_<w>`, `volatility_<w>`), `H` the horizon,
//! per window:
//!
//! - `passage_<w>`: P(the threshold is reached within H), [`passage::probability`] with
//!   the drift as estimated;
//! - `approach_<w>`: `μH / d`, how many times the drift covers the distance within the
//!   horizon (negative: moving away);
//! - `noise_<w>`: `σ√H / d`, how far the signal wanders within the horizon, in
//!   distances;
//!
//! and over the longest window, `closest_<w>`: the margin at the window's extreme on the
//! threshold's side over the margin now, 1 when the signal is as close as it has been,
//! near 0 when it has come much closer before and fallen back (a rotating log, a busy
//! scratch disk); last, the signal's `anomaly_score` (scale-free already: 1 is a 0.8 %
//! tail on every series), high when the value leaves what its history forecast, as when
//! a flat disk starts to fill.
//!
//! An input is NaN when its window lacks history (the features are NaN then): a
//! classifier is not asked about a row with a NaN input, the scorer falls back on the
//! first-passage probability of a window that is full. Already beyond the threshold, the
//! passage probabilities are 1 and the ratios are at their caps.
//!
//! [`FeatureSpec::names`]: crate::features::FeatureSpec::names
//! [`passage::probability`]: super::passage::probability

use super::passage;
use crate::features::Threshold;
use crate::rules::{Comparison, Target};
use crate::tickets::Evidence;

/// Ratios are clipped to ±CAP.
pub const CAP: f64 = 100.0;

/// The columns of one window's features.
#[derive(Debug, Clone)]
struct WindowColumns {
    name: String,
    drift: usize,
    drift_stderr: usize,
    volatility: usize,
    slope: usize,
    line: usize,
}

/// How a target's feature row becomes the first-passage probability and model inputs.
#[derive(Debug, Clone)]
pub struct Inputs {
    level: usize,
    /// Shortest window first.
    windows: Vec<WindowColumns>,
    /// The extreme on the threshold's side over the longest window (min for `<`, max
    /// for `>`).
    closest: usize,
    anomaly: usize,
    names: Vec<String>,
    /// The target's comparison and threshold.
    rule: Threshold,
    /// +1 when the alert side is below the threshold, −1 when above.
    side: f64,
    horizon_s: f64,
}

impl Inputs {
    /// The inputs for `target` over its signal's `features` (column names), in the order
    /// of `windows` (each a feature suffix such as `5m`, shortest first).
    pub fn new(features: &[String], windows: &[String], target: &Target, horizon_s: f64) -> Inputs {
        let column = |name: String| {
            features
                .iter()
                .position(|n| *n == name)
                .unwrap_or_else(|| panic!("a target's signal has the column {name}"))
        };
        let windows: Vec<WindowColumns> = windows
            .iter()
            .map(|w| WindowColumns {
                name: w.clone(),
                drift: column(format!("drift_{w}")),
                drift_stderr: column(format!("drift_stderr_{w}")),
                volatility: column(format!("volatility_{w}")),
                slope: column(format!("slope_{w}")),
                line: column(format!("line_{w}")),
            })
            .collect();
        let longest = windows.last().map_or("", |w| w.name.as_str()).to_owned();
        let side = match target.comparison {
            Comparison::Below => 1.0,
            Comparison::Above => -1.0,
        };
        let closest = column(format!(
            "{}_{longest}",
            if side > 0.0 { "min" } else { "max" }
        ));
        let mut names = Vec::new();
        for family in ["passage", "approach", "noise"] {
            names.extend(windows.iter().map(|w| format!("{family}_{}", w.name)));
        }
        names.push(format!("closest_{longest}"));
        names.push("anomaly_score".to_owned());
        Inputs {
            level: column("level".to_owned()),
            windows,
            closest,
            anomaly: column("anomaly_score".to_owned()),
            names,
            rule: Threshold::from_target(target),
            side,
            horizon_s,
        }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The columns of a feature row the inputs read.
    pub fn columns(&self) -> Vec<usize> {
        let windows = self.windows.iter();
        let per_window =
            windows.flat_map(|w| [w.drift, w.drift_stderr, w.volatility, w.slope, w.line]);
        per_window
            .chain([self.level, self.closest, self.anomaly])
            .collect()
    }

    /// The windows' names, shortest first.
    pub fn windows(&self) -> impl Iterator<Item = &str> {
        self.windows.iter().map(|w| w.name.as_str())
    }

    /// +1 when the alert side is below the threshold, −1 when above.
    pub fn side(&self) -> f64 {
        self.side
    }

    /// The distance to the threshold on the safe side (negative: beyond).
    fn margin(&self, v: f64) -> f64 {
        self.margin_to(v, self.rule.value)
    }

    /// The distance from `v` to `threshold` on the safe side.
    fn margin_to(&self, v: f64, threshold: f64) -> f64 {
        self.side * (v - threshold)
    }

    /// P(the threshold is reached within the horizon) from window `k`'s drift, lowered
    /// by `z` of its standard errors (a drift read from a few noisy steps is not taken at
    /// its word). NaN when the window lacks history.
    pub fn passage(&self, row: &[f64], k: usize, z: f64) -> f64 {
        self.passage_to(row, k, z, self.rule.value)
    }

    fn passage_to(&self, row: &[f64], k: usize, z: f64, threshold: f64) -> f64 {
        let w = &self.windows[k];
        let toward = -self.side * row[w.drift] - z * row[w.drift_stderr];
        passage::probability(
            self.margin_to(row[self.level], threshold),
            toward,
            row[w.volatility],
            self.horizon_s,
        )
    }

    /// `predict_linear(signal[w], horizon)` for window `k`: its least-squares line
    /// carried to the horizon. NaN when the window lacks history.
    pub fn predicted(&self, row: &[f64], k: usize) -> f64 {
        let w = &self.windows[k];
        row[w.line] + row[w.slope] * self.horizon_s
    }

    /// 1 when window `k`'s `predict_linear` is beyond the threshold, 0 when not, NaN
    /// when the window lacks history: the canonical rule.
    pub fn predict_linear(&self, row: &[f64], k: usize) -> f64 {
        let predicted = self.predicted(row, k);
        if predicted.is_nan() {
            f64::NAN
        } else {
            f64::from(u8::from(self.rule.is_beyond(predicted)))
        }
    }

    /// What the first-passage probability of window `k` rests on, each with its value and
    /// how much it moves the probability: the drift toward the threshold per second
    /// (the probability minus that of the same signal without drift), the volatility per
    /// √second (minus that of the same drift without noise), and the distance to the
    /// threshold (minus the probability at twice the distance); each probability
    /// through `calibrate`.
    pub fn passage_evidence(
        &self,
        row: &[f64],
        k: usize,
        z: f64,
        calibrate: impl Fn(f64) -> f64,
    ) -> [Evidence; 3] {
        let w = &self.windows[k];
        let distance = self.margin(row[self.level]);
        let toward = -self.side * row[w.drift] - z * row[w.drift_stderr];
        let volatility = row[w.volatility];
        let p = |d: f64, mu: f64, sigma: f64| {
            calibrate(passage::probability(d, mu, sigma, self.horizon_s))
        };
        let now = p(distance, toward, volatility);
        [
            Evidence {
                input: format!("drift_{}", w.name),
                value: toward,
                effect: now - p(distance, 0.0, volatility),
            },
            Evidence {
                input: format!("volatility_{}", w.name),
                value: volatility,
                effect: now - p(distance, toward, 0.0),
            },
            Evidence {
                input: "distance".to_owned(),
                value: distance,
                effect: now - p(2.0 * distance, toward, volatility),
            },
        ]
    }

    /// Appends the inputs for one feature row to `out`.
    pub fn encode(&self, row: &[f64], out: &mut Vec<f64>) {
        self.encode_to(row, self.rule.value, out)
    }

    /// Appends the inputs for one feature row to `out` as if the rule's threshold were
    /// `threshold`: how training learns from the levels the signal reached short of the
    /// real one (the inputs are relative to the distance, so one model serves both).
    pub fn encode_to(&self, row: &[f64], threshold: f64, out: &mut Vec<f64>) {
        let margin = self.margin_to(row[self.level], threshold);
        let ratio = |x: f64| {
            let r = if margin > 0.0 {
                x / margin
            } else {
                CAP * x.signum()
            };
            r.clamp(-CAP, CAP)
        };
        out.extend((0..self.windows.len()).map(|k| self.passage_to(row, k, 0.0, threshold)));
        out.extend(
            self.windows
                .iter()
                .map(|w| ratio(-self.side * row[w.drift] * self.horizon_s)),
        );
        out.extend(
            self.windows
                .iter()
                .map(|w| ratio(row[w.volatility] * self.horizon_s.sqrt())),
        );
        out.push(self.closest_to(row, threshold));
        out.push(row[self.anomaly]);
    }

    /// The margin at the longest window's extreme on the threshold's side over the
    /// margin now: 1 when the signal is as close as it has been, less when it came closer
    /// before and fell back, negative when it was beyond the threshold then; 1 when
    /// already beyond now. NaN while the window is empty.
    pub fn closest(&self, row: &[f64]) -> f64 {
        self.closest_to(row, self.rule.value)
    }

    fn closest_to(&self, row: &[f64], threshold: f64) -> f64 {
        let margin = self.margin_to(row[self.level], threshold);
        if margin > 0.0 {
            (self.margin_to(row[self.closest], threshold) / margin).clamp(-CAP, CAP)
        } else {
            1.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::split_rule;

    /// A row of `FEATURES` whose window has no line yet (these tests do not read it).
    fn without_line(values: [f64; 7]) -> [f64; 9] {
        let mut row = [f64::NAN; 9];
        row[..7].copy_from_slice(&values);
        row
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const FEATURES: [&str; 9] = [
        "level",
        "min_5m",
        "max_5m",
        "drift_5m",
        "drift_stderr_5m",
        "volatility_5m",
        "anomaly_score",
        "slope_5m",
        "line_5m",
    ];

    #[test]
    fn inputs_are_relative_to_the_threshold_and_the_horizon() {
        let target = split_rule("disk_free_percent < 10").unwrap();
        let inputs = Inputs::new(&names(&FEATURES), &names(&["5m"]), &target, 600.0);
        assert_eq!(
            inputs.names(),
            names(&[
                "passage_5m",
                "approach_5m",
                "noise_5m",
                "closest_5m",
                "anomaly_score"
            ])
        );
        // 30 % free, 20 points above; falling 1 point a minute, wandering 0.1 per √s;
        // down to 25 within the window; unusual (a 0.1 % tail).
        let row = without_line([30.0, 25.0, 31.0, -1.0 / 60.0, 0.001, 0.1, 1.2]);
        let mut out = Vec::new();
        inputs.encode(&row, &mut out);
        let expected = [
            passage::probability(20.0, 1.0 / 60.0, 0.1, 600.0),
            0.5,
            0.1 * 600f64.sqrt() / 20.0,
            15.0 / 20.0,
            1.2,
        ];
        for (got, want) in out.iter().zip(expected) {
            assert!((got - want).abs() < 1e-9, "{out:?}");
        }
        // Two standard errors off a drift estimated at 1.2 per minute ± 0.1: 1 per minute.
        let row = without_line([30.0, 25.0, 31.0, -1.2 / 60.0, 0.1 / 60.0, 0.1, 1.2]);
        let lowered = inputs.passage(&row, 0, 2.0);
        assert!((lowered - expected[0]).abs() < 1e-12, "{lowered}");
    }

    #[test]
    fn inputs_toward_a_nearer_level_are_those_of_a_rule_there() {
        let target = split_rule("disk_free_percent < 10").unwrap();
        let inputs = Inputs::new(&names(&FEATURES), &names(&["5m"]), &target, 600.0);
        let nearer = split_rule("disk_free_percent < 20").unwrap();
        let at_20 = Inputs::new(&names(&FEATURES), &names(&["5m"]), &nearer, 600.0);
        let row = without_line([30.0, 25.0, 31.0, -1.0 / 60.0, 0.001, 0.1, 0.0]);
        let (mut toward, mut real) = (Vec::new(), Vec::new());
        inputs.encode_to(&row, 20.0, &mut toward);
        at_20.encode(&row, &mut real);
        assert_eq!(toward, real);
        // Half the distance: the drift covers it twice over, the low came halfway there.
        assert_eq!(&toward[1..], &[1.0, 0.1 * 600f64.sqrt() / 10.0, 0.5, 0.0]);
    }

    #[test]
    fn passage_evidence_names_what_the_probability_rests_on() {
        let target = split_rule("disk_free_percent < 10").unwrap();
        let inputs = Inputs::new(&names(&FEATURES), &names(&["5m"]), &target, 600.0);
        // 20 points above the threshold, falling 2.5 points a minute, hardly any noise.
        let row = without_line([30.0, 25.0, 31.0, -2.5 / 60.0, 0.0, 0.01, 0.0]);
        let [drift, volatility, distance] = inputs.passage_evidence(&row, 0, 0.0, |p| p);
        assert_eq!(drift.input, "drift_5m");
        assert!((drift.value - 2.5 / 60.0).abs() < 1e-12);
        assert_eq!(distance.value, 20.0);
        let p = inputs.passage(&row, 0, 0.0);
        assert!(p > 0.99, "{p}");
        // Without the drift it would not get there; the noise hardly matters; at 40 points
        // away it would not get there either.
        assert!(
            drift.effect > 0.99 && volatility.effect.abs() < 0.01,
            "{drift:?} {volatility:?}"
        );
        assert!(distance.effect > 0.99, "{distance:?}");
    }

    #[test]
    fn an_upper_threshold_mirrors_and_missing_history_is_nan() {
        let target = split_rule("cpu_percent > 80").unwrap();
        let inputs = Inputs::new(&names(&FEATURES), &names(&["5m"]), &target, 600.0);
        let mut out = Vec::new();
        // 60 %, rising 2 points a minute, 75 at most recently.
        inputs.encode(
            &without_line([60.0, 50.0, 75.0, 2.0 / 60.0, 0.0, 0.0, 0.4]),
            &mut out,
        );
        assert_eq!(out, vec![1.0, 1.0, 0.0, 0.25, 0.4]);
        out.clear();
        // A gap: no drift, and no anomaly score, to judge.
        let gap = without_line([60.0, 50.0, 75.0, f64::NAN, f64::NAN, f64::NAN, f64::NAN]);
        inputs.encode(&gap, &mut out);
        assert!(out[..3].iter().all(|x| x.is_nan()), "{out:?}");
        assert!(out[4].is_nan(), "{out:?}");
    }

    #[test]
    fn predict_linear_is_the_canonical_rule_over_a_window() {
        let below = split_rule("disk_free_percent < 10").unwrap();
        let inputs = Inputs::new(&names(&FEATURES), &names(&["5m"]), &below, 600.0);
        // The line is at 20 now and falls a point a minute: 10 in ten minutes, which is
        // not below 10; a little faster, it is.
        let at = |slope_per_minute: f64, line: f64| {
            let row = [
                25.0,
                20.0,
                26.0,
                0.0,
                0.0,
                0.0,
                0.0,
                slope_per_minute / 60.0,
                line,
            ];
            (inputs.predicted(&row, 0), inputs.predict_linear(&row, 0))
        };
        let (predicted, p) = at(-1.0, 20.0);
        assert!(
            (predicted - 10.0).abs() < 1e-12 && p == 0.0,
            "{predicted} {p}"
        );
        assert_eq!(at(-1.01, 20.0).1, 1.0);
        // Already below, by the line: beyond.
        assert_eq!(at(0.0, 9.0).1, 1.0);
        assert!(at(f64::NAN, f64::NAN).1.is_nan());
        // `>=` counts the threshold itself.
        let inclusive = split_rule("cpu_percent >= 80").unwrap();
        let inputs = Inputs::new(&names(&FEATURES), &names(&["5m"]), &inclusive, 600.0);
        let row = [70.0, 60.0, 70.0, 0.0, 0.0, 0.0, 0.0, 1.0 / 60.0, 70.0];
        assert_eq!(inputs.predict_linear(&row, 0), 1.0);
    }
}
