//! Whether to retry a request to Prometheus, and when.
//!
//! In: the outcome of one attempt (an HTTP status, or a transport failure), the attempt's
//! number and a jitter fraction. Out: a [`Verdict`], and the delay before the next
//! attempt. Pure: the client performs the requests and the sleeps; the random jitter is
//! passed in, so tests pin it.

use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (at least 1).
    pub max_attempts: u32,
    /// The delay after the first failed attempt; it doubles after each further one.
    pub initial_backoff: Duration,
    /// The longest delay between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// What one attempt's outcome calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Transient: overload (429, 503), a failing or restarting server or proxy (5xx),
    /// or a failed connection or timeout.
    Retry,
    /// The request itself is wrong (4xx): sending it again gives the same answer.
    Fail,
}

/// The verdict on an HTTP status.
pub fn classify_status(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Done,
        429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Fail,
    }
}

impl RetryPolicy {
    /// The delay after failed attempt number `attempt` (1 for the first): the capped
    /// exponential `initial · 2^(attempt-1)`, of which a random part is dropped so that
    /// clients that failed together do not come back together. `jitter` in [0, 1) picks
    /// the delay between half and all of the capped value.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let capped = self
            .initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        capped.mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_prometheus_and_proxies_mean_them() {
        let cases = [
            (200, Verdict::Done),
            (204, Verdict::Done),
            (400, Verdict::Fail), // bad_data: a wrong selector or too many points
            (401, Verdict::Fail),
            (404, Verdict::Fail),
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
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        let no_jitter: Vec<u128> = (1..=6)
            .map(|attempt| policy.backoff(attempt, 0.0).as_millis())
            .collect();
        assert_eq!(no_jitter, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.backoff(3, 0.5), Duration::from_millis(300));
        assert_eq!(policy.backoff(3, 0.999_999).as_millis(), 200);
        assert_eq!(policy.backoff(u32::MAX, 0.0), Duration::from_secs(1));
    }
}
