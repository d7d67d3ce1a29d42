//! Export benchmark: `harbinger export` of a 1,000-host Prometheus, one series at a time
//! and several at once.
//!
//! Run: `cargo bench --bench export`. Settings (environment):
//! - `EXPORT_HOSTS` (default 1000) × `EXPORT_SERIES_PER_HOST` (default 10) series, each
//!   with a sample every 15 s over `EXPORT_HOURS` (default 1);
//! - `EXPORT_CONCURRENCY` (default `1,4,8`): the `--concurrency` values to time.
//!
//! What it does: writes the series as OpenMetrics, turns them into TSDB blocks with
//! Debian's `promtool`, starts a real Prometheus on them (nothing scraped), then runs the
//! real binary's `export` of every series at a 15 s step once per concurrency. It prints,
//! per run, the wall time, series and rows per second, and the CPU seconds of the export
//! and of Prometheus, and fails if a run's file differs from the first run's or misses a
//! series.

#[path = "support/server.rs"]
mod server;
#[path = "support/setting.rs"]
mod setting;
#[allow(dead_code)] // The tests' helpers; the bench uses Prometheus and processes.
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use server::process_cpu_seconds;
use setting::setting;
use support::prometheus::{Series, Server, create_blocks, write_openmetrics};

const STEP_MS: i64 = 15_000;

/// Every host's series: counters that grow by a host- and series-dependent rate.
fn fleet(hosts: usize, per_host: usize, start_ms: i64, points: i64) -> Vec<Series> {
    let mut series = Vec::with_capacity(hosts * per_host);
    for host in 0..hosts {
        for k in 0..per_host {
            let rate = 1.0 + ((host * 31 + k * 7) % 97) as f64;
            let labels = BTreeMap::from([
                ("instance".to_owned(), format!("host-{host:04}:9100")),
                ("job".to_owned(), "node".to_owned()),
            ]);
            series.push(Series {
                name: format!("bench_metric_{k:02}_total"),
                labels,
                samples: (0..points)
                    .map(|i| (start_ms + i * STEP_MS, (i as f64 * rate).floor()))
                    .collect(),
            });
        }
    }
    series
}

/// CPU seconds of this process's reaped children so far.
fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let hosts: usize = setting("EXPORT_HOSTS", 1000);
    let per_host: usize = setting("EXPORT_SERIES_PER_HOST", 10);
    let hours: i64 = setting("EXPORT_HOURS", 1);
    let concurrencies: Vec<u16> = setting("EXPORT_CONCURRENCY", "1,4,8".to_owned())
        .split(',')
        .map(|c| {
            c.trim()
                .parse()
                .expect("EXPORT_CONCURRENCY: numbers, comma-separated")
        })
        .collect();

    let dir = tempfile::tempdir().expect("a temporary directory");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    // Ended two hours ago, on the step: inside Prometheus's retention, out of its head.
    let end_ms = (now_ms - 2 * 3_600_000) / STEP_MS * STEP_MS;
    let points = hours * 3_600_000 / STEP_MS + 1;
    let start_ms = end_ms - (points - 1) * STEP_MS;
    let series = fleet(hosts, per_host, start_ms, points);
    let samples = series.len() as i64 * points;
    let loading = Instant::now();
    let openmetrics = dir.path().join("fleet.om");
    write_openmetrics(&series, &openmetrics);
    drop(series);
    let tsdb = dir.path().join("tsdb");
    create_blocks(&openmetrics, &tsdb);
    std::fs::remove_file(&openmetrics).expect("removing the OpenMetrics file");
    let http = reqwest::Client::new();
    let prometheus = Server::start("prometheus", dir.path(), &tsdb, &http).await;
    let prometheus_stat = format!("/proc/{}/stat", prometheus.process.id());
    println!(
        "{hosts} hosts × {per_host} series, {points} points each ({samples} samples), \
         loaded into Prometheus in {:.1} s",
        loading.elapsed().as_secs_f64()
    );
    println!();
    println!("| --concurrency | wall | series/s | rows/s | export CPU s | Prometheus CPU s |");
    println!("|--:|--:|--:|--:|--:|--:|");

    let mut first: Option<Vec<u8>> = None;
    for concurrency in concurrencies {
        let out = dir.path().join(format!("export-{concurrency}.csv"));
        let prometheus_before = process_cpu_seconds(&prometheus_stat);
        let export_before = children_cpu_seconds();
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_harbinger"))
            .args(["--log-level", "warn", "export", "--prometheus"])
            .arg(&prometheus.process.url)
            .args(["--match", "{job=\"node\"}", "--step", "15s"])
            .args(["--start", &(start_ms / 1000).to_string()])
            .args(["--end", &(end_ms / 1000).to_string()])
            .args(["--concurrency", &concurrency.to_string()])
            .arg("--out")
            .arg(&out)
            .output()
            .expect("running harbinger export");
        let wall = started.elapsed();
        assert!(
            output.status.success(),
            "export --concurrency {concurrency} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let export_cpu = children_cpu_seconds() - export_before;
        let prometheus_cpu = process_cpu_seconds(&prometheus_stat) - prometheus_before;
        let written = std::fs::read(&out).expect("reading the export");
        let rows = written.iter().filter(|&&b| b == b'\n').count() as i64 - 1;
        assert_eq!(rows, samples, "every sample at its grid point");
        match &first {
            None => first = Some(written),
            Some(first) => assert!(
                *first == written,
                "--concurrency {concurrency} wrote another file"
            ),
        }
        let per_second = |n: f64| n / wall.as_secs_f64();
        println!(
            "| {concurrency} | {:.1} s | {:.0} | {:.0} | {export_cpu:.1} | {prometheus_cpu:.1} |",
            wall.as_secs_f64(),
            per_second((hosts * per_host) as f64),
            per_second(rows as f64),
        );
        std::fs::remove_file(&out).expect("removing the export");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
