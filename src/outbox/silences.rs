//! Alertmanager silences, honoured before a ticket opens: when an Alertmanager sink is
//! configured, an `open` whose predicted alert, or the rule's own alert for the same
//! entity, an active silence matches is not recorded, and neither is anything later of
//! that ticket: operators who silenced a host for maintenance get no ticket for it.
//!
//! In: ticket actions, in the order the pipeline decides them. Out: the ones to record.
//! Matching follows Alertmanager: every matcher of a silence must match, `=`/`!=` on the
//! exact value, `=~`/`!~` on the regular expression anchored at both ends, and a label
//! the alert lacks counts as empty. An Alertmanager that cannot be asked does not stop
//! tickets: the check fails open, with a warning.

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tracing::{info, warn};

use super::alertmanager::AlertmanagerSink;
use crate::tickets::{ActionKind, TicketAction};

#[derive(Debug, Deserialize)]
struct Silence {
    id: String,
    matchers: Vec<Matcher>,
    status: Status,
}

#[derive(Debug, Deserialize)]
struct Status {
    state: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Matcher {
    name: String,
    value: String,
    is_regex: bool,
    #[serde(default = "yes")]
    is_equal: bool,
}

fn yes() -> bool {
    true
}

impl Matcher {
    fn matches(&self, labels: &serde_json::Map<String, Value>) -> bool {
        let value = labels.get(&self.name).and_then(Value::as_str).unwrap_or("");
        let equal = if self.is_regex {
            regex::Regex::new(&format!("^(?:{})$", self.value)).is_ok_and(|re| re.is_match(value))
        } else {
            value == self.value
        };
        equal == self.is_equal
    }
}

/// Filters ticket actions by the silences of one Alertmanager.
pub struct SilenceFilter {
    silences_url: reqwest::Url,
    client: reqwest::Client,
    /// (fingerprint, ticket sequence) of the tickets whose open was silenced.
    silenced: HashSet<(String, u64)>,
}

impl SilenceFilter {
    pub fn new(alertmanager: &reqwest::Url, timeout: Duration) -> Result<SilenceFilter, String> {
        Ok(SilenceFilter {
            silences_url: alertmanager
                .join("api/v2/silences")
                .map_err(|e| e.to_string())?,
            client: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .map_err(|e| e.to_string())?,
            silenced: HashSet::new(),
        })
    }

    /// Whether `action` is to be recorded.
    pub async fn admits(&mut self, action: &TicketAction) -> bool {
        let ticket = (action.ticket.fingerprint.clone(), action.ticket.sequence);
        if let ActionKind::Resolve { .. } = action.kind {
            return !self.silenced.remove(&ticket);
        }
        if action.kind != ActionKind::Open {
            return !self.silenced.contains(&ticket);
        }
        match self.matching_silence(action).await {
            Ok(None) => true,
            Ok(Some(id)) => {
                info!(title = %action.ticket.title, silence = id, "ticket not opened: an Alertmanager silence matches it");
                self.silenced.insert(ticket);
                false
            }
            Err(error) => {
                warn!(%error, "asking Alertmanager for its silences failed; the ticket opens");
                true
            }
        }
    }

    async fn matching_silence(&self, action: &TicketAction) -> Result<Option<String>, String> {
        let response = self
            .client
            .get(self.silences_url.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let silences: Vec<Silence> = response.json().await.map_err(|e| e.to_string())?;
        let predicted = AlertmanagerSink::alert(action, action.at_ms);
        let labels = predicted["labels"].as_object().cloned().unwrap_or_default();
        let mut rule = labels.clone();
        rule.insert(
            "alertname".into(),
            Value::from(action.ticket.target.clone()),
        );
        rule.remove("predicted_alert");
        let found = silences
            .into_iter()
            .filter(|s| s.status.state == "active")
            .find(|s| {
                [&labels, &rule]
                    .iter()
                    .any(|set| s.matchers.iter().all(|m| m.matches(set)))
            });
        Ok(found.map(|s| s.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(name: &str, value: &str, is_regex: bool, is_equal: bool) -> Matcher {
        Matcher {
            name: name.into(),
            value: value.into(),
            is_regex,
            is_equal,
        }
    }

    #[test]
    fn matchers_follow_alertmanager() {
        let labels = serde_json::json!({"alertname": "Disk", "instance": "host1"});
        let labels = labels.as_object().unwrap();
        assert!(matcher("instance", "host1", false, true).matches(labels));
        assert!(!matcher("instance", "host", false, true).matches(labels));
        assert!(matcher("instance", "host.*", true, true).matches(labels));
        assert!(
            !matcher("instance", "ost1", true, true).matches(labels),
            "anchored"
        );
        assert!(matcher("instance", "host2", false, false).matches(labels));
        assert!(
            matcher("mountpoint", "", false, true).matches(labels),
            "absent is empty"
        );
    }
}
