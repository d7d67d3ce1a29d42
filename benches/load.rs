//! Load benchmark: the real `harbinger serve` binary under sustained remote-write traffic
//! from synthetic scrape targets (see `support/synthetic/mod.rs`): by default 100,000
//! node_exporter-like series (200 hosts × 500 series); with `LOAD_SHAPE=sparse`, many
//! small entities (1,000 hosts × 21 series). Optionally VictoriaMetrics takes the same
//! traffic in the same run, as a peer to compare the cost per sample with.
//!
//! Run: `cargo bench --bench load`. Settings (environment):
//! - `LOAD_SECONDS` (default 20): length of the timed phase.
//! - `LOAD_CONNECTIONS` (default 8): concurrent HTTP/1.1 keep-alive connections.
//! - `LOAD_PROTOCOL` (`v1`, the default, or `v2`).
//! - `LOAD_PIPELINE` (`receiver`, the default, or `default`): `receiver` runs the server
//!   with a pipeline whose one signal selects none of the synthetic series, which
//!   measures the receiver (decode, registry, queue, the pipeline's per-sample skip);
//!   `default` runs the default pipeline on them. The generator sends a 15 s scrape
//!   round every few milliseconds, so the default pipeline evaluates a step per round,
//!   hundreds of times faster than a real estate asks of it.
//! - `LOAD_SHAPE` (`node-exporter`, the default, or `sparse`): what each host exposes.
//! - `LOAD_HOSTS` (default 200 node-exporter hosts, 1,000 sparse ones): scrape targets.
//! - `LOAD_PEER` (`none`, the default, or `victoria-metrics`): after harbinger's figures,
//!   stop it, start Debian's `victoria-metrics` (on PATH) with a temporary storage dir,
//!   send it the same traffic (a warm-up round, then a timed phase as long), and print
//!   its samples stored per CPU-second and harbinger's as a multiple of them.
//!   `LOAD_SHAPE=sparse LOAD_PIPELINE=default` is a catch-up after an outage (or a
//!   backfill): rounds follow each other as fast as the server takes them.
//! - `LOAD_CLIENT_THREADS` (default 1): threads of the load generator's runtime.
//! - `LOAD_ROLE` (`all`, the default, or `receiver`): with `receiver`, the bench starts
//!   a Kafka-protocol broker (tansu, on PATH; `LOAD_PARTITIONS`, default 4, partitions),
//!   sends the load to `serve --role receiver`, and runs one `serve --role worker` on
//!   the same pipeline. It then also reports the worker: its samples per CPU-second
//!   while it drains the topic, and the delay from a record's acknowledgement to its
//!   samples being scored (p99, from the worker's histogram) under a paced load of a
//!   quarter of that throughput.
//!
//! What it does: starts the server on a free loopback port with a temporary data dir,
//! waits for `/-/ready`, measures its RSS, sends one full scrape round to create every
//! series (not timed), then for the timed phase each connection sends, round after
//! round, its own share of the 2000-sample requests (a request always goes over the same
//! connection, as Prometheus shards by series, so a series' samples arrive in order).
//! Each request is the pre-encoded template of its part with the round's timestamps and
//! values patched in (a copy and 4000 small writes, no encoding). Then it reads the
//! server's own counters from `/metrics`, its CPU time from `/proc/<pid>/stat` and its
//! RSS from `/proc/<pid>/status`, prints a table against the targets, and stops it.

#[path = "support/server.rs"]
mod server;
#[path = "support/setting.rs"]
mod setting;
#[path = "support/synthetic/mod.rs"]
mod synthetic;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harbinger::ingest::Protocol;
use server::{Server, process_cpu_seconds};
use setting::setting;
use synthetic::{Fleet, SAMPLES_PER_REQUEST, Shape, Template};

const TARGET_SAMPLES_PER_CPU_SECOND: f64 = 2_000_000.0;
/// A request answered 503 is sent again after a backoff that doubles from this, as
/// Prometheus's remote write does (`min_backoff`, `max_backoff`).
const MIN_BACKOFF: Duration = Duration::from_millis(30);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const TARGET_RSS_BYTES_PER_SERIES: f64 = 300.0;

