//! Whether a probability means what it says: the Brier score and the reliability
//! diagram of per-step forecasts.
//!
//! In: (forecast probability, outcome) pairs, one per step where the rule was not
//! active, the outcome being "the alert fired within the horizon". Out: a
//! [`Reliability`]: the Brier score (mean squared error of the probability; 0 is
//! perfect), that of the base rate (the same probability at every step, the share of
//! steps that fired: what a forecast must beat to carry information), and the
//! steps binned by forecast, each bin's mean forecast against how often it came true.
//! A calibrated forecast lies on the diagonal.

use serde::{Deserialize, Serialize};

/// Bins of equal width over [0, 1].
pub const BINS: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reliability {
    pub steps: usize,
    /// None without a step.
    pub brier: Option<f64>,
    pub brier_base_rate: Option<f64>,
    /// The bins with at least one step, lowest forecasts first.
    pub bins: Vec<Bin>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Bin {
    /// Forecasts in `[low, low + 1/BINS)` (the last bin includes 1).
    pub low: f64,
    pub steps: usize,
    pub mean_forecast: f64,
    /// The share of its steps whose alert fired within the horizon.
    pub observed: f64,
}

/// The reliability of `forecasts`; NaN forecasts are left out.
pub fn reliability(forecasts: impl IntoIterator<Item = (f64, bool)>) -> Reliability {
    let pairs: Vec<(f64, f64)> = forecasts
        .into_iter()
        .filter(|(p, _)| !p.is_nan())
        .map(|(p, fired)| (p.clamp(0.0, 1.0), f64::from(u8::from(fired))))
        .collect();
    let n = pairs.len() as f64;
    let mean = |values: &mut dyn Iterator<Item = f64>| (n > 0.0).then(|| values.sum::<f64>() / n);
    let base_rate = mean(&mut pairs.iter().map(|p| p.1));
    let mut sums = [(0usize, 0.0, 0.0); BINS];
    for &(p, y) in &pairs {
        let bin = &mut sums[((p * BINS as f64) as usize).min(BINS - 1)];
        *bin = (bin.0 + 1, bin.1 + p, bin.2 + y);
    }
    Reliability {
        steps: pairs.len(),
        brier: mean(&mut pairs.iter().map(|(p, y)| (p - y).powi(2))),
        brier_base_rate: base_rate.map(|rate| rate * (1.0 - rate)),
        bins: sums
            .iter()
            .enumerate()
            .filter(|(_, s)| s.0 > 0)
            .map(|(i, &(steps, forecast, observed))| Bin {
                low: i as f64 / BINS as f64,
                steps,
                mean_forecast: forecast / steps as f64,
                observed: observed / steps as f64,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calibrated_forecast_lies_on_the_diagonal_and_beats_the_base_rate() {
        // 0.1 at 100 steps of which 10 fire, 0.8 at 50 of which 40 fire.
        let forecasts = (0..100)
            .map(|i| (0.1, i < 10))
            .chain((0..50).map(|i| (0.8, i < 40)))
            .chain([(f64::NAN, true)]);
        let r = reliability(forecasts);
        assert_eq!(r.steps, 150);
        assert_eq!(r.bins.len(), 2);
        for bin in &r.bins {
            assert!((bin.mean_forecast - bin.observed).abs() < 1e-12, "{bin:?}");
        }
        assert_eq!((r.bins[0].low, r.bins[1].low), (0.1, 0.8));
        let brier = (10.0 * 0.81 + 90.0 * 0.01 + 40.0 * 0.04 + 10.0 * 0.64) / 150.0;
        assert!((r.brier.unwrap() - brier).abs() < 1e-12);
        // The base rate, 50 of 150, scores 1/3 × 2/3.
        assert!((r.brier_base_rate.unwrap() - 2.0 / 9.0).abs() < 1e-12);
        assert!(r.brier.unwrap() < r.brier_base_rate.unwrap());
    }

    #[test]
    fn no_step_has_no_score() {
        let r = reliability([(f64::NAN, false)]);
        assert_eq!((r.steps, r.brier, r.bins.len()), (0, None, 0));
    }
}
