//! The load bench's traffic: every connection sends its share of each scrape round's
//! pre-encoded requests (a request always over the same connection, as Prometheus
//! shards by series), sends a request answered 503 again after a doubling backoff, and
//! counts what was sent and how it was answered; also a paced single-connection load,
//! and the readiness and `/metrics` reads.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harbinger::ingest::Protocol;

use super::counters::Counters;
use crate::synthetic::{Fleet, Template};

/// A request answered 503 is sent again after a backoff that doubles from this, as
/// Prometheus's remote write does (`min_backoff`, `max_backoff`).
const MIN_BACKOFF: Duration = Duration::from_millis(30);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The synthetic fleet's requests, pre-encoded, and the client that sends them.
pub struct Generator {
    pub client: reqwest::Client,
    pub protocol: Protocol,
    pub fleet: Fleet,
    pub templates: Vec<Template>,
    pub connections: usize,
}

/// What a phase sent and how it was answered.
#[derive(Default)]
pub struct Sent {
    pub requests: u64,
    pub samples: u64,
    pub bytes: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub first_failure: Option<String>,
    pub latencies_us: Vec<u32>,
    /// The latest scrape round any request was of.
    pub last_round: u64,
    /// Attempts answered 503 and sent again after a backoff.
    pub retries: u64,
}

impl Sent {
    fn merge(&mut self, other: Sent) {
        self.requests += other.requests;
        self.samples += other.samples;
        self.bytes += other.bytes;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
        self.latencies_us.extend(other.latencies_us);
        self.last_round = self.last_round.max(other.last_round);
        self.retries += other.retries;
    }

    pub fn all_204(&self) -> bool {
        self.statuses.keys().all(|&status| status == 204)
    }

    /// "requests / answered 204", and whether every request was in the end.
    pub fn answered(&self) -> (String, &'static str) {
        let answered = self.statuses.get(&204).copied().unwrap_or(0);
        let verdict = if self.all_204() {
            "all 204: ok"
        } else {
            "all 204: MISSED"
        };
        (format!("{} / {answered}", self.requests), verdict)
    }
}

impl Generator {
    /// The harbinger counters of the server at `url`.
    pub async fn counters(&self, url: &str) -> Counters {
        Counters::parse(&self.metrics(url).await)
    }

    /// The server's `/metrics` page.
    pub async fn metrics(&self, url: &str) -> String {
        self.client
            .get(format!("{url}/metrics"))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("GET /metrics")
            .text()
            .await
            .expect("reading /metrics")
    }

    /// Waits until `GET url` succeeds (a readiness endpoint).
    pub async fn wait_ready(&self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = self
                .client
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "server not ready after 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Connection `k`'s share: parts k, k + C, k + 2C, ... of each round, from
    /// `first_round` on, until `deadline` (or for one round when there is none), to the
    /// remote-write endpoint at `url`.
    async fn connection(
        self: Arc<Self>,
        url: String,
        k: usize,
        first_round: u64,
        deadline: Option<Instant>,
    ) -> Sent {
        let parts: Vec<usize> = (k..self.templates.len())
            .step_by(self.connections)
            .collect();
        let mut sent = Sent::default();
        if parts.is_empty() {
            return sent;
        }
        let (content_type, version) = match self.protocol {
            Protocol::V1 => ("application/x-protobuf", "0.1.0"),
            Protocol::V2 => (
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
                "2.0.0",
            ),
        };
        let mut round = first_round;
        loop {
            for &part in &parts {
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    return sent;
                }
                let template = &self.templates[part];
                let mut body = Vec::with_capacity(template.compressed_len());
                template.render(&self.fleet, round, &mut body);
                let body = bytes::Bytes::from(body);
                let mut backoff = MIN_BACKOFF;
                let (status, started) = loop {
                    sent.bytes += body.len() as u64;
                    let started = Instant::now();
                    let response = self
                        .client
                        .post(&url)
                        .header("content-type", content_type)
                        .header("content-encoding", "snappy")
                        .header("x-prometheus-remote-write-version", version)
                        .header("user-agent", "harbinger-load/0.1")
                        .body(body.clone())
                        .send()
                        .await;
                    let (status, text) = match response {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            (status, response.text().await.unwrap_or_default())
                        }
                        Err(error) => (0, format!("transport: {error}")),
                    };
                    if status == 503 {
                        sent.retries += 1;
                        if deadline.is_some_and(|deadline| Instant::now() + backoff >= deadline) {
                            // No time left to send it again: the phase ends without it.
                            return sent;
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                    if status != 204 && sent.first_failure.is_none() {
                        sent.first_failure = Some(format!("{status}: {}", text.trim()));
                    }
                    break (status, started);
                };
                sent.latencies_us
                    .push(started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                *sent.statuses.entry(status).or_default() += 1;
                sent.requests += 1;
                sent.samples += template.samples() as u64;
                sent.last_round = round;
            }
            if deadline.is_none() {
                return sent;
            }
            round += 1;
        }
    }

    /// One request every `interval`, round after round from `first_round`, for
    /// `duration`, over one connection; returns the samples sent.
    pub async fn paced(
        &self,
        url: &str,
        first_round: u64,
        interval: Duration,
        duration: Duration,
    ) -> u64 {
        let end = Instant::now() + duration;
        let mut next = Instant::now();
        let mut samples = 0;
        for round in first_round.. {
            for template in &self.templates {
                if Instant::now() >= end {
                    return samples;
                }
                let mut body = Vec::with_capacity(template.compressed_len());
                template.render(&self.fleet, round, &mut body);
                let response = self
                    .client
                    .post(url)
                    .header("content-type", "application/x-protobuf")
                    .header("content-encoding", "snappy")
                    .header("x-prometheus-remote-write-version", "0.1.0")
                    .body(body)
                    .send()
                    .await
                    .expect("a paced request");
                assert_eq!(response.status(), 204, "a paced request");
                samples += template.samples() as u64;
                next += interval;
                tokio::time::sleep_until(next.into()).await;
            }
        }
        samples
    }

    /// Every connection's share, to the remote-write endpoint at `url`.
    pub async fn run(
        self: &Arc<Self>,
        url: &str,
        first_round: u64,
        deadline: Option<Instant>,
    ) -> Sent {
        let tasks: Vec<_> = (0..self.connections)
            .map(|k| {
                let connection = self
                    .clone()
                    .connection(url.to_owned(), k, first_round, deadline);
                tokio::spawn(connection)
            })
            .collect();
        let mut sent = Sent::default();
        for task in tasks {
            sent.merge(task.await.expect("connection task"));
        }
        sent
    }
}
