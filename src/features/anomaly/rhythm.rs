//! Surprises that keep a rhythm: a nightly backup's spike, an hourly cron job's, a weekly
//! report's. The detector expects such a surprise and halves its score, so a job's spike
//! is detected when it is new, not every time it runs. A surprise keeps a rhythm when
//!
//! - **it keeps its own interval**: three surprises a steady interval apart (the earlier
//!   interval within a tenth of the latest) set a rhythm, and this one comes that
//!   interval after the latest, within a tenth. Asking for two equal intervals, not one,
//!   keeps coincidences rare: 0.3 % of surprises at random times (a Poisson process)
//!   keep a rhythm, against 5 % with one;
//! - **or it keeps the calendar**: it comes within [`CALENDAR_TOLERANCE_MS`] of the same
//!   time of day 1 to 3 days after one of the latest four surprises, or of the same time
//!   of week 1 to 3 weeks after. Operators' schedules are daily and weekly, so one
//!   earlier occurrence is enough, and a job is expected from its second run on.
//!
//! A surprise off both is scored as before. In: the time of each surprise (a value
//! scoring 1 or more, quiet period or not), in increasing order. Out: whether it keeps a
//! rhythm of the ones before it.

/// Intervals match when they differ by at most 1/this of the latest.
const TOLERANCE_DIVISOR: i128 = 10;
/// How far from the same time of day (or of week) a surprise may come to keep it.
pub const CALENDAR_TOLERANCE_MS: i64 = 30 * 60 * 1000;
/// The calendar's periods, and how many of them back a surprise is remembered.
const DAY_MS: i64 = 86_400_000;
const CALENDAR_PERIODS_MS: [i64; 2] = [DAY_MS, 7 * DAY_MS];
const CALENDAR_PERIODS_BACK: i64 = 3;
/// A time of no surprise yet.
const NONE: i64 = i64::MIN;

/// The times of the latest four surprises, latest first, in milliseconds ([`NONE`] until
/// there have been that many): 32 bytes.
#[derive(Debug, Clone)]
pub struct Rhythm {
    times: [i64; 4],
}

impl Default for Rhythm {
    fn default() -> Rhythm {
        Rhythm { times: [NONE; 4] }
    }
}

impl Rhythm {
    /// Records a surprise at `t_ms`; true when it keeps a rhythm of the ones before it.
    pub fn keeps(&mut self, t_ms: i64) -> bool {
        let keeps = self.keeps_interval(t_ms) || self.keeps_calendar(t_ms);
        self.times = [t_ms, self.times[0], self.times[1], self.times[2]];
        keeps
    }

    fn keeps_interval(&self, t_ms: i64) -> bool {
        let [latest, second, third, _] = self.times.map(i128::from);
        let interval = latest - second;
        let matches =
            |other: i128| interval > 0 && (other - interval).abs() * TOLERANCE_DIVISOR <= interval;
        self.times[2] != NONE && matches(second - third) && matches(i128::from(t_ms) - latest)
    }

    fn keeps_calendar(&self, t_ms: i64) -> bool {
        let t = i128::from(t_ms);
        self.times
            .iter()
            .filter(|&&time| time != NONE)
            .any(|&time| {
                let since = t - i128::from(time);
                CALENDAR_PERIODS_MS.iter().any(|&period| {
                    (1..=CALENDAR_PERIODS_BACK).any(|back| {
                        (since - i128::from(back * period)).abs()
                            <= i128::from(CALENDAR_TOLERANCE_MS)
                    })
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    /// An interval no calendar period is a multiple of.
    const STEADY: i64 = 5 * HOUR;

    fn kept(times: &[i64]) -> Vec<bool> {
        let mut rhythm = Rhythm::default();
        times.iter().map(|&t| rhythm.keeps(t)).collect()
    }

    #[test]
    fn a_steady_surprise_keeps_its_rhythm_from_the_fourth_on() {
        let times: Vec<i64> = (0..6).map(|k| k * STEADY).collect();
        assert_eq!(kept(&times), [false, false, false, true, true, true]);
    }

    /// A job that starts ten minutes late or early keeps its interval; two hours off, a
    /// skipped run, or a second interval unlike the first does not.
    #[test]
    fn intervals_match_within_a_tenth() {
        let jittered = [
            0,
            STEADY + 10 * MINUTE,
            2 * STEADY,
            3 * STEADY - 10 * MINUTE,
        ];
        assert_eq!(kept(&jittered), [false, false, false, true]);
        let off = [0, STEADY, 2 * STEADY, 3 * STEADY + 2 * HOUR];
        assert_eq!(kept(&off), [false, false, false, false]);
        let skipped = [0, STEADY, 2 * STEADY, 4 * STEADY];
        assert_eq!(kept(&skipped), [false, false, false, false]);
        let unsteady = [0, 2 * HOUR, 2 * STEADY, 3 * STEADY];
        assert_eq!(kept(&unsteady), [false, false, false, false]);
    }

    /// After a surprise off the rhythm, two more at a new interval set the new one.
    #[test]
    fn a_surprise_off_the_rhythm_starts_a_new_one() {
        let times = [0, STEADY, 2 * STEADY, 3 * STEADY, 3 * STEADY + 6 * HOUR];
        assert_eq!(kept(&times), [false, false, false, true, false]);
        let mut rhythm = Rhythm::default();
        for t in times {
            rhythm.keeps(t);
        }
        let new = [3 * STEADY + 12 * HOUR, 3 * STEADY + 18 * HOUR];
        assert_eq!(new.map(|t| rhythm.keeps(t)), [false, true]);
    }

    /// The same time of day one to three days later, within half an hour, or of week
    /// one to three weeks later: the second run of a daily or weekly job is expected.
    #[test]
    fn the_calendar_expects_a_second_run() {
        let at = 3 * HOUR;
        for later in [
            DAY,
            2 * DAY + 29 * MINUTE,
            3 * DAY - 30 * MINUTE,
            7 * DAY,
            21 * DAY,
        ] {
            assert_eq!(kept(&[at, at + later]), [false, true], "{later}");
        }
        for later in [DAY + 31 * MINUTE, 4 * DAY, 12 * HOUR, 28 * DAY] {
            assert_eq!(kept(&[at, at + later]), [false, false], "{later}");
        }
    }

    /// The calendar remembers the latest four surprises: a fifth in between pushes the
    /// day-old one out.
    #[test]
    fn the_calendar_remembers_four_surprises() {
        let others = [DAY + HOUR, DAY + 5 * HOUR, DAY + 9 * HOUR];
        let mut remembered = vec![0];
        remembered.extend(others);
        remembered.push(2 * DAY);
        assert!(kept(&remembered)[4]);
        let mut forgotten = vec![0, DAY - 10 * HOUR];
        forgotten.extend(others);
        forgotten.push(2 * DAY);
        assert!(!kept(&forgotten)[5]);
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
