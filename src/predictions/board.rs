//! The board: every entity's latest prediction, for the HTTP API and the status page.
//!
//! In: after each step, each scored (target, entity) with its probability, ETA, level,
//! anomaly score and whether a ticket is open. Out: the step's predictions, ranked by
//! probability (unknown last), shared with the HTTP handlers; a step replaces the last.

use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Serialize, Serializer};

use crate::model::Scored;
use crate::promql::Labels;

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
    pub value: Option<f64>,
    pub anomaly_score: Option<f64>,
    pub ticket_open: bool,
}

/// The last step's predictions, ranked.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Published {
    /// The step's time; 0 before the first step.
    pub at_ms: i64,
    pub predictions: Vec<Prediction>,
}

/// Shared between the pipeline, which publishes, and the HTTP handlers, which read.
#[derive(Debug, Clone, Default)]
pub struct Board(Arc<RwLock<Published>>);

impl Board {
    /// Replaces the published predictions with `step`'s, ranked by probability.
    pub fn publish(&self, at_ms: i64, mut predictions: Vec<Prediction>) {
        predictions.sort_by(|a, b| {
            let p = |x: &Prediction| x.probability.unwrap_or(f64::NEG_INFINITY);
            p(b).total_cmp(&p(a))
        });
        *self.0.write() = Published { at_ms, predictions };
    }

    /// The first `limit` predictions that `keep` keeps, in rank order, and how many it
    /// keeps in all.
    pub fn top(&self, limit: usize, keep: impl Fn(&Prediction) -> bool) -> (Published, usize) {
        let published = self.0.read();
        let kept: Vec<&Prediction> = published.predictions.iter().filter(|p| keep(p)).collect();
        let total = kept.len();
        let predictions = kept.into_iter().take(limit).cloned().collect();
        let at_ms = published.at_ms;
        (Published { at_ms, predictions }, total)
    }
}

impl Prediction {
    pub fn of(target: &str, entity: &Labels, scored: &Scored, ticket_open: bool) -> Prediction {
        let finite = |v: f64| v.is_finite().then_some(v);
        Prediction {
            target: target.to_owned(),
            entity: entity.clone(),
            probability: finite(scored.observation.probability),
            eta_seconds: finite(scored.observation.eta_seconds),
            value: finite(scored.level),
            anomaly_score: finite(scored.anomaly_score),
            ticket_open,
        }
    }
}

fn label_map<S: Serializer>(labels: &Labels, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(labels.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(target: &str, probability: Option<f64>) -> Prediction {
        Prediction {
            target: target.to_owned(),
            entity: Labels::new([("instance", "a")]),
            probability,
            eta_seconds: None,
            value: None,
            anomaly_score: None,
            ticket_open: false,
        }
    }

    #[test]
    fn ranked_by_probability_unknown_last_and_filtered_before_the_limit() {
        let board = Board::default();
        board.publish(
            7,
            vec![
                prediction("A", Some(0.2)),
                prediction("B", None),
                prediction("A", Some(0.9)),
                prediction("B", Some(0.5)),
            ],
        );
        let (all, total) = board.top(10, |_| true);
        assert_eq!((all.at_ms, total), (7, 4));
        let ranked: Vec<Option<f64>> = all.predictions.iter().map(|p| p.probability).collect();
        assert_eq!(ranked, [Some(0.9), Some(0.5), Some(0.2), None]);
        let (b, total) = board.top(1, |p| p.target == "B");
        assert_eq!(total, 2);
        assert_eq!(b.predictions, [prediction("B", Some(0.5))]);
        let json = serde_json::to_value(&b.predictions[0]).unwrap();
        assert_eq!(json["entity"], serde_json::json!({"instance": "a"}));
    }
}
