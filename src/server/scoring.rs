//! The side of a running app that scores and tickets (roles `all` and `worker`).
//!
//! In: where samples come from (the in-process queue, or the Kafka topic), the
//! pipeline, the model and its file, the outbox. Out: running tasks: the pipeline (a
//! task on the queue, or the Kafka worker's thread), the model watcher, the recorder
//! that stores ticket actions durably, and the sinks' dispatchers; and their stop, in
//! order: stop feeding (the queue is drained first), store the last actions, let the
//! deliveries in flight finish within what is left of the deadline.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{error, info};

use super::model_watch;
use crate::model::{Budgets, Model};
use crate::outbox::{Dispatchers, OutboxHandle, StoreError};
use crate::pipeline::{self, Pipeline, PipelineEvent};
use crate::predictions::LivePredictions;
use crate::predictions::board::Board;
use crate::registry::Registry;
use crate::telemetry::{ActionLabels, Metrics};
use crate::tickets::{TicketAction, TicketMessage};

/// Where the samples to score come from.
pub enum Source {
    /// `--role all`: the receiver's queue, and the registry that names its series ids.
    Queue {
        events: mpsc::Receiver<PipelineEvent>,
        registry: std::sync::Arc<parking_lot::Mutex<Registry>>,
    },
    /// `--role all`, with the queue taken by the caller (tests): nothing to score, the
    /// outbox still delivers.
    Elsewhere,
    /// `--role worker`: the topic.
    #[cfg(feature = "kafka")]
    Kafka {
        kafka: Box<crate::config::ValidKafka>,
        decoder: crate::ingest::Decoder,
        max_active_series: usize,
        series_idle_timeout: Duration,
    },
}

/// What scoring needs besides its source.
pub struct Parts {
    pub pipeline: Pipeline,
    pub model: Option<Model>,
    /// The model's file, watched for reloads; None for the built-in model.
    pub model_path: Option<PathBuf>,
    /// Applied to every model reloaded.
    pub budgets: Budgets,
    pub prometheus_url: Option<reqwest::Url>,
    pub outbox: OutboxHandle,
    pub dispatchers: Dispatchers,
    pub metrics: Metrics,
    /// Where `--role all` publishes each step's predictions (the HTTP API reads it).
    pub board: Board,
}

enum Feeder {
    Elsewhere,
    Queue {
        stop: oneshot::Sender<()>,
        task: JoinHandle<()>,
    },
    #[cfg(feature = "kafka")]
    Kafka {
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
        thread: std::thread::JoinHandle<()>,
    },
}

/// The running scoring side.
pub struct Scoring {
    feeder: Feeder,
    watcher: Option<JoinHandle<()>>,
    recorder: JoinHandle<()>,
    /// Notified when the store cannot record ticket actions: the app must stop.
    pub store_failed: Arc<Notify>,
    dispatchers: Dispatchers,
}

impl Scoring {
    pub fn start(source: Source, parts: Parts) -> std::io::Result<Scoring> {
        let Parts {
            pipeline,
            model,
            model_path,
            budgets,
            prometheus_url,
            outbox,
            dispatchers,
            metrics,
            board,
        } = parts;
        // What `--role all` carries on from before a restart; workers rebuild it from the
        // topic instead.
        let open_tickets = match &source {
            Source::Queue { .. } => outbox.open_tickets().map_err(std::io::Error::other)?,
            _ => Vec::new(),
        };
        let (tickets, ticket_actions) = mpsc::unbounded_channel();
        let (reloaded, models) = mpsc::unbounded_channel();
        let watcher = model_path.map(|path| {
            let watch =
                model_watch::watch(path, pipeline.clone(), budgets, reloaded, metrics.clone());
            tokio::spawn(watch)
        });
        // `--role all` shows the actions it records on its board (the status page).
        let shown = matches!(source, Source::Queue { .. }).then(|| board.clone());
        let store_failed = Arc::new(Notify::new());
        let stored_actions = Arc::new(AtomicU64::new(0));
        let recorder = tokio::spawn(record_tickets(
            outbox,
            ticket_actions,
            metrics.clone(),
            shown,
            Arc::clone(&stored_actions),
            Arc::clone(&store_failed),
        ));
        let feeder = match source {
            Source::Elsewhere => Feeder::Elsewhere,
            Source::Queue { events, registry } => {
                let predictions = (!pipeline.targets.is_empty())
                    .then(|| {
                        LivePredictions::new(
                            &pipeline,
                            model.as_ref(),
                            prometheus_url,
                            metrics.clone(),
                        )
                    })
                    .transpose()
                    .map_err(std::io::Error::other)?
                    .map(|mut predictions| {
                        predictions.publish_to(board);
                        predictions
                    });
                let mut live = pipeline::LiveSignals::new(pipeline, predictions);
                if !open_tickets.is_empty() {
                    info!(
                        tickets = open_tickets.len(),
                        "carrying on the tickets open before the restart"
                    );
                }
                live.resume(open_tickets, chrono::Utc::now().timestamp_millis());
                let worker = pipeline::Worker {
                    live,
                    registry,
                    metrics,
                    tickets,
                    models,
                    footprint: pipeline::Footprint::default(),
                };
                let (stop, stopped) = oneshot::channel();
                let task = tokio::spawn(worker.run(events, stopped));
                Feeder::Queue { stop, task }
            }
            #[cfg(feature = "kafka")]
            Source::Kafka {
                kafka,
                decoder,
                max_active_series,
                series_idle_timeout,
            } => {
                let scoring = crate::kafka::Scoring {
                    pipeline,
                    model,
                    prometheus_url,
                    decoder,
                    max_active_series,
                    series_idle_timeout,
                    metrics,
                    tickets,
                    stored_actions,
                    models,
                };
                let stop = std::sync::Arc::default();
                let thread = crate::kafka::spawn(&kafka, scoring, std::sync::Arc::clone(&stop))?;
                Feeder::Kafka { stop, thread }
            }
        };
        Ok(Scoring {
            feeder,
            watcher,
            recorder,
            store_failed,
            dispatchers,
        })
    }

