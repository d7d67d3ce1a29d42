//! harbinger's alerting rules for itself (`deploy/prometheus/`) and its Grafana dashboard
//! (`deploy/grafana/`): Debian's `promtool` checks the rules and runs their unit tests;
//! every expression of both parses, and names only metrics a running `serve` exposes
//! (after lab-dev replayed into it, a repeated write, a refused write and a refused model
//! reload, which create the families that appear on use). A real Prometheus scraping
//! harbinger with README's scrape config keeps the prediction gauges' entity labels.
//! Needs Debian's `prometheus` (and its `promtool`); fails without it.

#[allow(dead_code)] // The shared helpers serve several test crates; this one uses a part.
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use promql_parser::parser::Expr;
use promql_parser::util::{ExprVisitor, walk_expr};
use support::{eventually, free_ports, ready, replay, serve};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const RULES: &str = "deploy/prometheus/harbinger.rules.yml";
const DASHBOARD: &str = "deploy/grafana/harbinger.json";

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

/// The metric names of PromQL expressions, each of which must parse (`what` names the
/// file). Grafana's variables are given values first.
fn metric_names(what: &str, exprs: &[String]) -> BTreeSet<String> {
    let mut names = Names(BTreeSet::new());
    for expr in exprs {
        let promql = expr
            .replace("$__rate_interval", "5m")
            .replace("$instance", ".*");
        let parsed =
            promql_parser::parser::parse(&promql).unwrap_or_else(|e| panic!("{what}: {expr}: {e}"));
        walk_expr(&mut names, &parsed).unwrap();
    }
    names.0
}

fn rule_exprs() -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join(RULES)).unwrap();
    let rules: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    let mut exprs = Vec::new();
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            exprs.push(rule["expr"].as_str().unwrap().to_owned());
        }
    }
    exprs
}

/// Every `expr` of the dashboard's panels, and its variables' metric.
fn dashboard_exprs() -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join(DASHBOARD)).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .map(|target| target["expr"].as_str().unwrap().to_owned())
        .collect();
    assert!(exprs.len() >= 15, "{exprs:?}");
    exprs.push("harbinger_build_info".to_owned());
    exprs
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rules_and_the_dashboard_name_only_metrics_harbinger_exposes() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.json");
    std::fs::copy(Path::new(ROOT).join("models/default.json"), &model).unwrap();
    let config = dir.path().join("harbinger.yml");
    std::fs::write(&config, format!("model: {}\n", model.display())).unwrap();
    let [port] = free_ports();
    let serve = serve(dir.path(), port, &config, "serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    let http = reqwest::Client::new();
    ready(&serve, deadline).await;
    // lab-dev (predictions, anomaly scores, tickets), a write repeated (dropped samples),
    // a body that is not snappy (a refused write), and a model file that no longer parses.
    let write = format!("{}/api/v1/write", serve.url);
    replay(Path::new("../shared/data/lab-dev/metrics.csv.gz"), &write);
    let repeated = dir.path().join("repeated.csv");
    std::fs::write(&repeated, "name,timestamp,value,instance\nprobe,1,1,a\n").unwrap();
    replay(&repeated, &write);
    replay(&repeated, &write);
    let refused = http
        .post(&write)
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .body("not snappy")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
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
    for (file, names) in [
        (RULES, metric_names(RULES, &rule_exprs())),
        (DASHBOARD, metric_names(DASHBOARD, &dashboard_exprs())),
    ] {
        assert!(names.len() >= 8, "{file}: {names:?}");
        for name in &names {
            // `up` is Prometheus's own; a worker's per-partition lag needs a Kafka
            // worker with partitions (tests/kafka.rs runs one).
            if name == "up" || name == "harbinger_kafka_consumer_lag_records" {
                continue;
            }
            assert!(
                exposed.contains(name.as_str()),
                "{file} names {name}, which /metrics does not expose"
            );
        }
    }
}

/// README's scrape config for harbinger's own `/metrics`, pointed at `target`.
fn readme_scrape_config(target: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let start = readme
        .find("scrape_configs:\n  - job_name: harbinger")
        .expect("README shows the scrape config for harbinger");
    let block = &readme[start..];
    let block = &block[..block.find("```").unwrap()];
    assert!(block.contains("harbinger.example:9799"), "{block}");
    block.replace("harbinger.example:9799", target)
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scraping_harbinger_as_the_readme_says_keeps_the_entity_labels() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("harbinger.yml");
    std::fs::write(&config, "").unwrap();
    let [port, prometheus_port] = free_ports();
    let serve = serve(dir.path(), port, &config, "serve");
    let deadline = Instant::now() + Duration::from_secs(90);
    ready(&serve, deadline).await;
    let [before, _] = support::split_lab_dev(dir.path(), 1_795_571_575 + 1450);
    replay(&before, &format!("{}/api/v1/write", serve.url));

    let harbinger = format!("127.0.0.1:{port}");
    let prometheus_yml = dir.path().join("prometheus.yml");
    std::fs::write(
        &prometheus_yml,
        format!(
            "global: {{scrape_interval: 1s}}\n{}",
            readme_scrape_config(&harbinger)
        ),
    )
    .unwrap();
    let args = [
        format!("--config.file={}", prometheus_yml.display()),
        format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()),
        format!("--web.listen-address=127.0.0.1:{prometheus_port}"),
    ];
    let prometheus = support::Process::spawn(
        "prometheus",
        "prometheus",
        &args,
        prometheus_port,
        dir.path(),
        "run `apt-get install prometheus`",
    );
    let query = |q: &str| {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/query", prometheus.url),
            [("query", q)],
        )
        .unwrap();
        async move {
            let answer: serde_json::Value = reqwest::get(url)
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            match answer["data"]["result"].as_array() {
                Some(result) if !result.is_empty() => Ok(result.clone()),
                _ => Err(format!("nothing yet: {answer}")),
            }
        }
    };
    let gauges = eventually("the prediction gauges scraped", deadline, async || {
        query("harbinger_prediction_probability{target=\"HostOutOfDiskSpace\"}").await
    })
    .await;
    let mut instances: Vec<&str> = gauges
        .iter()
        .map(|g| {
            let metric = &g["metric"];
            assert!(metric.get("exported_instance").is_none(), "{metric}");
            assert_eq!(metric["job"], "harbinger");
            metric["instance"].as_str().unwrap()
        })
        .collect();
    instances.sort();
    assert_eq!(
        instances,
        [
            "host1", "host2", "host3", "host4", "host5", "host6", "host7", "host8"
        ]
    );
    let own = query("harbinger_build_info").await.unwrap();
    assert_eq!(
        own[0]["metric"]["instance"],
        harbinger.as_str(),
        "harbinger's own metrics carry its address"
    );
}
