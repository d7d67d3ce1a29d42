//! The YAML configuration: structs, their defaults, and validation.
//!
//! In: a YAML file (or nothing: every field has a default, so `serve` runs on embedded
//! defaults). Out: a `Config` whose every field was checked, with secrets loaded, or a
//! `ConfigError` listing every problem at once. Parsing is strict: an unknown key is an
//! error naming the key and its line. `deploy/harbinger.yml` documents every field and
//! is itself checked by the tests.

pub mod duration;
mod kafka;
mod secret;
mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytesize::ByteSize;
use serde::Deserialize;

pub use kafka::{KafkaConfig, KafkaSaslConfig, KafkaTlsConfig, SaslMechanism, ValidKafka};
pub use secret::Secret;
pub use tls::{ClientAuthType, TlsServerConfig};

use crate::ingest::{DecodeLimits, LabelLimits};
use crate::model::{BudgetChoice, Budgets, Model};
use crate::outbox::{TicketsConfig, ValidTickets};
use crate::pipeline::Pipeline;

/// Everything `harbinger serve` reads from its configuration file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address of the HTTP server (remote write, /metrics, health).
    pub listen: SocketAddr,
    /// Directory for harbinger's state (created if missing).
    pub data_dir: PathBuf,
    /// How long shutdown may take (stop accepting, drain the queue) before exiting.
    #[serde(deserialize_with = "duration::deserialize")]
    pub shutdown_timeout: Duration,
    /// How long a client may take to send a request's head, and sit idle on a kept-alive
    /// connection before its next request; the connection is closed past it (the
    /// connections that send nothing, slowloris). It also bounds the TLS handshake.
    #[serde(deserialize_with = "duration::deserialize")]
    pub read_header_timeout: Duration,
    /// How long a client may take to send a request's body (503 past it: send it again).
    #[serde(deserialize_with = "duration::deserialize")]
    pub read_timeout: Duration,
    /// HTTPS, and client certificates if asked (Prometheus's web config shape); plain
    /// HTTP when absent.
    pub tls_server_config: Option<TlsServerConfig>,
    pub ingest: IngestConfig,
    /// Authentication required on `POST /api/v1/write`; none when absent.
    pub write_auth: Option<WriteAuthConfig>,
    /// The pipeline whose signals and features are evaluated on the live samples; the
    /// built-in copy of `pipelines/node-exporter.yml` when absent.
    pub pipeline: Option<PathBuf>,
    /// The model (from `harbinger train`) that scores the pipeline's targets. When
    /// absent: the built-in copy of `models/default.json` with the built-in pipeline;
    /// with another pipeline, no model, and tickets open on the first-passage probability
    /// alone ([`crate::model::Policy::untrained`]).
    pub model: Option<PathBuf>,
    /// At most this many false tickets per entity and day, per target (alert name) or
    /// `default` for the others: each target then opens tickets by the policy of its
    /// model's front that is the best by the policy objective (episodes caught and their
    /// lead, less false tickets) within it, on held-out figures (see `model::front`).
    /// Empty: each target's trained policy.
    pub false_ticket_budget: Budgets,
    /// The Prometheus whose graph page tickets link to (e.g. `http://prometheus:9090/`);
    /// no link when absent.
    pub prometheus_url: Option<String>,
    /// Where ticket actions are delivered (a JSON-lines file in `data_dir` when absent).
    pub tickets: TicketsConfig,
    /// The topic between receivers and workers (`serve --role receiver|worker`).
    pub kafka: Option<KafkaConfig>,
}

