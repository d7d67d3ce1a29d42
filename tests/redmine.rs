//! The `redmine` sink against a real Redmine (Debian's `redmine` on SQLite, REST API on,
//! a key created in the setup; see `support/redmine.rs`):
//!
//! - lab-dev replayed into `serve`, killed with SIGKILL a third of the way, restarted on
//!   the same data directory, the rest replayed: each ticket is exactly one issue, in
//!   the configured project, tracker and priority; the disk that fills gets its issue
//!   before its rule fires, then a note when it fires, then is closed; every action is
//!   one note, none twice;
//! - the sink itself, asked twice for each action, and once more with its memory of the
//!   created issue lost (a crash between the create and keeping its id): one issue, one
//!   note per action.
//!
//! Needs Debian's `redmine` and `redmine-sqlite`; fails without them.

#[allow(dead_code)] // The shared helpers serve several test crates; this one uses a part.
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use harbinger::model::Outcome;
use harbinger::outbox::redmine::{RedmineSink, RedmineSinkConfig};
use harbinger::outbox::{Attempt, Sink, Store, example_action};
use harbinger::tickets::{ActionKind, TicketAction};
use serde_json::Value;
use support::redmine::Redmine;
use support::{eventually, free_ports, ready, replay, serve, split_lab_dev};

fn sink_config(redmine: &Redmine) -> RedmineSinkConfig {
    RedmineSinkConfig {
        name: None,
        url: redmine.url.clone(),
        api_key_file: Some(redmine.api_key_file.clone()),
        api_key_env: None,
        project: "ops".to_owned(),
        tracker: Some("Support".to_owned()),
        priority: Some("High".to_owned()),
        materialised_status: "Closed".to_owned(),
        averted_status: "Rejected".to_owned(),
        timeout: Duration::from_secs(30),
    }
}

/// The issue whose description names the ticket `fingerprint-sequence`.
fn issues_of<'a>(issues: &'a [Value], ticket: &str) -> Vec<&'a Value> {
    let marker = format!("harbinger ticket {ticket}");
    issues
        .iter()
        .filter(|issue| {
            let description = issue["description"].as_str().unwrap_or_default();
            description.lines().any(|line| line.trim() == marker)
        })
        .collect()
}

