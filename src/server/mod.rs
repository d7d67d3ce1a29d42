//! The HTTP service: builds the app for its role from a validated configuration,
//! serves it, and shuts it down in order.
//!
//! In: a `ValidConfig`, a `Role` and a shutdown signal. Out: a running server whose
//! routes are `POST /api/v1/write` (`write`; not in the `worker` role), the status page
//! at `/` (`status`), `/metrics`, `/-/healthy`, `/-/ready`, `/api/v1/series`,
//! `/api/v1/tickets` and `/api/v1/predictions` (`ops`). In the `all` role, accepted
//! samples go over a bounded queue to the pipeline task; a `receiver` publishes them to
//! Kafka instead, and a `worker` scores what it consumes from Kafka (`scoring`).
//! Shutdown: stop accepting and mark not-ready, finish in-flight requests, stop the
//! eviction sweep, drain the queue into the pipeline (or commit the worker's offsets),
//! exit; all within the deadline.

mod auth;
mod listener;
mod model_watch;
mod ops;
mod respond;
mod scoring;
pub mod status;
mod write;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::{get, post};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tracing::{info, warn};

pub use respond::{WriteError, Written};

use crate::config::ValidConfig;
use crate::ingest::Decoder;
use crate::outbox;
use crate::pipeline::{self, PipelineEvent};
use crate::predictions::board::Board;
use crate::registry::Registry;
use crate::telemetry::Metrics;
use scoring::{Parts, Scoring, Source};

/// What a `serve` process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Role {
    /// Receive, score and ticket in one process, over an in-process queue.
    #[default]
    All,
    /// Receive remote write and publish it to Kafka (`kafka:` in the configuration).
    Receiver,
    /// Score and ticket the partitions of the Kafka topic the consumer group assigns.
    Worker,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Receiver => "receiver",
            Role::Worker => "worker",
        }
    }
}

/// Where accepted write requests go.
pub(crate) enum Ingest {
    /// `all`: the registry, then the queue to the pipeline task. One lock for the whole
    /// registry: a request holds it only to apply an already decoded and validated
    /// batch (hash lookups, no allocation for known series). Shared with the pipeline
    /// task, which reads the labels of series new to it.
    Local {
        registry: Arc<Mutex<Registry>>,
        queue: mpsc::Sender<PipelineEvent>,
    },
    /// `receiver`: the Kafka topic.
    #[cfg(feature = "kafka")]
    Kafka(Arc<crate::kafka::Publisher>),
    /// `worker`: nothing is written here.
    Nowhere,
}

/// What every request handler shares.
pub struct AppState {
    decoder: Decoder,
    max_body_bytes: usize,
    /// How long a request's body may take to arrive.
    read_timeout: Duration,
    /// Turns to decode a body (`ingest.max_concurrent_writes`).
    write_turns: tokio::sync::Semaphore,
    /// Bytes that bodies being read may hold together, one permit a byte:
    /// `max_concurrent_writes × max_body_bytes`.
    body_bytes: tokio::sync::Semaphore,
    /// The outbox's tickets, in the roles that ticket.
    tickets: Option<outbox::TicketsView>,
    /// The last step's predictions (`--role all`).
    board: Option<Board>,
    ingest: Ingest,
    auth: auth::Authenticator,
    metrics: Metrics,
    metrics_registry: prometheus_client::registry::Registry,
    /// False once shutdown begins, so that `/-/ready` tells load balancers to go away.
    ready: AtomicBool,
    role: Role,
    /// The pipeline's step, and where the model comes from, for the status page.
    step: Duration,
    model_source: String,
}

impl AppState {
    fn local(&self) -> Option<(&Arc<Mutex<Registry>>, &mpsc::Sender<PipelineEvent>)> {
        match &self.ingest {
            Ingest::Local { registry, queue } => Some((registry, queue)),
            _ => None,
        }
    }
}

