//! The worker's consumer context: librdkafka's logs and statistics, and the rebalance
//! callback, which decides where each assigned partition starts reading and what is
//! committed for a revoked one.
//!
//! In: assignments and revocations from the group, on the consumer's thread. Out:
//! [`Change`]s for the worker to apply, in order, and the offsets committed for revoked
//! partitions (once the ticket actions already sent are stored); the partitions' lag
//! gauges.

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{info, warn};

use super::client::{global_error, log};
use super::durable::Ledger;
use crate::server::now_ms;
use crate::telemetry::{Metrics, PartitionLabels};

/// Broker requests made while a rebalance waits (committed offsets, timestamp lookups).
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a revocation waits for the recorder to store the actions already sent.
const REVOKE_WAIT: Duration = Duration::from_secs(5);

/// A change of assignment, as the rebalance callback saw it.
#[derive(Debug)]
pub(super) enum Change {
    Assigned {
        partition: i32,
        /// The first offset whose ticket actions are this worker's to take.
        live_from: i64,
        /// Records older than this (ms) are outside the warm-up window.
        since_ms: i64,
        /// Where reading starts.
        start: i64,
        /// The partition comes back to this worker where it left it (a rebalance that
        /// moved others): its kept state goes on, nothing is re-read.
        resume: bool,
    },
    Revoked {
        partition: i32,
    },
    /// An assignment was applied: parked partitions that did not come back are gone.
    Settled,
}

/// The consumer's context: logging, statistics, and the rebalance callback.
pub(super) struct Rebalancer {
    pub(super) topic: String,
    pub(super) warm_up: Duration,
    pub(super) metrics: Metrics,
    pub(super) changes: Mutex<Vec<Change>>,
    /// Per partition, the offset after the last processed record: what is committed.
    pub(super) processed: Mutex<BTreeMap<i32, i64>>,
    /// Partitions revoked from this worker, with the offset committed for them, whose
    /// state is kept until the next assignment says whether they come back.
    pub(super) parked: Mutex<BTreeMap<i32, i64>>,
    /// Assigned partitions whose state is complete though no record was processed since
    /// (nothing to re-read): the offset their state stands at.
    pub(super) complete_at: Mutex<BTreeMap<i32, i64>>,
    /// The ticket actions sent and stored: a revoked partition's offsets wait for them.
    pub(super) ledger: Ledger,
}

impl ClientContext for Rebalancer {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        global_error(error, reason);
    }

    /// Consumer lag per assigned partition, from librdkafka's statistics.
    fn stats(&self, statistics: Statistics) {
        let lag = &self.metrics.kafka.consumer_lag;
        if let Some(topic) = statistics.topics.get(&self.topic) {
            for (partition, stats) in &topic.partitions {
                // Only the series of owned partitions: a revoked one's was removed.
                if stats.fetch_state == "active"
                    && stats.consumer_lag >= 0
                    && let Some(gauge) = lag.get(&partition_labels(*partition))
                {
                    gauge.set(stats.consumer_lag);
                }
            }
        }
    }
}

pub(super) fn partition_labels(partition: i32) -> PartitionLabels {
    PartitionLabels {
        partition: partition.to_string(),
    }
}

impl ConsumerContext for Rebalancer {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.metrics.kafka.rebalance("assign");
                self.start_offsets(consumer, tpl);
                self.changes.lock().push(Change::Settled);
                match cooperative {
                    true => consumer.incremental_assign(tpl),
                    false => consumer.assign(tpl),
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.metrics.kafka.rebalance("revoke");
                self.give_up(consumer, tpl);
                match cooperative {
                    true => consumer.incremental_unassign(tpl),
                    false => consumer.unassign(),
                }
            }
            other => {
                warn!(error = ?other, "Kafka rebalance failed; leaving the assignment as it is");
                self.metrics.kafka.rebalance("error");
                Ok(())
            }
        };
        if let Err(error) = result {
            warn!(%error, "applying a Kafka rebalance failed");
        }
    }
}

