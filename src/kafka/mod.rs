//! Scale-out over Kafka: `serve --role receiver` publishes what it accepts to a topic,
//! `serve --role worker` scores the partitions the consumer group gives it. The layout
//! Grafana Mimir's ingest storage uses: stateless receivers, stateful consumers, every
//! series of one entity in one partition.
//!
//! - `record`: the record format and the entity partitioner;
//! - `publish`: the receiver's producer (acks=all before 204, 503 when it cannot);
//! - `consume`: the worker's consumer (warm-up, at-least-once commits, revocation), and
//!   `rebalance`, its consumer context (where an assigned partition starts reading);
//! - `durable`: offsets are committed only once the actions their records decided are
//!   stored;
//! - `check`: `harbinger check --kafka`: the brokers answer and the topic exists;
//! - `client`: librdkafka settings from the `kafka:` section, logs into `tracing`.

mod check;
mod client;
mod consume;
mod durable;
mod publish;
mod rebalance;
mod record;

pub use check::{TopicReport, check};
pub use consume::{Scoring, spawn};
pub use publish::{PublishError, Publisher};
pub use record::{FORMAT_HEADER, FORMAT_V1, Partitioner, Record, TENANT_HEADER};