/// The configuration's pipeline for `LOAD_PIPELINE`, its files written into `dir`.
fn pipeline_yaml(pipeline: &str, dir: &std::path::Path) -> String {
    match pipeline {
        "default" => String::new(),
        "receiver" => {
            let rules = dir.join("idle.rules.yml");
            std::fs::write(
                &rules,
                "groups:\n  - name: idle\n    rules:\n      - alert: Idle\n        expr: harbinger_load_bench_absent > 1\n",
            )
            .expect("writing the idle rule file");
            let idle = dir.join("idle.yml");
            std::fs::write(
                &idle,
                format!(
                    "step: 15s\nentity_labels: [instance]\nrule_files: [{}]\n",
                    rules.display()
                ),
            )
            .expect("writing the idle pipeline");
            format!("pipeline: {}\n", idle.display())
        }
        other => panic!("LOAD_PIPELINE={other:?}: expected receiver or default"),
    }
}

/// A Kafka-protocol broker (tansu, in memory) with the topic created; killed on drop.
struct Broker {
    child: Child,
    port: u16,
}

impl Broker {
    fn start(partitions: u32) -> Broker {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new("tansu")
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting tansu (cargo install tansu --features dynostore --locked)");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let created = Command::new("tansu")
                .args(["topic", "create", "--broker", &url])
                .arg(format!("--partitions={partitions}"))
                .arg("harbinger-samples")
                .output()
                .is_ok_and(|output| output.status.success());
            if created {
                break;
            }
            assert!(Instant::now() < deadline, "tansu did not create the topic");
            std::thread::sleep(Duration::from_millis(200));
        }
        Broker { child, port }
    }

    fn kafka_section(&self) -> String {
        format!("kafka:\n  brokers: [127.0.0.1:{}]\n", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The figures read from the server's `/metrics`.
#[derive(Debug, Default, Clone)]
struct Counters {
    received: f64,
    dropped: BTreeMap<String, f64>,
    active_series: f64,
    requests: BTreeMap<String, f64>,
    /// Samples the pipeline took (a worker's throughput).
    processed: f64,
    /// `harbinger_kafka_record_delay_seconds` buckets: (upper bound, cumulative count).
    delay_buckets: Vec<(f64, f64)>,
}

impl Counters {
    fn parse(text: &str) -> Counters {
        let mut counters = Counters::default();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let label = |key: &str| {
                labels
                    .split(',')
                    .find_map(|pair| pair.strip_prefix(key)?.strip_prefix("=\""))
                    .map(|v| v.trim_end_matches('"').to_owned())
                    .unwrap_or_default()
            };
            match name {
                "harbinger_samples_received_total" => counters.received = value,
                "harbinger_samples_dropped_total" => {
                    counters.dropped.insert(label("reason"), value);
                }
                "harbinger_active_series" => counters.active_series = value,
                "harbinger_pipeline_samples_processed_total" => counters.processed = value,
                "harbinger_kafka_record_delay_seconds_bucket" => {
                    let le = label("le");
                    let bound = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap_or(f64::NAN)
                    };
                    counters.delay_buckets.push((bound, value));
                }
                "harbinger_requests_total" => {
                    counters.requests.insert(label("code"), value);
                }
                _ => {}
            }
        }
        counters
    }

    /// The p99 of the record delays observed since `before`, as its bucket's upper bound.
    fn delay_p99_since(&self, before: &Counters) -> f64 {
        let count_before = |bound: f64| {
            before
                .delay_buckets
                .iter()
                .find(|(b, _)| *b == bound)
                .map_or(0.0, |(_, n)| *n)
        };
        let deltas: Vec<(f64, f64)> = self
            .delay_buckets
            .iter()
            .map(|&(bound, n)| (bound, n - count_before(bound)))
            .collect();
        let total = deltas.last().map_or(0.0, |(_, n)| *n);
        deltas
            .iter()
            .find(|(_, n)| *n >= 0.99 * total)
            .map_or(f64::NAN, |(bound, _)| *bound)
    }

    fn dropped_total(&self) -> f64 {
        self.dropped.values().sum()
    }

    fn requests_other_than_204(&self) -> f64 {
        self.requests
            .iter()
            .filter(|(code, _)| code.as_str() != "204")
            .map(|(_, n)| n)
            .sum()
    }
}

