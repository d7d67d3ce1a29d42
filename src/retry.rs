//! Whether to retry an HTTP request, and when: shared by `export` (Prometheus's HTTP
//! API) and `outbox` (ticket sinks).
//!
//! In: the outcome of one attempt (an HTTP status, or a transport failure), the attempt's
//! number and a jitter fraction. Out: a [`Verdict`], and the delay before the next
//! attempt. Pure: callers perform the requests and the sleeps; the random jitter is
//! passed in, so tests pin it.

use std::time::Duration;

/// Capped exponential backoff with "equal jitter": between half and all of the capped
/// doubling, so that clients that failed together do not come back together, yet never
/// retry at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failed attempt; it doubles after each further one.
    pub initial: Duration,
    /// The longest delay between two attempts.
    pub max: Duration,
}

/// What one attempt's outcome calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Transient: overload (429, 503), a timeout (408), a failing or restarting server
    /// or proxy (5xx), or a failed connection or timeout.
    Retry,
    /// The request itself is wrong (4xx): sending it again gives the same answer.
    Fail,
}

/// The verdict on an HTTP status.
pub fn classify_status(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Done,
        408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Fail,
    }
}

impl Backoff {
    /// The delay after failed attempt number `attempt` (1 for the first): the capped
    /// exponential `initial · 2^(attempt-1)`, of which `jitter` in [0, 1) drops up to
    /// half.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let capped = self.initial.saturating_mul(1 << doublings).min(self.max);
        capped.mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// An error with its causes, `a: b: c`: reqwest's own message leaves out the cause
/// (connection refused, timed out).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_servers_and_proxies_mean_them() {
        let cases = [
            (200, Verdict::Done),
            (201, Verdict::Done),
            (204, Verdict::Done),
            (400, Verdict::Fail), // Prometheus's bad_data; a ticket API's validation error
            (401, Verdict::Fail),
            (404, Verdict::Fail),
            (408, Verdict::Retry), // the server timed the request out
            (409, Verdict::Fail),
            (422, Verdict::Fail), // execution error
            (429, Verdict::Retry),
            (500, Verdict::Retry),
            (502, Verdict::Retry),
            (503, Verdict::Retry), // Prometheus's query timeout or overload
            (504, Verdict::Retry),
        ];
        for (status, verdict) in cases {
            assert_eq!(classify_status(status), verdict, "{status}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_takes_at_most_half() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let no_jitter: Vec<u128> = (1..=6)
            .map(|attempt| backoff.delay(attempt, 0.0).as_millis())
            .collect();
        assert_eq!(no_jitter, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.delay(3, 0.5), Duration::from_millis(300));
        assert_eq!(backoff.delay(3, 0.999_999).as_millis(), 200);
        assert_eq!(backoff.delay(u32::MAX, 0.0), Duration::from_secs(1));
    }
}
