//! Property tests: after every update, each incremental feature equals the naive
//! recomputation from the whole input history (`naive`), over inputs with gaps, NaN and
//! ±Inf, repeated values, outliers a million times the spread, skipped and repeated
//! steps, jitter and jumps past the longest window, and values held for a few steps (a
//! scrape slower than the step: the increments' lag, `sampling`).
//!
//! Tolerances say how exact each feature is:
//! - bit-equal: level, change, min, max, MAD, beyond-warning fractions, since-gap and
//!   since-reset (the same values, selected or subtracted the same way);
//! - 1e-9 relative to the feature plus the window's range (range/window for slopes):
//!   standard deviation, slope;
//! - ETA and its standard error: 1e-9 relative to the feature plus range/|slope| of the
//!   window used; not compared where the choice of window rests on rounding (a window
//!   whose trend over its length is below 1e-4 of its range, whose direction decides
//!   whether it is a candidate, or two windows' errors within 1e-6 of each other);
//! - 1e-9 relative to the feature plus the largest input magnitude: EWMA;
//! - the anomaly score, a streaming detector with its own tests (`anomaly`): finite and
//!   at least 0 exactly at the steps that have a finite value, NaN at the others.

use std::time::Duration;

use proptest::prelude::*;

use super::naive::{self, History, threshold};
use super::{FeatureParams, FeatureSpec, SignalFeatures};
use crate::rules::Comparison;

#[derive(Debug, Clone)]
enum Input {
    Gap,
    Nan,
    PosInf,
    NegInf,
    /// The previous finite value again.
    Repeat,
    /// The walk moves by this much.
    Walk(f64),
    /// This many millions above the walk, once.
    Outlier(f64),
}

#[derive(Debug, Clone)]
enum Advance {
    Next,
    /// The same step again: ignored.
    Same,
    /// Steps without an update: gaps.
    Skip(u8),
    /// The next step, this many ms off the grid (less than half a step).
    Jitter(i16),
    /// Past the longest window.
    Jump,
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        2 => Just(Input::Gap),
        1 => Just(Input::Nan),
        1 => Just(Input::PosInf),
        1 => Just(Input::NegInf),
        3 => Just(Input::Repeat),
        20 => (-3.0..3.0f64).prop_map(Input::Walk),
        1 => (-2.0..2.0f64).prop_map(Input::Outlier),
    ]
}

fn advance() -> impl Strategy<Value = Advance> {
    prop_oneof![
        30 => Just(Advance::Next),
        1 => Just(Advance::Same),
        2 => (1u8..4).prop_map(Advance::Skip),
        3 => (-4_999i16..5_000).prop_map(Advance::Jitter),
        1 => Just(Advance::Jump),
    ]
}

/// Level offsets: the sums must not lose the walk under a large level.
fn offset() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1e3), Just(-1e6), Just(1e12)]
}

/// Step 10 s. `shared`: the anomaly window is as long as one of the windows (its extremes
/// then come from the order); otherwise it stands apart.
fn small_params(shared: bool, offset: f64) -> FeatureParams {
    let s = |steps: u64| Duration::from_secs(10 * steps);
    FeatureParams {
        step: s(1),
        windows: if shared {
            vec![s(6), s(2), s(4)]
        } else {
            vec![s(3), s(8), s(5)]
        },
        half_lives: vec![s(2), s(7)],
        anomaly_window: s(6),
        anomaly_memory: super::DEFAULT_ANOMALY_MEMORY,
        thresholds: vec![
            threshold("Up", Comparison::Above, false, offset + 5.0),
            threshold("Down", Comparison::Below, true, offset - 3.0),
        ],
    }
}

/// Each event followed by `hold − 1` repeats of its value on the next steps: a signal
/// sampled every `hold` steps.
fn held(events: &[(Advance, Input)], hold: usize) -> Vec<(Advance, Input)> {
    let repeats = (1..hold).map(|_| (Advance::Next, Input::Repeat));
    let each = |event: &(Advance, Input)| std::iter::once(event.clone()).chain(repeats.clone());
    events.iter().flat_map(each).collect()
}

