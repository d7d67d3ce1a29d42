//! Scale-out over a real Kafka-protocol broker (tansu, in memory, see `stack::broker`).
//!
//! - Two workers share the topic's partitions behind one receiver: every entity is
//!   scored by exactly one of them, and their predictions are, gauge for gauge, those
//!   of one `--role all` process fed the same requests (synthetic node_exporter data
//!   for 16 hosts, the embedded pipeline and model).
//! - The broker stops under a real Prometheus: the receiver answers 503, Prometheus
//!   retries, and once a broker is back every sample scraped during the outage is in
//!   the topic; the receiver's log says so once, not a dozen times a second.
//!
//! - A worker stopped while the ticket action it decided is not yet stored (held by an
//!   Alertmanager that never answers the silence check) leaves the record that decided
//!   it uncommitted: the next worker decides it again and its desk gets the ticket.
//!
//! (The disk-fill scenario with a killed worker is in `disk_fill.rs`.)

mod stack;
mod support;
#[path = "../benches/support/synthetic/mod.rs"]
mod synthetic;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use harbinger::ingest::proto::{self, v2};
use harbinger::ingest::{DecodeLimits, Decoder, Protocol, WriteBatch};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::Value;
use stack::broker::{TOPIC, create_topic, kafka_section, owned_partitions, start_broker};
use stack::{start_harbinger, start_node_exporter, start_prometheus, wait_ok};
use support::{Process, eventually, free_ports, replay, samples, split_lab_dev};
use synthetic::Fleet;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn exposition(http: &reqwest::Client, process: &Process) -> String {
    let url = format!("{}/metrics", process.url);
    http.get(url).send().await.unwrap().text().await.unwrap()
}

async fn counter(http: &reqwest::Client, process: &Process, name: &str) -> f64 {
    samples(&exposition(http, process).await, name)
        .iter()
        .map(|(_, v)| v)
        .sum()
}

/// Every prediction gauge of a process: (metric and labels) → value.
async fn predictions(http: &reqwest::Client, process: &Process) -> BTreeMap<String, f64> {
    let text = exposition(http, process).await;
    let mut gauges = BTreeMap::new();
    for name in [
        "harbinger_prediction_probability",
        "harbinger_prediction_eta_seconds",
        "harbinger_anomaly_score",
    ] {
        for (labels, value) in samples(&text, name) {
            gauges.insert(format!("{name}{{{labels}}}"), value);
        }
    }
    gauges
}

async fn post(http: &reqwest::Client, process: &Process, body: Vec<u8>) {
    let response = http
        .post(format!("{}/api/v1/write", process.url))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{}", process.url);
}

