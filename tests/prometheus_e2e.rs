//! End to end with the real programs: Prometheus scrapes node_exporter, evaluates an alert
//! that always fires, and remote-writes everything to harbinger, which must accept it all.
//!
//! Needs Debian's `prometheus` and `prometheus-node-exporter` on PATH; the test fails
//! (never skips) without them.

mod stack;
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use stack::{start_node_exporter, start_prometheus, start_prometheus_writing, wait_ok};
use support::{Process, eventually, free_ports, samples};

const DEADLINE: Duration = Duration::from_secs(60);

/// An alert that always fires, so that ALERTS series are sent from the start.
const RULES: &str = r#"
groups:
  - name: e2e
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        for: 0s
"#;

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_remote_writes_scraped_series_and_alerts_to_harbinger() {
    // Declared first, dropped last: the log files outlive the processes.
    let (dir, http, deadline) = setup();
    let [harbinger_port, node_port, prometheus_port] = free_ports();
    let harbinger = start_harbinger(dir.path(), harbinger_port);
    let node = start_node_exporter(dir.path(), node_port);
    let prometheus = start_prometheus(dir.path(), prometheus_port, &node, &harbinger.url, RULES);
    wait_ok(&http, &format!("{}/-/ready", harbinger.url), deadline).await;
    wait_ok(&http, &format!("{}/metrics", node.url), deadline).await;
    wait_ok(&http, &format!("{}/-/ready", prometheus.url), deadline).await;

    // Scraped series arrive, with the target labels Prometheus attaches.
    let harbinger_url = harbinger.url.as_str();
    let wanted = [("job", "node"), ("instance", ANY)];
    let disk = eventually(
        "node_filesystem_avail_bytes{job, instance}",
        deadline,
        async || series_with(&http, harbinger_url, "node_filesystem_avail_bytes", &wanted).await,
    )
    .await;
    assert_eq!(disk["stale"], false, "{disk}");

    // So do alerts, which Prometheus records as ALERTS series.
    let wanted = [("alertname", "AlwaysFiring"), ("alertstate", "firing")];
    let alert = eventually(
        "ALERTS{alertname=AlwaysFiring, alertstate=firing}",
        deadline,
        async || series_with(&http, harbinger_url, "ALERTS", &wanted).await,
    )
    .await;
    assert_eq!(alert["value"], "1", "{alert}");

    // Prometheus sent samples and metadata, and none of it failed.
    let exposition = eventually(
        "Prometheus to send samples and metadata",
        deadline,
        async || {
            let text = metrics(&http, &prometheus.url).await?;
            let samples_sent = sum(&text, "prometheus_remote_storage_samples_total")
                + sum(&text, "prometheus_remote_storage_succeeded_samples_total");
            let metadata_sent = sum(&text, "prometheus_remote_storage_metadata_total");
            match (samples_sent > 0.0, metadata_sent > 0.0) {
                (true, true) => Ok(text),
                _ => Err(format!(
                    "{samples_sent} samples, {metadata_sent} metadata sent"
                )),
            }
        },
    )
    .await;
    for failed in [
        "prometheus_remote_storage_samples_failed_total",
        "prometheus_remote_storage_failed_samples_total",
        "prometheus_remote_storage_metadata_failed_total",
    ] {
        assert_eq!(sum(&exposition, failed), 0.0, "Prometheus counted {failed}");
    }

    // harbinger answered 204 and refused nothing.
    let own = metrics(&http, harbinger_url)
        .await
        .expect("harbinger /metrics");
    let accepted: f64 = samples(&own, "harbinger_requests_total")
        .iter()
        .filter(|(labels, _)| labels.contains("code=\"204\""))
        .map(|(_, value)| value)
        .sum();
    assert!(accepted > 0.0, "no request answered 204:\n{own}");
    let rejected = samples(&own, "harbinger_requests_rejected_total");
    assert!(
        rejected.iter().all(|(_, value)| *value == 0.0),
        "harbinger refused requests: {rejected:?}"
    );
}

