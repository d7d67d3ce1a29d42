//! `harbinger export` against a real Prometheus 2.42: known series (counter resets, a gap
//! past the lookback, NaN and ±Inf, `ALERTS` changing state, a label called `name`, label
//! values that need CSV quoting, a series whose labels are a subset of another's) are
//! turned into TSDB blocks by promtool; the real binary exports them; the file is read
//! back with `harbinger::dataset::read` and must hold, at every grid point, the latest
//! loaded sample within the 5-minute lookback. Chunking, concurrency (the same bytes
//! whatever it is), resuming after a kill, retries and refusals are checked through a
//! small HTTP proxy in front of Prometheus that counts requests and injects faults.
//!
//! Needs Debian's `prometheus` package; fails, never skips, without it.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use support::prometheus::{Labels, Series, Server, create_blocks, write_openmetrics};
use support::{eventually, samples};

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
/// The export's step, and the points per range query the tests ask for: a 1 h range is
/// 361 points, so 8 queries per series.
const STEP_MS: i64 = 10 * SECOND;
const POINTS_PER_QUERY: u32 = 50;
const QUERIES_PER_SERIES: u32 = 8;
const LOOKBACK_MS: i64 = 5 * MINUTE;

// =====================================================================================
// The data
// =====================================================================================

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn series(name: &str, pairs: &[(&str, &str)], samples: Vec<(i64, f64)>) -> Series {
    Series {
        name: name.to_owned(),
        labels: labels(pairs),
        samples,
    }
}

/// Samples every 15 s from `from` to `to` (offsets from t0), 3 s after them: never on the
/// 10 s grid, so no sample sits exactly at a lookback boundary; `value` of its index.
fn every_15s(t0: i64, from: i64, to: i64, value: impl Fn(i64) -> f64) -> Vec<(i64, f64)> {
    (0..)
        .map(|i| (t0 + from + 3 * SECOND + i * 15 * SECOND, value(i)))
        .take_while(|&(t, _)| t <= t0 + to)
        .collect()
}

/// The loaded series; the export runs from t0 to t0 + 1 h.
fn data(t0: i64) -> Vec<Series> {
    let hour = 60 * MINUTE;
    vec![
        // A counter that resets twice.
        series(
            "requests_total",
            &[("instance", "a"), ("job", "app")],
            every_15s(t0, 0, hour, |i| (i % 90 * 7) as f64),
        ),
        // A gauge with a 20-minute gap: absent from 5 min after its last sample.
        series(
            "temperature",
            &[("instance", "a"), ("job", "app")],
            [
                every_15s(t0, 0, 15 * MINUTE, |i| 20.0 + i as f64 / 8.0),
                every_15s(t0, 35 * MINUTE, hour, |i| 30.5 - i as f64 / 4.0),
            ]
            .concat(),
        ),
        // Labels a superset of the series above: its selector must not match both.
        series(
            "temperature",
            &[("instance", "a"), ("job", "app"), ("sensor", "inlet")],
            every_15s(t0, 10 * MINUTE, 50 * MINUTE, |i| -1.25 * i as f64),
        ),
        // NaN and infinities, and a series that starts after the range starts.
        series(
            "ratio",
            &[("instance", "b"), ("job", "app")],
            every_15s(t0, 5 * MINUTE, hour, |i| match i % 4 {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => f64::NEG_INFINITY,
                _ => 1e-7 * i as f64,
            }),
        ),
        // An alert: pending for 2 minutes, then firing for 10, then resolved.
        series(
            "ALERTS",
            &[
                ("alertname", "DiskFull"),
                ("alertstate", "pending"),
                ("instance", "a"),
                ("severity", "warning"),
            ],
            every_15s(t0, 20 * MINUTE, 22 * MINUTE, |_| 1.0),
        ),
        series(
            "ALERTS",
            &[
                ("alertname", "DiskFull"),
                ("alertstate", "firing"),
                ("instance", "a"),
                ("severity", "warning"),
            ],
            every_15s(t0, 22 * MINUTE, 32 * MINUTE, |_| 1.0),
        ),
        // A label called `name`, and a value that needs quoting in CSV.
        series(
            "node_os_info",
            &[
                ("id", "debian"),
                ("instance", "a"),
                ("name", "Debian GNU/Linux"),
                ("pretty_name", "Debian \"bookworm\", 12"),
            ],
            every_15s(t0, 0, hour, |_| 1.0),
        ),
    ]
}

