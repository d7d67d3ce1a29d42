//! The worker's figures when the load bench splits receiver and worker over Kafka: its
//! throughput while it drains the topic, and the delay from a record's acknowledgement
//! to its samples being scored under a paced load.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::generator::Generator;
use super::table::{rule, thousands};
use crate::server::Server;
use crate::synthetic::SAMPLES_PER_REQUEST;

/// The worker's throughput while it drains what the receiver published, then the delay
/// from acknowledgement to scored under a paced load (to the receiver's `write_url`) of
/// a quarter of that throughput.
pub fn worker_figures(
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
    rule();
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
    rule();
}
