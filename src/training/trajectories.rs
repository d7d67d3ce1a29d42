//! Replays an export through a pipeline's signals and feature engine (the code `serve`
//! runs at each step) and keeps every entity's feature rows.
//!
//! In: a pipeline, a dataset, the steps, and per signal the columns of its feature rows
//! to keep ([`columns_read`]). Out: per signal (pipeline order), one [`Trajectory`] per
//! entity: the steps at which the signal had the entity, and the kept columns of the
//! feature row at each ([`Rows`]). A signal whose columns nothing reads is not evaluated.
//! Where every signal keeps an entity label and reads only its own value's series, the
//! replay is split by that label's values over the cores.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::parallel::{Tick, in_parallel};
use super::rows::Rows;
use crate::dataset::{Dataset, SeriesData};
use crate::model::TargetScorer;
use crate::pipeline::{Pipeline, SignalEngine};
use crate::promql::{EvalError, Labels, Steps, replay_series};
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

/// Every signal's trajectories, keeping `columns[signal]` of each row, entities in
/// label order; `progress(done, of)` is called on this thread as the replay's steps
/// go by. Where every signal keeps an entity label and reads only its own value's
/// series, the replay runs split by that label's values on rayon's threads.
pub fn collect(
    pipeline: &Pipeline,
    dataset: &Dataset,
    steps: Steps,
    columns: &[Vec<usize>],
    mut progress: impl FnMut(u64, u64),
) -> Result<Vec<Vec<Trajectory>>, EvalError> {
    // Only the signals something reads, and where each is in the pipeline.
    let read: Vec<usize> = (0..pipeline.signals.len())
        .filter(|&s| !columns[s].is_empty())
        .collect();
    let replayed = Pipeline {
        signals: read.iter().map(|&s| pipeline.signals[s].clone()).collect(),
        ..pipeline.clone()
    };
    let kept: Vec<Arc<[usize]>> = read.iter().map(|&s| Arc::from(&*columns[s])).collect();
    let parts = replayed.replay_parts(dataset, rayon::current_num_threads());
    let of = steps.count() as u64 * parts.len() as u64;
    let by_part = in_parallel(
        parts,
        |series, tick| replay_part(&replayed, &series, steps, &kept, tick),
        |done| progress(done, of),
    );
    let mut by_signal: Vec<Vec<Trajectory>> = vec![Vec::new(); read.len()];
    for part in by_part {
        for (all, some) in by_signal.iter_mut().zip(part?) {
            all.extend(some);
        }
    }
    let mut trajectories = vec![Vec::new(); pipeline.signals.len()];
    for (s, mut entities) in read.into_iter().zip(by_signal) {
        entities.sort_by(|a, b| a.entity.cmp(&b.entity));
        trajectories[s] = entities;
    }
    Ok(trajectories)
}

/// One part's trajectories per signal of `pipeline`, entities in label order; a tick
/// per step.
fn replay_part(
    pipeline: &Pipeline,
    series: &[&SeriesData],
    steps: Steps,
    kept: &[Arc<[usize]>],
    tick: &Tick,
) -> Result<Vec<Vec<Trajectory>>, EvalError> {
    let mut engine = SignalEngine::new(pipeline.clone());
    let mut by_signal: Vec<BTreeMap<Labels, Trajectory>> =
        kept.iter().map(|_| BTreeMap::new()).collect();
    let history_ms = engine.history_ms();
    let mut row = Vec::new();
    replay_series(series.iter().copied(), steps, history_ms, |t_ms, store| {
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
        tick.tick();
        Ok(())
    })?;
    Ok(by_signal
        .into_iter()
        .map(|entities| entities.into_values().collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every signal's trajectories, with every column kept, replayed in as many parts as
    /// `threads` (rayon's threads where `collect` runs).
    fn replayed_on(threads: usize, pipeline: &Pipeline, dataset: &Dataset) -> Vec<Vec<Trajectory>> {
        let steps = Steps::over(dataset, pipeline.step.as_millis() as i64, None, None).unwrap();
        let columns: Vec<Vec<usize>> = pipeline
            .signals
            .iter()
            .map(|s| (0..s.features.width()).collect())
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| collect(pipeline, dataset, steps, &columns, |_, _| {}))
            .unwrap()
    }

    #[test]
    fn a_replay_split_by_instance_gives_the_trajectories_of_one_replay() {
        let dataset = crate::dataset::lab_dev();
        let pipeline = Pipeline::embedded_default();
        assert_eq!(
            pipeline.replay_parts(&dataset, 3).len(),
            3,
            "split by instance"
        );
        let whole = replayed_on(1, &pipeline, &dataset);
        let split = replayed_on(3, &pipeline, &dataset);
        assert_eq!(whole.len(), split.len());
        let mut row = (Vec::new(), Vec::new());
        for (a, b) in whole.iter().flatten().zip(split.iter().flatten()) {
            assert_eq!(a.entity, b.entity);
            assert_eq!(a.times_ms, b.times_ms);
            for step in 0..a.rows.len() {
                let (x, y) = (a.rows.read(step, &mut row.0), b.rows.read(step, &mut row.1));
                assert!(x.iter().zip(y).all(|(x, y)| x.to_bits() == y.to_bits()));
            }
        }
        let entities: usize = whole.iter().map(Vec::len).sum();
        assert!(entities >= 8 * 4, "every host's signals: {entities}");
        assert_eq!(entities, split.iter().map(Vec::len).sum::<usize>());
    }
}
