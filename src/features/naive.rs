//! A reference for the tests: every feature recomputed from the whole input history,
//! the obvious way (two-pass sums, sorting), with nothing incremental.

use super::order::midpoint;
use super::spec::{FeatureParams, Threshold};
use crate::rules::Comparison;

/// The inputs accepted so far, one value per step (NaN for gaps and non-finite values).
pub struct History {
    step_ms: i64,
    origin_ms: Option<i64>,
    pub values: Vec<f64>,
    pub level: f64,
}

impl History {
    pub fn new(params: &FeatureParams) -> History {
        History {
            step_ms: params.step.as_millis() as i64,
            origin_ms: None,
            values: Vec::new(),
            level: f64::NAN,
        }
    }

    pub fn push(&mut self, t_ms: i64, value: Option<f64>) {
        let origin = *self.origin_ms.get_or_insert(t_ms);
        let step = (t_ms - origin + self.step_ms / 2).div_euclid(self.step_ms);
        if step < self.values.len() as i64 {
            return;
        }
        self.values.resize(step as usize, f64::NAN);
        let v = value.unwrap_or(f64::NAN);
        self.values.push(if v.is_finite() { v } else { f64::NAN });
        self.level = v;
    }

    /// The finite values of the `steps` steps ending now, as (step, value).
    pub fn window(&self, steps: usize) -> Vec<(f64, f64)> {
        let now = self.values.len();
        (now.saturating_sub(steps)..now)
            .filter(|&s| !self.values[s].is_nan())
            .map(|s| (s as f64, self.values[s]))
            .collect()
    }
}

fn steps(params: &FeatureParams, d: std::time::Duration) -> usize {
    (d.as_millis() / params.step.as_millis()) as usize
}

/// The features at the latest step, in the order of `FeatureSpec::names`.
pub fn features(params: &FeatureParams, history: &History) -> Vec<f64> {
    let width = 1
        + 6 * params.windows.len()
        + params.half_lives.len()
        + 2
        + 3 * params.windows.len()
        + 3 * params.thresholds.len()
        + 2;
    if history.values.is_empty() {
        return vec![f64::NAN; width];
    }
    let step_s = params.step.as_secs_f64();
    let values = &history.values;
    let now = values.len() - 1;
    let window_steps: Vec<usize> = params.windows.iter().map(|&w| steps(params, w)).collect();
    let windows: Vec<Vec<(f64, f64)>> = window_steps.iter().map(|&n| history.window(n)).collect();
    let anomaly = history.window(steps(params, params.anomaly_window));
    let mut out = vec![history.level];
    for &n in &window_steps {
        out.push(match now.checked_sub(n) {
            Some(then) => values[now] - values[then],
            None => f64::NAN,
        });
    }
    for window in &windows {
        out.push(fit(window).map_or(f64::NAN, |fit| fit.slope / step_s));
    }
    for (window, &n) in windows.iter().zip(&window_steps) {
        let line = |fit: Fit| fit.first + fit.mean_u + fit.slope * (now as f64 - fit.mean_x);
        let enough = window.len() >= n.div_ceil(2).max(3);
        out.push(fit(window).filter(|_| enough).map_or(f64::NAN, line));
    }
    for half_life in &params.half_lives {
        out.push(ewma(values, half_life.as_secs_f64() / step_s));
    }
    for window in &windows {
        out.push(stddev(window));
    }
    let sorted = sorted_values(&anomaly);
    let median = median(&sorted);
    let mad = mad(&sorted, median);
    out.push(mad);
    for window in &windows {
        out.push(extreme(window, f64::min));
    }
    for window in &windows {
        out.push(extreme(window, f64::max));
    }
    let lag = sampling_lag(&values[..=now]);
    let increments: Vec<_> = window_steps
        .iter()
        .map(|&n| increments(&values[(now + 1).saturating_sub(n)..], n, lag))
        .collect();
    out.extend(increments.iter().map(|i| i.0 / step_s));
    out.extend(increments.iter().map(|i| i.1 / step_s));
    out.extend(increments.iter().map(|i| i.2 / step_s.sqrt()));
    // The anomaly score is a streaming detector's (`anomaly`, tested there): here only
    // whether the step has one.
    out.push(if values[now].is_nan() { f64::NAN } else { 0.0 });
    let drifts: Vec<(f64, f64)> = increments.iter().map(|i| (i.0, i.1)).collect();
    for threshold in &params.thresholds {
        let (eta, stderr) = eta(history, &windows, &window_steps, &drifts, threshold);
        out.push(eta * step_s);
        out.push(stderr * step_s);
        let level = threshold.warning_level();
        let beyond = anomaly
            .iter()
            .filter(|&&(_, v)| threshold.past(v, level))
            .count();
        out.push(beyond as f64 / anomaly.len() as f64);
    }
    let last_gap = (0..=now).rev().find(|&s| values[s].is_nan());
    out.push((now as f64 - last_gap.map_or(-1.0, |s| s as f64)) * step_s);
    let last_reset = last_reset(values, window_steps.iter().copied().min().unwrap());
    out.push((now as f64 - last_reset.map_or(-1.0, |s| s as f64)) * step_s);
    assert_eq!(out.len(), width);
    out
}

