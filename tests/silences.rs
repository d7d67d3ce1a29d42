//! Alertmanager silences with a real Alertmanager: an operator silences the rule's alert
//! for one host (maintenance); harbinger then records no ticket for that host, neither
//! its open nor what follows, and still opens the other host's, whose prediction reaches
//! Alertmanager as a `HostOutOfDiskSpacePredicted` alert.

#[allow(dead_code)] // The shared helpers serve several test crates; this one uses a part.
mod stack;
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use harbinger::outbox::{self, TicketsConfig, example_action};
use harbinger::telemetry::Metrics;
use harbinger::tickets::{ActionKind, TicketAction};
use serde_json::{Value, json};
use stack::ready_alertmanager;
use support::eventually;

fn action(kind: ActionKind, instance: &str, fingerprint: &str, sequence: u64) -> TicketAction {
    let mut ticket = example_action().ticket;
    ticket.entity.insert("instance".into(), instance.into());
    ticket.fingerprint = fingerprint.into();
    let now_ms = chrono::Utc::now().timestamp_millis();
    ticket.opened_at_ms = now_ms;
    TicketAction::new(kind, now_ms, ticket, sequence)
}

#[tokio::test]
async fn a_silenced_host_gets_no_ticket_and_the_other_does() {
    let dir = tempfile::tempdir().unwrap();
    let alertmanager = ready_alertmanager(dir.path()).await;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);

    let now = chrono::Utc::now();
    let silence = json!({
        "matchers": [
            {"name": "alertname", "value": "HostOutOfDiskSpace", "isRegex": false, "isEqual": true},
            {"name": "instance", "value": "host[1]", "isRegex": true, "isEqual": true},
        ],
        "startsAt": (now - chrono::Duration::minutes(1)).to_rfc3339(),
        "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "createdBy": "test",
        "comment": "maintenance of host1",
    });
    let created = http
        .post(format!("{}/api/v2/silences", alertmanager.url))
        .json(&silence)
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "{}",
        created.text().await.unwrap()
    );

    let yaml = format!(
        "sinks:\n  - type: file\n  - type: alertmanager\n    url: {}\n",
        alertmanager.url
    );
    let config: TicketsConfig = serde_yaml_ng::from_str(&yaml).unwrap();
    let tickets = config.validate(&mut Vec::new()).unwrap();
    let mut registry = prometheus_client::registry::Registry::default();
    let (mut handle, dispatchers) =
        outbox::open(dir.path(), &tickets, Metrics::register(&mut registry)).unwrap();

    let silenced_open = action(ActionKind::Open, "host1", "f1", 1);
    let silenced_update = action(ActionKind::Update, "host1", "f1", 2);
    let other_open = action(ActionKind::Open, "host2", "f2", 1);
    assert_eq!(handle.record(silenced_open).await.unwrap(), None);
    // Recorded together, the actions come back in their order, the silenced one too.
    let together = vec![silenced_update, other_open];
    let (handed_back, seqs) = handle.record_all(together.clone()).await;
    assert_eq!(handed_back, together);
    assert!(matches!(seqs.unwrap()[..], [None, Some(_)]));

    let alerts_url = format!("{}/api/v2/alerts", alertmanager.url);
    let predicted = eventually("the predicted alert of host2", deadline, async || {
        let alerts: Value = http
            .get(&alerts_url)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let found: Vec<String> = alerts
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["labels"]["alertname"] == "HostOutOfDiskSpacePredicted")
            .map(|a| a["labels"]["instance"].as_str().unwrap().to_owned())
            .collect();
        if found.is_empty() {
            Err("none yet".to_owned())
        } else {
            Ok(found)
        }
    })
    .await;
    assert_eq!(predicted, ["host2"]);
    let lines = std::fs::read_to_string(dir.path().join("tickets.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert!(lines.contains("host2"));
    dispatchers.shutdown(Duration::from_secs(5)).await;
}
