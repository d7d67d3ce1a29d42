//! Fitting one target's model on a set of entities: the classifier kind, its
//! calibration and the decision policy are all chosen on held-out entities.
//!
//! In: a [`TargetData`] ([`super::data`]: the target's scorer, its trajectories, the alert history, the
//! horizon) and the trajectories to train on. Out: a [`TargetModel`].
//!
//! Choosing (steps 1 to 4) reads a bounded, stratified sample of the training entities
//! ([`Choice`]): every entity with an onset, and the quiet ones drawn by how close they
//! came to the threshold, each weighing the entities it stands for.
//!
//! 1. Examples: every step of every chosen trajectory where the rule is neither pending
//!    nor firing; positive when the rule starts firing within `(t, t + horizon]`.
//! 2. Folds by entity (never shuffling neighbouring steps across a split); each kind
//!    ([`Kind::ALL`]) is fitted on all folds but one and scores the held-out one. The
//!    classifiers learn from the levels each signal reached and held short of the
//!    threshold ([`super::reach`]): a few hundred onsets per entity where `ALERTS` has one or
//!    two. They are judged on the real threshold and labels: the kind with the best
//!    average precision on those held-out scores wins.
//! 3. Isotonic calibration fitted on the winner's held-out scores.
//! 4. The policy that does best on the held-out probabilities, replayed step by step:
//!    most onsets caught minus false tickets, then the longest median lead, then the
//!    fewest tickets. An open level at or below the median step's probability is no
//!    candidate: it would keep a ticket open on every entity, evidence or not.
//! 5. The winner refitted on the reach examples of every training trajectory.
//!
//! Before any classifier, the first-passage probability of each window, with the drift
//! lowered by each of `PASSAGE_Z` (0, 1, 2) standard errors, and the canonical
//! `predict_linear` rule over each window, each get their own best policy (step 4); the
//! best of them is the model unless the classifier beats it on the same objective. So
//! on the data it is chosen on, a model never does worse than `predict_linear` over one
//! of its windows.
//! With no onset among the training entities there is nothing to choose by: the target
//! keeps the defaults ([`Passage::default_for`], [`Policy::untrained`]).

use super::assess::average_precision;
use super::choice::Choice;
use super::data::{TargetData, TrajectoryTicket};
use super::folds;
use crate::evaluation::{onsets, score};
use crate::model::artifact::TrainingSummary;
use crate::model::{Calibration, Classifier, Kind, Passage, PassageMethod, Policy, TargetModel};

/// How many folds the inner validation uses, at most.
const INNER_FOLDS: usize = 4;
/// The first-passage probabilities tried: the drift lowered by this many standard errors.
const PASSAGE_Z: [f64; 3] = [0.0, 1.0, 2.0];