    /// Stops in order; returns when the deliveries in flight finished or `deadline`
    /// (less a moment for the dispatchers to say which sinks were busy) is near.
    pub async fn stop(self, deadline: tokio::time::Instant) {
        if let Some(watcher) = &self.watcher {
            watcher.abort();
        }
        match self.feeder {
            Feeder::Elsewhere => {}
            Feeder::Queue { stop, task } => {
                info!("draining the pipeline queue");
                let _ = stop.send(());
                let _ = task.await;
            }
            #[cfg(feature = "kafka")]
            Feeder::Kafka { stop, thread } => {
                info!("stopping the Kafka worker; committing its offsets");
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
        }
        // Actions still queued for the store are stored within the deadline, or lost.
        let recorder = self.recorder;
        let abort = recorder.abort_handle();
        if tokio::time::timeout_at(deadline, recorder).await.is_err() {
            abort.abort();
            error!("ticket actions not yet stored at the shutdown deadline are lost");
        }
        info!("pipeline stopped; letting ticket deliveries in flight finish");
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.dispatchers
            .shutdown(left.saturating_sub(Duration::from_millis(100)))
            .await;
    }
}

/// The most ticket actions recorded in one transaction.
const RECORD_AT_ONCE: usize = 256;

/// Records every ticket action the pipeline decides, durably, for the sinks' dispatchers,
/// counts them in `stored` once stored (a Kafka worker commits a record's offset only
/// then), and observes how long after its step's processing began each was stored. A commit that
/// fails stops it and notifies `store_failed`: redb refuses every write after an I/O
/// error until the database is opened again, and going on would only lose, one batch
/// after another, actions the lifecycle has moved past (an open lost orphans its
/// updates and resolve at the sinks). The app stops instead, with an error; restarted, it
/// opens the store again and decides again what it had not stored. A Kafka worker also
/// hands over tickets: those its warm-up replays (adopted) and those of partitions that
/// moved away (disowned), for the sinks that keep open tickets alive (see
/// [`OutboxHandle::adopt`]).
async fn record_tickets(
    outbox: OutboxHandle,
    mut messages: mpsc::UnboundedReceiver<TicketMessage>,
    metrics: Metrics,
    board: Option<Board>,
    stored: Arc<AtomicU64>,
    store_failed: Arc<Notify>,
) {
    let mut recorder = Recorder {
        outbox,
        metrics,
        board,
        stored,
    };
    let mut batch = Vec::new();
    while messages.recv_many(&mut batch, RECORD_AT_ONCE).await > 0 {
        if let Err(error) = recorder.take(&mut batch).await {
            error!(%error, "the ticket store cannot record actions; stopping (a restart opens it again)");
            store_failed.notify_one();
            return;
        }
    }
}

/// Where the ticket messages go, and what counts and shows those recorded.
struct Recorder {
    outbox: OutboxHandle,
    metrics: Metrics,
    board: Option<Board>,
    stored: Arc<AtomicU64>,
}

impl Recorder {
    /// Takes a batch of messages in the order they came: consecutive decided actions are
    /// recorded together (one transaction, one fsync), and so are consecutive adopted
    /// ones, each run before what follows it.
    async fn take(&mut self, batch: &mut Vec<TicketMessage>) -> Result<(), StoreError> {
        // At most one of the two runs holds anything at a time.
        let (mut decided, mut adopted) = (Vec::new(), Vec::new());
        for message in batch.drain(..) {
            match message {
                TicketMessage::Decided(action, started) => {
                    self.outbox.adopt(&std::mem::take(&mut adopted)).await?;
                    decided.push((action, started));
                }
                TicketMessage::Adopted(action) => {
                    self.record(std::mem::take(&mut decided)).await?;
                    adopted.push(action);
                }
                TicketMessage::Disowned(fingerprints) => {
                    self.record(std::mem::take(&mut decided)).await?;
                    self.outbox.adopt(&std::mem::take(&mut adopted)).await?;
                    self.outbox.disown(fingerprints).await?;
                }
            }
        }
        self.record(decided).await?;
        self.outbox.adopt(&adopted).await
    }

    /// Records actions decided here, each with the time its step's processing began,
    /// and counts and shows those recorded.
    async fn record(&mut self, decided: Vec<(TicketAction, Instant)>) -> Result<(), StoreError> {
        if decided.is_empty() {
            return Ok(());
        }
        let (taken, started): (Vec<TicketAction>, Vec<Instant>) = decided.into_iter().unzip();
        let (taken, seqs) = self.outbox.record_all(taken).await;
        let seqs = seqs?;
        self.stored.fetch_add(taken.len() as u64, Ordering::Release);
        // An action without a sequence was silenced; the filter has said so.
        let recorded = taken.into_iter().zip(started).zip(seqs);
        for ((action, started), _) in recorded.filter(|(_, seq)| seq.is_some()) {
            let key = &action.idempotency_key;
            let labels = ActionLabels {
                target: action.ticket.target.clone(),
                action: action.kind.name(),
            };
            self.metrics
                .ticket_action_delay_seconds
                .observe(started.elapsed().as_secs_f64());
            self.metrics.ticket_actions.get_or_create(&labels).inc();
            info!(title = %action.ticket.title, key, action = labels.action, "ticket action recorded");
            if let Some(board) = &self.board {
                board.remember(action);
            }
        }
        Ok(())
    }
}
