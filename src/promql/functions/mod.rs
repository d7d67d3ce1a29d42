//! PromQL functions, as pure computations with Prometheus 2.42's arithmetic.
//!
//! In: for a range function, the samples one series has inside a range window (plus the
//! evaluation time and the window's length); for a math function, one sample value.
//! Out: the function's value, or `None` where Prometheus outputs no element. Selecting
//! the window, dropping stale markers and labelling the output belong to the evaluator.
//!
//! The reference is `promql/functions.go` and `promql/quantile.go` of Prometheus 2.42
//! (the `Point { T, V, H }` era, after native-histogram rates and before floats and
//! histograms were split into `FPoint`/`HPoint`). Where the order of floating-point
//! operations affects the last bits of a result, the code keeps Prometheus's order, so
//! that differential tests can compare with a tight tolerance. Newer Prometheus versions
//! differ (left-open windows, reordered rate extrapolation, other mean algorithms); those
//! differences are noted where they would tempt a "fix".

mod math;
mod range;
#[cfg(test)]
mod tests;

pub use math::MathFunction;
pub use range::RangeFunction;

use std::cmp::Ordering;

/// The φ-quantile of `values`, as Prometheus's `quantile` computes it for the `quantile`
/// aggregation and `quantile_over_time`: NaN for no values or φ = NaN, -Inf for φ < 0,
/// +Inf for φ > 1, otherwise the weighted average of the two values around rank
/// φ·(n−1). `values` is sorted in place (NaN first, as Prometheus's `vectorByValueHeap`
/// orders them).
///
/// The interpolation is always `lower·(1−w) + upper·w`, even when `w` is 0: a lone +Inf
/// therefore yields `Inf·1 + Inf·0 = NaN`, as it does in Prometheus.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_unstable_by(nan_first);

    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (n - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Ascending order with NaN below everything, a total order version of Prometheus's
/// `vectorByValueHeap.Less` (which treats NaN as less than any value, NaN included).
fn nan_first(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

/// One step of Kahan–Neumaier summation, Prometheus's `kahanSumInc`: adds `inc` to
/// `sum`, accumulating the lost low-order bits in `c`. Callers add `c` at the end.
fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}