/// Fits the target's model on the trajectories `train`.
pub fn fit_target(data: &TargetData, train: &[usize], seed: u64) -> TargetModel {
    let choice = Choice::of(data, train, seed);
    let chosen = &choice.entities;
    let examples = data.examples(chosen);
    let positives = examples.iter().filter(|e| e.fires).count();
    let onsets: Vec<usize> = chosen
        .iter()
        .map(|&i| data.onsets_of(&data.trajectories[i]))
        .collect();
    let examples_stood_for: f64 = examples.iter().map(|e| choice.weight(e.trajectory)).sum();
    let mut model = TargetModel {
        training: TrainingSummary {
            entities: train.len(),
            examples: examples_stood_for.round() as usize,
            positives,
            onsets: onsets.iter().sum(),
            validation: Vec::new(),
        },
        ..TargetModel::untrained(data.scorer, Policy::untrained(&data.lifecycle))
    };
    if model.training.onsets == 0 {
        // Nothing to judge a choice by: the defaults, which need no labels.
        return model;
    }
    let Some(passage_key) = choose_passage(data, &choice, &mut model) else {
        return model;
    };
    if positives == 0 || positives == examples.len() || chosen.len() < 2 {
        return model;
    }
    let fold_of = folds::by_entity(&onsets, INNER_FOLDS.min(chosen.len()));
    let folds = fold_of.iter().max().map_or(0, |f| f + 1);
    // Where each chosen trajectory's scores are kept.
    let mut slot = vec![usize::MAX; data.trajectories.len()];
    for (k, &i) in chosen.iter().enumerate() {
        slot[i] = k;
    }

    // Held-out raw scores of each kind, per training trajectory and step.
    // (kind, average precision, held-out scores, their examples' (score, label, weight)).
    type Scored = (Kind, f64, Vec<Vec<f64>>, Vec<(f64, bool, f64)>);
    let mut best: Option<Scored> = None;
    for kind in Kind::ALL {
        let mut held_out: Vec<Vec<f64>> = chosen
            .iter()
            .map(|&i| vec![f64::NAN; data.trajectories[i].rows.len()])
            .collect();
        for fold in 0..folds {
            let fit_on: Vec<usize> = (0..chosen.len())
                .filter(|&k| fold_of[k] != fold)
                .map(|k| chosen[k])
                .collect();
            let (x, y) = data.matrix(&data.reach_examples(&fit_on, seed));
            let Ok(classifier) = Classifier::fit(kind, &x, &y, seed) else {
                continue;
            };
            let scorer = TargetModel {
                classifier: Some(classifier),
                calibration: None,
                ..model.clone()
            };
            let mut buffer = Vec::new();
            for k in (0..chosen.len()).filter(|&k| fold_of[k] == fold) {
                let rows = &data.trajectories[chosen[k]].rows;
                held_out[k] = rows.map(|_, row| data.scorer.raw_score(&scorer, row, &mut buffer));
            }
        }
        let scored: Vec<(f64, bool, f64)> = examples
            .iter()
            .map(|e| {
                let score = held_out[slot[e.trajectory]][e.step];
                (score, e.fires, choice.weight(e.trajectory))
            })
            .filter(|(s, _, _)| !s.is_nan())
            .collect();
        let precision = average_precision(&scored);
        model.training.validation.push((
            format!("{kind:?} average precision").to_lowercase(),
            precision,
        ));
        if best.as_ref().is_none_or(|b| precision > b.1) {
            best = Some((kind, precision, held_out, scored));
        }
    }
    let Some((kind, _, held_out, scored)) = best else {
        return model;
    };

    let calibration = Calibration::fit(&scored);
    // Where the classifier has no score (an input lacks history), the scorer falls back
    // on the first-passage probability: so does the policy search.
    let probabilities = at_each_step(data, chosen, |i, step, row| {
        let s = held_out[slot[i]][step];
        if s.is_nan() {
            data.scorer.passage(&model.passage, row)
        } else {
            calibration.probability(s)
        }
    });
    let (policy, key) = choose_policy(data, &choice, &probabilities);
    model
        .training
        .validation
        .push(("classifier policy objective".to_owned(), key.1));
    if key <= passage_key {
        return model;
    }
    let (x, y) = data.matrix(&data.reach_examples(train, seed));
    if let Ok(classifier) = Classifier::fit(kind, &x, &y, seed) {
        model.classifier = Some(classifier);
        model.kind = Some(kind);
        model.calibration = Some(calibration);
        model.policy = policy;
    }
    model
}

/// Sets the model's first-passage probability (window and z) and its policy to the best
/// found on the chosen entities, and returns that policy's objective; None without
/// entities.
fn choose_passage(data: &TargetData, choice: &Choice, model: &mut TargetModel) -> Option<Key> {
    let mut best: Option<(Passage, Policy, Key)> = None;
    let windows = data.scorer.inputs.windows();
    let candidates = windows.flat_map(|window| {
        let first_passage = PASSAGE_Z.into_iter().map(move |z| Passage {
            method: PassageMethod::FirstPassage,
            window: window.to_owned(),
            z,
            memory: Passage::DEFAULT_MEMORY,
            calibration: None,
        });
        first_passage.chain([Passage::predict_linear(window)])
    });
    for mut passage in candidates {
        let uncalibrated = at_each_step(data, &choice.entities, |_, _, row| {
            data.scorer.passage(&passage, row)
        });
        passage.calibration = calibrate(data, choice, &uncalibrated);
        // Calibrated from the same probabilities, not computed again.
        let probabilities = at_each_step(data, &choice.entities, |i, step, row| {
            data.scorer
                .calibrate_passage(&passage, uncalibrated[i][step], row)
        });
        let (policy, key) = choose_policy(data, choice, &probabilities);
        if best.as_ref().is_none_or(|b| key > b.2) {
            best = Some((passage, policy, key));
        }
    }
    let (passage, policy, key) = best?;
    let name = match passage.method {
        PassageMethod::FirstPassage => format!("passage {} z={}", passage.window, passage.z),
        PassageMethod::PredictLinear => format!("predict_linear {}", passage.window),
    };
    model
        .training
        .validation
        .push((format!("{name} policy objective"), key.1));
    model.passage = passage;
    model.policy = policy;
    Some(key)
}

