//! Collects samples from any number of files into one `Dataset`.
//!
//! In: label sets (interned once each, so that a series read from two files is one
//! series) and samples tagged with the file and line they came from. Out: the `Dataset`,
//! series sorted by labels, each series' samples sorted by time; a timestamp seen twice
//! with the same value is kept once; with different values, [`Duplicates`] says which is
//! kept, or that it is an error naming both places.

use std::collections::HashMap;
use std::path::PathBuf;

use super::error::{At, Conflict, DatasetError, Problem};
use super::selector::{Labels, format_series};
use super::time::format_seconds;
use super::{Dataset, Duplicates, Loaded, ResolvedDuplicates, Sample, SeriesData};

/// Identifies an interned series while reading.
pub type SeriesIndex = u32;

/// A sample and where it was read, kept until duplicates have been checked.
#[derive(Debug, Clone, Copy)]
pub struct Located {
    pub timestamp_ms: i64,
    pub value: f64,
    pub file: u32,
    pub line: u32,
}

#[derive(Default)]
pub struct Builder {
    /// The files read so far; `Located::file` indexes this.
    paths: Vec<PathBuf>,
    index: HashMap<Labels, SeriesIndex>,
    series: Vec<(Labels, Vec<Located>)>,
    /// The metric names kept; None keeps every series. A series of another name is
    /// interned (readers map keys to series) but its samples are dropped as they come.
    names: Option<Vec<String>>,
    /// Per series, whether its samples are kept.
    kept: Vec<bool>,
}

impl Builder {
    /// A builder that keeps only the series of these metric names.
    pub fn keeping(names: &[&str]) -> Builder {
        Builder {
            names: Some(names.iter().map(|&name| name.to_owned()).collect()),
            ..Builder::default()
        }
    }

    /// Registers a file and returns its number for `Located::file`.
    pub fn add_file(&mut self, path: PathBuf) -> u32 {
        self.paths.push(path);
        u32::try_from(self.paths.len() - 1).expect("fewer than 2^32 files")
    }

    pub fn intern(&mut self, labels: Labels) -> SeriesIndex {
        if let Some(&index) = self.index.get(&labels) {
            return index;
        }
        let index = SeriesIndex::try_from(self.series.len()).expect("fewer than 2^32 series");
        let name = labels.iter().find(|(n, _)| n == "__name__").map(|(_, v)| v);
        let kept = match &self.names {
            None => true,
            Some(names) => name.is_some_and(|name| names.contains(name)),
        };
        self.index.insert(labels.clone(), index);
        self.series.push((labels, Vec::new()));
        self.kept.push(kept);
        index
    }

    pub fn push(&mut self, series: SeriesIndex, sample: Located) {
        if self.kept[series as usize] {
            self.series[series as usize].1.push(sample);
        }
    }

    pub fn finish(self, duplicates: Duplicates) -> Result<Loaded, DatasetError> {
        let mut series = Vec::with_capacity(self.series.len());
        let mut dropped = vec![0usize; self.paths.len()];
        let kept = self.series.into_iter().zip(self.kept);
        for (labels, mut located) in kept.filter_map(|(series, kept)| kept.then_some(series)) {
            // Stable, so that among equal timestamps the first one read comes first.
            located.sort_by_key(|sample| sample.timestamp_ms);
            let mut samples: Vec<Sample> = Vec::with_capacity(located.len());
            let mut kept: Option<Located> = None;
            for sample in located {
                if let Some(first) = kept.filter(|k| k.timestamp_ms == sample.timestamp_ms) {
                    if same_value(first.value, sample.value) {
                        continue;
                    }
                    match duplicates {
                        Duplicates::Error => {
                            return Err(conflict(&self.paths, &labels, first, sample));
                        }
                        Duplicates::First => {}
                        Duplicates::Last => {
                            if let Some(latest) = samples.last_mut() {
                                latest.value = sample.value;
                            }
                            kept = Some(sample);
                        }
                    }
                    dropped[sample.file as usize] += 1;
                    continue;
                }
                samples.push(Sample {
                    timestamp_ms: sample.timestamp_ms,
                    value: sample.value,
                });
                kept = Some(sample);
            }
            series.push(SeriesData { labels, samples });
        }
        series.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        let resolved = self
            .paths
            .into_iter()
            .zip(dropped)
            .filter(|&(_, samples)| samples > 0)
            .map(|(path, samples)| ResolvedDuplicates { path, samples })
            .collect();
        Ok(Loaded {
            dataset: Dataset { series },
            resolved,
        })
    }
}

/// Equal bits, or both NaN: a CSV cell cannot tell one NaN from another.
fn same_value(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn conflict(paths: &[PathBuf], labels: &Labels, first: Located, second: Located) -> DatasetError {
    let path = &paths[second.file as usize];
    let first_place = match first.file == second.file {
        true => format!("line {}", first.line),
        false => format!(
            "{} line {}",
            paths[first.file as usize].display(),
            first.line
        ),
    };
    DatasetError {
        path: path.clone(),
        at: At::line(second.line.into()),
        problem: Problem::Conflict(Box::new(Conflict {
            series: format_series(labels),
            time: format_seconds(second.timestamp_ms),
            first: first_place,
            first_value: first.value,
            value: second.value,
        })),
    }
}
