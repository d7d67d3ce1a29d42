//! When a sample is due, and where its timestamp lands: pure arithmetic on sample time.
//!
//! In: the recorded first and last timestamps, the speed, the wall-clock start. Out: the
//! offset from the start at which the stream reaches a timestamp, and the shift that
//! `--shift-to-now` adds to every timestamp.

use std::time::Duration;

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Send as fast as the receiver accepts.
    AsFastAsPossible,
    /// N times real time (1 = as recorded); finite and above 0.
    Speed(f64),
}

impl Pacing {
    /// How long after the replay's start the stream reaches `timestamp_ms`, the first
    /// sample being at `first_ms`; `None` when not paced.
    pub fn offset(self, first_ms: i64, timestamp_ms: i64) -> Option<Duration> {
        match self {
            Pacing::AsFastAsPossible => None,
            Pacing::Speed(speed) => {
                let recorded = (timestamp_ms - first_ms).max(0) as f64 / 1000.0;
                Some(Duration::from_secs_f64(recorded / speed))
            }
        }
    }

    /// The sample time that one wall-clock `duration` covers (`None` when not paced).
    pub fn span_ms(self, duration: Duration) -> Option<i64> {
        match self {
            Pacing::AsFastAsPossible => None,
            Pacing::Speed(speed) => Some(((duration.as_secs_f64() * speed * 1000.0) as i64).max(1)),
        }
    }
}

/// The shift to add to every timestamp for `--shift-to-now`: the largest that stamps no
/// sample later than the moment it is due. At speed 1 every sample then carries the
/// moment it is sent, as if scraped live; faster (or unpaced) replays stamp the last
/// sample with its due time and the rest in the recent past; slower ones stamp the
/// first sample with the start. `start_unix_ms` is the replay's wall-clock start.
pub fn shift_to_now(pacing: Pacing, first_ms: i64, last_ms: i64, start_unix_ms: i64) -> i64 {
    // A sample's lead over its due time is linear in its timestamp, so the first or the
    // last sample is the one that binds.
    [first_ms, last_ms]
        .into_iter()
        .map(|t| {
            let due = pacing
                .offset(first_ms, t)
                .map_or(0, |offset| offset.as_millis() as i64);
            start_unix_ms + due - t
        })
        .min()
        .expect("two candidates")
}
