//! Episode-level figures of a set of tickets against the alerts that fired.
//!
//! In: the tickets opened (entity, time), the alert onsets (entity, first pending, first
//! firing, and when that entity's previous episode of the same alert ended), the horizon,
//! the rule's `for` and the entity-days observed. Out: [`Figures`], as outside judges
//! score predictive tickets:
//!
//! - an episode that fired is **caught** when a ticket for its entity was opened within
//!   `[first pending − horizon, first firing)`, and after the entity's previous episode
//!   that fired ended (a ticket for an earlier episode does not count for the next one;
//!   a pending blip that never fired is not an episode of its own); its **lead**
//!   is `first pending − open` of the earliest such ticket: the time before the crossing
//!   (negative for a ticket opened while the rule was pending);
//! - a ticket is **true** when its entity's alert starts firing within
//!   `[open, open + horizon + for]`, false otherwise; every ticket on an entity whose
//!   alert never fired is false, and is also counted apart (`quiet_entity_tickets`);
//! - recall = caught / onsets, precision = true / tickets, false tickets per entity-day.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::bootstrap::Intervals;
use crate::promql::Labels;
use crate::training::AlertHistory;

#[derive(Debug, Clone)]
pub struct Ticket {
    pub entity: Labels,
    pub open_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Onset {
    pub entity: Labels,
    /// The episode's first pending sample: the crossing.
    pub pending_ms: i64,
    /// Its first firing sample.
    pub at_ms: i64,
    /// When this entity's previous episode of the alert that fired ended, if it had one.
    pub previous_end_ms: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Figures {
    pub onsets: usize,
    pub caught: usize,
    /// None when there was no onset.
    pub recall: Option<f64>,
    pub tickets: usize,
    pub true_tickets: usize,
    /// None when there was no ticket.
    pub precision: Option<f64>,
    pub lead_median_seconds: Option<f64>,
    pub lead_p10_seconds: Option<f64>,
    pub false_tickets_per_entity_day: f64,
    /// Tickets on entities whose alert never fired (all of them false).
    #[serde(default)]
    pub quiet_entity_tickets: usize,
    /// The entity-days observed.
    #[serde(default)]
    pub entity_days: f64,
    /// The lead time of each caught onset, ascending.
    pub leads_seconds: Vec<f64>,
    /// How far these figures move over other draws of the same kind of entities
    /// (see [`super::bootstrap`]); None where they were not resampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervals: Option<Intervals>,
}

/// Every onset of `alert` for the entities in `entities`, with the end of the entity's
/// previous episode that fired.
pub fn onsets<'a>(
    history: &AlertHistory,
    alert: &str,
    entities: impl IntoIterator<Item = &'a Labels>,
) -> Vec<Onset> {
    let mut found = Vec::new();
    for entity in entities {
        let mut previous_end_ms = None;
        for episode in history.episodes(alert, entity) {
            if let Some(at_ms) = episode.onset_ms {
                found.push(Onset {
                    entity: entity.clone(),
                    pending_ms: episode.start_ms,
                    at_ms,
                    previous_end_ms,
                });
                previous_end_ms = Some(episode.end_ms);
            }
        }
    }
    found
}

/// The `q`-quantile (linear interpolation) of ascending `values`.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = q * (values.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(values[lo] + (values[hi] - values[lo]) * (rank - lo as f64))
}

/// How tickets are judged: the horizon, and the rule's `for`.
#[derive(Debug, Clone, Copy)]
pub struct Judge {
    pub horizon_ms: i64,
    pub hold_ms: i64,
}

impl Judge {
    /// How long after a ticket opens the alert may start firing for the ticket to be
    /// true: the horizon and the rule's `for`.
    pub fn window_ms(&self) -> i64 {
        self.horizon_ms + self.hold_ms
    }
}

