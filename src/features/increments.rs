//! Drift and volatility of a window, robustly, from the signal's increments: what the
//! first-passage probability (`model::passage`) is computed from.
//!
//! In: a window's increments over the signal's sampling interval (`lag` steps, see
//! `sampling`: 1 when the value moves at every step) in order, with their median and MAD
//! (kept sorted as the window slides, by the state's `Order` of increments). Out:
//! [`Increments`]: the drift (trimmed mean of the increments, over the lag), its
//! standard error, and the volatility (1.4826 × their MAD, or 1.2533 × their mean
//! absolute deviation when more than half are equal, over √lag), all per step. Only
//! increments between two steps that both have a value count: a gap breaks the chain,
//! it does not make a jump.
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

    /// The least number of increments over `lag` steps a window of `steps` steps needs for
    /// an estimate: half of those it can hold, and at least [`MIN_INCREMENTS`].
    pub fn least(steps: usize, lag: usize) -> usize {
        (steps.saturating_sub(lag) / 2).max(MIN_INCREMENTS)
    }

    /// The estimates per step from a window's `n` increments over `lag` steps in
    /// ascending order (`sorted(i)` is the `i`-th smallest), their median and their MAD,
    /// given at least `least` of them.
    pub fn of_sorted(
        n: usize,
        least: usize,
        lag: usize,
        sorted: impl Fn(usize) -> f64,
        median: f64,
        mad: f64,
    ) -> Increments {
        if n < least.max(MIN_INCREMENTS) {
            return Increments::NONE;
        }
        let cut = (n as f64 * TRIM) as usize;
        let lag = lag as f64;
        let drift = (cut..n - cut).map(&sorted).sum::<f64>() / (n - 2 * cut) as f64 / lag;
        let spread = if mad > 0.0 {
            MAD_TO_SIGMA * mad
        } else {
            let deviations = (0..n).map(|i| (sorted(i) - median).abs());
            MEAN_AD_TO_SIGMA * deviations.sum::<f64>() / n as f64
        };
        let volatility = spread / lag.sqrt();
        Increments {
            drift,
            drift_stderr: volatility / (n as f64).sqrt(),
            volatility,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The estimates from `values` (oldest first), given at least `least` increments.
    fn at_least(values: &[f64], least: usize) -> Increments {
        let mut sorted: Vec<f64> = values
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|x| !x.is_nan())
            .collect();
        sorted.sort_by(f64::total_cmp);
        let median = |xs: &[f64]| {
            let n = xs.len();
            if n == 0 {
                f64::NAN
            } else {
                (xs[(n - 1) / 2] + xs[n / 2]) / 2.0
            }
        };
        let centre = median(&sorted);
        let mut deviations: Vec<f64> = sorted.iter().map(|x| (x - centre).abs()).collect();
        deviations.sort_by(f64::total_cmp);
        let read = |i: usize| sorted[i];
        Increments::of_sorted(sorted.len(), least, 1, read, centre, median(&deviations))
    }

    fn of(values: &[f64]) -> Increments {
        at_least(values, MIN_INCREMENTS)
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
        assert_eq!(Increments::least(240, 1), 119);
        let ramp: Vec<f64> = (0..100).map(f64::from).collect();
        assert!(at_least(&ramp, 119).drift.is_nan());
        assert_eq!(at_least(&ramp, 99).drift, 1.0);
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
