//! Delivery survives a down ticket desk and a killed harbinger: `serve` (built-in
//! pipeline and model, a file sink and a webhook desk) receives lab-dev while the desk is
//! down, so its ticket actions stay owed; it is killed with SIGKILL; the desk comes up
//! and `serve` restarts on the same data directory. Every action the file sink recorded
//! then reaches the desk exactly once in effect (the desk applies each Idempotency-Key
//! once), each ticket is created once, and the later actions patch it.

#[allow(dead_code)] // The shared helpers serve several test crates; this one uses a part.
mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};
use support::{Process, eventually, free_ports};

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

fn serve(dir: &std::path::Path, port: u16, config: &std::path::Path, name: &str) -> Process {
    let args = [
        "serve".to_owned(),
        format!("--config={}", config.display()),
        format!("--listen=127.0.0.1:{port}"),
        format!("--data-dir={}", dir.join("data").display()),
    ];
    Process::spawn(name, HARBINGER, &args, port, dir, "built by cargo")
}

async fn ready(process: &Process, deadline: Instant) {
    let url = format!("{}/-/ready", process.url);
    eventually("serve ready", deadline, async || {
        match reqwest::get(&url).await {
            Ok(r) if r.status() == 200 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
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
