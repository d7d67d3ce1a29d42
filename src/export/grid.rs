//! The evaluation grid of an export and its split into `query_range` calls.
//!
//! In: start, end and step in milliseconds, and the most points one query may return.
//! Out: chunks, each a `query_range` (start, end) pair on the grid. Together they hold
//! every grid point `start + k·step ≤ end` exactly once, in time order. Splitting on the
//! grid changes no value: each point is evaluated by Prometheus as it would be in one
//! query over the whole range (the lookback reaches before a chunk's start).

/// Prometheus refuses a `query_range` whose `(end - start) / step` exceeds 11,000.
pub const MAX_POINTS_PER_QUERY: u32 = 11_000;

/// The points `start_ms`, `start_ms + step_ms`, ... up to `end_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Grid {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

/// One `query_range` call: the grid points from `start_ms` to `end_ms`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Grid {
    /// `None` unless `step_ms > 0` and `start_ms <= end_ms`.
    pub fn new(start_ms: i64, end_ms: i64, step_ms: i64) -> Option<Grid> {
        (step_ms > 0 && start_ms <= end_ms).then_some(Grid {
            start_ms,
            end_ms,
            step_ms,
        })
    }

    /// The number of grid points.
    pub fn points(&self) -> i64 {
        (self.end_ms - self.start_ms) / self.step_ms + 1
    }

    /// The chunks of at most `max_points` points (at least 1) covering the grid.
    pub fn chunks(&self, max_points: u32) -> impl Iterator<Item = Chunk> + use<> {
        let grid = *self;
        let per_chunk = i64::from(max_points.max(1));
        let count = (grid.points() + per_chunk - 1) / per_chunk;
        (0..count).map(move |index| {
            let first = index * per_chunk;
            let last = (first + per_chunk).min(grid.points()) - 1;
            Chunk {
                start_ms: grid.start_ms + first * grid.step_ms,
                end_ms: grid.start_ms + last * grid.step_ms,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_range_splits_on_the_grid() {
        let grid = Grid::new(0, 9_500, 1_000).unwrap();
        let chunks: Vec<(i64, i64)> = grid.chunks(4).map(|c| (c.start_ms, c.end_ms)).collect();
        assert_eq!(chunks, [(0, 3_000), (4_000, 7_000), (8_000, 9_000)]);
        assert_eq!(Grid::new(5, 5, 1).unwrap().chunks(11_000).count(), 1);
        assert_eq!(Grid::new(5, 4, 1), None);
        assert_eq!(Grid::new(0, 4, 0), None);
    }

    proptest! {
        #[test]
        fn chunks_cover_the_grid_once_in_order_within_the_limit(
            start_ms in -1_000_000_000i64..1_000_000_000,
            points in 1i64..50_000,
            step_ms in 1i64..100_000,
            past_last_point in 0.0f64..1.0,
            max_points in 1u32..=MAX_POINTS_PER_QUERY,
        ) {
            // The end anywhere from the last grid point to just before the next one.
            let end_ms = start_ms + (points - 1) * step_ms + (past_last_point * step_ms as f64) as i64;
            let grid = Grid::new(start_ms, end_ms, step_ms).unwrap();
            prop_assert_eq!(grid.points(), points);
            let mut expected = grid.start_ms;
            for chunk in grid.chunks(max_points) {
                prop_assert_eq!(chunk.start_ms, expected, "no gap, no overlap");
                prop_assert!(chunk.end_ms >= chunk.start_ms);
                prop_assert_eq!((chunk.end_ms - grid.start_ms) % step_ms, 0, "on the grid");
                let points = (chunk.end_ms - chunk.start_ms) / step_ms + 1;
                prop_assert!(points <= i64::from(max_points));
                // Prometheus's own check, on the parameters the chunk is sent with.
                prop_assert!((chunk.end_ms - chunk.start_ms) / step_ms
                    <= i64::from(MAX_POINTS_PER_QUERY));
                expected = chunk.end_ms + step_ms;
            }
            prop_assert!(expected > grid.end_ms, "the last point is covered");
            prop_assert!(expected - step_ms <= grid.end_ms, "nothing past the end");
        }
    }
}
