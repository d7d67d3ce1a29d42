//! The `alertmanager` sink: predictions as alerts in a real Alertmanager, so that its
//! routing, grouping, inhibition and receivers (mail, chat, pager) work unchanged.
//!
//! In: ticket actions. Out: `POST <url>/api/v2/alerts` with one alert per action,
//! named `<target>Predicted`, labelled with the entity's labels and the rule's own
//! labels, annotated with the ticket's title, probability, ETA and rule. Open, update
//! and confirm send the alert firing, with `endsAt` four resend intervals ahead, as
//! Prometheus does; resolve sends it with `endsAt` at the resolve. Alertmanager forgets
//! an alert whose `endsAt` has passed, so the alerts of open tickets are re-sent every
//! resend interval by a task of the sink's own; they are kept in the outbox store, so a
//! restart re-sends them too.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::warn;

use super::config::AlertmanagerSpec;
use super::sink::{Attempt, Sink, judge};
use super::store::{Store, on_blocking};
use crate::tickets::{ActionKind, TicketAction};

pub struct AlertmanagerSink {
    spec: AlertmanagerSpec,
    alerts_url: reqwest::Url,
    client: reqwest::Client,
    store: Arc<Store>,
    /// Deliveries and refreshes take turns, so that a refresh never re-sends as firing
    /// an alert whose resolve was delivered while it read the open alerts.
    turn: tokio::sync::Mutex<()>,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl AlertmanagerSink {
    pub fn new(spec: AlertmanagerSpec, store: Arc<Store>) -> Result<Self, String> {
        let alerts_url = spec.url.join("api/v2/alerts").map_err(|e| e.to_string())?;
        let client = reqwest::Client::builder()
            .timeout(spec.timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(AlertmanagerSink {
            spec,
            alerts_url,
            client,
            store,
            turn: tokio::sync::Mutex::new(()),
        })
    }

    /// The alert for an action, `endsAt` as given.
    pub fn alert(action: &TicketAction, ends_at_ms: i64) -> Value {
        let ticket = &action.ticket;
        let mut labels = serde_json::Map::new();
        for (name, value) in ticket.labels.iter().chain(&ticket.entity) {
            labels.insert(name.clone(), json!(value));
        }
        labels.insert(
            "alertname".into(),
            json!(format!("{}Predicted", ticket.target)),
        );
        labels.insert("predicted_alert".into(), json!(ticket.target));
        let mut annotations = serde_json::Map::new();
        annotations.insert("summary".into(), json!(ticket.title));
        annotations.insert("rule".into(), json!(ticket.rule));
        let numbers = [
            ("probability", ticket.probability),
            ("eta_seconds", ticket.eta_seconds),
            ("eta_stderr_seconds", ticket.eta_stderr_seconds),
            ("value", ticket.value),
            ("trend_per_second", ticket.trend_per_second),
        ];
        for (name, number) in numbers {
            if let Some(number) = number {
                annotations.insert(name.into(), json!(format!("{number}")));
            }
        }
        if let Some(runbook) = ticket.annotations.get("runbook_url") {
            annotations.insert("runbook_url".into(), json!(runbook));
        }
        let mut alert = json!({
            "labels": labels,
            "annotations": annotations,
            "startsAt": rfc3339(ticket.opened_at_ms),
            "endsAt": rfc3339(ends_at_ms),
        });
        if let Some(url) = &ticket.graph_url {
            alert["generatorURL"] = json!(url);
        }
        alert
    }

    async fn post(&self, alerts: &[Value]) -> Attempt {
        let sent = self
            .client
            .post(self.alerts_url.clone())
            .json(alerts)
            .send()
            .await;
        match judge(sent).await {
            Ok(_) => Attempt::Delivered,
            Err(attempt) => attempt,
        }
    }

    fn horizon_ms(&self) -> i64 {
        4 * self.spec.resend_interval.as_millis() as i64
    }

    /// Re-sends the alerts of open tickets every resend interval until `stop`.
    pub async fn refresh(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut every = tokio::time::interval(self.spec.resend_interval);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.changed() => return,
            }
            let _turn = self.turn.lock().await;
            let name = self.spec.name.clone();
            let open = on_blocking(&self.store, move |store| store.recall_all(&name)).await;
            let ends_at = now_ms() + self.horizon_ms();
            let alerts: Vec<Value> = match open {
                Ok(open) => open
                    .into_iter()
                    .filter_map(|(_, action)| serde_json::from_str(&action).ok())
                    .map(|action: TicketAction| Self::alert(&action, ends_at))
                    .collect(),
                Err(error) => {
                    warn!(sink = %self.spec.name, %error, "reading the open alerts failed");
                    continue;
                }
            };
            if alerts.is_empty() {
                continue;
            }
            if let Attempt::Retry(why) | Attempt::Reject(why) = self.post(&alerts).await {
                warn!(sink = %self.spec.name, why, "re-sending the open alerts failed; retrying at the next interval");
            }
        }
    }
}

/// What the sink keeps of a ticket after `action`, by fingerprint: the action, whose
/// alert it re-sends (an open, update or confirm), or nothing (a resolve).
pub fn kept(action: &TicketAction) -> (String, Option<String>) {
    let fingerprint = action.ticket.fingerprint.clone();
    match action.kind {
        ActionKind::Resolve { .. } => (fingerprint, None),
        _ => {
            let text = serde_json::to_string(action).expect("an action is JSON");
            (fingerprint, Some(text))
        }
    }
}

impl Sink for AlertmanagerSink {
    fn name(&self) -> &str {
        &self.spec.name
    }

    /// One at a time: each delivery takes its turn with the refresh anyway.
    fn concurrency(&self) -> usize {
        1
    }

    async fn deliver(&self, action: &TicketAction) -> Attempt {
        let _turn = self.turn.lock().await;
        let resolved = matches!(action.kind, ActionKind::Resolve { .. });
        let ends_at = if resolved {
            action.at_ms
        } else {
            now_ms() + self.horizon_ms()
        };
        let attempt = self.post(&[Self::alert(action, ends_at)]).await;
        if attempt == Attempt::Delivered {
            let (sink, entry) = (self.spec.name.clone(), kept(action));
            let kept = on_blocking(&self.store, move |store| store.keep(&sink, &[entry])).await;
            if let Err(error) = kept {
                return Attempt::Retry(format!("keeping the open alert: {error}"));
            }
        }
        attempt
    }
}