/// `probability(trajectory, step, row)` at every step of the trajectories `which`
/// (none for the others).
fn at_each_step(
    data: &TargetData,
    which: &[usize],
    mut probability: impl FnMut(usize, usize, &[f64]) -> f64,
) -> Vec<Vec<f64>> {
    let mut probabilities: Vec<Vec<f64>> = vec![Vec::new(); data.trajectories.len()];
    for &i in which {
        probabilities[i] = data.trajectories[i]
            .rows
            .map(|step, row| probability(i, step, row));
    }
    probabilities
}

/// The calibration of `probabilities` (those of the chosen trajectories) to the labels
/// of their examples, each weighing its entity's weight: the chance of reaching the
/// threshold becomes that of the alert firing within the horizon and its `for`. None
/// without both
/// labels.
fn calibrate(
    data: &TargetData,
    choice: &Choice,
    probabilities: &[Vec<f64>],
) -> Option<Calibration> {
    let scored: Vec<(f64, bool, f64)> = data
        .forecasts_of_each(probabilities)
        .map(|(i, p, label)| (p, label, choice.weight(i)))
        .collect();
    let positives = scored.iter().filter(|s| s.1).count();
    (positives > 0 && positives < scored.len()).then(|| Calibration::fit(&scored))
}

/// The candidate policies: each open level (or none) with each ETA confidence (or
/// none), each number of steps.
fn candidates(lifecycle: &Policy) -> Vec<Policy> {
    let levels = [
        None,
        Some(0.1),
        Some(0.15),
        Some(0.2),
        Some(0.3),
        Some(0.5),
        Some(0.7),
        Some(0.8),
        Some(0.9),
        Some(0.95),
    ];
    let etas = [None, Some(0.0), Some(1.0), Some(2.0), Some(3.0)];
    let mut all = Vec::new();
    for open_probability in levels {
        for eta_z in etas {
            if open_probability.is_none() && eta_z.is_none() {
                continue;
            }
            for open_steps in [1, 2, 4, 8, 16] {
                all.push(Policy {
                    open_probability,
                    eta_z,
                    open_steps,
                    ..*lifecycle
                });
            }
        }
    }
    all
}

/// How a policy did on the training entities the chosen ones stand for: within the
/// false-ticket budget, then its [objective](crate::evaluation::Figures::objective)
/// (outside the budget: fewer false tickets per entity-day), then fewer tickets.
type Key = (bool, f64, f64);

