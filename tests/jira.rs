//! The Jira example of `docs/tickets.md`, as written there, checked against the requests it makes: a
//! ticket's open, update, confirm and resolve (and another's averted resolve) go through
//! the outbox to a stand-in for Jira's REST API that records every request; each must be
//! the call Jira documents (create issue, add comment, transition with a comment), with
//! the bearer token. Jira itself cannot run here; the stand-in checks what it receives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use harbinger::model::Outcome;
use harbinger::outbox::{self, TicketsConfig, example_action};
use harbinger::telemetry::Metrics;
use harbinger::tickets::{ActionKind, TicketAction};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path: String,
    authorization: String,
    body: Value,
}

/// Answers as Jira does: 201 with the key for a create, 201 for a comment, 204 for a
/// transition; 404 for anything else.
async fn jira(
    received: Arc<Mutex<Vec<Received>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let path = uri.path().to_owned();
    let mut all = received.lock().unwrap();
    let creates = all.iter().filter(|r| r.path == "/rest/api/2/issue").count();
    all.push(Received {
        method: method.clone(),
        path: path.clone(),
        authorization,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let key = format!("OPS-{}", creates + 1);
    match (method, path.as_str()) {
        (Method::POST, "/rest/api/2/issue") => (
            StatusCode::CREATED,
            axum::Json(json!({"id": format!("{}", 10000 + creates + 1), "key": key, "self": "https://jira.example/rest/api/2/issue/1"})),
        )
            .into_response(),
        (Method::POST, p) if p.ends_with("/comment") => (StatusCode::CREATED, axum::Json(json!({"id": "1"}))).into_response(),
        (Method::POST, p) if p.ends_with("/transitions") => StatusCode::NO_CONTENT.into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The block of `docs/tickets.md` that starts `# Jira`, pointed at `url`, its token file
/// at `token`.
fn readme_jira(url: &str, token: &std::path::Path) -> TicketsConfig {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/tickets.md")).unwrap();
    let start = readme
        .find("```yaml\n# Jira\n")
        .expect("docs/tickets.md shows the Jira example")
        + 8;
    let block = &readme[start..];
    let block = &block[..block.find("```").unwrap()];
    let yaml = block
        .replace("https://jira.example", url)
        .replace("/etc/harbinger/jira-token", &token.display().to_string());
    #[derive(Deserialize)]
    struct Config {
        tickets: TicketsConfig,
    }
    let config: Config = serde_yaml_ng::from_str(&yaml).unwrap();
    config.tickets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_jira_example_creates_comments_and_transitions() {
    let received = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::clone(&received);
    let app = axum::Router::new().fallback(move |method, uri, headers, body| {
        jira(Arc::clone(&state), method, uri, headers, body)
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("jira-token");
    std::fs::write(&token, "secret-token\n").unwrap();
    let mut config = readme_jira(&url, &token);
    config.initial_backoff = Duration::from_millis(10);
    let mut problems = Vec::new();
    let tickets = config
        .validate(&mut problems)
        .unwrap_or_else(|| panic!("{problems:?}"));
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = Metrics::register(&mut registry);
    let (mut handle, dispatchers) = outbox::open(dir.path(), &tickets, metrics).unwrap();

    let ticket = example_action().ticket;
    let mut averted = ticket.clone();
    averted.fingerprint = "0000000000000001".to_owned();
    let actions = [
        TicketAction::new(ActionKind::Open, 1, ticket.clone(), 1),
        TicketAction::new(ActionKind::Update, 2, ticket.clone(), 2),
        TicketAction::new(ActionKind::Confirm, 3, ticket.clone(), 3),
        TicketAction::new(
            ActionKind::Resolve {
                outcome: Outcome::Materialised,
            },
            4,
            ticket.clone(),
            4,
        ),
        TicketAction::new(ActionKind::Open, 5, averted.clone(), 1),
        TicketAction::new(
            ActionKind::Resolve {
                outcome: Outcome::Averted,
            },
            6,
            averted,
            2,
        ),
    ];
    for action in actions {
        handle.record(action).await.unwrap();
    }
    for _ in 0..500 {
        if handle.pending("jira").await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(handle.pending("jira").await.unwrap(), 0, "delivered");
    dispatchers.shutdown(Duration::from_secs(5)).await;

    let received = received.lock().unwrap().clone();
    assert!(
        received
            .iter()
            .all(|r| r.method == Method::POST && r.authorization == "Bearer secret-token"),
        "{received:?}"
    );
    let to = |path: &dyn Fn(&str) -> bool| -> Vec<(String, Value)> {
        received
            .iter()
            .filter(|r| path(&r.path))
            .map(|r| (r.path.clone(), r.body.clone()))
            .collect()
    };
    let creates = to(&|p| p == "/rest/api/2/issue");
    assert_eq!(creates.len(), 2, "{received:?}");
    let fields = &creates[0].1["fields"];
    assert_eq!(fields["project"]["key"], "OPS");
    assert_eq!(fields["issuetype"]["name"], "Task");
    assert_eq!(fields["summary"], json!(ticket.title));
    assert_eq!(fields["labels"], json!(["harbinger"]));
    assert!(
        fields["description"]
            .as_str()
            .unwrap()
            .starts_with(&ticket.rule),
        "{fields}"
    );

    let first = to(&|p| p.starts_with("/rest/api/2/issue/OPS-1/"));
    let expected = [
        (
            "/rest/api/2/issue/OPS-1/comment",
            json!({"body": format!("Estimate updated: {}", ticket.title)}),
        ),
        (
            "/rest/api/2/issue/OPS-1/comment",
            json!({"body": "HostOutOfDiskSpace is firing, as predicted."}),
        ),
        (
            "/rest/api/2/issue/OPS-1/transitions",
            json!({"transition": {"id": "31"}, "update": {"comment": [{"add": {"body": "HostOutOfDiskSpace fired and has ended."}}]}}),
        ),
    ];
    let expected: Vec<(String, Value)> = expected
        .into_iter()
        .map(|(p, b)| (p.to_owned(), b))
        .collect();
    assert_eq!(
        first, expected,
        "update, confirm and resolve of OPS-1, in order"
    );
    let second = to(&|p| p.starts_with("/rest/api/2/issue/OPS-2/"));
    assert_eq!(
        second,
        [(
            "/rest/api/2/issue/OPS-2/transitions".to_owned(),
            json!({"transition": {"id": "31"}, "update": {"comment": [{"add": {"body": "The risk went away; HostOutOfDiskSpace did not fire."}}]}})
        )]
    );
}
