//! The catalogue of harbinger's own metrics: every name, type and help text in one place.
//!
//! Names follow Prometheus conventions (`harbinger_<noun>_<unit>`, counters exposed with
//! `_total`); label values are bounded (a status code, a reason kind), never raw error
//! text or a series' labels, except the prediction gauges, which carry the entity's
//! labels by design (one series per target and entity, removed when the entity goes).
//! Hot paths update them once per request, not per sample.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::kafka::KafkaMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

/// A ticket action's fate at one sink: `outcome` is `delivered` or `dead_lettered`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TicketLabels {
    pub sink: String,
    pub action: &'static str,
    pub outcome: &'static str,
}

/// One delivery attempt: `result` is `delivered`, `retry` or `rejected`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    pub sink: String,
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabels {
    pub sink: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Why an accepted request still dropped some samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Older than the series' last sample.
    OutOfOrder,
    /// Same timestamp as the series' last sample (a retried or overlapping batch).
    Duplicate,
    /// More than `registry::MAX_AHEAD_MS` past the server's clock.
    TooFarAhead,
    /// A new series while the active-series cap was reached.
    SeriesLimit,
    /// In a series refused while the rest of its request was written (invalid labels,
    /// histogram, 2.0 refs, or no metric name).
    InvalidSeries,
}

impl DropReason {
    fn label(self) -> ReasonLabels {
        let reason = match self {
            DropReason::OutOfOrder => "out_of_order",
            DropReason::Duplicate => "duplicate",
            DropReason::TooFarAhead => "too_far_ahead",
            DropReason::SeriesLimit => "series_limit",
            DropReason::InvalidSeries => "invalid_series",
        };
        ReasonLabels { reason }
    }
}

/// Every metric harbinger exports. Cheap to clone: each metric is an `Arc` inside.
#[derive(Clone)]
pub struct Metrics {
    pub requests: Family<CodeLabels, Counter>,
    pub requests_rejected: Family<ReasonLabels, Counter>,
    pub samples_received: Counter,
    samples_dropped: Family<ReasonLabels, Counter>,
    pub histograms_received: Counter,
    pub exemplars_received: Counter,
    pub series_received: Counter,
    pub metadata_received: Counter,
    pub decode_seconds: Histogram,
    pub request_seconds: Histogram,
    pub active_series: Gauge,
    pub series_limit: Gauge,
    pub series_limit_reached: Gauge,
    pub series_created: Counter,
    pub series_evicted: Counter,
    pub queue_depth: Gauge,
    pub queue_capacity: Gauge,
    pub pipeline_samples: Counter,
    pub pipeline_steps: Counter,
    pub pipeline_step_seconds: Histogram,
    pub pipeline_evaluation_errors: Counter,
    pub pipeline_feature_states: Gauge,
    pub pipeline_feature_bytes: Gauge,
    pub tickets: Family<TicketLabels, Counter>,
    pub ticket_delivery_attempts: Family<AttemptLabels, Counter>,
    pub outbox_pending: Family<SinkLabels, Gauge>,
    pub outbox_dead_letters: Family<SinkLabels, Gauge>,
    pub prediction_probability: SharedGauges,
    pub prediction_eta_seconds: SharedGauges,
    pub anomaly_score: SharedGauges,
    pub ticket_actions: Family<ActionLabels, Counter>,
    pub model_reloads: Family<ReloadLabels, Counter>,
    pub ticket_action_delay_seconds: Histogram,
    pub kafka: KafkaMetrics,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    pub result: &'static str,
}

/// `target` and the entity's labels, as the prediction gauges carry them.
pub type EntityLabels = Vec<(String, String)>;

/// A family of per-entity gauges whose series several entities may hold: in a Kafka
/// worker two partitions may each follow an entity with the same labels (two tenants'
/// `db1`). Both then set one series, and it goes when the last of them lets it go, not
/// when the first does (the other's handle would set a series no longer exported). The
/// count and the series change together, under one lock. Clones share both, as clones
/// of a `Family` share its series.
#[derive(Debug, Default, Clone)]
pub struct SharedGauges {
    family: Family<EntityLabels, FloatGauge>,
    holders: Arc<parking_lot::Mutex<HashMap<EntityLabels, usize>>>,
}

