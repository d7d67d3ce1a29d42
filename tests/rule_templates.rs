//! Annotations rendered as Prometheus renders them, checked by Prometheus itself: every
//! template case becomes an alerting rule, its annotation expected as harbinger's
//! `rules::template::render` writes it, and Debian's `promtool test rules` evaluates the
//! rules with Go's templates and compares. Needs Debian's `prometheus` (for `promtool`);
//! fails without it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::process::Command;

use harbinger::rules::template::render;

/// (template, the series' value).
const CASES: &[(&str, f64)] = &[
    (
        "Host out of disk space (instance {{ $labels.instance }})",
        7.5,
    ),
    ("VALUE = {{ $value }}\n  LABELS = {{ $labels }}", 7.5),
    ("{{ $value }}", 1e6),
    ("{{ $value }}", 123456.0),
    ("{{ $value }}", 1234567.0),
    ("{{ $value }}", 0.00001234),
    ("{{ $value }}", -3.5),
    ("{{ $value | humanize }}B free", 1234567.0),
    ("{{ humanize $value }}", 0.0123),
    ("{{ humanize $value }}", 0.0),
    ("{{ humanize1024 $value }}", 1048576.0),
    ("{{ $value | humanize1024 }}", 0.5),
    ("{{ humanizeDuration $value }}", 899.99),
    ("{{ humanizeDuration $value }}", 90061.0),
    ("{{ humanizeDuration $value }}", 0.25),
    ("{{ humanizeDuration $value }}", 42.5),
    ("{{ $value | humanizePercentage }}", 0.1234567),
    ("{{ printf \"%.2f\" $value }}%", 12.3456),
    ("{{ printf \"%.0f\" $value }} left", 99.5),
    ("{{- $labels.job -}} ! {{ .Labels.instance }}", 1.0),
    (
        "{{ $labels.mountpoint | toUpper }} {{ title \"disk full\" }}",
        1.0,
    ),
];

#[test]
fn promtool_renders_every_annotation_as_harbinger_does() {
    let dir = tempfile::tempdir().unwrap();
    let labels: BTreeMap<String, String> = [("instance", "app-1"), ("mountpoint", "/data")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let mut rules = String::from("groups:\n  - name: templates\n    rules:\n");
    let mut tests = String::from(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n",
    );
    let mut expected = String::from("    alert_rule_test:\n");
    for (i, &(template, value)) in CASES.iter().enumerate() {
        let case = i.to_string();
        let mut series_labels = labels.clone();
        series_labels.insert("case".to_owned(), case.clone());
        // `* 1` drops the metric name, so that `$labels` is the entity's labels.
        let _ = write!(
            rules,
            "      - alert: Case{i}\n        expr: probe{{case=\"{i}\"}} * 1 > -1e300\n        annotations:\n          text: {}\n",
            serde_json::to_string(template).unwrap()
        );
        let _ = write!(
            tests,
            "      - series: 'probe{{instance=\"app-1\",mountpoint=\"/data\",case=\"{i}\"}}'\n        values: '{value}x3'\n"
        );
        let _ = write!(
            expected,
            "      - eval_time: 1m\n        alertname: Case{i}\n        exp_alerts:\n          - exp_labels: {{instance: app-1, mountpoint: /data, case: \"{i}\"}}\n            exp_annotations:\n              text: {}\n",
            serde_json::to_string(&render(template, &series_labels, value)).unwrap()
        );
    }
    std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
    std::fs::write(dir.path().join("test.yml"), tests + &expected).unwrap();
    let out = Command::new("promtool")
        .args(["test", "rules", "test.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("promtool: {e}; run `apt-get install prometheus`"));
    assert!(
        out.status.success(),
        "promtool renders differently:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
