//! A shift of the recent mean: a level that moved and stays moved (a holiday's quiet
//! day, a service running hotter after a deploy), which no single value reveals.
//!
//! In: each value less its season's offset (the detector's forecast without the level).
//! Out: how far the mean of about the latest [`SHIFT_RATE`]⁻¹ values lies from a
//! baseline that follows the series at the same pace, in units of the values' mean
//! absolute deviation from that baseline: near 0 while the series wanders around its
//! level, 1 or more for a while after it moves. The detector ranks it against its own
//! history, as HTM's anomaly likelihood ranks the mean of recent scores (Ahmad et al.
//! 2017).

/// Weight of a new value in the baseline, the deviation and the mean shift (about the
/// latest 20 values).
pub const SHIFT_RATE: f64 = 0.05;

#[derive(Debug, Clone)]
pub struct Shift {
    /// NaN before the first value.
    baseline: f64,
    deviation: f64,
    mean: f64,
}

impl Default for Shift {
    fn default() -> Shift {
        Shift {
            baseline: f64::NAN,
            deviation: 0.0,
            mean: 0.0,
        }
    }
}

impl Shift {
    /// The shift after `value` (deseasonalised), its deviation floored at `floor` (> 0).
    /// A state that overflowed (values near ±`f64::MAX`) starts again from this value.
    pub fn observe(&mut self, value: f64, floor: f64) -> f64 {
        let overflowed = !(self.deviation.is_finite() && self.mean.is_finite());
        if !self.baseline.is_finite() || overflowed {
            *self = Shift {
                baseline: value,
                deviation: floor,
                mean: 0.0,
            };
        }
        let from_baseline = value - self.baseline;
        self.deviation += SHIFT_RATE * (from_baseline.abs().max(floor) - self.deviation);
        self.mean += SHIFT_RATE * (from_baseline / self.deviation.max(floor) - self.mean);
        self.baseline += SHIFT_RATE * (value - self.baseline);
        self.mean.abs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Alternating values around a level: the recent mean stays at the baseline. A step
    /// of ten deviations shows within a few values and fades as the baseline follows.
    #[test]
    fn a_step_shows_then_fades_as_the_baseline_follows() {
        let mut shift = Shift::default();
        let wander = |i: usize| if i.is_multiple_of(2) { 1.0 } else { -1.0 };
        let before: Vec<f64> = (0..400).map(|i| shift.observe(wander(i), 1e-9)).collect();
        assert!(
            before[200..].iter().all(|&s| s < 0.1),
            "{:?}",
            &before[200..210]
        );
        let after: Vec<f64> = (0..400)
            .map(|i| shift.observe(10.0 + wander(i), 1e-9))
            .collect();
        let peak = after.iter().cloned().fold(0.0, f64::max);
        assert!(peak > 1.0, "{peak}");
        assert!(after[399] < 0.1, "{}", after[399]);
    }

    /// Values that overflow the sums leave a state that starts again, not one stuck at
    /// NaN or infinity.
    #[test]
    fn overflow_starts_again() {
        let mut shift = Shift::default();
        for v in [f64::MAX, -f64::MAX, f64::MAX, -f64::MAX] {
            shift.observe(v, 1e-9);
        }
        let tame: Vec<f64> = (0..100)
            .map(|i| shift.observe(f64::from(i % 2), 1e-3))
            .collect();
        assert!(tame.iter().all(|s| s.is_finite()), "{tame:?}");
        assert!(tame[99] < 0.2, "{}", tame[99]);
    }

    /// A constant series divides by the floor, not by zero.
    #[test]
    fn a_constant_series_has_no_shift() {
        let mut shift = Shift::default();
        assert!((0..100).all(|_| shift.observe(5.0, 1e-3) == 0.0));
    }
}
