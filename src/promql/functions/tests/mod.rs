//! Specifications of the functions: hand-computed tables (`range`, `math`), then
//! properties against naive arithmetic (`properties`).
//!
//! Expected values come from Prometheus 2.42's algorithms worked through by hand; the
//! comments show the arithmetic where it is not obvious.

mod math;
mod properties;
mod range;

use crate::promql::Point;

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

/// Points from (seconds, value) pairs.
pub(super) fn points(samples: &[(i64, f64)]) -> Vec<Point> {
    samples
        .iter()
        .map(|&(t, v)| Point { t: t * 1000, v })
        .collect()
}

/// Equal as Prometheus results compare: NaN matches NaN, infinities and signed zeros
/// exactly, finite values within a relative 1e-12.
pub(super) fn same(got: f64, want: f64) -> bool {
    if want.is_nan() {
        return got.is_nan();
    }
    if want == 0.0 || want.is_infinite() {
        return got == want && got.is_sign_negative() == want.is_sign_negative();
    }
    ((got - want) / want).abs() <= 1e-12
}
