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

#[path = "support/load/mod.rs"]
mod parts;
#[path = "support/server.rs"]
mod server;
#[path = "support/setting.rs"]
mod setting;
#[path = "support/synthetic/mod.rs"]
mod synthetic;

use std::sync::Arc;
use std::time::{Duration, Instant};

use harbinger::ingest::Protocol;
use parts::broker::Broker;
use parts::generator::Generator;
use parts::peer::peer_figures;
use parts::table::{mib, percentile, row, rule, thousands};
use parts::worker::worker_figures;
use server::{Server, process_cpu_seconds};
use setting::setting;
use synthetic::{Fleet, Shape, Template};

const TARGET_SAMPLES_PER_CPU_SECOND: f64 = 2_000_000.0;
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
    rule();
    println!("{:<44} {:>26}   {:<30}", "figure", "value", "target");
    rule();
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
    rule();
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
