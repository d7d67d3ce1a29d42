//! The board: what the scoring side knows now, for the HTTP API and the status page.
//!
//! In: after each step, each scored (target, entity) with its probability, ETA, level,
//! trend, anomaly score and whether a ticket is open; the rules and the model card
//! when scoring starts or the model reloads; every ticket action recorded. Out: the
//! step's predictions, ranked by probability (unknown last), each with a sparkline's
//! worth of its signal ([`Track`]); the rules; the model card; the recent ticket
//! actions, newest first. A step replaces the last; an entity the step does not score
//! loses its track.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Serialize, Serializer};

use super::card::{ModelCard, RuleCard};
use super::track::Track;
use crate::model::Scored;
use crate::promql::{Labels, LabelsMap};
use crate::tickets::TicketAction;

/// How many ticket actions the board remembers.
pub const RECENT_ACTIONS: usize = 25;

/// One (target, entity) at the last step. Non-finite values are null.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Prediction {
    pub target: String,
    /// Shared with the engine's entity (a reference count, not a copy per step); a JSON
    /// object of its labels.
    #[serde(serialize_with = "label_map")]
    pub entity: Labels,
    pub probability: Option<f64>,
    pub eta_seconds: Option<f64>,
    pub eta_stderr_seconds: Option<f64>,
    pub value: Option<f64>,
    /// The signal's slope over its shortest window, per second.
    pub trend_per_second: Option<f64>,
    pub anomaly_score: Option<f64>,
    pub ticket_open: bool,
    /// The signal over its longest window: `[[unix ms, value], ...]`.
    pub history: Track,
}

/// A step's predictions: as the step listed them on the board, ranked by probability
/// (unknown last) as [`Board::top`] hands them out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Published {
    /// The step's time; 0 before the first step.
    pub at_ms: i64,
    pub predictions: Vec<Prediction>,
}

#[derive(Debug, Default)]
struct Status {
    published: Published,
    rules: Vec<RuleCard>,
    model: Option<ModelCard>,
    recent: VecDeque<TicketAction>,
}

/// Shared between the pipeline, which publishes, and the HTTP handlers, which read.
#[derive(Debug, Clone, Default)]
pub struct Board(Arc<RwLock<Status>>);

impl Board {
    /// The rules scored and the model scoring them, from now on.
    pub fn describe(&self, rules: Vec<RuleCard>, model: ModelCard) {
        let mut status = self.0.write();
        status.rules = rules;
        status.model = Some(model);
    }

    /// Replaces the published predictions with `step`'s; each carries its entity's track
    /// on, with this step's value added. A step lists its (target, entity) pairs in the
    /// order the last one did, as long as no entity came or went: a track is then found
    /// at the same place (the entities compared by pointer first, as they are shared
    /// with the engine), and only those after a break in the order are looked up.
    /// Ranking waits for a reader ([`Board::top`]): steps come far more often than
    /// reads during a catch-up.
    pub fn publish(&self, at_ms: i64, mut predictions: Vec<Prediction>) {
        let mut status = self.0.write();
        let mut before = std::mem::take(&mut status.published.predictions);
        let spans: HashMap<&str, i64> = status
            .rules
            .iter()
            .map(|r| (r.alert.as_str(), r.window.as_millis() as i64))
            .collect();
        let mut moved: Option<HashMap<String, LabelsMap<Track>>> = None;
        for (i, prediction) in predictions.iter_mut().enumerate() {
            // Once the order broke, the tracks from there on moved to the map.
            let in_place = before
                .get_mut(i)
                .filter(|p| p.target == prediction.target && p.entity == prediction.entity);
            let mut track = match in_place {
                Some(p) => std::mem::take(&mut p.history),
                None => {
                    // By target, then entity: found without building a key.
                    let rest = i.min(before.len());
                    let by_target = moved.get_or_insert_with(|| tracks_of(before.drain(rest..)));
                    by_target
                        .get_mut(prediction.target.as_str())
                        .and_then(|by_entity| by_entity.remove(&prediction.entity))
                        .unwrap_or_default()
                }
            };
            let span_ms = spans
                .get(prediction.target.as_str())
                .copied()
                .unwrap_or(3_600_000);
            track.push(at_ms, prediction.value.unwrap_or(f64::NAN), span_ms);
            prediction.history = track;
        }
        status.published = Published { at_ms, predictions };
    }

