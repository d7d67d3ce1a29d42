//! A real Kafka-protocol broker for the scale-out tests: tansu (Apache-2.0, no JVM),
//! in memory, on one loopback port; `scripts/test` installs it. Also the pieces of a
//! Kafka deployment of harbinger: its `kafka:` section, and which partition an entity
//! lands in.

#![allow(dead_code)] // Shared by the test crates; not every one runs a broker.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use harbinger::ingest::{DecodeLimits, Decoder, Protocol, WriteBatch, proto};
use harbinger::kafka::Partitioner;

use crate::support::{Process, eventually};

pub const INSTALL_TANSU: &str =
    "run `cargo install tansu --features dynostore --locked` (scripts/test does)";

pub const TOPIC: &str = "harbinger-samples";

/// tansu on `port`, storing in memory (a restart starts empty).
pub fn start_broker(dir: &Path, port: u16) -> Process {
    let url = format!("tcp://127.0.0.1:{port}");
    let args = [
        "broker".to_owned(),
        format!("--listener-url={url}"),
        format!("--advertised-listener-url={url}"),
        "--storage-engine=memory://tansu/".to_owned(),
    ];
    Process::spawn("tansu", "tansu", &args, port, dir, INSTALL_TANSU)
}

/// Creates the topic, retrying while the broker starts.
pub async fn create_topic(port: u16, partitions: u32, deadline: Instant) {
    eventually("the topic to be created", deadline, async || {
        let output = Command::new("tansu")
            .args(["topic", "create", "--broker"])
            .arg(format!("tcp://127.0.0.1:{port}"))
            .arg(format!("--partitions={partitions}"))
            .arg(TOPIC)
            .output()
            .map_err(|e| format!("running tansu: {e} ({INSTALL_TANSU})"))?;
        match output.status.success() {
            true => Ok(()),
            false => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Err(String::from_utf8_lossy(&output.stderr).into_owned())
            }
        }
    })
    .await;
}

/// The `kafka:` section of a harbinger configuration for the broker on `port`, with a
/// short session so that a killed worker's partitions move soon.
pub fn kafka_section(port: u16) -> String {
    format!(
        "kafka:\n  brokers: [127.0.0.1:{port}]\n  topic: {TOPIC}\n  produce_timeout: 2s\n  options:\n    session.timeout.ms: \"6000\"\n    heartbeat.interval.ms: \"1000\"\n"
    )
}

/// The partition a receiver sends the series with `labels` (sorted by name) to.
pub fn partition_of(labels: &[(&str, &str)], entity_labels: &[&str], partitions: u32) -> i32 {
    let request = proto::v1_request(&[proto::SeriesSample {
        labels,
        timestamp_ms: 0,
        value: 1.0,
    }]);
    let mut batch = WriteBatch::default();
    Decoder::new(DecodeLimits::default())
        .decode(Protocol::V1, &proto::encode_snappy(&request), &mut batch)
        .expect("a valid request");
    let entity_labels: Vec<String> = entity_labels.iter().map(|&l| l.to_owned()).collect();
    Partitioner::new(&entity_labels).partition(&batch, &batch.series()[0], b"", partitions)
}

/// The partitions a worker owns, from its per-partition lag gauges.
pub async fn owned_partitions(http: &reqwest::Client, worker: &Process) -> Vec<i32> {
    let Ok(response) = http.get(format!("{}/metrics", worker.url)).send().await else {
        return Vec::new();
    };
    let text = response.text().await.unwrap_or_default();
    let mut owned: Vec<i32> =
        crate::support::samples(&text, "harbinger_kafka_consumer_lag_records")
            .iter()
            .filter_map(|(labels, _)| {
                let start = labels.find("partition=\"")? + "partition=\"".len();
                labels[start..].split('"').next()?.parse().ok()
            })
            .collect();
    owned.sort_unstable();
    owned
}
