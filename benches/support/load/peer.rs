//! The peer the load bench compares with: Debian's VictoriaMetrics taking the same
//! traffic as harbinger did, once harbinger has stopped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::counters::metric_value;
use super::generator::Generator;
use super::table::{row, rule, thousands};
use crate::server::Server;

/// The same traffic into VictoriaMetrics, started once harbinger has stopped: a warm-up
/// round, then a timed phase as long as harbinger's; its samples stored per CPU-second,
/// and harbinger's against them.
pub fn peer_figures(
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
    rule();
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
    rule();
}
