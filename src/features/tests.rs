//! Specifications of the spec checks, column names and numeric edge cases.

use std::collections::BTreeMap;
use std::time::Duration;

use super::naive::threshold;
use super::*;
use crate::rules::Comparison;

const STEP_MS: i64 = 15_000;

/// Step 15 s, windows 1m and 2m (4 and 8 steps), half-life 30s, anomaly window 2m;
/// `High` fires above 100 (warning from 80), `Low` at or below 0 (warning from 0).
fn small_spec() -> FeatureSpec {
    FeatureSpec::new(FeatureParams {
        step: Duration::from_secs(15),
        windows: vec![Duration::from_secs(60), Duration::from_secs(120)],
        half_lives: vec![Duration::from_secs(30)],
        anomaly_window: Duration::from_secs(120),
        anomaly_memory: super::DEFAULT_ANOMALY_MEMORY,
        thresholds: vec![
            threshold("High", Comparison::Above, false, 100.0),
            threshold("Low", Comparison::Below, true, 0.0),
        ],
    })
    .unwrap()
}

/// Feeds one value per step and returns the columns by name.
fn run(spec: &FeatureSpec, inputs: &[Option<f64>]) -> BTreeMap<String, f64> {
    let mut features = SignalFeatures::new(spec);
    for (i, &value) in inputs.iter().enumerate() {
        features.update(i as i64 * STEP_MS, value);
    }
    columns(spec, &features)
}

fn columns(spec: &FeatureSpec, features: &SignalFeatures) -> BTreeMap<String, f64> {
    let mut out = Vec::new();
    features.write(&mut out);
    assert_eq!(out.len(), spec.width());
    spec.names().into_iter().zip(out).collect()
}

/// What a column should hold.
#[derive(Debug, Clone, Copy)]
enum Is {
    Exactly(f64),
    Nan,
    /// Within 1e-12 relative.
    About(f64),
    /// Finite, and not below this.
    FiniteFrom(f64),
}

fn check(case: &str, got: &BTreeMap<String, f64>, expected: &[(&str, Is)]) {
    for &(column, is) in expected {
        let value = *got
            .get(column)
            .unwrap_or_else(|| panic!("{case}: no column {column}"));
        let ok = match is {
            Is::Exactly(want) => value == want,
            Is::Nan => value.is_nan(),
            Is::About(want) => (value - want).abs() <= 1e-12 * want.abs(),
            Is::FiniteFrom(low) => value.is_finite() && value >= low,
        };
        assert!(ok, "{case}: {column} is {value:e}, expected {is:?}");
    }
}

#[test]
fn names_of_the_default_spec() {
    let params = FeatureParams {
        thresholds: vec![threshold(
            "HostOutOfDiskSpace",
            Comparison::Below,
            false,
            10.0,
        )],
        ..FeatureParams::default()
    };
    let spec = FeatureSpec::new(params).unwrap();
    let expected = "level change_5m change_15m change_1h slope_5m slope_15m slope_1h line_5m \
        line_15m line_1h ewma_1m ewma_10m stddev_5m stddev_15m stddev_1h mad_1h min_5m min_15m min_1h max_5m max_15m \
        max_1h drift_5m drift_15m drift_1h drift_stderr_5m drift_stderr_15m drift_stderr_1h \
        volatility_5m volatility_15m volatility_1h anomaly_score eta_seconds:HostOutOfDiskSpace \
        eta_stderr_seconds:HostOutOfDiskSpace \
        beyond_warning_fraction_1h:HostOutOfDiskSpace since_gap_seconds since_reset_seconds";
    assert_eq!(spec.names().join(" "), expected);
    assert_eq!(spec.width(), 37);
}

#[test]
fn thresholds_come_from_targets() {
    let mut target = crate::rules::split_rule(
        "(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes < 10",
    )
    .unwrap();
    target.alert = "HostOutOfDiskSpace".to_owned();
    let threshold = Threshold::from_target(&target);
    assert_eq!(threshold.name, "HostOutOfDiskSpace");
    assert_eq!(
        (threshold.comparison, threshold.inclusive, threshold.value),
        (Comparison::Below, false, 10.0)
    );
    assert_eq!(threshold.warning_level(), 12.0);
    assert!(threshold.is_beyond(9.9) && !threshold.is_beyond(10.0));
    let high = self::threshold("High", Comparison::Above, true, 80.0);
    assert_eq!(high.warning_level(), 64.0);
    assert!(high.is_beyond(80.0) && !high.is_beyond(f64::NAN));
}

