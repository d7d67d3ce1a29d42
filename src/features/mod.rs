//! The feature engine: one signal's value at each evaluation step in, features out,
//! incrementally, in memory bounded by the windows. Pure code: no I/O, no clock.
//!
//! In: a checked [`FeatureSpec`] (shared by every signal that uses it) and, per signal
//! and entity, [`SignalFeatures::update`] once per step with the signal's value, `None`
//! when it had none (series absent or stale). Out: [`SignalFeatures::write`] appends one
//! `f64` per column of [`FeatureSpec::names`], NaN where a feature is undefined. `serve`
//! and training use this same code.
//!
//! # Steps and gaps
//!
//! A time maps to the nearest step counted from the first update's time (differences
//! saturate at the `i64` range). An update for a step not after the latest one is
//! ignored; steps skipped between two updates are gaps, and a jump past the longest window
//! empties the windows (EWMAs decay by the time that passed).
//! NaN, +Inf and −Inf are gaps too, for every feature but `level` (they would poison
//! sums and orders): `level` shows them, and an infinite level is beyond any threshold on
//! its side (ETA 0). The windows are rings of `window / step` steps; a window of
//! `w` ending at step `t` holds the steps in `(t − w, t]`, like a PromQL range.
//!
//! # Features (columns in this order)
//!
//! - `level`: the latest input, NaN if none.
//! - `change_<w>`: level − the value one window earlier; NaN if either is a gap.
//! - `slope_<w>`: least-squares slope per second over the window's finite values (time at
//!   the steps); NaN with fewer than 2 values, exactly 0 for a constant window.
//! - `line_<w>`: that least-squares line's value at the latest step, as PromQL's
//!   `predict_linear(signal[<w>], 0)`; with the slope, `predict_linear` over any horizon.
//!   NaN until the window holds half its steps (and 3 values), as the ETA's lines: a
//!   line through the first few values of a warm-up is no trend. The value itself for a
//!   constant window.
//! - `ewma_<h>`: exponentially weighted mean of the finite values, each value's weight
//!   halving every `h`: `m ← m + (1 − 2^(−Δ/h)) (v − m)`, `Δ` the time since the previous
//!   finite value (a gap adds nothing, and its time counts in the next value's weight);
//!   the first value starts it. NaN before any finite value.
//! - `stddev_<w>`: population standard deviation over the window (as PromQL's
//!   `stddev_over_time`); NaN when empty, exactly 0 for a constant window.
//! - `mad_<a>`: median absolute deviation over the anomaly window: the median of
//!   `|v − median|`, unscaled; NaN when empty.
//! - `min_<w>`, `max_<w>`: over the window; NaN when empty.
//! - `drift_<w>`, `drift_stderr_<w>`, `volatility_<w>`: from the increments within the
//!   window over the signal's sampling interval (`lag` steps: the shortest of the
//!   latest intervals between changes of value, at most 8; 1 for a signal that moves at
//!   every step, 4 for a 1-minute scrape at a 15 s step; see `sampling`), between two
//!   steps that both have a value: their 20 %-trimmed mean per second, its standard
//!   error (volatility / √n, per second), and their robust spread per √second (1.4826 ×
//!   MAD, or 1.2533 × the mean absolute deviation when the MAD is 0, over √lag); NaN
//!   with fewer than half the increments the window holds (or 3): too little history is
//!   unknown, not flat. A one-off step does not move the drift; see `increments` for
//!   why, and `model::passage` for what they feed.
//! - `anomaly_score`: how unusual the value is against the signal's own history, on a
//!   scale that means the same for every series: 1 is a tail probability of about 0.8 %
//!   (above 1: anomalous, as vmanomaly's `anomaly_score`). A streaming detector (see
//!   [`anomaly`]): the residual of a level or seasonal forecast over its running size,
//!   and the shift of the recent mean, each ranked against a week (`anomaly_memory`) of
//!   its own history; a surprise that keeps a rhythm (the interval of the three before
//!   it, or the time of day or week of a recent one: a nightly job's spike) reads half;
//!   after a score of 1 the next 100 values read 0. 0 for a constant series and for the first values (nothing
//!   to be unusual against yet); NaN when the current step is a gap.
//! - for each threshold, named after its target:
//!   - `eta_seconds:<target>`: time until the signal's trend crosses the threshold. 0
//!     when the level is already beyond it. Otherwise each window holding at least half
//!     its steps (and 3 values) whose least-squares line and robust drift (`drift_<w>`)
//!     both move toward the threshold gives a crossing: where its line, extended from
//!     now, meets the threshold; or, when the line is already past the threshold and
//!     the latest value is not, where the value, carried at the drift, meets it. A line
//!     fitted across a one-off step overshoots: for half an hour after a copy filled a
//!     disk at once and it went flat at 16 % free, the 1h window's line stood past the
//!     threshold and read "crossing now"; the drift, which a step does not move, says
//!     hours, or away. The ETA is the crossing with the smallest standard error (the
//!     longer window on a tie); NaN when there is none (too few values, flat or moving
//!     away). Not simply the longest window: after a cleanup, the 1h window still holds
//!     the previous fill and its drop, so its line rises while the disk fills again (in
//!     lab-dev, host8's second fill had no ETA until 30 s before the crossing), and
//!     early in a fill a window that holds the flat stretch before it halves the slope.
//!     A window whose line fits badly has a large residual spread, so a large error.
//!   - `eta_stderr_seconds:<target>`: the standard error of that crossing time, from the
//!     residual spread of the fit: `σ/|b| × √(1/n + (x_cross − x̄)²/Sxx)` (the inverse-
//!     prediction error, which carries the slope's and the level's standard errors and
//!     their covariance), `σ² = SSR/(n − 2)`; for a value carried at the drift, the ETA
//!     × the drift's relative standard error. 0 when already beyond, NaN with the ETA.
//!   - `beyond_warning_fraction_<a>:<target>`: the fraction of the anomaly window's
//!     finite values beyond the warning level (see [`Threshold::warning_fraction`]);
//!     NaN when the window holds no value.
//! - `since_gap_seconds`: seconds since the latest step without a finite value (0 in a
//!   gap; the step before the first update counts as a gap, so a first value reads one
//!   step).
//! - `since_reset_seconds`: seconds since the latest counter-like reset: a decrease after
//!   the signal had been non-decreasing for at least the shortest window (gaps inside
//!   the run do not break it, so a counter that restarts after an absence counts). A
//!   gauge's ordinary dips are not resets. The step before the first update counts as a
//!   reset.
//!
//! Before the first update every column is NaN.
//!
//! # Numeric edge cases
//!
//! Nothing panics, and no input leaves the state unusable: NaN and ±Inf never enter a
//! window. Windowed sums are kept shifted and scaled by a power of two (see `sums`), so
//! values up to `f64::MAX` in magnitude give finite standard deviations and slopes as long
//! as the results themselves fit in an `f64`; a difference of two values of opposite signs
//! near `f64::MAX` (a change, a deviation from the median) overflows to ±Inf, as IEEE
//! arithmetic says. A constant series gives slope, stddev, MAD, change and anomaly score
//! of exactly 0 and an ETA of NaN (unless already beyond). One value gives stddev 0,
//! slope NaN, anomaly score 0. The anomaly score stays finite and at least 0 for any
//! finite input.
//!
//! # Cost
//!
//! Per update O(windows + thresholds + half-lives), plus, for the anomaly window's order
//! of values and each window's order of increments, two binary searches, a shift and a
//! galloping selection (the median and MAD), and the anomaly detector (about 150 ns); per
//! write O(windows × thresholds) plus, per window, a sum over the middle of its sorted
//! increments (the trimmed mean of `drift_<w>`; `volatility_<w>` is the order's MAD,
//! already known). Slopes and standard deviations come from sliding sums, min and max
//! from monotonic deques, medians and MADs from the orders. The state is allocated once
//! in [`SignalFeatures::new`] (neither `update` nor `write` allocates): a ring of `f64`
//! one step longer than the longest window, two-byte ring positions for the orders and
//! the deques, a few words per window, and the anomaly detector's 1,008 bytes (288
//! two-byte season offsets and 64 tail counts). For the default set (5m, 15m, 1h at
//! 15 s) that is about 5 KiB per signal, of which the ring is 1.9 KiB: exact windowed
//! features need every value of the longest window.

