//! One entity's prediction gauges for one target: `harbinger_prediction_probability`,
//! `harbinger_prediction_eta_seconds` and `harbinger_anomaly_score`.
//!
//! In: each step's scores. Out: the gauges set, a gauge with a non-finite value
//! removed. Each gauge is looked up in its family (by the label vector `target` plus
//! the entity's labels, built for the purpose) only when it appears or goes; in between
//! the entity keeps its handle and a step sets it without building labels or hashing.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use crate::model::Scored;
use crate::promql::Labels;
use crate::telemetry::{EntityLabels, Metrics};

type FloatGauge = Gauge<f64, AtomicU64>;

/// The handles of the gauges the entity has now (None: not exported).
#[derive(Debug, Default)]
pub struct EntityGauges {
    probability: Option<FloatGauge>,
    eta_seconds: Option<FloatGauge>,
    anomaly_score: Option<FloatGauge>,
}

impl EntityGauges {
    /// Sets each gauge to its score, or removes it when the score is not finite.
    pub fn set(&mut self, metrics: &Metrics, alert: &str, entity: &Labels, scored: &Scored) {
        let mut labels = None;
        let gauges = [
            (
                &mut self.probability,
                &metrics.prediction_probability,
                scored.observation.probability,
            ),
            (
                &mut self.eta_seconds,
                &metrics.prediction_eta_seconds,
                scored.observation.eta_seconds,
            ),
            (
                &mut self.anomaly_score,
                &metrics.anomaly_score,
                scored.anomaly_score,
            ),
        ];
        for (handle, family, value) in gauges {
            match (handle.as_ref(), value.is_finite()) {
                (Some(gauge), true) => {
                    gauge.set(value);
                }
                (None, true) => {
                    let labels = labels.get_or_insert_with(|| gauge_labels(alert, entity));
                    let gauge = family.get_or_create(labels).clone();
                    gauge.set(value);
                    *handle = Some(gauge);
                }
                (Some(_), false) => {
                    family.remove(labels.get_or_insert_with(|| gauge_labels(alert, entity)));
                    *handle = None;
                }
                (None, false) => {}
            }
        }
    }

    /// Removes every gauge of the entity.
    pub fn remove(&mut self, metrics: &Metrics, alert: &str, entity: &Labels) {
        let labels = gauge_labels(alert, entity);
        let families: [&Family<EntityLabels, FloatGauge>; 3] = [
            &metrics.prediction_probability,
            &metrics.prediction_eta_seconds,
            &metrics.anomaly_score,
        ];
        for family in families {
            family.remove(&labels);
        }
        *self = EntityGauges::default();
    }
}

fn gauge_labels(alert: &str, entity: &Labels) -> EntityLabels {
    let mut labels = vec![("target".to_owned(), alert.to_owned())];
    labels.extend(entity.iter().map(|(n, v)| (n.to_owned(), v.to_owned())));
    labels
}
