//! The anomaly score: how unusual a signal's latest value is against the signal's own
//! history, on a scale that means the same for every series (above 1: anomalous, as
//! vmanomaly's `anomaly_score`).
//!
//! In: the signal's finite values, one per step that has one, with the time of the step.
//! Out: a score ≥ 0 per value. Gaps are skipped: the detector sees the values that exist.
//!
//! Per value:
//!
//! 1. **Forecast** it two ways: the level (an EWMA, weight [`LEVEL_RATE`]) and the level
//!    plus the seasonal offset of its time of day (Holt–Winters' additive season without
//!    trend, weight [`SEASON_RATE`] per visit, in buckets of five minutes, or of one step
//!    when steps are longer). Whichever has the smaller running mean absolute error
//!    (weight [`SPREAD_RATE`]) is used, so a series with a daily cycle is judged against
//!    its cycle and one without against its level: the period is found by the forecast
//!    that works, with no separate detection.
//! 2. **Normalise** the residual by its running mean absolute size (same weight). The
//!    spread is floored at the value's quantum (the smallest change seen between two
//!    values) and at 1/1000 of the range seen, so that a flat or integer series does not
//!    divide by zero or by a rounding error.
//! 3. **Tail probability** of that ratio against its own history, as HTM's anomaly
//!    likelihood turns raw scores into "how unusual is this against their long history"
//!    (Ahmad et al. 2017), but without assuming them normal: decayed counts in
//!    log-spaced bins (`Tail`), each value's weight halving over the anomaly memory.
//!    A residual larger than any seen in that memory has p ≈ [`PRIOR`] / values seen, so
//!    a new series cannot reach a high score before it has a history to be unusual
//!    against (its warm-up needs no special case).
//! 4. **Score**: `−log10(p) / 2.5`, so 1 is a tail probability of about 0.3 %.
//! 5. **A surprise that keeps a rhythm is expected**: a score of 1 or more that comes
//!    the same interval after the latest surprise as the three before it were apart (see
//!    `rhythm`), as a nightly job's spike does, is multiplied by [`RHYTHM_DAMPING`].
//! 6. **One event, one detection**: after a score of 1 or more, the next
//!    [`QUIET_VALUES`] values read 0.
//!
//! Cost: O(1) per value plus a sum over at most [`BINS`] counts; memory: 288 two-byte
//! season buckets for steps of 5 minutes or less (`Offsets`), [`BINS`] `f32` counts
//! and a few words.

mod rhythm;
#[cfg(test)]
mod tests;

use rhythm::Rhythm;

/// Weight of a new value in the level.
pub const LEVEL_RATE: f64 = 0.2;
/// Weight of a new value in its season bucket.
pub const SEASON_RATE: f64 = 0.1;
/// Weight of a new residual in the forecasts' mean absolute errors.
pub const SPREAD_RATE: f64 = 0.01;
/// The spread is at least this share of the range of values seen.
const RANGE_FLOOR: f64 = 1e-3;
/// Decades of tail probability per unit of score.
const DECADES_PER_UNIT: f64 = 2.5;
/// What the score of a surprise that keeps the rhythm of the ones before is multiplied
/// by. With those in its memory, the tail gives it at most about 1.6, so it reads below 1.
pub const RHYTHM_DAMPING: f64 = 0.5;
/// Values that read 0 after a detection.
pub const QUIET_VALUES: u16 = 100;
/// Pseudo-count of values beyond anything seen.
pub const PRIOR: f64 = 0.1;

/// Log-spaced bins of the normalised residual: 8 per decade from 0.1 to 10⁵.
pub const BINS: usize = 48;
const LOG_LOW: f64 = -1.0;
const BINS_PER_DECADE: f64 = 8.0;
/// A day, the season's period.
const DAY_MS: i64 = 86_400_000;
/// The width of a season bucket for steps of 5 minutes or less.
const BUCKET_MS: i64 = 300_000;
/// Fewer buckets than this (steps of 8 hours or more): no season.
const MIN_BUCKETS: i64 = 4;

/// The season's layout, derived from the step once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Season {
    bucket_ms: i64,
    buckets: usize,
}

impl Season {
    /// Buckets of 5 minutes (of one step when steps are longer) over a day.
    pub fn for_step(step_ms: i64) -> Season {
        let bucket_ms = step_ms.max(BUCKET_MS);
        let buckets = (DAY_MS + bucket_ms - 1) / bucket_ms;
        Season {
            bucket_ms,
            buckets: if buckets >= MIN_BUCKETS {
                buckets as usize
            } else {
                0
            },
        }
    }

