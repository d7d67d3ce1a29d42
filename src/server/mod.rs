//! The HTTP service: builds the app from a validated configuration, serves it, and shuts
//! it down in order.
//!
//! In: a `ValidConfig` and a shutdown signal. Out: a running server whose routes are
//! `POST /api/v1/write` (`write`), `/metrics`, `/-/healthy`, `/-/ready` and
//! `/api/v1/series` (`ops`), feeding the pipeline task over a bounded queue.
//! Shutdown: stop accepting and mark not-ready, finish in-flight requests, stop the
//! eviction sweep, drain the queue into the pipeline, exit; all within the deadline.

mod auth;
mod model_watch;
mod ops;
mod respond;
mod write;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::{get, post};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::{error, info, warn};

pub use respond::{WriteError, Written};

use crate::config::ValidConfig;
use crate::ingest::Decoder;
use crate::model::Model;
use crate::outbox::{self, Dispatchers, OutboxHandle};
use crate::pipeline::{self, Pipeline, PipelineEvent};
use crate::predictions::LivePredictions;
use crate::registry::Registry;
use crate::telemetry::{ActionLabels, Metrics};
use crate::tickets::TicketAction;

/// What every request handler shares.
pub struct AppState {
    decoder: Decoder,
    max_body_bytes: usize,
    /// One lock for the whole registry: a request holds it only to apply an already
    /// decoded and validated batch (hash lookups, no allocation for known series).
    /// Shared with the pipeline task, which reads the labels of series new to it.
    registry: Arc<Mutex<Registry>>,
    queue: mpsc::Sender<PipelineEvent>,
    auth: auth::Authenticator,
    metrics: Metrics,
    metrics_registry: prometheus_client::registry::Registry,
    /// False once shutdown begins, so that `/-/ready` tells load balancers to go away.
    ready: AtomicBool,
}

/// A bound, not yet running, server.
pub struct App {
    listener: TcpListener,
    state: Arc<AppState>,
    /// The queue's receiving end, until `run` hands it to the pipeline task or a caller
    /// takes it to consume the events itself.
    events: Option<mpsc::Receiver<PipelineEvent>>,
    /// The pipeline the pipeline task runs on the live samples.
    pipeline: Pipeline,
    /// Scores the pipeline's targets; None: tickets on the ETA alone.
    model: Option<Model>,
    /// The model's file, watched for reloads; None for the built-in model.
    model_path: Option<PathBuf>,
    /// For the tickets' graph links.
    prometheus_url: Option<reqwest::Url>,
    /// Where ticket actions are recorded, durably, for the sinks' dispatchers.
    outbox: OutboxHandle,
    dispatchers: Dispatchers,
    series_idle_timeout: Duration,
    shutdown_timeout: Duration,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl App {
    /// Binds the listener (port 0 picks a free port) and prepares the state.
    pub async fn build(valid: ValidConfig) -> std::io::Result<App> {
        let config = valid.config;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("creating data_dir {}: {e}", config.data_dir.display()),
            )
        })?;
        let listener = TcpListener::bind(config.listen).await.map_err(|e| {
            std::io::Error::new(e.kind(), format!("listening on {}: {e}", config.listen))
        })?;
        let mut metrics_registry = prometheus_client::registry::Registry::default();
        let metrics = Metrics::register(&mut metrics_registry);
        let ingest = &config.ingest;
        metrics.series_limit.set(ingest.max_active_series as i64);
        metrics.queue_capacity.set(ingest.queue_capacity as i64);
        let (outbox, dispatchers) = outbox::open(&config.data_dir, &valid.tickets, metrics.clone())
            .map_err(std::io::Error::other)?;
        let (queue, events) = pipeline::queue(ingest.queue_capacity);
        let state = Arc::new(AppState {
            decoder: Decoder::new(ingest.decode_limits()),
            max_body_bytes: ingest.max_body_bytes.as_u64() as usize,
            registry: Arc::new(Mutex::new(Registry::new(ingest.max_active_series))),
            queue,
            auth: auth::Authenticator::new(valid.write_auth),
            metrics,
            metrics_registry,
            ready: AtomicBool::new(true),
        });
        Ok(App {
            listener,
            state,
            events: Some(events),
            pipeline: valid.pipeline,
            model: valid.model,
            model_path: config.model.clone(),
            prometheus_url: valid.prometheus_url,
            outbox,
            dispatchers,
            series_idle_timeout: ingest.series_idle_timeout,
            shutdown_timeout: config.shutdown_timeout,
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

    fn router(state: Arc<AppState>) -> Router {
        Router::new()
            .route(
                "/api/v1/write",
                post(write::write).fallback(write::method_not_allowed),
            )
            .route("/metrics", get(ops::metrics))
            .route("/-/healthy", get(ops::healthy))
            .route("/-/ready", get(ops::ready))
            .route("/api/v1/series", get(ops::series))
            .with_state(state)
    }

    /// Serves until `shutdown` resolves, then shuts down in order within the deadline.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let App {
            listener,
            state,
            events,
            pipeline,
            model,
            model_path,
            prometheus_url,
            outbox,
            dispatchers,
            series_idle_timeout,
            shutdown_timeout,
        } = self;
        info!(
            address = %listener.local_addr()?,
            write_auth = state.auth.is_required(),
            max_active_series = state.registry.lock().max_active(),
            queue_capacity = state.queue.max_capacity(),
            series_idle_timeout = %crate::config::duration::format(series_idle_timeout),
            targets = pipeline.targets.len(),
            model = %match (&model_path, &model) {
                (Some(path), _) => path.display().to_string(),
                (None, Some(_)) => "built-in default".to_owned(),
                (None, None) => "none (tickets on the ETA alone)".to_owned(),
            },
            "harbinger listening; remote write at /api/v1/write"
        );
        let (stop_pipeline, pipeline_stopped) = oneshot::channel();
        let predictions = (!pipeline.targets.is_empty())
            .then(|| {
                let metrics = state.metrics.clone();
                LivePredictions::new(&pipeline, model.as_ref(), prometheus_url, metrics)
            })
            .transpose()
            .map_err(std::io::Error::other)?;
        let (tickets, ticket_actions) = tokio::sync::mpsc::unbounded_channel();
        let (reloaded, models) = tokio::sync::mpsc::unbounded_channel();
        let watcher = model_path.map(|path| {
            let watch = model_watch::watch(path, pipeline.clone(), reloaded, state.metrics.clone());
            tokio::spawn(watch)
        });
        let recorder = tokio::spawn(record_tickets(
            outbox,
            ticket_actions,
            state.metrics.clone(),
        ));
        let worker = pipeline::Worker {
            live: pipeline::LiveSignals::new(pipeline, predictions),
            registry: state.registry.clone(),
            metrics: state.metrics.clone(),
            tickets,
            models,
        };
        let pipeline = events.map(|events| tokio::spawn(worker.run(events, pipeline_stopped)));
        let sweeper = tokio::spawn(sweep_idle_series(state.clone(), series_idle_timeout));
        let begun = Arc::new(Notify::new());
        let begin = begun.clone();
        let mut server = tokio::spawn(
            axum::serve(listener, App::router(state.clone()))
                .with_graceful_shutdown(async move {
                    shutdown.await;
                    begin.notify_one();
                })
                .into_future(),
        );
        let stopped_early = tokio::select! {
            // Shutdown first: with no open connection, the server finishes in the same
            // instant, and the ordered drain below must still run.
            biased;
            () = begun.notified() => None,
            result = &mut server => Some(result),
        };
        if let Some(result) = stopped_early {
            result.map_err(std::io::Error::other)??;
            return Err(std::io::Error::other("HTTP server stopped unexpectedly"));
        }
        state.ready.store(false, Ordering::Relaxed);
        info!(
            deadline = ?shutdown_timeout,
            "shutting down: no new connections, finishing in-flight requests"
        );
        let deadline = tokio::time::Instant::now() + shutdown_timeout;
        let drain = async {
            if let Err(error) = server.await {
                warn!(%error, "server task failed during shutdown");
            }
            sweeper.abort();
            if let Some(watcher) = &watcher {
                watcher.abort();
            }
            info!("requests finished; draining the pipeline queue");
            let _ = stop_pipeline.send(());
            if let Some(pipeline) = pipeline {
                let _ = pipeline.await;
            }
            let _ = recorder.await;
            info!("pipeline drained; letting ticket deliveries in flight finish");
            // What is left of the deadline, less a moment for the dispatchers to say
            // which sinks were still busy.
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            dispatchers
                .shutdown(left.saturating_sub(Duration::from_millis(100)))
                .await;
        };
        match tokio::time::timeout_at(deadline, drain).await {
            Ok(()) => info!("shutdown complete"),
            Err(_) => warn!(
                queued_batches = state.queue.max_capacity() - state.queue.capacity(),
                "shutdown deadline passed; exiting with work unfinished"
            ),
        }
        Ok(())
    }
}

