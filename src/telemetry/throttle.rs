//! Logs that stay readable during an outage: an error that repeats from one cause is
//! news once, then a summary at most once per interval, then one line when it stops.
//!
//! In: occurrences of a cause (a bounded key such as `kafka:AllBrokersDown` or
//! `sink:desk`), and the moments a family of causes recovers, each with the time (the
//! caller's clock, so that tests need no sleeping). Out: what to log ([`Say`], and the
//! [`Recovered`] causes); the caller writes the line, at its own level and with its own
//! fields. Everything held back is still counted by the metrics that count the errors.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The process's throttle: one summary a minute per cause.
pub static LOGS: LazyLock<Throttle> = LazyLock::new(|| Throttle::new(Duration::from_secs(60)));

pub struct Throttle {
    interval: Duration,
    causes: Mutex<HashMap<String, Cause>>,
    /// How many causes are active: recovery checks on hot paths skip the lock at 0.
    active: AtomicUsize,
}

struct Cause {
    since: Instant,
    last_line: Instant,
    held: u64,
    total: u64,
}

/// What to log for one occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Say {
    /// The cause is new (or came back after recovering): log it in full.
    First,
    /// A summary: `held` occurrences since the last line, `total` since it started.
    Summary { held: u64, total: u64 },
    /// Nothing now; it is counted for the next summary.
    Nothing,
}

/// A cause that stopped: how often it occurred, over how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub cause: String,
    pub total: u64,
    pub lasted: Duration,
}

impl Throttle {
    pub fn new(interval: Duration) -> Throttle {
        Throttle {
            interval,
            causes: Mutex::new(HashMap::new()),
            active: AtomicUsize::new(0),
        }
    }

    /// One occurrence of `cause` at `now`.
    pub fn occurred(&self, cause: &str, now: Instant) -> Say {
        let mut causes = self.causes.lock();
        let Some(state) = causes.get_mut(cause) else {
            causes.insert(
                cause.to_owned(),
                Cause {
                    since: now,
                    last_line: now,
                    held: 0,
                    total: 1,
                },
            );
            self.active.store(causes.len(), Ordering::Relaxed);
            return Say::First;
        };
        state.total += 1;
        state.held += 1;
        if now.saturating_duration_since(state.last_line) < self.interval {
            return Say::Nothing;
        }
        state.last_line = now;
        let held = std::mem::take(&mut state.held);
        Say::Summary {
            held,
            total: state.total,
        }
    }

    /// The causes starting with `prefix` have stopped: forgets them and returns them.
    pub fn recovered(&self, prefix: &str, now: Instant) -> Vec<Recovered> {
        if self.active.load(Ordering::Relaxed) == 0 {
            return Vec::new();
        }
        let mut causes = self.causes.lock();
        let mut recovered: Vec<Recovered> = causes
            .extract_if(|cause, _| cause.starts_with(prefix))
            .map(|(cause, state)| Recovered {
                cause,
                total: state.total,
                lasted: now.saturating_duration_since(state.since),
            })
            .collect();
        self.active.store(causes.len(), Ordering::Relaxed);
        recovered.sort_by(|a, b| a.cause.cmp(&b.cause));
        recovered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_cause_is_logged_once_then_summarised_once_per_interval() {
        let throttle = Throttle::new(Duration::from_secs(60));
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        assert_eq!(throttle.occurred("kafka:down", at(0)), Say::First);
        // 13 a second for the rest of the minute: nothing.
        for tick in 1..=59 * 13 {
            let now = start + Duration::from_millis(tick * 1000 / 13);
            assert_eq!(throttle.occurred("kafka:down", now), Say::Nothing);
        }
        assert_eq!(
            throttle.occurred("kafka:down", at(60)),
            Say::Summary {
                held: 59 * 13 + 1,
                total: 59 * 13 + 2
            }
        );
        assert_eq!(throttle.occurred("kafka:down", at(61)), Say::Nothing);
        // Another cause is news of its own.
        assert_eq!(throttle.occurred("sink:desk", at(61)), Say::First);
    }

    #[test]
    fn recovery_reports_and_forgets_the_causes_of_a_family() {
        let throttle = Throttle::new(Duration::from_secs(60));
        let start = Instant::now();
        assert!(throttle.recovered("kafka:", start).is_empty());
        throttle.occurred("kafka:down", start);
        throttle.occurred("kafka:down", start + Duration::from_secs(5));
        throttle.occurred("kafka:refused", start + Duration::from_secs(6));
        throttle.occurred("sink:desk", start);
        let recovered = throttle.recovered("kafka:", start + Duration::from_secs(10));
        assert_eq!(
            recovered,
            vec![
                Recovered {
                    cause: "kafka:down".into(),
                    total: 2,
                    lasted: Duration::from_secs(10)
                },
                Recovered {
                    cause: "kafka:refused".into(),
                    total: 1,
                    lasted: Duration::from_secs(4)
                },
            ]
        );
        // Recovered causes are news again; the other family is untouched.
        assert!(throttle.recovered("kafka:", start).is_empty());
        assert_eq!(throttle.occurred("kafka:down", start), Say::First);
        assert_eq!(throttle.recovered("sink:", start).len(), 1);
    }
}