#[test]
fn parameters_report_every_problem() {
    let s = Duration::from_secs;
    let params = FeatureParams {
        step: s(15),
        windows: vec![s(60), s(70), s(60), Duration::ZERO],
        half_lives: vec![Duration::ZERO],
        anomaly_window: s(15 * 70_000),
        anomaly_memory: super::DEFAULT_ANOMALY_MEMORY,
        thresholds: vec![
            Threshold {
                value: f64::NAN,
                warning_fraction: 1.5,
                ..threshold("A", Comparison::Above, false, 0.0)
            },
            threshold("A", Comparison::Below, false, 1.0),
            threshold("", Comparison::Below, false, 1.0),
        ],
    };
    let error = FeatureSpec::new(params).unwrap_err();
    let message = error.to_string();
    for expected in [
        "9 problem(s)",
        "windows[1]: 70s is not a positive multiple of the step 15s",
        "windows[3]: 0ns is not a positive multiple of the step 15s",
        "anomaly_window: 1050000s spans 70000 steps; at most 65534 are supported",
        "windows[2]: 60s is listed twice",
        "half_lives[0]: must be greater than 0",
        "threshold \"A\": value NaN is not a finite number",
        "threshold \"A\": warning_fraction 1.5 is not between 0 and 1",
        "thresholds[1]: the name \"A\" is used twice",
        "thresholds[2]: the name is empty",
    ] {
        assert!(
            message.contains(expected),
            "{expected:?} missing in:\n{message}"
        );
    }
    let no_window = FeatureParams {
        step: Duration::from_micros(1500),
        windows: vec![],
        ..FeatureParams::default()
    };
    let message = FeatureSpec::new(no_window).unwrap_err().to_string();
    assert!(message.contains("step: 1.5ms is not a positive whole number of milliseconds"));
    assert!(message.contains("windows: name at least one window"));
}

#[test]
fn before_any_update_every_column_is_nan() {
    let spec = small_spec();
    let features = SignalFeatures::new(&spec);
    assert!(columns(&spec, &features).values().all(|v| v.is_nan()));
}

