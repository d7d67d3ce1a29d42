//! Whether to retry a request, and how long to wait first: pure, as Prometheus's sender
//! decides it (`storage/remote/client.go`, `queue_manager.go`).
//!
//! In: the answer's status code, or a transport failure. Out: a [`Verdict`], and from
//! [`Backoff`] the delay before each retry: doubling from the minimum, capped at the
//! maximum, without jitter (Prometheus adds none either).

use std::time::Duration;

/// What to do after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: the receiver has the samples.
    Delivered,
    /// 5xx (and 429 when allowed): the receiver may take it later; send it again.
    Retry,
    /// Anything else, 4xx above all: sending it again would get the same answer.
    Reject,
}

/// The verdict on an HTTP status. 429 is retried only with `retry_on_429`, as with
/// Prometheus's `retry_on_http_429` (false by default, so a default Prometheus drops a
/// batch answered 429).
pub fn classify(status: u16, retry_on_429: bool) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        429 if retry_on_429 => Verdict::Retry,
        500..=599 => Verdict::Retry,
        _ => Verdict::Reject,
    }
}

/// Capped exponential backoff, one per request.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            next: min.min(max),
            max,
        }
    }

    /// The delay before the next retry.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }
}