/// The actions the file sink wrote, in order.
fn recorded(dir: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("data/tickets.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ticket_id(action: &Value) -> String {
    format!(
        "{}-{}",
        action["ticket"]["fingerprint"].as_str().unwrap(),
        action["ticket"]["sequence"]
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disk_fill_is_one_redmine_issue_noted_confirmed_and_closed_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let redmine = Redmine::start(dir.path()).await;
    let config = dir.path().join("harbinger.yml");
    std::fs::write(
        &config,
        format!(
            "tickets:\n  sinks:\n    - type: file\n    - type: redmine\n      url: {}\n      api_key_file: {}\n      project: ops\n      tracker: Support\n      priority: High\n",
            redmine.url,
            redmine.api_key_file.display()
        ),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    // 1450 s into lab-dev: host1's disk is filling, its ticket open; its rule fires later.
    let [before, after] = split_lab_dev(dir.path(), 1_795_571_575 + 1450);
    let [port] = free_ports();
    let first = serve(dir.path(), port, &config, "serve-1");
    ready(&first, deadline).await;
    replay(&before, &format!("{}/api/v1/write", first.url));
    eventually("host1's issue in Redmine", deadline, async || {
        let issues = redmine.issues().await;
        match issues.iter().any(|i| {
            i["subject"]
                .as_str()
                .unwrap_or_default()
                .contains("\"host1\"")
        }) {
            true => Ok(()),
            false => Err(format!("{} issues, none for host1", issues.len())),
        }
    })
    .await;
    first.signal(libc::SIGKILL);
    drop(first);

    let second = serve(dir.path(), port, &config, "serve-2");
    ready(&second, deadline).await;
    replay(&after, &format!("{}/api/v1/write", second.url));
    let actions = recorded(dir.path());
    let host1_open = actions
        .iter()
        .find(|a| a["action"] == "open" && a["ticket"]["entity"]["instance"] == "host1")
        .expect("host1's ticket opened")
        .clone();
    let host1 = ticket_id(&host1_open);
    let closed = eventually("host1's issue closed", deadline, async || {
        let issues = redmine.issues().await;
        match issues_of(&issues, &host1).first() {
            Some(issue) if issue["status"]["name"] == "Closed" => Ok((*issue).clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    // Every action delivered: nothing owed to Redmine.
    eventually("the outbox drained", deadline, async || {
        let tickets: Value = reqwest::get(format!("{}/api/v1/tickets", second.url))
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let metrics = reqwest::get(format!("{}/metrics", second.url))
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        let pending = support::samples(&metrics, "harbinger_outbox_pending");
        let owed: f64 = pending.iter().map(|(_, v)| v).sum();
        match (
            tickets["data"]["dead_letters"].as_array().map(Vec::len),
            owed,
        ) {
            (Some(0), 0.0) => Ok(()),
            other => Err(format!("dead letters, owed: {other:?}")),
        }
    })
    .await;

    let actions = recorded(dir.path());
    let issues = redmine.issues().await;
    let opened: Vec<String> = actions
        .iter()
        .filter(|a| a["action"] == "open")
        .map(ticket_id)
        .collect();
    assert!(opened.len() >= 3, "{opened:?}");
    for ticket in &opened {
        let found = issues_of(&issues, ticket);
        assert_eq!(
            found.len(),
            1,
            "ticket {ticket}: one issue, not {}",
            found.len()
        );
        assert_eq!(found[0]["tracker"]["name"], "Support");
        assert_eq!(found[0]["priority"]["name"], "High");
    }
    assert_eq!(issues.len(), opened.len(), "no issue without a ticket");

    // host1: opened before its rule fired, noted when it fired, closed as materialised.
    let of_host1: Vec<&Value> = actions.iter().filter(|a| ticket_id(a) == host1).collect();
    let kinds: Vec<&str> = of_host1
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"open"));
    assert!(kinds.contains(&"confirm"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"resolve"));
    let confirm = of_host1.iter().find(|a| a["action"] == "confirm").unwrap();
    assert!(
        host1_open["at_ms"].as_i64() < confirm["at_ms"].as_i64(),
        "the issue came before the rule fired"
    );
    assert_eq!(of_host1.last().unwrap()["outcome"], "materialised");
    let id = closed["id"].as_u64().unwrap();
    let notes = redmine.notes(id).await;
    assert_eq!(
        notes.len(),
        of_host1.len() - 1,
        "one note per action after the open: {notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("is firing on this entity")),
        "{notes:?}"
    );
    assert!(
        notes.last().unwrap().contains("fired and has ended"),
        "{notes:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_delivery_creates_no_second_issue_and_no_second_note() {
    let dir = tempfile::tempdir().unwrap();
    let redmine = Redmine::start(dir.path()).await;
    let spec = sink_config(&redmine)
        .validate("redmine", &mut Vec::new())
        .unwrap();
    let store = |name: &str| Arc::new(Store::open(&dir.path().join(name)).unwrap());
    let sink = RedmineSink::new(spec.clone(), store("outbox")).unwrap();

    let resolve = example_action();
    let with = |kind: ActionKind, n: u64| {
        TicketAction::new(kind, resolve.at_ms, resolve.ticket.clone(), n)
    };
    let open = with(ActionKind::Open, 1);
    let update = with(ActionKind::Update, 2);
    for action in [&open, &open, &update, &update] {
        assert_eq!(sink.deliver(action).await, Attempt::Delivered);
    }
    // A sink that lost the created issue's id (a crash before it was kept) finds the
    // issue instead of creating another; it can note and resolve it.
    let forgetful = RedmineSink::new(spec.clone(), store("lost")).unwrap();
    let averted = with(
        ActionKind::Resolve {
            outcome: Outcome::Averted,
        },
        3,
    );
    for action in [&open, &update, &averted, &averted] {
        assert_eq!(forgetful.deliver(action).await, Attempt::Delivered);
    }
    // The next owner of a moved Kafka partition takes a ticket's later actions without
    // its open: it finds the issue by its marker too.
    let next_owner = RedmineSink::new(spec.clone(), store("moved")).unwrap();
    assert_eq!(next_owner.deliver(&update).await, Attempt::Delivered);

    let issues = redmine.issues().await;
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0]["status"]["name"], "Rejected", "averted");
    let id = issues[0]["id"].as_u64().unwrap();
    let notes = redmine.notes(id).await;
    assert_eq!(
        notes.len(),
        2,
        "the update and the resolve, once each: {notes:?}"
    );

    // A name Redmine does not know is refused for good, naming what it knows.
    let mut wrong = sink_config(&redmine);
    wrong.tracker = Some("Incident".to_owned());
    let wrong = RedmineSink::new(
        wrong.validate("redmine", &mut Vec::new()).unwrap(),
        store("wrong"),
    )
    .unwrap();
    let mut other = with(ActionKind::Open, 1);
    other.ticket.sequence += 1;
    match wrong.deliver(&other).await {
        Attempt::Reject(reason) => assert!(
            reason.contains("tracker \"Incident\" is not one of Bug, Feature, Support"),
            "{reason}"
        ),
        attempt => panic!("{attempt:?}"),
    }
}
