//! Functions over the samples of one series inside a range window: `rate(x[5m])`,
//! `avg_over_time(x[5m])`, ...

use super::{kahan_sum_inc, quantile};
use crate::promql::Point;

/// Functions over the points of one series inside a range window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RangeFunction {
    Rate,
    Irate,
    Increase,
    Delta,
    Idelta,
    Deriv,
    /// `predict_linear(v, seconds)`: the value `seconds` after the evaluation time.
    PredictLinear {
        seconds: f64,
    },
    Resets,
    Changes,
    AvgOverTime,
    MinOverTime,
    MaxOverTime,
    SumOverTime,
    CountOverTime,
    LastOverTime,
    StddevOverTime,
    /// `quantile_over_time(q, v)`.
    QuantileOverTime {
        q: f64,
    },
}

impl RangeFunction {
    /// `points`: the series' samples in the window as Prometheus 2.42 selects them
    /// (`[t - range, t]`, both ends included, stale markers already removed), ascending
    /// by time; `eval_ms` is `t`. Returns `None` where Prometheus outputs no element:
    /// always for an empty window (the engine does not call the function then), and
    /// for rate-like functions with fewer than two points.
    ///
    /// For a selector with `offset`, use [`RangeFunction::apply_with_offset`]:
    /// `predict_linear` then anchors at the evaluation time, not at the window's end.
    pub fn apply(&self, points: &[Point], eval_ms: i64, range_ms: i64) -> Option<f64> {
        self.apply_with_offset(points, eval_ms, range_ms, 0)
    }

    /// As [`RangeFunction::apply`] for a selector with an offset: the window is
    /// `[eval_ms - offset_ms - range_ms, eval_ms - offset_ms]`. An `@` modifier is an
    /// offset too, as Prometheus 2.42 rewrites it: `offset + (eval time - @ time)`.
    pub fn apply_with_offset(
        &self,
        points: &[Point],
        eval_ms: i64,
        range_ms: i64,
        offset_ms: i64,
    ) -> Option<f64> {
        let last = points.last()?;
        let window = Window {
            start: eval_ms - (range_ms + offset_ms),
            end: eval_ms - offset_ms,
            range_ms,
        };
        match *self {
            RangeFunction::Rate => extrapolated_rate(points, window, true, true),
            RangeFunction::Increase => extrapolated_rate(points, window, true, false),
            RangeFunction::Delta => extrapolated_rate(points, window, false, false),
            RangeFunction::Irate => instant_value(points, true),
            RangeFunction::Idelta => instant_value(points, false),
            RangeFunction::Deriv => {
                // Regressing around the first sample's time rather than the epoch keeps
                // x small (prometheus/prometheus#2674).
                (points.len() >= 2).then(|| linear_regression(points, points[0].t).0)
            }
            RangeFunction::PredictLinear { seconds } => (points.len() >= 2).then(|| {
                let (slope, intercept) = linear_regression(points, eval_ms);
                slope * seconds + intercept
            }),
            RangeFunction::Resets => Some(count_pairs(points, |prev, cur| cur < prev)),
            RangeFunction::Changes => Some(count_pairs(points, |prev, cur| {
                cur != prev && !(cur.is_nan() && prev.is_nan())
            })),
            RangeFunction::AvgOverTime => Some(avg_over_time(points)),
            RangeFunction::MinOverTime => Some(extreme(points, |v, min| v < min)),
            RangeFunction::MaxOverTime => Some(extreme(points, |v, max| v > max)),
            RangeFunction::SumOverTime => Some(sum_over_time(points)),
            RangeFunction::CountOverTime => Some(points.len() as f64),
            RangeFunction::LastOverTime => Some(last.v),
            RangeFunction::StddevOverTime => Some(stddev_over_time(points)),
            RangeFunction::QuantileOverTime { q } => {
                let mut values: Vec<f64> = points.iter().map(|p| p.v).collect();
                Some(quantile(q, &mut values))
            }
        }
    }

