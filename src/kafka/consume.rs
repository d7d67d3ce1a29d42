//! The worker's side: a member of the consumer group that scores the entities of the
//! partitions it is given.
//!
//! In: the topic's records (see `record`), partition assignments and revocations from
//! the group, new models. Out: ticket actions for the recorder, the prediction gauges,
//! and offsets committed only once their records are processed and the ticket actions
//! they decided are stored (at-least-once; see `durable`).
//!
//! Each assigned partition gets its own registry and live pipeline (`Partition`). Before
//! it scores, it rebuilds its entities' rolling state: the assignment starts reading
//! `warm_up` before now (a timestamp lookup; a broker may answer with an earlier offset,
//! and records older than the window are skipped), and records before the group's
//! committed offset only rebuild state: their ticket actions were the previous owner's
//! to take, and are adopted (the sinks that keep open tickets alive carry them on; see
//! `OutboxHandle::adopt`). A partition given up while the worker runs on has its open
//! tickets disowned. What a crash makes two owners decide twice carries the same idempotency key
//! (a ticket is numbered by its opening step), which sinks deduplicate. A revoked
//! partition's offsets are committed and its state kept until the next assignment: if
//! the partition comes back where it left (the group uses the eager protocol, so every
//! rebalance revokes everything), it goes on without re-reading; if not, its state and
//! gauges are dropped.
//!
//! The consumer runs on a thread of its own: librdkafka calls the rebalance callback
//! (`rebalance`) from `poll`, on that thread, so assignment changes and records are seen
//! in order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::client::{client_config, recovered};
use super::durable::{Gate, Ledger};
use super::rebalance::{Change, Rebalancer, partition_labels};
use super::record::{FORMAT_HEADER, FORMAT_V1};
use crate::config::ValidKafka;
use crate::ingest::{Decoder, Protocol, WriteBatch};
use crate::model::Model;
use crate::pipeline::{LiveSignals, Pipeline, feed, labels_of};
use crate::predictions::LivePredictions;
use crate::registry::Registry;
use crate::server::now_ms;
use crate::telemetry::throttle::{LOGS, Say};
use crate::telemetry::{DropReason, Metrics};
use crate::tickets::TicketMessage;

/// How often offsets are committed, idle series evicted and gauges refreshed.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(1);
/// How long a stopping worker waits for the recorder to store the actions it sent.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// What a worker scores with, and where its decisions go.
pub struct Scoring {
    pub pipeline: Pipeline,
    /// Checked against the pipeline (by the configuration, and by the model watcher for
    /// reloads); None: tickets on the first-passage probability alone.
    pub model: Option<Model>,
    pub prometheus_url: Option<reqwest::Url>,
    pub decoder: Decoder,
    /// Active-series cap of each partition's registry.
    pub max_active_series: usize,
    pub series_idle_timeout: Duration,
    pub metrics: Metrics,
    pub tickets: mpsc::UnboundedSender<TicketMessage>,
    /// How many of the actions sent on `tickets` the recorder has stored.
    pub stored_actions: Arc<AtomicU64>,
    pub models: mpsc::UnboundedReceiver<Model>,
}

/// One assigned partition's entities.
struct Partition {
    registry: Registry,
    live: LiveSignals,
    live_from: i64,
    since_ms: i64,
    assigned: Instant,
    warm: bool,
}

/// The consumer thread's state.
struct Worker {
    scoring: Scoring,
    partitions: HashMap<i32, Partition>,
    /// Revoked partitions' state, until the next assignment.
    parked: HashMap<i32, Partition>,
    batch: WriteBatch,
    accepted: Vec<crate::registry::AcceptedSample>,
    committed: BTreeMap<i32, i64>,
    gate: Gate,
}

