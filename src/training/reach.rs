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
/// it.
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
    let held_from: Vec<f64> = (0..n)
        .map(|s| {
            if times_ms[s] + hold_ms > end_ms {
                return f64::INFINITY;
            }
            let mut worst = f64::NEG_INFINITY;
            for j in s..n {
                if times_ms[j] > times_ms[s] + hold_ms {
                    break;
                }
                let level = side * levels[j];
                if level.is_nan() {
                    return f64::INFINITY;
                }
                worst = worst.max(level);
            }
            worst
        })
        .collect();
    (0..n)
        .map(|t| {
            let mut held = f64::INFINITY;
            for s in t + 1..n {
                if times_ms[s] > times_ms[t] + horizon_ms {
                    break;
                }
                held = held.min(held_from[s]);
            }
            Reach {
                held,
                complete: times_ms[t] + horizon_ms + hold_ms <= end_ms,
            }
        })
        .collect()
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
