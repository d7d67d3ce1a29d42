//! Sender: replays a recorded dataset as Prometheus remote write to any receiver
//! (`harbinger replay`), to demonstrate or load-test harbinger with one's own history.
//!
//! In: a [`Dataset`](crate::dataset::Dataset), a receiver [`Target`] and [`Options`].
//! Out: requests on the wire, each series' samples in time order and never reordered
//! across requests, and a [`Summary`] of what was accepted, rejected and retried.
//!
//! The pure parts, one job each: `order` merges the series into one time-ordered
//! stream; `batch` cuts it into requests per shard as Prometheus's queue manager does;
//! `pace` says when each part is due and how far `--shift-to-now` moves timestamps;
//! `encode` writes a batch with the `ingest::proto` types; `retry` decides whether
//! an answer is retried. The async shell: `client` sends one body with retries, and
//! `run` joins everything with tasks and bounded channels.
//!
//! Sending follows Prometheus's sender: 2xx is success; 5xx and transport failures are
//! retried after a capped exponential backoff; 429 only with `retry_on_429`; any other
//! answer (4xx) rejects the request, whose samples are dropped and counted, and the
//! replay continues. Concurrency shards series by index, one request in flight per
//! shard, as Prometheus shards by series ref.

mod batch;
mod client;
mod encode;
mod order;
mod pace;
mod retry;
mod run;

#[cfg(test)]
mod tests;

pub use client::{Client, Delivery, RetryPolicy, SendError, Target};
pub use pace::Pacing;
pub use run::{Options, Progress, Summary, replay};