/// Limits and queues of the remote-write receiver.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Largest compressed request body; larger ones are answered 400.
    pub max_body_bytes: ByteSize,
    /// Largest decompressed body, read from the snappy header before allocating (400).
    pub max_decoded_bytes: ByteSize,
    /// Most labels one series may carry; a series past it is refused.
    pub max_labels_per_series: usize,
    /// Longest label name in bytes; a series past it is refused.
    pub max_label_name_bytes: usize,
    /// Longest label value in bytes; a series past it is refused.
    pub max_label_value_bytes: usize,
    /// Cap on active series; samples of new series past it are dropped and counted.
    pub max_active_series: usize,
    /// A series with no new sample for this long is evicted.
    #[serde(deserialize_with = "duration::deserialize")]
    pub series_idle_timeout: Duration,
    /// Batches waiting for the pipeline; when full, writes are answered 503.
    pub queue_capacity: usize,
    /// Write requests decoded at once; more wait up to 10 s for a turn, then are answered
    /// 503. Bodies are read outside the turns, frame by frame, from a budget of
    /// `max_concurrent_writes × max_body_bytes` bytes (10 s to find room, then 503): a
    /// sender that stalls mid-body holds only what it sent. Bodies and their decoding
    /// take at most `max_concurrent_writes × (max_body_bytes + max_decoded_bytes)`,
    /// whatever the number of connections.
    pub max_concurrent_writes: usize,
}

/// How remote-write senders authenticate: set exactly one of `bearer` and `basic`.
/// Secrets come from a file or an environment variable, never from this file, and are
/// never logged.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WriteAuthConfig {
    /// `Authorization: Bearer <token>`, as Prometheus's `authorization` block sends.
    pub bearer: Option<BearerConfig>,
    /// `Authorization: Basic ...`, as Prometheus's `basic_auth` block sends.
    pub basic: Option<BasicConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BearerConfig {
    /// File holding the token (surrounding whitespace is ignored).
    pub token_file: Option<PathBuf>,
    /// Environment variable holding the token.
    pub token_env: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BasicConfig {
    pub username: String,
    /// File holding the password (surrounding whitespace is ignored).
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([0, 0, 0, 0], 9799)),
            data_dir: PathBuf::from("data"),
            shutdown_timeout: Duration::from_secs(30),
            read_header_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            tls_server_config: None,
            ingest: IngestConfig::default(),
            write_auth: None,
            pipeline: None,
            model: None,
            false_ticket_budget: Budgets::new(),
            prometheus_url: None,
            tickets: TicketsConfig::default(),
            kafka: None,
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        let decode = DecodeLimits::default();
        IngestConfig {
            max_body_bytes: ByteSize::mib(32),
            max_decoded_bytes: ByteSize::b(decode.max_decoded_bytes as u64),
            max_labels_per_series: decode.labels.max_labels_per_series,
            max_label_name_bytes: decode.labels.max_name_bytes,
            max_label_value_bytes: decode.labels.max_value_bytes,
            max_active_series: 2_000_000,
            series_idle_timeout: Duration::from_secs(15 * 60),
            queue_capacity: 1024,
            max_concurrent_writes: 8,
        }
    }
}

impl IngestConfig {
    /// The bytes every body being read may hold together:
    /// `max_concurrent_writes × max_body_bytes`, within what a semaphore counts.
    pub fn body_bytes_budget(&self) -> usize {
        let body = usize::try_from(self.max_body_bytes.as_u64()).unwrap_or(usize::MAX);
        (self.max_concurrent_writes.saturating_mul(body)).min(tokio::sync::Semaphore::MAX_PERMITS)
    }

    pub fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_decoded_bytes: self.max_decoded_bytes.as_u64() as usize,
            labels: LabelLimits {
                max_labels_per_series: self.max_labels_per_series,
                max_name_bytes: self.max_label_name_bytes,
                max_value_bytes: self.max_label_value_bytes,
            },
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {}", problem_list(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

/// Every problem found, counted and one per line, as `check` and loading report them.
pub fn problem_list(problems: &[impl std::fmt::Display]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
    format!("{} problem(s):\n{}", problems.len(), lines.join("\n"))
}

/// A configuration that passed validation, with its secrets and pipeline loaded.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    pub config: Config,
    pub write_auth: Option<WriteAuth>,
    pub pipeline: Pipeline,
    /// None: a pipeline of the user's without a model.
    pub model: Option<Model>,
    pub tickets: ValidTickets,
    /// `prometheus_url`, parsed, ending with `/`.
    pub prometheus_url: Option<reqwest::Url>,
    pub kafka: Option<ValidKafka>,
    /// The listener's TLS, from `tls_server_config`.
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// The policy `false_ticket_budget` picked for each target it applies to.
    pub budget_choices: Vec<BudgetChoice>,
}

