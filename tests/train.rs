//! `train` and `backtest` end to end, as a user runs them, on the lab exports: the
//! committed default model is what the documented command writes, it is at least as good
//! as the best `predict_linear` rule on hosts it never saw, README.md and docs/models.md
//! show its figures, backtest replays it into the documented table, a model is refused
//! by a pipeline it was not made for, and training and backtests from a Parquet feature
//! table give what the replay gives.

mod command;

use std::collections::BTreeMap;
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
    let tickets = dir.path().join("held-out.csv");
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
        "--tickets",
        tickets.to_str().unwrap(),
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

    // The quality table of README.md and docs/models.md is the one the report holds.
    let table = disk_table(&markdown);
    for page in ["README.md", "docs/models.md"] {
        let text = std::fs::read_to_string(Path::new(ROOT).join(page)).unwrap();
        assert!(
            text.contains(&table),
            "{page}'s HostOutOfDiskSpace table differs from the report's:\n{table}"
        );
    }

    // Its probability means what it says better than the base rate and than the
    // predict_linear rule read as 0 or 1 (Brier scores over the held-out steps).
    let section = &markdown[markdown.find("## HostOutOfDiskSpace").unwrap()..];
    let calibration = section
        .lines()
        .find(|l| l.starts_with("Calibration over"))
        .unwrap();
    let briers: Vec<f64> = calibration
        .split("Brier score ")
        .nth(1)
        .unwrap()
        .split(", ")
        .map(|part| part.split(' ').next().unwrap().parse().unwrap())
        .collect();
    let [harbinger, predict_linear, base_rate] = briers[..] else {
        panic!("three Brier scores: {calibration}")
    };
    assert!(
        harbinger < base_rate && harbinger < predict_linear,
        "{calibration}"
    );

    // On hosts it never saw, at least as good as the best predict_linear rule (chosen
    // with hindsight on those same hosts) on every measure judges read.
    let model: serde_json::Value = serde_json::from_slice(&written).unwrap();
    let disk = model["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["alert"] == "HostOutOfDiskSpace")
        .unwrap();
    let figure = |method: &str, name: &str| disk["evaluation"][method][name].as_f64().unwrap();
    for (name, better) in [
        ("caught", 1.0),
        ("precision", 1.0),
        ("lead_median_seconds", 1.0),
        ("quiet_entity_tickets", -1.0),
    ] {
        let (harbinger, baseline) = (figure("harbinger", name), figure("predict_linear", name));
        assert!(
            better * (harbinger - baseline) >= 0.0,
            "{name}: harbinger {harbinger}, predict_linear {baseline}"
        );
    }

    // Every target with onsets catches as many as that rule, and is wrong no more often:
    // `predict_linear` over each window is one of the candidates training chooses from
    // (for the lab's shared CPU, the one chosen).
    for target in model["targets"].as_array().unwrap() {
        let figures = &target["evaluation"];
        if figures["harbinger"]["onsets"].as_f64() == Some(0.0) {
            continue;
        }
        let figure = |method: &str, name: &str| figures[method][name].as_f64().unwrap();
        for name in ["caught", "precision"] {
            let (harbinger, baseline) = (figure("harbinger", name), figure("predict_linear", name));
            assert!(
                harbinger >= baseline,
                "{}: {name}: harbinger {harbinger}, predict_linear {baseline}",
                target["alert"]
            );
        }
    }

    // No ticket on a host that only idles, swings on a busy scratch disk or stepped up
    // once (the lab's ground truth names each host's scenario), and README counts the
    // tickets on the other trap hosts by scenario.
    let held_out = std::fs::read_to_string(&tickets).unwrap();
    let scenarios = scenarios();
    let mut per_trap: BTreeMap<&str, usize> = BTreeMap::new();
    for line in held_out
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("HostOutOfDiskSpace,"))
    {
        let (scenario, kind) = scenarios
            .iter()
            .find(|(host, _)| line.contains(&format!("instance=\"\"{host}\"\"")))
            .map(|(_, s)| (s.0.as_str(), s.1.as_str()))
            .unwrap_or_else(|| panic!("a ticket on a host of no scenario: {line}"));
        assert!(
            !["idle", "noisy", "step"].contains(&scenario),
            "a ticket on a {scenario} host: {line}"
        );
        if kind != "crossing" {
            *per_trap.entry(scenario).or_default() += 1;
        }
    }
    let mut counted: Vec<(&str, usize)> = per_trap.into_iter().collect();
    counted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let total: usize = counted.iter().map(|c| c.1).sum();
    let listed: Vec<String> = counted.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let sentence = format!("(the {total} on trap hosts: {})", listed.join(", "));
    let models = std::fs::read_to_string(Path::new(ROOT).join("docs/models.md")).unwrap();
    assert!(
        models.contains(&sentence),
        "docs/models.md lacks {sentence:?}"
    );
}