/// Values fed one per step, and what columns hold after the last.
struct Case {
    name: &'static str,
    /// One value per step; `None` is a step without a sample.
    inputs: Vec<Option<f64>>,
    expected: Vec<(&'static str, Is)>,
}

#[test]
fn numeric_edge_cases() {
    use Is::*;
    let ramp = |n: usize| (0..n).map(|i| Some(i as f64)).collect::<Vec<_>>();
    let with = |mut inputs: Vec<Option<f64>>, last: Option<f64>| {
        inputs.push(last);
        inputs
    };
    let m = f64::MAX;
    // Half-life 30 s is two steps: each step keeps 2^(-1/2) of the mean.
    let ewma_of_ramp = (1..4).fold(0.0, |mean: f64, v| {
        mean + (1.0 - 0.5f64.sqrt()) * (f64::from(v) - mean)
    });
    let cases = vec![
        Case {
            name: "one value",
            inputs: vec![Some(5.0)],
            expected: vec![
                ("level", Exactly(5.0)),
                ("change_1m", Nan),
                ("slope_1m", Nan),
                ("line_1m", Nan),
                ("ewma_30s", Exactly(5.0)),
                ("stddev_1m", Exactly(0.0)),
                ("mad_2m", Exactly(0.0)),
                ("min_1m", Exactly(5.0)),
                ("max_2m", Exactly(5.0)),
                ("anomaly_score", Exactly(0.0)),
                ("eta_seconds:High", Nan),
                ("eta_stderr_seconds:High", Nan),
                ("beyond_warning_fraction_2m:High", Exactly(0.0)),
                ("since_gap_seconds", Exactly(15.0)),
                ("since_reset_seconds", Exactly(15.0)),
            ],
        },
        Case {
            name: "a constant series",
            inputs: vec![Some(0.1); 12],
            expected: vec![
                ("change_1m", Exactly(0.0)),
                ("slope_1m", Exactly(0.0)),
                ("slope_2m", Exactly(0.0)),
                ("line_2m", Exactly(0.1)),
                ("ewma_30s", Exactly(0.1)),
                ("stddev_2m", Exactly(0.0)),
                ("mad_2m", Exactly(0.0)),
                ("anomaly_score", Exactly(0.0)),
                ("eta_seconds:High", Nan),
                ("eta_seconds:Low", Nan),
                ("since_gap_seconds", Exactly(180.0)),
            ],
        },
        Case {
            name: "NaN is a gap",
            inputs: with(ramp(4), Some(f64::NAN)),
            expected: vec![
                ("level", Nan),
                ("change_1m", Nan),
                ("slope_1m", About(1.0 / 15.0)),
                // The ramp's line, carried on to the step that had no value.
                ("line_1m", About(4.0)),
                ("min_1m", Exactly(1.0)),
                ("max_1m", Exactly(3.0)),
                ("ewma_30s", About(ewma_of_ramp)),
                ("anomaly_score", Nan),
                ("since_gap_seconds", Exactly(0.0)),
            ],
        },
        Case {
            name: "+Inf is beyond an upper threshold and a gap for windows",
            inputs: with(ramp(4), Some(f64::INFINITY)),
            expected: vec![
                ("level", Exactly(f64::INFINITY)),
                ("change_1m", Nan),
                ("max_1m", Exactly(3.0)),
                ("stddev_1m", About((2.0f64 / 3.0).sqrt())),
                ("eta_seconds:High", Exactly(0.0)),
                ("eta_stderr_seconds:High", Exactly(0.0)),
                // Rising, so moving away from `<= 0`.
                ("eta_seconds:Low", Nan),
                ("since_gap_seconds", Exactly(0.0)),
            ],
        },
        Case {
            name: "-Inf is beyond a lower threshold",
            inputs: with(ramp(4), Some(f64::NEG_INFINITY)),
            expected: vec![
                ("level", Exactly(f64::NEG_INFINITY)),
                ("eta_seconds:Low", Exactly(0.0)),
                ("min_2m", Exactly(0.0)),
            ],
        },
        Case {
            name: "huge values",
            inputs: vec![Some(1e300), Some(3e300)],
            expected: vec![
                ("change_1m", Nan),
                ("slope_1m", About(2e300 / 15.0)),
                ("stddev_1m", About(1e300)),
                ("ewma_30s", About(1e300 + (1.0 - 0.5f64.sqrt()) * 2e300)),
                ("mad_2m", About(1e300)),
                // The first residual: nothing to be unusual against yet.
                ("anomaly_score", Exactly(0.0)),
            ],
        },
        Case {
            name: "values of opposite signs at f64::MAX",
            inputs: vec![Some(-m), Some(m), Some(-m), Some(m), Some(m)],
            expected: vec![
                ("stddev_1m", About(m * 3f64.sqrt() / 2.0)),
                ("stddev_2m", About(m * 24f64.sqrt() / 5.0)),
                ("slope_1m", About(m / 5.0 / 15.0)),
                // The difference itself overflows, as IEEE arithmetic says.
                ("change_1m", Exactly(f64::INFINITY)),
                ("mad_2m", Exactly(0.0)),
                ("anomaly_score", FiniteFrom(0.0)),
                ("min_1m", Exactly(-m)),
            ],
        },
        Case {
            name: "a gap, then a value",
            inputs: vec![Some(1.0), None, Some(2.0)],
            expected: vec![
                ("since_gap_seconds", Exactly(15.0)),
                ("min_1m", Exactly(1.0)),
                ("stddev_1m", Exactly(0.5)),
            ],
        },
        Case {
            name: "a counter reset after a non-decreasing window",
            inputs: with(ramp(10), Some(3.0)),
            expected: vec![
                ("since_reset_seconds", Exactly(0.0)),
                ("change_1m", Exactly(-3.0)),
            ],
        },
        Case {
            name: "a gauge's dips are not resets",
            inputs: (0..12).map(|i| Some(f64::from(i % 2))).collect(),
            expected: vec![("since_reset_seconds", Exactly(180.0))],
        },
        Case {
            name: "falling on a line toward `<= 0`",
            inputs: (0..5).map(|i| Some(10.0 - f64::from(i))).collect(),
            expected: vec![
                ("slope_2m", About(-1.0 / 15.0)),
                ("eta_seconds:Low", About(6.0 * 15.0)),
                ("eta_stderr_seconds:Low", Exactly(0.0)),
                ("eta_seconds:High", Nan),
            ],
        },
        Case {
            name: "already beyond",
            inputs: vec![Some(3.0), Some(2.0), Some(0.0)],
            expected: vec![
                ("eta_seconds:Low", Exactly(0.0)),
                ("eta_stderr_seconds:Low", Exactly(0.0)),
            ],
        },
        Case {
            name: "most of the window one value",
            inputs: with(vec![Some(0.0); 7], Some(1.0)),
            expected: vec![("mad_2m", Exactly(0.0))],
        },
        Case {
            name: "time beyond the warning level",
            inputs: vec![Some(70.0), Some(85.0), Some(90.0), Some(75.0)],
            expected: vec![
                ("beyond_warning_fraction_2m:High", Exactly(0.5)),
                ("beyond_warning_fraction_2m:Low", Exactly(0.0)),
            ],
        },
    ];
    let spec = small_spec();
    for case in &cases {
        check(case.name, &run(&spec, &case.inputs), &case.expected);
    }
}

#[test]
fn steps_come_from_times() {
    let spec = small_spec();
    let mut features = SignalFeatures::new(&spec);
    features.update(1_000, Some(1.0));
    // A repeated step, and one before it, are ignored.
    features.update(1_000 + 4_000, Some(50.0));
    features.update(-30_000, Some(50.0));
    // Off the grid by less than half a step: the next step.
    features.update(1_000 + STEP_MS + 7_000, Some(2.0));
    // Two steps skipped: gaps.
    features.update(1_000 + 4 * STEP_MS, Some(3.0));
    let got = columns(&spec, &features);
    check(
        "steps",
        &got,
        &[
            ("level", Is::Exactly(3.0)),
            ("max_2m", Is::Exactly(3.0)),
            ("change_1m", Is::Exactly(2.0)),
            ("since_gap_seconds", Is::Exactly(15.0)),
            ("stddev_2m", Is::About((2.0f64 / 3.0).sqrt())),
        ],
    );
    // A jump past the longest window starts the windows afresh; the EWMA decays by the
    // time that passed.
    features.update(1_000 + 4 * STEP_MS + 3_600_000, Some(10.0));
    check(
        "after a jump",
        &columns(&spec, &features),
        &[
            ("min_2m", Is::Exactly(10.0)),
            ("max_1m", Is::Exactly(10.0)),
            ("change_2m", Is::Nan),
            ("stddev_2m", Is::Exactly(0.0)),
            ("ewma_30s", Is::Exactly(10.0)),
            ("since_gap_seconds", Is::Exactly(15.0)),
        ],
    );
}

#[test]
fn no_input_leaves_the_state_unusable() {
    let spec = small_spec();
    let mut features = SignalFeatures::new(&spec);
    let wild = [
        f64::MAX,
        f64::NAN,
        -f64::MAX,
        f64::INFINITY,
        f64::MIN_POSITIVE,
        5e-324,
        -0.0,
        1e300,
        f64::NEG_INFINITY,
        -1e-300,
    ];
    for (i, &v) in wild.iter().cycle().take(200).enumerate() {
        features.update(i as i64 * STEP_MS, Some(v));
    }
    // Then ordinary values: once the wild ones have left the windows, the features are
    // those of the ordinary values alone.
    let tame: Vec<Option<f64>> = (0..20).map(|i| Some(f64::from(i % 5))).collect();
    for (i, &v) in tame.iter().enumerate() {
        features.update((200 + i as i64) * STEP_MS, v);
    }
    let got = columns(&spec, &features);
    let fresh = run(&spec, &tame);
    for (name, &value) in &fresh {
        // These remember what came before the windows; the anomaly score must stay
        // usable.
        if name.starts_with("ewma") || name.starts_with("since_") {
            continue;
        }
        if name == "anomaly_score" {
            assert!(got[name].is_finite() && got[name] >= 0.0, "{}", got[name]);
            continue;
        }
        let same = value == got[name]
            || (value.is_nan() && got[name].is_nan())
            || (value - got[name]).abs() <= 1e-12 * value.abs();
        assert!(
            same,
            "{name}: {} after wild values, {value} fresh",
            got[name]
        );
    }
}

#[test]
fn memory_is_allocated_once_and_bounded() {
    let spec = FeatureSpec::new(FeatureParams {
        thresholds: vec![threshold("Low", Comparison::Below, false, 10.0)],
        ..FeatureParams::default()
    })
    .unwrap();
    let mut features = SignalFeatures::new(&spec);
    let fresh = features.memory_bytes();
    // A monotonic series fills the deques to their worst case.
    for i in 0..2_000 {
        features.update(i * 15_000, Some(i as f64));
    }
    assert_eq!(features.memory_bytes(), fresh);
    // A clone holds buffers as large, so it will not allocate either.
    assert_eq!(SignalFeatures::new(&spec).clone().memory_bytes(), fresh);
    // The ring (241 f64), the anomaly score's season (288 two-byte offsets) and the
    // windows' increments in order (19 + 59 + 239 two-byte positions) dominate.
    assert!(
        fresh > 241 * 8 + 288 * 2 + 317 * 2 && fresh < 5_300,
        "{fresh}"
    );
}

/// A disk filling 0.1 a second, scraped every minute at a 15 s step: each sample holds for
/// four steps. Its drift is still 0.1 a second and its volatility 0, as when every step
/// has a sample; step-to-step increments (three zeros, then 6) would read a fraction of
/// the rate and a spread that is not there.
#[test]
fn a_fill_scraped_every_minute_drifts_at_its_rate() {
    let spec = FeatureSpec::new(FeatureParams::default()).unwrap();
    let sampled = |every: usize| -> Vec<Option<f64>> {
        (0..240)
            .map(|i| Some(0.1 * 15.0 * (i - i % every) as f64))
            .collect()
    };
    for every in [1, 2, 4] {
        let got = run(&spec, &sampled(every));
        for window in ["5m", "15m", "1h"] {
            let drift = got[&format!("drift_{window}")];
            assert!(
                (drift - 0.1).abs() < 1e-9,
                "every {every}, {window}: {drift}"
            );
            assert_eq!(
                got[&format!("volatility_{window}")],
                0.0,
                "every {every}, {window}"
            );
        }
    }
}
