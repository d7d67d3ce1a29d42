//! The HTTP side: one request body in, its fate out, with Prometheus's retries.
//!
//! In: a compressed body. Out: a [`Delivery`] (accepted, with the 2.0 written count when
//! the receiver reports it; or rejected, with the receiver's error text), or a
//! [`SendError`] once the retries are spent. Whether to retry is `retry::classify`'s
//! call; this file only carries it out.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{self, HeaderValue};

use super::encode;
use super::retry::{Backoff, Verdict, classify};
use crate::ingest::Protocol;
use crate::retry::error_chain;

/// Where requests go and how they are written.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: reqwest::Url,
    pub protocol: Protocol,
    /// Sent as `Authorization: Bearer <token>`.
    pub bearer_token: Option<String>,
    /// Per attempt, as Prometheus's `remote_timeout`.
    pub timeout: Duration,
}

/// How failed attempts are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Retries of one request before the replay gives up. Prometheus retries forever;
    /// a command that must end needs a bound.
    pub max_retries: u32,
    /// Retry 429 like a 5xx (Prometheus's `retry_on_http_429`).
    pub retry_on_429: bool,
}

impl Default for RetryPolicy {
    /// Prometheus's defaults (`min_backoff: 30ms`, `max_backoff: 5s`), ten retries.
    fn default() -> RetryPolicy {
        RetryPolicy {
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            max_retries: 10,
            retry_on_429: false,
        }
    }
}

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Accepted {
        retries: u32,
        /// `X-Prometheus-Remote-Write-Samples-Written`, when the receiver sent it.
        samples_written: Option<u64>,
    },
    /// Answered with a status that is not retried (4xx, or 429 without the flag).
    Rejected {
        retries: u32,
        status: u16,
        /// The receiver's error text, trimmed and shortened.
        message: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("invalid bearer token: it must be visible ASCII")]
    InvalidToken,
    #[error("gave up on {url} after {attempts} attempts; last failure: {last}")]
    GaveUp {
        url: reqwest::Url,
        attempts: u32,
        last: String,
    },
}

/// The receiver's error text is shown to the user, so only its start.
const MAX_MESSAGE_BYTES: usize = 1024;

pub struct Client {
    http: reqwest::Client,
    target: Target,
    authorization: Option<HeaderValue>,
    retry: RetryPolicy,
}

impl Client {
    pub fn new(target: Target, retry: RetryPolicy) -> Result<Client, SendError> {
        let authorization = target
            .bearer_token
            .as_ref()
            .map(|token| {
                let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| SendError::InvalidToken)?;
                value.set_sensitive(true);
                Ok(value)
            })
            .transpose()?;
        let http = reqwest::Client::builder()
            .timeout(target.timeout)
            .user_agent(concat!("harbinger-replay/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(SendError::Client)?;
        Ok(Client {
            http,
            target,
            authorization,
            retry,
        })
    }

    pub fn protocol(&self) -> Protocol {
        self.target.protocol
    }

    /// Sends `body` until it is accepted or rejected, retrying 5xx answers and transport
    /// failures after a capped exponential backoff.
    pub async fn send(&self, body: Bytes) -> Result<Delivery, SendError> {
        let mut backoff = Backoff::new(self.retry.min_backoff, self.retry.max_backoff);
        let mut retries = 0;
        loop {
            let failure = match self.attempt(body.clone()).await {
                Ok(response) => {
                    let status = response.status();
                    match classify(status.as_u16(), self.retry.retry_on_429) {
                        Verdict::Delivered => {
                            return Ok(Delivery::Accepted {
                                retries,
                                samples_written: samples_written(response.headers()),
                            });
                        }
                        Verdict::Reject => {
                            return Ok(Delivery::Rejected {
                                retries,
                                status: status.as_u16(),
                                message: message(response).await,
                            });
                        }
                        Verdict::Retry => format!("HTTP {status}: {}", message(response).await),
                    }
                }
                Err(error) => error_chain(&error),
            };
            if retries >= self.retry.max_retries {
                return Err(SendError::GaveUp {
                    url: self.target.url.clone(),
                    attempts: retries + 1,
                    last: failure,
                });
            }
            let delay = backoff.next_delay();
            tracing::warn!(%failure, ?delay, retry = retries + 1, "request failed, retrying");
            tokio::time::sleep(delay).await;
            retries += 1;
        }
    }

    async fn attempt(&self, body: Bytes) -> reqwest::Result<reqwest::Response> {
        let protocol = self.target.protocol;
        let mut request = self
            .http
            .post(self.target.url.clone())
            .header(header::CONTENT_TYPE, encode::content_type(protocol))
            .header(header::CONTENT_ENCODING, "snappy")
            .header(
                "X-Prometheus-Remote-Write-Version",
                encode::version(protocol),
            )
            .body(body);
        if let Some(authorization) = &self.authorization {
            request = request.header(header::AUTHORIZATION, authorization.clone());
        }
        request.send().await
    }
}

fn samples_written(headers: &header::HeaderMap) -> Option<u64> {
    headers
        .get("X-Prometheus-Remote-Write-Samples-Written")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The answer's body as one short line.
async fn message(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap_or_default();
    let mut line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.len() > MAX_MESSAGE_BYTES {
        line.truncate(line.floor_char_boundary(MAX_MESSAGE_BYTES));
        line.push_str("...");
    }
    line
}
