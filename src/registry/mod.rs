//! The series registry: every active series, interned once, with its latest sample.
//!
//! In: validated `WriteBatch`es and the time they arrived. Out: the samples accepted
//! (newer than their series' last one), tagged with a compact `SeriesId`, plus counts of
//! what was dropped and why. It owns the label strings (see `symbols`), enforces the
//! active-series cap, and evicts series that ended with a stale marker or stopped
//! arriving. It is a plain struct: the server wraps it in a mutex, tests drive it directly.

mod symbols;

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::ingest::{MetricType, Sample, WriteBatch, is_stale_marker};
use symbols::SymbolTable;

/// A series' identity for the pipeline: slot and generation, so that an id is never
/// confused with a later series that reuses the slot after eviction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId(u64);

impl SeriesId {
    fn new(slot: u32, generation: u32) -> SeriesId {
        SeriesId(u64::from(generation) << 32 | u64::from(slot))
    }

    /// An id for tests outside the registry (slot `slot`, first generation).
    #[cfg(test)]
    pub(crate) fn for_tests(slot: u32) -> SeriesId {
        SeriesId::new(slot, 0)
    }

    /// An id for tests outside the registry, of a slot reused `generation` times.
    #[cfg(test)]
    pub(crate) fn for_tests_of_generation(slot: u32, generation: u32) -> SeriesId {
        SeriesId::new(slot, generation)
    }

    /// Its slot in the registry: ids are dense, a slot is reused after an eviction.
    pub(crate) fn slot(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }

    /// How many series held its slot before it.
    pub(crate) fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// A sample the registry accepted, on its way to the pipeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AcceptedSample {
    pub series: SeriesId,
    pub timestamp_ms: i64,
    /// May be the stale marker, which ends the series.
    pub value: f64,
}

/// How far past the server's clock a sample may be, as Prometheus's own receiver allows.
/// The pipeline's step clock follows the newest sample: one sender whose clock runs
/// ahead would otherwise move it, and every entity's steps, into its future.
pub const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

/// What one batch did to the registry.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub accepted: u64,
    /// Older than the series' last sample.
    pub out_of_order: u64,
    /// Same timestamp as the series' last sample.
    pub duplicate: u64,
    /// Later than [`MAX_AHEAD_MS`] past the server's clock.
    pub too_far_ahead: u64,
    /// Samples of new series refused because the active-series cap was reached.
    pub series_limit: u64,
    pub series_created: u64,
    pub stale_markers: u64,
}

/// The latest state of one series, as the registry reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSnapshot {
    pub labels: Vec<(String, String)>,
    pub timestamp_ms: i64,
    pub value: f64,
    pub metric_type: MetricType,
    pub stale: bool,
}

struct Series {
    /// Symbol ids: name, value, name, value, ... in label order.
    labels: Box<[u32]>,
    hash: u64,
    last_timestamp_ms: i64,
    last_value: f64,
    /// Arrival time of the last accepted sample (not its timestamp: replays of old data
    /// must not be evicted at once).
    last_seen_ms: i64,
    start_timestamp_ms: i64,
    metric_type: MetricType,
    stale: bool,
}

struct Slot {
    generation: u32,
    series: Option<Series>,
}

pub struct Registry {
    symbols: SymbolTable,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    /// Slot numbers, found by label-set hash.
    index: HashTable<u32>,
    active: usize,
    max_active: usize,
}

