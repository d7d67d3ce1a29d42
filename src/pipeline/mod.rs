//! The pipeline end of the bounded queue.
//!
//! In: `PipelineEvent`s from the receiver (accepted samples, tagged with their
//! `SeriesId`) and from the eviction sweep (series that ended). Out, for now: the count of
//! samples processed. The signal and feature engine (issue #3) consumes these events;
//! this stage already owns the queue's receiving end and its ordered drain at shutdown.
//! `spec` loads pipeline definitions: the signals and targets; `engine` evaluates the
//! signals at each step and keeps each entity's features.

mod engine;
mod spec;

pub use engine::SignalEngine;
pub use spec::{Pipeline, PipelineError, Signal};

use tokio::sync::{mpsc, oneshot};
use tracing::info;

use crate::registry::{AcceptedSample, SeriesId};
use crate::telemetry::Metrics;

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

/// Consumes events until `shutdown` fires, then drains what is queued and returns.
pub async fn run(
    mut events: mpsc::Receiver<PipelineEvent>,
    mut shutdown: oneshot::Receiver<()>,
    metrics: Metrics,
) {
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => process(&event, &metrics, events.len()),
                None => break,
            },
            _ = &mut shutdown => {
                // Refuse new events, then finish the ones already accepted.
                events.close();
                let pending = events.len();
                info!(pending, "pipeline draining its queue");
                while let Some(event) = events.recv().await {
                    process(&event, &metrics, events.len());
                }
                break;
            }
        }
    }
    info!("pipeline stopped");
}

fn process(event: &PipelineEvent, metrics: &Metrics, depth: usize) {
    metrics.queue_depth.set(depth as i64);
    if let PipelineEvent::Samples(samples) = event {
        metrics.pipeline_samples.inc_by(samples.len() as u64);
    }
}