/// The best candidate policy for these probabilities (of the chosen entities), and how
/// it did. Every ticket on a quiet entity is false: one drawn from a stratum counts its
/// weight.
fn choose_policy(data: &TargetData, choice: &Choice, probabilities: &[Vec<f64>]) -> (Policy, Key) {
    let chosen = &choice.entities;
    let entities: Vec<_> = chosen
        .iter()
        .map(|&i| &data.trajectories[i].entity)
        .collect();
    let onsets = onsets(data.history, data.alert(), entities);
    let days: f64 = chosen
        .iter()
        .map(|&i| choice.weight(i) * data.trajectories[i].days())
        .sum();
    let candidates = on_evidence(data, choice, probabilities);
    let observed = data.observed(&candidates, chosen, probabilities);
    let mut best: Option<(Policy, Key)> = None;
    for policy in candidates {
        let tickets = data.replay(&policy, &observed);
        let figures = score(&data.entity_tickets(&tickets), &onsets, data.judge(), days);
        let stood_for = stood_for(choice, &tickets);
        let false_tickets = figures.false_tickets() as f64 + stood_for;
        let false_per_day = if days > 0.0 {
            false_tickets / days
        } else {
            0.0
        };
        let within = data
            .false_ticket_budget
            .is_none_or(|budget| false_per_day <= budget);
        let rank = if within {
            figures.objective(data.horizon_s()) - stood_for
        } else {
            -false_per_day
        };
        let key = (within, rank, -(figures.tickets as f64 + stood_for));
        if best
            .as_ref()
            .is_none_or(|(_, b)| key.partial_cmp(b) == Some(std::cmp::Ordering::Greater))
        {
            best = Some((policy, key));
        }
    }
    best.unwrap_or((
        Policy::untrained(&data.lifecycle),
        (false, f64::NEG_INFINITY, 0.0),
    ))
}

/// The candidate policies that open on evidence: an open level the usual step of the
/// chosen entities already reaches opens on none, as every entity would hold a ticket
/// whatever its signal does (a calibration flat across all scores is the extreme case).
pub(super) fn on_evidence(
    data: &TargetData,
    choice: &Choice,
    probabilities: &[Vec<f64>],
) -> Vec<Policy> {
    let usual = usual_probability(choice, probabilities);
    candidates(&data.lifecycle)
        .into_iter()
        .filter(|p| p.open_probability.is_none_or(|open| open > usual))
        .collect()
}

/// Bins of the probabilities' histogram in [`usual_probability`].
const USUAL_BINS: usize = 1000;

/// The median of the known probabilities of the chosen entities' steps, each step
/// weighing its entity's weight, rounded down to a multiple of 1/[`USUAL_BINS`] (read
/// from a histogram: an estate's steps are not sorted; the candidates' open levels are
/// such multiples, so none at or below the median passes); 0 without any.
fn usual_probability(choice: &Choice, probabilities: &[Vec<f64>]) -> f64 {
    let mut histogram = vec![0.0; USUAL_BINS];
    for &i in &choice.entities {
        for p in probabilities[i].iter().filter(|p| p.is_finite()) {
            let bin = (p.clamp(0.0, 1.0) * USUAL_BINS as f64) as usize;
            histogram[bin.min(USUAL_BINS - 1)] += choice.weight(i);
        }
    }
    let half = histogram.iter().sum::<f64>() / 2.0;
    let mut below = 0.0;
    for (bin, weight) in histogram.iter().enumerate() {
        below += weight;
        if below > half {
            return bin as f64 / USUAL_BINS as f64;
        }
    }
    0.0
}

/// The tickets beyond themselves that `tickets` stand for: each ticket on an entity
/// weighing w (drawn from a stratum of quiet entities) adds w − 1.
fn stood_for(choice: &Choice, tickets: &[TrajectoryTicket]) -> f64 {
    tickets
        .iter()
        .map(|t| choice.weight(t.trajectory) - 1.0)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_probability_is_the_median_of_the_known_steps() {
        let choice = Choice::stratified(3, vec![0, 2], &[], 1);
        let flat = vec![0.1047; 100];
        let mut low = vec![0.0; 50];
        low.push(f64::NAN);
        let probabilities = vec![flat.clone(), Vec::new(), low.clone()];
        assert_eq!(usual_probability(&choice, &probabilities), 0.104);
        let just_below = vec![vec![0.0995; 10], Vec::new(), Vec::new()];
        assert!(
            usual_probability(&choice, &just_below) < 0.1,
            "0.1 stays a candidate"
        );

        let mostly_low = vec![flat, Vec::new(), vec![0.0; 150]];
        assert_eq!(usual_probability(&choice, &mostly_low), 0.0);
        assert_eq!(
            usual_probability(&choice, &[Vec::new(), Vec::new(), low]),
            0.0
        );
        let unknown = vec![vec![f64::NAN; 10], Vec::new(), Vec::new()];
        assert_eq!(usual_probability(&choice, &unknown), 0.0);
    }
}