/// Turns generated events into updates `(t_ms, value)`.
fn updates(
    params: &FeatureParams,
    offset: f64,
    events: &[(Advance, Input)],
) -> Vec<(i64, Option<f64>)> {
    let step_ms = params.step.as_millis() as i64;
    let longest = params
        .windows
        .iter()
        .chain([&params.anomaly_window])
        .max()
        .unwrap();
    let jump = longest.as_millis() as i64 + 3 * step_ms;
    let mut grid = 1_700_000_000_000i64;
    let mut walk = 0.0;
    let mut previous = offset;
    let mut out = Vec::new();
    for (i, (advance, input)) in events.iter().enumerate() {
        let mut t = grid;
        if i > 0 {
            match advance {
                Advance::Next => grid += step_ms,
                Advance::Same => {}
                Advance::Skip(n) => grid += step_ms * (1 + i64::from(*n)),
                Advance::Jitter(_) => grid += step_ms,
                Advance::Jump => grid += jump,
            }
            t = grid;
            if let Advance::Jitter(ms) = advance {
                t += i64::from(*ms);
            }
        }
        let value = match input {
            Input::Gap => None,
            Input::Nan => Some(f64::NAN),
            Input::PosInf => Some(f64::INFINITY),
            Input::NegInf => Some(f64::NEG_INFINITY),
            Input::Repeat => Some(previous),
            Input::Walk(d) => {
                walk += d;
                Some(offset + walk)
            }
            Input::Outlier(m) => Some(offset + walk + m * 1e6),
        };
        if let Some(v) = value.filter(|v| v.is_finite()) {
            previous = v;
        }
        out.push((t, value));
    }
    out
}

/// Compares every column; `Err` names the first that differs beyond its tolerance.
fn compare(
    params: &FeatureParams,
    names: &[String],
    history: &History,
    got: &[f64],
    want: &[f64],
) -> Result<(), String> {
    assert_eq!(got.len(), names.len());
    let step_s = params.step.as_secs_f64();
    let step_ms = params.step.as_millis();
    let windows: Vec<(usize, Vec<(f64, f64)>)> = params
        .windows
        .iter()
        .map(|w| {
            let steps = (w.as_millis() / step_ms) as usize;
            (steps, history.window(steps))
        })
        .collect();
    let range = |points: &[(f64, f64)]| {
        let lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        if points.is_empty() { 0.0 } else { hi - lo }
    };
    let magnitude = history
        .values
        .iter()
        .filter(|v| !v.is_nan())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    // Per threshold, the ETA's natural scale, range / |slope| of the window it uses; None
    // where the choice of window rests on rounding: a slope lost in rounding (its
    // direction decides whether the window is a candidate) or standard errors too close
    // to tell apart.
    let points: Vec<Vec<(f64, f64)>> = windows.iter().map(|w| w.1.clone()).collect();
    let steps: Vec<usize> = windows.iter().map(|w| w.0).collect();
    // The naive robust drift of each window and its standard error, per step, as the
    // ETA reads them.
    let drifts: Vec<(f64, f64)> = params
        .windows
        .iter()
        .map(|w| {
            let w = crate::config::duration::format(*w);
            let column = |name: String| names.iter().position(|n| *n == name).unwrap();
            let per_step = |name: String| want[column(name)] * step_s;
            (
                per_step(format!("drift_{w}")),
                per_step(format!("drift_stderr_{w}")),
            )
        })
        .collect();
    let eta_scale = |threshold_name: &str| -> Option<f64> {
        let threshold = params
            .thresholds
            .iter()
            .find(|t| t.name == threshold_name)
            .unwrap();
        let enough = |k: usize| points[k].len() >= steps[k].div_ceil(2).max(3);
        for k in (0..points.len()).filter(|&k| enough(k)) {
            let fit = naive::fit(&points[k]).unwrap();
            if fit.slope != 0.0 && fit.slope.abs() * steps[k] as f64 <= 1e-4 * range(&points[k]) {
                return None;
            }
            // The drift's sign decides too: not where it is lost in rounding.
            let drift = drifts[k].0;
            if drift != 0.0 && drift.abs() <= 1e-9 * magnitude * (1.0 + step_s) {
                return None;
            }
        }
        let crossings = naive::crossings(history, &points, &steps, &drifts, threshold);
        let mut errors: Vec<f64> = crossings.iter().flatten().map(|c| c.1).collect();
        errors.sort_by(f64::total_cmp);
        if errors.len() > 1 && errors[1] - errors[0] <= 1e-6 * errors[1] {
            return None;
        }
        // No window to use: the ETA must be NaN (or 0 when beyond), exactly.
        let Some(k) = naive::best_crossing(&crossings, &steps) else {
            return Some(0.0);
        };
        let slope = naive::fit(&points[k]).unwrap().slope;
        Some(range(&points[k]) / slope.abs() * step_s)
    };
    let window_of = |name: &str| {
        params
            .windows
            .iter()
            .position(|w| name.ends_with(&format!("_{}", crate::config::duration::format(*w))))
    };
    for (i, name) in names.iter().enumerate() {
        let (g, w) = (got[i], want[i]);
        if g.is_nan() && w.is_nan() {
            continue;
        }
        let tolerance = if name.starts_with("stddev_") {
            let k = window_of(name).unwrap();
            1e-9 * (w.abs() + range(&windows[k].1))
        } else if name.starts_with("slope_") {
            let k = window_of(name).unwrap();
            let (steps, points) = &windows[k];
            1e-9 * (w.abs() + range(points) / (*steps as f64 * step_s))
        } else if name.starts_with("line_") {
            // The fit's level at its centre, carried to the latest step.
            let k = window_of(name).unwrap();
            1e-9 * (w.abs() + magnitude + range(&windows[k].1))
        } else if name.starts_with("ewma_") {
            1e-9 * (w.abs() + magnitude)
        } else if name.starts_with("drift") || name.starts_with("volatility_") {
            // Means of increments, summed in another order than the naive sort's.
            1e-9 * (w.abs() + magnitude * (1.0 + 1.0 / step_s))
        } else if name == "anomaly_score" {
            if g.is_nan() != w.is_nan() || g < 0.0 || g.is_infinite() {
                return Err(format!("anomaly_score: got {g:e} where naive has {w:e}"));
            }
            continue;
        } else if name.starts_with("eta_stderr") {
            // The error comes from the residual sum of squares, which loses digits in
            // proportion to the values' magnitude (a walk of a few units at -1e6).
            let threshold_name = name.split_once(':').unwrap().1;
            match eta_scale(threshold_name) {
                Some(scale) => 1e-9 * (w.abs() + scale) * (1.0 + magnitude),
                None => continue,
            }
        } else if name.starts_with("eta_") {
            let threshold_name = name.split_once(':').unwrap().1;
            match eta_scale(threshold_name) {
                Some(scale) => 1e-9 * (w.abs() + scale),
                None => continue,
            }
        } else {
            0.0
        };
        let close = g == w || (g - w).abs() <= tolerance;
        if !close {
            return Err(format!(
                "{name}: got {g:e}, naive {w:e} (difference {:e}, tolerance {tolerance:e})",
                (g - w).abs()
            ));
        }
    }
    Ok(())
}

