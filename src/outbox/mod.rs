//! The durable ticket outbox: ticket actions in, delivered at least once to every
//! configured sink out.
//!
//! [`OutboxHandle::record`] writes an action to the store (`<data_dir>/outbox.redb`,
//! committed before it returns) as owed to every sink, then wakes the dispatchers. One
//! dispatcher task per sink delivers what its sink owes, in order per fingerprint, with
//! retries; a sink's refusal moves the action to the dead letters, logged and counted.
//! After a restart, even after `kill -9`, the dispatchers deliver what was still owed.
//!
//! - `config`: the `tickets:` section, checked into [`ValidTickets`];
//! - `store`: the redb store (actions, per-sink pending marks, dead letters, the
//!   webhook's and Redmine's created tickets);
//! - `dispatch`: the per-sink delivery task;
//! - `sink`: the [`Sink`] trait; `file`, `webhook`, `alertmanager` and `redmine`, the
//!   sinks;
//! - `template`: the webhook's JSON body template.

mod alertmanager;
mod config;
mod dispatch;
mod file;
pub mod redmine;
mod silences;
mod sink;
mod store;
mod template;
pub mod webhook;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

pub use config::{
    AlertmanagerSinkConfig, AlertmanagerSpec, FileSinkConfig, SinkConfig, SinkSpec, TicketsConfig,
    ValidTickets,
};
pub use sink::{Attempt, Sink};
pub use store::{DeadLetter, Store, StoreError};
pub use template::{Template, example_action};
pub use webhook::{WebhookSinkConfig, WebhookSpec};

use crate::telemetry::Metrics;
use crate::tickets::TicketAction;
use alertmanager::AlertmanagerSink;
use dispatch::Dispatcher;
use file::FileSink;
use redmine::RedmineSink;
use silences::SilenceFilter;
use store::on_blocking;
use webhook::WebhookSink;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ticket sink {sink}: {message}")]
    Sink { sink: String, message: String },
}

/// Records ticket actions.
pub struct OutboxHandle {
    store: Arc<Store>,
    sinks: Arc<[String]>,
    /// The sinks that keep open tickets alive on their own (Alertmanager's, which
    /// re-sends their alerts).
    refreshing: Arc<[String]>,
    /// One per dispatcher.
    wakes: Arc<[Arc<Notify>]>,
    /// With an Alertmanager sink: the silences honoured before a ticket opens.
    silences: Option<SilenceFilter>,
}

/// The dispatcher tasks, and the switch that stops them.
pub struct Dispatchers {
    stop: watch::Sender<bool>,
    tasks: JoinSet<String>,
}

/// Opens the store in `data_dir` and starts one dispatcher per sink (within a tokio
/// runtime). Actions owed from before a restart are delivered at once.
pub fn open(
    data_dir: &Path,
    tickets: &ValidTickets,
    metrics: Metrics,
) -> Result<(OutboxHandle, Dispatchers), OutboxError> {
    let store = Arc::new(Store::open(data_dir)?);
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut wakes = Vec::new();
    for spec in &tickets.sinks {
        let wake = Arc::new(Notify::new());
        wakes.push(Arc::clone(&wake));
        let sink_error = |message: String| OutboxError::Sink {
            sink: spec.name().to_owned(),
            message,
        };
        let cx = dispatch::Context {
            store: Arc::clone(&store),
            wake,
            stop: stopped.clone(),
            backoff: tickets.backoff,
            metrics: metrics.clone(),
        };
        match spec {
            SinkSpec::File { name, path } => {
                let path = path
                    .clone()
                    .unwrap_or_else(|| data_dir.join("tickets.jsonl"));
                let sink = FileSink::open(name, &path)
                    .map_err(|e| sink_error(format!("{}: {e}", path.display())))?;
                Dispatcher::start(sink, cx, &mut tasks);
            }
            SinkSpec::Alertmanager(spec) => {
                let sink =
                    AlertmanagerSink::new(spec.clone(), Arc::clone(&store)).map_err(sink_error)?;
                let sink = Arc::new(sink);
                tasks.spawn({
                    let (sink, stop) = (Arc::clone(&sink), stopped.clone());
                    let name = spec.name.clone();
                    async move {
                        sink.refresh(stop).await;
                        name
                    }
                });
                Dispatcher { sink, cx }.spawn(&mut tasks);
            }
            SinkSpec::Webhook(spec) => {
                let sink = WebhookSink::new((**spec).clone(), Arc::clone(&store))
                    .map_err(|e| sink_error(e.to_string()))?;
                Dispatcher::start(sink, cx, &mut tasks);
            }
            SinkSpec::Redmine(spec) => {
                let sink = RedmineSink::new((**spec).clone(), Arc::clone(&store))
                    .map_err(|e| sink_error(e.to_string()))?;
                Dispatcher::start(sink, cx, &mut tasks);
            }
        }
    }
    let sinks = tickets.sinks.iter().map(|s| s.name().to_owned()).collect();
    let refreshing = tickets.sinks.iter().filter_map(|spec| match spec {
        SinkSpec::Alertmanager(am) => Some(am.name.clone()),
        _ => None,
    });
    let silences = tickets.sinks.iter().find_map(|spec| match spec {
        SinkSpec::Alertmanager(am) => Some(SilenceFilter::new(&am.url, am.timeout)),
        _ => None,
    });
    let handle = OutboxHandle {
        store,
        sinks,
        refreshing: refreshing.collect(),
        wakes: wakes.into(),
        silences: silences.transpose().map_err(|message| OutboxError::Sink {
            sink: "alertmanager".to_owned(),
            message,
        })?,
    };
    Ok((handle, Dispatchers { stop, tasks }))
}

