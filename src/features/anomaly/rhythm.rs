//! Surprises that keep a rhythm: a nightly backup's spike, an hourly cron job's, a weekly
//! report's. Three surprises a steady interval apart (the earlier interval within a tenth
//! of the latest) set a rhythm; a surprise that comes that interval after the latest,
//! within a tenth, keeps it: the detector expects it and halves its score, so the fourth
//! spike of a steady rhythm is no longer a detection. A surprise off the rhythm is scored
//! as before. Asking for two equal intervals, not one, keeps coincidences rare: 0.3 % of
//! surprises at random times (a Poisson process) keep a rhythm, against 5 % with one.
//!
//! In: the time of each surprise (a value scoring 1 or more, quiet period or not), in
//! increasing order. Out: whether it keeps the rhythm of the three before it.

/// Intervals match when they differ by at most 1/this of the latest.
const TOLERANCE_DIVISOR: i128 = 10;
/// A time of no surprise yet.
const NONE: i64 = i64::MIN;

/// The times of the latest three surprises, latest first, in milliseconds ([`NONE`] until
/// there have been that many): 24 bytes.
#[derive(Debug, Clone)]
pub struct Rhythm {
    times: [i64; 3],
}

impl Default for Rhythm {
    fn default() -> Rhythm {
        Rhythm { times: [NONE; 3] }
    }
}

impl Rhythm {
    /// Records a surprise at `t_ms`; true when it keeps the rhythm of the three before it.
    pub fn keeps(&mut self, t_ms: i64) -> bool {
        let [latest, second, third] = self.times.map(i128::from);
        let interval = latest - second;
        let matches =
            |other: i128| interval > 0 && (other - interval).abs() * TOLERANCE_DIVISOR <= interval;
        let keeps =
            self.times[2] != NONE && matches(second - third) && matches(i128::from(t_ms) - latest);
        self.times = [t_ms, self.times[0], self.times[1]];
        keeps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    fn kept(times: &[i64]) -> Vec<bool> {
        let mut rhythm = Rhythm::default();
        times.iter().map(|&t| rhythm.keeps(t)).collect()
    }

    #[test]
    fn a_daily_surprise_keeps_its_rhythm_from_the_fourth_on() {
        let times: Vec<i64> = (0..6).map(|d| d * DAY).collect();
        assert_eq!(kept(&times), [false, false, false, true, true, true]);
    }

    /// A nightly job that starts an hour late or early keeps its rhythm; three hours off,
    /// a skipped night, or a second interval unlike the first does not.
    #[test]
    fn intervals_match_within_a_tenth() {
        let jittered = [0, DAY + HOUR, 2 * DAY, 3 * DAY - HOUR];
        assert_eq!(kept(&jittered), [false, false, false, true]);
        let off = [0, DAY, 2 * DAY, 3 * DAY + 3 * HOUR];
        assert_eq!(kept(&off), [false, false, false, false]);
        let skipped = [0, DAY, 2 * DAY, 4 * DAY];
        assert_eq!(kept(&skipped), [false, false, false, false]);
        let unsteady = [0, 5 * HOUR, 2 * DAY, 3 * DAY];
        assert_eq!(kept(&unsteady), [false, false, false, false]);
    }

    /// The rhythm is the latest two intervals: after a surprise off it, two more at a
    /// new interval set the new one.
    #[test]
    fn a_surprise_off_the_rhythm_starts_a_new_one() {
        let times = [0, DAY, 2 * DAY, 3 * DAY, 3 * DAY + 5 * HOUR];
        assert_eq!(kept(&times), [false, false, false, true, false]);
        let mut rhythm = Rhythm::default();
        for t in times {
            rhythm.keeps(t);
        }
        let new = [3 * DAY + 10 * HOUR, 3 * DAY + 15 * HOUR];
        assert_eq!(new.map(|t| rhythm.keeps(t)), [false, true]);
    }

    #[test]
    fn times_that_do_not_increase_never_keep_it() {
        assert_eq!(kept(&[0, 0, 0, 0]), [false; 4]);
        assert_eq!(
            kept(&[i64::MIN + 1, i64::MAX, i64::MAX, i64::MAX]),
            [false; 4]
        );
    }
}
