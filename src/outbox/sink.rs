//! What a sink is to the dispatcher: one delivery attempt of one action in, its
//! [`Attempt`] out.
//!
//! A sink decides only what its receiver's answer means; the dispatcher owns order,
//! retries, backoff, the dead-letter list and the metrics. A sink that keeps state
//! across restarts (the webhook's created tickets) keeps it in the outbox store, so
//! that a delivery repeated after a crash has the same effect as the first. A sink
//! that must re-send while a ticket is open (Alertmanager, whose alerts expire unless
//! refreshed) fits the same shape: it delivers open, update and confirm as a firing
//! alert and resolve as an ended one, and refreshes open tickets on its own timer.

use std::future::Future;

use crate::retry::{Verdict, classify_status, error_chain};
use crate::tickets::TicketAction;

/// Characters of a refusal's body quoted in the dead letter and the log line.
const EXCERPT_CHARS: usize = 300;

/// The fate of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver has the action.
    Delivered,
    /// A transient failure (5xx, 408, 429, a transport error or timeout): try again later.
    Retry(String),
    /// The receiver refused the action for good (4xx): it goes to the dead letters.
    Reject(String),
}

pub trait Sink: Send + Sync + 'static {
    /// Names the sink in metrics, logs and the outbox.
    fn name(&self) -> &str;

    /// How many actions, of different fingerprints, may be in delivery at once.
    fn concurrency(&self) -> usize;

    /// One attempt. The action's idempotency key is the same on every attempt.
    fn deliver(&self, action: &TicketAction) -> impl Future<Output = Attempt> + Send;
}

/// An HTTP answer judged: a 2xx response is returned; anything else is the attempt's
/// fate, its reason the status and the start of the body (or the transport error).
pub async fn judge(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<reqwest::Response, Attempt> {
    let response = sent.map_err(|e| Attempt::Retry(error_chain(&e)))?;
    let status = response.status().as_u16();
    let verdict = classify_status(status);
    if verdict == Verdict::Done {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    let excerpt: String = text.chars().take(EXCERPT_CHARS).collect();
    let reason = format!("status {status}: {}", excerpt.trim());
    Err(match verdict {
        Verdict::Retry => Attempt::Retry(reason),
        _ => Attempt::Reject(reason),
    })
}
