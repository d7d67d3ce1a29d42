//! `harbinger replay` as a user runs it: the real binary sending a generated export to
//! a real `harbinger serve` (both protocols), to a real Prometheus 2.42 (read back with
//! its query API), to a receiver that rejects, and to one that answers 503 or 429 first.
//!
//! Needs Debian's `prometheus` on PATH; the Prometheus test fails (never skips) without.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harbinger::ingest::proto::v1;
use prost::Message;
use serde_json::Value;
use support::{Process, eventually, free_ports, samples};

const DEADLINE: Duration = Duration::from_secs(60);

/// Recorded start of the generated export (unix seconds, 2026-11-24).
const BASE_SECONDS: i64 = 1_795_570_000;
const STEPS: i64 = 60;
const INSTANCES: i64 = 5;
const METRICS: [&str; 2] = ["replay_test_bytes", "replay_test_requests_total"];

/// A label set as `metric,instance`.
type Key = (String, String);

/// A series' samples as (timestamp ms, value), oldest first.
type Points = Vec<(i64, f64)>;

/// A series' label pairs, as (name, value).
type Labels = Vec<(String, String)>;

/// Writes the export: each metric on each instance every 5 s, instance `k` starting `k`
/// steps late (so the series do not all share their timestamps), integer values so that
/// sums read back are exact. Returns its path and every series' points.
fn write_export(dir: &Path) -> (PathBuf, BTreeMap<Key, Points>) {
    let mut csv = String::from("name,timestamp,value,instance,job\n");
    let mut series: BTreeMap<Key, Points> = BTreeMap::new();
    for step in 0..STEPS {
        for (m, metric) in METRICS.iter().enumerate() {
            for k in (0..INSTANCES).filter(|&k| step >= k) {
                let seconds = BASE_SECONDS + 5 * step;
                let value = (1000 * m as i64 + 10 * k + step) as f64;
                let instance = format!("host{k}");
                csv.push_str(&format!("{metric},{seconds},{value},{instance},node\n"));
                series
                    .entry((metric.to_string(), instance))
                    .or_default()
                    .push((seconds * 1000, value));
            }
        }
    }
    let path = dir.join("export.csv");
    std::fs::write(&path, csv).expect("writing the export");
    (path, series)
}

fn sample_count(series: &BTreeMap<Key, Points>) -> usize {
    series.values().map(Vec::len).sum()
}

/// Runs `harbinger replay` with JSON logs (off the async runtime's threads).
async fn replay(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_harbinger"))
            .args(["--log-format", "json", "replay"])
            .args(&args)
            .env_remove("RUST_LOG")
            .output()
            .expect("running harbinger replay")
    })
    .await
    .expect("the replay thread")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The fields of the `replay finished` log event.
fn summary(output: &Output) -> Value {
    stderr(output)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|event| event["message"] == "replay finished")
        .unwrap_or_else(|| panic!("no summary in:\n{}", stderr(output)))
}

/// The log events at WARN or above.
fn warnings(output: &Output) -> Vec<String> {
    stderr(output)
        .lines()
        .filter(|line| line.contains("\"level\":\"WARN\"") || line.contains("\"level\":\"ERROR\""))
        .map(str::to_owned)
        .collect()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("building the HTTP client")
}

fn start_harbinger(dir: &Path, name: &str, config: Option<&Path>) -> Process {
    let [port] = free_ports();
    let mut args = vec![
        "serve".to_owned(),
        format!("--listen=127.0.0.1:{port}"),
        format!("--data-dir={}", dir.join(name).display()),
    ];
    if let Some(config) = config {
        args.push(format!("--config={}", config.display()));
    }
    Process::spawn(
        name,
        env!("CARGO_BIN_EXE_harbinger"),
        &args,
        port,
        dir,
        "cargo builds it for integration tests",
    )
}

async fn wait_ready(http: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + DEADLINE;
    eventually(url, deadline, async || match http.get(url).send().await {
        Ok(response) if response.status() == 200 => Ok(()),
        Ok(response) => Err(format!("status {}", response.status())),
        Err(error) => Err(error.to_string()),
    })
    .await;
}

async fn get_text(http: &reqwest::Client, url: &str) -> String {
    let response = http.get(url).send().await.expect("GET");
    response.text().await.expect("reading the answer")
}

