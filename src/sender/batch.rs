//! Cuts the time-ordered sample stream into requests, as Prometheus's queue manager does.
//!
//! In: `(series, sample)` pairs in time order. Out: [`Batch`]es, each tagged with its
//! shard. A series always belongs to the same shard (its index modulo the shard count,
//! as Prometheus assigns a series ref to a shard), and each shard's batches are sent one
//! after the other, so a series' samples are never reordered across requests.
//!
//! A shard's open batch is closed when it holds `max_samples`, or, when a time span is
//! set, as soon as the stream reaches `span` past the batch's first sample: the paced
//! counterpart of Prometheus sending a shard's buffer after `batch_send_deadline`.

use crate::dataset::Sample;

/// One request's samples, in stream order, each with its series index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub samples: Vec<(u32, Sample)>,
}

/// The open batches of every shard.
pub struct Batcher {
    open: Vec<Batch>,
    max_samples: usize,
    /// In sample time; `None` closes batches only when they are full.
    max_span_ms: Option<i64>,
    /// Timestamp of the last sample pushed, to check spans once per distinct timestamp.
    now_ms: i64,
}

impl Batcher {
    /// `shards` and `max_samples` are at least 1.
    pub fn new(shards: usize, max_samples: usize, max_span_ms: Option<i64>) -> Batcher {
        assert!(shards > 0 && max_samples > 0, "validated by the caller");
        Batcher {
            open: vec![Batch::default(); shards],
            max_samples,
            max_span_ms,
            now_ms: i64::MIN,
        }
    }

    pub fn shard_of(&self, series: u32) -> usize {
        series as usize % self.open.len()
    }

    /// Adds the stream's next sample; `emit` receives every batch this closes, with its
    /// shard: batches whose span the sample's timestamp ends, then the sample's own batch
    /// if it is now full.
    pub fn push(&mut self, series: u32, sample: Sample, mut emit: impl FnMut(usize, Batch)) {
        if sample.timestamp_ms != self.now_ms {
            self.now_ms = sample.timestamp_ms;
            if let Some(span) = self.max_span_ms {
                for (shard, batch) in self.open.iter_mut().enumerate() {
                    let ended = batch
                        .samples
                        .first()
                        .is_some_and(|(_, first)| first.timestamp_ms + span <= sample.timestamp_ms);
                    if ended {
                        emit(shard, std::mem::take(batch));
                    }
                }
            }
        }
        let shard = self.shard_of(series);
        let batch = &mut self.open[shard];
        batch.samples.push((series, sample));
        if batch.samples.len() >= self.max_samples {
            emit(shard, std::mem::take(batch));
        }
    }

    /// Closes the batches still open, at the end of the stream.
    pub fn finish(self, mut emit: impl FnMut(usize, Batch)) {
        for (shard, batch) in self.open.into_iter().enumerate() {
            if !batch.samples.is_empty() {
                emit(shard, batch);
            }
        }
    }
}