/// Read-only access to a running app's registry.
#[derive(Clone)]
pub struct AppHandle(Arc<AppState>);

impl AppHandle {
    /// A fingerprint of everything the registry holds (see `Registry::digest`).
    pub fn registry_digest(&self) -> u64 {
        self.0.registry.lock().digest()
    }

    pub fn active_series(&self) -> usize {
        self.0.registry.lock().active_series()
    }

    /// Batches accepted but not yet taken by the pipeline.
    pub fn queued_batches(&self) -> usize {
        self.0.queue.max_capacity() - self.0.queue.capacity()
    }
}

/// Records every ticket action the pipeline decides, durably, for the sinks' dispatchers,
/// and observes how long after its step's processing began each was stored.
async fn record_tickets(
    mut outbox: OutboxHandle,
    mut actions: mpsc::UnboundedReceiver<(TicketAction, Instant)>,
    metrics: Metrics,
) {
    while let Some((action, decided)) = actions.recv().await {
        let key = action.idempotency_key.clone();
        let labels = ActionLabels {
            target: action.ticket.target.clone(),
            action: action.kind.name(),
        };
        let title = action.ticket.title.clone();
        match outbox.record(action).await {
            Ok(Some(_)) => {
                metrics
                    .ticket_action_delay_seconds
                    .observe(decided.elapsed().as_secs_f64());
                metrics.ticket_actions.get_or_create(&labels).inc();
                info!(%title, key, action = labels.action, "ticket action recorded");
            }
            Ok(None) => {} // silenced; the filter has said so
            Err(error) => error!(%error, key, "recording a ticket action failed; it is lost"),
        }
    }
}

/// Evicts ended and idle series every so often and tells the pipeline.
async fn sweep_idle_series(state: Arc<AppState>, idle: Duration) {
    let every = (idle / 4).min(Duration::from_secs(30));
    let mut ticker = tokio::time::interval(every);
    let mut evicted = Vec::new();
    loop {
        ticker.tick().await;
        let active = {
            let mut registry = state.registry.lock();
            registry.evict(now_ms(), idle.as_millis() as i64, &mut evicted);
            registry.active_series()
        };
        state.metrics.active_series.set(active as i64);
        if evicted.is_empty() {
            continue;
        }
        state.metrics.series_evicted.inc_by(evicted.len() as u64);
        let ids = std::mem::take(&mut evicted);
        if state.queue.send(PipelineEvent::Evicted(ids)).await.is_err() {
            return;
        }
    }
}