fn metric(exposition: &str, name: &str, labels: &str) -> f64 {
    samples(exposition, name)
        .into_iter()
        .filter(|(l, _)| l == labels)
        .map(|(_, value)| value)
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn replays_into_harbinger_serve_over_both_protocols() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (export, series) = write_export(dir.path());
    let total = sample_count(&series) as f64;
    let http = http();
    for protocol in ["v1", "v2"] {
        let server = start_harbinger(dir.path(), &format!("harbinger-{protocol}"), None);
        wait_ready(&http, &format!("{}/-/ready", server.url)).await;
        let output = replay(vec![
            format!("--data={}", export.display()),
            format!("--url={}/api/v1/write", server.url),
            format!("--protocol={protocol}"),
            "--as-fast-as-possible".into(),
            "--max-samples-per-send=50".into(),
            "--concurrency=3".into(),
        ])
        .await;
        assert!(output.status.success(), "{protocol}: {}", stderr(&output));
        assert_eq!(warnings(&output), Vec::<String>::new(), "{protocol}");
        let summary = summary(&output);
        assert_eq!(summary["samples_sent"], total, "{protocol}: {summary}");
        assert_eq!(summary["rejected_requests"], 0, "{protocol}: {summary}");
        let requests = summary["requests"].as_f64().unwrap();
        assert!(requests >= (total / 50.0).ceil(), "{protocol}: {summary}");

        // harbinger accepted every request and every sample, and dropped none (a sample
        // out of order would be dropped and counted).
        let own = get_text(&http, &format!("{}/metrics", server.url)).await;
        assert_eq!(
            metric(&own, "harbinger_samples_received_total", ""),
            total,
            "{protocol}"
        );
        assert_eq!(
            metric(&own, "harbinger_requests_total", "code=\"204\""),
            requests,
            "{protocol}"
        );
        let dropped: f64 = samples(&own, "harbinger_samples_dropped_total")
            .iter()
            .map(|(_, v)| v)
            .sum();
        assert_eq!(
            dropped, 0.0,
            "{protocol}: harbinger dropped samples:\n{own}"
        );

        // Each series' latest sample is the export's last, at its recorded time.
        for metric_name in METRICS {
            let url = format!("{}/api/v1/series?metric={metric_name}", server.url);
            let body: Value = serde_json::from_str(&get_text(&http, &url).await).unwrap();
            let found = body["data"].as_array().expect("a series list");
            assert_eq!(found.len(), INSTANCES as usize, "{protocol}: {body}");
            for live in found {
                let key = (
                    metric_name.to_owned(),
                    live["labels"]["instance"].as_str().unwrap().to_owned(),
                );
                let &(t, v) = series[&key].last().unwrap();
                assert_eq!(live["timestamp_ms"], t, "{protocol} {key:?}");
                assert_eq!(live["value"], v.to_string(), "{protocol} {key:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replays_into_prometheus_with_timestamps_shifted_to_now() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (export, series) = write_export(dir.path());
    let http = http();
    let [port] = free_ports();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").expect("writing prometheus.yml");
    let args = [
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--web.enable-remote-write-receiver".to_owned(),
    ];
    let prometheus = Process::spawn(
        "prometheus",
        "prometheus",
        &args,
        port,
        dir.path(),
        support::prometheus::INSTALL,
    );
    wait_ready(&http, &format!("{}/-/ready", prometheus.url)).await;

    let before_ms = now_ms();
    let output = replay(vec![
        format!("--data={}", export.display()),
        format!("--url={}/api/v1/write", prometheus.url),
        "--as-fast-as-possible".into(),
        "--shift-to-now".into(),
        "--max-samples-per-send=100".into(),
    ])
    .await;
    let after_ms = now_ms();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        summary(&output)["samples_sent"],
        sample_count(&series) as f64
    );

    // The last samples landed at the replay's start, so the whole export is within the
    // last 10 minutes: count, sum and latest timestamp of every series, read back.
    let query = async |expr: &str| -> BTreeMap<Key, f64> {
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/query", prometheus.url)).unwrap();
        url.query_pairs_mut().append_pair("query", expr);
        let response = http.get(url).send().await.expect("querying Prometheus");
        let body: Value = response.json().await.expect("a JSON answer");
        assert_eq!(body["status"], "success", "{expr}: {body}");
        body["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|element| {
                let metric = &element["metric"];
                let key = (
                    metric["__name__"].as_str().unwrap_or_default().to_owned(),
                    metric["instance"].as_str().unwrap().to_owned(),
                );
                (key, element["value"][1].as_str().unwrap().parse().unwrap())
            })
            .collect()
    };
    let selector = r#"{__name__=~"replay_test_.+", job="node"}[15m]"#;
    let name_back = |by: BTreeMap<Key, f64>| -> BTreeMap<String, f64> {
        by.into_iter()
            .map(|((_, instance), v)| (instance, v))
            .collect()
    };
    for metric_name in METRICS {
        let expect = |f: &dyn Fn(&Points) -> f64| -> BTreeMap<String, f64> {
            series
                .iter()
                .filter(|((m, _), _)| m == metric_name)
                .map(|((_, instance), points)| (instance.clone(), f(points)))
                .collect()
        };
        let selector = selector.replace("replay_test_.+", metric_name);
        let counts = name_back(query(&format!("count_over_time({selector})")).await);
        assert_eq!(counts, expect(&|p| p.len() as f64), "{metric_name} counts");
        let sums = name_back(query(&format!("sum_over_time({selector})")).await);
        assert_eq!(
            sums,
            expect(&|p| p.iter().map(|(_, v)| v).sum()),
            "{metric_name} sums"
        );
        // The shift put the last recorded sample at the replay's start, give or take the
        // time the command took to read the export.
        let latest = name_back(query(&format!("timestamp({metric_name})")).await);
        assert_eq!(latest.len(), INSTANCES as usize, "{latest:?}");
        for (instance, seconds) in latest {
            let latest_ms = (seconds * 1000.0).round() as i64;
            assert!(
                (before_ms..=after_ms).contains(&latest_ms),
                "{instance}: last sample at {latest_ms}, the replay ran from {before_ms} to {after_ms}"
            );
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejecting_receiver_fails_the_replay_and_is_named() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (export, series) = write_export(dir.path());
    let config = dir.path().join("harbinger.yml");
    // Every request of the export is more than a kibibyte.
    let limits = "ingest:\n  max_body_bytes: 1KiB\n";
    std::fs::write(&config, limits).expect("writing the config");
    let server = start_harbinger(dir.path(), "harbinger", Some(&config));
    let http = http();
    wait_ready(&http, &format!("{}/-/ready", server.url)).await;

    let output = replay(vec![
        format!("--data={}", export.display()),
        format!("--url={}/api/v1/write", server.url),
        "--as-fast-as-possible".into(),
    ])
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let summary = summary(&output);
    assert_eq!(summary["samples_sent"], 0, "{summary}");
    assert_eq!(
        summary["rejected_samples"],
        sample_count(&series) as f64,
        "{summary}"
    );
    assert_eq!(summary["retries"], 0, "a 400 is never retried: {summary}");
    let last_line = stderr(&output)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    assert!(
        last_line.starts_with("harbinger: the receiver rejected 1 of 1 requests"),
        "{last_line}"
    );
    assert!(
        last_line.contains("HTTP 400: request body exceeds the limit of 1024 bytes"),
        "{last_line}"
    );
    let own = get_text(&http, &format!("{}/metrics", server.url)).await;
    assert_eq!(metric(&own, "harbinger_samples_received_total", ""), 0.0);
}

/// A receiver that answers the statuses of `script` to its first requests, then 204,
/// and keeps the samples of the requests it accepts.
#[derive(Clone, Default)]
struct Scripted {
    script: Arc<Mutex<Vec<u16>>>,
    requests: Arc<Mutex<u32>>,
    accepted: Arc<Mutex<BTreeMap<Labels, Points>>>,
    /// The first and last timestamp of each accepted request.
    spans: Arc<Mutex<Vec<(i64, i64)>>>,
}

impl Scripted {
    async fn start(script: &[u16]) -> (Scripted, String) {
        use axum::http::StatusCode;
        let state = Scripted {
            script: Arc::new(Mutex::new(script.iter().rev().copied().collect())),
            ..Scripted::default()
        };
        let receiver = state.clone();
        let app = axum::Router::new().route(
            "/api/v1/write",
            axum::routing::post(async move |body: axum::body::Bytes| {
                *receiver.requests.lock().unwrap() += 1;
                let status = receiver.script.lock().unwrap().pop().unwrap_or(204);
                if status == 204 {
                    let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
                    let request = v1::WriteRequest::decode(&raw[..]).unwrap();
                    let times = request
                        .timeseries
                        .iter()
                        .flat_map(|ts| &ts.samples)
                        .map(|s| s.timestamp);
                    let span = (times.clone().min().unwrap(), times.max().unwrap());
                    receiver.spans.lock().unwrap().push(span);
                    let mut accepted = receiver.accepted.lock().unwrap();
                    for series in request.timeseries {
                        let labels = series
                            .labels
                            .into_iter()
                            .map(|l| (l.name, l.value))
                            .collect();
                        let points = accepted.entry(labels).or_default();
                        points.extend(series.samples.iter().map(|s| (s.timestamp, s.value)));
                    }
                }
                (
                    StatusCode::from_u16(status).unwrap(),
                    format!("scripted {status}\n"),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (state, url)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_and_429_only_when_asked() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (export, series) = write_export(dir.path());
    let total = sample_count(&series);
    // (script, extra flags, expected success, expected retries)
    let cases: [(&[u16], &[&str], bool, u64); 4] = [
        (&[503, 503, 500], &[], true, 3),
        (&[], &[], true, 0),
        (&[429], &[], false, 0),
        (&[429, 429], &["--retry-on-http-429"], true, 2),
    ];
    for (script, flags, success, retries) in cases {
        let (receiver, url) = Scripted::start(script).await;
        let mut args = vec![
            format!("--data={}", export.display()),
            format!("--url={url}"),
            "--as-fast-as-possible".into(),
            "--max-samples-per-send=100".into(),
            "--min-backoff=5ms".into(),
        ];
        args.extend(flags.iter().map(|f| f.to_string()));
        let output = replay(args).await;
        let case = format!("{script:?} {flags:?}");
        assert_eq!(
            output.status.success(),
            success,
            "{case}: {}",
            stderr(&output)
        );
        let summary = summary(&output);
        assert_eq!(summary["retries"], retries, "{case}: {summary}");
        let requests = summary["requests"].as_u64().unwrap();
        assert_eq!(
            u64::from(*receiver.requests.lock().unwrap()),
            requests + retries,
            "{case}: requests the receiver saw"
        );
        // Whatever was accepted arrived whole, once, and in each series' order.
        let accepted = receiver.accepted.lock().unwrap().clone();
        let received: usize = accepted.values().map(Vec::len).sum();
        assert_eq!(
            received as u64,
            summary["samples_sent"].as_u64().unwrap(),
            "{case}"
        );
        if success {
            assert_eq!(received, total, "{case}: nothing lost");
            for (labels, points) in &accepted {
                let key = (labels[0].1.clone(), labels[1].1.clone());
                assert_eq!(points, &series[&key], "{case}: {labels:?}");
            }
        } else {
            assert_eq!(summary["rejected_requests"], 1, "{case}: {summary}");
            assert!(
                stderr(&output).contains("first: HTTP 429: scripted 429"),
                "{case}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paced_replay_takes_the_recorded_time_over_the_speed_in_time_slices() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (export, series) = write_export(dir.path());
    let (receiver, url) = Scripted::start(&[]).await;
    // 295 s recorded at 200x: 1.475 s; 100 ms deadline at 200x: 20 s of samples at most.
    let started = Instant::now();
    let output = replay(vec![
        format!("--data={}", export.display()),
        format!("--url={url}"),
        "--speed=200".into(),
        "--batch-send-deadline=100ms".into(),
    ])
    .await;
    let elapsed = started.elapsed();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(elapsed >= Duration::from_millis(1475), "took {elapsed:?}");
    let spans = receiver.spans.lock().unwrap().clone();
    assert!(
        spans.iter().all(|(first, last)| last - first < 20_000),
        "{spans:?}"
    );
    assert!(spans.len() >= 295 / 20, "{} requests", spans.len());
    let received: usize = receiver
        .accepted
        .lock()
        .unwrap()
        .values()
        .map(Vec::len)
        .sum();
    assert_eq!(received, sample_count(&series));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_failing_past_its_retries_stops_the_replay() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (export, _) = write_export(dir.path());
    let (receiver, url) = Scripted::start(&[503, 503, 503]).await;
    let output = replay(vec![
        format!("--data={}", export.display()),
        format!("--url={url}"),
        "--as-fast-as-possible".into(),
        "--max-samples-per-send=100".into(),
        "--min-backoff=5ms".into(),
        "--max-retries=2".into(),
    ])
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let last_line = stderr(&output)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    assert!(
        last_line
            .contains("after 3 attempts; last failure: HTTP 503 Service Unavailable: scripted 503"),
        "{last_line}"
    );
    assert_eq!(
        *receiver.requests.lock().unwrap(),
        3,
        "nothing sent after giving up"
    );
    assert!(receiver.accepted.lock().unwrap().is_empty());
}
