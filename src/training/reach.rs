//! Labels from a signal's own history: every level it later reached, and held.
//!
//! A rule fires when its condition holds for its `for`; an entity's past holds one or
//! two such onsets for the real threshold, but thousands for the levels between where the
//! signal was and that threshold. For each step `t` this module computes the closest
//! level to the alert side that the signal reached within `(t, t + H]` and then held for
//! `for`, so that "would a rule at level `c` have gone pending within H, and fired?" is
//! one comparison for every `c`.
//!
//! In: a trajectory's step times and signal levels, the alert side, the rule's `for` and
//! the horizon. Out: one [`Reach`] per step.

/// What the signal reached, and held, within the horizon after one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reach {
    /// The level furthest toward the alert side that the signal held through a whole
    /// `for` starting within `(t, t + H]` (for `<` the lowest such level), in the alert
    /// side's coordinates (`side × level`: smaller is closer to the alert side); +∞ when
    /// no level was held that long.
    held: f64,
    /// Whether the trajectory covers `t + H + for`: past its end, a level not yet
    /// reached may still be.
    complete: bool,
}

impl Reach {
    /// Whether a rule at `threshold` would have started pending within H and then fired:
    /// Some(true) or Some(false), None when the trajectory ends before that is known.
    pub fn reaches(&self, side: f64, threshold: f64) -> Option<bool> {
        let reached = self.held < side * threshold;
        (reached || self.complete).then_some(reached)
    }
}

/// The [`Reach`] of every step of a trajectory; `side` is +1 when the alert side is below
/// the threshold, −1 when above. A step with a NaN level is a gap: nothing is held across
/// it. Linear in the steps: two sliding windows, each an extreme kept in a monotone
/// queue.
pub fn reaches(
    times_ms: &[i64],
    levels: &[f64],
    side: f64,
    hold_ms: i64,
    horizon_ms: i64,
) -> Vec<Reach> {
    let n = times_ms.len();
    let end_ms = times_ms.last().copied().unwrap_or(0);
    // held_from[s]: the worst (furthest from the alert side) level over [s, s + for], or
    // +∞ when a gap or the trajectory's end interrupts it.
    let mut held_from = vec![f64::INFINITY; n];
    let mut worst = Extreme::new(|a: f64, b: f64| a >= b);
    let mut last_gap: Option<usize> = None;
    let mut next = 0;
    for s in 0..n {
        while next < n && times_ms[next] <= times_ms[s] + hold_ms {
            let level = side * levels[next];
            if level.is_nan() {
                last_gap = Some(next);
            } else {
                worst.push(next, level);
            }
            next += 1;
        }
        worst.drop_before(s);
        let interrupted = last_gap.is_some_and(|g| g >= s);
        if times_ms[s] + hold_ms <= end_ms && !interrupted {
            held_from[s] = worst.best().unwrap_or(f64::INFINITY);
        }
    }
    // reach[t]: the best (closest to the alert side) of held_from over (t, t + H].
    let mut best = Extreme::new(|a: f64, b: f64| a <= b);
    let mut next = 0;
    (0..n)
        .map(|t| {
            while next < n && times_ms[next] <= times_ms[t] + horizon_ms {
                best.push(next, held_from[next]);
                next += 1;
            }
            best.drop_before(t + 1);
            Reach {
                held: best.best().unwrap_or(f64::INFINITY),
                complete: times_ms[t] + horizon_ms + hold_ms <= end_ms,
            }
        })
        .collect()
}

/// The extreme of a sliding window of (index, value), both ends moving forward: a queue
/// whose values are ordered, so that the front is the extreme.
struct Extreme<F> {
    queue: std::collections::VecDeque<(usize, f64)>,
    /// Whether the first value is at least as extreme as the second (it keeps the
    /// second out of the queue when it comes later).
    dominates: F,
}

impl<F: Fn(f64, f64) -> bool> Extreme<F> {
    fn new(dominates: F) -> Extreme<F> {
        Extreme {
            queue: std::collections::VecDeque::new(),
            dominates,
        }
    }

    fn push(&mut self, index: usize, value: f64) {
        while self
            .queue
            .back()
            .is_some_and(|&(_, last)| (self.dominates)(value, last))
        {
            self.queue.pop_back();
        }
        self.queue.push_back((index, value));
    }

    fn drop_before(&mut self, index: usize) {
        while self.queue.front().is_some_and(|&(i, _)| i < index) {
            self.queue.pop_front();
        }
    }

