//! Drift and volatility of a window, robustly, from the signal's increments: what the
//! first-passage probability (`model::passage`) is computed from.
//!
//! In: a window's values (NaN for gaps), oldest first. Out: [`Increments`]: the drift
//! (trimmed mean of the step-to-step increments), its standard error, and the volatility
//! (1.4826 × their MAD, or 1.2533 × their mean absolute deviation when more than half
//! are equal), all per step. Only increments between two consecutive steps that both
//! have a value count: a gap breaks the chain, it does not make a jump.
//!
//! Why robust: a one-off copy lifts a disk 60 points in one step, a log rotation drops
//! it 50; a least-squares slope over the window carries that step for the whole window
//! and reads it as a trend. Trimming the largest increments on each side leaves the
//! steady part: a disk that stepped up and went flat has no drift, one that fills by
//! steady writes and the odd rotation keeps its fill rate.

/// The share of increments dropped from each end before the mean.
pub const TRIM: f64 = 0.2;
/// Scales a MAD to a standard deviation for normally distributed values.
pub const MAD_TO_SIGMA: f64 = 1.4826;
/// Scales a mean absolute deviation to a standard deviation (√(π/2)).
pub const MEAN_AD_TO_SIGMA: f64 = 1.253_314;
/// Fewer increments than this give no estimate, whatever the window.
pub const MIN_INCREMENTS: usize = 3;

/// Per step; NaN with fewer increments than the window's minimum: too little history
/// is not "no drift", it is unknown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Increments {
    pub drift: f64,
    pub drift_stderr: f64,
    pub volatility: f64,
}

impl Increments {
    const NONE: Increments = Increments {
        drift: f64::NAN,
        drift_stderr: f64::NAN,
        volatility: f64::NAN,
    };

    /// The least number of increments a window of `steps` steps needs for an estimate:
    /// half of those it can hold, and at least [`MIN_INCREMENTS`].
    pub fn least(steps: usize) -> usize {
        (steps.saturating_sub(1) / 2).max(MIN_INCREMENTS)
    }

    /// The estimates from `values` (oldest first), given at least `least` increments;
    /// `scratch` is reused space.
    pub fn of(
        values: impl Iterator<Item = f64>,
        least: usize,
        scratch: &mut Vec<f64>,
    ) -> Increments {
        scratch.clear();
        let mut previous = f64::NAN;
        for v in values {
            let increment = v - previous;
            if !increment.is_nan() {
                scratch.push(increment);
            }
            previous = v;
        }
        let n = scratch.len();
        if n < least.max(MIN_INCREMENTS) {
            return Increments::NONE;
        }
        let cut = (n as f64 * TRIM) as usize;
        let kept = &mut scratch[..];
        if cut > 0 {
            kept.select_nth_unstable_by(cut, f64::total_cmp);
            kept[cut..].select_nth_unstable_by(n - 2 * cut - 1, f64::total_cmp);
        }
        let middle = &kept[cut..n - cut];
        let drift = middle.iter().sum::<f64>() / middle.len() as f64;
        let centre = median(scratch);
        let mean_deviation = scratch.iter().map(|x| (x - centre).abs()).sum::<f64>() / n as f64;
        for x in scratch.iter_mut() {
            *x = (*x - centre).abs();
        }
        let mad = median(scratch);
        let volatility = if mad > 0.0 {
            MAD_TO_SIGMA * mad
        } else {
            MEAN_AD_TO_SIGMA * mean_deviation
        };
        Increments {
            drift,
            drift_stderr: volatility / (n as f64).sqrt(),
            volatility,
        }
    }
}

/// The median of non-empty `values`, which it reorders.
fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    let (below, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        upper
    } else {
        let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        lower + (upper - lower) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values: &[f64]) -> Increments {
        Increments::of(values.iter().copied(), MIN_INCREMENTS, &mut Vec::new())
    }

    #[test]
    fn a_steady_fill_with_one_jump_keeps_its_rate() {
        // +1 per step for 10 steps, with one step of +60 in the middle.
        let mut values = vec![0.0];
        for i in 1..=10 {
            let jump = if i == 5 { 60.0 } else { 0.0 };
            values.push(values[i - 1] + 1.0 + jump);
        }
        let found = of(&values);
        assert_eq!(found.drift, 1.0);
        // Every other increment is equal: the spread falls back on the mean deviation.
        assert!(
            (found.volatility - MEAN_AD_TO_SIGMA * 6.0).abs() < 1e-9,
            "{found:?}"
        );
    }

    #[test]
    fn a_step_then_flat_has_no_drift() {
        let values = [20.0, 20.1, 19.9, 20.0, 84.0, 84.1, 83.9, 84.0, 84.1, 84.0];
        let found = of(&values);
        assert!(found.drift.abs() < 0.05, "{found:?}");
        assert!(found.volatility < 0.2, "{found:?}");
    }

    #[test]
    fn gaps_break_the_chain_and_too_few_increments_give_nothing() {
        let found = of(&[1.0, 2.0, f64::NAN, 10.0, 11.0, f64::NAN, 20.0, 21.0]);
        assert_eq!(
            found.drift, 1.0,
            "three increments of 1; the jumps across gaps do not count"
        );
        assert_eq!(found.volatility, 0.0);
        assert!(of(&[1.0, 2.0, f64::NAN, 3.0]).drift.is_nan());
        assert!(of(&[]).volatility.is_nan());
        // A 1h window at 15 s holds 239 increments: it needs 119.
        assert_eq!(Increments::least(240), 119);
        let ramp = (0..100).map(f64::from);
        assert!(Increments::of(ramp, 119, &mut Vec::new()).drift.is_nan());
    }

    #[test]
    fn the_estimates_match_their_definitions_on_a_small_window() {
        // Increments: 3, −1, 2, 0, 1, 5, −2, 1, 1, 0 (n = 10, two trimmed at each end).
        let values = [0.0, 3.0, 2.0, 4.0, 4.0, 5.0, 10.0, 8.0, 9.0, 10.0, 10.0];
        let found = of(&values);
        // Sorted: −2 −1 0 0 1 1 1 2 3 5; the middle six: 0 0 1 1 1 2.
        assert!((found.drift - 5.0 / 6.0).abs() < 1e-12, "{found:?}");
        // Median 1; |x − 1| sorted: 0 0 0 1 1 1 1 2 3 4 → MAD 1.
        assert!((found.volatility - MAD_TO_SIGMA).abs() < 1e-12, "{found:?}");
        assert!((found.drift_stderr - MAD_TO_SIGMA / 10f64.sqrt()).abs() < 1e-12);
    }
}
