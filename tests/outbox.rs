//! The outbox and its sinks against a real HTTP ticket desk started in the test: a
//! scripted stand-in for the operators' Django REST app that records every request,
//! applies each Idempotency-Key once, and can answer 5xx, 429, hang, or refuse.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use harbinger::outbox::{self, OutboxHandle, TicketsConfig, ValidTickets, example_action};
use harbinger::telemetry::Metrics;
use harbinger::tickets::{ActionKind, TicketAction};
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use tokio::sync::Notify;

#[derive(Debug, Clone)]
enum Scripted {
    Status(u16),
    /// Answer nothing for this long (longer than the sink's timeout).
    Hang(Duration),
}

#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path: String,
    key: String,
    body: Value,
}

#[derive(Default)]
struct Desk {
    requests: Vec<Received>,
    /// Idempotency-Key → the answer given when it was applied.
    answered: HashMap<String, (u16, Value)>,
    /// Ticket id → the keys applied to it, in order.
    tickets: HashMap<u64, Vec<String>>,
    /// Answers given to a key before it is applied.
    script: HashMap<String, VecDeque<Scripted>>,
    /// Keys answered 400 for ever.
    refuse: HashSet<String>,
    /// Apply the n-th create, then never answer it.
    stall_create: Option<usize>,
    creates: usize,
}

#[derive(Clone)]
struct Server {
    desk: Arc<Mutex<Desk>>,
    stalled: Arc<Notify>,
    url: String,
}

