//! A signal's sampling interval, in steps. Prometheus scrapes every 5 s to 1 min, and the
//! pipeline steps every 15 s: with a 1-minute scrape a signal's value changes at most at
//! every fourth step and repeats in between. Its step-to-step increments are then three
//! zeros and one four steps' worth: their trimmed mean reads a fraction of the drift,
//! and their spread a noise that is not there (on lab-dev scraped every minute, a
//! filling disk's `drift_5m` read a fifth to a half of its rate, and tickets came after
//! the crossing). So the windows take their increments over the sampling interval
//! instead (`Increment`'s lag), and scale them back to one step.
//!
//! In: each finite value, with its step. Out: the lag, the shortest of the latest
//! [`INTERVALS`] intervals between two changes of value (a sample that repeats the one
//! before shows no change, so the interval is a multiple of the scrape's; the shortest
//! is the scrape's), at most [`MAX_LAG`]; 1 until two intervals are known. A signal that
//! changes at every step (every scrape faster than the step) keeps 1; one that changes
//! now and then at random keeps a short one, since some of its changes come close.

/// Intervals between changes remembered.
pub const INTERVALS: usize = 4;
/// The longest lag, in steps (2 minutes at 15 s).
pub const MAX_LAG: usize = 8;
const NO_CHANGE: i64 = i64::MIN;

/// 24 bytes.
#[derive(Debug, Clone)]
pub struct Sampling {
    /// The latest finite value (NaN before one) and the step at which it last changed
    /// ([`NO_CHANGE`] until a change: the first run's start is not one).
    last: f64,
    since: i64,
    /// The latest intervals between changes, in steps (at most 255), 0 where unknown.
    intervals: [u8; INTERVALS],
    /// The shortest of `intervals` once two are known, at most [`MAX_LAG`]; else 1.
    lag: u8,
}

impl Default for Sampling {
    fn default() -> Sampling {
        Sampling {
            last: f64::NAN,
            since: NO_CHANGE,
            intervals: [0; INTERVALS],
            lag: 1,
        }
    }
}

impl Sampling {
    pub fn lag(&self) -> usize {
        usize::from(self.lag)
    }

    /// Notes the finite value of `step` (steps increase); true when the lag changed.
    pub fn observe(&mut self, step: i64, v: f64) -> bool {
        if v == self.last {
            return false;
        }
        let first = self.last.is_nan();
        self.last = v;
        if self.since == NO_CHANGE {
            // The first value starts a run; only a change ends one.
            if !first {
                self.since = step;
            }
            return false;
        }
        let interval = (step - self.since).clamp(1, i64::from(u8::MAX)) as u8;
        self.since = step;
        self.intervals.rotate_right(1);
        self.intervals[0] = interval;
        let mut known = self.intervals.iter().copied().filter(|&i| i > 0);
        let lag = match (known.next(), known.next()) {
            (Some(a), Some(b)) => known.fold(a.min(b), u8::min).min(MAX_LAG as u8),
            _ => 1,
        };
        std::mem::replace(&mut self.lag, lag) != lag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lags after each value of `values`, one per step.
    fn lags(values: &[f64]) -> Vec<usize> {
        let mut sampling = Sampling::default();
        (0..)
            .zip(values)
            .map(|(step, &v)| {
                sampling.observe(step, v);
                sampling.lag()
            })
            .collect()
    }

    #[test]
    fn a_value_that_moves_every_step_has_a_lag_of_one() {
        let values: Vec<f64> = (0..20).map(f64::from).collect();
        assert!(lags(&values).iter().all(|&lag| lag == 1));
    }

    /// A 1-minute scrape at a 15 s step: the value changes at every fourth step. Once
    /// two intervals between changes are known, the lag is 4.
    #[test]
    fn a_sample_held_four_steps_has_a_lag_of_four() {
        let values: Vec<f64> = (0..24).map(|i| f64::from(i / 4)).collect();
        let lags = lags(&values);
        assert_eq!(lags[11], 1, "{lags:?}");
        assert_eq!(lags[12..], [4; 12], "{lags:?}");
    }

    /// A flat signal has nothing to say about its sampling: it keeps a lag of one, and so
    /// does one whose rare changes come at random, some of them close together.
    #[test]
    fn flat_and_randomly_changing_signals_keep_short_lags() {
        assert!(lags(&[5.0; 30]).iter().all(|&lag| lag == 1));
        let mut values = vec![0.0; 40];
        for (from, value) in [(3, 1.0), (12, 2.0), (14, 3.0), (30, 4.0)] {
            values[from..].fill(value);
        }
        assert_eq!(*lags(&values).last().unwrap(), 2);
    }

    #[test]
    fn a_slow_scrape_is_capped() {
        let values: Vec<f64> = (0..100).map(|i| f64::from(i / 20)).collect();
        assert_eq!(*lags(&values).last().unwrap(), MAX_LAG);
    }
}