    fn best(&self) -> Option<f64> {
        self.queue.front().map(|&(_, value)| value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steps of 15 s.
    fn times(n: usize) -> Vec<i64> {
        (0..n as i64).map(|i| i * 15_000).collect()
    }

    #[test]
    fn a_level_counts_only_when_held_for_the_rules_for() {
        // Free space falling 1 point a step from 50, with a one-step dip to 30 at step 2.
        let mut levels: Vec<f64> = (0..40).map(|i| 50.0 - i as f64).collect();
        levels[2] = 30.0;
        // `< c` for 30 s (3 steps), within 60 s (4 steps).
        let reach = reaches(&times(40), &levels, 1.0, 30_000, 60_000);
        // From step 0: starts within steps 1..=4, held over 3 steps: the best is from step
        // 4 (46, 45, 44): 46 was held; the dip to 30 was not.
        assert_eq!(reach[0].reaches(1.0, 46.5), Some(true));
        assert_eq!(reach[0].reaches(1.0, 46.0), Some(false));
        assert_eq!(reach[0].reaches(1.0, 31.0), Some(false));
    }

    #[test]
    fn an_upper_threshold_mirrors() {
        let levels: Vec<f64> = (0..40).map(|i| 50.0 + i as f64).collect();
        let reach = reaches(&times(40), &levels, -1.0, 30_000, 60_000);
        assert_eq!(reach[0].reaches(-1.0, 53.5), Some(true));
        assert_eq!(reach[0].reaches(-1.0, 54.5), Some(false));
    }

    #[test]
    fn near_the_end_only_a_reached_level_is_known() {
        let levels: Vec<f64> = (0..10).map(|i| 50.0 - i as f64).collect();
        let reach = reaches(&times(10), &levels, 1.0, 30_000, 60_000);
        // Step 4 + 60 s + 30 s = step 10: past the end (step 9).
        assert_eq!(reach[4].reaches(1.0, 47.0), Some(true));
        assert_eq!(reach[4].reaches(1.0, 40.0), None);
        // Step 3 is covered: 45 − 3 was not reached.
        assert_eq!(reach[3].reaches(1.0, 42.0), Some(false));
    }

    /// The definition, step by step: quadratic, for checking the linear version.
    fn naive(times_ms: &[i64], levels: &[f64], side: f64, hold: i64, horizon: i64) -> Vec<f64> {
        let n = times_ms.len();
        let end_ms = times_ms[n - 1];
        let held_from: Vec<f64> = (0..n)
            .map(|s| {
                if times_ms[s] + hold > end_ms {
                    return f64::INFINITY;
                }
                let within = (s..n).take_while(|&j| times_ms[j] <= times_ms[s] + hold);
                let levels: Vec<f64> = within.map(|j| side * levels[j]).collect();
                if levels.iter().any(|l| l.is_nan()) {
                    return f64::INFINITY;
                }
                levels.into_iter().fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        (0..n)
            .map(|t| {
                let within = (t + 1..n).take_while(|&s| times_ms[s] <= times_ms[t] + horizon);
                within.map(|s| held_from[s]).fold(f64::INFINITY, f64::min)
            })
            .collect()
    }

    #[test]
    fn the_sliding_windows_agree_with_the_definition() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let n = rng.gen_range(1..80);
            let mut t = 0;
            let times: Vec<i64> = (0..n)
                .map(|_| {
                    t += 15_000 * rng.gen_range(1..3);
                    t
                })
                .collect();
            let levels: Vec<f64> = (0..n)
                .map(|_| match rng.gen_range(0..10) {
                    0 => f64::NAN,
                    _ => rng.gen_range(0..20) as f64,
                })
                .collect();
            let side = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
            let (hold, horizon) = (15_000 * rng.gen_range(0..5), 15_000 * rng.gen_range(1..10));
            let fast = reaches(&times, &levels, side, hold, horizon);
            let slow = naive(&times, &levels, side, hold, horizon);
            for (f, s) in fast.iter().zip(&slow) {
                assert_eq!(f.held, *s, "{times:?} {levels:?} side {side} hold {hold}");
            }
        }
    }

    #[test]
    fn a_gap_holds_nothing_across_it() {
        let mut levels = vec![10.0; 20];
        levels[3..=8].fill(f64::NAN);
        let reach = reaches(&times(20), &levels, 1.0, 30_000, 60_000);
        // From step 2, starts at 3..=6 all run into the gap; from step 5, step 9 starts a
        // hold.
        assert_eq!(reach[2].reaches(1.0, 11.0), Some(false));
        assert_eq!(reach[5].reaches(1.0, 11.0), Some(true));
    }
}
