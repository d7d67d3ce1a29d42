//! harbinger's alerting rules for itself (`deploy/prometheus/`): Debian's `promtool`
//! checks them and runs their unit tests, and every metric they name is one a running
//! `serve` exposes (after a write and a refused model reload, which create the families
//! that appear on use). Needs Debian's `prometheus` (for `promtool`); fails without it.

#[allow(dead_code)] // The shared helpers serve several test crates; this one uses a part.
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use promql_parser::parser::Expr;
use promql_parser::util::{ExprVisitor, walk_expr};
use support::{Process, eventually, free_ports};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const RULES: &str = "deploy/prometheus/harbinger.rules.yml";

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(Path::new(ROOT).join("deploy/prometheus"))
        .output()
        .unwrap_or_else(|e| panic!("promtool: {e}; run `apt-get install prometheus`"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn the_rules_are_valid_and_their_unit_tests_pass() {
    let checked = promtool(&["check", "rules", "harbinger.rules.yml"]);
    assert!(checked.contains("SUCCESS: 8 rules found"), "{checked}");
    let tested = promtool(&["test", "rules", "harbinger.rules.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

/// The metric names a PromQL expression selects.
struct Names(BTreeSet<String>);

impl ExprVisitor for Names {
    type Error = ();
    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, ()> {
        let selector = match expr {
            Expr::VectorSelector(vs) => Some(vs),
            Expr::MatrixSelector(ms) => Some(&ms.vs),
            _ => None,
        };
        if let Some(name) = selector.and_then(|s| s.name.clone()) {
            self.0.insert(name);
        }
        Ok(true)
    }
}

fn rule_metric_names() -> BTreeSet<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join(RULES)).unwrap();
    let rules: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    let mut names = Names(BTreeSet::new());
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let expr = rule["expr"].as_str().unwrap();
            let parsed = promql_parser::parser::parse(expr)
                .unwrap_or_else(|e| panic!("{}: {e}", rule["alert"]));
            walk_expr(&mut names, &parsed).unwrap();
        }
    }
    names.0
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rules_name_only_metrics_harbinger_exposes() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.json");
    std::fs::copy(Path::new(ROOT).join("models/default.json"), &model).unwrap();
    let config = dir.path().join("harbinger.yml");
    std::fs::write(&config, format!("model: {}\n", model.display())).unwrap();
    let [port] = free_ports();
    let args = [
        "serve".to_owned(),
        format!("--config={}", config.display()),
        format!("--listen=127.0.0.1:{port}"),
        format!("--data-dir={}", dir.path().join("data").display()),
    ];
    let serve = Process::spawn(
        "serve",
        env!("CARGO_BIN_EXE_harbinger"),
        &args,
        port,
        dir.path(),
        "built by cargo",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let http = reqwest::Client::new();
    // An empty write (answered 204), and a model file that no longer parses.
    eventually("a write answered", deadline, async || {
        match http
            .post(format!("{}/api/v1/write", serve.url))
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .body(vec![0u8])
            .send()
            .await
        {
            Ok(r) if r.status() == 204 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    std::fs::write(&model, "not a model").unwrap();
    serve.signal(libc::SIGHUP);
    let exposition = eventually("the refused reload counted", deadline, async || {
        let text = reqwest::get(format!("{}/metrics", serve.url))
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        match text.contains("harbinger_model_reloads_total{result=\"failure\"}") {
            true => Ok(text),
            false => Err("not yet".to_owned()),
        }
    })
    .await;
    let exposed: BTreeSet<&str> = exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let names = rule_metric_names();
    assert!(names.len() >= 8, "{names:?}");
    for name in &names {
        // `up` is Prometheus's own; a worker's per-partition lag needs a Kafka worker
        // with partitions (tests/kafka.rs runs one).
        if name == "up" || name == "harbinger_kafka_consumer_lag_records" {
            continue;
        }
        assert!(
            exposed.contains(name.as_str()),
            "{RULES} names {name}, which /metrics does not expose"
        );
    }
}
