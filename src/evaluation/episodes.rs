//! Episode-level figures of a set of tickets against the alerts that fired.
//!
//! In: the tickets opened (entity, time), the alert onsets (entity, time, and when that
//! entity's previous episode of the same alert ended), the horizon and the entity-days
//! observed. Out: [`Figures`]:
//!
//! - an onset is **caught** when a ticket for its entity was opened within
//!   `[onset − horizon, onset]`, and after the entity's previous episode ended (a ticket
//!   for an earlier episode does not count for the next one); its **lead time** is
//!   `onset − open` of the earliest such ticket (0 for a ticket opened as the rule fires);
//! - a ticket is **true** when its entity's alert starts firing within
//!   `[open, open + horizon]`, false otherwise;
//! - recall = caught / onsets, precision = true / tickets, false tickets per entity-day.

use serde::{Deserialize, Serialize};

use crate::model::AlertHistory;
use crate::promql::Labels;

#[derive(Debug, Clone)]
pub struct Ticket {
    pub entity: Labels,
    pub open_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Onset {
    pub entity: Labels,
    pub at_ms: i64,
    /// When this entity's previous episode of the alert ended, if it had one.
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
    /// The lead time of each caught onset, ascending.
    pub leads_seconds: Vec<f64>,
}

/// Every onset of `alert` for the entities in `entities`, with the end of the entity's
/// previous episode.
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
                    at_ms,
                    previous_end_ms,
                });
            }
            previous_end_ms = Some(episode.end_ms);
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

pub fn score(tickets: &[Ticket], onsets: &[Onset], horizon_ms: i64, entity_days: f64) -> Figures {
    let mut leads: Vec<f64> = onsets
        .iter()
        .filter_map(|onset| {
            let from =
                (onset.at_ms - horizon_ms).max(onset.previous_end_ms.map_or(i64::MIN, |e| e + 1));
            tickets
                .iter()
                .filter(|t| {
                    t.entity == onset.entity && from <= t.open_ms && t.open_ms <= onset.at_ms
                })
                .map(|t| (onset.at_ms - t.open_ms) as f64 / 1e3)
                .reduce(f64::max)
        })
        .collect();
    leads.sort_by(f64::total_cmp);
    let true_tickets = tickets
        .iter()
        .filter(|t| {
            onsets.iter().any(|o| {
                o.entity == t.entity && t.open_ms <= o.at_ms && o.at_ms <= t.open_ms + horizon_ms
            })
        })
        .count();
    let ratio = |part: usize, whole: usize| (whole > 0).then(|| part as f64 / whole as f64);
    Figures {
        onsets: onsets.len(),
        caught: leads.len(),
        recall: ratio(leads.len(), onsets.len()),
        tickets: tickets.len(),
        true_tickets,
        precision: ratio(true_tickets, tickets.len()),
        lead_median_seconds: quantile(&leads, 0.5),
        lead_p10_seconds: quantile(&leads, 0.1),
        false_tickets_per_entity_day: if entity_days > 0.0 {
            (tickets.len() - true_tickets) as f64 / entity_days
        } else {
            0.0
        },
        leads_seconds: leads,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str) -> Labels {
        Labels::new([("instance", name)])
    }

    #[test]
    fn onsets_are_caught_only_by_tickets_for_their_own_episode() {
        let minute = 60_000;
        let onsets = [
            Onset {
                entity: host("a"),
                at_ms: 20 * minute,
                previous_end_ms: None,
            },
            // A second episode of host a, 25 min later: the first ticket is within the
            // horizon of it, but it was opened before the first episode ended.
            Onset {
                entity: host("a"),
                at_ms: 45 * minute,
                previous_end_ms: Some(25 * minute),
            },
            Onset {
                entity: host("b"),
                at_ms: 20 * minute,
                previous_end_ms: None,
            },
        ];
        let tickets = [
            Ticket {
                entity: host("a"),
                open_ms: 5 * minute,
            },
            Ticket {
                entity: host("a"),
                open_ms: 40 * minute,
            },
            Ticket {
                entity: host("c"),
                open_ms: 10 * minute,
            },
        ];
        let figures = score(&tickets, &onsets, 30 * minute, 3.0);
        assert_eq!(figures.onsets, 3);
        assert_eq!(figures.caught, 2, "host b had no ticket");
        assert_eq!(figures.leads_seconds, vec![300.0, 900.0]);
        assert_eq!(figures.true_tickets, 2);
        assert_eq!(figures.precision, Some(2.0 / 3.0));
        assert_eq!(figures.false_tickets_per_entity_day, 1.0 / 3.0);
        assert_eq!(figures.lead_median_seconds, Some(600.0));
        assert_eq!(figures.lead_p10_seconds, Some(360.0));
    }
}