struct Generator {
    client: reqwest::Client,
    protocol: Protocol,
    fleet: Fleet,
    templates: Vec<Template>,
    connections: usize,
}

#[derive(Default)]
struct Sent {
    requests: u64,
    samples: u64,
    bytes: u64,
    statuses: BTreeMap<u16, u64>,
    first_failure: Option<String>,
    latencies_us: Vec<u32>,
    /// The latest scrape round any request was of.
    last_round: u64,
    /// Attempts answered 503 and sent again after a backoff.
    retries: u64,
}

impl Sent {
    fn merge(&mut self, other: Sent) {
        self.requests += other.requests;
        self.samples += other.samples;
        self.bytes += other.bytes;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
        self.latencies_us.extend(other.latencies_us);
        self.last_round = self.last_round.max(other.last_round);
        self.retries += other.retries;
    }

    fn all_204(&self) -> bool {
        self.statuses.keys().all(|&status| status == 204)
    }

    /// "requests / answered 204", and whether every request was in the end.
    fn answered(&self) -> (String, &'static str) {
        let answered = self.statuses.get(&204).copied().unwrap_or(0);
        let verdict = if self.all_204() {
            "all 204: ok"
        } else {
            "all 204: MISSED"
        };
        (format!("{} / {answered}", self.requests), verdict)
    }
}

impl Generator {
    /// The harbinger counters of the server at `url`.
    async fn counters(&self, url: &str) -> Counters {
        Counters::parse(&self.metrics(url).await)
    }

    /// The server's `/metrics` page.
    async fn metrics(&self, url: &str) -> String {
        self.client
            .get(format!("{url}/metrics"))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("GET /metrics")
            .text()
            .await
            .expect("reading /metrics")
    }