pub mod anomaly;
mod extremes;
mod increments;
mod order;
mod sampling;
mod spec;
mod state;
mod sums;
mod write;

#[cfg(test)]
mod lab_tests;
#[cfg(test)]
mod naive;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

pub use spec::{
    DEFAULT_ANOMALY_MEMORY, DEFAULT_WARNING_FRACTION, FeatureParams, FeatureSpec, FeatureSpecError,
    MAX_WINDOW_STEPS, SpecProblem, Threshold,
};

use state::State;

/// The incremental feature state of one signal of one entity.
#[derive(Debug, Clone)]
pub struct SignalFeatures {
    /// Shared with every other state made from the same spec.
    spec: FeatureSpec,
    state: State,
}

impl SignalFeatures {
    pub fn new(spec: &FeatureSpec) -> SignalFeatures {
        SignalFeatures {
            state: State::new(spec.checked()),
            spec: spec.clone(),
        }
    }

    pub fn spec(&self) -> &FeatureSpec {
        &self.spec
    }

    /// The signal's value at the step of `t_ms`, `None` if it had none.
    pub fn update(&mut self, t_ms: i64, value: Option<f64>) {
        self.state.update(self.spec.checked(), t_ms, value);
    }

    /// Appends the features, one per column of the spec's `names()`, NaN where undefined.
    pub fn write(&self, out: &mut Vec<f64>) {
        self.state.write(self.spec.checked(), out);
    }

    /// The bytes this state holds: inline and on the heap. The spec is shared and is not
    /// counted.
    pub fn memory_bytes(&self) -> usize {
        let state = &self.state;
        let windows: usize = state
            .windows
            .iter()
            .map(|w| {
                let extremes = w.extremes.as_ref().map_or(0, |e| e.heap_bytes());
                std::mem::size_of_val(w) + extremes + w.increments.heap_bytes()
            })
            .sum();
        std::mem::size_of::<SignalFeatures>()
            + std::mem::size_of_val(&*state.ring)
            + windows
            + state.order.heap_bytes()
            + std::mem::size_of_val(&*state.beyond_warning)
            + std::mem::size_of_val(&*state.ewma)
            + state.anomaly.heap_bytes()
    }
}
