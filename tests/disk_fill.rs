//! The product's acceptance path with real software: two tmpfs mounts watched by
//! Debian's node_exporter, scraped by Debian's Prometheus, which evaluates
//! `HostOutOfDiskSpace` and remote-writes everything to `harbinger serve`. The test fills
//! the first mount: harbinger must open exactly one ticket for it **before** Prometheus
//! reports the rule firing (in its file sink, and as one POST at a webhook desk, a real
//! HTTP server in the test that records what it receives), confirm it when the rule
//! fires, and resolve it as `materialised` once the test cleans the mount and the alert
//! resolves (PATCHes of the created ticket); it must open nothing for the second, steady
//! mount. The prediction is also an alert, `HostOutOfDiskSpacePredicted`, in a real
//! Alertmanager while the ticket is open, and ends when it resolves.
//!
//! harbinger runs a pipeline of its own at a 1 s step, without a model, so tickets open
//! on the trend's ETA. The scenario runs three times: with one `serve` process, and twice
//! scaled out over a real Kafka-protocol broker (tansu): Prometheus writes to a receiver,
//! two workers share the topic's two partitions, and the worker that owns the filling
//! mount's partition is stopped (SIGTERM), so that the other must take its partition
//! over and rebuild its state. Stopped before the fill, the other worker opens the
//! ticket; stopped once the ticket is open, the other confirms and resolves the ticket
//! the first created at the desk, which it finds by sending the open again under its
//! Idempotency-Key (the desk honours keys). (SIGTERM, not SIGKILL: tansu 0.6 notices a
//! SIGKILLed member's missed heartbeats and rebalances, but keeps assigning it its
//! partition, which then stays unread.) Needs root (to mount tmpfs), Debian's
//! `prometheus` and `prometheus-node-exporter`, and tansu; fails, never skips, without
//! them.

mod stack;
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use axum::http::{HeaderMap, Method, StatusCode};

