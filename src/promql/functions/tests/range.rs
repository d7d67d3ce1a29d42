//! `rate(x[1m])`, `avg_over_time(x[1m])`, ...: one table of hand-computed cases, then
//! the cases a table does not fit (offsets, metric names).

use super::{INF, NAN, points, same};
use crate::promql::Point;
use crate::promql::functions::RangeFunction::{self, *};

struct Case {
    name: &'static str,
    function: RangeFunction,
    samples: &'static [(i64, f64)],
    /// Evaluation time and range, in seconds.
    eval: i64,
    range: i64,
    want: Option<f64>,
}

const fn case(
    name: &'static str,
    function: RangeFunction,
    samples: &'static [(i64, f64)],
    want: Option<f64>,
) -> Case {
    // Most cases look at the window [0s, 60s], evaluated at 60s.
    Case {
        name,
        function,
        samples,
        eval: 60,
        range: 60,
        want,
    }
}

/// A counter rising 1/s, scraped every 15s, covering the whole window.
const LINEAR: &[(i64, f64)] = &[(0, 0.0), (15, 15.0), (30, 30.0), (45, 45.0), (60, 60.0)];
/// A counter that resets from 20 to 5 at 30s.
const RESET: &[(i64, f64)] = &[(0, 10.0), (15, 20.0), (30, 5.0), (45, 15.0), (60, 25.0)];