impl ValidConfig {
    /// Where the model scoring comes from, as logs and the status page say it.
    pub fn model_source(&self) -> String {
        match (&self.config.model, &self.model) {
            (Some(path), _) => format!("the model at {}", path.display()),
            (None, Some(_)) => "the built-in default model".to_owned(),
            (None, None) => "no model: tickets on the first-passage probability".to_owned(),
        }
    }
}

/// Credentials a write request must present.
#[derive(Debug, Clone)]
pub enum WriteAuth {
    Bearer(Secret),
    Basic { username: String, password: Secret },
}

impl Config {
    /// Reads and parses a file, strictly; it is not validated yet.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_yaml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    pub fn from_yaml(text: &str) -> Result<Config, String> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks every field and loads secrets, reporting all problems at once. `origin`
    /// names the file (or "defaults") in the error.
    pub fn validate(self, origin: &Path) -> Result<ValidConfig, ConfigError> {
        let mut problems = Vec::new();
        let ingest = &self.ingest;
        let positive = [
            (
                "ingest.max_body_bytes",
                ingest.max_body_bytes.as_u64() as usize,
            ),
            (
                "ingest.max_decoded_bytes",
                ingest.max_decoded_bytes.as_u64() as usize,
            ),
            ("ingest.max_labels_per_series", ingest.max_labels_per_series),
            ("ingest.max_label_name_bytes", ingest.max_label_name_bytes),
            ("ingest.max_label_value_bytes", ingest.max_label_value_bytes),
            ("ingest.max_active_series", ingest.max_active_series),
            ("ingest.queue_capacity", ingest.queue_capacity),
            ("ingest.max_concurrent_writes", ingest.max_concurrent_writes),
        ];
        for (field, value) in positive {
            if value == 0 {
                problems.push(format!("{field}: must be greater than 0"));
            }
        }
        // Spans into a decoded body are 32-bit.
        if ingest.max_decoded_bytes.as_u64() >= 4 << 30 {
            problems.push("ingest.max_decoded_bytes: must be below 4 GiB".to_owned());
        }
        if ingest.max_decoded_bytes < ingest.max_body_bytes {
            problems.push(format!(
                "ingest.max_decoded_bytes ({}) is smaller than ingest.max_body_bytes ({}): snappy never shrinks a body that much",
                ingest.max_decoded_bytes, ingest.max_body_bytes
            ));
        }
        if ingest.series_idle_timeout < Duration::from_secs(60) {
            problems.push(format!(
                "ingest.series_idle_timeout ({}): must be at least 1m, or series of a normal scrape interval would be evicted between samples",
                duration::format(ingest.series_idle_timeout)
            ));
        }
        for (field, timeout) in [
            ("shutdown_timeout", self.shutdown_timeout),
            ("read_header_timeout", self.read_header_timeout),
            ("read_timeout", self.read_timeout),
        ] {
            if timeout.is_zero() {
                problems.push(format!("{field}: must be greater than 0"));
            }
        }
        let tls = self
            .tls_server_config
            .as_ref()
            .and_then(|tls| tls.load(&mut problems));
        let write_auth = self
            .write_auth
            .as_ref()
            .and_then(|auth| load_write_auth(auth, &mut problems));
        let pipeline = match &self.pipeline {
            None => Some(Pipeline::embedded_default()),
            Some(path) => Pipeline::load(path)
                .map_err(|e| problems.push(format!("pipeline: {e}")))
                .ok(),
        };
        let model = match (&self.model, &self.pipeline) {
            (Some(path), _) => Model::load(path)
                .map_err(|e| problems.push(format!("model: {e}")))
                .ok(),
            (None, None) => Some(Model::embedded_default()),
            (None, Some(_)) => None,
        };
        if let (Some(pipeline), Some(model)) = (&pipeline, &model)
            && let Err(e) = model.check(pipeline)
        {
            problems.push(format!("model: {e}"));
        }
        let mut model = model;
        let budget_choices = self.spend_budgets(pipeline.as_ref(), model.as_mut(), &mut problems);
        let tickets = self.tickets.validate(&mut problems);
        let prometheus_url = self.prometheus_url.as_ref().and_then(|url| {
            let with_slash = if url.ends_with('/') {
                url.clone()
            } else {
                format!("{url}/")
            };
            reqwest::Url::parse(&with_slash)
                .map_err(|e| problems.push(format!("prometheus_url: {url:?}: {e}")))
                .ok()
        });
        let kafka = self.kafka.as_ref().and_then(|k| k.validate(&mut problems));
        if let (true, Some(pipeline), Some(tickets)) = (problems.is_empty(), pipeline, tickets) {
            Ok(ValidConfig {
                config: self,
                write_auth,
                pipeline,
                model,
                budget_choices,
                tickets,
                prometheus_url,
                kafka,
                tls,
            })
        } else {
            Err(ConfigError::Invalid {
                path: origin.to_owned(),
                problems,
            })
        }
    }
}