async fn start_desk(desk: Desk) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server {
        desk: Arc::new(Mutex::new(desk)),
        stalled: Arc::new(Notify::new()),
        url: format!("http://{}/tickets/", listener.local_addr().unwrap()),
    };
    let state = server.clone();
    let app = axum::Router::new().fallback(move |method, uri, headers, body| {
        answer(state.clone(), method, uri, headers, body)
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    server
}

async fn answer(
    server: Server,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let (status, reply, stall) = {
        let mut desk = server.desk.lock().unwrap();
        desk.requests.push(Received {
            method: method.clone(),
            path: uri.path().to_owned(),
            key: key.clone(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        let scripted = desk.script.get_mut(&key).and_then(VecDeque::pop_front);
        match scripted {
            Some(Scripted::Status(code)) => (code, json!({"detail": "scripted"}), None),
            Some(Scripted::Hang(pause)) => (503, json!({}), Some(pause)),
            None if desk.refuse.contains(&key) => {
                (400, json!({"title": ["This field is required."]}), None)
            }
            None => match desk.answered.get(&key) {
                Some((code, reply)) => (*code, reply.clone(), None),
                None => {
                    let (code, reply) = apply(&mut desk, &method, uri.path(), &key);
                    desk.answered.insert(key.clone(), (code, reply.clone()));
                    let stall = (method == Method::POST && desk.stall_create == Some(desk.creates))
                        .then_some(Duration::MAX);
                    (code, reply, stall)
                }
            },
        }
    };
    if let Some(pause) = stall {
        if pause == Duration::MAX {
            server.stalled.notify_one();
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(pause).await;
    }
    (StatusCode::from_u16(status).unwrap(), axum::Json(reply)).into_response()
}

fn apply(desk: &mut Desk, method: &Method, path: &str, key: &str) -> (u16, Value) {
    if *method == Method::POST && path == "/tickets/" {
        desk.creates += 1;
        let id = 41 + desk.creates as u64;
        desk.tickets.insert(id, vec![key.to_owned()]);
        return (201, json!({"id": id}));
    }
    let id = path
        .strip_prefix("/tickets/")
        .and_then(|rest| rest.strip_suffix('/'))
        .and_then(|id| id.parse::<u64>().ok());
    match (method, id.and_then(|id| desk.tickets.get_mut(&id))) {
        (&Method::PATCH, Some(keys)) => {
            keys.push(key.to_owned());
            (200, json!({}))
        }
        _ => (404, json!({"detail": "Not found."})),
    }
}

/// open, update, resolve of one ticket of fingerprint `fp`.
fn life(fp: &str) -> Vec<TicketAction> {
    let mut ticket = example_action().ticket;
    ticket.fingerprint = fp.to_owned();
    let kinds = [ActionKind::Open, ActionKind::Update, example_action().kind];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| TicketAction::new(kind, 1000 * i as i64, ticket.clone(), i as u64 + 1))
        .collect()
}

fn tickets(yaml: &str) -> ValidTickets {
    let config: TicketsConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let mut problems = Vec::new();
    config
        .validate(&mut problems)
        .unwrap_or_else(|| panic!("{problems:?}"))
}

fn webhook(url: &str, extra: &str) -> ValidTickets {
    tickets(&format!(
        "initial_backoff: 10ms\nmax_backoff: 40ms\nsinks:\n  - type: webhook\n    name: desk\n    url: {url}\n    timeout: 300ms\n{extra}"
    ))
}

async fn drained(handle: &OutboxHandle, sink: &str) {
    for _ in 0..500 {
        if handle.pending(sink).await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "{sink} still owes {} actions",
        handle.pending(sink).await.unwrap()
    );
}

fn metrics() -> (Registry, Metrics) {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    (registry, metrics)
}

fn exposition(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text
}

/// The keys applied to each ticket, by the fingerprint of its open.
fn applied(desk: &Desk) -> HashMap<String, Vec<String>> {
    desk.tickets
        .values()
        .map(|keys| (keys[0].split('-').next().unwrap().to_owned(), keys.clone()))
        .collect()
}

fn keys(actions: &[TicketAction]) -> Vec<String> {
    actions.iter().map(|a| a.idempotency_key.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_are_posted_once_and_later_actions_patch_the_created_ticket_in_order() {
    let desk = start_desk(Desk::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let lines = dir.path().join("tickets.jsonl");
    let config = webhook(
        &desk.url,
        &format!("  - type: file\n    path: {}\n", lines.display()),
    );
    let (mut handle, dispatchers) = outbox::open(dir.path(), &config, metrics().1).unwrap();
    let (a, b) = (life("aaaa"), life("bbbb"));
    for (x, y) in a.iter().zip(&b) {
        handle.record(x.clone()).await.unwrap();
        handle.record(y.clone()).await.unwrap();
    }
    drained(&handle, "desk").await;
    drained(&handle, "file").await;
    dispatchers.shutdown(Duration::from_secs(5)).await;

    let desk = desk.desk.lock().unwrap();
    assert_eq!(desk.creates, 2);
    let posts: Vec<&Received> = desk
        .requests
        .iter()
        .filter(|r| r.method == Method::POST)
        .collect();
    let mut posted: Vec<&str> = posts.iter().map(|r| r.key.as_str()).collect();
    posted.sort();
    assert_eq!(
        posted,
        [a[0].idempotency_key.as_str(), b[0].idempotency_key.as_str()]
    );
    assert_eq!(posts[0].body["title"], json!(a[0].ticket.title));
    assert_eq!(posts[0].body["action"], json!("open"));
    let mut patched: Vec<&str> = desk
        .requests
        .iter()
        .filter(|r| r.method == Method::PATCH)
        .map(|r| r.path.as_str())
        .collect();
    patched.sort();
    assert_eq!(
        patched,
        [
            "/tickets/42/",
            "/tickets/42/",
            "/tickets/43/",
            "/tickets/43/"
        ]
    );
    let applied = applied(&desk);
    assert_eq!(
        applied["aaaa"],
        keys(&a),
        "an update never overtakes its open"
    );
    assert_eq!(applied["bbbb"], keys(&b));

    let written: Vec<TicketAction> = std::fs::read_to_string(&lines)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(written.len(), 6);
    for ticket in [&a, &b] {
        let lines: Vec<&TicketAction> = written
            .iter()
            .filter(|w| w.ticket.fingerprint == ticket[0].ticket.fingerprint)
            .collect();
        let expected: Vec<&TicketAction> = ticket.iter().collect();
        assert_eq!(
            lines, expected,
            "the file sink writes a ticket's actions in order"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_actions_reaches_the_file_once_each_in_each_tickets_order_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let lines = dir.path().join("tickets.jsonl");
    let config = tickets(&format!(
        "sinks:\n  - type: file\n    path: {}\n",
        lines.display()
    ));
    let (registry, metrics) = metrics();
    let (mut handle, dispatchers) = outbox::open(dir.path(), &config, metrics).unwrap();
    let burst: Vec<Vec<TicketAction>> = (0..40).map(|i| life(&format!("f{i:03}"))).collect();
    // As after an outage: every ticket's actions recorded at once, deliveries overlapping.
    let all: Vec<TicketAction> = burst.iter().flatten().cloned().collect();
    let (_, recorded) = handle.record_all(all).await;
    assert_eq!(recorded.unwrap().len(), 120);
    drained(&handle, "file").await;
    dispatchers.shutdown(Duration::from_secs(5)).await;

    let written: Vec<TicketAction> = std::fs::read_to_string(&lines)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(written.len(), 120, "each action once");
    for ticket in &burst {
        let fingerprint = &ticket[0].ticket.fingerprint;
        let order: Vec<String> = written
            .iter()
            .filter(|w| &w.ticket.fingerprint == fingerprint)
            .map(|w| w.idempotency_key.clone())
            .collect();
        assert_eq!(order, keys(ticket), "{fingerprint}'s actions in order");
    }
    let text = exposition(&registry);
    for line in [
        r#"harbinger_tickets_total{sink="file",action="open",outcome="delivered"} 40"#,
        r#"harbinger_tickets_total{sink="file",action="update",outcome="delivered"} 40"#,
        r#"harbinger_outbox_pending{sink="file"} 0"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    assert_eq!(handle.view().undelivered().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_until_delivered_and_applied_once() {
    let actions = life("cccc");
    let mut script = HashMap::new();
    script.insert(
        actions[0].idempotency_key.clone(),
        VecDeque::from([
            Scripted::Status(503),
            Scripted::Status(429),
            Scripted::Hang(Duration::from_secs(1)),
        ]),
    );
    script.insert(
        actions[1].idempotency_key.clone(),
        VecDeque::from([Scripted::Status(500), Scripted::Status(408)]),
    );
    let desk = start_desk(Desk {
        script,
        ..Desk::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (registry, metrics) = metrics();
    let (mut handle, dispatchers) =
        outbox::open(dir.path(), &webhook(&desk.url, ""), metrics).unwrap();
    for action in &actions {
        handle.record(action.clone()).await.unwrap();
    }
    drained(&handle, "desk").await;
    dispatchers.shutdown(Duration::from_secs(5)).await;
    assert!(handle.dead_letters().await.unwrap().is_empty());

    let desk = desk.desk.lock().unwrap();
    let sent = |key: &str| desk.requests.iter().filter(|r| r.key == key).count();
    assert_eq!(sent(&actions[0].idempotency_key), 4);
    assert_eq!(sent(&actions[1].idempotency_key), 3);
    assert_eq!(sent(&actions[2].idempotency_key), 1);
    assert_eq!(desk.creates, 1);
    assert_eq!(applied(&desk)["cccc"], keys(&actions));
    let text = exposition(&registry);
    for line in [
        r#"harbinger_ticket_delivery_attempts_total{sink="desk",result="retry"} 5"#,
        r#"harbinger_ticket_delivery_attempts_total{sink="desk",result="delivered"} 3"#,
        r#"harbinger_tickets_total{sink="desk",action="open",outcome="delivered"} 1"#,
        r#"harbinger_outbox_pending{sink="desk"} 0"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_open_is_dead_lettered_with_its_reason_and_counted() {
    let (good, bad) = (life("dddd"), life("eeee"));
    let desk = start_desk(Desk {
        refuse: HashSet::from([bad[0].idempotency_key.clone()]),
        ..Desk::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (registry, metrics) = metrics();
    let (mut handle, dispatchers) =
        outbox::open(dir.path(), &webhook(&desk.url, ""), metrics).unwrap();
    for action in bad.iter().chain(&good) {
        handle.record(action.clone()).await.unwrap();
    }
    drained(&handle, "desk").await;
    dispatchers.shutdown(Duration::from_secs(5)).await;

    let letters = handle.dead_letters().await.unwrap();
    let reasons: Vec<(&str, &str)> = letters
        .iter()
        .map(|l| (l.action.idempotency_key.as_str(), l.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(reasons[0].0, bad[0].idempotency_key);
    assert_eq!(
        reasons[0].1,
        r#"status 400: {"title":["This field is required."]}"#
    );
    assert_eq!(
        reasons[1].1,
        r#"no ticket was created for eeee-1: its open, sent again, was refused: status 400: {"title":["This field is required."]}"#
    );
    assert_eq!(applied(&desk.desk.lock().unwrap())["dddd"], keys(&good));
    let text = exposition(&registry);
    for line in [
        r#"harbinger_tickets_total{sink="desk",action="open",outcome="dead_lettered"} 1"#,
        r#"harbinger_tickets_total{sink="desk",action="open",outcome="delivered"} 1"#,
        r#"harbinger_ticket_delivery_attempts_total{sink="desk",result="rejected"} 3"#,
        r#"harbinger_outbox_dead_letters{sink="desk"} 3"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_opened_through_another_store_is_found_by_its_opens_key_and_patched() {
    // As when an entity's Kafka partition moves: one worker opens the ticket, the next
    // owner, with an outbox of its own, takes its later actions.
    let actions = life("ffff");
    let desk = start_desk(Desk::default()).await;
    let (first, next) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut handle, dispatchers) =
        outbox::open(first.path(), &webhook(&desk.url, ""), metrics().1).unwrap();
    handle.record(actions[0].clone()).await.unwrap();
    drained(&handle, "desk").await;
    dispatchers.shutdown(Duration::from_secs(5)).await;

    let (mut handle, dispatchers) =
        outbox::open(next.path(), &webhook(&desk.url, ""), metrics().1).unwrap();
    for action in &actions[1..] {
        handle.record(action.clone()).await.unwrap();
    }
    drained(&handle, "desk").await;
    dispatchers.shutdown(Duration::from_secs(5)).await;
    assert!(handle.dead_letters().await.unwrap().is_empty());

    let desk = desk.desk.lock().unwrap();
    let open_posts = desk
        .requests
        .iter()
        .filter(|r| r.method == Method::POST && r.key == actions[0].idempotency_key)
        .count();
    assert_eq!(open_posts, 2, "the open, then again under its key");
    assert_eq!(
        desk.creates, 1,
        "the desk answered the repeat with its ticket"
    );
    assert_eq!(applied(&desk)["ffff"], keys(&actions));
}

const CHILD: &str = "HARBINGER_OUTBOX_CHILD";

/// The delivering process of the crash test: the test binary runs that test again, in
/// a child process, with `CHILD` set to the mode.
async fn deliver_as_child(mode: &str) {
    let dir = std::env::var("HARBINGER_OUTBOX_DIR").unwrap();
    let url = std::env::var("HARBINGER_OUTBOX_URL").unwrap();
    let (mut handle, _dispatchers) =
        outbox::open(Path::new(&dir), &webhook(&url, ""), metrics().1).unwrap();
    if mode == "record" {
        for action in crash_actions() {
            handle.record(action).await.unwrap();
        }
        std::fs::write(Path::new(&dir).join("recorded"), "").unwrap();
    }
    drained(&handle, "desk").await;
}

fn crash_actions() -> Vec<TicketAction> {
    ["ffff", "gggg", "hhhh"]
        .iter()
        .flat_map(|fp| life(fp))
        .collect()
}

fn run_child(mode: &str, dir: &Path, url: &str) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([CRASH_TEST, "--exact", "--quiet"])
        .env(CHILD, mode)
        .env("HARBINGER_OUTBOX_DIR", dir)
        .env("HARBINGER_OUTBOX_URL", url)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

const CRASH_TEST: &str = "a_kill_9_mid_delivery_loses_nothing_and_creates_no_ticket_twice";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_delivery_loses_nothing_and_creates_no_ticket_twice() {
    if let Ok(mode) = std::env::var(CHILD) {
        return deliver_as_child(&mode).await;
    }
    let desk = start_desk(Desk {
        stall_create: Some(2),
        ..Desk::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = run_child("record", dir.path(), &desk.url);
    tokio::time::timeout(Duration::from_secs(20), desk.stalled.notified())
        .await
        .expect("the second create reaches the desk");
    while !dir.path().join("recorded").exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL, while the desk holds a create it has applied
    child.wait().unwrap();
    let stalled_key = {
        let mut desk = desk.desk.lock().unwrap();
        desk.stall_create = None;
        desk.requests
            .iter()
            .filter(|r| r.method == Method::POST)
            .nth(1)
            .unwrap()
            .key
            .clone()
    };

    let status = tokio::task::spawn_blocking({
        let (dir, url) = (dir.path().to_owned(), desk.url.clone());
        move || run_child("resume", &dir, &url).wait().unwrap()
    })
    .await
    .unwrap();
    assert!(
        status.success(),
        "the restarted process delivered everything"
    );

    let desk = desk.desk.lock().unwrap();
    assert_eq!(desk.creates, 3, "no ticket was created twice");
    assert!(
        desk.requests
            .iter()
            .filter(|r| r.key == stalled_key)
            .count()
            >= 2,
        "the create cut short by the kill was sent again after the restart"
    );
    let actions = crash_actions();
    let applied = applied(&desk);
    for fp in ["ffff", "gggg", "hhhh"] {
        let expected: Vec<String> = keys(&actions)
            .into_iter()
            .filter(|k| k.starts_with(fp))
            .collect();
        assert_eq!(
            applied[fp], expected,
            "each action of {fp} applied once, in order"
        );
    }
}