/// Prometheus's value at each grid point: the latest sample at or before it, within the
/// lookback.
fn expected(series: &[Series], start_ms: i64, end_ms: i64) -> BTreeMap<Labels, Vec<(i64, f64)>> {
    let mut out = BTreeMap::new();
    for s in series {
        let mut points = Vec::new();
        for t in (start_ms..=end_ms).step_by(STEP_MS as usize) {
            let latest = s.samples.iter().rev().find(|&&(ts, _)| ts <= t);
            if let Some(&(ts, v)) = latest.filter(|&&(ts, _)| ts > t - LOOKBACK_MS) {
                assert_ne!(ts, t - LOOKBACK_MS, "a sample at a lookback boundary");
                points.push((t, v));
            }
        }
        if !points.is_empty() {
            let mut all = s.labels.clone();
            all.insert("__name__".to_owned(), s.name.clone());
            out.insert(all, points);
        }
    }
    out
}

// =====================================================================================
// The parts: Prometheus with the data, a proxy in front of it, the binary
// =====================================================================================

struct Lab {
    prometheus: Server,
    http: reqwest::Client,
    dir: tempfile::TempDir,
    series: Vec<Series>,
    start_ms: i64,
    end_ms: i64,
}

async fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let t0 = (now_ms - 3 * 3600 * SECOND) / MINUTE * MINUTE;
    let series = data(t0);
    let openmetrics = dir.path().join("data.om");
    let tsdb = dir.path().join("tsdb");
    write_openmetrics(&series, &openmetrics);
    create_blocks(&openmetrics, &tsdb);
    let http = reqwest::Client::new();
    let prometheus = Server::start("prometheus", dir.path(), &tsdb, &http).await;
    Lab {
        prometheus,
        http,
        dir,
        series,
        start_ms: t0,
        end_ms: t0 + 60 * MINUTE,
    }
}

