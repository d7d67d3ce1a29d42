//! Properties: rate of a perfect counter is its slope, and the `*_over_time`
//! aggregations agree with naive recomputation.

use crate::promql::Point;
use crate::promql::functions::RangeFunction::{self, *};
use proptest::prelude::*;

/// Window points with finite values, times 1..=n seconds, for comparisons with naive
/// arithmetic.
fn finite_window() -> impl Strategy<Value = Vec<Point>> {
    prop::collection::vec(-1e6..1e6_f64, 1..60).prop_map(|values| {
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| Point {
                t: (i as i64 + 1) * 1000,
                v,
            })
            .collect()
    })
}

fn close(got: f64, want: f64, scale: f64) -> bool {
    (got - want).abs() <= 1e-9 * scale.max(1.0)
}

proptest! {
    /// A counter rising at a constant slope, sampled regularly, with both boundary gaps
    /// shorter than one interval and no zero crossing before the window: extrapolation
    /// covers the whole range, so rate is the slope and increase is slope × range.
    #[test]
    fn rate_of_a_linear_counter_is_its_slope(
        slope in 0.001..1000.0_f64,
        interval_ms in 1_000..60_000_i64,
        n in 2..50_usize,
        start_gap in 0.0..1.0_f64,
        end_gap in 0.0..1.0_f64,
        headroom_s in 0.0..10_000.0_f64,
    ) {
        let start_gap_ms = (start_gap * interval_ms as f64) as i64;
        let end_gap_ms = (end_gap * interval_ms as f64) as i64;
        let range_ms = start_gap_ms + (n as i64 - 1) * interval_ms + end_gap_ms;
        let eval_ms = 1_700_000_000_000 + range_ms;
        let first_t = eval_ms - range_ms + start_gap_ms;
        // Headroom in seconds of growth keeps values within 1e4 × the increments, so
        // rounding of the values themselves stays far below the tolerance.
        let first_v = slope * (start_gap_ms as f64 / 1000.0 + headroom_s);
        let pts: Vec<Point> = (0..n as i64)
            .map(|i| Point {
                t: first_t + i * interval_ms,
                v: first_v + slope * (i * interval_ms) as f64 / 1000.0,
            })
            .collect();
        let rate = Rate.apply(&pts, eval_ms, range_ms).unwrap();
        prop_assert!(((rate - slope) / slope).abs() < 1e-9, "rate {rate} slope {slope}");
        let increase = Increase.apply(&pts, eval_ms, range_ms).unwrap();
        let want = slope * range_ms as f64 / 1000.0;
        prop_assert!(((increase - want) / want).abs() < 1e-9, "increase {increase} want {want}");
        let deriv = Deriv.apply(&pts, eval_ms, range_ms).unwrap();
        prop_assert!(((deriv - slope) / slope).abs() < 1e-6, "deriv {deriv} slope {slope}");
    }

    /// With non-negative values, reset correction never lets increase go negative.
    #[test]
    fn increase_of_non_negative_values_is_non_negative(
        values in prop::collection::vec(0.0..1e6_f64, 2..40),
    ) {
        let pts: Vec<Point> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| Point { t: i as i64 * 15_000, v })
            .collect();
        let range_ms = values.len() as i64 * 15_000;
        prop_assert!(Increase.apply(&pts, range_ms, range_ms).unwrap() >= 0.0);
    }

    #[test]
    fn aggregations_over_time_match_naive_recomputation(pts in finite_window()) {
        let values: Vec<f64> = pts.iter().map(|p| p.v).collect();
        let n = values.len() as f64;
        let naive_sum: f64 = values.iter().sum();
        let magnitude: f64 = values.iter().map(|v| v.abs()).sum();
        let at = |f: RangeFunction| f.apply(&pts, 60_000, 60_000).unwrap();

        prop_assert!(close(at(SumOverTime), naive_sum, magnitude));
        prop_assert!(close(at(AvgOverTime), naive_sum / n, magnitude / n));
        prop_assert_eq!(at(CountOverTime), n);
        prop_assert_eq!(at(MinOverTime), values.iter().copied().fold(f64::INFINITY, f64::min));
        prop_assert_eq!(at(MaxOverTime), values.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        prop_assert_eq!(at(LastOverTime), *values.last().unwrap());

        let mean = naive_sum / n;
        let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let spread = magnitude / n;
        prop_assert!(close(at(StddevOverTime).powi(2), variance, spread * spread));

        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        prop_assert_eq!(at(QuantileOverTime { q: 0.0 }), sorted[0]);
        prop_assert_eq!(at(QuantileOverTime { q: 1.0 }), *sorted.last().unwrap());
        let median = at(QuantileOverTime { q: 0.5 });
        prop_assert!(sorted[0] <= median && median <= *sorted.last().unwrap());

        let changes = at(Changes);
        prop_assert!(at(Resets) <= changes && changes <= n - 1.0);
    }
}
