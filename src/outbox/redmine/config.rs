//! The `redmine` sink's configuration: where the Redmine is, the key, and what issues
//! it creates (project, tracker, priority) and closes with (a status per outcome).

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::HeaderValue;
use serde::Deserialize;

use crate::config::{Secret, duration};

/// A Redmine: an open creates an issue, update and confirm add notes, resolve sets a
/// status that depends on the outcome.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedmineSinkConfig {
    /// Names the sink in metrics, logs and the outbox; `redmine` when absent.
    pub name: Option<String>,
    /// The Redmine's base URL, e.g. `https://redmine.example/`.
    pub url: String,
    /// The REST API key (My account → API access key), read from this file...
    pub api_key_file: Option<PathBuf>,
    /// ...or from this environment variable.
    pub api_key_env: Option<String>,
    /// The project's identifier (`ops`) or id.
    pub project: String,
    /// The tracker's name (`Support`) or id; the project's default when absent.
    pub tracker: Option<String>,
    /// The priority's name (`High`) or id; Redmine's default when absent.
    pub priority: Option<String>,
    /// The status a ticket is resolved with when its rule fired (name or id).
    #[serde(default = "default_materialised")]
    pub materialised_status: String,
    /// The status a ticket is resolved with when the risk went away without the rule
    /// firing (name or id).
    #[serde(default = "default_averted")]
    pub averted_status: String,
    /// Per request; an attempt that takes longer is retried.
    #[serde(
        default = "default_timeout",
        deserialize_with = "duration::deserialize"
    )]
    pub timeout: Duration,
}

fn default_materialised() -> String {
    "Closed".to_owned()
}

fn default_averted() -> String {
    "Rejected".to_owned()
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// A Redmine sink, checked.
#[derive(Debug, Clone)]
pub struct RedmineSpec {
    pub name: String,
    /// Ends with `/`.
    pub url: reqwest::Url,
    /// `X-Redmine-API-Key`'s value, marked sensitive so that it is never printed.
    pub api_key: HeaderValue,
    pub project: String,
    pub tracker: Option<String>,
    pub priority: Option<String>,
    pub materialised_status: String,
    pub averted_status: String,
    pub timeout: Duration,
}

impl RedmineSinkConfig {
    /// The checked sink; each problem, prefixed with `field`, pushed to `problems`.
    pub fn validate(&self, field: &str, problems: &mut Vec<String>) -> Option<RedmineSpec> {
        let before = problems.len();
        let with_slash = match self.url.ends_with('/') {
            true => self.url.clone(),
            false => format!("{}/", self.url),
        };
        let url = reqwest::Url::parse(&with_slash)
            .map_err(|e| problems.push(format!("{field}.url: {:?}: {e}", self.url)))
            .ok();
        let api_key = Secret::load(
            &format!("{field}.api_key"),
            &self.api_key_file,
            &self.api_key_env,
        )
        .map_err(|problem| problems.push(problem))
        .ok()
        .and_then(|key| match HeaderValue::try_from(key.expose()) {
            Ok(mut value) => {
                value.set_sensitive(true);
                Some(value)
            }
            Err(_) => {
                problems.push(format!(
                    "{field}.api_key: the key is not a valid header value"
                ));
                None
            }
        });
        if self.project.trim().is_empty() {
            problems.push(format!(
                "{field}.project: name the project's identifier or id"
            ));
        }
        if self.timeout.is_zero() {
            problems.push(format!("{field}.timeout: must be greater than 0"));
        }
        match (problems.len() == before, url, api_key) {
            (true, Some(url), Some(api_key)) => Some(RedmineSpec {
                name: self.name.clone().unwrap_or_else(|| "redmine".to_owned()),
                url,
                api_key,
                project: self.project.clone(),
                tracker: self.tracker.clone(),
                priority: self.priority.clone(),
                materialised_status: self.materialised_status.clone(),
                averted_status: self.averted_status.clone(),
                timeout: self.timeout,
            }),
            _ => None,
        }
    }
}