impl Registry {
    pub fn new(max_active: usize) -> Registry {
        Registry {
            symbols: SymbolTable::default(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            index: HashTable::new(),
            active: 0,
            max_active,
        }
    }

    pub fn active_series(&self) -> usize {
        self.active
    }

    pub fn max_active(&self) -> usize {
        self.max_active
    }

    pub fn at_limit(&self) -> bool {
        self.active >= self.max_active
    }

    /// Applies a validated batch, appending accepted samples to `accepted`. `now_ms` is
    /// the server's clock: samples more than [`MAX_AHEAD_MS`] past it are dropped.
    pub fn apply(
        &mut self,
        batch: &WriteBatch,
        now_ms: i64,
        accepted: &mut Vec<AcceptedSample>,
    ) -> ApplyOutcome {
        let mut outcome = ApplyOutcome::default();
        let latest_allowed_ms = now_ms.saturating_add(MAX_AHEAD_MS);
        for entry in batch.series() {
            let samples = batch.samples(entry);
            let is_ahead = |s: &Sample| s.timestamp_ms > latest_allowed_ms;
            // Nothing to keep: no series is made for it. Usually one comparison.
            if samples.iter().all(is_ahead) {
                outcome.too_far_ahead += samples.len() as u64;
                continue;
            }
            let slot = match self.find(batch, entry) {
                Some(slot) => slot,
                None if self.at_limit() => {
                    let ahead = samples.iter().filter(|s| is_ahead(s)).count();
                    outcome.too_far_ahead += ahead as u64;
                    outcome.series_limit += (samples.len() - ahead) as u64;
                    continue;
                }
                None => {
                    outcome.series_created += 1;
                    self.insert(batch, entry)
                }
            };
            let generation = self.slots[slot].generation;
            let series = self.slots[slot]
                .series
                .as_mut()
                .expect("indexed slot is live");
            if entry.metric_type != MetricType::Unknown {
                series.metric_type = entry.metric_type;
            }
            if entry.start_timestamp_ms != 0 {
                series.start_timestamp_ms = entry.start_timestamp_ms;
            }
            for sample in samples {
                if is_ahead(sample) {
                    outcome.too_far_ahead += 1;
                    continue;
                }
                if sample.timestamp_ms < series.last_timestamp_ms {
                    outcome.out_of_order += 1;
                    continue;
                }
                if sample.timestamp_ms == series.last_timestamp_ms {
                    outcome.duplicate += 1;
                    continue;
                }
                series.last_timestamp_ms = sample.timestamp_ms;
                series.last_value = sample.value;
                series.last_seen_ms = now_ms;
                series.stale = is_stale_marker(sample.value);
                outcome.stale_markers += u64::from(series.stale);
                outcome.accepted += 1;
                accepted.push(AcceptedSample {
                    series: SeriesId::new(slot as u32, generation),
                    timestamp_ms: sample.timestamp_ms,
                    value: sample.value,
                });
            }
        }
        outcome
    }

    fn find(&self, batch: &WriteBatch, entry: &crate::ingest::SeriesEntry) -> Option<usize> {
        let (slots, symbols) = (&self.slots, &self.symbols);
        let matches = |&slot: &u32| {
            let series = slots[slot as usize]
                .series
                .as_ref()
                .expect("indexed slot is live");
            let labels = batch.labels(entry);
            series.labels.len() == labels.len() * 2
                && series
                    .labels
                    .chunks_exact(2)
                    .zip(labels)
                    .all(|(ids, (name, value))| {
                        symbols.text(ids[0]).as_bytes() == name
                            && symbols.text(ids[1]).as_bytes() == value
                    })
        };
        self.index
            .find(entry.hash, matches)
            .map(|&slot| slot as usize)
    }

    fn insert(&mut self, batch: &WriteBatch, entry: &crate::ingest::SeriesEntry) -> usize {
        let mut labels = Vec::with_capacity(entry.labels.len() * 2);
        for (name, value) in batch.labels(entry) {
            // The decoder checked UTF-8; a failure here would be a decoder bug.
            let text = |bytes| std::str::from_utf8(bytes).expect("validated label");
            labels.push(self.symbols.acquire(text(name)));
            labels.push(self.symbols.acquire(text(value)));
        }
        let series = Series {
            labels: labels.into_boxed_slice(),
            hash: entry.hash,
            last_timestamp_ms: i64::MIN,
            last_value: 0.0,
            last_seen_ms: 0,
            start_timestamp_ms: 0,
            metric_type: MetricType::Unknown,
            stale: false,
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                let entry = &mut self.slots[slot as usize];
                entry.generation = entry.generation.wrapping_add(1);
                entry.series = Some(series);
                slot
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    series: Some(series),
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        self.index.insert_unique(entry.hash, slot, |&s| {
            slots[s as usize].series.as_ref().expect("live").hash
        });
        self.active += 1;
        slot as usize
    }

    /// Removes series whose last sample was a stale marker, and series not seen since
    /// `now_ms - idle_ms`; appends their ids to `evicted`.
    pub fn evict(&mut self, now_ms: i64, idle_ms: i64, evicted: &mut Vec<SeriesId>) {
        for slot in 0..self.slots.len() {
            let Some(series) = &self.slots[slot].series else {
                continue;
            };
            if !series.stale && series.last_seen_ms > now_ms.saturating_sub(idle_ms) {
                continue;
            }
            let series = self.slots[slot].series.take().expect("checked above");
            for &id in series.labels.iter() {
                self.symbols.release(id);
            }
            if let Ok(entry) = self
                .index
                .find_entry(series.hash, |&other| other as usize == slot)
            {
                entry.remove();
            }
            self.free_slots.push(slot as u32);
            self.active -= 1;
            evicted.push(SeriesId::new(slot as u32, self.slots[slot].generation));
        }
    }

    /// The series' labels and latest sample, or `None` once it was evicted.
    pub fn snapshot(&self, id: SeriesId) -> Option<SeriesSnapshot> {
        let slot = self.slots.get(id.slot())?;
        if slot.generation != id.generation() {
            return None;
        }
        slot.series.as_ref().map(|series| self.snapshot_of(series))
    }

    fn snapshot_of(&self, series: &Series) -> SeriesSnapshot {
        SeriesSnapshot {
            labels: series
                .labels
                .chunks_exact(2)
                .map(|ids| {
                    (
                        self.symbols.text(ids[0]).to_owned(),
                        self.symbols.text(ids[1]).to_owned(),
                    )
                })
                .collect(),
            timestamp_ms: series.last_timestamp_ms,
            value: series.last_value,
            metric_type: series.metric_type,
            stale: series.stale,
        }
    }

    /// Every live series whose metric name (`__name__`) is `name`, up to `limit`. The
    /// scan holds the lock writes wait for: it compares symbol ids, not strings.
    pub fn series_named(&self, name: &str, limit: usize) -> Vec<SeriesSnapshot> {
        let wanted = match (self.symbols.find("__name__"), self.symbols.find(name)) {
            (Some(label), Some(value)) => [label, value],
            _ => return Vec::new(),
        };
        self.slots
            .iter()
            .filter_map(|slot| slot.series.as_ref())
            .filter(|series| series.labels.chunks_exact(2).any(|ids| ids == wanted))
            .take(limit)
            .map(|series| self.snapshot_of(series))
            .collect()
    }

    /// A fingerprint of the whole registry's content, for tests that check a rejected
    /// request changed nothing.
    pub fn digest(&self) -> u64 {
        let state = foldhash::fast::FixedState::with_seed(7);
        let mut digest = self.active as u64;
        for (slot, entry) in self.slots.iter().enumerate() {
            if let Some(series) = &entry.series {
                digest = digest.wrapping_add(state.hash_one((
                    slot,
                    series.hash,
                    series.last_timestamp_ms,
                    series.last_value.to_bits(),
                    series.last_seen_ms,
                    series.metric_type as u8,
                    series.stale,
                )));
            }
        }
        digest
    }

    /// Strings interned for the live series.
    pub fn symbol_count(&self) -> usize {
        self.symbols.len()
    }
}

#[cfg(test)]
mod tests;
