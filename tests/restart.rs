//! Delivery survives a down ticket desk and a killed harbinger: `serve` (built-in
//! pipeline and model, a file sink and a webhook desk) receives lab-dev while the desk is
//! down, so its ticket actions stay owed; it is killed with SIGKILL; the desk comes up
//! and `serve` restarts on the same data directory. Every action the file sink recorded
//! then reaches the desk exactly once in effect (the desk applies each Idempotency-Key
//! once), each ticket is created once, and the later actions patch it.
//!
//! Tickets survive it too: `serve` receives lab-dev up to a moment when two tickets are
//! open (one whose rule already fired), is killed, restarts and receives the rest. Each
//! is carried on (its actions numbered on), resolved once, never opened again, and its
//! predicted alert in a real Alertmanager ends and is not sent again. And a kill between
//! deciding an action and recording it (held there by an Alertmanager that never answers
//! the silence check) leaves no trace: after the restart nothing is carried on, the
//! tickets are decided again from the data, and every ticket's actions are whole.

#[allow(dead_code)] // The shared helpers serve several test crates; this one uses a part.
mod stack;
#[allow(dead_code)]
mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};
use support::{Process, eventually, free_ports, ready, replay, serve, split_lab_dev};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const HARBINGER: &str = env!("CARGO_BIN_EXE_harbinger");

/// Idempotency key → (method, path, times received).
type Desk = Arc<Mutex<BTreeMap<String, (String, String, u32)>>>;

