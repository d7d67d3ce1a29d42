//! A sparkline's worth of one signal: its recent values, thinned to a bounded count.
//!
//! In: the signal's value at each step. Out: at most [`POINTS`] + 1 points covering the
//! last `span` (the signal's longest window), about `span / POINTS` apart, the newest
//! always the last step's. About 1 KiB per (target, entity), whatever the step.

use std::collections::VecDeque;

use serde::Serialize;

/// How many points a track keeps over its span.
pub const POINTS: usize = 60;

/// `(unix milliseconds, value)`, oldest first; a non-finite value (a gap) is null in
/// JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Track(VecDeque<(i64, f64)>);

impl Track {
    /// Adds the value at `t_ms`, keeping the last `span_ms`. While the last point is
    /// closer than `span / POINTS` to the one before it, a new point replaces it, so that
    /// the last is always the newest and the others stay evenly apart.
    pub fn push(&mut self, t_ms: i64, value: f64, span_ms: i64) {
        let gap = span_ms / POINTS as i64;
        let points = &mut self.0;
        let n = points.len();
        let crowded = n >= 2 && points[n - 1].0 - points[n - 2].0 < gap;
        if crowded {
            points.pop_back();
        }
        points.push_back((t_ms, value));
        while points.front().is_some_and(|&(t, _)| t < t_ms - span_ms) {
            points.pop_front();
        }
    }

    pub fn points(&self) -> impl ExactSizeIterator<Item = (i64, f64)> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_track_keeps_its_span_evenly_thinned_with_the_newest_last() {
        let span_ms = 3_600_000;
        let mut track = Track::default();
        // Two hours at a 15 s step: 480 values.
        for i in 0..480 {
            track.push(i * 15_000, i as f64, span_ms);
        }
        let points: Vec<(i64, f64)> = track.points().collect();
        assert!(points.len() <= POINTS + 1, "{} points", points.len());
        assert!(points.len() >= POINTS - 1, "{} points", points.len());
        assert_eq!(points.last(), Some(&(479 * 15_000, 479.0)));
        let newest = points.last().unwrap().0;
        assert!(points[0].0 >= newest - span_ms);
        assert!(points[0].0 <= newest - span_ms + 2 * span_ms / POINTS as i64);
        for pair in points.windows(2).take(points.len() - 2) {
            let gap = pair[1].0 - pair[0].0;
            assert!((60_000..=75_000).contains(&gap), "a gap of {gap} ms");
        }
    }

    #[test]
    fn a_step_longer_than_the_gap_keeps_every_value() {
        let mut track = Track::default();
        for i in 0..5 {
            track.push(i * 120_000, i as f64, 3_600_000);
        }
        assert_eq!(track.points().len(), 5);
    }
}
