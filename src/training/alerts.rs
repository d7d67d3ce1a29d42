//! What the rules themselves did, read from the `ALERTS` series of an export.
//!
//! In: a [`Dataset`], the pipeline's entity labels and step. Out: per alert name and
//! entity, the [`Episode`]s: runs of `ALERTS` samples (pending or firing) with no gap
//! longer than a gap limit (twice the pipeline step, or three sample
//! spacings of the export if that is longer), each with its start, its onset (first
//! firing sample, if it fired) and its end (last sample). They give training labels
//! ("an onset within the horizon"), the rule's state at each step for the policy, and
//! the episodes that evaluation counts.

use std::collections::BTreeMap;

use crate::dataset::Dataset;
use crate::model::AlertState;
use crate::promql::Labels;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Episode {
    pub start_ms: i64,
    /// The first firing sample; None if it was only ever pending.
    pub onset_ms: Option<i64>,
    pub end_ms: i64,
}

#[derive(Debug, Default)]
pub struct AlertHistory {
    /// (alert name, entity) → episodes in time order.
    episodes: BTreeMap<(String, Labels), Vec<Episode>>,
}

impl AlertHistory {
    pub fn read(dataset: &Dataset, entity_labels: &[String], step_ms: i64) -> AlertHistory {
        let mut samples: BTreeMap<(String, Labels), Vec<(i64, bool)>> = BTreeMap::new();
        for series in dataset.select(&[("__name__", "ALERTS")]) {
            let (Some(alert), Some(state)) =
                (series.label("alertname"), series.label("alertstate"))
            else {
                continue;
            };
            let labels = Labels::new(series.labels.iter().cloned());
            let firing = state == "firing";
            samples
                .entry((alert.to_owned(), labels.keeping(entity_labels)))
                .or_default()
                .extend(series.samples.iter().map(|s| (s.timestamp_ms, firing)));
        }
        let episodes = samples
            .into_iter()
            .map(|(key, mut samples)| {
                samples.sort_unstable();
                (key, episodes_of(&samples, step_ms))
            })
            .collect();
        AlertHistory { episodes }
    }

    pub fn episodes(&self, alert: &str, entity: &Labels) -> &[Episode] {
        self.episodes
            .get(&(alert.to_owned(), entity.clone()))
            .map_or(&[], Vec::as_slice)
    }

    /// Every (entity, episode) of `alert`.
    pub fn of_alert<'a>(
        &'a self,
        alert: &'a str,
    ) -> impl Iterator<Item = (&'a Labels, &'a Episode)> {
        self.episodes
            .iter()
            .filter(move |((name, _), _)| name == alert)
            .flat_map(|((_, entity), episodes)| episodes.iter().map(move |e| (entity, e)))
    }
}

/// The rule's state at `t_ms`, given one entity's `episodes` (looked up once, not at every
/// step: the lookup hashes and compares label sets).
pub fn state_among(episodes: &[Episode], t_ms: i64) -> AlertState {
    match episodes
        .iter()
        .find(|e| e.start_ms <= t_ms && t_ms <= e.end_ms)
    {
        None => AlertState::Inactive,
        Some(e) if e.onset_ms.is_some_and(|onset| onset <= t_ms) => AlertState::Firing,
        Some(_) => AlertState::Pending,
    }
}

/// Whether one of an entity's `episodes` starts firing within `(t_ms, t_ms + window_ms]`.
pub fn fires_among(episodes: &[Episode], t_ms: i64, window_ms: i64) -> bool {
    episodes.iter().any(|e| {
        e.onset_ms
            .is_some_and(|onset| t_ms < onset && onset <= t_ms + window_ms)
    })
}

/// Splits time-sorted (time, firing) samples into episodes.
fn episodes_of(samples: &[(i64, bool)], step_ms: i64) -> Vec<Episode> {
    let mut spacings: Vec<i64> = samples
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .filter(|&d| d > 0)
        .collect();
    spacings.sort_unstable();
    let typical = spacings.get(spacings.len() / 2).copied().unwrap_or(0);
    let gap_ms = (2 * step_ms).max(3 * typical);
    let mut episodes: Vec<Episode> = Vec::new();
    for &(t, firing) in samples {
        match episodes.last_mut() {
            Some(e) if t - e.end_ms <= gap_ms => {
                e.end_ms = t;
                if firing && e.onset_ms.is_none() {
                    e.onset_ms = Some(t);
                }
            }
            _ => episodes.push(Episode {
                start_ms: t,
                onset_ms: firing.then_some(t),
                end_ms: t,
            }),
        }
    }
    episodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episodes_split_at_gaps_and_start_firing_at_their_first_firing_sample() {
        let pending = |t: i64| (t * 1000, false);
        let firing = |t: i64| (t * 1000, true);
        let mut samples: Vec<(i64, bool)> = (0..5).map(|i| pending(i * 5)).collect();
        samples.extend((5..10).map(|i| firing(i * 5)));
        samples.extend((30..33).map(|i| pending(i * 5)));
        samples.sort_unstable();
        let episodes = episodes_of(&samples, 15_000);
        assert_eq!(
            episodes,
            [
                Episode {
                    start_ms: 0,
                    onset_ms: Some(25_000),
                    end_ms: 45_000
                },
                Episode {
                    start_ms: 150_000,
                    onset_ms: None,
                    end_ms: 160_000
                },
            ]
        );
    }

    #[test]
    fn lab_dev_has_the_five_documented_disk_episodes() {
        let dataset = crate::dataset::lab_dev();
        let history =
            AlertHistory::read(&dataset, &["instance".into(), "mountpoint".into()], 15_000);
        let mut onsets: Vec<(String, i64)> = history
            .of_alert("HostOutOfDiskSpace")
            .filter_map(|(entity, e)| {
                let t0 = 1_795_571_575_000;
                Some((
                    entity.get("instance")?.to_owned(),
                    (e.onset_ms? - t0) / 1000,
                ))
            })
            .collect();
        onsets.sort_by_key(|o| o.1);
        // The README's table, offsets from scenario_t0 (rounded to the 5 s grid).
        let expected = [
            ("host8", 780),
            ("host6", 1310),
            ("host8", 1920),
            ("host1", 1995),
            ("host2", 2110),
        ];
        assert_eq!(onsets.len(), 5, "{onsets:?}");
        for ((host, at), (want_host, want_at)) in onsets.iter().zip(expected) {
            assert_eq!(host, want_host);
            assert!((at - want_at).abs() <= 5, "{host}: {at} vs {want_at}");
        }
    }
}