/// Joins the group and consumes on a thread of its own until `stop` is set; then
/// commits what it processed and leaves the group.
pub fn spawn(
    kafka: &ValidKafka,
    scoring: Scoring,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    let config = &kafka.config;
    let warm_up = config.warm_up.unwrap_or_else(|| scoring.pipeline.warm_up());
    let context = Rebalancer {
        topic: config.topic.clone(),
        warm_up,
        metrics: scoring.metrics.clone(),
        changes: Mutex::default(),
        processed: Mutex::default(),
        parked: Mutex::default(),
        complete_at: Mutex::default(),
        ledger: Ledger::new(Arc::clone(&scoring.stored_actions)),
    };
    let consumer: BaseConsumer<Rebalancer> = client_config(kafka)
        .set("group.id", &config.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("statistics.interval.ms", "5000")
        // librdkafka waits up to 500 ms for a fetch to fill by default; scoring wants
        // records as they come.
        .set("fetch.wait.max.ms", "50")
        .create_with_context(context)
        .map_err(std::io::Error::other)?;
    consumer
        .subscribe(&[&config.topic])
        .map_err(std::io::Error::other)?;
    info!(
        topic = config.topic,
        group = config.group,
        warm_up = %crate::config::duration::format(warm_up),
        "joining the Kafka consumer group"
    );
    let worker = Worker {
        scoring,
        partitions: HashMap::new(),
        parked: HashMap::new(),
        batch: WriteBatch::default(),
        accepted: Vec::new(),
        committed: BTreeMap::new(),
        gate: Gate::default(),
    };
    std::thread::Builder::new()
        .name("kafka-worker".to_owned())
        .spawn(move || worker.run(&consumer, &stop))
}

impl Worker {
    fn run(mut self, consumer: &BaseConsumer<Rebalancer>, stop: &AtomicBool) {
        let context = consumer.context();
        let mut housekeeping = Instant::now();
        // Whether a record arrived since the last housekeeping: Kafka answers. Checked
        // there, once a second, not for every record.
        let mut consumed = false;
        while !stop.load(Ordering::Relaxed) {
            let message = consumer.poll(Duration::from_millis(100));
            self.apply_changes(context);
            match message {
                Some(Ok(message)) => {
                    consumed = true;
                    self.process(context, &message);
                }
                Some(Err(error)) => {
                    self.scoring.metrics.kafka.consume_error();
                    match LOGS.occurred("kafka:consume", Instant::now()) {
                        Say::First => warn!(%error, "consuming from Kafka failed; retrying"),
                        Say::Summary { held, .. } => {
                            warn!(%error, held, "consuming from Kafka still fails; retrying")
                        }
                        Say::Nothing => {}
                    }
                }
                None => {}
            }
            while let Ok(model) = self.scoring.models.try_recv() {
                self.reload(model);
            }
            if housekeeping.elapsed() >= HOUSEKEEPING_EVERY {
                housekeeping = Instant::now();
                if std::mem::take(&mut consumed) {
                    recovered();
                }
                self.housekeeping(consumer, CommitMode::Async);
            }
        }
        if !context.ledger.wait_stored(STOP_WAIT) {
            warn!(
                "ticket actions are not stored yet; the records that decided them are not committed and will be decided again"
            );
        }
        self.housekeeping(consumer, CommitMode::Sync);
        consumer.unsubscribe();
        // Not handed over: restarted, this worker may get its partitions back, and its
        // sinks carry its open tickets on meanwhile.
        for (_, partition) in self.partitions.drain().chain(self.parked.drain()) {
            partition.live.release();
        }
        info!("Kafka worker stopped; offsets committed");
    }

    fn apply_changes(&mut self, context: &Rebalancer) {
        let changes = std::mem::take(&mut *context.changes.lock());
        for change in changes {
            match change {
                Change::Assigned {
                    partition,
                    live_from,
                    since_ms,
                    start,
                    resume,
                } => {
                    // Known once statistics come; present from now on for every owned
                    // partition, so that the family says which they are.
                    let lag = &self.scoring.metrics.kafka.consumer_lag;
                    drop(lag.get_or_create(&partition_labels(partition)));
                    let kept = match (self.parked.remove(&partition), resume) {
                        (Some(state), true) => Some(state),
                        (Some(state), false) => {
                            self.hand_over(state);
                            None
                        }
                        (None, _) => None,
                    };
                    let state = kept.unwrap_or_else(|| {
                        self.new_partition(live_from, since_ms, start >= live_from)
                    });
                    if let Some(old) = self.partitions.insert(partition, state) {
                        self.hand_over(old);
                    }
                    self.committed.remove(&partition);
                    self.gate.forget(partition);
                }
                Change::Revoked { partition } => {
                    if let Some(state) = self.partitions.remove(&partition) {
                        self.parked.insert(partition, state);
                    }
                    self.committed.remove(&partition);
                    self.gate.forget(partition);
                }
                Change::Settled => {
                    // Whatever did not come back belongs to another worker now.
                    for (_, state) in std::mem::take(&mut self.parked) {
                        self.hand_over(state);
                    }
                }
            }
        }
        let kafka = &self.scoring.metrics.kafka;
        kafka.assigned_partitions.set(self.partitions.len() as i64);
    }

    /// Gives up a partition another worker scores from now on: its open tickets are
    /// the new owner's to carry on, not this worker's sinks' to keep alive.
    fn hand_over(&self, state: Partition) {
        let open = state.live.release();
        if !open.is_empty() {
            let _ = self.scoring.tickets.send(TicketMessage::Disowned(open));
        }
    }

    /// A partition's fresh state; `warm` when there is nothing to re-read.
    fn new_partition(&self, live_from: i64, since_ms: i64, warm: bool) -> Partition {
        let scoring = &self.scoring;
        let pipeline = &scoring.pipeline;
        let predictions = (!pipeline.targets.is_empty()).then(|| {
            LivePredictions::new(
                pipeline,
                scoring.model.as_ref(),
                scoring.prometheus_url.clone(),
                scoring.metrics.clone(),
            )
            .expect("the configuration checked the model against the pipeline, as the watcher checks reloads")
        });
        Partition {
            registry: Registry::new(scoring.max_active_series),
            live: LiveSignals::new(pipeline.clone(), predictions),
            live_from,
            since_ms,
            assigned: Instant::now(),
            warm,
        }
    }

    fn reload(&mut self, model: Model) {
        for partition in self.partitions.values_mut().chain(self.parked.values_mut()) {
            if let Err(error) = partition.live.reload_model(&model) {
                warn!(%error, "the new model was refused; the current one keeps scoring");
                return;
            }
        }
        self.scoring.model = Some(model);
    }

    fn process(&mut self, context: &Rebalancer, message: &BorrowedMessage<'_>) {
        let started = Instant::now();
        let (index, offset) = (message.partition(), message.offset());
        let metrics = &self.scoring.metrics;
        let kafka = &metrics.kafka;
        let Some(partition) = self.partitions.get_mut(&index) else {
            return; // already revoked
        };
        let payload = message.payload().unwrap_or_default();
        kafka.records_consumed.inc();
        kafka.bytes_consumed.inc_by(payload.len() as u64);
        let timestamp_ms = message.timestamp().to_millis();
        let warming = offset < partition.live_from;
        let format = message
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == FORMAT_HEADER))
            .and_then(|h| h.value);
        if warming && timestamp_ms.is_some_and(|t| t < partition.since_ms) {
            // Before the warm-up window: the broker's timestamp lookup gave more.
        } else if format != Some(FORMAT_V1) {
            kafka.invalid_record("format");
            warn!(
                partition = index,
                offset, "skipping a record of an unknown format (harbinger-format header)"
            );
        } else if let Err(error) =
            self.scoring
                .decoder
                .decode(Protocol::V1, payload, &mut self.batch)
        {
            kafka.invalid_record("decode");
            warn!(partition = index, offset, %error, "skipping an undecodable record");
        } else {
            self.accepted.clear();
            let outcome = partition
                .registry
                .apply(&self.batch, now_ms(), &mut self.accepted);
            metrics.dropped(DropReason::OutOfOrder, outcome.out_of_order);
            metrics.dropped(DropReason::Duplicate, outcome.duplicate);
            metrics.dropped(DropReason::TooFarAhead, outcome.too_far_ahead);
            metrics.dropped(DropReason::SeriesLimit, outcome.series_limit);
            let rejected = &self.batch.rejected;
            metrics.dropped(DropReason::InvalidSeries, rejected.samples);
            if let Some((series, problem)) = &rejected.first {
                // Only when this worker's label limits are stricter than the receiver's,
                // or another producer writes to the topic.
                kafka.invalid_record("invalid_series");
                if let Say::First | Say::Summary { .. } =
                    LOGS.occurred("kafka:invalid_series", Instant::now())
                {
                    warn!(partition = index, offset, refused = rejected.series, first = %format_args!("series {series}: {problem}"), "series of a record refused; the rest applied");
                }
            }
            let Partition { registry, live, .. } = partition;
            feed(live, &self.accepted, metrics, |ids| {
                labels_of(registry, ids)
            });
            let actions = live.take_actions();
            if warming {
                // The previous owner's to take: carried on, not taken again.
                kafka.warm_up_actions_skipped.inc_by(actions.len() as u64);
                for action in actions {
                    let _ = self.scoring.tickets.send(TicketMessage::Adopted(action));
                }
            } else {
                for action in actions {
                    // Counted even when lost: its record must not be committed.
                    context.ledger.sent_one();
                    if self
                        .scoring
                        .tickets
                        .send(TicketMessage::Decided(action, started))
                        .is_err()
                    {
                        warn!("the ticket recorder has stopped; a ticket action is lost");
                    }
                }
                if let Some(t) = timestamp_ms {
                    let delay = (now_ms() - t).max(0) as f64 / 1000.0;
                    kafka.record_delay_seconds.observe(delay);
                }
            }
        }
        if !partition.warm && offset + 1 >= partition.live_from {
            partition.warm = true;
            let took = partition.assigned.elapsed();
            kafka.warm_up_seconds.observe(took.as_secs_f64());
            info!(partition = index, took = ?took, "Kafka partition warmed up; scoring");
        }
        context.processed.lock().insert(index, offset + 1);
    }

    /// Commits new offsets whose actions are stored, evicts idle series, refreshes the
    /// footprint gauges.
    fn housekeeping(&mut self, consumer: &BaseConsumer<Rebalancer>, mode: CommitMode) {
        let context = consumer.context();
        let processed = context.processed.lock().clone();
        let ready = self.gate.ready(&processed, &context.ledger);
        let processed = ready.unwrap_or_default();
        let topic = &context.topic;
        let mut commit = TopicPartitionList::new();
        for (&partition, &next) in &processed {
            if self.committed.get(&partition) != Some(&next) {
                let _ = commit.add_partition_offset(topic, partition, Offset::Offset(next));
            }
        }
        if commit.count() > 0 {
            match consumer.commit(&commit, mode) {
                Ok(()) => self.committed.extend(processed),
                Err(error) => warn!(%error, "committing Kafka offsets failed; retrying"),
            }
        }
        let idle_ms = self.scoring.series_idle_timeout.as_millis() as i64;
        let mut evicted = Vec::new();
        let (mut states, mut bytes, mut series) = (0, 0, 0);
        for partition in self.partitions.values_mut() {
            partition.registry.evict(now_ms(), idle_ms, &mut evicted);
            partition.live.evicted(&evicted);
            evicted.clear();
            let (s, b) = partition.live.engine().footprint();
            states += s;
            bytes += b;
            series += partition.registry.active_series();
        }
        let metrics = &self.scoring.metrics;
        metrics.pipeline_feature_states.set(states as i64);
        metrics.pipeline_feature_bytes.set(bytes as i64);
        metrics.active_series.set(series as i64);
    }
}