/// Feeds `updates` to the engine and the naive history, comparing every `every` updates.
fn check(
    params: &FeatureParams,
    updates: &[(i64, Option<f64>)],
    every: usize,
) -> Result<(), TestCaseError> {
    let spec = FeatureSpec::new(params.clone()).unwrap();
    let names = spec.names();
    let mut features = SignalFeatures::new(&spec);
    let mut history = History::new(params);
    let mut got = Vec::new();
    for (i, &(t, value)) in updates.iter().enumerate() {
        features.update(t, value);
        history.push(t, value);
        if i % every != every - 1 && i != updates.len() - 1 {
            continue;
        }
        got.clear();
        features.write(&mut got);
        let want = naive::features(params, &history);
        if let Err(problem) = compare(params, &names, &history, &got, &want) {
            return Err(TestCaseError::fail(format!(
                "after update {i} (step {}): {problem}",
                history.values.len() - 1
            )));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_feature_matches_its_naive_recomputation(
        shared in any::<bool>(),
        offset in offset(),
        events in proptest::collection::vec((advance(), input()), 1..160),
        hold in prop_oneof![3 => Just(1usize), 1 => 2usize..=5],
    ) {
        let params = small_params(shared, offset);
        let updates = updates(&params, offset, &held(&events, hold));
        check(&params, &updates, 1)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// The default spec (rings of 241 steps), over long runs.
    #[test]
    fn the_default_spec_matches_its_naive_recomputation(
        offset in offset(),
        events in proptest::collection::vec((advance(), input()), 600..1500),
    ) {
        let params = FeatureParams {
            thresholds: vec![
                threshold("Up", Comparison::Above, false, offset + 20.0),
                threshold("Down", Comparison::Below, false, offset - 20.0),
            ],
            ..FeatureParams::default()
        };
        let updates = updates(&params, offset, &events);
        check(&params, &updates, 23)?;
    }
}

proptest! {
    /// Any timestamps, in any order, and any bit patterns: no panic (overflow checks are
    /// on in tests) and one value per column.
    #[test]
    fn no_input_panics(
        shared in any::<bool>(),
        inputs in proptest::collection::vec(
            (any::<i64>(), proptest::option::of(any::<u64>().prop_map(f64::from_bits))),
            1..80,
        ),
    ) {
        let params = small_params(shared, 0.0);
        let spec = FeatureSpec::new(params).unwrap();
        let mut features = SignalFeatures::new(&spec);
        let mut out = Vec::new();
        for &(t, value) in &inputs {
            features.update(t, value);
            out.clear();
            features.write(&mut out);
            prop_assert_eq!(out.len(), spec.width());
        }
    }
}
