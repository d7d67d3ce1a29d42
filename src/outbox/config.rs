//! The `tickets:` section of the configuration: the sinks every ticket action is
//! delivered to, and how patiently.
//!
//! In: the YAML structs, strict. Out: [`ValidTickets`], with URLs parsed, secrets
//! loaded and body templates checked, or every problem at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

use super::redmine::{RedmineSinkConfig, RedmineSpec};
use super::template::Template;
use crate::config::{Secret, duration};
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

/// A REST ticket API: POST creates, PATCH (or PUT) updates and resolves.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookSinkConfig {
    /// Names the sink in metrics, logs and the outbox; `webhook` when absent.
    pub name: Option<String>,
    /// Opens are POSTed here, e.g. `https://desk.example/api/tickets/`.
    pub url: String,
    /// Updates go here, `{id}` replaced by the created ticket's id; absent: `url`
    /// followed by `{id}/` (Django REST's detail route). Unused when the create answer
    /// carries no id but a `Location` header: updates go to that URL.
    pub ticket_url: Option<String>,
    /// `PATCH` or `PUT`.
    #[serde(default)]
    pub update_method: UpdateMethod,
    /// JSON pointer to the created ticket's id in the create answer; `/id` when absent.
    pub id_pointer: Option<String>,
    /// Extra headers on every request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `Authorization: Bearer <token>`, the token read from this file...
    pub bearer_token_file: Option<PathBuf>,
    /// ...or from this environment variable.
    pub bearer_token_env: Option<String>,
    /// Per attempt; an attempt that takes longer is retried.
    #[serde(
        default = "default_timeout",
        deserialize_with = "duration::deserialize"
    )]
    pub timeout: Duration,
    /// The JSON body, its string leaves holding `{{path}}` placeholders; the default
    /// body (schema in `schemas/webhook-body.schema.json`) when absent.
    pub body: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum UpdateMethod {
    #[default]
    Patch,
    Put,
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

#[derive(Debug, Clone)]
pub struct WebhookSpec {
    pub name: String,
    pub url: reqwest::Url,
    /// Holds `{id}`.
    pub ticket_url: String,
    pub update_method: reqwest::Method,
    pub id_pointer: String,
    /// Authorization included, marked sensitive so that it is never printed.
    pub headers: HeaderMap,
    pub timeout: Duration,
    pub body: Template,
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

impl WebhookSinkConfig {
    fn validate(&self, field: &str, problems: &mut Vec<String>) -> Option<WebhookSpec> {
        let before = problems.len();
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| problems.push(format!("{field}.url: {:?}: {e}", self.url)))
            .ok();
        let ticket_url = match &self.ticket_url {
            Some(template) => template.clone(),
            None if self.url.ends_with('/') => format!("{}{{id}}/", self.url),
            None => format!("{}/{{id}}/", self.url),
        };
        // A default ticket_url derived from a bad url says nothing new.
        if url.is_some() || self.ticket_url.is_some() {
            match reqwest::Url::parse(&ticket_url.replace("{id}", "1")) {
                Err(e) => problems.push(format!("{field}.ticket_url: {ticket_url:?}: {e}")),
                Ok(_) if !ticket_url.contains("{id}") => {
                    problems.push(format!("{field}.ticket_url: {ticket_url:?} has no {{id}}"))
                }
                Ok(_) => {}
            }
        }
        let id_pointer = self.id_pointer.clone().unwrap_or_else(|| "/id".to_owned());
        if !id_pointer.starts_with('/') {
            problems.push(format!(
                "{field}.id_pointer: {id_pointer:?} is not a JSON pointer (e.g. /id)"
            ));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            match (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) {
                (Ok(name), Ok(value)) => {
                    headers.insert(name, value);
                }
                _ => problems.push(format!(
                    "{field}.headers: {name:?} is not a valid header name and value"
                )),
            }
        }
        if self.bearer_token_file.is_some() || self.bearer_token_env.is_some() {
            let token = Secret::load(
                &format!("{field}.bearer_token"),
                &self.bearer_token_file,
                &self.bearer_token_env,
            );
            match token.map(|t| HeaderValue::try_from(format!("Bearer {}", t.expose()))) {
                Ok(Ok(mut value)) => {
                    value.set_sensitive(true);
                    headers.insert(AUTHORIZATION, value);
                }
                Ok(Err(_)) => problems.push(format!(
                    "{field}.bearer_token: the token is not a valid header value"
                )),
                Err(problem) => problems.push(problem),
            }
        }
        if self.timeout.is_zero() {
            problems.push(format!("{field}.timeout: must be greater than 0"));
        }
        let body = match &self.body {
            None => Some(Template::default_body()),
            Some(value) => Template::parse(value.clone())
                .map_err(|e| problems.push(format!("{field}.body: {e}")))
                .ok(),
        };
        match (problems.len() == before, url, body) {
            (true, Some(url), Some(body)) => Some(WebhookSpec {
                name: self.name.clone().unwrap_or_else(|| "webhook".to_owned()),
                url,
                ticket_url,
                update_method: match self.update_method {
                    UpdateMethod::Patch => reqwest::Method::PATCH,
                    UpdateMethod::Put => reqwest::Method::PUT,
                },
                id_pointer,
                headers,
                timeout: self.timeout,
                body,
            }),
            _ => None,
        }
    }
}
