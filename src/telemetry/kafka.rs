//! The Kafka metrics, `harbinger_kafka_*`: what receivers produce and workers consume.
//! Registered in every role; a role updates only its own.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::metrics::ReasonLabels;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    pub partition: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Clone)]
pub struct KafkaMetrics {
    pub produce_seconds: Histogram,
    produce_errors: Family<ReasonLabels, Counter>,
    pub records_produced: Counter,
    pub bytes_produced: Counter,
    pub topic_partitions: Gauge,
    pub records_consumed: Counter,
    pub bytes_consumed: Counter,
    records_invalid: Family<ReasonLabels, Counter>,
    consume_errors: Counter,
    pub consumer_lag: Family<PartitionLabels, Gauge>,
    rebalances: Family<KindLabels, Counter>,
    pub assigned_partitions: Gauge,
    pub warm_up_seconds: Histogram,
    pub warm_up_actions_skipped: Counter,
    pub record_delay_seconds: Histogram,
}

impl KafkaMetrics {
    /// Creates the metrics and registers them, prefixed `kafka_`, in `registry`.
    pub fn register(registry: &mut Registry) -> KafkaMetrics {
        let metrics = KafkaMetrics {
            // 100 µs to ~10 s.
            produce_seconds: Histogram::new(exponential_buckets(1e-4, 2.0, 17)),
            produce_errors: Family::default(),
            records_produced: Counter::default(),
            bytes_produced: Counter::default(),
            topic_partitions: Gauge::default(),
            records_consumed: Counter::default(),
            bytes_consumed: Counter::default(),
            records_invalid: Family::default(),
            consume_errors: Counter::default(),
            consumer_lag: Family::default(),
            rebalances: Family::default(),
            assigned_partitions: Gauge::default(),
            // 10 ms to ~20 min.
            warm_up_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 18)),
            warm_up_actions_skipped: Counter::default(),
            // 1 ms to ~65 s.
            record_delay_seconds: Histogram::new(exponential_buckets(1e-3, 2.0, 17)),
        };
        let r = registry.sub_registry_with_prefix("kafka");
        r.register(
            "produce_duration_seconds",
            "Receiver: from producing a request's records to the broker acknowledging all of them (acks=all)",
            metrics.produce_seconds.clone(),
        );
        r.register(
            "produce_errors",
            "Receiver: requests answered 503 because their records could not be published, by reason",
            metrics.produce_errors.clone(),
        );
        r.register(
            "records_produced",
            "Receiver: records acknowledged by the broker",
            metrics.records_produced.clone(),
        );
        r.register(
            "produced_bytes",
            "Receiver: payload bytes of the records acknowledged by the broker",
            metrics.bytes_produced.clone(),
        );
        r.register(
            "topic_partitions",
            "Receiver: partitions of the topic, as the broker last described it",
            metrics.topic_partitions.clone(),
        );
        r.register(
            "records_consumed",
            "Worker: records read from the topic, warm-up included",
            metrics.records_consumed.clone(),
        );
        r.register(
            "consumed_bytes",
            "Worker: payload bytes of the records read from the topic",
            metrics.bytes_consumed.clone(),
        );
        r.register(
            "records_invalid",
            "Worker: records skipped because they could not be read, by reason (format, decode)",
            metrics.records_invalid.clone(),
        );
        r.register(
            "consume_errors",
            "Worker: errors reported by the consumer (it retries)",
            metrics.consume_errors.clone(),
        );
        r.register(
            "consumer_lag_records",
            "Worker: records of an assigned partition not yet processed",
            metrics.consumer_lag.clone(),
        );
        r.register(
            "rebalances",
            "Worker: consumer-group rebalances, by kind (assign, revoke, error)",
            metrics.rebalances.clone(),
        );
        r.register(
            "assigned_partitions",
            "Worker: partitions this worker owns",
            metrics.assigned_partitions.clone(),
        );
        r.register(
            "warm_up_duration_seconds",
            "Worker: from a partition's assignment to its state being rebuilt and scoring live",
            metrics.warm_up_seconds.clone(),
        );
        r.register(
            "warm_up_actions_skipped",
            "Worker: ticket actions decided while re-reading records the previous owner had processed (adopted, not taken again)",
            metrics.warm_up_actions_skipped.clone(),
        );
        r.register(
            "record_delay_seconds",
            "Worker: from a record's timestamp (its receiver producing it) to its samples being scored",
            metrics.record_delay_seconds.clone(),
        );
        metrics
    }

    pub fn produce_error(&self, reason: &'static str) {
        self.produce_errors
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn invalid_record(&self, reason: &'static str) {
        self.records_invalid
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn consume_error(&self) {
        self.consume_errors.inc();
    }

    pub fn rebalance(&self, kind: &'static str) {
        self.rebalances.get_or_create(&KindLabels { kind }).inc();
    }
}
