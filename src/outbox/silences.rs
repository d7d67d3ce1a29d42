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
//!
//! The silences are asked for at most every [`FRESH`] (a burst of opens asks once), and
//! after a failed ask not again for [`COOL_DOWN`]: an Alertmanager that times out must not
//! hold every sink's ticket actions for its timeout once per open.

use std::collections::HashSet;
use std::time::{Duration, Instant};

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

/// How long the silences asked for are used before they are asked for again.
pub const FRESH: Duration = Duration::from_secs(5);

/// How long after a failed ask opens go unchecked.
pub const COOL_DOWN: Duration = Duration::from_secs(30);

/// Filters ticket actions by the silences of one Alertmanager.
pub struct SilenceFilter {
    silences_url: reqwest::Url,
    client: reqwest::Client,
    /// (fingerprint, ticket sequence) of the tickets whose open was silenced.
    silenced: HashSet<(String, u64)>,
    /// The silences last asked for, and when.
    known: Option<(Instant, Vec<Silence>)>,
    /// When the last ask failed.
    failed_at: Option<Instant>,
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
            known: None,
            failed_at: None,
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
        if self.failed_at.is_some_and(|at| at.elapsed() < COOL_DOWN) {
            return true;
        }
        let silences = match self.silences().await {
            Ok(silences) => silences,
            Err(error) => {
                warn!(
                    %error,
                    unchecked_for_seconds = COOL_DOWN.as_secs(),
                    "asking Alertmanager for its silences failed; tickets open unchecked meanwhile"
                );
                self.failed_at = Some(Instant::now());
                return true;
            }
        };
        match matching_silence(silences, action) {
            None => true,
            Some(id) => {
                info!(title = %action.ticket.title, silence = id, "ticket not opened: an Alertmanager silence matches it");
                self.silenced.insert(ticket);
                false
            }
        }
    }

    /// The silences, asked for when those known are older than [`FRESH`].
    async fn silences(&mut self) -> Result<&[Silence], String> {
        if self
            .known
            .as_ref()
            .is_none_or(|(at, _)| at.elapsed() >= FRESH)
        {
            let asked = Instant::now();
            let response = self
                .client
                .get(self.silences_url.clone())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let silences = response.json().await.map_err(|e| e.to_string())?;
            self.known = Some((asked, silences));
        }
        Ok(self.known.as_ref().map_or(&[], |(_, silences)| silences))
    }
}

/// The id of an active silence that matches the alert `action` predicts, or the rule's
/// own alert for the same entity.
fn matching_silence(silences: &[Silence], action: &TicketAction) -> Option<String> {
    let predicted = AlertmanagerSink::alert(action, action.at_ms);
    let labels = predicted["labels"].as_object().cloned().unwrap_or_default();
    let mut rule = labels.clone();
    rule.insert(
        "alertname".into(),
        Value::from(action.ticket.target.clone()),
    );
    rule.remove("predicted_alert");
    let found = silences
        .iter()
        .filter(|s| s.status.state == "active")
        .find(|s| {
            [&labels, &rule]
                .iter()
                .any(|set| s.matchers.iter().all(|m| m.matches(set)))
        });
    found.map(|s| s.id.clone())
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

    /// An Alertmanager that accepts connections and never answers: opens fail open, and
    /// after the first times out the others are not held by asking again.
    #[tokio::test]
    async fn a_silent_alertmanager_is_asked_once_per_cool_down() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = reqwest::Url::parse(&format!("http://{}/", listener.local_addr().unwrap()));
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = accepted.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(stream);
            }
        });
        let timeout = Duration::from_millis(200);
        let mut filter = SilenceFilter::new(&url.unwrap(), timeout).unwrap();
        let started = Instant::now();
        for sequence in 1..=5 {
            let mut open = crate::outbox::example_action();
            open.kind = ActionKind::Open;
            open.ticket.sequence = sequence;
            assert!(filter.admits(&open).await, "fails open");
        }
        assert!(started.elapsed() < 4 * timeout, "{:?}", started.elapsed());
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