async fn start_desk(port: u16) -> Desk {
    let desk: Desk = Arc::default();
    let record = async |State(desk): State<Desk>,
                        method: Method,
                        uri: Uri,
                        headers: HeaderMap,
                        Json(_): Json<Value>| {
        let key = headers["idempotency-key"].to_str().unwrap().to_owned();
        let mut desk = desk.lock().unwrap();
        let created = desk.values().filter(|r| r.0 == "POST").count() + 1;
        let entry = desk
            .entry(key)
            .or_insert((method.to_string(), uri.path().to_owned(), 0));
        entry.2 += 1;
        match method {
            Method::POST => (StatusCode::CREATED, Json(json!({"id": created}))),
            _ => (StatusCode::OK, Json(json!({}))),
        }
    };
    let app = axum::Router::new()
        .fallback(record)
        .with_state(desk.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    desk
}

/// The idempotency keys of the actions the file sink recorded, with their action.
fn recorded(dir: &std::path::Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join("data/tickets.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|a| {
            let key = a["idempotency_key"].as_str().unwrap().to_owned();
            (key, a["action"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_action_reaches_the_desk_once_after_an_outage_and_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let [port, desk_port] = free_ports();
    let config = dir.path().join("harbinger.yml");
    std::fs::write(
        &config,
        format!(
            "tickets:\n  initial_backoff: 100ms\n  max_backoff: 500ms\n  sinks:\n    - type: file\n    \
             - type: webhook\n      url: http://127.0.0.1:{desk_port}/api/tickets/\n"
        ),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);

    // The desk is down: actions are recorded and owed to it.
    let first = serve(dir.path(), port, &config, "serve-1");
    ready(&first, deadline).await;
    let url = format!("{}/api/v1/write", first.url);
    let replay = Command::new(HARBINGER)
        .args([
            "replay",
            "--data",
            "../shared/data/lab-dev/metrics.csv.gz",
            "--url",
            &url,
        ])
        .arg("--as-fast-as-possible")
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    eventually(
        "the file sink to have the actions",
        deadline,
        async || match recorded(dir.path()) {
            r if r.len() >= 10 => Ok(()),
            r => Err(format!("{} actions", r.len())),
        },
    )
    .await;

    // Killed with actions owed to the desk, then the desk comes up and serve restarts.
    first.signal(libc::SIGKILL);
    drop(first);
    let desk = start_desk(desk_port).await;
    let second = serve(dir.path(), port, &config, "serve-2");
    ready(&second, deadline).await;
    // Whatever the first process recorded before it died is in the file (its sink was
    // up throughout) and must reach the desk.
    let (owed, received) = eventually("every action at the desk", deadline, async || {
        let owed = recorded(dir.path());
        let desk = desk.lock().unwrap().clone();
        match desk.len() >= owed.len() {
            true => Ok((owed, desk)),
            false => Err(format!("{} of {} keys", desk.len(), owed.len())),
        }
    })
    .await;
    let keys: Vec<&String> = received.keys().collect();
    assert_eq!(keys, owed.keys().collect::<Vec<_>>(), "the same actions");
    for (key, action) in &owed {
        let (method, path, _) = &received[key];
        let expected = if action == "open" { "POST" } else { "PATCH" };
        assert_eq!(method, expected, "{key}: {action} as {method} {path}");
    }
    let posts = received.values().filter(|r| r.0 == "POST").count();
    let opens = owed.values().filter(|a| *a == "open").count();
    assert_eq!(posts, opens, "each ticket created once");
    assert!(
        received.values().all(|r| r.2 == 1),
        "each key applied once: {received:?}"
    );
}

/// Every action the file sink wrote, in order: (fingerprint, ticket sequence, action
/// sequence, action).
fn actions(dir: &std::path::Path) -> Vec<(String, u64, u64, String)> {
    let text = std::fs::read_to_string(dir.join("data/tickets.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|a| {
            let key = a["idempotency_key"].as_str().unwrap();
            let mut parts = key.rsplitn(3, '-');
            let n = parts.next().unwrap().parse().unwrap();
            let sequence = parts.next().unwrap().parse().unwrap();
            (
                parts.next().unwrap().to_owned(),
                sequence,
                n,
                a["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The target and instance of a fingerprint's tickets.
fn target_and_instance(dir: &std::path::Path, fingerprint: &str) -> (String, String) {
    let text = std::fs::read_to_string(dir.join("data/tickets.jsonl")).unwrap();
    let action: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|a| a["ticket"]["fingerprint"] == fingerprint)
        .unwrap();
    let ticket = &action["ticket"];
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    (text(&ticket["target"]), text(&ticket["entity"]["instance"]))
}

/// The (alert name, instance) of every alert Alertmanager holds active.
async fn active_alerts(alertmanager: &Process) -> Vec<(String, String)> {
    let url = format!("{}/api/v2/alerts", alertmanager.url);
    let alerts: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"]["state"] == "active")
        .map(|a| {
            (
                text(&a["labels"]["alertname"]),
                text(&a["labels"]["instance"]),
            )
        })
        .collect()
}

/// The tickets (fingerprint, sequence) opened and not resolved.
fn still_open(actions: &[(String, u64, u64, String)]) -> Vec<(String, u64)> {
    let mut open: Vec<(String, u64)> = Vec::new();
    for (fingerprint, sequence, _, action) in actions {
        let ticket = (fingerprint.clone(), *sequence);
        match action.as_str() {
            "open" => open.push(ticket),
            "resolve" => open.retain(|t| *t != ticket),
            _ => {}
        }
    }
    open
}

#[tokio::test(flavor = "multi_thread")]
async fn tickets_open_at_a_kill_are_carried_on_and_resolved_once() {
    let dir = tempfile::tempdir().unwrap();
    let [port, alertmanager_port] = free_ports();
    let alertmanager = stack::start_alertmanager(dir.path(), alertmanager_port);
    let config = dir.path().join("harbinger.yml");
    std::fs::write(
        &config,
        format!(
            "tickets:\n  sinks:\n    - type: file\n    - type: alertmanager\n      url: {}\n      \
             resend_interval: 1s\n",
            alertmanager.url
        ),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    // 1450 s into lab-dev: host1's disk is filling (its ticket opened, its rule fires
    // later), host6's rule is firing (its ticket confirmed, the disk not yet cleaned).
    let [before, after] = split_lab_dev(dir.path(), 1_795_571_575 + 1450);

    let first = serve(dir.path(), port, &config, "serve-1");
    ready(&first, deadline).await;
    replay(&before, &format!("{}/api/v1/write", first.url));
    let open_at_kill = eventually("tickets open", deadline, async || {
        match still_open(&actions(dir.path())) {
            open if open.len() >= 2 => Ok(open),
            open => Err(format!("{open:?} open")),
        }
    })
    .await;
    // Alertmanager holds their predicted alerts, which the sink keeps re-sending.
    let carried: Vec<(String, String)> = open_at_kill
        .iter()
        .map(|(fingerprint, _)| {
            let (target, instance) = target_and_instance(dir.path(), fingerprint);
            (format!("{target}Predicted"), instance)
        })
        .collect();
    eventually(
        "the predicted alerts in Alertmanager",
        deadline,
        async || {
            let active = active_alerts(&alertmanager).await;
            match carried.iter().all(|a| active.contains(a)) {
                true => Ok(()),
                false => Err(format!("{active:?}")),
            }
        },
    )
    .await;
    // The API lists the same open tickets (once the file sink has caught up).
    let url = format!("{}/api/v1/tickets", first.url);
    eventually(
        "the API to list the file's open tickets",
        deadline,
        async || {
            let listed: Value = reqwest::get(&url)
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let mut api: Vec<(String, u64)> = listed["data"]["open"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    let ticket = &t["ticket"];
                    let fingerprint = ticket["fingerprint"].as_str().unwrap().to_owned();
                    (fingerprint, ticket["sequence"].as_u64().unwrap())
                })
                .collect();
            api.sort();
            let mut file = still_open(&actions(dir.path()));
            file.sort();
            match api == file {
                true => Ok(()),
                false => Err(format!("API {api:?}, file {file:?}")),
            }
        },
    )
    .await;
    first.signal(libc::SIGKILL);
    drop(first);
    let before_kill = actions(dir.path()).len();

    let second = serve(dir.path(), port, &config, "serve-2");
    ready(&second, deadline).await;
    replay(&after, &format!("{}/api/v1/write", second.url));
    // The rest of the run cleans every disk up: every ticket resolves.
    let all = eventually("every ticket resolved", deadline, async || {
        let all = actions(dir.path());
        let open = still_open(&all);
        let carried = open_at_kill.iter().filter(|t| open.contains(t)).count();
        match carried {
            0 => Ok(all),
            _ => Err(format!("{open:?} still open")),
        }
    })
    .await;
    assert!(
        second
            .log_tail(200)
            .contains("carrying on the tickets open before the restart"),
        "{}",
        second.log_tail(50)
    );
    for (fingerprint, sequence) in &open_at_kill {
        let mine: Vec<_> = all
            .iter()
            .filter(|a| &a.0 == fingerprint && a.1 == *sequence)
            .collect();
        // Numbered on from where the first process left off, resolved once, last.
        let numbers: Vec<u64> = mine.iter().map(|a| a.2).collect();
        assert_eq!(
            numbers,
            (1..=mine.len() as u64).collect::<Vec<_>>(),
            "{mine:?}"
        );
        let resolves = mine.iter().filter(|a| a.3 == "resolve").count();
        assert_eq!(resolves, 1, "{mine:?}");
        assert_eq!(mine.last().unwrap().3, "resolve", "{mine:?}");
        // Not opened again while it was open.
        let resolved_at = all
            .iter()
            .position(|a| &a.0 == fingerprint && a.1 == *sequence && a.3 == "resolve")
            .unwrap();
        let reopened = all[before_kill..resolved_at]
            .iter()
            .any(|a| &a.0 == fingerprint && a.3 == "open");
        assert!(!reopened, "{fingerprint} opened twice: {all:?}");
    }
    // Their resolves reached Alertmanager, and the sink sends them no more: after
    // several resend intervals, none is active again.
    eventually("the predicted alerts resolved", deadline, async || {
        let active = active_alerts(&alertmanager).await;
        match carried.iter().any(|a| active.contains(a)) {
            true => Err(format!("{active:?}")),
            false => Ok(()),
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let active = active_alerts(&alertmanager).await;
    assert!(
        !carried.iter().any(|a| active.contains(a)),
        "sent again: {active:?}"
    );
    assert_whole_lifecycles(&all);
    // No idempotency key twice.
    let mut keys: Vec<_> = all.iter().map(|a| (&a.0, a.1, a.2)).collect();
    let count = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), count, "{all:?}");
}

/// Every ticket's actions, in the order written, begin with its `open`, are numbered
/// 1, 2, … without a gap or a repeat, and nothing follows a `resolve`.
fn assert_whole_lifecycles(all: &[(String, u64, u64, String)]) {
    let mut tickets: BTreeMap<(&str, u64), Vec<(u64, &str)>> = BTreeMap::new();
    for (fingerprint, sequence, n, action) in all {
        tickets
            .entry((fingerprint, *sequence))
            .or_default()
            .push((*n, action));
    }
    for (ticket, actions) in &tickets {
        let numbers: Vec<u64> = actions.iter().map(|a| a.0).collect();
        assert_eq!(
            numbers,
            (1..=actions.len() as u64).collect::<Vec<_>>(),
            "{ticket:?}: {actions:?}"
        );
        assert_eq!(actions[0].1, "open", "{ticket:?}: {actions:?}");
        let resolved = actions.iter().position(|a| a.1 == "resolve");
        assert!(
            resolved.is_none_or(|at| at == actions.len() - 1),
            "{ticket:?}: {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_action_killed_between_decided_and_recorded_leaves_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let [port, hanging_port] = free_ports();
    // An Alertmanager that accepts connections and never answers: recording an `open`
    // first asks it for silences, so the first decided open waits there, unrecorded.
    let hanging = std::net::TcpListener::bind(("127.0.0.1", hanging_port)).unwrap();
    let (asked_tx, asked) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in hanging.incoming().flatten() {
            let mut head = [0u8; 256];
            let read = std::io::Read::read(&mut stream, &mut head).unwrap_or(0);
            let _ = asked_tx.send(String::from_utf8_lossy(&head[..read]).into_owned());
            held.push(stream);
        }
    });
    let config = dir.path().join("harbinger.yml");
    std::fs::write(
        &config,
        format!(
            "tickets:\n  sinks:\n    - type: file\n    - type: alertmanager\n      \
             url: http://127.0.0.1:{hanging_port}/\n      timeout: 5m\n"
        ),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let [before, after] = split_lab_dev(dir.path(), 1_795_571_575 + 1450);

    let first = serve(dir.path(), port, &config, "serve-1");
    ready(&first, deadline).await;
    replay(&before, &format!("{}/api/v1/write", first.url));
    let request = asked
        .recv_timeout(Duration::from_secs(30))
        .expect("an open decided, its silences asked for");
    assert!(request.starts_with("GET /api/v2/silences"), "{request}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(actions(dir.path()).is_empty(), "nothing recorded yet");
    first.signal(libc::SIGKILL);
    drop(first);

    // Restarted without that Alertmanager: what was decided and not recorded is decided
    // again from the data, and nothing half-done shows.
    std::fs::write(&config, "tickets:\n  sinks:\n    - type: file\n").unwrap();
    let second = serve(dir.path(), port, &config, "serve-2");
    ready(&second, deadline).await;
    replay(&after, &format!("{}/api/v1/write", second.url));
    eventually(
        "tickets opened after the restart",
        deadline,
        async || match actions(dir.path()) {
            all if all.iter().any(|a| a.3 == "open") => Ok(()),
            all => Err(format!("{all:?}")),
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = actions(dir.path());
    assert!(
        !second
            .log_tail(200)
            .contains("carrying on the tickets open before the restart"),
        "nothing was recorded open: {}",
        second.log_tail(50)
    );
    assert_whole_lifecycles(&all);
}
