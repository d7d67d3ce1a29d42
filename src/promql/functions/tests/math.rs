//! `abs(x)`, `round(x, 5)`, `clamp_min(x, 0)`, ... and the `quantile` helper.

use super::{INF, NAN, same};
use crate::promql::functions::{MathFunction, quantile};

#[test]
fn math_functions_match_hand_computed_values() {
    use MathFunction::*;
    let cases: &[(MathFunction, f64, f64)] = &[
        (Abs, -3.0, 3.0),
        (Abs, NAN, NAN),
        (Ceil, 1.2, 2.0),
        (Ceil, -0.5, -0.0),
        (Floor, -1.2, -2.0),
        (Round { to_nearest: 1.0 }, 2.5, 3.0),
        // Ties round up, also below zero.
        (Round { to_nearest: 1.0 }, -2.5, -2.0),
        (Round { to_nearest: 1.0 }, -2.6, -3.0),
        (Round { to_nearest: 0.1 }, 12.34, 12.3),
        // 17 × 0.2 + 0.5 = 3.9 → 3 → 3 / 0.2.
        (Round { to_nearest: 5.0 }, 17.0, 15.0),
        (Round { to_nearest: 5.0 }, 18.0, 20.0),
        (Round { to_nearest: 1.0 }, INF, INF),
        (Round { to_nearest: 0.0 }, 1.0, NAN),
        (Ln, 1.0, 0.0),
        (Ln, 0.0, -INF),
        (Ln, -1.0, NAN),
        (Exp, 0.0, 1.0),
        (Exp, -INF, 0.0),
        (Exp, 1000.0, INF),
        (Sqrt, 16.0, 4.0),
        (Sqrt, -1.0, NAN),
        (ClampMin { min: 0.0 }, -1.0, 0.0),
        (ClampMin { min: 0.0 }, 2.0, 2.0),
        (ClampMin { min: 0.0 }, NAN, NAN),
        (ClampMin { min: NAN }, 1.0, NAN),
        // Go's math.Max: +Inf beats NaN; +0 is above -0.
        (ClampMin { min: INF }, NAN, INF),
        (ClampMin { min: 0.0 }, -0.0, 0.0),
        (ClampMin { min: -0.0 }, 0.0, 0.0),
        (ClampMax { max: 3.0 }, 5.0, 3.0),
        (ClampMax { max: 3.0 }, -INF, -INF),
        (ClampMax { max: NAN }, 1.0, NAN),
        (ClampMax { max: 1.0 }, NAN, NAN),
        (ClampMax { max: -INF }, NAN, -INF),
        (ClampMax { max: -0.0 }, 0.0, -0.0),
    ];
    let failures: Vec<_> = cases
        .iter()
        .filter(|(f, v, want)| !same(f.apply(*v), *want))
        .map(|(f, v, want)| {
            format!(
                "{}({v}) with {f:?}: got {}, want {want}",
                f.name(),
                f.apply(*v)
            )
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn quantile_edge_cases() {
    assert!(quantile(0.5, &mut []).is_nan());
    assert!(quantile(NAN, &mut [1.0]).is_nan());
    assert_eq!(quantile(0.25, &mut [10.0, 0.0, 30.0, 20.0, 40.0]), 10.0);
    // rank 0.9 × 3 = 2.7 → 30 × 0.3 + 40 × 0.7.
    assert!(same(quantile(0.9, &mut [40.0, 10.0, 30.0, 20.0]), 37.0));
    // [NaN, 1]: q = 0 gives NaN·1 + 1·0; q = 1 takes 1 twice.
    assert!(quantile(0.0, &mut [1.0, NAN]).is_nan());
    assert_eq!(quantile(1.0, &mut [1.0, NAN]), 1.0);
    // [1, +Inf], q = 0: 1·1 + Inf·0 = NaN.
    assert!(quantile(0.0, &mut [INF, 1.0]).is_nan());
    let mut values = [3.0, NAN, -1.0];
    quantile(0.5, &mut values);
    assert!(values[0].is_nan() && values[1..] == [-1.0, 3.0]);
}
