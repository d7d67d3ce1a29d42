//! Replays an export through a pipeline's signals and feature engine (the code `serve`
//! runs at each step) and keeps every entity's feature rows.
//!
//! In: a pipeline, a dataset, the steps. Out: per signal (pipeline order), one
//! [`Trajectory`] per entity: the steps at which the signal had the entity, and the
//! feature row at each (columns of the signal's `FeatureSpec::names`).

use std::collections::BTreeMap;

use crate::dataset::Dataset;
use crate::pipeline::{Pipeline, SignalEngine};
use crate::promql::{EvalError, Labels, Steps, replay};

#[derive(Debug, Clone, Default)]
pub struct Trajectory {
    pub entity: Labels,
    pub times_ms: Vec<i64>,
    pub rows: Vec<Vec<f64>>,
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

/// Every signal's trajectories; `each_step` is called after every step (for progress).
pub fn collect(
    pipeline: &Pipeline,
    dataset: &Dataset,
    steps: Steps,
    mut each_step: impl FnMut(),
) -> Result<Vec<Vec<Trajectory>>, EvalError> {
    let mut engine = SignalEngine::new(pipeline.clone());
    let mut by_signal: Vec<BTreeMap<Labels, Trajectory>> =
        pipeline.signals.iter().map(|_| BTreeMap::new()).collect();
    let history_ms = engine.history_ms();
    replay(dataset, steps, history_ms, |t_ms, store| {
        engine.step(t_ms, store)?;
        engine.for_each(|index, _, entity, features| {
            let trajectory = by_signal[index]
                .entry(entity.clone())
                .or_insert_with(|| Trajectory {
                    entity: entity.clone(),
                    ..Trajectory::default()
                });
            let mut row = Vec::with_capacity(features.spec().width());
            features.write(&mut row);
            trajectory.times_ms.push(t_ms);
            trajectory.rows.push(row);
        });
        each_step();
        Ok(())
    })?;
    Ok(by_signal
        .into_iter()
        .map(|entities| entities.into_values().collect())
        .collect())
}