/// A bound, not yet running, server.
pub struct App {
    listener: TcpListener,
    state: Arc<AppState>,
    role: Role,
    /// The queue's receiving end (role `all`), until `run` hands it to the pipeline task
    /// or a caller takes it to consume the events itself.
    events: Option<mpsc::Receiver<PipelineEvent>>,
    /// What scoring needs (roles `all` and `worker`).
    parts: Option<Parts>,
    valid: ValidConfig,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl App {
    /// Binds the listener (port 0 picks a free port) and prepares the state for `role`.
    pub async fn build(valid: ValidConfig, role: Role) -> std::io::Result<App> {
        let config = &valid.config;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("creating data_dir {}: {e}", config.data_dir.display()),
            )
        })?;
        if role != Role::All && valid.kafka.is_none() {
            return Err(std::io::Error::other(format!(
                "--role {} needs a kafka: section in the configuration (brokers, topic)",
                role.name()
            )));
        }
        let listener = TcpListener::bind(config.listen).await.map_err(|e| {
            std::io::Error::new(e.kind(), format!("listening on {}: {e}", config.listen))
        })?;
        let mut metrics_registry = prometheus_client::registry::Registry::default();
        let metrics = Metrics::register(&mut metrics_registry);
        let ingest_config = &config.ingest;
        metrics
            .series_limit
            .set(ingest_config.max_active_series as i64);
        let parts = match role {
            Role::Receiver => None,
            Role::All | Role::Worker => {
                let (outbox, dispatchers) =
                    outbox::open(&config.data_dir, &valid.tickets, metrics.clone())
                        .map_err(std::io::Error::other)?;
                Some(Parts {
                    pipeline: valid.pipeline.clone(),
                    model: valid.model.clone(),
                    model_path: config.model.clone(),
                    budgets: config.false_ticket_budget.clone(),
                    prometheus_url: valid.prometheus_url.clone(),
                    outbox,
                    dispatchers,
                    metrics: metrics.clone(),
                    board: Board::default(),
                })
            }
        };
        let (ingest, events) = match role {
            Role::All => {
                metrics
                    .queue_capacity
                    .set(ingest_config.queue_capacity as i64);
                let (queue, events) = pipeline::queue(ingest_config.queue_capacity);
                let registry = Arc::new(Mutex::new(Registry::new(ingest_config.max_active_series)));
                (Ingest::Local { registry, queue }, Some(events))
            }
            Role::Worker => (Ingest::Nowhere, None),
            #[cfg(feature = "kafka")]
            Role::Receiver => {
                let kafka = valid.kafka.as_ref().expect("checked above");
                let publisher =
                    crate::kafka::Publisher::new(kafka, &valid.pipeline, metrics.clone())
                        .map_err(std::io::Error::other)?;
                (Ingest::Kafka(publisher), None)
            }
            #[cfg(not(feature = "kafka"))]
            Role::Receiver => return Err(without_kafka(role)),
        };
        #[cfg(not(feature = "kafka"))]
        if role == Role::Worker {
            return Err(without_kafka(role));
        }
        let state = Arc::new(AppState {
            decoder: Decoder::new(ingest_config.decode_limits()),
            max_body_bytes: ingest_config.max_body_bytes.as_u64() as usize,
            read_timeout: config.read_timeout,
            write_turns: tokio::sync::Semaphore::new(ingest_config.max_concurrent_writes),
            body_bytes: tokio::sync::Semaphore::new(ingest_config.body_bytes_budget()),
            tickets: parts.as_ref().map(|parts| parts.outbox.view()),
            board: (role == Role::All)
                .then(|| parts.as_ref().map(|parts| parts.board.clone()))
                .flatten(),
            ingest,
            auth: auth::Authenticator::new(valid.write_auth.clone()),
            metrics,
            metrics_registry,
            ready: AtomicBool::new(true),
            role,
            step: valid.pipeline.step,
            model_source: valid.model_source(),
        });
        Ok(App {
            listener,
            state,
            role,
            events,
            parts,
            valid,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Takes the pipeline queue's receiving end, so that the caller consumes accepted
    /// samples instead of the built-in pipeline task (`run` then starts none).
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<PipelineEvent>> {
        self.events.take()
    }

    /// A view of the running app's state, for inspection.
    pub fn handle(&self) -> AppHandle {
        AppHandle(self.state.clone())
    }

    fn router(state: Arc<AppState>, role: Role) -> Router {
        let router = Router::new()
            .route("/", get(status::page))
            .route("/metrics", get(ops::metrics))
            .route("/-/healthy", get(ops::healthy))
            .route("/-/ready", get(ops::ready))
            .route("/api/v1/series", get(ops::series))
            .route("/api/v1/tickets", get(ops::tickets))
            .route("/api/v1/predictions", get(ops::predictions));
        let router = match role {
            Role::Worker => router.route("/api/v1/write", post(write::not_here)),
            Role::All | Role::Receiver => router.route(
                "/api/v1/write",
                post(write::write).fallback(write::method_not_allowed),
            ),
        };
        router.with_state(state)
    }

    /// The source of the samples to score, for roles that score.
    fn source(&mut self) -> Option<Source> {
        let ingest = &self.valid.config.ingest;
        match self.role {
            Role::All => {
                let (registry, _) = self.state.local().expect("role all ingests locally");
                let registry = registry.clone();
                Some(match self.events.take() {
                    Some(events) => Source::Queue { events, registry },
                    None => Source::Elsewhere,
                })
            }
            Role::Receiver => None,
            #[cfg(feature = "kafka")]
            Role::Worker => Some(Source::Kafka {
                kafka: Box::new(self.valid.kafka.clone().expect("checked at build")),
                decoder: Decoder::new(ingest.decode_limits()),
                max_active_series: ingest.max_active_series,
                series_idle_timeout: ingest.series_idle_timeout,
            }),
            #[cfg(not(feature = "kafka"))]
            Role::Worker => {
                let _ = ingest;
                None
            }
        }
    }

    /// Serves until `shutdown` resolves, then shuts down in order within the deadline.
    pub async fn run(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let source = self.source();
        let App {
            listener,
            state,
            role,
            parts,
            valid,
            ..
        } = self;
        let config = &valid.config;
        info!(
            address = %listener.local_addr()?,
            tls = valid.tls.is_some(),
            role = role.name(),
            write_auth = state.auth.is_required(),
            max_active_series = config.ingest.max_active_series,
            series_idle_timeout = %crate::config::duration::format(config.ingest.series_idle_timeout),
            targets = valid.pipeline.targets.len(),
            model = %state.model_source,
            "harbinger listening"
        );
        if role != Role::Receiver {
            valid
                .budget_choices
                .iter()
                .for_each(crate::model::BudgetChoice::log);
        }
        let scoring = match (parts, source) {
            (Some(parts), Some(source)) => Some(Scoring::start(source, parts)?),
            _ => None,
        };
        let background = spawn_background(&state, config.ingest.series_idle_timeout);
        let begun = Arc::new(Notify::new());
        let begin = begun.clone();
        let connections = listener::Connections {
            tls: valid.tls.clone(),
            read_header_timeout: config.read_header_timeout,
        };
        let mut server = tokio::spawn(listener::serve(
            listener,
            App::router(state.clone(), role),
            connections,
            async move {
                shutdown.await;
                begin.notify_one();
            },
        ));
        let store_failed = scoring.as_ref().map(|s| Arc::clone(&s.store_failed));
        let store_failure = async {
            match &store_failed {
                Some(failed) => failed.notified().await,
                None => std::future::pending().await,
            }
        };
        let stopped_early = tokio::select! {
            // Shutdown first: with no open connection, the server finishes in the same
            // instant, and the ordered drain below must still run.
            biased;
            () = begun.notified() => None,
            () = store_failure => Some(Stop::StoreFailed),
            result = &mut server => Some(Stop::Server(result)),
        };
        match stopped_early {
            None => {}
            Some(Stop::Server(result)) => {
                result.map_err(std::io::Error::other)?;
                return Err(std::io::Error::other("HTTP server stopped unexpectedly"));
            }
            Some(Stop::StoreFailed) => {
                // Stop in order, as on a signal, then fail: the supervisor restarts it.
                server.abort();
                for task in background {
                    task.abort();
                }
                if let Some(scoring) = scoring {
                    let left = tokio::time::Instant::now() + config.shutdown_timeout;
                    scoring.stop(left).await;
                }
                return Err(std::io::Error::other(
                    "the ticket store could not record actions (see the log); restart to open it again",
                ));
            }
        }
        state.ready.store(false, Ordering::Relaxed);
        let shutdown_timeout = config.shutdown_timeout;
        info!(
            deadline = ?shutdown_timeout,
            "shutting down: no new connections, finishing in-flight requests"
        );
        let deadline = tokio::time::Instant::now() + shutdown_timeout;
        let drain = async {
            if let Err(error) = server.await {
                warn!(%error, "server task failed during shutdown");
            }
            for task in background {
                task.abort();
            }
            #[cfg(feature = "kafka")]
            if let Ingest::Kafka(publisher) = &state.ingest {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                publisher.flush(left);
            }
            if let Some(scoring) = scoring {
                scoring.stop(deadline).await;
            }
        };
        match tokio::time::timeout_at(deadline, drain).await {
            Ok(()) => info!("shutdown complete"),
            Err(_) => warn!(
                queued_batches = state
                    .local()
                    .map_or(0, |(_, q)| q.max_capacity() - q.capacity()),
                "shutdown deadline passed; exiting with work unfinished"
            ),
        }
        Ok(())
    }
}

/// Why the server stopped before a shutdown signal.
enum Stop {
    Server(Result<(), tokio::task::JoinError>),
    StoreFailed,
}

/// The tasks that run beside the server: the idle-series sweep (role `all`), the
/// topic's partition count (role `receiver`).
fn spawn_background(state: &Arc<AppState>, idle: Duration) -> Vec<tokio::task::JoinHandle<()>> {
    match &state.ingest {
        Ingest::Local { .. } => vec![tokio::spawn(sweep_idle_series(state.clone(), idle))],
        #[cfg(feature = "kafka")]
        Ingest::Kafka(publisher) => vec![tokio::spawn(publisher.clone().watch_partitions())],
        Ingest::Nowhere => Vec::new(),
    }
}

#[cfg(not(feature = "kafka"))]
fn without_kafka(role: Role) -> std::io::Error {
    std::io::Error::other(format!(
        "--role {} needs Kafka, and this harbinger was built without the kafka feature",
        role.name()
    ))
}

/// Read-only access to a running app's registry (role `all`).
#[derive(Clone)]
pub struct AppHandle(Arc<AppState>);

impl AppHandle {
    fn registry(&self) -> &Mutex<Registry> {
        self.0.local().expect("the app runs in the role all").0
    }

    /// A fingerprint of everything the registry holds (see `Registry::digest`).
    pub fn registry_digest(&self) -> u64 {
        self.registry().lock().digest()
    }

    pub fn active_series(&self) -> usize {
        self.registry().lock().active_series()
    }

    /// Batches accepted but not yet taken by the pipeline.
    pub fn queued_batches(&self) -> usize {
        let (_, queue) = self.0.local().expect("the app runs in the role all");
        queue.max_capacity() - queue.capacity()
    }
}

/// Evicts ended and idle series every so often and tells the pipeline (role `all`).
async fn sweep_idle_series(state: Arc<AppState>, idle: Duration) {
    let Some((registry, queue)) = state.local() else {
        return;
    };
    let every = (idle / 4).min(Duration::from_secs(30));
    let mut ticker = tokio::time::interval(every);
    let mut evicted = Vec::new();
    loop {
        ticker.tick().await;
        let active = {
            let mut registry = registry.lock();
            registry.evict(now_ms(), idle.as_millis() as i64, &mut evicted);
            registry.active_series()
        };
        state.metrics.active_series.set(active as i64);
        if evicted.is_empty() {
            continue;
        }
        state.metrics.series_evicted.inc_by(evicted.len() as u64);
        let ids = std::mem::take(&mut evicted);
        if queue.send(PipelineEvent::Evicted(ids)).await.is_err() {
            return;
        }
    }
}
