//! The replay itself: the pure parts joined by tasks and bounded channels.
//!
//! One producer walks the dataset in time order (`order`), waits for each new timestamp's
//! due time when paced (`pace`), and cuts batches (`batch`); each shard's batches go over
//! a bounded channel to that shard's task, which encodes (`encode`) and sends them one at
//! a time (`client`). A slow receiver therefore slows the producer; nothing is buffered
//! without bound, and a series' requests never overtake one another.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use super::batch::{Batch, Batcher};
use super::client::{Client, Delivery, SendError};
use super::encode::encode;
use super::order::TimeOrder;
use super::pace::{Pacing, shift_to_now};
use crate::dataset::Dataset;
use crate::ingest::Protocol;

/// How the dataset is replayed.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub pacing: Pacing,
    /// Shift every timestamp by the same amount so that the replay ends at the present,
    /// no sample stamped later than the moment it is due; otherwise timestamps are sent
    /// as recorded.
    pub shift_to_now: bool,
    /// Most samples in one request; at least 1.
    pub max_samples_per_send: usize,
    /// When paced, a request holds at most this much wall-clock time of samples.
    pub batch_send_deadline: Duration,
    /// Requests in flight at once, one per shard; at least 1.
    pub concurrency: usize,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Samples in accepted requests.
    pub samples_sent: u64,
    /// Samples in rejected requests.
    pub samples_rejected: u64,
    /// Requests accepted or rejected (retries not counted).
    pub requests: u64,
    pub requests_rejected: u64,
    /// Attempts beyond the first, over all requests.
    pub retries: u64,
    /// 2.0 answers whose samples-written count is missing or differs from the samples
    /// sent.
    pub written_mismatches: u64,
    /// The first rejection: status and the receiver's message.
    pub first_rejection: Option<String>,
    pub elapsed: Duration,
}

impl Summary {
    fn merge(&mut self, other: Summary) {
        self.samples_sent += other.samples_sent;
        self.samples_rejected += other.samples_rejected;
        self.requests += other.requests;
        self.requests_rejected += other.requests_rejected;
        self.retries += other.retries;
        self.written_mismatches += other.written_mismatches;
        self.first_rejection = self.first_rejection.take().or(other.first_rejection);
    }
}

/// Called with the number of samples of each request done (accepted or rejected).
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Batches waiting per shard: enough to encode the next while one is in flight.
const QUEUED_BATCHES: usize = 2;

/// Replays `dataset` through `client`. Rejected requests are counted and the replay
/// goes on (as Prometheus drops a rejected batch and continues); a request still failing
/// after its retries ends the replay with that error.
pub async fn replay(
    dataset: Arc<Dataset>,
    client: Arc<Client>,
    options: Options,
    progress: Progress,
) -> Result<Summary, SendError> {
    let start = Instant::now();
    let start_unix_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64);
    let Some((first_ms, last_ms)) = bounds(&dataset) else {
        return Ok(Summary::default());
    };
    let shift_ms = match options.shift_to_now {
        true => shift_to_now(options.pacing, first_ms, last_ms, start_unix_ms),
        false => 0,
    };

    let mut queues = Vec::with_capacity(options.concurrency);
    let mut shards = Vec::with_capacity(options.concurrency);
    for _ in 0..options.concurrency {
        let (queue, batches) = mpsc::channel(QUEUED_BATCHES);
        queues.push(queue);
        shards.push(tokio::spawn(send_shard(
            batches,
            Arc::clone(&dataset),
            Arc::clone(&client),
            shift_ms,
            Arc::clone(&progress),
        )));
    }

    let span_ms = options.pacing.span_ms(options.batch_send_deadline);
    let mut batcher = Batcher::new(options.concurrency, options.max_samples_per_send, span_ms);
    let mut closed: Vec<(usize, Batch)> = Vec::new();
    let mut now_ms = i64::MIN;
    let mut stopped = false;
    'stream: for (series, sample) in TimeOrder::new(&dataset) {
        if sample.timestamp_ms != now_ms {
            now_ms = sample.timestamp_ms;
            if let Some(offset) = options.pacing.offset(first_ms, now_ms) {
                tokio::time::sleep_until((start + offset).into()).await;
            }
        }
        batcher.push(series, sample, |shard, batch| closed.push((shard, batch)));
        for (shard, batch) in closed.drain(..) {
            if queues[shard].send(batch).await.is_err() {
                // The shard stopped on an error, reported below; send nothing more.
                stopped = true;
                break 'stream;
            }
        }
    }
    if !stopped {
        batcher.finish(|shard, batch| closed.push((shard, batch)));
        for (shard, batch) in closed {
            if queues[shard].send(batch).await.is_err() {
                break;
            }
        }
    }
    drop(queues);

    let mut summary = Summary::default();
    let mut failure = None;
    for shard in shards {
        match shard.await.expect("a shard task does not panic") {
            Ok(done) => summary.merge(done),
            Err(error) => failure = failure.or(Some(error)),
        }
    }
    summary.elapsed = start.elapsed();
    match failure {
        Some(error) => Err(error),
        None => Ok(summary),
    }
}

/// The first and last timestamps of the dataset; `None` when it holds no sample.
fn bounds(dataset: &Dataset) -> Option<(i64, i64)> {
    let samples = || {
        dataset
            .series
            .iter()
            .flat_map(|s| s.samples.first().into_iter().chain(s.samples.last()))
    };
    let first = samples().map(|s| s.timestamp_ms).min()?;
    let last = samples().map(|s| s.timestamp_ms).max()?;
    Some((first, last))
}

/// One shard: sends its batches in order until the queue closes or a request fails.
async fn send_shard(
    mut batches: mpsc::Receiver<Batch>,
    dataset: Arc<Dataset>,
    client: Arc<Client>,
    shift_ms: i64,
    progress: Progress,
) -> Result<Summary, SendError> {
    let mut summary = Summary::default();
    while let Some(batch) = batches.recv().await {
        let samples = batch.samples.len() as u64;
        let body = encode(client.protocol(), &dataset, &batch, shift_ms);
        summary.requests += 1;
        match client.send(body.into()).await? {
            Delivery::Accepted {
                retries,
                samples_written,
            } => {
                summary.retries += u64::from(retries);
                summary.samples_sent += samples;
                // The 2.0 spec requires the count on every answer; 1.0 has none.
                if client.protocol() == Protocol::V2 && samples_written != Some(samples) {
                    summary.written_mismatches += 1;
                    tracing::warn!(
                        sent = samples,
                        written = ?samples_written,
                        "the receiver's X-Prometheus-Remote-Write-Samples-Written differs from the samples sent"
                    );
                }
            }
            Delivery::Rejected {
                retries,
                status,
                message,
            } => {
                summary.retries += u64::from(retries);
                summary.samples_rejected += samples;
                summary.requests_rejected += 1;
                let rejection = format!("HTTP {status}: {message}");
                match summary.first_rejection {
                    None => {
                        tracing::error!(samples, %rejection, "request rejected, its samples dropped")
                    }
                    Some(_) => {
                        tracing::debug!(samples, %rejection, "request rejected, its samples dropped")
                    }
                }
                summary.first_rejection.get_or_insert(rejection);
            }
        }
        progress(samples);
    }
    Ok(summary)
}
