//! The receiver's side: each accepted request published to the topic, one record per
//! partition it touches, acknowledged by the broker before the request is.
//!
//! In: a validated `WriteBatch` and its tenant. Out: `Ok` once every record of it is
//! acknowledged by all in-sync replicas (acks=all), or a `PublishError` that the write
//! handler answers 503, so that Prometheus retries the whole request: nothing accepted
//! is lost, and what a retry sends twice the workers' registries drop as duplicates.
//! The topic's partition count is read at start and every 10 s after.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tracing::{info, warn};

use super::client::{Logged, client_config};
use super::record::{FORMAT_HEADER, FORMAT_V1, Partitioner, Record, TENANT_HEADER};
use crate::config::ValidKafka;
use crate::ingest::WriteBatch;
use crate::pipeline::Pipeline;
use crate::server::WriteError;
use crate::telemetry::Metrics;

/// How often the topic's partition count is read again.
const METADATA_EVERY: Duration = Duration::from_secs(10);

/// Why a request could not be published; every case is answered 503.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "the topic's partitions are not known yet (is the broker reachable and the topic created?)"
    )]
    NoMetadata,
    #[error("the Kafka producer's queue is full, retry later")]
    QueueFull,
    #[error("the broker did not acknowledge the samples: {0}")]
    Broker(String),
}

impl PublishError {
    /// A bounded name for the reason, used as a metric label value.
    pub fn reason(&self) -> &'static str {
        match self {
            PublishError::NoMetadata => "no_metadata",
            PublishError::QueueFull => "producer_queue_full",
            PublishError::Broker(_) => "broker",
        }
    }
}

impl From<PublishError> for WriteError {
    fn from(error: PublishError) -> WriteError {
        WriteError::Unpublished(error.reason(), error.to_string())
    }
}

pub struct Publisher {
    producer: FutureProducer<Logged>,
    topic: String,
    partitioner: Partitioner,
    /// 0 until the first metadata answer.
    partitions: AtomicU32,
    timeout: Duration,
    metrics: Metrics,
}

impl Publisher {
    /// A producer of the configured topic; it connects lazily, so that a receiver
    /// starts (and answers 503) while the broker is down.
    pub fn new(
        kafka: &ValidKafka,
        pipeline: &Pipeline,
        metrics: Metrics,
    ) -> Result<Arc<Publisher>, KafkaError> {
        let timeout = kafka.config.produce_timeout;
        let producer = client_config(kafka)
            .set("acks", "all")
            // The payload is snappy already.
            .set("compression.type", "none")
            .set("linger.ms", "2")
            .set("message.timeout.ms", timeout.as_millis().to_string())
            .create_with_context(Logged)?;
        Ok(Arc::new(Publisher {
            producer,
            topic: kafka.config.topic.clone(),
            partitioner: Partitioner::new(&pipeline.entity_labels),
            partitions: AtomicU32::new(0),
            timeout,
            metrics,
        }))
    }

    /// Reads the topic's partition count now and every 10 s, until dropped.
    pub async fn watch_partitions(self: Arc<Self>) {
        let mut ticker = tokio::time::interval(METADATA_EVERY);
        loop {
            ticker.tick().await;
            let publisher = self.clone();
            let read = tokio::task::spawn_blocking(move || publisher.read_partitions()).await;
            match read {
                Ok(Ok(count)) => {
                    let was = self.partitions.swap(count, Ordering::Relaxed);
                    self.metrics.kafka.topic_partitions.set(i64::from(count));
                    if was == 0 {
                        info!(
                            topic = self.topic,
                            partitions = count,
                            "publishing to Kafka"
                        );
                    } else if was != count {
                        warn!(
                            topic = self.topic,
                            was,
                            now = count,
                            "the topic's partition count changed: entities move to other partitions and their workers rebuild them"
                        );
                    }
                }
                Ok(Err(error)) => {
                    warn!(topic = self.topic, %error, "reading the topic's metadata failed")
                }
                Err(error) => warn!(%error, "the metadata task failed"),
            }
        }
    }

