//! A dataset's series split into parts that replay apart, each through its own engine,
//! and give every signal's entities as one replay does: what lets `features` and
//! training replay over every core.
//!
//! In: a pipeline, a dataset and the most parts wanted. Out: the series of each part.
//! The split is by the values of the first entity label that every signal is
//! partitioned by ([`crate::promql::Plan::partitioned_by`]: `instance` for the default
//! pipeline): each value's series in one part, the parts balanced by samples (the
//! largest values first, each to the lightest part). One part when no label partitions
//! every signal; always at least one.

use std::collections::BTreeMap;

use super::{Pipeline, Signal};
use crate::dataset::{Dataset, SeriesData};

impl Pipeline {
    /// `dataset`'s series in at most `n` parts that replay apart (see the module doc).
    pub fn replay_parts<'a>(&self, dataset: &'a Dataset, n: usize) -> Vec<Vec<&'a SeriesData>> {
        let label = self.entity_labels.iter().find(|label| {
            let partitioned = |signal: &Signal| signal.plan.partitioned_by(label);
            self.signals.iter().all(partitioned)
        });
        let Some(label) = label.filter(|_| n > 1) else {
            return vec![dataset.series.iter().collect()];
        };
        let mut by_value: BTreeMap<&str, (usize, Vec<&SeriesData>)> = BTreeMap::new();
        for series in &dataset.series {
            let value = series
                .labels
                .iter()
                .find(|(name, _)| name == label)
                .map_or("", |(_, value)| value.as_str());
            let group = by_value.entry(value).or_default();
            group.0 += series.samples.len();
            group.1.push(series);
        }
        let mut groups: Vec<(usize, Vec<&SeriesData>)> = by_value.into_values().collect();
        groups.sort_by_key(|(samples, _)| std::cmp::Reverse(*samples));
        let mut parts: Vec<(usize, Vec<&SeriesData>)> = vec![(0, Vec::new()); n.min(groups.len())];
        for (samples, series) in groups {
            let lightest = parts
                .iter_mut()
                .min_by_key(|(load, _)| *load)
                .expect("at least one part");
            lightest.0 += samples;
            lightest.1.extend(series);
        }
        parts.into_iter().map(|(_, series)| series).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_reading_across_instances_keeps_the_replay_whole() {
        let dataset = crate::dataset::lab_dev();
        let mut pipeline = Pipeline::embedded_default();
        assert_eq!(pipeline.replay_parts(&dataset, 3).len(), 3, "by instance");
        assert_eq!(pipeline.replay_parts(&dataset, 1).len(), 1);
        let mut across = pipeline.signals[0].clone();
        across.plan = crate::promql::Plan::parse("sum(node_load1)").unwrap();
        pipeline.signals.push(across);
        assert_eq!(pipeline.replay_parts(&dataset, 3).len(), 1);
    }
}
