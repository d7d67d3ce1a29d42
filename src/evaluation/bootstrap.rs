//! How much the figures owe to which entities happened to be held out: 90 % intervals
//! from resampling whole entities with replacement (the percentile bootstrap).
//!
//! In: each entity's own [`Figures`] (for a comparison, two methods' figures over the
//! same entities, in the same order). Out: [`Intervals`] of recall, precision, median
//! lead and false tickets per entity-day, and the [`Gains`] of one method over another
//! (precision difference, median-lead ratio), each from the 5th to the 95th percentile
//! over [`RESAMPLES`] draws. The entity is the unit because it is what is held out and
//! what new data brings: other hosts, not other minutes of the same ones. Seeded: the
//! same figures always give the same intervals.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::Figures;

/// Draws per interval.
pub const RESAMPLES: usize = 1000;
/// The share of draws left out on each side.
const TAIL: f64 = 0.05;
const SEED: u64 = 0x4841_5242;

/// From the 5th to the 95th percentile of a figure over the draws.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// None where no draw had the figure (no onset, no ticket, nothing caught).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Intervals {
    pub recall: Option<Interval>,
    pub precision: Option<Interval>,
    pub lead_median_seconds: Option<Interval>,
    pub false_tickets_per_entity_day: Option<Interval>,
}

/// One method over another on the same draws of entities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Gains {
    /// Its precision minus the other's.
    pub precision: Option<Interval>,
    /// Its median lead over the other's (where both are positive).
    pub lead_ratio: Option<Interval>,
}

/// The figures of all `parts` together, with their intervals.
pub fn with_intervals(parts: &[Figures]) -> Figures {
    let figures = Figures::combine(parts);
    let draws: Vec<Figures> = draws(parts.len())
        .map(|picks| Figures::combine(picks.iter().map(|&i| &parts[i])))
        .collect();
    let interval =
        |figure: fn(&Figures) -> Option<f64>| percentiles(draws.iter().filter_map(figure));
    Figures {
        intervals: Some(Intervals {
            recall: interval(|f| f.recall),
            precision: interval(|f| f.precision),
            lead_median_seconds: interval(|f| f.lead_median_seconds),
            false_tickets_per_entity_day: interval(|f| Some(f.false_tickets_per_entity_day)),
        }),
        ..figures
    }
}

/// `ours` over `theirs`, entity by entity the same (both from `score_each` over the
/// same entities).
pub fn gains(ours: &[Figures], theirs: &[Figures]) -> Gains {
    assert_eq!(ours.len(), theirs.len(), "the same entities");
    let pairs: Vec<(Figures, Figures)> = draws(ours.len())
        .map(|picks| {
            (
                Figures::combine(picks.iter().map(|&i| &ours[i])),
                Figures::combine(picks.iter().map(|&i| &theirs[i])),
            )
        })
        .collect();
    Gains {
        precision: percentiles(
            pairs
                .iter()
                .filter_map(|(a, b)| Some(a.precision? - b.precision?)),
        ),
        lead_ratio: percentiles(pairs.iter().filter_map(|(a, b)| {
            let (a, b) = (a.lead_median_seconds?, b.lead_median_seconds?);
            (a > 0.0 && b > 0.0).then(|| a / b)
        })),
    }
}

/// [`RESAMPLES`] draws of `n` indices with replacement, the same every time.
fn draws(n: usize) -> impl Iterator<Item = Vec<usize>> {
    let mut rng = StdRng::seed_from_u64(SEED);
    (0..if n == 0 { 0 } else { RESAMPLES })
        .map(move |_| (0..n).map(|_| rng.gen_range(0..n)).collect())
}

fn percentiles(values: impl Iterator<Item = f64>) -> Option<Interval> {
    let mut values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    values.sort_by(f64::total_cmp);
    Some(Interval {
        low: super::episodes::quantile(&values, TAIL)?,
        high: super::episodes::quantile(&values, 1.0 - TAIL)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::{Judge, Onset, Ticket, score, score_each};
    use crate::promql::Labels;

    const MINUTE: i64 = 60_000;
    const JUDGE: Judge = Judge {
        horizon_ms: 10 * MINUTE,
        hold_ms: 2 * MINUTE,
    };

    /// 20 hosts, each crossing at minute 30; hosts 0–14 ticketed 5 minutes ahead, and
    /// hosts 15–19 ticketed at minute 5 (false: the alert fires 27 minutes later).
    fn hosts() -> (Vec<Labels>, Vec<Ticket>, Vec<Onset>) {
        let entities: Vec<Labels> = (0..20)
            .map(|i| Labels::new([("instance", format!("host{i}"))]))
            .collect();
        let onsets = entities
            .iter()
            .map(|e| Onset {
                entity: e.clone(),
                pending_ms: 30 * MINUTE,
                at_ms: 32 * MINUTE,
                previous_end_ms: None,
            })
            .collect();
        let tickets = entities
            .iter()
            .enumerate()
            .map(|(i, e)| Ticket {
                entity: e.clone(),
                open_ms: if i < 15 { 25 * MINUTE } else { 5 * MINUTE },
            })
            .collect();
        (entities, tickets, onsets)
    }

    #[test]
    fn entities_combined_score_as_one_and_the_interval_holds_the_figure() {
        let (entities, tickets, onsets) = hosts();
        let each: Vec<(&Labels, f64)> = entities.iter().map(|e| (e, 0.25)).collect();
        let parts = score_each(&tickets, &onsets, JUDGE, &each);
        let all = score(&tickets, &onsets, JUDGE, 5.0);
        let combined = with_intervals(&parts);
        assert_eq!(
            Figures {
                intervals: None,
                ..combined.clone()
            },
            all
        );
        let intervals = combined.intervals.clone().unwrap();
        let recall = intervals.recall.unwrap();
        // 15 of 20 caught: a draw of 20 hosts catches between about 12 and 18.
        assert!(recall.low < 0.75 && 0.75 < recall.high, "{recall:?}");
        assert!(recall.low > 0.5 && recall.high < 0.95, "{recall:?}");
        // Every caught host has the same lead: no spread at all.
        assert_eq!(
            intervals.lead_median_seconds,
            Some(Interval {
                low: 300.0,
                high: 300.0
            })
        );
        assert_eq!(with_intervals(&parts), combined, "seeded");
    }

    #[test]
    fn gains_are_paired_by_entity() {
        let (entities, tickets, onsets) = hosts();
        let each: Vec<(&Labels, f64)> = entities.iter().map(|e| (e, 0.05)).collect();
        let ours = score_each(&tickets, &onsets, JUDGE, &each);
        // The same tickets, one minute later: the same precision on every draw, and a
        // lead of 4 minutes instead of 5.
        let later: Vec<Ticket> = tickets
            .iter()
            .map(|t| Ticket {
                open_ms: t.open_ms + MINUTE,
                ..t.clone()
            })
            .collect();
        let theirs = score_each(&later, &onsets, JUDGE, &each);
        let gains = gains(&ours, &theirs);
        assert_eq!(
            gains.precision,
            Some(Interval {
                low: 0.0,
                high: 0.0
            })
        );
        assert_eq!(
            gains.lead_ratio,
            Some(Interval {
                low: 1.25,
                high: 1.25
            })
        );
    }
}
