//! Replays a recorded dataset through the store, step by step, the way the live
//! pipeline sees the same samples arrive.
//!
//! In: a `Dataset` (from CSV exports) and the steps. Out: at each step, in time order,
//! the store as it stands then (`replay`), or one plan's value (`replay_plan`). Samples enter the store in timestamp order and old ones
//! are trimmed as the window moves, so memory follows the plan's history, not the data.

use super::error::EvalError;
use super::eval::evaluate;
use super::plan::Plan;
use super::store::SeriesStore;
use super::value::{Labels, Point, Value};
use crate::dataset::{Dataset, SeriesData};

/// Evaluation times: `start`, `start + step`, ... up to and including `end` (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

impl Steps {
    /// The steps covering a dataset's time span on the step grid: multiples of the step
    /// since the epoch, from the first at or after the first sample. `serve` evaluates
    /// live samples on the same grid, so a replay and the live pipeline step at the same
    /// times.
    pub fn covering(dataset: &Dataset, step_ms: i64) -> Option<Steps> {
        let times = dataset
            .series
            .iter()
            .flat_map(|s| [s.samples.first(), s.samples.last()])
            .flatten()
            .map(|sample| sample.timestamp_ms);
        let (start_ms, end_ms) = times.fold(None, |span: Option<(i64, i64)>, t| {
            Some(span.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))))
        })?;
        Some(Steps {
            start_ms: start_ms.div_euclid(step_ms) * step_ms
                + if start_ms.rem_euclid(step_ms) == 0 {
                    0
                } else {
                    step_ms
                },
            end_ms,
            step_ms,
        })
    }

    /// The steps covering a dataset (see [`Steps::covering`]), from `start_seconds` and to
    /// `end_seconds` (unix seconds) where given; `None` when the dataset holds no sample.
    pub fn over(
        dataset: &Dataset,
        step_ms: i64,
        start_seconds: Option<f64>,
        end_seconds: Option<f64>,
    ) -> Option<Steps> {
        let covering = Steps::covering(dataset, step_ms)?;
        let ms = |seconds: f64| (seconds * 1000.0).round() as i64;
        Some(Steps {
            start_ms: start_seconds.map_or(covering.start_ms, ms),
            end_ms: end_seconds.map_or(covering.end_ms, ms),
            step_ms,
        })
    }

    pub fn count(&self) -> usize {
        if self.end_ms < self.start_ms {
            0
        } else {
            ((self.end_ms - self.start_ms) / self.step_ms + 1) as usize
        }
    }
}

/// Feeds `dataset` through a store in time order and calls `at_step(t_ms, &store)` at
/// every step, after every sample at or before `t_ms` has arrived. The store keeps
/// `history_ms` behind each step (see `Plan::history_ms`), as the live pipeline does.
pub fn replay<E>(
    dataset: &Dataset,
    steps: Steps,
    history_ms: i64,
    at_step: impl FnMut(i64, &SeriesStore) -> Result<(), E>,
) -> Result<(), E> {
    replay_series(&dataset.series, steps, history_ms, at_step)
}

/// [`replay`] of some of a dataset's series only.
pub fn replay_series<'a, E>(
    series: impl IntoIterator<Item = &'a SeriesData>,
    steps: Steps,
    history_ms: i64,
    mut at_step: impl FnMut(i64, &SeriesStore) -> Result<(), E>,
) -> Result<(), E> {
    let mut store = SeriesStore::default();
    // Every sample, tagged with its series, in timestamp order.
    let mut arrivals: Vec<(i64, usize, f64)> = Vec::new();
    for series in series {
        let index = store.series(&Labels::new(series.labels.iter().cloned()));
        arrivals.extend(
            series
                .samples
                .iter()
                .map(|s| (s.timestamp_ms, index, s.value)),
        );
    }
    arrivals.sort_by_key(|&(t, index, _)| (t, index));
    let mut next = 0;
    for step in 0..steps.count() {
        let t_ms = steps.start_ms + step as i64 * steps.step_ms;
        while let Some(&(t, index, v)) = arrivals.get(next) {
            if t > t_ms {
                break;
            }
            store.push(index, Point { t, v });
            next += 1;
        }
        store.trim(t_ms - history_ms);
        at_step(t_ms, &store)?;
    }
    Ok(())
}

/// Evaluates one plan at every step over `dataset`, calling `each(t_ms, value)` in order.
pub fn replay_plan(
    plan: &Plan,
    dataset: &Dataset,
    steps: Steps,
    mut each: impl FnMut(i64, Value),
) -> Result<(), EvalError> {
    replay(dataset, steps, plan.history_ms(), |t_ms, store| {
        each(t_ms, evaluate(plan, store, t_ms)?);
        Ok(())
    })
}