impl OutboxHandle {
    /// Stores the action for every sink; durable when it returns, delivered later.
    /// Returns its sequence number, or None for an action of a silenced ticket (see
    /// `silences`), which is not recorded.
    pub async fn record(&mut self, action: TicketAction) -> Result<Option<u64>, StoreError> {
        Ok(self.record_all(vec![action]).await.1?[0])
    }

    /// Stores the actions, in order, as [`OutboxHandle::record`] does each, in one
    /// transaction (one fsync). Hands the actions back, in the same order, with their
    /// sequence numbers (None for a silenced one), or the error for which none was stored.
    pub async fn record_all(
        &mut self,
        actions: Vec<TicketAction>,
    ) -> (Vec<TicketAction>, Result<Vec<Option<u64>>, StoreError>) {
        let mut admitted = Vec::with_capacity(actions.len());
        let (mut kept, mut silenced) = (Vec::with_capacity(actions.len()), Vec::new());
        for (at, action) in actions.into_iter().enumerate() {
            let admits = self.admits(&action).await;
            admitted.push(admits);
            match admits {
                true => kept.push(action),
                false => silenced.push((at, action)),
            }
        }
        let mut stored = Ok(Vec::new());
        if !kept.is_empty() {
            let sinks = Arc::clone(&self.sinks);
            let append = move |store: &Store| {
                let seqs = store.append_all(&kept, &sinks);
                (kept, seqs)
            };
            (kept, stored) = on_blocking(&self.store, append).await;
            if stored.is_ok() {
                self.wakes.iter().for_each(|wake| wake.notify_one());
            }
        }
        // The silenced back in their places, earliest first, so the order is the caller's.
        for (at, action) in silenced {
            kept.insert(at, action);
        }
        let seqs = stored.map(|seqs| {
            let mut seqs = seqs.into_iter();
            admitted
                .into_iter()
                .map(|admits| admits.then(|| seqs.next()).flatten())
                .collect()
        });
        (kept, seqs)
    }

    /// Whether the silences (if any) let `action`'s ticket through.
    async fn admits(&mut self, action: &TicketAction) -> bool {
        match &mut self.silences {
            Some(silences) => silences.admits(action).await,
            None => true,
        }
    }

    /// Carries on actions another process took on its tickets (the previous owner of a
    /// Kafka partition, replayed while it warms up): nothing is delivered again, but
    /// the sinks that keep open tickets alive on their own take them on (an open
    /// ticket's predicted alert is re-sent; a resolved one's is not), unless silenced,
    /// as [`OutboxHandle::record`] would.
    pub async fn adopt(&mut self, actions: &[TicketAction]) -> Result<(), StoreError> {
        let mut kept = Vec::with_capacity(actions.len());
        for action in actions {
            if self.admits(action).await {
                kept.push(alertmanager::kept(action));
            }
        }
        self.keep(kept).await
    }

    /// Lets go of the tickets of `fingerprints`, whose entities another process scores
    /// from now on (a Kafka partition that moved): the sinks stop keeping them alive,
    /// and their new owner carries them on.
    pub async fn disown(&self, fingerprints: Vec<String>) -> Result<(), StoreError> {
        self.keep(fingerprints.into_iter().map(|f| (f, None)).collect())
            .await
    }

    /// Sets what the sinks that keep open tickets alive keep, by fingerprint.
    async fn keep(&self, entries: Vec<(String, Option<String>)>) -> Result<(), StoreError> {
        if entries.is_empty() || self.refreshing.is_empty() {
            return Ok(());
        }
        let refreshing = Arc::clone(&self.refreshing);
        on_blocking(&self.store, move |store| {
            refreshing
                .iter()
                .try_for_each(|sink| store.keep(sink, &entries))
        })
        .await
    }

    /// The tickets open after the last action recorded (see [`Store::open_tickets`]).
    pub fn open_tickets(&self) -> Result<Vec<crate::tickets::OpenTicket>, StoreError> {
        self.store.open_tickets()
    }

    /// A read-only view of the tickets, for the HTTP API.
    pub fn view(&self) -> TicketsView {
        TicketsView(Arc::clone(&self.store))
    }

    /// How many actions `sink` has yet to deliver.
    pub async fn pending(&self, sink: &str) -> Result<usize, StoreError> {
        let sink = sink.to_owned();
        on_blocking(&self.store, move |store| store.pending_count(&sink)).await
    }

    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        on_blocking(&self.store, |store| store.dead_letters()).await
    }
}

/// What the outbox holds, read off the async workers: the open tickets, the dead
/// letters and the backlog.
#[derive(Clone)]
pub struct TicketsView(Arc<Store>);

impl TicketsView {
    pub async fn open(&self) -> Result<Vec<crate::tickets::OpenTicket>, StoreError> {
        on_blocking(&self.0, |store| store.open_tickets()).await
    }

    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        on_blocking(&self.0, |store| store.dead_letters()).await
    }

    /// How many actions some sink has yet to deliver.
    pub async fn undelivered(&self) -> Result<u64, StoreError> {
        on_blocking(&self.0, |store| store.undelivered()).await
    }
}

impl Dispatchers {
    /// Starts no new delivery, lets the attempts in flight end, and waits for them at
    /// most `deadline`; past it, it logs the sinks still busy and abandons them (their
    /// actions stay owed and are delivered after the next start).
    pub async fn shutdown(mut self, deadline: Duration) {
        self.stop.send_replace(true);
        let drained = tokio::time::timeout(deadline, async {
            while let Some(done) = self.tasks.join_next().await {
                if let Ok(sink) = done {
                    tracing::debug!(sink, "ticket dispatcher stopped");
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                busy = self.tasks.len(),
                "ticket deliveries still in flight at the shutdown deadline; they resume at the next start"
            );
            self.tasks.shutdown().await;
        }
    }
}