    /// Remembers a recorded ticket action; the oldest beyond the last
    /// [`RECENT_ACTIONS`] are forgotten.
    pub fn remember(&self, action: TicketAction) {
        let mut status = self.0.write();
        if status.recent.len() == RECENT_ACTIONS {
            status.recent.pop_back();
        }
        status.recent.push_front(action);
    }

    /// The first `limit` predictions that `keep` keeps, in rank order, and how many it
    /// keeps in all.
    pub fn top(&self, limit: usize, keep: impl Fn(&Prediction) -> bool) -> (Published, usize) {
        let status = self.0.read();
        let mut kept: Vec<&Prediction> = status
            .published
            .predictions
            .iter()
            .filter(|p| keep(p))
            .collect();
        let total = kept.len();
        let probability = |p: &Prediction| p.probability.unwrap_or(f64::NEG_INFINITY);
        kept.sort_by(|a, b| probability(b).total_cmp(&probability(a)));
        let predictions = kept.into_iter().take(limit).cloned().collect();
        let at_ms = status.published.at_ms;
        (Published { at_ms, predictions }, total)
    }

    /// The last step's time; 0 before the first step.
    pub fn at_ms(&self) -> i64 {
        self.0.read().published.at_ms
    }

    pub fn rules(&self) -> Vec<RuleCard> {
        self.0.read().rules.clone()
    }

    pub fn model(&self) -> Option<ModelCard> {
        self.0.read().model.clone()
    }

    /// The ticket actions recorded lately, newest first.
    pub fn recent_actions(&self) -> Vec<TicketAction> {
        self.0.read().recent.iter().cloned().collect()
    }
}

impl Prediction {
    /// The prediction of a step; the board adds its track.
    pub fn of(target: &str, entity: &Labels, scored: &Scored, ticket_open: bool) -> Prediction {
        let finite = |v: f64| v.is_finite().then_some(v);
        let observation = &scored.observation;
        Prediction {
            target: target.to_owned(),
            entity: entity.clone(),
            probability: finite(observation.probability),
            eta_seconds: finite(observation.eta_seconds),
            eta_stderr_seconds: finite(observation.eta_stderr_seconds),
            value: finite(scored.level),
            trend_per_second: finite(scored.trend_per_second),
            anomaly_score: finite(scored.anomaly_score),
            ticket_open,
            history: Track::default(),
        }
    }
}

/// The tracks of `predictions`, by target and entity.
fn tracks_of(predictions: impl Iterator<Item = Prediction>) -> HashMap<String, LabelsMap<Track>> {
    let mut tracks: HashMap<String, LabelsMap<Track>> = HashMap::new();
    for p in predictions {
        tracks
            .entry(p.target)
            .or_default()
            .insert(p.entity, p.history);
    }
    tracks
}