    fn read_partitions(&self) -> Result<u32, String> {
        let metadata = self
            .producer
            .client()
            .fetch_metadata(Some(&self.topic), self.timeout)
            .map_err(|e| e.to_string())?;
        let topic = metadata
            .topics()
            .iter()
            .find(|t| t.name() == self.topic)
            .ok_or("the broker did not describe the topic")?;
        if let Some(error) = topic.error() {
            return Err(format!("{:?}", RDKafkaErrorCode::from(error)));
        }
        match topic.partitions().len() {
            0 => Err("the topic has no partitions (does it exist?)".to_owned()),
            n => Ok(n as u32),
        }
    }

    /// Splits `batch` into its records: the synchronous part, done while the decoded
    /// batch is at hand.
    pub fn records(&self, batch: &WriteBatch, tenant: &[u8]) -> Result<Vec<Record>, PublishError> {
        match self.partitions.load(Ordering::Relaxed) {
            0 => Err(PublishError::NoMetadata),
            partitions => Ok(self.partitioner.split(batch, tenant, partitions)),
        }
    }

    /// Produces every record and waits for all of their acknowledgements.
    pub async fn publish(&self, records: Vec<Record>, tenant: &[u8]) -> Result<(), PublishError> {
        let started = Instant::now();
        let kafka = &self.metrics.kafka;
        let result = self.produce(&records, tenant).await;
        match &result {
            Ok(()) => {
                if !records.is_empty() {
                    // Acknowledged records, not an empty request: the broker answers.
                    super::client::recovered();
                }
                kafka
                    .produce_seconds
                    .observe(started.elapsed().as_secs_f64());
                kafka.records_produced.inc_by(records.len() as u64);
                let bytes: usize = records.iter().map(|r| r.payload.len()).sum();
                kafka.bytes_produced.inc_by(bytes as u64);
            }
            Err(error) => kafka.produce_error(error.reason()),
        }
        result
    }

    async fn produce(&self, records: &[Record], tenant: &[u8]) -> Result<(), PublishError> {
        let mut headers = OwnedHeaders::new().insert(Header {
            key: FORMAT_HEADER,
            value: Some(FORMAT_V1),
        });
        if !tenant.is_empty() {
            headers = headers.insert(Header {
                key: TENANT_HEADER,
                value: Some(tenant),
            });
        }
        let mut deliveries = Vec::with_capacity(records.len());
        for record in records {
            let produced = self.producer.send_result(
                FutureRecord::<(), _>::to(&self.topic)
                    .partition(record.partition)
                    .payload(&record.payload)
                    .headers(headers.clone()),
            );
            match produced {
                Ok(delivery) => deliveries.push(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    return Err(PublishError::QueueFull);
                }
                Err((error, _)) => return Err(PublishError::Broker(error.to_string())),
            }
        }
        // The records are all in flight; their reports are awaited in turn. librdkafka
        // fails each record after message.timeout.ms; the outer timeout only guards
        // against a delivery report that never comes.
        let acknowledged = async {
            for delivery in deliveries {
                match delivery.await {
                    Ok(Ok(_)) => {}
                    Ok(Err((error, _))) => return Err(PublishError::Broker(error.to_string())),
                    Err(_) => {
                        return Err(PublishError::Broker("the producer was dropped".to_owned()));
                    }
                }
            }
            Ok(())
        };
        tokio::time::timeout(self.timeout + Duration::from_secs(1), acknowledged)
            .await
            .map_err(|_| PublishError::Broker("no delivery report in time".to_owned()))?
    }

    /// Sends what is queued, waiting at most `timeout`.
    pub fn flush(&self, timeout: Duration) {
        if let Err(error) = self.producer.flush(timeout) {
            warn!(%error, "flushing the Kafka producer at shutdown failed");
        }
    }
}
