//! How often and how patiently `export` retries a request to Prometheus. Whether to
//! retry, and the delay, are [`crate::retry`]'s: the outbox's sinks share them.

use std::time::Duration;

use crate::retry::Backoff;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (at least 1).
    pub max_attempts: u32,
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            backoff: Backoff {
                initial: Duration::from_millis(250),
                max: Duration::from_secs(30),
            },
        }
    }
}
