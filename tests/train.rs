//! `train` and `backtest` end to end, as a user runs them, on the lab-dev export: the
//! committed default model is what the documented command writes, backtest replays it
//! into the documented table, and a model is refused by a pipeline it was not made for.

mod command;

use std::path::Path;

use command::{ROOT, harbinger, text};

/// As the documentation writes it, relative to the repository root (the model records it).
const LAB: &str = "../shared/data/lab-dev/metrics.csv.gz";
const LAB2: &str = "../shared/data/lab-dev2/metrics.csv.gz";

#[test]
fn train_reproduces_the_committed_default_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("default.json");
    let report = dir.path().join("report");
    let out = harbinger(&[
        "train",
        "--data",
        LAB,
        "--data",
        LAB2,
        "--horizon",
        "10m",
        "--out",
        model.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read(&model).unwrap();
    let committed = std::fs::read(Path::new(ROOT).join("models/default.json")).unwrap();
    assert!(
        written == committed,
        "models/default.json is not what the documented command writes; retrain it (models/README.md)"
    );
    let summary = text(&out.stdout);
    assert!(
        summary.contains("HostOutOfDiskSpace: 24 entities"),
        "{summary}"
    );
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.matches("<svg").count() >= 3, "plots in the report");
    let markdown = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(markdown.contains("predict_linear"), "{markdown}");
}

#[test]
fn backtest_writes_a_row_per_step_target_and_entity_and_opens_disk_tickets() {
    let dir = tempfile::tempdir().unwrap();
    let predictions = dir.path().join("predictions.csv");
    let report = dir.path().join("report");
    let out = harbinger(&[
        "backtest",
        "--model",
        "models/default.json",
        "--data",
        LAB,
        "--out",
        predictions.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(&predictions).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "timestamp,entity,target,signal,probability,eta_seconds,eta_stderr_seconds,anomaly_score,level,ticket"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let disk: Vec<&Vec<&str>> = rows
        .iter()
        .filter(|r| r.contains(&"HostOutOfDiskSpace"))
        .collect();
    // 181 steps of 15 s on the step grid, 8 hosts with one filesystem each.
    assert_eq!(disk.len(), 181 * 8);
    // The probability is unknown (NaN) until the shortest window holds half the
    // increments it can (9 of 19 in 5 minutes), then a probability.
    let probabilities: Vec<f64> = disk
        .iter()
        .map(|row| row[row.len() - 6].parse().unwrap())
        .collect();
    let unknown = probabilities.iter().filter(|p| p.is_nan()).count();
    assert_eq!(unknown, 9 * 8, "the first 9 steps of each host");
    for p in probabilities.iter().filter(|p| !p.is_nan()) {
        assert!((0.0..=1.0).contains(p), "{p}");
    }
    let tickets = disk.iter().filter(|r| r.last() == Some(&"1")).count();
    assert!(
        tickets > 0,
        "the default model opens disk tickets on lab-dev"
    );
    assert!(report.join("report.html").exists());
}

#[test]
fn a_model_is_refused_by_a_pipeline_it_was_not_trained_with() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("p.yml");
    let rules = Path::new(ROOT).join("pipelines/rules/host.rules.yml");
    std::fs::write(
        &pipeline,
        format!(
            "step: 30s\nentity_labels: [instance, mountpoint]\nrule_files: [{}]\n",
            rules.display()
        ),
    )
    .unwrap();
    let out = harbinger(&[
        "backtest",
        "--model",
        "models/default.json",
        "--pipeline",
        pipeline.to_str().unwrap(),
        "--data",
        LAB,
        "--out",
        dir.path().join("p.csv").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let message = text(&out.stderr);
    assert!(
        message.contains("the model does not match the pipeline"),
        "{message}"
    );
    assert!(
        message.contains("step: model 15 s, pipeline 30 s"),
        "{message}"
    );
    assert!(
        message.contains("signal disk_write_bytes_per_second: not in the pipeline"),
        "{message}"
    );
}