    /// Waits until `GET url` succeeds (a readiness endpoint).
    async fn wait_ready(&self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = self
                .client
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "server not ready after 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Connection `k`'s share: parts k, k + C, k + 2C, ... of each round, from
    /// `first_round` on, until `deadline` (or for one round when there is none), to the
    /// remote-write endpoint at `url`.
    async fn connection(
        self: Arc<Self>,
        url: String,
        k: usize,
        first_round: u64,
        deadline: Option<Instant>,
    ) -> Sent {
        let parts: Vec<usize> = (k..self.templates.len())
            .step_by(self.connections)
            .collect();
        let mut sent = Sent::default();
        if parts.is_empty() {
            return sent;
        }
        let (content_type, version) = match self.protocol {
            Protocol::V1 => ("application/x-protobuf", "0.1.0"),
            Protocol::V2 => (
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
                "2.0.0",
            ),
        };
        let mut round = first_round;
        loop {
            for &part in &parts {
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    return sent;
                }
                let template = &self.templates[part];
                let mut body = Vec::with_capacity(template.compressed_len());
                template.render(&self.fleet, round, &mut body);
                let body = bytes::Bytes::from(body);
                let mut backoff = MIN_BACKOFF;
                let (status, started) = loop {
                    sent.bytes += body.len() as u64;
                    let started = Instant::now();
                    let response = self
                        .client
                        .post(&url)
                        .header("content-type", content_type)
                        .header("content-encoding", "snappy")
                        .header("x-prometheus-remote-write-version", version)
                        .header("user-agent", "harbinger-load/0.1")
                        .body(body.clone())
                        .send()
                        .await;
                    let (status, text) = match response {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            (status, response.text().await.unwrap_or_default())
                        }
                        Err(error) => (0, format!("transport: {error}")),
                    };
                    if status == 503 {
                        sent.retries += 1;
                        if deadline.is_some_and(|deadline| Instant::now() + backoff >= deadline) {
                            // No time left to send it again: the phase ends without it.
                            return sent;
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                    if status != 204 && sent.first_failure.is_none() {
                        sent.first_failure = Some(format!("{status}: {}", text.trim()));
                    }
                    break (status, started);
                };
                sent.latencies_us
                    .push(started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                *sent.statuses.entry(status).or_default() += 1;
                sent.requests += 1;
                sent.samples += template.samples() as u64;
                sent.last_round = round;
            }
            if deadline.is_none() {
                return sent;
            }
            round += 1;
        }
    }

    /// One request every `interval`, round after round from `first_round`, for
    /// `duration`, over one connection; returns the samples sent.
    async fn paced(
        &self,
        url: &str,
        first_round: u64,
        interval: Duration,
        duration: Duration,
    ) -> u64 {
        let end = Instant::now() + duration;
        let mut next = Instant::now();
        let mut samples = 0;
        for round in first_round.. {
            for template in &self.templates {
                if Instant::now() >= end {
                    return samples;
                }
                let mut body = Vec::with_capacity(template.compressed_len());
                template.render(&self.fleet, round, &mut body);
                let response = self
                    .client
                    .post(url)
                    .header("content-type", "application/x-protobuf")
                    .header("content-encoding", "snappy")
                    .header("x-prometheus-remote-write-version", "0.1.0")
                    .body(body)
                    .send()
                    .await
                    .expect("a paced request");
                assert_eq!(response.status(), 204, "a paced request");
                samples += template.samples() as u64;
                next += interval;
                tokio::time::sleep_until(next.into()).await;
            }
        }
        samples
    }

    /// Every connection's share, to the remote-write endpoint at `url`.
    async fn run(self: &Arc<Self>, url: &str, first_round: u64, deadline: Option<Instant>) -> Sent {
        let tasks: Vec<_> = (0..self.connections)
            .map(|k| {
                let connection = self
                    .clone()
                    .connection(url.to_owned(), k, first_round, deadline);
                tokio::spawn(connection)
            })
            .collect();
        let mut sent = Sent::default();
        for task in tasks {
            sent.merge(task.await.expect("connection task"));
        }
        sent
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 && c != '-' {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn main() {
    let seconds: f64 = setting("LOAD_SECONDS", 20.0);
    let connections: usize = setting("LOAD_CONNECTIONS", 8);
    let shape: Shape = setting("LOAD_SHAPE", Shape::NodeExporter);
    let hosts: usize = setting(
        "LOAD_HOSTS",
        match shape {
            Shape::NodeExporter => 200,
            Shape::Sparse => 1000,
        },
    );
    let peer = setting("LOAD_PEER", "none".to_owned());
    assert!(
        peer == "none" || peer == "victoria-metrics",
        "LOAD_PEER={peer:?}: expected none or victoria-metrics"
    );
    let client_threads: usize = setting("LOAD_CLIENT_THREADS", 1);
    let protocol = match setting("LOAD_PROTOCOL", "v1".to_owned()).as_str() {
        "v1" | "1" => Protocol::V1,
        "v2" | "2" => Protocol::V2,
        other => panic!("LOAD_PROTOCOL={other:?}: expected v1 or v2"),
    };
    assert!(connections > 0, "LOAD_CONNECTIONS must be at least 1");

    let prepared = Instant::now();
    let fleet = Fleet::new(shape, hosts);
    let series_per_host = fleet.series_per_host;
    let templates = fleet.templates(protocol);
    for template in [&templates[0], &templates[templates.len() - 1]] {
        template.check(&fleet, 0);
        template.check(&fleet, 123_456);
    }
    let series = fleet.len();
    let request_bytes: usize = templates.iter().map(Template::compressed_len).sum();
    eprintln!(
        "prepared {} requests per round for {series} series in {:.1} s ({:.0} B compressed on average)",
        templates.len(),
        prepared.elapsed().as_secs_f64(),
        request_bytes as f64 / templates.len() as f64,
    );

    let pipeline = setting("LOAD_PIPELINE", "receiver".to_owned());
    let role = setting("LOAD_ROLE", "all".to_owned());
    assert!(
        role == "all" || role == "receiver",
        "LOAD_ROLE={role:?}: expected all or receiver"
    );
    let broker = (role == "receiver").then(|| Broker::start(setting("LOAD_PARTITIONS", 4)));
    let kafka = broker.as_ref().map_or(String::new(), Broker::kafka_section);
    let mut server = Server::start(&role, |dir| pipeline_yaml(&pipeline, dir) + &kafka);
    let worker = broker
        .as_ref()
        .map(|_| Server::start("worker", |dir| pipeline_yaml(&pipeline, dir) + &kafka));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let generator = Arc::new(Generator {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .tcp_nodelay(true)
            .build()
            .expect("HTTP client"),
        protocol,
        fleet,
        templates,
        connections,
    });

    runtime.block_on(generator.wait_ready(&server.url("/-/ready")));
    if let Some(worker) = &worker {
        runtime.block_on(generator.wait_ready(&worker.url("/-/ready")));
    }
    let write_url = server.url("/api/v1/write");
    // Let the runtime settle (threads spawned, first allocations) before the baseline.
    std::thread::sleep(Duration::from_millis(500));
    let rss_start = server.rss_bytes();

    let warm_started = Instant::now();
    let warm = runtime.block_on(generator.run(&write_url, 0, None));
    let warm_seconds = warm_started.elapsed().as_secs_f64();
    assert!(
        warm.all_204(),
        "warm-up requests failed: {:?}, first failure: {:?}",
        warm.statuses,
        warm.first_failure
    );
    let before = runtime.block_on(generator.counters(&server.url("")));
    if role == "all" {
        assert_eq!(
            before.active_series as usize, series,
            "warm-up must create every series"
        );
    }
    let rss_warm = server.rss_bytes();
    eprintln!(
        "warm-up: {} requests, {series} series created in {warm_seconds:.1} s; timing {seconds} s over {connections} connections",
        warm.requests
    );

    let cpu_before = server.cpu_seconds();
    let self_cpu_before = process_cpu_seconds("/proc/self/stat");
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut sent = runtime.block_on(generator.run(&write_url, 1, Some(deadline)));
    let wall = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_before;
    let self_cpu = process_cpu_seconds("/proc/self/stat") - self_cpu_before;
    let after = runtime.block_on(generator.counters(&server.url("")));
    let rss_end = server.rss_bytes();

    let received = after.received - before.received;
    let dropped = after.dropped_total() - before.dropped_total();
    let accepted = received - dropped;
    let failed_requests = after.requests_other_than_204() - before.requests_other_than_204();
    sent.latencies_us.sort_unstable();
    let active = after.active_series;
    let per_cpu_second = accepted / cpu;
    let rss_per_series = (rss_end.saturating_sub(rss_start)) as f64 / active;
    let rss_per_series_warm = (rss_warm.saturating_sub(rss_start)) as f64 / active;
    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };

    println!();
    println!(
        "harbinger load (role {role}, {pipeline} pipeline): remote write {}, {series} series ({hosts} hosts x {series_per_host}), \
         2000 samples/request, {connections} connections, {wall:.1} s, {} CPUs shared with the generator",
        match protocol {
            Protocol::V1 => "1.0",
            Protocol::V2 => "2.0",
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!("{:-<104}", "");
    println!("{:<44} {:>26}   {:<30}", "figure", "value", "target");
    println!("{:-<104}", "");
    let row = |name: &str, value: String, target: &str| {
        println!("{name:<44} {value:>26}   {target:<30}");
    };
    let (requests, verdict_204) = sent.answered();
    row(
        "requests sent / answered 204",
        requests,
        if failed_requests == sent.retries as f64 {
            verdict_204
        } else {
            "all 204: MISSED (server counters)"
        },
    );
    row(
        "  attempts answered 503, sent again",
        thousands(sent.retries as f64),
        "",
    );
    row("samples sent", thousands(sent.samples as f64), "");
    row(
        "samples received (server counter)",
        thousands(received),
        if received == sent.samples as f64 {
            "= sent: ok"
        } else {
            "= sent: MISSED"
        },
    );
    row(
        "samples dropped (server counters)",
        thousands(dropped),
        if dropped == 0.0 { "0: ok" } else { "0: MISSED" },
    );
    row("accepted samples/s", thousands(accepted / wall), "");
    row(
        "request latency p50 / p99 / max",
        format!(
            "{:.2} / {:.2} / {:.2} ms",
            percentile(&sent.latencies_us, 50.0),
            percentile(&sent.latencies_us, 99.0),
            percentile(&sent.latencies_us, 100.0)
        ),
        "",
    );
    row(
        "compressed bytes/s sent",
        format!("{:.1} MB/s", sent.bytes as f64 / wall / 1e6),
        "",
    );
    row(
        "server CPU (user+sys)",
        format!("{cpu:.2} s ({:.2} cores)", cpu / wall),
        "",
    );
    row(
        "load generator CPU (user+sys)",
        format!("{self_cpu:.2} s ({:.2} cores)", self_cpu / wall),
        "",
    );
    row(
        "samples per server CPU-second",
        thousands(per_cpu_second),
        &format!(
            ">= {}: {}",
            thousands(TARGET_SAMPLES_PER_CPU_SECOND),
            verdict(per_cpu_second >= TARGET_SAMPLES_PER_CPU_SECOND)
        ),
    );
    row(
        "server CPU per request",
        format!("{:.0} us", 1e6 * cpu / sent.requests as f64),
        "",
    );
    if role == "all" {
        row("active series (server gauge)", thousands(active), "");
        row(
            "server RSS: start / after warm-up / end",
            format!("{} / {} / {}", mib(rss_start), mib(rss_warm), mib(rss_end)),
            "",
        );
        row(
            "RSS bytes per active series (end - start)",
            format!("{rss_per_series:.0} B"),
            &format!(
                "<= {TARGET_RSS_BYTES_PER_SERIES:.0} B: {}",
                verdict(rss_per_series <= TARGET_RSS_BYTES_PER_SERIES)
            ),
        );
        row(
            "  same, right after warm-up",
            format!("{rss_per_series_warm:.0} B"),
            "",
        );
    }
    println!("{:-<104}", "");
    if let Some(failure) = &sent.first_failure {
        println!("first failed request: {failure}");
    }
    if !after.dropped.is_empty() {
        println!("dropped by reason (whole run): {:?}", after.dropped);
    }
    println!("responses by status (timed phase): {:?}", sent.statuses);

    if let Some(worker) = &worker {
        worker_figures(
            &runtime,
            &generator,
            worker,
            &write_url,
            after.received,
            sent.last_round + 1,
        );
    }
    if peer == "victoria-metrics" {
        server.stop();
        peer_figures(&runtime, &generator, seconds, per_cpu_second);
    }
    drop(runtime);
    server.stop();
}

/// The same traffic into VictoriaMetrics, started once harbinger has stopped: a warm-up
/// round, then a timed phase as long as harbinger's; its samples stored per CPU-second,
/// and harbinger's against them.
fn peer_figures(
    runtime: &tokio::runtime::Runtime,
    generator: &Arc<Generator>,
    seconds: f64,
    harbinger_per_cpu_second: f64,
) {
    let peer = Server::victoria_metrics();
    runtime.block_on(generator.wait_ready(&peer.url("/health")));
    let write_url = peer.url("/api/v1/write");
    let stored = || {
        let metrics = runtime.block_on(generator.metrics(&peer.url("")));
        metric_value(&metrics, "vm_rows_added_to_storage_total")
    };
    let warm = runtime.block_on(generator.run(&write_url, 0, None));
    assert!(
        warm.all_204(),
        "VictoriaMetrics warm-up requests failed: {:?}, first failure: {:?}",
        warm.statuses,
        warm.first_failure
    );
    let stored_before = stored();
    let cpu_before = peer.cpu_seconds();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let sent = runtime.block_on(generator.run(&write_url, 1, Some(deadline)));
    let wall = started.elapsed().as_secs_f64();
    let cpu = peer.cpu_seconds() - cpu_before;
    let stored = stored() - stored_before;
    let per_cpu_second = stored / cpu;
    let ratio = harbinger_per_cpu_second / per_cpu_second;

    println!();
    println!("VictoriaMetrics, the same traffic ({wall:.1} s), after harbinger stopped");
    println!("{:-<104}", "");
    let row = |name: &str, value: String, target: &str| {
        println!("{name:<44} {value:>26}   {target:<30}");
    };
    let (requests, verdict_204) = sent.answered();
    row("requests sent / answered 204", requests, verdict_204);
    row(
        "  attempts answered 503, sent again",
        thousands(sent.retries as f64),
        "",
    );
    row(
        "samples stored (vm_rows_added_to_storage)",
        thousands(stored),
        if stored == sent.samples as f64 {
            "= sent: ok"
        } else {
            "= sent: MISSED"
        },
    );
    row(
        "server CPU (user+sys)",
        format!("{cpu:.2} s ({:.2} cores)", cpu / wall),
        "",
    );
    row(
        "samples per server CPU-second",
        thousands(per_cpu_second),
        "",
    );
    row(
        "harbinger / VictoriaMetrics, per CPU-second",
        format!("{ratio:.2}x"),
        "sparse >= 1.0x, node-exporter >= 5x",
    );
    println!("{:-<104}", "");
}

/// The value of an unlabelled metric, or the sum of its series, on a `/metrics` page.
fn metric_value(page: &str, name: &str) -> f64 {
    page.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// The worker's throughput while it drains what the receiver published, then the delay
/// from acknowledgement to scored under a paced load (to the receiver's `write_url`) of
/// a quarter of that throughput.
fn worker_figures(
    runtime: &tokio::runtime::Runtime,
    generator: &Arc<Generator>,
    worker: &Server,
    write_url: &str,
    published: f64,
    next_round: u64,
) {
    let url = worker.url("");
    let counters = || runtime.block_on(generator.counters(&url));
    let wait_processed = |samples: f64| {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            let processed = counters().processed;
            if processed >= samples {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the worker processed {processed} of {samples} samples in 15 minutes"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_processed(published);
    let cpu = worker.cpu_seconds();
    let per_cpu_second = published / cpu;
    let before = counters();
    let rate = per_cpu_second / 4.0;
    let interval = Duration::from_secs_f64(SAMPLES_PER_REQUEST as f64 / rate);
    let paced =
        runtime.block_on(generator.paced(write_url, next_round, interval, Duration::from_secs(20)));
    wait_processed(published + paced as f64);
    let p99 = counters().delay_p99_since(&before);
    println!();
    println!("worker (role worker, one process, every partition)");
    println!("{:-<104}", "");
    println!("{:<44} {:>26}", "samples scored", thousands(published));
    println!(
        "{:<44} {:>26}",
        "worker CPU (user+sys, whole run)",
        format!("{cpu:.2} s")
    );
    println!(
        "{:<44} {:>26}",
        "samples per worker CPU-second",
        thousands(per_cpu_second)
    );
    println!(
        "{:<44} {:>26}",
        "paced load (a quarter of that)",
        format!("{} samples/s", thousands(rate))
    );
    println!(
        "{:<44} {:>26}",
        "acknowledged to scored, p99 (bucket bound)",
        format!("<= {:.3} s", p99)
    );
    println!("{:-<104}", "");
}
