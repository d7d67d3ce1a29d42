//! The dataset's samples in global time order: a k-way merge over its series.
//!
//! In: a [`Dataset`], each series already sorted by time. Out: `(series index, sample)`
//! pairs ordered by timestamp, ties by series index (the dataset's label-set order), so
//! every series' samples come out in their own order and the merge is deterministic.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::dataset::{Dataset, Sample};

/// Iterator over every sample of a dataset in time order.
pub struct TimeOrder<'d> {
    dataset: &'d Dataset,
    /// The next unsent sample of each series that has one: (timestamp, series index).
    heap: BinaryHeap<Reverse<(i64, u32)>>,
    /// Per series, the position of its next sample.
    next: Vec<usize>,
}

impl<'d> TimeOrder<'d> {
    pub fn new(dataset: &'d Dataset) -> TimeOrder<'d> {
        let heap = dataset
            .series
            .iter()
            .enumerate()
            .filter_map(|(index, series)| {
                let first = series.samples.first()?;
                Some(Reverse((first.timestamp_ms, series_id(index))))
            })
            .collect();
        TimeOrder {
            dataset,
            heap,
            next: vec![0; dataset.series.len()],
        }
    }
}

impl Iterator for TimeOrder<'_> {
    type Item = (u32, Sample);

    fn next(&mut self) -> Option<(u32, Sample)> {
        let Reverse((_, series)) = self.heap.pop()?;
        let samples = &self.dataset.series[series as usize].samples;
        let position = &mut self.next[series as usize];
        let sample = samples[*position];
        *position += 1;
        if let Some(following) = samples.get(*position) {
            self.heap.push(Reverse((following.timestamp_ms, series)));
        }
        Some((series, sample))
    }
}

/// A series index as the compact id batches carry.
pub fn series_id(index: usize) -> u32 {
    u32::try_from(index).expect("a dataset holds fewer than 2^32 series")
}