pub type FloatGauge = Gauge<f64, AtomicU64>;

impl SharedGauges {
    /// The series of `labels`, created if nobody holds it; one more holder.
    pub fn hold(&self, labels: &EntityLabels) -> FloatGauge {
        let mut holders = self.holders.lock();
        *holders.entry(labels.clone()).or_default() += 1;
        self.family.get_or_create(labels).clone()
    }

    /// One holder fewer; the series is removed when none is left.
    pub fn release(&self, labels: &EntityLabels) {
        let mut holders = self.holders.lock();
        match holders.get_mut(labels) {
            Some(count) if *count > 1 => *count -= 1,
            _ => {
                holders.remove(labels);
                self.family.remove(labels);
            }
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub target: String,
    pub action: &'static str,
}

impl Metrics {
    /// Creates the metrics and registers them, prefixed `harbinger_`, in `registry`.
    pub fn register(registry: &mut Registry) -> Metrics {
        let metrics = Metrics {
            requests: Family::default(),
            requests_rejected: Family::default(),
            samples_received: Counter::default(),
            samples_dropped: Family::default(),
            histograms_received: Counter::default(),
            exemplars_received: Counter::default(),
            series_received: Counter::default(),
            metadata_received: Counter::default(),
            // 10 µs to ~5 s.
            decode_seconds: Histogram::new(exponential_buckets(1e-5, 2.5, 15)),
            request_seconds: Histogram::new(exponential_buckets(1e-4, 2.5, 13)),
            active_series: Gauge::default(),
            series_limit: Gauge::default(),
            series_limit_reached: Gauge::default(),
            series_created: Counter::default(),
            series_evicted: Counter::default(),
            queue_depth: Gauge::default(),
            queue_capacity: Gauge::default(),
            pipeline_samples: Counter::default(),
            pipeline_steps: Counter::default(),
            // 10 µs to ~1.5 s.
            pipeline_step_seconds: Histogram::new(exponential_buckets(1e-5, 2.5, 14)),
            pipeline_evaluation_errors: Counter::default(),
            pipeline_feature_states: Gauge::default(),
            pipeline_feature_bytes: Gauge::default(),
            prediction_probability: SharedGauges::default(),
            prediction_eta_seconds: SharedGauges::default(),
            anomaly_score: SharedGauges::default(),
            ticket_actions: Family::default(),
            model_reloads: Family::default(),
            // 100 µs to ~10 s.
            ticket_action_delay_seconds: Histogram::new(exponential_buckets(1e-4, 2.0, 17)),
            tickets: Family::default(),
            ticket_delivery_attempts: Family::default(),
            outbox_pending: Family::default(),
            outbox_dead_letters: Family::default(),
            kafka: KafkaMetrics::register(registry.sub_registry_with_prefix("harbinger")),
        };
        let r = registry.sub_registry_with_prefix("harbinger");
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        r.register("build_info", "harbinger's version; always 1", build_info);
        r.register(
            "requests",
            "Remote-write requests answered, by HTTP status code",
            metrics.requests.clone(),
        );
        r.register(
            "requests_rejected",
            "Remote-write requests refused, by reason kind",
            metrics.requests_rejected.clone(),
        );
        r.register(
            "samples_received",
            "Float samples received in accepted remote-write requests",
            metrics.samples_received.clone(),
        );
        r.register(
            "samples_dropped",
            "Float samples of accepted requests that were not kept, by reason",
            metrics.samples_dropped.clone(),
        );
        r.register(
            "histograms_received",
            "Native histogram samples received (counted, not scored)",
            metrics.histograms_received.clone(),
        );
        r.register(
            "exemplars_received",
            "Exemplars received (counted, not scored)",
            metrics.exemplars_received.clone(),
        );
        r.register(
            "series_received",
            "Series entries received in accepted requests",
            metrics.series_received.clone(),
        );
        r.register(
            "metadata_received",
            "Metric metadata entries received in accepted requests",
            metrics.metadata_received.clone(),
        );
        r.register(
            "request_decode_seconds",
            "Time to decompress, decode and validate one remote-write body",
            metrics.decode_seconds.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Time to answer one remote-write request, body read included",
            metrics.request_seconds.clone(),
        );
        r.register(
            "active_series",
            "Series currently held in the registry",
            metrics.active_series.clone(),
        );
        r.register(
            "active_series_limit",
            "Configured cap on active series (ingest.max_active_series)",
            metrics.series_limit.clone(),
        );
        r.register(
            "active_series_limit_reached",
            "1 while the active-series cap is reached and new series are dropped",
            metrics.series_limit_reached.clone(),
        );
        r.register(
            "series_created",
            "Series added to the registry",
            metrics.series_created.clone(),
        );
        r.register(
            "series_evicted",
            "Series removed after a stale marker or ingest.series_idle_timeout",
            metrics.series_evicted.clone(),
        );
        r.register(
            "queue_depth",
            "Batches waiting in the queue to the pipeline",
            metrics.queue_depth.clone(),
        );
        r.register(
            "queue_capacity",
            "Capacity of the queue to the pipeline, in batches",
            metrics.queue_capacity.clone(),
        );
        r.register(
            "pipeline_samples_processed",
            "Samples the pipeline has taken off the queue",
            metrics.pipeline_samples.clone(),
        );
        r.register(
            "pipeline_steps",
            "Steps at which the pipeline's signals were evaluated on live samples",
            metrics.pipeline_steps.clone(),
        );
        r.register(
            "pipeline_step_duration_seconds",
            "Time to evaluate every signal and update every entity's features at one step",
            metrics.pipeline_step_seconds.clone(),
        );
        r.register(
            "pipeline_evaluation_errors",
            "Steps whose evaluation failed (e.g. a signal gave two series one label set)",
            metrics.pipeline_evaluation_errors.clone(),
        );
        r.register(
            "pipeline_feature_states",
            "Signal and entity pairs whose features are kept",
            metrics.pipeline_feature_states.clone(),
        );
        r.register(
            "pipeline_feature_bytes",
            "Memory held by the features of all signal and entity pairs",
            metrics.pipeline_feature_bytes.clone(),
        );
        r.register(
            "prediction_probability",
            "Calibrated probability that the target's rule fires for the entity within the model's horizon",
            metrics.prediction_probability.family.clone(),
        );
        r.register(
            "prediction_eta_seconds",
            "Seconds until the entity's signal crosses the target's threshold on its trend",
            metrics.prediction_eta_seconds.family.clone(),
        );
        r.register(
            "anomaly_score",
            "How unusual the target signal's value is against its own history: 1 is a 0.8 % tail, above 1 anomalous",
            metrics.anomaly_score.family.clone(),
        );
        r.register(
            "ticket_actions",
            "Ticket actions decided (open, update, confirm, resolve), by target",
            metrics.ticket_actions.clone(),
        );
        r.register(
            "model_reloads",
            "Model reloads on SIGHUP or file change, by result (success, failure)",
            metrics.model_reloads.clone(),
        );
        r.register(
            "ticket_action_delay_seconds",
            "From the processing of the samples that completed a step to its ticket action being stored durably",
            metrics.ticket_action_delay_seconds.clone(),
        );
        r.register(
            "tickets",
            "Ticket actions settled at a sink, by action and outcome (delivered, dead_lettered)",
            metrics.tickets.clone(),
        );
        r.register(
            "ticket_delivery_attempts",
            "Attempts to deliver a ticket action, by sink and result (delivered, retry, rejected)",
            metrics.ticket_delivery_attempts.clone(),
        );
        r.register(
            "outbox_pending",
            "Ticket actions stored and not yet delivered to the sink",
            metrics.outbox_pending.clone(),
        );
        r.register(
            "outbox_dead_letters",
            "Ticket actions the sink refused for good, kept in the outbox's dead-letter list",
            metrics.outbox_dead_letters.clone(),
        );
        metrics
    }

    pub fn dropped(&self, reason: DropReason, count: u64) {
        if count > 0 {
            self.samples_dropped
                .get_or_create(&reason.label())
                .inc_by(count);
        }
    }

    pub fn rejected(&self, reason: &'static str) {
        self.requests_rejected
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }
}