const CASES: &[Case] = &[
    // --- rate, increase, delta ---
    case("rate, window fully covered", Rate, LINEAR, Some(1.0)),
    case(
        "increase, window fully covered",
        Increase,
        LINEAR,
        Some(60.0),
    ),
    case("rate, empty window", Rate, &[], None),
    case("rate, one point", Rate, &[(30, 5.0)], None),
    case("increase, one point", Increase, &[(30, 5.0)], None),
    case("delta, one point", Delta, &[(30, 5.0)], None),
    // Samples 5s after the start and 10s before the end, both under 1.1 × 15s: the
    // 45 measured over 45s is extrapolated to the full 60s.
    case(
        "increase extrapolates to both boundaries",
        Increase,
        &[(5, 10.0), (20, 25.0), (35, 40.0), (50, 55.0)],
        Some(60.0),
    ),
    case(
        "rate extrapolates to both boundaries",
        Rate,
        &[(5, 10.0), (20, 25.0), (35, 40.0), (50, 55.0)],
        Some(1.0),
    ),
    // Last sample 30s before the end (≥ 16.5s): only half an interval (7.5s) is added.
    // The start is not extrapolated: the counter would be zero at 0s already.
    case(
        "increase stops half an interval after the last sample",
        Increase,
        &[(0, 0.0), (15, 15.0), (30, 30.0)],
        Some(37.5),
    ),
    // Counter resets: 25 − 10 + 20 (the value before the drop) = 35.
    case(
        "increase adds the value before a reset",
        Increase,
        RESET,
        Some(35.0),
    ),
    case(
        "rate adds the value before a reset",
        Rate,
        RESET,
        Some(35.0 / 60.0),
    ),
    case("delta ignores resets", Delta, RESET, Some(15.0)),
    // First sample 30s after the start. The line through the samples reaches zero 1s
    // before the first sample, so only 1s is extrapolated: 30 × 31/30.
    case(
        "increase does not extrapolate a counter below zero",
        Increase,
        &[(30, 1.0), (45, 16.0), (60, 31.0)],
        Some(31.0),
    ),
    // Zero would be reached 12s before the first sample: under the 16.5s threshold, so
    // 2.42 extrapolates those 12s (30 × 42/30). Prometheus since #13725 first cuts the
    // 30s gap to 7.5s and would say 37.5.
    case(
        "zero-point limit applies before the threshold, as in 2.42",
        Increase,
        &[(30, 12.0), (45, 27.0), (60, 42.0)],
        Some(42.0),
    ),
    // A first value of 0 means no extrapolation to the left at all.
    case(
        "increase of a counter starting at zero",
        Increase,
        &[(30, 0.0), (45, 15.0), (60, 30.0)],
        Some(30.0),
    ),
    // A gauge falls below zero freely: start gap 30s ≥ 16.5s, so 7.5s: −30 × 37.5/30.
    case(
        "delta extrapolates a gauge by half an interval",
        Delta,
        &[(30, 30.0), (45, 15.0), (60, 0.0)],
        Some(-37.5),
    ),
    case(
        "rate with a NaN in the middle uses the ends",
        Increase,
        &[(0, 0.0), (30, NAN), (60, 60.0)],
        Some(60.0),
    ),
    case(
        "rate ending in NaN is NaN",
        Rate,
        &[(0, 0.0), (60, NAN)],
        Some(NAN),
    ),
    case(
        "rate to +Inf is +Inf",
        Rate,
        &[(0, 0.0), (60, INF)],
        Some(INF),
    ),
    // --- irate, idelta ---
    case(
        "irate uses the last two points",
        Irate,
        &[(0, 10.0), (15, 20.0), (30, 50.0)],
        Some(2.0),
    ),
    case(
        "irate after a reset uses the last value",
        Irate,
        &[(15, 20.0), (30, 5.0)],
        Some(5.0 / 15.0),
    ),
    case(
        "idelta uses the last two points",
        Idelta,
        &[(0, 10.0), (15, 20.0), (30, 5.0)],
        Some(-15.0),
    ),
    case("irate, one point", Irate, &[(30, 5.0)], None),
    case("idelta, one point", Idelta, &[(30, 5.0)], None),
    // --- deriv, predict_linear ---
    case(
        "deriv of a line",
        Deriv,
        &[(0, 0.0), (10, 10.0), (20, 20.0)],
        Some(1.0),
    ),
    case(
        "deriv of noisy points",
        Deriv,
        &[(0, 1.0), (10, 2.0), (20, 4.0)],
        Some(0.15),
    ),
    case(
        "deriv of a constant is exactly 0",
        Deriv,
        &[(0, 0.3), (10, 0.3), (20, 0.3)],
        Some(0.0),
    ),
    case(
        "deriv of a constant +Inf is NaN",
        Deriv,
        &[(0, INF), (10, INF)],
        Some(NAN),
    ),
    case("deriv, one point", Deriv, &[(0, 1.0)], None),
    // Regression anchored at the evaluation time (20s): value 20 there, slope 1.
    Case {
        name: "predict_linear extrapolates from the evaluation time",
        function: PredictLinear { seconds: 10.0 },
        samples: &[(0, 0.0), (10, 10.0), (20, 20.0)],
        eval: 20,
        range: 20,
        want: Some(30.0),
    },
    case(
        "predict_linear of a constant is the constant",
        PredictLinear { seconds: 3600.0 },
        &[(0, 5.0), (30, 5.0)],
        Some(5.0),
    ),
    case(
        "predict_linear, one point",
        PredictLinear { seconds: 1.0 },
        &[(0, 5.0)],
        None,
    ),
    // --- resets, changes ---
    case(
        "resets counts decreases",
        Resets,
        &[(0, 1.0), (1, 2.0), (2, 1.0), (3, 3.0), (4, 0.0)],
        Some(2.0),
    ),
    case("resets, one point", Resets, &[(0, 1.0)], Some(0.0)),
    case(
        "resets ignores NaN",
        Resets,
        &[(0, 2.0), (1, NAN), (2, 1.0)],
        Some(0.0),
    ),
    // 1→2, 2→NaN and NaN→2 change; 1→1 and NaN→NaN do not.
    case(
        "changes treats NaN as equal to NaN only",
        Changes,
        &[(0, 1.0), (1, 1.0), (2, 2.0), (3, NAN), (4, NAN), (5, 2.0)],
        Some(3.0),
    ),
    case("changes, one point", Changes, &[(0, 1.0)], Some(0.0)),
    case("changes, empty window", Changes, &[], None),
    // --- *_over_time ---
    case(
        "avg_over_time",
        AvgOverTime,
        &[(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0)],
        Some(2.5),
    ),
    case(
        "avg_over_time stays +Inf after finite values",
        AvgOverTime,
        &[(0, 1.0), (1, INF), (2, 2.0)],
        Some(INF),
    ),
    case(
        "avg_over_time of +Inf and -Inf is NaN",
        AvgOverTime,
        &[(0, INF), (1, -INF)],
        Some(NAN),
    ),
    case(
        "avg_over_time with NaN is NaN",
        AvgOverTime,
        &[(0, 1.0), (1, NAN), (2, 2.0)],
        Some(NAN),
    ),
    case("avg_over_time, empty window", AvgOverTime, &[], None),
    case(
        "sum_over_time",
        SumOverTime,
        &[(0, 1.5), (1, 2.5), (2, -1.0)],
        Some(3.0),
    ),
    // Kahan–Neumaier keeps the ones that naive summation loses against 1e100.
    case(
        "sum_over_time compensates rounding",
        SumOverTime,
        &[(0, 1.0), (1, 1e100), (2, 1.0), (3, -1e100)],
        Some(2.0),
    ),
    case(
        "sum_over_time to +Inf",
        SumOverTime,
        &[(0, 1.0), (1, INF)],
        Some(INF),
    ),
    case(
        "sum_over_time of +Inf and -Inf is NaN",
        SumOverTime,
        &[(0, INF), (1, -INF)],
        Some(NAN),
    ),
    case(
        "min_over_time skips NaN",
        MinOverTime,
        &[(0, 3.0), (1, NAN), (2, 1.0), (3, 5.0)],
        Some(1.0),
    ),
    case(
        "max_over_time skips NaN",
        MaxOverTime,
        &[(0, 3.0), (1, NAN), (2, 1.0), (3, 5.0)],
        Some(5.0),
    ),
    case(
        "max_over_time replaces a leading NaN",
        MaxOverTime,
        &[(0, NAN), (1, -2.0)],
        Some(-2.0),
    ),
    case(
        "min_over_time of NaNs is NaN",
        MinOverTime,
        &[(0, NAN), (1, NAN)],
        Some(NAN),
    ),
    case(
        "min_over_time with -Inf",
        MinOverTime,
        &[(0, 1.0), (1, -INF)],
        Some(-INF),
    ),
    case(
        "count_over_time",
        CountOverTime,
        &[(0, NAN), (1, 1.0), (2, INF)],
        Some(3.0),
    ),
    case("count_over_time, empty window", CountOverTime, &[], None),
    case(
        "last_over_time",
        LastOverTime,
        &[(0, 1.0), (1, 7.0)],
        Some(7.0),
    ),
    case(
        "last_over_time of NaN",
        LastOverTime,
        &[(0, 1.0), (1, NAN)],
        Some(NAN),
    ),
    case(
        "stddev_over_time is the population deviation",
        StddevOverTime,
        &[
            (0, 2.0),
            (1, 4.0),
            (2, 4.0),
            (3, 4.0),
            (4, 5.0),
            (5, 5.0),
            (6, 7.0),
            (7, 9.0),
        ],
        Some(2.0),
    ),
    case(
        "stddev_over_time, one point",
        StddevOverTime,
        &[(0, 1.5)],
        Some(0.0),
    ),
    case(
        "stddev_over_time of +Inf is NaN",
        StddevOverTime,
        &[(0, INF)],
        Some(NAN),
    ),
    case(
        "stddev_over_time with NaN is NaN",
        StddevOverTime,
        &[(0, 1.0), (1, NAN)],
        Some(NAN),
    ),
    case(
        "quantile_over_time median",
        QuantileOverTime { q: 0.5 },
        &[(0, 4.0), (1, 1.0), (2, 3.0), (3, 2.0)],
        Some(2.5),
    ),
    case(
        "quantile_over_time q=0 is the minimum",
        QuantileOverTime { q: 0.0 },
        &[(0, 4.0), (1, 1.0)],
        Some(1.0),
    ),
    case(
        "quantile_over_time q=1 is the maximum",
        QuantileOverTime { q: 1.0 },
        &[(0, 4.0), (1, 1.0)],
        Some(4.0),
    ),
    case(
        "quantile_over_time q<0 is -Inf",
        QuantileOverTime { q: -0.1 },
        &[(0, 4.0)],
        Some(-INF),
    ),
    case(
        "quantile_over_time q>1 is +Inf",
        QuantileOverTime { q: 1.1 },
        &[(0, 4.0)],
        Some(INF),
    ),
    case(
        "quantile_over_time q=NaN is NaN",
        QuantileOverTime { q: NAN },
        &[(0, 4.0)],
        Some(NAN),
    ),
    // NaN sorts first: [NaN, 1, 2]; rank 1 lands on 1 (weight 0 on 2).
    case(
        "quantile_over_time sorts NaN first",
        QuantileOverTime { q: 0.5 },
        &[(0, 2.0), (1, NAN), (2, 1.0)],
        Some(1.0),
    ),
    // Inf·1 + Inf·0 = NaN, as Prometheus computes it.
    case(
        "quantile_over_time of one +Inf is NaN",
        QuantileOverTime { q: 0.5 },
        &[(0, INF)],
        Some(NAN),
    ),
    case(
        "quantile_over_time, empty window",
        QuantileOverTime { q: 0.5 },
        &[],
        None,
    ),
];