fn label_map<S: Serializer>(labels: &Labels, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(labels.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(target: &str, instance: &str, probability: Option<f64>) -> Prediction {
        Prediction {
            target: target.to_owned(),
            entity: Labels::new([("instance", instance)]),
            probability,
            eta_seconds: None,
            eta_stderr_seconds: None,
            value: probability,
            trend_per_second: None,
            anomaly_score: None,
            ticket_open: false,
            history: Track::default(),
        }
    }

    #[test]
    fn ranked_by_probability_unknown_last_and_filtered_before_the_limit() {
        let board = Board::default();
        board.publish(
            7,
            vec![
                prediction("A", "a", Some(0.2)),
                prediction("B", "a", None),
                prediction("A", "b", Some(0.9)),
                prediction("B", "b", Some(0.5)),
            ],
        );
        let (all, total) = board.top(10, |_| true);
        assert_eq!((all.at_ms, total), (7, 4));
        let ranked: Vec<Option<f64>> = all.predictions.iter().map(|p| p.probability).collect();
        assert_eq!(ranked, [Some(0.9), Some(0.5), Some(0.2), None]);
        let (b, total) = board.top(1, |p| p.target == "B");
        assert_eq!(total, 2);
        assert_eq!(b.predictions.len(), 1);
        assert_eq!(b.predictions[0].probability, Some(0.5));
        let json = serde_json::to_value(&b.predictions[0]).unwrap();
        assert_eq!(json["entity"], serde_json::json!({"instance": "b"}));
        assert_eq!(json["history"], serde_json::json!([[7, 0.5]]));
    }

    #[test]
    fn each_entity_carries_its_track_and_loses_it_when_it_goes() {
        let board = Board::default();
        // Steps two minutes apart, wider than an hour's track thins to.
        let (t1, t2, t3) = (120_000, 240_000, 360_000);
        board.publish(
            t1,
            vec![
                prediction("A", "a", Some(0.1)),
                prediction("A", "b", Some(0.2)),
            ],
        );
        board.publish(t2, vec![prediction("A", "a", Some(0.3))]);
        board.publish(
            t3,
            vec![
                prediction("A", "a", Some(0.4)),
                prediction("A", "b", Some(0.5)),
            ],
        );
        let (published, _) = board.top(10, |_| true);
        let track = |instance: &str| -> Vec<(i64, f64)> {
            let p = published
                .predictions
                .iter()
                .find(|p| p.entity.get("instance") == Some(instance));
            p.unwrap().history.points().collect()
        };
        assert_eq!(track("a"), [(t1, 0.1), (t2, 0.3), (t3, 0.4)]);
        assert_eq!(
            track("b"),
            [(t3, 0.5)],
            "b was away at t2, so its track began again"
        );
    }

    #[test]
    fn tracks_follow_their_entities_when_the_order_of_a_step_changes() {
        let board = Board::default();
        let step = |instances: &[&str], value: f64| -> Vec<Prediction> {
            instances
                .iter()
                .map(|i| prediction("A", i, Some(value)))
                .collect()
        };
        board.publish(120_000, step(&["a", "b", "c"], 0.1));
        // b goes: c moves up a place, so it and everything after it is looked up.
        board.publish(240_000, step(&["a", "c"], 0.2));
        board.publish(360_000, step(&["c", "a", "b"], 0.3));
        board.publish(480_000, step(&["c", "a", "b"], 0.4));
        let (published, _) = board.top(10, |_| true);
        let values = |instance: &str| -> Vec<f64> {
            let p = published.predictions.iter();
            let p = p
                .clone()
                .find(|p| p.entity.get("instance") == Some(instance));
            p.unwrap().history.points().map(|(_, v)| v).collect()
        };
        assert_eq!(values("a"), [0.1, 0.2, 0.3, 0.4]);
        assert_eq!(values("c"), [0.1, 0.2, 0.3, 0.4]);
        assert_eq!(
            values("b"),
            [0.3, 0.4],
            "b's track began again when it came back"
        );
    }

    #[test]
    fn remembers_the_last_actions_newest_first() {
        let board = Board::default();
        for at_ms in 0..(RECENT_ACTIONS as i64 + 5) {
            let mut action = crate::outbox::example_action();
            action.at_ms = at_ms;
            board.remember(action);
        }
        let recent = board.recent_actions();
        assert_eq!(recent.len(), RECENT_ACTIONS);
        assert_eq!(recent[0].at_ms, RECENT_ACTIONS as i64 + 4);
        assert_eq!(recent.last().unwrap().at_ms, 5);
    }
}
