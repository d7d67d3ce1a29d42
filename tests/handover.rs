//! A ticket handed over between two workers' outboxes, with a real Alertmanager: what
//! a Kafka partition that moves while a ticket is open does to the predicted alert. The
//! first outbox opens the ticket; the second adopts it (the new owner's warm-up replayed
//! the open) and the first disowns it (its partition went away, and the worker runs on).
//! The alert stays active past the time it would lapse without a re-send, and once the
//! second outbox resolves the ticket, the first does not bring it back.

#[allow(dead_code)] // The shared helpers serve several test crates; this one uses a part.
mod stack;
#[allow(dead_code)]
mod support;

use std::path::Path;
use std::time::Duration;

use harbinger::model::Outcome;
use harbinger::outbox::{self, OutboxHandle, TicketsConfig, example_action};
use harbinger::telemetry::Metrics;
use harbinger::tickets::{ActionKind, TicketAction};
use serde_json::Value;
use stack::ready_alertmanager;

/// Re-sent this often, each alert ending four of these ahead.
const RESEND: Duration = Duration::from_secs(1);

fn action(kind: ActionKind, sequence: u64) -> TicketAction {
    let mut ticket = example_action().ticket;
    ticket.entity.insert("instance".into(), "moved-1".into());
    ticket.fingerprint = "0123456789abcdef".into();
    let now_ms = chrono::Utc::now().timestamp_millis();
    ticket.opened_at_ms = now_ms;
    TicketAction::new(kind, now_ms, ticket, sequence)
}

fn outbox_to(dir: &Path, alertmanager: &str) -> (OutboxHandle, outbox::Dispatchers) {
    let yaml = format!(
        "sinks:\n  - type: alertmanager\n    url: {alertmanager}\n    resend_interval: {}s\n",
        RESEND.as_secs()
    );
    let config: TicketsConfig = serde_yaml_ng::from_str(&yaml).unwrap();
    let tickets = config.validate(&mut Vec::new()).unwrap();
    let metrics = Metrics::register(&mut prometheus_client::registry::Registry::default());
    outbox::open(dir, &tickets, metrics).unwrap()
}

/// Whether Alertmanager holds the ticket's predicted alert active.
async fn active(http: &reqwest::Client, alertmanager: &str) -> bool {
    let url = format!("{alertmanager}/api/v2/alerts");
    let alerts: Value = http.get(url).send().await.unwrap().json().await.unwrap();
    alerts.as_array().unwrap().iter().any(|alert| {
        alert["status"]["state"] == "active" && alert["labels"]["instance"] == "moved-1"
    })
}

async fn drained(handle: &OutboxHandle) {
    for _ in 0..250 {
        if handle.pending("alertmanager").await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the alertmanager sink still owes actions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_ticket_keeps_its_alert_and_a_disowned_one_is_not_brought_back() {
    let dir = tempfile::tempdir().unwrap();
    let alertmanager = ready_alertmanager(dir.path()).await;
    let http = reqwest::Client::new();
    let (first_dir, next_dir) = (dir.path().join("first"), dir.path().join("next"));
    let (mut first, first_dispatchers) = outbox_to(&first_dir, &alertmanager.url);
    let (mut next, next_dispatchers) = outbox_to(&next_dir, &alertmanager.url);

    let open = action(ActionKind::Open, 1);
    first.record(open.clone()).await.unwrap();
    drained(&first).await;
    assert!(active(&http, &alertmanager.url).await, "the open's alert");

    // The partition moves: the new owner adopts the open, the old one lets it go.
    next.adopt(std::slice::from_ref(&open)).await.unwrap();
    first
        .disown(vec![open.ticket.fingerprint.clone()])
        .await
        .unwrap();
    // Past the four resend intervals the old owner's last re-send covered.
    tokio::time::sleep(RESEND * 7).await;
    assert!(
        active(&http, &alertmanager.url).await,
        "the new owner keeps the alert alive"
    );

    let resolve = action(
        ActionKind::Resolve {
            outcome: Outcome::Averted,
        },
        2,
    );
    next.record(resolve).await.unwrap();
    drained(&next).await;
    tokio::time::sleep(RESEND * 3).await;
    assert!(
        !active(&http, &alertmanager.url).await,
        "resolved, and not brought back by the old owner's re-sends"
    );
    first_dispatchers.shutdown(Duration::from_secs(5)).await;
    next_dispatchers.shutdown(Duration::from_secs(5)).await;
}
