//! `harbinger check --kafka`: asks the brokers for the topic, as a receiver does at
//! start.
//!
//! In: a `ValidKafka`. Out: the topic's partition count and the brokers that answered,
//! or an error saying which of the two failed.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;

use super::client::{Logged, client_config};
use crate::config::ValidKafka;

/// What the brokers said of the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicReport {
    pub brokers: Vec<String>,
    pub partitions: usize,
}

/// Fetches the topic's metadata within `timeout`.
pub fn check(kafka: &ValidKafka, timeout: Duration) -> Result<TopicReport, String> {
    let topic = &kafka.config.topic;
    let client: BaseConsumer<Logged> = client_config(kafka)
        .create_with_context(Logged)
        .map_err(|e| format!("creating the Kafka client: {e}"))?;
    let metadata = client.fetch_metadata(Some(topic), timeout).map_err(|e| {
        format!(
            "no answer from the brokers {} within {timeout:?}: {e}",
            kafka.config.brokers.join(",")
        )
    })?;
    let brokers = metadata
        .brokers()
        .iter()
        .map(|b| format!("{}:{}", b.host(), b.port()))
        .collect();
    let described = metadata.topics().iter().find(|t| t.name() == topic);
    match described {
        Some(t) if t.error().is_none() && !t.partitions().is_empty() => Ok(TopicReport {
            brokers,
            partitions: t.partitions().len(),
        }),
        Some(t) => Err(format!(
            "topic {topic:?}: {} (create it first, e.g. kafka-topics.sh --create --topic {topic} --partitions 12)",
            t.error().map_or("no partitions".to_owned(), |e| format!(
                "{:?}",
                RDKafkaErrorCode::from(e)
            ))
        )),
        None => Err(format!("topic {topic:?}: the brokers do not know it")),
    }
}
