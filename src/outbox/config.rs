//! The `tickets:` section of the configuration: the sinks every ticket action is
//! delivered to, and how patiently.
//!
//! In: the YAML structs, strict. Out: [`ValidTickets`], with URLs parsed, secrets
//! loaded and body templates checked, or every problem at once.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::redmine::{RedmineSinkConfig, RedmineSpec};
use super::webhook::{WebhookSinkConfig, WebhookSpec};
use crate::config::duration;
use crate::retry::Backoff;

/// Where ticket actions go. Every sink receives every action.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TicketsConfig {
    /// The sinks; their names (the `type` unless `name` is set) must be unique.
    pub sinks: Vec<SinkConfig>,
    /// Delay between delivery attempts of one action: doubling from `initial_backoff`
    /// up to `max_backoff`, minus up to half at random. Deliveries are retried until
    /// they succeed or a sink refuses them for good.
    #[serde(deserialize_with = "duration::deserialize")]
    pub initial_backoff: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_backoff: Duration,
}

impl Default for TicketsConfig {
    fn default() -> Self {
        TicketsConfig {
            sinks: vec![SinkConfig::File(FileSinkConfig::default())],
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    File(FileSinkConfig),
    Webhook(WebhookSinkConfig),
    Alertmanager(AlertmanagerSinkConfig),
    Redmine(RedmineSinkConfig),
}

/// An Alertmanager: predictions become alerts named `<target>Predicted`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerSinkConfig {
    /// Names the sink in metrics, logs and the outbox; `alertmanager` when absent.
    pub name: Option<String>,
    /// The Alertmanager's base URL, e.g. `http://alertmanager:9093/`.
    pub url: String,
    /// How often the alerts of open tickets are re-sent (they end four intervals after
    /// the last send, as Prometheus's do).
    #[serde(
        default = "default_resend_interval",
        deserialize_with = "duration::deserialize"
    )]
    pub resend_interval: Duration,
    /// Per attempt.
    #[serde(
        default = "default_timeout",
        deserialize_with = "duration::deserialize"
    )]
    pub timeout: Duration,
}

fn default_resend_interval() -> Duration {
    Duration::from_secs(60)
}

/// An Alertmanager sink, checked.
#[derive(Debug, Clone)]
pub struct AlertmanagerSpec {
    pub name: String,
    /// Ends with `/`.
    pub url: reqwest::Url,
    pub resend_interval: Duration,
    pub timeout: Duration,
}

/// One JSON line per action.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// Names the sink in metrics, logs and the outbox; `file` when absent.
    pub name: Option<String>,
    /// The file appended to; `<data_dir>/tickets.jsonl` when absent.
    pub path: Option<PathBuf>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// The tickets section, checked.
#[derive(Debug, Clone)]
pub struct ValidTickets {
    pub sinks: Vec<SinkSpec>,
    pub backoff: Backoff,
}

#[derive(Debug, Clone)]
pub enum SinkSpec {
    File { name: String, path: Option<PathBuf> },
    Webhook(Box<WebhookSpec>),
    Alertmanager(AlertmanagerSpec),
    Redmine(Box<RedmineSpec>),
}

impl SinkSpec {
    pub fn name(&self) -> &str {
        match self {
            SinkSpec::File { name, .. } => name,
            SinkSpec::Webhook(spec) => &spec.name,
            SinkSpec::Alertmanager(spec) => &spec.name,
            SinkSpec::Redmine(spec) => &spec.name,
        }
    }
}

impl TicketsConfig {
    /// Checks every sink, pushing each problem (prefixed `tickets.`) to `problems`.
    pub fn validate(&self, problems: &mut Vec<String>) -> Option<ValidTickets> {
        let before = problems.len();
        if self.initial_backoff.is_zero() || self.initial_backoff > self.max_backoff {
            problems.push(
                "tickets.initial_backoff: must be greater than 0 and at most max_backoff"
                    .to_owned(),
            );
        }
        let mut sinks = Vec::new();
        for (index, sink) in self.sinks.iter().enumerate() {
            let field = format!("tickets.sinks[{index}]");
            let spec = match sink {
                SinkConfig::File(file) => Some(SinkSpec::File {
                    name: file.name.clone().unwrap_or_else(|| "file".to_owned()),
                    path: file.path.clone(),
                }),
                SinkConfig::Webhook(webhook) => webhook
                    .validate(&field, problems)
                    .map(|spec| SinkSpec::Webhook(Box::new(spec))),
                SinkConfig::Alertmanager(am) => {
                    am.validate(&field, problems).map(SinkSpec::Alertmanager)
                }
                SinkConfig::Redmine(redmine) => redmine
                    .validate(&field, problems)
                    .map(|spec| SinkSpec::Redmine(Box::new(spec))),
            };
            let Some(spec) = spec else { continue };
            let name = spec.name();
            if name.is_empty() || sinks.iter().any(|s: &SinkSpec| s.name() == name) {
                problems.push(format!(
                    "{field}.name: {name:?} must be non-empty and unique among the sinks"
                ));
            }
            sinks.push(spec);
        }
        (problems.len() == before).then_some(ValidTickets {
            sinks,
            backoff: Backoff {
                initial: self.initial_backoff,
                max: self.max_backoff,
            },
        })
    }
}

impl AlertmanagerSinkConfig {
    fn validate(&self, field: &str, problems: &mut Vec<String>) -> Option<AlertmanagerSpec> {
        let with_slash = if self.url.ends_with('/') {
            self.url.clone()
        } else {
            format!("{}/", self.url)
        };
        let url = reqwest::Url::parse(&with_slash)
            .map_err(|e| problems.push(format!("{field}.url: {:?}: {e}", self.url)))
            .ok()?;
        if self.resend_interval.is_zero() {
            problems.push(format!("{field}.resend_interval: must be greater than 0"));
            return None;
        }
        Some(AlertmanagerSpec {
            name: self
                .name
                .clone()
                .unwrap_or_else(|| "alertmanager".to_owned()),
            url,
            resend_interval: self.resend_interval,
            timeout: self.timeout,
        })
    }
}