use serde_json::Value;
use stack::broker::{create_topic, kafka_section, owned_partitions, partition_of, start_broker};
use stack::{start_alertmanager, start_harbinger, start_node_exporter, start_prometheus, wait_ok};
use support::{Process, eventually, free_ports, samples};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn new(path: PathBuf) -> Mount {
        std::fs::create_dir_all(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(&path)
            .status()
            .expect("running mount");
        assert!(
            status.success(),
            "mounting a tmpfs at {} (root needed)",
            path.display()
        );
        Mount(path)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

const MIB: usize = 1 << 20;

/// Every journal's lines (the file sink of each harbinger that scores).
fn journal_lines(journals: &[PathBuf]) -> Vec<String> {
    journals
        .iter()
        .flat_map(|journal| {
            let text = std::fs::read_to_string(journal).unwrap_or_default();
            text.lines().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect()
}

/// harbinger's actions for the mount at `mountpoint`, as (action, outcome) pairs, in
/// the order they were decided (the journals of two workers, when a partition moved,
/// each hold a part).
fn actions(journals: &[PathBuf], mountpoint: &Path) -> Vec<(String, String)> {
    let mountpoint = mountpoint.to_str().unwrap();
    let mut actions: Vec<Value> = journal_lines(journals)
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .filter(|a| a["ticket"]["entity"]["mountpoint"] == mountpoint)
        .collect();
    actions.sort_by_key(|a| a["at_ms"].as_i64().unwrap());
    actions
        .iter()
        .map(|a| {
            let outcome = a["outcome"].as_str().unwrap_or("").to_owned();
            (a["action"].as_str().unwrap().to_owned(), outcome)
        })
        .collect()
}

/// What the desk received: (method, path, body, Idempotency-Key).
type Received = Arc<Mutex<Vec<(String, String, Value, Option<Vec<u8>>)>>>;

/// A ticket desk: POST creates ticket N and answers `{"id": N}`, or, with an
/// Idempotency-Key it has seen, answers with the ticket that key created; PATCH answers
/// 200.
async fn start_desk() -> (String, Received) {
    let received: Received = Arc::default();
    let record = async |State(received): State<Received>,
                        method: Method,
                        uri: Uri,
                        headers: HeaderMap,
                        Json(body): Json<Value>| {
        let mut received = received.lock().unwrap();
        let key = headers
            .get("idempotency-key")
            .map(|k| k.as_bytes().to_vec());
        received.push((method.to_string(), uri.path().to_owned(), body, key.clone()));
        // Tickets are numbered from 1 by the first POST of each key.
        let mut created: Vec<&Option<Vec<u8>>> = Vec::new();
        for (_, _, _, posted) in received.iter().filter(|r| r.0 == "POST") {
            if !created.contains(&posted) {
                created.push(posted);
            }
        }
        let id = created.iter().position(|k| **k == key).map_or(0, |i| i + 1);
        match method {
            Method::POST => (StatusCode::CREATED, Json(serde_json::json!({"id": id}))),
            _ => (StatusCode::OK, Json(serde_json::json!({}))),
        }
    };
    let app = axum::Router::new()
        .fallback(record)
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/tickets/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

/// The desk's requests about `mountpoint`: (method, path, action, Idempotency-Key).
fn desk(received: &Received, mountpoint: &Path) -> Vec<(String, String, String, String)> {
    let mountpoint = mountpoint.to_str().unwrap();
    received
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, _, body, _)| body["ticket"]["entity"]["mountpoint"] == mountpoint)
        .map(|(method, path, body, key)| {
            let action = body["action"].as_str().unwrap_or("").to_owned();
            let key = String::from_utf8_lossy(key.as_deref().unwrap_or_default()).into_owned();
            (method.clone(), path.clone(), action, key)
        })
        .collect()
}

/// Whether Alertmanager holds an active `HostOutOfDiskSpacePredicted` for `mountpoint`.
async fn predicted(http: &reqwest::Client, alertmanager: &Process, mountpoint: &Path) -> bool {
    let url = format!("{}/api/v2/alerts", alertmanager.url);
    let Ok(response) = http.get(url).send().await else {
        return false;
    };
    let alerts: Value = response.json().await.unwrap_or_default();
    alerts
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .any(|a| {
            a["labels"]["alertname"] == "HostOutOfDiskSpacePredicted"
                && a["labels"]["mountpoint"] == mountpoint.to_str().unwrap()
                && a["status"]["state"] == "active"
        })
}

/// Whether Prometheus reports `HostOutOfDiskSpace` firing for `mountpoint`.
async fn firing(http: &reqwest::Client, prometheus: &Process, mountpoint: &Path) -> bool {
    let url = format!("{}/api/v1/alerts", prometheus.url);
    let Ok(response) = http.get(url).send().await else {
        return false;
    };
    let body: Value = response.json().await.unwrap_or_default();
    let alerts = body["data"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    alerts.iter().any(|a| {
        a["labels"]["mountpoint"] == mountpoint.to_str().unwrap() && a["state"] == "firing"
    })
}

/// How harbinger runs in the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Topology {
    OneProcess,
    /// A receiver, a broker, and two workers; the one that owns the filling mount's
    /// partition is stopped before the fill.
    KafkaOwnerStoppedBeforeFill,
    /// The same, the owner stopped once it has opened the ticket.
    KafkaOwnerStoppedWithTicketOpen,
}

/// The harbinger processes of a scenario: the one Prometheus writes to, and those that
/// score (with their ticket journals).
struct Deployment {
    write_url: String,
    scorers: Vec<Process>,
    journals: Vec<PathBuf>,
    /// The broker and the receiver, kept running.
    _others: Vec<Process>,
}

/// A harbinger and its ticket journal (its file sink).
fn harbinger(dir: &Path, name: &str, config: &Path, port: u16, role: &str) -> (Process, PathBuf) {
    let process = start_harbinger(dir, name, config, port, role);
    (process, dir.join(name).join("tickets.jsonl"))
}

async fn deploy(
    topology: Topology,
    dir: &Path,
    config: &Path,
    config_text: &str,
    deadline: Instant,
) -> Deployment {
    match topology {
        Topology::OneProcess => {
            std::fs::write(config, config_text).unwrap();
            let [port] = free_ports();
            let (process, journal) = harbinger(dir, "harbinger", config, port, "all");
            Deployment {
                write_url: process.url.clone(),
                scorers: vec![process],
                journals: vec![journal],
                _others: Vec::new(),
            }
        }
        Topology::KafkaOwnerStoppedBeforeFill | Topology::KafkaOwnerStoppedWithTicketOpen => {
            let [broker_port, receiver_port, a_port, b_port] = free_ports();
            let broker = start_broker(dir, broker_port);
            create_topic(broker_port, 2, deadline).await;
            std::fs::write(
                config,
                format!("{config_text}{}", kafka_section(broker_port)),
            )
            .unwrap();
            let (receiver, _) = harbinger(dir, "receiver", config, receiver_port, "receiver");
            let (a, a_journal) = harbinger(dir, "worker-a", config, a_port, "worker");
            let (b, b_journal) = harbinger(dir, "worker-b", config, b_port, "worker");
            Deployment {
                write_url: receiver.url.clone(),
                scorers: vec![a, b],
                journals: vec![a_journal, b_journal],
                _others: vec![broker, receiver],
            }
        }
    }
}
/// The scenarios start many processes and race the rule: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
async fn a_filling_disk_gets_one_ticket_before_the_rule_fires_and_the_steady_one_none() {
    let _turn = ONE_AT_A_TIME.lock().await;
    scenario(Topology::OneProcess).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scaled_out_over_kafka_a_stopped_workers_partition_moves_and_still_one_ticket_before_the_rule()
 {
    let _turn = ONE_AT_A_TIME.lock().await;
    scenario(Topology::KafkaOwnerStoppedBeforeFill).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scaled_out_over_kafka_a_partition_that_moves_with_its_ticket_open_goes_on_with_the_same_desk_ticket()
 {
    let _turn = ONE_AT_A_TIME.lock().await;
    scenario(Topology::KafkaOwnerStoppedWithTicketOpen).await;
}

async fn scenario(topology: Topology) {
    let dir = tempfile::tempdir().unwrap();
    let filling = Mount::new(dir.path().join("mnt-a"));
    let steady = Mount::new(dir.path().join("mnt-b"));
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    let rules = format!(
        r#"
groups:
  - name: disk
    rules:
      - alert: HostOutOfDiskSpace
        expr: (node_filesystem_avail_bytes{{mountpoint=~"{dir}/mnt-.*"}} * 100) / node_filesystem_size_bytes{{mountpoint=~"{dir}/mnt-.*"}} < 10
        for: 20s
        labels: {{severity: warning}}
        annotations: {{summary: "Disk almost full"}}
"#,
        dir = dir.path().display()
    );
    std::fs::write(dir.path().join("rules.yml"), &rules).unwrap();
    let pipeline = dir.path().join("pipeline.yml");
    std::fs::write(
        &pipeline,
        "step: 1s\nentity_labels: [instance, mountpoint]\nrule_files: [rules.yml]\n\
         features: {windows: [10s, 30s, 1m], half_lives: [5s, 30s], anomaly_window: 1m}\n",
    )
    .unwrap();
    let (desk_url, received) = start_desk().await;
    let [node_port, prometheus_port, alertmanager_port] = free_ports();
    let alertmanager = start_alertmanager(dir.path(), alertmanager_port);
    let config = dir.path().join("harbinger.yml");
    let config_text = format!(
        "pipeline: {}\nprometheus_url: http://127.0.0.1:{prometheus_port}\ntickets:\n  sinks:\n    - type: file\n    - type: webhook\n      url: {desk_url}\n    - type: alertmanager\n      url: {}\n      resend_interval: 5s\n",
        pipeline.display(),
        alertmanager.url
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    let deployment = deploy(topology, dir.path(), &config, &config_text, deadline).await;
    let node = start_node_exporter(dir.path(), node_port);
    let prometheus = start_prometheus(
        dir.path(),
        prometheus_port,
        &node,
        &deployment.write_url,
        &rules,
    );
    wait_ok(
        &http,
        &format!("{}/-/ready", deployment.write_url),
        deadline,
    )
    .await;
    for scorer in &deployment.scorers {
        wait_ok(&http, &format!("{}/-/ready", scorer.url), deadline).await;
    }
    wait_ok(&http, &format!("{}/-/ready", prometheus.url), deadline).await;
    wait_ok(&http, &format!("{}/-/ready", alertmanager.url), deadline).await;
    let Deployment {
        mut scorers,
        journals,
        ..
    } = deployment;
    let instance = node.url.trim_start_matches("http://");
    if topology == Topology::KafkaOwnerStoppedBeforeFill {
        kill_the_owner(&http, &mut scorers, instance, &filling.0, deadline).await;
    }
    let journal = journals.as_slice();

    // Fill mount a at 160 KiB/s to 95 % (about 50 s), checking each second whether the
    // rule fires before harbinger has opened its ticket.
    let mut file = std::fs::File::create(filling.0.join("log")).unwrap();
    let chunk = vec![b'x'; 160 * 1024];
    let mut written = 0;
    let mut opened_before_firing = None;
    while !firing(&http, &prometheus, &filling.0).await {
        assert!(Instant::now() < deadline, "the rule never fired");
        if written + chunk.len() <= 8 * MIB * 95 / 100 {
            file.write_all(&chunk).unwrap();
            file.flush().unwrap();
            written += chunk.len();
        }
        let filed = actions(journal, &filling.0)
            .iter()
            .any(|(a, _)| a == "open");
        let posted = desk(&received, &filling.0)
            .iter()
            .any(|(m, _, _, _)| m == "POST");
        let alerted = predicted(&http, &alertmanager, &filling.0).await;
        opened_before_firing = Some(filed && posted && alerted);
        let open = opened_before_firing == Some(true);
        if open && topology == Topology::KafkaOwnerStoppedWithTicketOpen && scorers.len() == 2 {
            // The next owner adopts the ticket: its predicted alert stays active.
            kill_the_owner(&http, &mut scorers, instance, &filling.0, deadline).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(
        opened_before_firing,
        Some(true),
        "harbinger opened its ticket (file, desk, Alertmanager) before Prometheus reported the rule firing"
    );

    eventually("harbinger to confirm", deadline, async || {
        let seen = actions(journal, &filling.0);
        match seen.iter().any(|(a, _)| a == "confirm") {
            true => Ok(()),
            false => Err(format!("{seen:?}")),
        }
    })
    .await;

    // Clean up: the alert resolves, and so does the ticket.
    drop(file);
    std::fs::remove_file(filling.0.join("log")).unwrap();
    let seen = eventually("harbinger to resolve", deadline, async || {
        let seen = actions(journal, &filling.0);
        match seen.last() {
            Some((a, _)) if a == "resolve" => Ok(seen),
            _ => Err(format!("{seen:?}")),
        }
    })
    .await;
    let opens = seen.iter().filter(|(a, _)| a == "open").count();
    assert_eq!(opens, 1, "exactly one ticket: {seen:?}");
    // The ticket says where the signal is heading and links to Prometheus's graph.
    let open: Value = journal_lines(journal)
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|a| a["action"] == "open")
        .unwrap();
    let trend = open["ticket"]["trend_per_second"].as_f64().unwrap();
    assert!(trend < 0.0, "free space falling: {open}");
    let graph = open["ticket"]["graph_url"].as_str().unwrap();
    assert!(
        graph.starts_with(&prometheus.url) && graph.contains("g0.expr="),
        "{graph}"
    );
    let page = http.get(graph).send().await.unwrap();
    assert_eq!(page.status(), 200, "{graph}");
    assert_eq!(seen.last().unwrap().1, "materialised", "{seen:?}");
    let at_desk = eventually("the desk to see the resolve", deadline, async || {
        let at_desk = desk(&received, &filling.0);
        match at_desk.last() {
            Some((_, _, action, _)) if action == "resolve" => Ok(at_desk),
            _ => Err(format!("{at_desk:?}")),
        }
    })
    .await;
    let posts: Vec<&str> = at_desk
        .iter()
        .filter(|(m, _, _, _)| m == "POST")
        .map(|(_, _, _, key)| key.as_str())
        .collect();
    // The next owner of a moved partition sends the open again, under its key.
    let sent = match topology {
        Topology::KafkaOwnerStoppedWithTicketOpen => 2,
        _ => 1,
    };
    assert_eq!(posts.len(), sent, "{at_desk:?}");
    assert!(
        posts.iter().all(|key| *key == posts[0]),
        "one ticket created at the desk: {at_desk:?}"
    );
    assert!(
        at_desk
            .iter()
            .filter(|(m, _, _, _)| m != "POST")
            .all(|(m, path, _, _)| m == "PATCH" && path == "/api/tickets/1/"),
        "later actions patch the created ticket: {at_desk:?}"
    );
    assert!(
        at_desk.iter().any(|(_, _, a, _)| a == "confirm"),
        "{at_desk:?}"
    );
    assert!(
        desk(&received, &steady.0).is_empty(),
        "nothing for the steady mount at the desk"
    );
    eventually(
        "the predicted alert to end",
        deadline,
        async || match predicted(&http, &alertmanager, &filling.0).await {
            false => Ok(()),
            true => Err("still active".to_owned()),
        },
    )
    .await;
    assert!(!predicted(&http, &alertmanager, &steady.0).await);
    assert!(
        actions(journal, &steady.0).is_empty(),
        "nothing for the steady mount: {:?}",
        actions(journal, &steady.0)
    );
    let mut opened = 0.0;
    for scorer in &scorers {
        let url = format!("{}/metrics", scorer.url);
        let exposition = http.get(url).send().await.unwrap().text().await.unwrap();
        opened += samples(&exposition, "harbinger_ticket_actions_total")
            .iter()
            .filter(|(labels, _)| labels.contains("action=\"open\""))
            .map(|(_, v)| v)
            .sum::<f64>();
    }
    // A worker stopped with the ticket open took its open with it.
    let decided = match topology {
        Topology::KafkaOwnerStoppedWithTicketOpen => 0.0,
        _ => 1.0,
    };
    assert_eq!(opened, decided, "opens among the running scorers");
}

/// Stops (SIGTERM) the worker that owns the filling mount's partition, once each of the
/// two owns one, and waits until the survivor owns both and has rebuilt its state.
async fn kill_the_owner(
    http: &reqwest::Client,
    workers: &mut Vec<Process>,
    instance: &str,
    mountpoint: &Path,
    deadline: Instant,
) {
    let labels = [
        ("__name__", "node_filesystem_avail_bytes"),
        ("instance", instance),
        ("mountpoint", mountpoint.to_str().unwrap()),
    ];
    let partition = partition_of(&labels, &["instance", "mountpoint"], 2);
    let owner = eventually("each worker to own a partition", deadline, async || {
        let a = owned_partitions(http, &workers[0]).await;
        let b = owned_partitions(http, &workers[1]).await;
        match (a.len(), b.len()) {
            (1, 1) => Ok(usize::from(b.contains(&partition))),
            _ => Err(format!("{a:?} {b:?}")),
        }
    })
    .await;
    // Let the owner score the mount for a while, so that its commits are behind it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let killed = workers.remove(owner);
    killed.signal(libc::SIGTERM);
    let survivor = &workers[0];
    eventually(
        "the survivor to own both partitions",
        deadline,
        async || match owned_partitions(http, survivor).await.as_slice() {
            [0, 1] => Ok(()),
            other => Err(format!("{other:?}")),
        },
    )
    .await;
    let url = format!("{}/metrics", survivor.url);
    eventually(
        "the taken-over partition to be warmed up",
        deadline,
        async || {
            let response = http.get(&url).send().await.map_err(|e| e.to_string())?;
            let exposition = response.text().await.map_err(|e| e.to_string())?;
            let warm_ups = samples(
                &exposition,
                "harbinger_kafka_warm_up_duration_seconds_count",
            );
            match warm_ups.first() {
                Some((_, count)) if *count >= 1.0 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    drop(killed);
}