    /// The bucket of a time, 0 without a season.
    fn bucket(&self, t_ms: i64) -> usize {
        if self.buckets == 0 {
            return 0;
        }
        ((t_ms.rem_euclid(DAY_MS) / self.bucket_ms) as usize).min(self.buckets - 1)
    }
}

/// One signal's anomaly detector (see the module's documentation).
#[derive(Debug, Clone)]
pub struct Detector {
    /// NaN before the first value.
    level: f64,
    previous: f64,
    /// Per bucket, the mean offset from the level.
    offsets: Offsets,
    /// Running mean absolute errors of the level forecast and of the seasonal one.
    error_level: f64,
    error_seasonal: f64,
    /// Running mean absolute size of the residual used; NaN until the second value.
    spread: f64,
    /// Smallest nonzero change between two values; +∞ until one.
    quantum: f64,
    low: f64,
    high: f64,
    tail: Tail,
    rhythm: Rhythm,
    /// Values left to read 0 after a detection.
    quiet: u16,
}

impl Detector {
    /// A detector whose tail forgets with a time constant of `memory_values` values.
    pub fn new(season: Season, memory_values: f64) -> Detector {
        Detector {
            level: f64::NAN,
            previous: f64::NAN,
            offsets: Offsets::new(season.buckets),
            error_level: f64::NAN,
            error_seasonal: f64::NAN,
            spread: f64::NAN,
            quantum: f64::INFINITY,
            low: f64::INFINITY,
            high: f64::NEG_INFINITY,
            tail: Tail::new(memory_values),
            rhythm: Rhythm::default(),
            quiet: 0,
        }
    }

    /// Scores a finite value at time `t_ms`, then learns from it.
    pub fn observe(&mut self, season: &Season, t_ms: i64, v: f64) -> f64 {
        self.low = self.low.min(v);
        self.high = self.high.max(v);
        if self.level.is_nan() {
            self.level = v;
            self.previous = v;
            return 0.0;
        }
        let change = (v - self.previous).abs();
        if change > 0.0 {
            self.quantum = self.quantum.min(change);
        }
        self.previous = v;

        let bucket = season.bucket(t_ms);
        let offset = self.offsets.get(bucket);
        let level_residual = v - self.level;
        let seasonal_residual = if offset.is_nan() {
            level_residual
        } else {
            level_residual - offset
        };
        if self.error_level.is_nan() {
            self.error_level = level_residual.abs();
            self.error_seasonal = seasonal_residual.abs();
        }
        let seasonal = self.error_seasonal < self.error_level;
        let residual = if seasonal {
            seasonal_residual
        } else {
            level_residual
        }
        .abs();
        let floor = [
            self.quantum,
            RANGE_FLOOR * (self.high - self.low),
            f64::MIN_POSITIVE,
        ]
        .into_iter()
        .filter(|f| f.is_finite())
        .fold(0.0, f64::max);
        if self.spread.is_nan() {
            self.spread = residual.max(floor);
        }
        let ratio = residual / self.spread.max(floor);
        // + 0.0: a probability of 1 scores 0, not −0.
        let mut score = (-self.tail.probability(ratio).log10() + 0.0) / DECADES_PER_UNIT;
        if score >= 1.0 && self.rhythm.keeps(t_ms) {
            score *= RHYTHM_DAMPING;
        }
        if self.quiet > 0 {
            self.quiet -= 1;
            score = 0.0;
        } else if score >= 1.0 {
            self.quiet = QUIET_VALUES;
        }

        self.tail.add(ratio);
        self.error_level += SPREAD_RATE * (level_residual.abs() - self.error_level);
        self.error_seasonal += SPREAD_RATE * (seasonal_residual.abs() - self.error_seasonal);
        self.spread += SPREAD_RATE * (residual.max(floor) - self.spread);
        let learned = if offset.is_nan() {
            level_residual
        } else {
            offset + SEASON_RATE * (level_residual - offset)
        };
        self.offsets.set(bucket, learned);
        let target = if seasonal {
            v - self.offsets.get(bucket)
        } else {
            v
        };
        self.level += LEVEL_RATE * (target - self.level);
        score
    }

    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.offsets.slots)
    }

    /// The bytes this detector holds: inline and on the heap.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Detector>() + self.heap_bytes()
    }
}