/// The sampling interval: the shortest of the last four intervals between changes of
/// the finite values (the first change only starts the count), at most 8; 1 with fewer
/// than two intervals.
fn sampling_lag(values: &[f64]) -> usize {
    let finite: Vec<(usize, f64)> = (0..values.len())
        .filter(|&s| !values[s].is_nan())
        .map(|s| (s, values[s]))
        .collect();
    let changes: Vec<usize> = finite
        .windows(2)
        .filter(|w| w[1].1 != w[0].1)
        .map(|w| w[1].0)
        .collect();
    let intervals: Vec<usize> = changes.windows(2).map(|w| w[1] - w[0]).collect();
    match intervals.len() {
        0 | 1 => 1,
        n => (*intervals[n.saturating_sub(4)..].iter().min().unwrap()).min(8),
    }
}

/// (drift, its standard error, volatility) per step from the increments over `lag` steps
/// between finite values, by sorting; NaN with fewer than half the `steps − lag` a window
/// holds, or 3.
fn increments(values: &[f64], steps: usize, lag: usize) -> (f64, f64, f64) {
    let mut increments: Vec<f64> = values
        .windows(lag + 1)
        .map(|w| w[lag] - w[0])
        .filter(|d| !d.is_nan())
        .collect();
    let n = increments.len();
    if n < (steps.saturating_sub(lag) / 2).max(3) {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    increments.sort_by(f64::total_cmp);
    let cut = (n as f64 * 0.2) as usize;
    let kept = &increments[cut..n - cut];
    let drift = kept.iter().sum::<f64>() / kept.len() as f64;
    let centre = median(&increments);
    let mut deviations: Vec<f64> = increments.iter().map(|x| (x - centre).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    let mad = median(&deviations);
    let spread = if mad > 0.0 {
        1.4826 * mad
    } else {
        1.253_314 * deviations.iter().sum::<f64>() / n as f64
    };
    let volatility = spread / (lag as f64).sqrt();
    (
        drift / lag as f64,
        volatility / (n as f64).sqrt(),
        volatility,
    )
}

/// A two-pass least-squares fit, about the first value (`u = v − first`) so that a
/// large level does not swamp the deviations.
pub struct Fit {
    pub n: f64,
    pub mean_x: f64,
    pub first: f64,
    pub mean_u: f64,
    pub sxx: f64,
    pub slope: f64,
    /// Residual sum of squares, from the residuals themselves.
    pub ssr: f64,
}

/// None with fewer than 2 points; a slope of exactly 0 when all values are equal.
pub fn fit(points: &[(f64, f64)]) -> Option<Fit> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let first = points[0].1;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_u = points.iter().map(|p| p.1 - first).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxu: f64 = points
        .iter()
        .map(|p| (p.0 - mean_x) * (p.1 - first - mean_u))
        .sum();
    let constant = points.iter().all(|p| p.1 == first);
    let slope = if constant { 0.0 } else { sxu / sxx };
    let ssr = points
        .iter()
        .map(|p| (p.1 - first - mean_u - slope * (p.0 - mean_x)).powi(2))
        .sum();
    Some(Fit {
        n,
        mean_x,
        first,
        mean_u,
        sxx,
        slope,
        ssr,
    })
}

/// Over every finite value, with each value's explicit weight.
fn ewma(values: &[f64], half_life_steps: f64) -> f64 {
    let finite: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .map(|(s, &v)| (s as f64, v))
        .collect();
    let Some(&(last, _)) = finite.last() else {
        return f64::NAN;
    };
    // The first value's weight is what the decays after it leave; each later value's is
    // (1 − its decay) times the decays after it.
    let decay_after = |s: f64| (-(last - s) / half_life_steps).exp2();
    let mut sum = finite[0].1 * decay_after(finite[0].0);
    for pair in finite.windows(2) {
        let (before, (s, v)) = (pair[0].0, pair[1]);
        let decay = (-(s - before) / half_life_steps).exp2();
        sum += (1.0 - decay) * v * decay_after(s);
    }
    sum
}

fn stddev(points: &[(f64, f64)]) -> f64 {
    let Some(&(_, first)) = points.first() else {
        return f64::NAN;
    };
    if points.iter().all(|p| p.1 == first) {
        return 0.0;
    }
    let n = points.len() as f64;
    let mean_u = points.iter().map(|p| p.1 - first).sum::<f64>() / n;
    (points
        .iter()
        .map(|p| (p.1 - first - mean_u).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}

fn extreme(points: &[(f64, f64)], pick: fn(f64, f64) -> f64) -> f64 {
    points.iter().map(|p| p.1).reduce(pick).unwrap_or(f64::NAN)
}

fn sorted_values(points: &[(f64, f64)]) -> Vec<f64> {
    let mut values: Vec<f64> = points.iter().map(|p| p.1).collect();
    values.sort_by(f64::total_cmp);
    values
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => midpoint(sorted[n / 2 - 1], sorted[n / 2]),
    }
}

fn mad(sorted: &[f64], median_value: f64) -> f64 {
    let mut deviations: Vec<f64> = sorted.iter().map(|v| (v - median_value).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    median(&deviations)
}

/// Per window: None without enough points, a flat window, a line moving away or a
/// robust drift (`drifts`: per window, the drift per step and its standard error) that
/// is not toward the threshold; otherwise (steps to the crossing of the line, or, when
/// the line is already past the threshold, of the latest value at the drift; and its
/// standard error).
pub fn crossings(
    history: &History,
    windows: &[Vec<(f64, f64)>],
    window_steps: &[usize],
    drifts: &[(f64, f64)],
    threshold: &Threshold,
) -> Vec<Option<(f64, f64)>> {
    let now = (history.values.len() - 1) as f64;
    let direction = threshold.direction();
    windows
        .iter()
        .zip(window_steps)
        .zip(drifts)
        .map(|((points, &steps), &(drift, drift_stderr))| {
            if points.len() < steps.div_ceil(2).max(3) {
                return None;
            }
            let fit = fit(points)?;
            if fit.slope * direction <= 0.0 || drift * direction <= 0.0 {
                return None;
            }
            let distance =
                (threshold.value - fit.first) - (fit.mean_u + fit.slope * (now - fit.mean_x));
            let eta = distance / fit.slope;
            if eta < 0.0 {
                let eta = (threshold.value - history.values[now as usize]) / drift;
                return (!eta.is_nan()).then_some((eta, eta * drift_stderr / drift.abs()));
            }
            let sigma = (fit.ssr / (fit.n - 2.0)).sqrt();
            let from_centre = now + eta - fit.mean_x;
            let stderr =
                sigma / fit.slope.abs() * (1.0 / fit.n + from_centre.powi(2) / fit.sxx).sqrt();
            Some((eta, stderr))
        })
        .collect()
}

/// The window whose crossing has the smallest standard error, the longer on a tie.
pub fn best_crossing(crossings: &[Option<(f64, f64)>], window_steps: &[usize]) -> Option<usize> {
    (0..crossings.len())
        .filter(|&k| crossings[k].is_some())
        .min_by(|&a, &b| {
            let (se_a, se_b) = (crossings[a].unwrap().1, crossings[b].unwrap().1);
            se_a.total_cmp(&se_b)
                .then(window_steps[b].cmp(&window_steps[a]))
        })
}

/// (steps to the crossing, its standard error).
fn eta(
    history: &History,
    windows: &[Vec<(f64, f64)>],
    window_steps: &[usize],
    drifts: &[(f64, f64)],
    threshold: &Threshold,
) -> (f64, f64) {
    if threshold.is_beyond(history.level) {
        return (0.0, 0.0);
    }
    let crossings = crossings(history, windows, window_steps, drifts, threshold);
    match best_crossing(&crossings, window_steps) {
        Some(k) => crossings[k].unwrap(),
        None => (f64::NAN, f64::NAN),
    }
}

/// The latest step where a finite value fell below the previous finite one, after a
/// non-decreasing run of at least `min_run` steps.
fn last_reset(values: &[f64], min_run: usize) -> Option<usize> {
    let finite: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .map(|(s, &v)| (s, v))
        .collect();
    (1..finite.len()).rev().find_map(|i| {
        if finite[i].1 >= finite[i - 1].1 {
            return None;
        }
        let mut start = i - 1;
        while start > 0 && finite[start - 1].1 <= finite[start].1 {
            start -= 1;
        }
        (finite[i - 1].0 - finite[start].0 + 1 >= min_run).then_some(finite[i].0)
    })
}

/// A threshold for the tests, with a warning fraction of 0.8.
pub fn threshold(name: &str, comparison: Comparison, inclusive: bool, value: f64) -> Threshold {
    Threshold {
        name: name.to_owned(),
        comparison,
        inclusive,
        value,
        warning_fraction: 0.8,
    }
}