/// Outside judges score runs a model never saw: each lab run scored by a model trained on
/// the other alone, as docs/models.md shows it.
#[test]
fn each_lab_run_scored_by_a_model_of_the_other_is_the_documented_table() {
    let models = std::fs::read_to_string(Path::new(ROOT).join("docs/models.md")).unwrap();
    for (trained_on, scored) in [(LAB2, LAB), (LAB, LAB2)] {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model.json");
        let report = dir.path().join("report");
        let model_arg = model.to_str().unwrap();
        let train = [
            "train",
            "--data",
            trained_on,
            "--horizon",
            "10m",
            "--out",
            model_arg,
        ];
        let out = harbinger(&train);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let predictions = dir.path().join("predictions.csv");
        let out = harbinger(&[
            "backtest",
            "--model",
            model_arg,
            "--data",
            scored,
            "--out",
            predictions.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let table = disk_table(&std::fs::read_to_string(report.join("report.md")).unwrap());
        assert!(
            models.contains(&table),
            "docs/models.md lacks {scored} scored by a model of {trained_on}:\n{table}"
        );
    }
}

/// The HostOutOfDiskSpace table of a report.md.
fn disk_table(markdown: &str) -> String {
    let section = &markdown[markdown.find("## HostOutOfDiskSpace").unwrap()..];
    let lines: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with("| method"))
        .take_while(|l| l.starts_with('|'))
        .collect();
    lines.join("\n")
}

/// Every host of both lab runs: its instance, with its scenario and kind.
fn scenarios() -> Vec<(String, (String, String))> {
    let mut hosts = Vec::new();
    for run in ["lab-dev", "lab-dev2"] {
        let path = Path::new(ROOT).join(format!("../shared/data/{run}/events.json"));
        let events: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        for host in events["hosts"].as_array().unwrap() {
            let field = |name: &str| host[name].as_str().unwrap().to_owned();
            hosts.push((field("instance"), (field("scenario"), field("kind"))));
        }
    }
    assert_eq!(hosts.len(), 24, "8 hosts in lab-dev, 16 in lab-dev2");
    hosts
}

/// A false-ticket budget picks a quieter policy of the model's front: at 0 false tickets
/// per entity-day the disk target opens no ticket on lab-dev, where its trained policy
/// opens some, and the log says which policy and what it did on held-out hosts. A
/// budget for a target the pipeline lacks is refused, named.
#[test]
fn a_false_ticket_budget_trades_disk_tickets_for_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let predictions = dir.path().join("predictions.csv");
    let backtest = |extra: &[&str]| {
        let args = ["backtest", "--model", "models/default.json", "--data", LAB];
        let out = ["--out", predictions.to_str().unwrap()];
        harbinger(&[&args[..], extra, &out].concat())
    };
    let disk_tickets = |extra: &[&str]| {
        let out = backtest(extra);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mut reader = csv::Reader::from_path(&predictions).unwrap();
        let opened = reader
            .records()
            .map(Result::unwrap)
            .filter(|r| &r[2] == "HostOutOfDiskSpace" && &r[9] == "1")
            .count();
        (opened, text(&out.stderr))
    };
    let (trained, _) = disk_tickets(&[]);
    assert!(trained > 0);
    let (quiet, log) = disk_tickets(&["--false-ticket-budget", "HostOutOfDiskSpace=0"]);
    assert_eq!(quiet, 0);
    assert!(
        log.contains("false-ticket budget: HostOutOfDiskSpace: a budget of 0 false tickets per entity-day, within it"),
        "{log}"
    );
    let out = backtest(&["--false-ticket-budget", "HostOutOfDiskSpce=1"]);
    assert_eq!(out.status.code(), Some(1));
    let error = text(&out.stderr);
    assert!(
        error.contains("--false-ticket-budget HostOutOfDiskSpce: the pipeline has no such target"),
        "{error}"
    );
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
    // host5 idles at about 20 % used, 70 points from the threshold: the probability of
    // crossing within 10 minutes says so.
    let idle = disk
        .iter()
        .zip(&probabilities)
        .filter(|(row, p)| row[1].contains("instance=\"\"host5\"\"") && !p.is_nan());
    let highest = idle.map(|(_, p)| *p).fold(0.0, f64::max);
    assert!(highest <= 0.05, "{highest}");
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

#[test]
fn train_and_backtest_read_a_parquet_feature_table_instead_of_replaying_to_the_same_end() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("features.parquet");
    let table = table.to_str().unwrap();
    let out = harbinger(&["features", "--data", LAB, "--out", table]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        model_trained_on_lab(&["--features", table]),
        model_trained_on_lab(&[]),
        "the model from the table is the model from the replay"
    );
    let backtest = |extra: &[&str]| {
        let predictions = dir.path().join("predictions.csv");
        let args = ["backtest", "--model", "models/default.json", "--data", LAB];
        let out = [&args[..], extra, &["--out", predictions.to_str().unwrap()]].concat();
        let out = harbinger(&out);
        assert!(out.status.success(), "{}", text(&out.stderr));
        std::fs::read_to_string(&predictions).unwrap()
    };
    let replayed = backtest(&[]);
    assert!(
        replayed.lines().count() > 1000,
        "a row per step, target and entity"
    );
    assert!(
        backtest(&["--features", table]) == replayed,
        "backtest reads the table too"
    );

    // A table computed with another pipeline is refused, every difference named.
    let pipeline = dir.path().join("p.yml");
    let rules = Path::new(ROOT).join("pipelines/rules/host.rules.yml");
    let definition = format!(
        "step: 30s\nentity_labels: [instance, mountpoint]\nrule_files: [{}]\n",
        rules.display()
    );
    std::fs::write(&pipeline, definition).unwrap();
    let model = dir.path().join("m.json");
    let model = model.to_str().unwrap();
    let pipeline = pipeline.to_str().unwrap();
    let with = |table: &str| {
        let args = ["train", "--pipeline", pipeline, "--features", table];
        let out = harbinger(&[&args[..], &["--data", LAB, "--out", model]].concat());
        assert_eq!(out.status.code(), Some(1));
        text(&out.stderr)
    };
    let message = with(table);
    assert!(
        message.contains("was computed with another pipeline"),
        "{message}"
    );
    assert!(
        message.contains("step: table 15 s, pipeline 30 s"),
        "{message}"
    );

    // A CSV table cannot stand in for the replay: it does not say what it came from.
    let csv = dir.path().join("features.csv");
    let message = with(csv.to_str().unwrap());
    assert!(
        message.contains("--features reads a Parquet table"),
        "{message}"
    );
    assert!(!Path::new(model).exists());
}