    /// Whether the output keeps `__name__`. In 2.42 the engine drops the metric name
    /// for every range-vector function but `last_over_time`, which acts like an offset.
    pub fn keeps_metric_name(&self) -> bool {
        matches!(self, RangeFunction::LastOverTime)
    }

    pub fn name(&self) -> &'static str {
        match self {
            RangeFunction::Rate => "rate",
            RangeFunction::Irate => "irate",
            RangeFunction::Increase => "increase",
            RangeFunction::Delta => "delta",
            RangeFunction::Idelta => "idelta",
            RangeFunction::Deriv => "deriv",
            RangeFunction::PredictLinear { .. } => "predict_linear",
            RangeFunction::Resets => "resets",
            RangeFunction::Changes => "changes",
            RangeFunction::AvgOverTime => "avg_over_time",
            RangeFunction::MinOverTime => "min_over_time",
            RangeFunction::MaxOverTime => "max_over_time",
            RangeFunction::SumOverTime => "sum_over_time",
            RangeFunction::CountOverTime => "count_over_time",
            RangeFunction::LastOverTime => "last_over_time",
            RangeFunction::StddevOverTime => "stddev_over_time",
            RangeFunction::QuantileOverTime { .. } => "quantile_over_time",
        }
    }
}

/// The range a selector covers at one evaluation, in milliseconds.
#[derive(Clone, Copy)]
struct Window {
    start: i64,
    end: i64,
    range_ms: i64,
}

impl Window {
    /// The range in seconds as Go's `time.Duration.Seconds()` computes it (whole seconds
    /// plus the fraction), which can differ from `range_ms / 1000.0` in the last bit.
    fn seconds(&self) -> f64 {
        let nanos = self.range_ms % 1000 * 1_000_000;
        (self.range_ms / 1000) as f64 + nanos as f64 / 1e9
    }
}