impl Config {
    /// Checks `false_ticket_budget` against the pipeline and applies it to the model
    /// (see [`Model::spend`]).
    fn spend_budgets(
        &self,
        pipeline: Option<&Pipeline>,
        model: Option<&mut Model>,
        problems: &mut Vec<String>,
    ) -> Vec<BudgetChoice> {
        let budgets = &self.false_ticket_budget;
        if budgets.is_empty() {
            return Vec::new();
        }
        let targets: Vec<&str> = pipeline
            .into_iter()
            .flat_map(|p| p.targets.iter().map(|t| t.alert.as_str()))
            .collect();
        if pipeline.is_some() {
            let found = crate::model::front::problems(budgets, &targets);
            problems.extend(found.iter().map(|p| format!("false_ticket_budget.{p}")));
        }
        match model {
            // A model that did not load has said so already.
            None if self.model.is_some() => Vec::new(),
            None => {
                problems.push(
                    "false_ticket_budget: there is no model to pick policies from (a `pipeline` without a `model` opens tickets on the first-passage probability alone); set `model`".to_owned(),
                );
                Vec::new()
            }
            Some(model) => model.spend(budgets),
        }
    }
}

fn load_write_auth(auth: &WriteAuthConfig, problems: &mut Vec<String>) -> Option<WriteAuth> {
    match (&auth.bearer, &auth.basic) {
        (Some(bearer), None) => Secret::load(
            "write_auth.bearer.token",
            &bearer.token_file,
            &bearer.token_env,
        )
        .map_err(|p| problems.push(p))
        .ok()
        .map(WriteAuth::Bearer),
        (None, Some(basic)) => {
            if basic.username.is_empty() || basic.username.contains(':') {
                problems.push(
                    "write_auth.basic.username: must be non-empty and without ':'".to_owned(),
                );
            }
            Secret::load(
                "write_auth.basic.password",
                &basic.password_file,
                &basic.password_env,
            )
            .map_err(|p| problems.push(p))
            .ok()
            .map(|password| WriteAuth::Basic {
                username: basic.username.clone(),
                password,
            })
        }
        _ => {
            problems.push("write_auth: set exactly one of bearer and basic".to_owned());
            None
        }
    }
}

#[cfg(test)]
mod tests;