impl Lab {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The `harbinger export` command line over the lab's range, against `url`.
    fn export_args(&self, url: &str, out: &Path) -> Vec<String> {
        [
            "export",
            "--prometheus",
            url,
            "--start",
            &(self.start_ms / SECOND).to_string(),
            "--end",
            &(self.end_ms / SECOND).to_string(),
            "--step",
            "10s",
            "--points-per-query",
            &POINTS_PER_QUERY.to_string(),
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    }

    /// Range queries Prometheus has answered with 200 so far, from its own metrics.
    async fn query_range_count(&self) -> f64 {
        let url = format!("{}/metrics", self.prometheus.process.url);
        let text = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        samples(&text, "prometheus_http_requests_total")
            .into_iter()
            .filter(|(labels, _)| {
                labels.contains(r#"handler="/api/v1/query_range""#)
                    && labels.contains(r#"code="200""#)
            })
            .map(|(_, value)| value)
            .sum()
    }
}

fn harbinger(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harbinger"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("running harbinger")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Counts what passes through, and fails or stalls requests on demand.
#[derive(Default)]
struct Faults {
    requests: AtomicU32,
    query_ranges: AtomicU32,
    /// Range queries being answered now, and the most at once so far.
    in_flight: AtomicU32,
    most_in_flight: AtomicU32,
    /// Answer this many more requests with 503.
    unavailable: AtomicU32,
    /// Answer every request with 503.
    always_unavailable: std::sync::atomic::AtomicBool,
    /// Never answer range queries past this many (`u32::MAX`: answer all).
    stall_after: AtomicU32,
    answered_503: AtomicU32,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    faults: Arc<Faults>,
}

/// Starts the proxy in front of `upstream`; returns its URL and its fault switches.
async fn proxy(upstream: &str) -> (String, Arc<Faults>) {
    let faults = Arc::new(Faults {
        stall_after: AtomicU32::new(u32::MAX),
        ..Faults::default()
    });
    let state = Proxy {
        upstream: upstream.to_owned(),
        http: reqwest::Client::new(),
        faults: faults.clone(),
    };
    let app = axum::Router::new().fallback(forward).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, faults)
}

async fn forward(State(proxy): State<Proxy>, uri: Uri) -> Response {
    let faults = &proxy.faults;
    faults.requests.fetch_add(1, Ordering::SeqCst);
    if uri.path() == "/api/v1/query_range" {
        let seen = faults.query_ranges.fetch_add(1, Ordering::SeqCst);
        if seen >= faults.stall_after.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }
    let take_one = |n: u32| n.checked_sub(1);
    if faults.always_unavailable.load(Ordering::SeqCst)
        || faults
            .unavailable
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, take_one)
            .is_ok()
    {
        faults.answered_503.fetch_add(1, Ordering::SeqCst);
        let body = r#"{"status":"error","errorType":"unavailable","error":"injected by the test"}"#;
        return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    }
    let range_query = uri.path() == "/api/v1/query_range";
    if range_query {
        let now = faults.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        faults.most_in_flight.fetch_max(now, Ordering::SeqCst);
        // Long enough for the export's other queries to arrive meanwhile.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answer = proxy
        .http
        .get(format!("{}{uri}", proxy.upstream))
        .send()
        .await
        .expect("Prometheus answers the proxy");
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let body = answer.bytes().await.unwrap();
    if range_query {
        faults.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
    (status, body).into_response()
}

/// Runs `harbinger args` with every range query after the first `answered` stalled, and
/// kills it once it is stuck there.
async fn kill_when_stalled(args: &[String], faults: &Faults, answered: u32) {
    faults.query_ranges.store(0, Ordering::SeqCst);
    faults.stall_after.store(answered, Ordering::SeqCst);
    let mut child = Command::new(env!("CARGO_BIN_EXE_harbinger"))
        .args(args)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    eventually("the export to stall", deadline, async || {
        match faults.query_ranges.load(Ordering::SeqCst) {
            n if n > answered => Ok(()),
            n => Err(format!("{n} range queries")),
        }
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
}

fn read_gzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn same_value(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

// =====================================================================================
// The tests
// =====================================================================================

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_prometheus_values_at_every_grid_point_in_chunks() {
    let lab = lab().await;
    let out = lab.path("metrics.csv.gz");
    let before = lab.query_range_count().await;
    let mut args = lab.export_args(&lab.prometheus.process.url, &out);
    // The start as RFC 3339, as Prometheus's API also takes it.
    let start_rfc3339 = Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}", lab.start_ms / SECOND),
            "+%Y-%m-%dT%H:%M:%SZ",
        ])
        .output()
        .unwrap();
    args[4] = String::from_utf8(start_rfc3339.stdout)
        .unwrap()
        .trim()
        .to_owned();
    let started = Instant::now();
    let output = harbinger(&args);
    let elapsed = started.elapsed();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!lab.path("metrics.csv.gz.partial").exists());
    assert!(!lab.path("metrics.csv.gz.progress").exists());

    // The values: Prometheus's at every grid point, read back with harbinger's reader.
    let want = expected(&lab.series, lab.start_ms, lab.end_ms);
    let dataset = harbinger::dataset::read(&out).unwrap();
    let got: BTreeMap<Labels, Vec<(i64, f64)>> = dataset
        .series
        .iter()
        .map(|s| {
            let points = s
                .samples
                .iter()
                .map(|p| (p.timestamp_ms, p.value))
                .collect();
            (s.labels.iter().cloned().collect(), points)
        })
        .collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (labels, points) in &want {
        let read = &got[labels];
        assert_eq!(read.len(), points.len(), "points of {labels:?}");
        for (&(t, v), &(rt, rv)) in points.iter().zip(read) {
            assert!(
                t == rt && same_value(v, rv),
                "{labels:?}: want ({t}, {v}), got ({rt}, {rv})"
            );
        }
    }
    let rows: usize = want.values().map(Vec::len).sum();
    eprintln!(
        "exported {rows} rows of {} series in {elapsed:?} ({:.0} rows/s)",
        want.len(),
        rows as f64 / elapsed.as_secs_f64()
    );

    // The text: header, quoting, row order, integer timestamps, Prometheus's spelling.
    let text = read_gzip(&out);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "name,timestamp,value,alertname,alertstate,id,instance,job,label_name,pretty_name,sensor,severity"
        )
    );
    let start_s = lab.start_ms / SECOND;
    assert_eq!(
        lines.clone().find(|l| l.starts_with("node_os_info,")),
        Some(format!(
            "node_os_info,{},1,,,debian,a,,Debian GNU/Linux,\"Debian \"\"bookworm\"\", 12\",,",
            start_s + 10
        ))
        .as_deref()
    );
    assert!(text.contains(",NaN,") && text.contains(",+Inf,") && text.contains(",-Inf,"));
    let names: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "rows ordered by metric name in byte order");
    assert_eq!(names.first(), Some(&"ALERTS"));

