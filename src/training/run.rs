//! `train` from end to end: a pipeline, its signals' trajectories and the rules' episodes
//! in, a [`Model`] (with its held-out figures) and the [`Report`] out.

use std::time::Duration;

use super::assess::assess;
use super::data::{TargetData, TrajectoryTicket};
use super::fit::fit_target;
use super::folds;
use super::parallel::in_parallel;
use super::{AlertHistory, Trajectory};
use crate::model::artifact::{DataSummary, FORMAT, VERSION};
use crate::model::{Model, PipelineSpec, TargetScorer};
use crate::pipeline::Pipeline;
use crate::promql::Labels;
use crate::report::{Report, TargetReport};
use crate::rules::Target;

#[derive(Debug, Clone)]
pub struct Options {
    /// Every target's horizon; None: each target's own (the pipeline's `horizons`).
    pub horizon: Option<Duration>,
    pub seed: u64,
    /// Folds of entities for the held-out evaluation.
    pub folds: usize,
    /// The `predict_linear` windows the baseline may use (its best is reported).
    pub baseline_windows: Vec<Duration>,
    /// False tickets per entity-day a policy may open on the training entities: the
    /// policy is the best of those within it (the best of all when none is).
    pub false_ticket_budget: Option<f64>,
}

pub struct Trained {
    pub model: Model,
    pub report: Report,
    /// Every ticket of the held-out evaluation, in target order.
    pub held_out_tickets: Vec<HeldOutTicket>,
}

/// A ticket a model opened on an entity it was not fitted on.
#[derive(Debug, Clone)]
pub struct HeldOutTicket {
    pub target: String,
    pub entity: Labels,
    pub open_ms: i64,
}

/// Fits and evaluates every target of `pipeline` on its signal's trajectories (per
/// signal, as [`super::collect`] gives them, or [`super::cache::read`]) and the rules'
/// episodes; `data` is what the model artifact records of the export.
/// `progress(target, fits done, fits in all)` is called as each target's fits end.
pub fn train(
    pipeline: &Pipeline,
    trajectories: &[Vec<Trajectory>],
    history: &AlertHistory,
    data: DataSummary,
    options: &Options,
    mut progress: impl FnMut(&str, u64, u64),
) -> Trained {
    let mut targets = Vec::new();
    let mut reports: Vec<TargetReport> = Vec::new();
    let mut held_out_tickets = Vec::new();
    for target in &pipeline.targets {
        let target = Target {
            horizon: options.horizon.unwrap_or(target.horizon),
            ..target.clone()
        };
        let scorer = TargetScorer::new(pipeline, &target);
        let mut data = TargetData::new(
            &scorer,
            &trajectories[scorer.signal],
            history,
            pipeline.step,
        );
        data.false_ticket_budget = options.false_ticket_budget;
        let n = data.trajectories.len();
        let onsets: Vec<usize> = data
            .trajectories
            .iter()
            .map(|t| data.onsets_of(t))
            .collect();
        let k = options.folds.min(n);
        let fold_of = folds::by_entity(&onsets, k);
        let fits = k as u64 + 1;
        progress(&target.alert, 0, fits);
        // The k held-out fits and the final one, in parallel: each fold's model, and the
        // probabilities and tickets of the entities it was not fitted on.
        let jobs: Vec<Option<usize>> = (0..k).map(Some).chain([None]).collect();
        let mut fitted = in_parallel(
            jobs,
            |fold, tick| {
                let train: Vec<usize> = (0..n).filter(|&i| Some(fold_of[i]) != fold).collect();
                let model = fit_target(&data, &train, options.seed);
                let Some(fold) = fold else {
                    tick.tick();
                    return (model, Vec::new(), Vec::new());
                };
                let test: Vec<usize> = (0..n).filter(|&i| fold_of[i] == fold).collect();
                let mut probabilities: Vec<Vec<f64>> = vec![Vec::new(); n];
                for (&i, p) in test.iter().zip(data.probabilities(&model, &test)) {
                    probabilities[i] = p;
                }
                let tickets = data.tickets(&model.policy, &test, &probabilities);
                tick.tick();
                (model, probabilities, tickets)
            },
            |done| progress(&target.alert, done, fits),
        );
        let (mut model, _, _) = fitted.pop().expect("the final fit");
        let mut probabilities: Vec<Vec<f64>> = vec![Vec::new(); n];
        let mut tickets: Vec<TrajectoryTicket> = Vec::new();
        for (_, fold_probabilities, fold_tickets) in fitted {
            for (i, p) in fold_probabilities.into_iter().enumerate() {
                if !p.is_empty() {
                    probabilities[i] = p;
                }
            }
            tickets.extend(fold_tickets);
        }
        held_out_tickets.extend(
            data.entity_tickets(&tickets)
                .into_iter()
                .map(|t| HeldOutTicket {
                    target: target.alert.clone(),
                    entity: t.entity,
                    open_ms: t.open_ms,
                }),
        );
        if k >= 2 {
            let (held_out, report) = assess(
                &data,
                &probabilities,
                &tickets,
                &options.baseline_windows,
                &model,
            );
            model.evaluation = Some(held_out);
            reports.push(report);
        }
        targets.push(model);
    }
    let model = Model {
        format: FORMAT.to_owned(),
        version: VERSION,
        written_by: format!("harbinger {}", env!("CARGO_PKG_VERSION")),
        seed: options.seed,
        pipeline: PipelineSpec::of(pipeline),
        targets,
        data,
    };
    let report = Report {
        title: "Held-out evaluation (folds by entity)".to_owned(),
        notes: vec![format!(
            "Each entity is scored by a model fitted without it ({}-fold by entity); \
             the baselines run over the same entities.",
            options.folds
        )],
        targets: reports,
    };
    Trained {
        model,
        report,
        held_out_tickets,
    }
}
