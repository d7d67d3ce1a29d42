//! One entity's prediction gauges for one target: `harbinger_prediction_probability`,
//! `harbinger_prediction_eta_seconds` and `harbinger_anomaly_score`.
//!
//! In: each step's scores. Out: the gauges set, a gauge with a non-finite value
//! removed. Each gauge is looked up in its family (by the label vector `target` plus
//! the entity's labels, built for the purpose) only when it appears or goes; in between
//! the entity keeps its handle and a step sets it without building labels or hashing.
//! A series is removed only when no other entity with the same labels holds it
//! (`SharedGauges`: two Kafka partitions may follow two tenants' `db1`).

use crate::model::Scored;
use crate::promql::Labels;
use crate::telemetry::{EntityLabels, FloatGauge, Metrics, SharedGauges};

/// The handles of the gauges the entity has now (None: not exported).
#[derive(Debug, Default)]
pub struct EntityGauges {
    probability: Option<FloatGauge>,
    eta_seconds: Option<FloatGauge>,
    anomaly_score: Option<FloatGauge>,
}

impl EntityGauges {
    /// Sets each gauge to its score, or lets it go when the score is not finite.
    pub fn set(&mut self, metrics: &Metrics, alert: &str, entity: &Labels, scored: &Scored) {
        let mut labels = None;
        for (handle, gauges, value) in self.with_families(metrics, Some(scored)) {
            match (handle.as_ref(), value.is_finite()) {
                (Some(gauge), true) => {
                    gauge.set(value);
                }
                (None, true) => {
                    let labels = labels.get_or_insert_with(|| gauge_labels(alert, entity));
                    let gauge = gauges.hold(labels);
                    gauge.set(value);
                    *handle = Some(gauge);
                }
                (Some(_), false) => {
                    gauges.release(labels.get_or_insert_with(|| gauge_labels(alert, entity)));
                    *handle = None;
                }
                (None, false) => {}
            }
        }
    }

    /// Lets every gauge of the entity go.
    pub fn remove(&mut self, metrics: &Metrics, alert: &str, entity: &Labels) {
        let labels = gauge_labels(alert, entity);
        for (handle, gauges, _) in self.with_families(metrics, None) {
            if handle.take().is_some() {
                gauges.release(&labels);
            }
        }
    }

    /// Each handle with its family and, given scores, its value (NaN without).
    fn with_families<'a>(
        &'a mut self,
        metrics: &'a Metrics,
        scored: Option<&Scored>,
    ) -> [(&'a mut Option<FloatGauge>, &'a SharedGauges, f64); 3] {
        let value = |read: fn(&Scored) -> f64| scored.map_or(f64::NAN, read);
        [
            (
                &mut self.probability,
                &metrics.prediction_probability,
                value(|s| s.observation.probability),
            ),
            (
                &mut self.eta_seconds,
                &metrics.prediction_eta_seconds,
                value(|s| s.observation.eta_seconds),
            ),
            (
                &mut self.anomaly_score,
                &metrics.anomaly_score,
                value(|s| s.anomaly_score),
            ),
        ]
    }
}

fn gauge_labels(alert: &str, entity: &Labels) -> EntityLabels {
    let mut labels = vec![("target".to_owned(), alert.to_owned())];
    labels.extend(entity.iter().map(|(n, v)| (n.to_owned(), v.to_owned())));
    labels
}

#[cfg(test)]
mod tests {
    use prometheus_client::registry::Registry;

    use super::*;
    use crate::model::{AlertState, Observation};

    fn scored(probability: f64) -> Scored {
        Scored {
            observation: Observation {
                probability,
                eta_seconds: f64::NAN,
                eta_stderr_seconds: f64::NAN,
                alert: AlertState::Inactive,
            },
            level: 50.0,
            trend_per_second: 0.0,
            anomaly_score: f64::NAN,
        }
    }

    /// The exported `harbinger_prediction_probability` lines.
    fn exported(registry: &Registry) -> Vec<String> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
        let lines = text
            .lines()
            .filter(|l| l.starts_with("harbinger_prediction_probability{"));
        lines.map(str::to_owned).collect()
    }

    #[test]
    fn a_series_two_entities_hold_is_exported_until_both_let_it_go() {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        let db1 = Labels::new([("instance", "db1")]);
        // Two partitions' entities with the same labels.
        let (mut first, mut second) = (EntityGauges::default(), EntityGauges::default());
        first.set(&metrics, "Disk", &db1, &scored(0.2));
        second.set(&metrics, "Disk", &db1, &scored(0.3));
        first.remove(&metrics, "Disk", &db1);
        second.set(&metrics, "Disk", &db1, &scored(0.4));
        let line = r#"harbinger_prediction_probability{target="Disk",instance="db1"} 0.4"#;
        assert_eq!(exported(&registry), [line]);

        first.set(&metrics, "Disk", &db1, &scored(0.5));
        first.set(&metrics, "Disk", &db1, &scored(f64::NAN));
        second.set(&metrics, "Disk", &db1, &scored(0.6));
        assert_eq!(exported(&registry), [line.replace("0.4", "0.6")]);
        second.set(&metrics, "Disk", &db1, &scored(f64::NAN));
        assert!(exported(&registry).is_empty(), "{:?}", exported(&registry));
    }
}
