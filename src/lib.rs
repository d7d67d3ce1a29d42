//! harbinger: a ticket before the Prometheus alert fires.
//!
//! A map of the crate, in the order data flows through it:
//!
//! - [`ingest`]: remote-write bodies (1.0 and 2.0, snappy protobuf) in, validated
//!   `WriteBatch`es out. Pure functions, no shared state.
//! - [`registry`]: the active series, each label set interned once; applies batches,
//!   drops samples that are not newer than their series' last one, evicts ended series.
//! - [`pipeline`]: the consumer at the end of the bounded queue that receives accepted
//!   samples and evictions; pipeline definitions, and the engine that evaluates their
//!   signals and features at each step.
//! - [`promql`]: PromQL expressions for signals, checked at load and evaluated step by
//!   step over the live series state with Prometheus's semantics.
//! - [`rules`]: Prometheus alerting-rule files, split into targets (signal, comparison,
//!   threshold) to predict.
//! - [`features`]: one signal's value per step in, rolling features out (level, change,
//!   slope, EWMA, volatility, min/max, anomaly score, ETA to each threshold), incrementally
//!   and in memory bounded by the windows.
//! - [`predictions`]: live scoring at every step with the model and its policy; ticket
//!   lifecycles and the prediction gauges.
//! - [`tickets`]: ticket actions (open, update, confirm, resolve), what a ticket carries.
//! - [`outbox`]: ticket actions in, written durably, then delivered at least once to
//!   every configured sink (webhook, JSON-lines file), with retries and a dead-letter list.
//! - `kafka` (cargo feature `kafka`, on by default): scale-out; receivers publish
//!   accepted samples to a topic partitioned by entity, workers in a consumer group
//!   score their partitions.
//! - [`server`]: the HTTP service (`/api/v1/write`, the status page, `/metrics`,
//!   health), auth, backpressure and ordered shutdown.
//! - [`config`]: the YAML configuration, strict and validated before anything starts.
//! - [`telemetry`]: the catalogue of harbinger's own metrics, and logging setup.
//! - [`model`]: trained models (classifier, calibration, decision policy), the model
//!   artifact, and the scoring every caller shares.
//! - [`evaluation`]: tickets against the alerts that fired, the baselines, and NAB's
//!   scorer for anomaly scores.
//! - [`dataset`]: CSV exports of Prometheus data (long format or Grafana's series joined
//!   by time, gzip or not) in, series of samples sorted by labels and time out.
//! - [`export`]: Prometheus's HTTP API in, the long CSV format `dataset` reads out
//!   (chunked range queries, retries, resumable output).
//! - [`sender`]: a dataset in, remote-write requests to any receiver out, in time
//!   order, paced or as fast as possible, with Prometheus's batching and retries
//!   (`harbinger replay`).
//! - [`retry`]: whether to retry an HTTP answer, and the capped, jittered backoff
//!   (`export` and `outbox`).

pub mod config;
pub mod dataset;
pub mod evaluation;
pub mod export;
pub mod features;
pub mod ingest;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod model;
pub mod outbox;
pub mod pipeline;
pub mod predictions;
pub mod promql;
pub mod registry;
pub mod report;
pub mod retry;
pub mod rules;
#[cfg(test)]
mod schema_check;
pub mod sender;
pub mod server;
pub mod telemetry;
pub mod tickets;
pub mod training;