/// `harbinger remote-write-config` gives a section that real Prometheus loads, and with it
/// harbinger receives the series its pipeline reads and `ALERTS`, and nothing else of
/// what node_exporter exposes.
#[tokio::test(flavor = "multi_thread")]
async fn the_generated_remote_write_section_sends_only_what_the_pipeline_reads() {
    let (dir, http, deadline) = setup();
    let [harbinger_port, node_port, prometheus_port] = free_ports();
    let harbinger = start_harbinger(dir.path(), harbinger_port);
    let node = start_node_exporter(dir.path(), node_port);
    let url = format!("{}/api/v1/write", harbinger.url);
    let generated = std::process::Command::new(env!("CARGO_BIN_EXE_harbinger"))
        .args(["remote-write-config", "--url", &url])
        .output()
        .expect("running harbinger remote-write-config");
    assert!(generated.status.success(), "{generated:?}");
    let section = String::from_utf8(generated.stdout).expect("UTF-8 YAML");
    let prometheus = start_prometheus_writing(dir.path(), prometheus_port, &node, &section, RULES);
    wait_ok(&http, &format!("{}/-/ready", harbinger.url), deadline).await;
    wait_ok(&http, &format!("{}/-/ready", prometheus.url), deadline).await;

    // What the pipeline reads arrives, and so do the alerts.
    let harbinger_url = harbinger.url.as_str();
    for (metric, labels) in [
        (
            "node_filesystem_avail_bytes",
            [("job", "node"), ("instance", ANY)],
        ),
        (
            "ALERTS",
            [("alertname", "AlwaysFiring"), ("alertstate", "firing")],
        ),
    ] {
        eventually(metric, deadline, async || {
            series_with(&http, harbinger_url, metric, &labels).await
        })
        .await;
    }
    // Prometheus dropped the rest before sending: far fewer series than it scrapes.
    let (scraped, active) = eventually("a scrape and a write counted", deadline, async || {
        let scraped = sum(
            &metrics(&http, &prometheus.url).await?,
            "prometheus_tsdb_head_series",
        );
        let active = sum(
            &metrics(&http, harbinger_url).await?,
            "harbinger_active_series",
        );
        match scraped > 0.0 && active > 0.0 {
            true => Ok((scraped, active)),
            false => Err(format!(
                "{scraped} series in Prometheus, {active} in harbinger"
            )),
        }
    })
    .await;
    assert!(
        active * 5.0 < scraped,
        "harbinger holds {active} series of the {scraped} Prometheus has"
    );
    for unread in [
        "node_network_receive_bytes_total",
        "node_boot_time_seconds",
        "up",
    ] {
        let url = format!("{harbinger_url}/api/v1/series?metric={unread}");
        let body: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
        assert_eq!(
            body["data"],
            serde_json::json!([]),
            "{unread} was sent: {body}"
        );
    }
}

/// A directory for the processes' files and logs, an HTTP client, and the deadline.
fn setup() -> (tempfile::TempDir, reqwest::Client, Instant) {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("building the HTTP client");
    (dir, http, Instant::now() + DEADLINE)
}

fn start_harbinger(dir: &Path, port: u16) -> Process {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/harbinger.yml");
    let args = [
        "serve".into(),
        "--log-level=info,harbinger=debug".into(),
        format!("--config={}", config.display()),
        format!("--listen=127.0.0.1:{port}"),
        format!("--data-dir={}", dir.join("harbinger").display()),
    ];
    Process::spawn(
        "harbinger",
        env!("CARGO_BIN_EXE_harbinger"),
        &args,
        port,
        dir,
        "cargo builds it for integration tests",
    )
}

/// A label value in `series_with` that matches any value.
const ANY: &str = "*";

/// The first series of `metric` in harbinger's `/api/v1/series` with all of `labels`.
async fn series_with(
    http: &reqwest::Client,
    base: &str,
    metric: &str,
    labels: &[(&str, &str)],
) -> Result<Value, String> {
    let url = format!("{base}/api/v1/series?metric={metric}");
    let response = http.get(&url).send().await.map_err(|e| e.to_string())?;
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    let (Some("success"), Some(found)) = (body["status"].as_str(), body["data"].as_array()) else {
        return Err(format!("unexpected answer: {body}"));
    };
    let matches = |series: &&Value| {
        labels
            .iter()
            .all(|(name, value)| match series["labels"][name].as_str() {
                Some(actual) => *value == ANY || actual == *value,
                None => false,
            })
    };
    found
        .iter()
        .find(matches)
        .cloned()
        .ok_or(format!("no match in {body}"))
}

async fn metrics(http: &reqwest::Client, base: &str) -> Result<String, String> {
    let response = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    response.text().await.map_err(|e| e.to_string())
}

fn sum(exposition: &str, name: &str) -> f64 {
    samples(exposition, name)
        .iter()
        .map(|(_, value)| value)
        .sum()
}