pub fn score(tickets: &[Ticket], onsets: &[Onset], judge: Judge, entity_days: f64) -> Figures {
    let tickets_of = by_entity(tickets, |t| &t.entity);
    let onsets_of = by_entity(onsets, |o| &o.entity);
    let mut leads: Vec<f64> = onsets
        .iter()
        .filter_map(|onset| {
            let from = (onset.pending_ms - judge.horizon_ms)
                .max(onset.previous_end_ms.map_or(i64::MIN, |e| e + 1));
            tickets_of
                .get(&onset.entity)?
                .iter()
                .filter(|t| from <= t.open_ms && t.open_ms < onset.at_ms)
                .map(|t| (onset.pending_ms - t.open_ms) as f64 / 1e3)
                .reduce(f64::max)
        })
        .collect();
    leads.sort_by(f64::total_cmp);
    let within = judge.window_ms();
    let (mut true_tickets, mut quiet_entity_tickets) = (0, 0);
    for ticket in tickets {
        match onsets_of.get(&ticket.entity) {
            None => quiet_entity_tickets += 1,
            Some(onsets) => {
                let fired =
                    |o: &&Onset| ticket.open_ms <= o.at_ms && o.at_ms <= ticket.open_ms + within;
                true_tickets += usize::from(onsets.iter().any(fired));
            }
        }
    }
    Figures::from_counts(
        Counts {
            onsets: onsets.len(),
            tickets: tickets.len(),
            true_tickets,
            quiet_entity_tickets,
            entity_days,
        },
        leads,
    )
}

/// Each entity's own figures: `entities` are the entities scored, with the days each was
/// observed. Every ticket and onset of another entity is left out.
pub fn score_each(
    tickets: &[Ticket],
    onsets: &[Onset],
    judge: Judge,
    entities: &[(&Labels, f64)],
) -> Vec<Figures> {
    let tickets_of = by_entity(tickets, |t| &t.entity);
    let onsets_of = by_entity(onsets, |o| &o.entity);
    entities
        .iter()
        .map(|&(entity, days)| {
            let tickets = owned(&tickets_of, entity);
            score(&tickets, &owned(&onsets_of, entity), judge, days)
        })
        .collect()
}

/// The items of `groups` that are `entity`'s, cloned.
fn owned<T: Clone>(groups: &BTreeMap<&Labels, Vec<&T>>, entity: &Labels) -> Vec<T> {
    groups.get(entity).map_or_else(Vec::new, |items| {
        items.iter().map(|&item| item.clone()).collect()
    })
}

/// `items` grouped by their entity, each group in the items' order: a lookup per
/// entity instead of comparing every ticket's labels with every onset's.
fn by_entity<'a, T>(
    items: &'a [T],
    entity: impl Fn(&'a T) -> &'a Labels,
) -> BTreeMap<&'a Labels, Vec<&'a T>> {
    let mut groups: BTreeMap<&Labels, Vec<&T>> = BTreeMap::new();
    for item in items {
        groups.entry(entity(item)).or_default().push(item);
    }
    groups
}

/// The counts figures are made of.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    onsets: usize,
    tickets: usize,
    true_tickets: usize,
    quiet_entity_tickets: usize,
    entity_days: f64,
}

impl Figures {
    /// The objective policies are chosen by, in episodes: each episode caught counts 1,
    /// plus its lead before the crossing as a share of the horizon (so a ticket a whole
    /// horizon ahead counts 2, one opened while the rule was pending 1), and each false
    /// ticket −1.
    pub fn objective(&self, horizon_s: f64) -> f64 {
        self.caught as f64 + self.lead_shares(horizon_s) - self.false_tickets() as f64
    }

    pub fn false_tickets(&self) -> usize {
        self.tickets - self.true_tickets
    }

    /// The leads of the caught episodes as shares of the horizon (each at most 1),
    /// summed.
    pub fn lead_shares(&self, horizon_s: f64) -> f64 {
        self.leads_seconds
            .iter()
            .map(|l| (l / horizon_s).clamp(0.0, 1.0))
            .sum()
    }