/// The entity (instance and mountpoint) a gauge is about.
fn entity(gauge: &str) -> (String, String) {
    let value = |label: &str| {
        gauge
            .split(&format!("{label}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("")
            .to_owned()
    };
    (value("instance"), value("mountpoint"))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_score_each_entity_once_and_as_one_process_would() {
    let dir = tempfile::tempdir().unwrap();
    let http = http();
    let deadline = Instant::now() + Duration::from_secs(240);
    let [broker_port, receiver_port, a_port, b_port, all_port] = free_ports();
    let _broker = start_broker(dir.path(), broker_port);
    create_topic(broker_port, 4, deadline).await;
    let config = dir.path().join("harbinger.yml");
    std::fs::write(&config, kafka_section(broker_port)).unwrap();
    // `check --kafka`, as an operator runs it before starting the roles.
    let checked = std::process::Command::new(env!("CARGO_BIN_EXE_harbinger"))
        .args(["check", "--config"])
        .arg(&config)
        .arg("--kafka")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(
        said.contains(&format!("kafka: topic {TOPIC} has 4 partitions")),
        "{said}"
    );
    let receiver = start_harbinger(dir.path(), "receiver", &config, receiver_port, "receiver");
    let workers = [
        start_harbinger(dir.path(), "worker-a", &config, a_port, "worker"),
        start_harbinger(dir.path(), "worker-b", &config, b_port, "worker"),
    ];
    let all = start_harbinger(dir.path(), "all", &config, all_port, "all");
    for process in [&receiver, &all].into_iter().chain(&workers) {
        wait_ok(&http, &format!("{}/-/ready", process.url), deadline).await;
    }
    eventually(
        "the workers to share the 4 partitions",
        deadline,
        async || {
            let a = owned_partitions(&http, &workers[0]).await;
            let b = owned_partitions(&http, &workers[1]).await;
            match (a.len(), b.len()) {
                (2, 2) => Ok(()),
                _ => Err(format!("{a:?} {b:?}")),
            }
        },
    )
    .await;
    eventually(
        "the receiver to know the partitions",
        deadline,
        async || match counter(&http, &receiver, "harbinger_kafka_topic_partitions").await {
            4.0 => Ok(()),
            other => Err(format!("{other}")),
        },
    )
    .await;
    // A sample a day ahead of the clock: the receiver answers and counts as `all` does.
    let future = proto::encode_snappy(&v2::Request {
        symbols: ["", "__name__", "up"].map(String::from).to_vec(),
        timeseries: vec![v2::TimeSeries {
            labels_refs: vec![1, 2],
            samples: vec![v2::Sample {
                value: 1.0,
                timestamp: now_ms() + 86_400_000,
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    for process in [&receiver, &all] {
        let response = http
            .post(format!("{}/api/v1/write", process.url))
            .header(
                "Content-Type",
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            )
            .header("Content-Encoding", "snappy")
            .body(future.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{}", process.url);
        let written = &response.headers()["x-prometheus-remote-write-samples-written"];
        assert_eq!(written, "0", "{}", process.url);
        let dropped = "harbinger_samples_dropped_total{reason=\"too_far_ahead\"}";
        assert_eq!(
            counter(&http, process, dropped).await,
            1.0,
            "{}",
            process.url
        );
    }

    // 16 hosts × 500 series, 30 scrape rounds (7.5 minutes of data), all hosts scraped at
    // the same instant so that every partition's step clock starts where the single
    // process's does.
    let mut fleet = Fleet::node_exporters(16);
    fleet.spread = false;
    for round in 0..30 {
        for body in fleet.requests(Protocol::V1, round) {
            post(&http, &all, body.clone()).await;
            post(&http, &receiver, body).await;
        }
    }
    let expected = counter(&http, &all, "harbinger_pipeline_samples_processed_total").await;
    assert_eq!(expected, 16.0 * 500.0 * 30.0);
    eventually(
        "the workers to process every sample",
        deadline,
        async || {
            let mut processed = 0.0;
            for worker in &workers {
                processed +=
                    counter(&http, worker, "harbinger_pipeline_samples_processed_total").await;
            }
            match processed == expected {
                true => Ok(()),
                false => Err(format!("{processed} of {expected}")),
            }
        },
    )
    .await;
    // The gauges are set after each step; the last step of the last batch is in.
    let single = predictions(&http, &all).await;
    let a = predictions(&http, &workers[0]).await;
    let b = predictions(&http, &workers[1]).await;
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both workers score: {a:?} {b:?}"
    );
    let entities = |gauges: &BTreeMap<String, f64>| -> BTreeSet<(String, String)> {
        gauges.keys().map(|g| entity(g)).collect()
    };
    let shared: Vec<_> = entities(&a).intersection(&entities(&b)).cloned().collect();
    assert!(
        shared.is_empty(),
        "entities scored by both workers: {shared:?}"
    );
    let mut union = a.clone();
    union.extend(b.clone());
    assert_eq!(union.len(), single.len(), "as many gauges as one process");
    for (gauge, value) in &single {
        let scaled_out = union.get(gauge);
        assert_eq!(scaled_out, Some(value), "{gauge}");
    }
    assert!(
        entities(&single).len() >= 16,
        "every host has entities: {:?}",
        entities(&single)
    );
}

/// The timestamps of `up{job="node"}` samples in every record of the topic.
fn up_timestamps_in_topic(broker_port: u16) -> BTreeSet<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{broker_port}"))
        .set("group.id", "kafka-test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..2 {
        assignment
            .add_partition_offset(TOPIC, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    // Read up to each partition's end as it is now (Prometheus keeps writing).
    let mut ends: BTreeMap<i32, i64> = (0..2)
        .map(|p| {
            let (_, high) = consumer
                .fetch_watermarks(TOPIC, p, Duration::from_secs(10))
                .unwrap();
            (p, high)
        })
        .filter(|&(_, high)| high > 0)
        .collect();
    let decoder = Decoder::new(DecodeLimits::default());
    let mut batch = WriteBatch::default();
    let mut timestamps = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ends.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the topic was not read to its end: {ends:?}"
        );
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.unwrap();
        if ends
            .get(&message.partition())
            .is_some_and(|&end| message.offset() + 1 >= end)
        {
            ends.remove(&message.partition());
        }
        decoder
            .decode(Protocol::V1, message.payload().unwrap(), &mut batch)
            .unwrap();
        for series in batch.series() {
            let mut labels = batch.labels(series);
            if labels.any(|(n, v)| n == b"__name__" && v == b"up") {
                timestamps.extend(batch.samples(series).iter().map(|s| s.timestamp_ms));
            }
        }
    }
    timestamps
}

/// The timestamps Prometheus scraped `up{job="node"}` at, in its own TSDB.
async fn up_timestamps_in_prometheus(http: &reqwest::Client, prometheus: &Process) -> Vec<i64> {
    // up{job="node"}[10m], URL-encoded.
    let url = format!(
        "{}/api/v1/query?query=up%7Bjob%3D%22node%22%7D%5B10m%5D",
        prometheus.url
    );
    let response = http.get(url).send().await.unwrap();
    let body: Value = response.json().await.unwrap();
    body["data"]["result"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| (pair[0].as_f64().unwrap() * 1000.0).round() as i64)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_broker_makes_the_receiver_answer_503_and_prometheus_retries_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let http = http();
    let deadline = Instant::now() + Duration::from_secs(240);
    let [broker_port, receiver_port, node_port, prometheus_port] = free_ports();
    let broker = start_broker(dir.path(), broker_port);
    create_topic(broker_port, 2, deadline).await;
    let config = dir.path().join("harbinger.yml");
    std::fs::write(&config, kafka_section(broker_port)).unwrap();
    let receiver = start_harbinger(dir.path(), "receiver", &config, receiver_port, "receiver");
    let node = start_node_exporter(dir.path(), node_port);
    let prometheus = start_prometheus(
        dir.path(),
        prometheus_port,
        &node,
        &receiver.url,
        "groups: []\n",
    );
    wait_ok(&http, &format!("{}/-/ready", receiver.url), deadline).await;
    wait_ok(&http, &format!("{}/-/ready", prometheus.url), deadline).await;
    eventually(
        "records to reach the broker",
        deadline,
        async || match counter(&http, &receiver, "harbinger_kafka_records_produced_total").await {
            n if n > 0.0 => Ok(()),
            n => Err(format!("{n}")),
        },
    )
    .await;

    let stopped_ms = now_ms();
    drop(broker);
    eventually("the receiver to answer 503", deadline, async || {
        let text = exposition(&http, &receiver).await;
        let refused: f64 = samples(&text, "harbinger_requests_total")
            .iter()
            .filter(|(labels, _)| labels.contains("code=\"503\""))
            .map(|(_, v)| v)
            .sum();
        match refused >= 3.0 {
            true => Ok(()),
            false => Err(format!("{refused} answers 503")),
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let restarted_ms = now_ms();
    // A new, empty broker on the same address (tansu keeps its topics in memory).
    let _broker = start_broker(dir.path(), broker_port);
    create_topic(broker_port, 2, deadline).await;
    eventually("Prometheus to catch up", deadline, async || {
        let text = exposition(&http, &receiver).await;
        let produced = samples(&text, "harbinger_kafka_records_produced_total");
        let url = format!("{}/metrics", prometheus.url);
        let own = http.get(url).send().await.map_err(|e| e.to_string())?;
        let own = own.text().await.map_err(|e| e.to_string())?;
        let pending: f64 = samples(&own, "prometheus_remote_storage_samples_pending")
            .iter()
            .map(|(_, v)| v)
            .sum();
        let sent_up_to = samples(
            &own,
            "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
        );
        let caught_up = sent_up_to
            .first()
            .is_some_and(|(_, t)| (*t * 1000.0) as i64 > restarted_ms + 3000);
        match (pending, caught_up) {
            (0.0, true) => Ok(()),
            _ => Err(format!("pending {pending}, produced {produced:?}")),
        }
    })
    .await;

    let url = format!("{}/metrics", prometheus.url);
    let own = http.get(url).send().await.unwrap().text().await.unwrap();
    let retried: f64 = samples(&own, "prometheus_remote_storage_samples_retried_total")
        .iter()
        .map(|(_, v)| v)
        .sum();
    assert!(retried > 0.0, "Prometheus retried what was refused");
    for dropped in [
        "prometheus_remote_storage_samples_failed_total",
        "prometheus_remote_storage_samples_dropped_total",
    ] {
        let count: f64 = samples(&own, dropped).iter().map(|(_, v)| v).sum();
        assert_eq!(count, 0.0, "{dropped}");
    }
    let scraped = up_timestamps_in_prometheus(&http, &prometheus).await;
    let during: Vec<i64> = scraped
        .iter()
        .copied()
        .filter(|&t| t > stopped_ms + 2000 && t < restarted_ms)
        .collect();
    assert!(during.len() >= 5, "scrapes during the outage: {during:?}");
    let in_topic = tokio::task::spawn_blocking(move || up_timestamps_in_topic(broker_port))
        .await
        .unwrap();
    let lost: Vec<i64> = during
        .iter()
        .filter(|t| !in_topic.contains(t))
        .copied()
        .collect();
    assert!(
        lost.is_empty(),
        "scraped during the outage but not in the topic: {lost:?}"
    );

    // The outage was news once per cause (librdkafka repeats AllBrokersDown about once
    // a second: a line for each before), and its end is said with how many were held
    // back. (One more AllBrokersDown may follow, when librdkafka drops its bootstrap
    // connection to the new broker: a new cause, logged once. And the new broker may
    // refuse one more produce while it takes the topic's partitions up, a second,
    // short spell of refusals, said and ended once too.)
    let log = receiver.log_tail(usize::MAX);
    let lines = |words: &str| log.lines().filter(|l| l.contains(words)).count();
    assert!(lines("AllBrokersDown") <= 2, "{log}");
    let spells = lines("write request refused");
    assert!((1..=2).contains(&spells), "{log}");
    assert_eq!(lines("write requests are accepted again"), spells, "{log}");
    let recovery = log
        .lines()
        .find(|l| l.contains("Kafka is answering again") && l.contains("AllBrokersDown"))
        .unwrap_or_else(|| panic!("no recovery line:\n{log}"));
    let held: u64 = recovery
        .split("errors=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(held >= 3, "{recovery}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_stopped_before_storing_an_action_leaves_its_record_to_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let http = http();
    let deadline = Instant::now() + Duration::from_secs(180);
    let [broker_port, receiver_port, first_port, next_port] = free_ports();
    // An Alertmanager that accepts connections and never answers: recording an `open`
    // first asks it for silences, so the first decided open waits there, unstored. Its
    // port is its own choice: one from `free_ports` can be taken before it binds it.
    let hanging = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let hanging_port = hanging.local_addr().unwrap().port();
    let (asked_tx, asked) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in hanging.incoming().flatten() {
            let _ = asked_tx.send(());
            held.push(stream);
        }
    });
    let _broker = start_broker(dir.path(), broker_port);
    create_topic(broker_port, 1, deadline).await;
    let kafka = format!("{}shutdown_timeout: 8s\n", kafka_section(broker_port));
    let [held_config, file_config] = ["held.yml", "file.yml"].map(|name| dir.path().join(name));
    std::fs::write(
        &held_config,
        format!(
            "{kafka}tickets:\n  sinks:\n    - type: file\n    - type: alertmanager\n      \
             url: http://127.0.0.1:{hanging_port}/\n      timeout: 5m\n"
        ),
    )
    .unwrap();
    std::fs::write(&file_config, &kafka).unwrap();
    let receiver = start_harbinger(
        dir.path(),
        "receiver",
        &file_config,
        receiver_port,
        "receiver",
    );
    let mut first = start_harbinger(dir.path(), "first", &held_config, first_port, "worker");
    for process in [&receiver, &first] {
        wait_ok(&http, &format!("{}/-/ready", process.url), deadline).await;
    }
    eventually(
        "the first worker to own the partition",
        deadline,
        async || match owned_partitions(&http, &first).await.as_slice() {
            [0] => Ok(()),
            other => Err(format!("{other:?}")),
        },
    )
    .await;
    let [before, _] = split_lab_dev(dir.path(), 1_795_571_575 + 1450);
    // Without the CPU: every lab host shares one machine's CPU, whose tickets open in the
    // first minute and are over by the cut, so none would be decided again at its end.
    // The first open is then a filling disk's, still at risk when the next worker starts.
    let text = std::fs::read_to_string(&before).unwrap();
    let without_cpu: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("node_cpu_seconds_total,"))
        .collect();
    std::fs::write(&before, without_cpu.join("\n") + "\n").unwrap();
    replay(&before, &format!("{}/api/v1/write", receiver.url));
    asked
        .recv_timeout(Duration::from_secs(60))
        .expect("an open decided, its silences asked for");
    // Housekeeping runs every second: had the record been committed without waiting for
    // the action to be stored, it would be by now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    first.signal(libc::SIGTERM);
    // It leaves the group as it exits: the next worker is given the partition at once.
    eventually("the first worker to exit", deadline, async || {
        match first.has_exited() {
            true => Ok(()),
            false => Err(first.log_tail(5)),
        }
    })
    .await;
    let log = first.log_tail(50);
    assert!(log.contains("ticket actions are not stored yet"), "{log}");
    drop(first);

    let next = start_harbinger(dir.path(), "next", &file_config, next_port, "worker");
    let journal = dir.path().join("next/tickets.jsonl");
    let opened = eventually("the next worker to open the ticket", deadline, async || {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        let opens: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|a| a["action"] == "open")
            .collect();
        match opens.is_empty() {
            false => Ok(opens),
            true => Err(next.log_tail(20)),
        }
    })
    .await;
    assert!(
        next.log_tail(200)
            .contains("Kafka partition assigned; rebuilding its entities' state"),
        "{}",
        next.log_tail(200)
    );
    // The ticket's first action: the next worker numbers it from the start.
    let key = opened[0]["idempotency_key"].as_str().unwrap();
    assert!(key.ends_with("-1"), "{opened:?}");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
