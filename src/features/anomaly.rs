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
//! 3. **A shift of the recent mean**: the value less its season's offset, against a
//!    baseline that follows it, averaged over about the latest 20 values and measured in
//!    their mean deviation (see `shift`). A level that moved and stays moved scores here
//!    for a while, where each value alone is a small residual.
//! 4. **Tail probability** of the ratio and of the shift, each against its own history,
//!    as HTM's anomaly likelihood turns raw scores into "how unusual is this against
//!    their long history" (Ahmad et al. 2017), but without assuming them normal:
//!    decayed counts in log-spaced bins (see `tail`), each value's weight halving over the
//!    anomaly memory. Either can detect: the smaller probability, doubled. A value larger
//!    than any seen in that memory has p ≈ [`PRIOR`] / values seen, so a new series
//!    cannot reach a high score before it has a history to be unusual against (its
//!    warm-up needs no special case).
//! 5. **Score**: `−log10(p) / 2.1`, so 1 is a (doubled) tail probability of 0.8 %. The
//!    same level 1 starts the quiet period (step 7), so the score is read at the level
//!    the detector acts on: swept over the NAB files, the best single threshold lands at
//!    1.0 (see docs/nab.md).
//! 6. **A surprise that keeps a rhythm is expected**: a score of 1 or more that keeps
//!    the interval of the three surprises before it, or comes at the time of day (of
//!    week) of one of the latest four a few days (weeks) before, as a nightly job's spike
//!    does (see `rhythm`), is multiplied by [`RHYTHM_DAMPING`].
//! 7. **One event, one detection**: after a score of 1 or more, the next
//!    [`QUIET_VALUES`] values read 0.
//!
//! Cost: O(1) per value plus sums over at most 64 counts; memory: 288 two-byte season
//! buckets for steps of 5 minutes or less (`Offsets`), 64 `f32` counts and a few words,
//! under 1 KiB in all (`cargo bench --bench anomaly` prints it).

mod rhythm;
mod shift;
mod tail;
#[cfg(test)]
mod tests;

use rhythm::Rhythm;
use shift::Shift;
pub use tail::PRIOR;
use tail::Tails;

/// Weight of a new value in the level.
pub const LEVEL_RATE: f64 = 0.2;
/// Weight of a new value in its season bucket.
pub const SEASON_RATE: f64 = 0.1;
/// Weight of a new residual in the forecasts' mean absolute errors.
pub const SPREAD_RATE: f64 = 0.01;
/// The spread is at least this share of the range of values seen.
const RANGE_FLOOR: f64 = 1e-3;
/// Decades of tail probability per unit of score.
const DECADES_PER_UNIT: f64 = 2.1;
/// What the score of a surprise that keeps the rhythm of the ones before is multiplied
/// by. With those in its memory, the tail gives it at most about 1.9, so it reads below 1.
pub const RHYTHM_DAMPING: f64 = 0.5;
/// Values that read 0 after a detection.
pub const QUIET_VALUES: u16 = 100;
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
    shift: Shift,
    tails: Tails,
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
            shift: Shift::default(),
            tails: Tails::new(memory_values),
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
        let deseasonalised = if offset.is_nan() { v } else { v - offset };
        let shift = self.shift.observe(deseasonalised, floor);
        // Either view can detect: the smaller tail probability, doubled (Bonferroni).
        let p = self
            .tails
            .ratio_probability(ratio)
            .min(self.tails.shift_probability(shift));
        // + 0.0: a probability of 1 scores 0, not −0.
        let mut score = (-(2.0 * p).min(1.0).log10() + 0.0) / DECADES_PER_UNIT;
        if score >= 1.0 && self.rhythm.keeps(t_ms) {
            score *= RHYTHM_DAMPING;
        }
        if self.quiet > 0 {
            self.quiet -= 1;
            score = 0.0;
        } else if score >= 1.0 {
            self.quiet = QUIET_VALUES;
        }

        self.tails.add(ratio, shift);
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
