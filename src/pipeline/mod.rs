//! The pipeline: the consumer end of the bounded queue, and what it runs.
//!
//! In: `PipelineEvent`s from the receiver (accepted samples, tagged with their
//! `SeriesId`) and from the eviction sweep (series that ended). Out: at every step, the
//! pipeline's signals evaluated and each entity's features updated (`live`), the same
//! code `features` and training replay over CSV exports. It owns the queue's receiving
//! end and its ordered drain at shutdown.
//!
//! - `spec`: pipeline definitions (signals, targets from rule files, entity labels);
//! - `engine`: one step: evaluate every signal, update each entity's features;
//! - `live`: the step clock over live samples;
//! - `parts`: an export's series split into parts that replay apart, one per core;
//! - `remote_write`: the Prometheus `remote_write` entry that sends only what it reads.

mod engine;
mod live;
mod parts;
mod remote_write;
mod selected;
mod spec;

use std::sync::Arc;
use std::time::Instant;

pub use engine::SignalEngine;
pub use live::LiveSignals;
pub use remote_write::remote_write_fragment;
pub use spec::{Pipeline, PipelineError, Signal, UnnamedSelector};

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::model::Model;
use crate::promql::Labels;
use crate::registry::{AcceptedSample, Registry, SeriesId};
use crate::telemetry::Metrics;
use crate::tickets::TicketMessage;

/// What the receiver hands to the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum PipelineEvent {
    /// Samples of one request, newer than their series' previous ones, in arrival order.
    Samples(Vec<AcceptedSample>),
    /// Series removed from the registry; their ids are never reused.
    Evicted(Vec<SeriesId>),
}

/// Creates the bounded queue between the receiver and the pipeline.
pub fn queue(capacity: usize) -> (mpsc::Sender<PipelineEvent>, mpsc::Receiver<PipelineEvent>) {
    mpsc::channel(capacity)
}

/// The task at the end of the queue.
pub struct Worker {
    pub live: LiveSignals,
    /// Where the labels of a series id seen for the first time come from.
    pub registry: Arc<Mutex<Registry>>,
    pub metrics: Metrics,
    /// Where the ticket actions the live predictions decide go, each with the time the
    /// batch that completed its step began to be processed.
    pub tickets: mpsc::UnboundedSender<TicketMessage>,
    /// New models to score with, already checked against the pipeline.
    pub models: mpsc::UnboundedReceiver<Model>,
    pub footprint: Footprint,
}

/// When the feature footprint gauges were last refreshed, and whether a step changed
/// the features since. They are refreshed at most once a second: counting
/// walks every entity's state, which would cost as much as a step of a small estate.
#[derive(Debug, Default)]
pub struct Footprint {
    refreshed_at: Option<Instant>,
    stale: bool,
}

const FOOTPRINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Worker {
    /// Consumes events until `shutdown` fires, then drains what is queued and returns.
    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<PipelineEvent>,
        mut shutdown: oneshot::Receiver<()>,
    ) {
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.process(&event, events.len()),
                    None => break,
                },
                Some(model) = self.models.recv() => {
                    if let Err(error) = self.live.reload_model(&model) {
                        warn!(%error, "the new model was refused; the current one keeps scoring");
                    }
                }
                _ = &mut shutdown => {
                    // Refuse new events, then finish the ones already accepted.
                    events.close();
                    let pending = events.len();
                    info!(pending, "pipeline draining its queue");
                    while let Some(event) = events.recv().await {
                        self.process(&event, events.len());
                    }
                    break;
                }
            }
        }
        info!("pipeline stopped");
    }

    fn process(&mut self, event: &PipelineEvent, depth: usize) {
        self.metrics.queue_depth.set(depth as i64);
        let started = Instant::now();
        match event {
            PipelineEvent::Samples(samples) => {
                let registry = &self.registry;
                let steps = feed(&mut self.live, samples, &self.metrics, |ids| {
                    let registry = registry.lock();
                    labels_of(&registry, ids)
                });
                self.footprint.stale |= steps > 0;
            }
            PipelineEvent::Evicted(ids) => self.live.evicted(ids),
        }
        let due = (self.footprint.refreshed_at).is_none_or(|at| at.elapsed() >= FOOTPRINT_EVERY);
        if self.footprint.stale && due {
            self.footprint = Footprint {
                refreshed_at: Some(started),
                stale: false,
            };
            let (states, bytes) = self.live.engine().footprint();
            self.metrics.pipeline_feature_states.set(states as i64);
            self.metrics.pipeline_feature_bytes.set(bytes as i64);
        }
        for action in self.live.take_actions() {
            if self
                .tickets
                .send(TicketMessage::Decided(action, started))
                .is_err()
            {
                warn!("the ticket recorder has stopped; a ticket action is lost");
            }
        }
    }
}

/// The labels of `ids` as `registry` holds them (`None` for an evicted id).
pub fn labels_of(registry: &Registry, ids: &[SeriesId]) -> Vec<Option<Labels>> {
    ids.iter()
        .map(|&id| registry.snapshot(id).map(|s| Labels::new(s.labels)))
        .collect()
}

/// Runs one batch of accepted samples through `live`, counting samples and steps;
/// returns the steps evaluated. The ticket actions wait in `live` (`take_actions`).
pub fn feed(
    live: &mut LiveSignals,
    samples: &[AcceptedSample],
    metrics: &Metrics,
    labels_of: impl FnOnce(&[SeriesId]) -> Vec<Option<Labels>>,
) -> usize {
    let started = Instant::now();
    metrics.pipeline_samples.inc_by(samples.len() as u64);
    match live.samples(samples, labels_of) {
        Ok(0) => 0,
        Ok(steps) => {
            metrics.pipeline_steps.inc_by(steps as u64);
            metrics
                .pipeline_step_seconds
                .observe(started.elapsed().as_secs_f64() / steps as f64);
            steps
        }
        Err(error) => {
            metrics.pipeline_evaluation_errors.inc();
            warn!(%error, "evaluating the pipeline's signals failed at a step");
            0
        }
    }
}
