//! Replays an export through a pipeline's signals and feature engine (the code `serve`
//! runs at each step) and keeps every entity's feature rows.
//!
//! In: a pipeline, a dataset, the steps, and per signal the columns of its feature rows
//! to keep ([`columns_read`]). Out: per signal (pipeline order), one [`Trajectory`] per
//! entity: the steps at which the signal had the entity, and the kept columns of the
//! feature row at each ([`Rows`]). A signal whose columns nothing reads is not evaluated.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::rows::Rows;
use crate::dataset::Dataset;
use crate::model::TargetScorer;
use crate::pipeline::{Pipeline, SignalEngine};
use crate::promql::{EvalError, Labels, Steps, replay};
use crate::rules::Target;

#[derive(Debug, Clone)]
pub struct Trajectory {
    pub entity: Labels,
    pub times_ms: Vec<i64>,
    pub rows: Rows,
}

impl Trajectory {
    /// Observed time in days (first to last step).
    pub fn days(&self) -> f64 {
        match (self.times_ms.first(), self.times_ms.last()) {
            (Some(first), Some(last)) => (last - first) as f64 / 86_400_000.0,
            _ => 0.0,
        }
    }
}

/// Per signal (pipeline order), the columns that scoring `targets` reads: empty for a
/// signal that is no target's.
pub fn columns_read(pipeline: &Pipeline, targets: &[Target]) -> Vec<Vec<usize>> {
    let mut columns = vec![Vec::new(); pipeline.signals.len()];
    for target in targets {
        let scorer = TargetScorer::new(pipeline, target);
        columns[scorer.signal].extend(scorer.columns());
    }
    for signal in &mut columns {
        signal.sort_unstable();
        signal.dedup();
    }
    columns
}

/// Every signal's trajectories, keeping `columns[signal]` of each row; `each_step` is
/// called after every step (for progress).
pub fn collect(
    pipeline: &Pipeline,
    dataset: &Dataset,
    steps: Steps,
    columns: &[Vec<usize>],
    mut each_step: impl FnMut(),
) -> Result<Vec<Vec<Trajectory>>, EvalError> {
    // Only the signals something reads, and where each is in the pipeline.
    let read: Vec<usize> = (0..pipeline.signals.len())
        .filter(|&s| !columns[s].is_empty())
        .collect();
    let mut engine = SignalEngine::new(Pipeline {
        signals: read.iter().map(|&s| pipeline.signals[s].clone()).collect(),
        ..pipeline.clone()
    });
    let kept: Vec<Arc<[usize]>> = read.iter().map(|&s| Arc::from(&*columns[s])).collect();
    let mut by_signal: Vec<BTreeMap<Labels, Trajectory>> =
        read.iter().map(|_| BTreeMap::new()).collect();
    let history_ms = engine.history_ms();
    let mut row = Vec::new();
    replay(dataset, steps, history_ms, |t_ms, store| {
        engine.step(t_ms, store)?;
        engine.for_each(|index, _, entity, features| {
            let trajectory = by_signal[index]
                .entry(entity.clone())
                .or_insert_with(|| Trajectory {
                    entity: entity.clone(),
                    times_ms: Vec::new(),
                    rows: Rows::new(kept[index].clone(), features.spec().width()),
                });
            row.clear();
            features.write(&mut row);
            trajectory.times_ms.push(t_ms);
            trajectory.rows.push(&row);
        });
        each_step();
        Ok(())
    })?;
    let mut trajectories = vec![Vec::new(); pipeline.signals.len()];
    for (s, entities) in read.into_iter().zip(by_signal) {
        trajectories[s] = entities.into_values().collect();
    }
    Ok(trajectories)
}