/// The model `train` writes from lab-dev with `--horizon 10m` and `extra` flags.
fn model_trained_on_lab(extra: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    // In a directory that does not exist yet: train makes it.
    let model = dir.path().join("models").join("model.json");
    let mut args = vec!["train", "--data", LAB, "--horizon", "10m"];
    args.extend_from_slice(extra);
    args.extend(["--out", model.to_str().unwrap()]);
    let out = harbinger(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap()
}

/// The disk target's held-out figures of a model trained on lab-dev with `extra` flags.
fn held_out_disk_figures(extra: &[&str]) -> serde_json::Value {
    model_trained_on_lab(extra)["targets"][0]["evaluation"]["harbinger"].clone()
}

#[test]
fn a_false_ticket_budget_trades_episodes_for_fewer_false_tickets() {
    let refused = harbinger(&[
        "train",
        "--data",
        LAB,
        "--false-ticket-budget=-1",
        "--out",
        "x",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("--false-ticket-budget must be"));

    let free = held_out_disk_figures(&[]);
    let strict = held_out_disk_figures(&["--false-ticket-budget", "0"]);
    let false_per_day = |f: &serde_json::Value| f["false_tickets_per_entity_day"].as_f64().unwrap();
    assert!(
        false_per_day(&strict) < false_per_day(&free),
        "no false ticket allowed in training opens fewer on held-out hosts: {strict} vs {free}"
    );
    assert!(
        strict["precision"].as_f64() >= free["precision"].as_f64(),
        "{strict} vs {free}"
    );
}

/// lab-dev's hosts share one machine's CPU: the CPU target's first-passage probability
/// calibrates to one flat value there, whatever the signal does. An open level at or
/// below the lowest calibrated probability would keep a ticket open on every host (it
/// opened 32 false tickets on lab-dev2). Since `predict_linear` became a candidate, the
/// CPU target trained on lab-dev takes it, whose calibration has two levels; the flat
/// case itself is `fit`'s unit test of the usual probability.
#[test]
fn no_policy_opens_at_a_level_the_calibration_gives_every_step() {
    let model = model_trained_on_lab(&[]);
    let mut calibrated = 0;
    for target in model["targets"].as_array().unwrap() {
        let calibration = if target["classifier"].is_null() {
            &target["passage"]["calibration"]
        } else {
            &target["calibration"]
        };
        let Some(probabilities) = calibration["probabilities"].as_array() else {
            continue;
        };
        calibrated += 1;
        let lowest = probabilities[0].as_f64().unwrap();
        if let Some(open) = target["policy"]["open_probability"].as_f64() {
            assert!(open > lowest, "{}: opens at {open}", target["alert"]);
        }
    }
    assert!(
        calibrated >= 2,
        "the disk and CPU targets are calibrated on lab-dev"
    );
}
