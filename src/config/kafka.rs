//! The `kafka:` section: where receivers publish and workers consume when `serve` runs
//! in the `receiver` or `worker` role.
//!
//! In: the YAML section. Out: a `ValidKafka` with its secrets loaded, or problems naming
//! the field. Nothing here talks to a broker (`harbinger check --kafka` does).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::Secret;
use super::duration;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `host:port`.
    pub brokers: Vec<String>,
    /// The topic receivers publish to and workers consume; create it before starting,
    /// with as many partitions as you may ever run workers (never change the count of a
    /// running topic: entities would move between partitions).
    pub topic: String,
    /// The workers' consumer group.
    pub group: String,
    /// The client id brokers log and quota by.
    pub client_id: String,
    /// How long a write request waits for the broker's acknowledgement (acks=all) before
    /// it is answered 503, for Prometheus to retry.
    #[serde(deserialize_with = "duration::deserialize")]
    pub produce_timeout: Duration,
    /// How far back a worker re-reads a partition it is given, to rebuild its entities'
    /// rolling state before it scores; by default, what the pipeline's features need.
    #[serde(deserialize_with = "duration::deserialize_option")]
    pub warm_up: Option<Duration>,
    pub tls: Option<KafkaTlsConfig>,
    pub sasl: Option<KafkaSaslConfig>,
    /// librdkafka properties for what this section does not name (e.g.
    /// `socket.keepalive.enable: "true"`); they override harbinger's own settings.
    pub options: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: Vec::new(),
            topic: "harbinger-samples".to_owned(),
            group: "harbinger-workers".to_owned(),
            client_id: "harbinger".to_owned(),
            produce_timeout: Duration::from_secs(10),
            warm_up: None,
            tls: None,
            sasl: None,
            options: BTreeMap::new(),
        }
    }
}

/// TLS to the brokers; the system's CA bundle when `ca_file` is absent.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KafkaTlsConfig {
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key, for brokers that authenticate clients by TLS.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum SaslMechanism {
    #[serde(rename = "PLAIN")]
    Plain,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// SASL authentication; the password from a file or an environment variable.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KafkaSaslConfig {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
}

/// A checked `kafka:` section.
#[derive(Debug, Clone)]
pub struct ValidKafka {
    pub config: KafkaConfig,
    /// The SASL password, loaded.
    pub sasl_password: Option<Secret>,
}

impl KafkaConfig {
    pub fn validate(&self, problems: &mut Vec<String>) -> Option<ValidKafka> {
        let before = problems.len();
        if self.brokers.is_empty() {
            problems.push("kafka.brokers: name at least one broker (host:port)".to_owned());
        }
        for broker in &self.brokers {
            let port = broker.rsplit_once(':').map(|(_, port)| port.parse::<u16>());
            if !matches!(port, Some(Ok(_))) {
                problems.push(format!("kafka.brokers: {broker:?} is not host:port"));
            }
        }
        for (field, value) in [
            ("topic", &self.topic),
            ("group", &self.group),
            ("client_id", &self.client_id),
        ] {
            if value.is_empty() {
                problems.push(format!("kafka.{field}: must not be empty"));
            }
        }
        if self.produce_timeout < Duration::from_millis(100) {
            problems.push(format!(
                "kafka.produce_timeout ({}): must be at least 100ms",
                duration::format(self.produce_timeout)
            ));
        }
        if let Some(tls) = &self.tls {
            if tls.cert_file.is_some() != tls.key_file.is_some() {
                problems.push("kafka.tls: set both cert_file and key_file, or neither".to_owned());
            }
            for (field, path) in [
                ("ca_file", &tls.ca_file),
                ("cert_file", &tls.cert_file),
                ("key_file", &tls.key_file),
            ] {
                if let Some(path) = path
                    && !path.is_file()
                {
                    problems.push(format!(
                        "kafka.tls.{field}: {} is not a readable file",
                        path.display()
                    ));
                }
            }
        }
        let sasl_password = self.sasl.as_ref().and_then(|sasl| {
            if sasl.username.is_empty() {
                problems.push("kafka.sasl.username: must not be empty".to_owned());
            }
            Secret::load(
                "kafka.sasl.password",
                &sasl.password_file,
                &sasl.password_env,
            )
            .map_err(|problem| problems.push(problem))
            .ok()
        });
        (problems.len() == before).then(|| ValidKafka {
            config: self.clone(),
            sasl_password,
        })
    }
}