impl Rebalancer {
    /// Sets where each newly assigned partition starts: `warm_up` before now, or the
    /// committed offset when the warm-up window starts later than it.
    fn start_offsets(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let since_ms = now_ms() - self.warm_up.as_millis() as i64;
        let partitions: Vec<i32> = tpl
            .elements_for_topic(&self.topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        let parked = std::mem::take(&mut *self.parked.lock());
        if partitions.is_empty() {
            return;
        }
        // Each lookup may fail (a broker restarting, the coordinator moving). Whatever
        // is unknown, the choice errs towards scoring records twice (their actions carry
        // the same idempotency keys) rather than never.
        let committed = consumer
            .committed_offsets(tpl.clone(), BROKER_TIMEOUT)
            .map_err(|error| warn!(%error, "reading the group's committed offsets failed"))
            .ok();
        let mut times = TopicPartitionList::new();
        for &partition in &partitions {
            let _ = times.add_partition_offset(&self.topic, partition, Offset::Offset(since_ms));
        }
        let found = consumer
            .offsets_for_times(times, BROKER_TIMEOUT)
            .map_err(|error| warn!(%error, "looking up the warm-up window's offsets failed"))
            .ok();
        let element_of = |list: &Option<TopicPartitionList>, partition: i32| {
            let element = list.as_ref()?.find_partition(&self.topic, partition)?;
            element.error().is_ok().then(|| element.offset())
        };
        let mut changes = self.changes.lock();
        let mut complete_at = self.complete_at.lock();
        for partition in partitions {
            let watermarks = consumer
                .fetch_watermarks(&self.topic, partition, BROKER_TIMEOUT)
                .map_err(|error| warn!(partition, %error, "reading the partition's offsets failed"))
                .ok();
            let low = watermarks.map_or(0, |(low, _)| low);
            let window_start = match element_of(&found, partition) {
                Some(Offset::Offset(offset)) => Some(offset),
                _ => None,
            };
            let live_from = match element_of(&committed, partition) {
                Some(Offset::Offset(offset)) => offset,
                // Nothing committed yet: the group is new, and what is already in the
                // partition only builds state.
                Some(_) => match watermarks {
                    Some((_, high)) => high,
                    None => window_start.unwrap_or(low),
                },
                // Unknown: score from the window's start.
                None => window_start.unwrap_or(low),
            };
            let resume = parked.get(&partition) == Some(&live_from);
            let start = match resume {
                true => live_from,
                false => window_start.unwrap_or(live_from).min(live_from).max(low),
            };
            if start >= live_from {
                complete_at.insert(partition, live_from);
            }
            let _ = tpl.set_partition_offset(&self.topic, partition, Offset::Offset(start));
            match resume {
                true => info!(
                    partition,
                    start, "Kafka partition assigned back; its state goes on"
                ),
                false => info!(
                    partition,
                    start,
                    live_from,
                    warm_up_records = live_from - start,
                    "Kafka partition assigned; rebuilding its entities' state"
                ),
            }
            changes.push(Change::Assigned {
                partition,
                live_from,
                since_ms,
                start,
                resume,
            });
        }
    }

    /// Commits what was processed of the revoked partitions once the actions it decided
    /// are stored, and parks their state until the next assignment.
    fn give_up(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let mut processed = self.processed.lock();
        let mut parked = self.parked.lock();
        let mut complete_at = self.complete_at.lock();
        let mut commit = TopicPartitionList::new();
        let mut changes = self.changes.lock();
        for element in tpl.elements_for_topic(&self.topic) {
            let partition = element.partition();
            let complete = complete_at.remove(&partition);
            if let Some(next) = processed.remove(&partition) {
                let _ = commit.add_partition_offset(&self.topic, partition, Offset::Offset(next));
                parked.insert(partition, next);
            } else if let Some(at) = complete {
                parked.insert(partition, at);
            }
            self.metrics
                .kafka
                .consumer_lag
                .remove(&partition_labels(partition));
            info!(partition, "Kafka partition revoked");
            changes.push(Change::Revoked { partition });
        }
        if commit.count() > 0 && !self.ledger.wait_stored(REVOKE_WAIT) {
            parked.clear();
            warn!(
                "ticket actions are not stored yet; the revoked partitions' offsets are not committed, and their new owner decides those actions again"
            );
        } else if commit.count() > 0
            && let Err(error) = consumer.commit(&commit, CommitMode::Sync)
        {
            parked.clear();
            warn!(%error, "committing the revoked partitions' offsets failed; their new owner re-reads from the last commit");
        }
    }
}
