//! What every Kafka client of harbinger shares: its librdkafka settings from the
//! `kafka:` section, and a context that sends librdkafka's logs to `tracing`.
//!
//! In: a `ValidKafka`. Out: a `ClientConfig` (brokers, client id, TLS, SASL, then the
//! section's raw `options`, which win) and `Logged`, the client context.

use std::time::Instant;

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;

use crate::config::ValidKafka;
use crate::telemetry::throttle::{LOGS, Say};

/// librdkafka settings for a client of the configured brokers.
pub fn client_config(kafka: &ValidKafka) -> ClientConfig {
    let config = &kafka.config;
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", config.brokers.join(","))
        .set("client.id", &config.client_id)
        .set_log_level(RDKafkaLogLevel::Warning);
    let protocol = match (config.tls.is_some(), config.sasl.is_some()) {
        (false, false) => "plaintext",
        (true, false) => "ssl",
        (false, true) => "sasl_plaintext",
        (true, true) => "sasl_ssl",
    };
    client.set("security.protocol", protocol);
    if let Some(tls) = &config.tls {
        for (key, path) in [
            ("ssl.ca.location", &tls.ca_file),
            ("ssl.certificate.location", &tls.cert_file),
            ("ssl.key.location", &tls.key_file),
        ] {
            if let Some(path) = path {
                client.set(key, path.display().to_string());
            }
        }
    }
    if let (Some(sasl), Some(password)) = (&config.sasl, &kafka.sasl_password) {
        client
            .set("sasl.mechanisms", sasl.mechanism.name())
            .set("sasl.username", &sasl.username)
            .set("sasl.password", password.expose());
    }
    for (key, value) in &config.options {
        client.set(key, value);
    }
    client
}

/// A client context that logs through `tracing`, with librdkafka's facility; errors
/// that repeat are throttled (`telemetry::throttle`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Logged;

impl ClientContext for Logged {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        global_error(error, reason);
    }
}

/// librdkafka's global errors (`AllBrokersDown` while a broker is away, about once a
/// second), one cause per error code.
pub(super) fn global_error(error: KafkaError, reason: &str) {
    let kind = error
        .rdkafka_error_code()
        .map_or_else(|| "other".to_owned(), |code| format!("{code:?}"));
    throttled_error(&format!("kafka:{kind}"), &format!("{error}: {reason}"));
}

/// An error line from librdkafka: the first of its cause, then a summary a minute
/// (until `recovered`).
fn throttled_error(cause: &str, text: &str) {
    match LOGS.occurred(cause, Instant::now()) {
        Say::First => tracing::error!(cause, "librdkafka: {text}"),
        Say::Summary { held, total } => tracing::error!(
            cause,
            held,
            total,
            "librdkafka: {text} (still; {held} more since the last line)"
        ),
        Say::Nothing => {}
    }
}

/// Kafka answered: logs, once, each error kind that had been held back.
pub(super) fn recovered() {
    for cause in LOGS.recovered("kafka:", Instant::now()) {
        tracing::info!(
            cause = cause.cause,
            errors = cause.total,
            lasted_seconds = cause.lasted.as_secs(),
            "Kafka is answering again"
        );
    }
}

impl ConsumerContext for Logged {}

pub(super) fn log(level: RDKafkaLogLevel, facility: &str, message: &str) {
    use RDKafkaLogLevel::*;
    match level {
        Emerg | Alert | Critical | Error => {
            throttled_error(&format!("kafka:log:{facility}"), message)
        }
        Warning => tracing::warn!(facility, "librdkafka: {message}"),
        Notice | Info => tracing::info!(facility, "librdkafka: {message}"),
        Debug => tracing::debug!(facility, "librdkafka: {message}"),
    }
}