    // Chunking: one range query per series and 50-point chunk, all answered by Prometheus.
    let queries = lab.query_range_count().await - before;
    assert_eq!(
        queries,
        f64::from(QUERIES_PER_SERIES) * lab.series.len() as f64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_export_resumes_into_the_file_an_uninterrupted_one_writes() {
    let lab = lab().await;
    let (url, faults) = proxy(&lab.prometheus.process.url).await;
    for name in ["resumed.csv", "resumed.csv.gz"] {
        let whole = lab.path(&format!("whole-{name}"));
        let output = harbinger(&lab.export_args(&url, &whole));
        assert!(output.status.success(), "{}", stderr(&output));

        // Stall in the third series' fourth query, then kill the export there (one
        // series at a time, so that the query counts are exact).
        let out = lab.path(name);
        let mut killed = lab.export_args(&url, &out);
        killed.extend(["--concurrency".to_owned(), "1".to_owned()]);
        kill_when_stalled(&killed, &faults, 2 * QUERIES_PER_SERIES + 3).await;
        assert!(!out.exists());
        let progress = lab.path(&format!("{name}.progress"));
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&progress).unwrap()).unwrap();
        assert_eq!(record["series_done"], 2, "{record}");

        // Resume: only the series not complete are asked for again.
        faults.stall_after.store(u32::MAX, Ordering::SeqCst);
        faults.query_ranges.store(0, Ordering::SeqCst);
        let mut args = lab.export_args(&url, &out);
        args.push("--resume".to_owned());
        let output = harbinger(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(
            faults.query_ranges.load(Ordering::SeqCst),
            QUERIES_PER_SERIES * (lab.series.len() as u32 - 2)
        );
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(&whole).unwrap(),
            "{name}"
        );
        assert!(!progress.exists());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_are_queried_concurrently_and_written_in_order() {
    let lab = lab().await;
    let (url, faults) = proxy(&lab.prometheus.process.url).await;
    let run = |concurrency: &str, out: &Path| {
        let mut args = lab.export_args(&url, out);
        args.extend(["--concurrency".to_owned(), concurrency.to_owned()]);
        args
    };

    // One at a time, then eight: the same bytes, and the queries overlapped only when asked.
    let sequential = lab.path("sequential.csv.gz");
    let output = harbinger(&run("1", &sequential));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(faults.most_in_flight.load(Ordering::SeqCst), 1);
    let concurrent = lab.path("concurrent.csv.gz");
    let output = harbinger(&run("8", &concurrent));
    assert!(output.status.success(), "{}", stderr(&output));
    let most = faults.most_in_flight.load(Ordering::SeqCst);
    assert!(
        most > 1 && most <= 8,
        "{most} range queries at once with --concurrency 8"
    );
    assert_eq!(
        std::fs::read(&concurrent).unwrap(),
        std::fs::read(&sequential).unwrap()
    );

    // Killed while four series are in flight, resumed: still the same bytes, and only the
    // series the record does not count as written are asked for again.
    let out = lab.path("killed.csv.gz");
    kill_when_stalled(&run("4", &out), &faults, 3 * QUERIES_PER_SERIES).await;
    let progress = lab.path("killed.csv.gz.progress");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&progress).unwrap()).unwrap();
    let done = record["series_done"].as_u64().unwrap() as u32;
    assert!(done < lab.series.len() as u32, "{record}");
    faults.stall_after.store(u32::MAX, Ordering::SeqCst);
    faults.query_ranges.store(0, Ordering::SeqCst);
    let mut args = run("4", &out);
    args.push("--resume".to_owned());
    let output = harbinger(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        faults.query_ranges.load(Ordering::SeqCst),
        QUERIES_PER_SERIES * (lab.series.len() as u32 - done)
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&sequential).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_and_refusals_are_reported() {
    let lab = lab().await;
    let (url, faults) = proxy(&lab.prometheus.process.url).await;

    // Two 503s, then answers: the export succeeds, with the same file as without faults.
    let direct = lab.path("direct.csv");
    let output = harbinger(&lab.export_args(&lab.prometheus.process.url, &direct));
    assert!(output.status.success(), "{}", stderr(&output));
    faults.unavailable.store(2, Ordering::SeqCst);
    let retried = lab.path("retried.csv");
    let output = harbinger(&lab.export_args(&url, &retried));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(faults.answered_503.load(Ordering::SeqCst), 2);
    let expected_requests = 1 + QUERIES_PER_SERIES * lab.series.len() as u32 + 2;
    assert_eq!(faults.requests.load(Ordering::SeqCst), expected_requests);
    assert_eq!(
        std::fs::read(&retried).unwrap(),
        std::fs::read(&direct).unwrap()
    );
    assert!(stderr(&output).contains("Prometheus request failed, retrying"));

    // Always 503: it gives up after --max-attempts, saying so.
    faults.always_unavailable.store(true, Ordering::SeqCst);
    let mut args = lab.export_args(&url, &lab.path("never.csv"));
    args.extend(["--max-attempts", "2"].map(String::from));
    let output = harbinger(&args);
    faults.always_unavailable.store(false, Ordering::SeqCst);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains(&format!("harbinger: {url}/api/v1/series (series matching")),
        "{message}"
    );
    assert!(
        message.contains(
            "answered 503 to each of 2 attempts, last: unavailable: injected by the test"
        ),
        "{message}"
    );

    // A 400 is not retried: one request, and Prometheus's message.
    let before = faults.requests.load(Ordering::SeqCst);
    let mut args = lab.export_args(&url, &lab.path("bad.csv"));
    args.extend(["--match", "up{"].map(String::from));
    let output = harbinger(&args);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(faults.requests.load(Ordering::SeqCst), before + 1);
    let message = stderr(&output);
    assert!(
        message.contains(&format!("{url}/api/v1/series (series matching up{{ from"))
            && message.contains("Prometheus answered 400: bad_data: "),
        "{message}"
    );
}