/// `rate`, `increase` and `delta`: Prometheus's `extrapolatedRate`.
///
/// The difference between the last and first sample (for counters, plus the value
/// before each decrease), extrapolated towards the window's boundaries: all the way to
/// a boundary if the sample nearest it is closer than 1.1 times the average interval,
/// otherwise by half an average interval. A counter is not extrapolated below zero:
/// the start is pulled in to where the line through the samples crosses zero, and
/// that is decided before the 1.1 threshold is applied (prometheus/prometheus#13725,
/// 2024, swapped the two; results differ when the first sample is far from the start).
fn extrapolated_rate(
    points: &[Point],
    window: Window,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let [first, .., last] = points else {
        return None;
    };
    let mut result = last.v - first.v;
    if is_counter {
        let mut prev = first.v;
        for p in &points[1..] {
            if p.v < prev {
                result += prev;
            }
            prev = p.v;
        }
    }

    let mut duration_to_start = (first.t - window.start) as f64 / 1000.0;
    let duration_to_end = (window.end - last.t) as f64 / 1000.0;
    let sampled_interval = (last.t - first.t) as f64 / 1000.0;
    let average_interval = sampled_interval / (points.len() - 1) as f64;

    if is_counter && result > 0.0 && first.v >= 0.0 {
        let duration_to_zero = sampled_interval * (first.v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }

    let threshold = average_interval * 1.1;
    let mut extrapolate_to = sampled_interval;
    extrapolate_to += if duration_to_start < threshold {
        duration_to_start
    } else {
        average_interval / 2.0
    };
    extrapolate_to += if duration_to_end < threshold {
        duration_to_end
    } else {
        average_interval / 2.0
    };

    // One factor, then one multiplication: 2.40–2.43 order, kept for the last bits.
    let mut factor = extrapolate_to / sampled_interval;
    if is_rate {
        factor /= window.seconds();
    }
    Some(result * factor)
}

/// `irate` and `idelta`: Prometheus's `instantValue`, from the last two samples only.
/// For `irate` a decrease is a counter reset, so the increase is the last value.
fn instant_value(points: &[Point], is_rate: bool) -> Option<f64> {
    let [.., previous, last] = points else {
        return None;
    };
    let mut result = if is_rate && last.v < previous.v {
        last.v
    } else {
        last.v - previous.v
    };
    let sampled_interval = last.t - previous.t;
    if sampled_interval == 0 {
        return None;
    }
    if is_rate {
        result /= sampled_interval as f64 / 1000.0;
    }
    Some(result)
}

/// Least-squares fit of value against seconds since `intercept_ms`, Prometheus's
/// `linearRegression`: returns (slope per second, value at `intercept_ms`). Sums use
/// Kahan summation; a constant series gives slope 0 exactly (NaN and NaN if the
/// constant is infinite) instead of whatever rounding leaves.
fn linear_regression(points: &[Point], intercept_ms: i64) -> (f64, f64) {
    let init_y = points[0].v;
    let mut const_y = true;
    let mut n = 0.0;
    let (mut sum_x, mut c_x) = (0.0, 0.0);
    let (mut sum_y, mut c_y) = (0.0, 0.0);
    let (mut sum_xy, mut c_xy) = (0.0, 0.0);
    let (mut sum_x2, mut c_x2) = (0.0, 0.0);
    for (i, p) in points.iter().enumerate() {
        if const_y && i > 0 && p.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t - intercept_ms) as f64 / 1e3;
        (sum_x, c_x) = kahan_sum_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_sum_inc(p.v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_sum_inc(x * p.v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_sum_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let sum_x = sum_x + c_x;
    let sum_y = sum_y + c_y;
    let sum_xy = sum_xy + c_xy;
    let sum_x2 = sum_x2 + c_x2;

    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// How many consecutive pairs `(previous, current)` satisfy `counts`: `resets` and
/// `changes`. One point has no pairs and gives 0.
fn count_pairs(points: &[Point], counts: impl Fn(f64, f64) -> bool) -> f64 {
    points
        .windows(2)
        .filter(|pair| counts(pair[0].v, pair[1].v))
        .count() as f64
}

/// `min_over_time` and `max_over_time`: a NaN is replaced by any later value, so the
/// result is NaN only if every value is.
fn extreme(points: &[Point], beats: impl Fn(f64, f64) -> bool) -> f64 {
    let mut best = points[0].v;
    for p in points {
        if beats(p.v, best) || best.is_nan() {
            best = p.v;
        }
    }
    best
}

/// Kahan sum; an infinite sum is returned without its compensation, which would be NaN.
fn sum_over_time(points: &[Point]) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for p in points {
        (sum, c) = kahan_sum_inc(p.v, sum, c);
    }
    if sum.is_infinite() { sum } else { sum + c }
}

/// 2.42's incremental mean with Kahan compensation. Once the mean is infinite it stays
/// so unless a NaN or an infinity of the other sign arrives (Inf − Inf would otherwise
/// turn it into NaN). prometheus/prometheus#14413 (2024) replaced this with a direct
/// sum where that does not overflow; results differ in the last bits.
fn avg_over_time(points: &[Point]) -> f64 {
    let (mut mean, mut c, mut count) = (0.0_f64, 0.0, 0.0);
    for p in points {
        count += 1.0;
        if mean.is_infinite() {
            if p.v.is_infinite() && (mean > 0.0) == (p.v > 0.0) {
                continue;
            }
            if !p.v.is_infinite() && !p.v.is_nan() {
                continue;
            }
        }
        (mean, c) = kahan_sum_inc(p.v / count - mean / count, mean, c);
    }
    if mean.is_infinite() { mean } else { mean + c }
}

/// Population standard deviation by Welford's method, with the running mean and the
/// sum of squared deviations both Kahan-compensated.
fn stddev_over_time(points: &[Point]) -> f64 {
    let mut count = 0.0;
    let (mut mean, mut c_mean) = (0.0, 0.0);
    let (mut aux, mut c_aux) = (0.0, 0.0);
    for p in points {
        count += 1.0;
        let delta = p.v - (mean + c_mean);
        (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_sum_inc(delta * (p.v - (mean + c_mean)), aux, c_aux);
    }
    ((aux + c_aux) / count).sqrt()
}