#[test]
fn range_functions_match_hand_computed_values() {
    let mut failures = Vec::new();
    for c in CASES {
        let got = c
            .function
            .apply(&points(c.samples), c.eval * 1000, c.range * 1000);
        let ok = match (got, c.want) {
            (Some(g), Some(w)) => same(g, w),
            (None, None) => true,
            _ => false,
        };
        if !ok {
            failures.push(format!("{}: got {got:?}, want {:?}", c.name, c.want));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn offset_moves_the_window_but_predict_linear_anchors_at_evaluation_time() {
    let line = points(&[(0, 0.0), (10, 10.0), (20, 20.0)]);
    // Evaluated at 80s with `offset 60s`: window (−10s, 20s].
    let at = |f: RangeFunction| f.apply_with_offset(&line, 80_000, 30_000, 60_000);
    // Start gap 10s (< 1.1 × 10s) is cut to the zero point at 0s; end gap 0.
    let expect = |f: RangeFunction, want: f64| {
        let got = at(f).unwrap();
        assert!(same(got, want), "{}: got {got}, want {want}", f.name());
    };
    expect(Increase, 20.0);
    expect(Rate, 20.0 / 30.0);
    // enh.Ts, not the window end, is the regression's intercept time: 80s → 80.
    expect(PredictLinear { seconds: 0.0 }, 80.0);
    expect(Deriv, 1.0);
}

#[test]
fn rate_divides_by_the_range_as_go_durations_do() {
    // 1.5s range; the window is covered exactly, so rate = 3 / 1.5.
    let p = [Point { t: 0, v: 0.0 }, Point { t: 1500, v: 3.0 }];
    assert!(same(Rate.apply(&p, 1500, 1500).unwrap(), 2.0));
}

#[test]
fn irate_of_two_points_at_one_time_is_absent() {
    let p = [Point { t: 5, v: 1.0 }, Point { t: 5, v: 2.0 }];
    assert_eq!(Irate.apply(&p, 10, 10), None);
    assert_eq!(Idelta.apply(&p, 10, 10), None);
}

#[test]
fn only_last_over_time_keeps_the_metric_name() {
    let all = [
        Rate,
        Irate,
        Increase,
        Delta,
        Idelta,
        Deriv,
        PredictLinear { seconds: 1.0 },
        Resets,
        Changes,
        AvgOverTime,
        MinOverTime,
        MaxOverTime,
        SumOverTime,
        CountOverTime,
        LastOverTime,
        StddevOverTime,
        QuantileOverTime { q: 0.5 },
    ];
    let keeping: Vec<_> = all
        .iter()
        .filter(|f| f.keeps_metric_name())
        .map(|f| f.name())
        .collect();
    assert_eq!(keeping, ["last_over_time"]);
    assert_eq!(PredictLinear { seconds: 1.0 }.name(), "predict_linear");
    assert_eq!(QuantileOverTime { q: 0.5 }.name(), "quantile_over_time");
}