    /// The figures of the entities `parts` were scored on, together: counts and days
    /// add up, leads pool.
    pub fn combine<'a>(parts: impl IntoIterator<Item = &'a Figures>) -> Figures {
        let mut counts = Counts::default();
        let mut leads = Vec::new();
        for part in parts {
            counts.onsets += part.onsets;
            counts.tickets += part.tickets;
            counts.true_tickets += part.true_tickets;
            counts.quiet_entity_tickets += part.quiet_entity_tickets;
            counts.entity_days += part.entity_days;
            leads.extend_from_slice(&part.leads_seconds);
        }
        leads.sort_by(f64::total_cmp);
        Figures::from_counts(counts, leads)
    }

    /// `leads` ascending.
    fn from_counts(counts: Counts, leads: Vec<f64>) -> Figures {
        let ratio = |part: usize, whole: usize| (whole > 0).then(|| part as f64 / whole as f64);
        let false_tickets = counts.tickets - counts.true_tickets;
        Figures {
            onsets: counts.onsets,
            caught: leads.len(),
            recall: ratio(leads.len(), counts.onsets),
            tickets: counts.tickets,
            true_tickets: counts.true_tickets,
            precision: ratio(counts.true_tickets, counts.tickets),
            lead_median_seconds: quantile(&leads, 0.5),
            lead_p10_seconds: quantile(&leads, 0.1),
            false_tickets_per_entity_day: if counts.entity_days > 0.0 {
                false_tickets as f64 / counts.entity_days
            } else {
                0.0
            },
            quiet_entity_tickets: counts.quiet_entity_tickets,
            entity_days: counts.entity_days,
            leads_seconds: leads,
            intervals: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str) -> Labels {
        Labels::new([("instance", name)])
    }

    #[test]
    fn episodes_are_caught_before_firing_by_tickets_for_their_own_episode() {
        let minute = 60_000;
        let onset = |name: &str, pending: i64, previous_end: Option<i64>| Onset {
            entity: host(name),
            pending_ms: pending * minute,
            at_ms: (pending + 2) * minute,
            previous_end_ms: previous_end.map(|end| end * minute),
        };
        // Host a crosses at 18 and 43 min (its first episode ends at 25), host b at 18.
        let onsets = [
            onset("a", 18, None),
            onset("a", 43, Some(25)),
            onset("b", 18, None),
        ];
        let ticket = |name: &str, open: i64| Ticket {
            entity: host(name),
            open_ms: open * minute,
        };
        let tickets = [
            // 8 min before the crossing: caught, and the alert fires 10 min later.
            ticket("a", 10),
            // Within the horizon of nothing: the next episode fires 19 min later.
            ticket("a", 26),
            // While the rule is pending: caught with a lead of −1 min.
            ticket("a", 44),
            // As the rule fires: too late to catch it, but not false.
            ticket("b", 20),
            // On a host whose alert never fired.
            ticket("c", 10),
        ];
        let judge = Judge {
            horizon_ms: 10 * minute,
            hold_ms: 2 * minute,
        };
        let figures = score(&tickets, &onsets, judge, 3.0);
        assert_eq!(figures.onsets, 3);
        assert_eq!(figures.caught, 2, "host b's ticket came as it fired");
        assert_eq!(figures.leads_seconds, vec![-60.0, 480.0]);
        assert_eq!(figures.true_tickets, 3);
        assert_eq!(figures.precision, Some(3.0 / 5.0));
        assert_eq!(figures.quiet_entity_tickets, 1);
        assert_eq!(figures.false_tickets_per_entity_day, 2.0 / 3.0);
        assert_eq!(figures.lead_median_seconds, Some(210.0));
    }

    #[test]
    fn a_pending_blip_that_never_fired_does_not_shorten_the_next_episode() {
        // Host a's rule went pending for 15 s at 100 s, then, after a gap, from 400 s
        // until it fired at 520 s.
        let mut csv = String::from("name,timestamp,value,alertname,alertstate,instance\n");
        let mut sample = |t: i64, state: &str| {
            csv += &format!("ALERTS,{t},1,HostOutOfDiskSpace,{state},a\n");
        };
        (100..=115).step_by(5).for_each(|t| sample(t, "pending"));
        (400..520).step_by(5).for_each(|t| sample(t, "pending"));
        (520..600).step_by(5).for_each(|t| sample(t, "firing"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.csv");
        std::fs::write(&path, csv).unwrap();
        let dataset = crate::dataset::read(&path).unwrap();
        let history = AlertHistory::read(&dataset, &["instance".into()], 15_000);
        let a = host("a");
        assert_eq!(history.episodes("HostOutOfDiskSpace", &a).len(), 2);
        let found = onsets(&history, "HostOutOfDiskSpace", [&a]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].pending_ms, 400_000);
        assert_eq!(found[0].previous_end_ms, None);
        // So a ticket at 50 s, before the blip and within the horizon, catches it.
        let ticket = Ticket {
            entity: a,
            open_ms: 50_000,
        };
        let judge = Judge {
            horizon_ms: 600_000,
            hold_ms: 120_000,
        };
        let figures = score(&[ticket], &found, judge, 1.0);
        assert_eq!(figures.caught, 1);
        assert_eq!(figures.leads_seconds, vec![350.0]);
    }
}