/// The season's offsets, two bytes each: multiples of a power-of-two unit, about 1/16 000
/// of the largest offset (well under the spread's floor of 1/1000 of the range). The unit
/// is set by the first offset that is not 0 and doubles, halving every slot, when an
/// offset outgrows it.
#[derive(Debug, Clone)]
struct Offsets {
    /// [`UNVISITED`] until the bucket is first learned.
    slots: Box<[i16]>,
    /// 0 until an offset other than 0 is stored.
    unit: f64,
}

const UNVISITED: i16 = i16::MIN;
/// The first unit leaves the first offset this many units (room to grow fourfold).
const FIRST_UNITS: f64 = 8192.0;

impl Offsets {
    fn new(buckets: usize) -> Offsets {
        Offsets {
            slots: vec![UNVISITED; buckets].into_boxed_slice(),
            unit: 0.0,
        }
    }

    /// The bucket's offset; NaN when it was never learned (or there is no season).
    fn get(&self, bucket: usize) -> f64 {
        match self.slots.get(bucket) {
            Some(&slot) if slot != UNVISITED => f64::from(slot) * self.unit,
            _ => f64::NAN,
        }
    }

    /// Stores an offset; a non-finite one is not stored.
    fn set(&mut self, bucket: usize, offset: f64) {
        if bucket >= self.slots.len() || !offset.is_finite() {
            return;
        }
        if self.unit == 0.0 && offset != 0.0 {
            self.unit = (offset.abs() / FIRST_UNITS)
                .log2()
                .ceil()
                .exp2()
                .max(f64::MIN_POSITIVE);
        }
        let mut units = if self.unit == 0.0 {
            0.0
        } else {
            (offset / self.unit).round()
        };
        while units.abs() > f64::from(i16::MAX) {
            self.unit *= 2.0;
            for slot in self.slots.iter_mut().filter(|s| **s != UNVISITED) {
                *slot = (f64::from(*slot) / 2.0).round() as i16;
            }
            units = (offset / self.unit).round();
        }
        self.slots[bucket] = units as i16;
    }
}

/// Decayed counts of a positive quantity in log-spaced bins: the share of its history
/// at or above a value. Decay without touching every bin: each new value is added with
/// a weight that grows by `1/(1 − rate)`, which is the same as shrinking all earlier
/// counts; the counts are rescaled before the weight gets large.
#[derive(Debug, Clone)]
struct Tail {
    counts: [f32; BINS],
    /// The weight of every value, counted or not (a ratio of 0 has no bin), in `f64`:
    /// it is compared with small shares of itself.
    total: f64,
    /// The weight of the next value.
    weight: f64,
    growth: f64,
}

/// Past this weight the counts are rescaled to weight 1 (well within `f32`).
const RESCALE_AT: f64 = 1e20;

impl Tail {
    fn new(memory_values: f64) -> Tail {
        Tail {
            counts: [0.0; BINS],
            total: 0.0,
            weight: 1.0,
            growth: 1.0 / (1.0 - 1.0 / memory_values.max(1.0)).max(f64::MIN_POSITIVE),
        }
    }

    /// Position of `x` in bins, continuous; None for 0 (no deviation at all).
    fn position(x: f64) -> Option<f64> {
        if x.is_nan() || x <= 0.0 {
            return None;
        }
        let at = (x.log10() - LOG_LOW) * BINS_PER_DECADE;
        Some(at.clamp(0.0, BINS as f64 - 1e-9))
    }

    /// The share of the history at or above `x` (within its bin, linearly), with
    /// [`PRIOR`] values beyond everything.
    fn probability(&self, x: f64) -> f64 {
        let Some(at) = Tail::position(x) else {
            return 1.0;
        };
        let bin = at as usize;
        let within = f64::from(self.counts[bin]) * (1.0 - at.fract());
        let above: f64 = self.counts[bin + 1..].iter().map(|&c| f64::from(c)).sum();
        let prior = PRIOR * self.weight;
        ((above + within + prior) / (self.total + prior)).min(1.0)
    }

    fn add(&mut self, x: f64) {
        self.weight *= self.growth;
        if let Some(at) = Tail::position(x) {
            self.counts[at as usize] += self.weight as f32;
        }
        self.total += self.weight;
        if self.weight > RESCALE_AT {
            for count in &mut self.counts {
                *count = (f64::from(*count) / self.weight) as f32;
            }
            self.total /= self.weight;
            self.weight = 1.0;
        }
    }
}
