//! Fitting one target's model on a set of entities: the classifier kind, its
//! calibration and the decision policy are all chosen on held-out entities.
//!
//! In: a [`TargetData`] (the target's scorer, its trajectories, the alert history, the
//! horizon) and the trajectories to train on. Out: a [`TargetModel`].
//!
//! 1. Examples: every step of every training trajectory where the rule is neither pending
//!    nor firing; positive when the rule starts firing within `(t, t + horizon]`.
//! 2. Folds by entity (never shuffling neighbouring steps across a split); each kind
//!    ([`Kind::ALL`]) is fitted on all folds but one and scores the held-out one. The
//!    classifiers learn from the levels each signal reached and held short of the
//!    threshold ([`reach`]): a few hundred onsets per entity where `ALERTS` has one or
//!    two. They are judged on the real threshold and labels: the kind with the best
//!    average precision on those held-out scores wins.
//! 3. Platt scaling fitted on the winner's held-out scores.
//! 4. The policy that does best on the held-out probabilities, replayed step by step:
//!    most onsets caught minus false tickets, then the longest median lead, then the
//!    fewest tickets.
//! 5. The winner refitted on every training trajectory.
//!
//! Before any classifier, the first-passage probability of each window, with the drift
//! lowered by each of `PASSAGE_Z` (0, 1, 2) standard errors, gets its own best policy (step 4);
//! the best of them is the model unless the classifier beats it on the same objective.
//! With no onset among the training entities there is nothing to choose by: the target
//! keeps the defaults ([`Passage::default_for`], [`Policy::untrained`]).

use ndarray::Array2;

use super::assess::{average_precision, objective};
use super::folds;
use super::reach;
use super::sample::Reservoir;
use super::{AlertHistory, Trajectory};
use crate::evaluation::{Judge, Ticket, onsets, score};
use crate::model::artifact::TrainingSummary;
use crate::model::{
    AlertState, Calibration, Classifier, Kind, Observation, Passage, Policy, TargetModel,
    TargetScorer, TicketSpan, steps_that_matter,
};

/// How many folds the inner validation uses, at most.
const INNER_FOLDS: usize = 4;
/// The first-passage probabilities tried: the drift lowered by this many standard errors.
const PASSAGE_Z: [f64; 3] = [0.0, 1.0, 2.0];

/// A ticket a policy opened on one of the trajectories (by index).
#[derive(Debug, Clone, Copy)]
pub struct TrajectoryTicket {
    pub trajectory: usize,
    pub span: TicketSpan,
}

/// The levels a classifier learns to reach, besides the rule's threshold: these shares
/// of the distance from the signal to the threshold.
const REACH_SHARES: [f64; 4] = [1.0, 0.5, 0.25, 0.125];

/// The reach examples of each class a classifier learns from, at most: a uniform
/// sample of each class beyond ([`Reservoir`]). 1,000 filesystems × 7 days give 160 M;
/// the two lab runs about 40 k, all kept.
const REACH_EXAMPLES_KEPT: usize = 10_000;

/// A step of a trajectory, a threshold, and whether the rule fired (or would have, at
/// that threshold).
#[derive(Debug, Clone, Copy)]
struct Example {
    trajectory: usize,
    step: usize,
    threshold: f64,
    fires: bool,
}

/// One target's training material.
pub struct TargetData<'a> {
    pub scorer: &'a TargetScorer,
    pub trajectories: &'a [Trajectory],
    pub history: &'a AlertHistory,
    pub step_ms: i64,
    /// The close and cooldown steps every policy uses.
    pub lifecycle: Policy,
    /// False tickets per entity-day a chosen policy may open on the training entities;
    /// None: no limit, the objective alone decides.
    pub false_ticket_budget: Option<f64>,
    /// The rule's state at each step of each trajectory (read once: every policy tried
    /// replays them).
    alerts: Vec<Vec<AlertState>>,
}

impl<'a> TargetData<'a> {
    pub fn new(
        scorer: &'a TargetScorer,
        trajectories: &'a [Trajectory],
        history: &'a AlertHistory,
        step: std::time::Duration,
    ) -> TargetData<'a> {
        let alert = &scorer.target.alert;
        let alerts = trajectories
            .iter()
            .map(|t| {
                let states = t.times_ms.iter();
                states
                    .map(|&at| history.state_at(alert, &t.entity, at))
                    .collect()
            })
            .collect();
        TargetData {
            scorer,
            trajectories,
            history,
            step_ms: step.as_millis() as i64,
            lifecycle: Policy::lifecycle(step),
            false_ticket_budget: None,
            alerts,
        }
    }
}

impl TargetData<'_> {
    fn alert(&self) -> &str {
        &self.scorer.target.alert
    }

    pub fn horizon_s(&self) -> f64 {
        self.scorer.target.horizon.as_secs_f64()
    }

    fn horizon_ms(&self) -> i64 {
        self.scorer.target.horizon.as_millis() as i64
    }

    /// How tickets are judged: the horizon and the rule's `for`.
    pub fn judge(&self) -> Judge {
        Judge {
            horizon_ms: self.horizon_ms(),
            hold_ms: self.scorer.target.hold.as_millis() as i64,
        }
    }

    /// The rule's state at step `step` of trajectory `i`.
    pub fn alert_state(&self, i: usize, step: usize) -> AlertState {
        self.alerts[i][step]
    }

    /// The label of step `step` of trajectory `i`, None when the step is not an example
    /// (the rule is active).
    pub fn label(&self, i: usize, step: usize) -> Option<bool> {
        let trajectory = &self.trajectories[i];
        (self.alert_state(i, step) == AlertState::Inactive).then(|| {
            let t_ms = trajectory.times_ms[step];
            self.history
                .fires_within(self.alert(), &trajectory.entity, t_ms, self.horizon_ms())
        })
    }

    /// Every example step's (probability, label), given the probability of each step of
    /// each trajectory (`probabilities[i]` for trajectory `i`, empty for one left out):
    /// the steps where the rule was not active and the probability is known.
    pub fn forecasts(&self, probabilities: &[Vec<f64>]) -> Vec<(f64, bool)> {
        let mut scored = Vec::new();
        for (i, probabilities) in probabilities.iter().enumerate() {
            for (step, &p) in probabilities.iter().enumerate() {
                if let Some(label) = self.label(i, step)
                    && !p.is_nan()
                {
                    scored.push((p, label));
                }
            }
        }
        scored
    }

    pub fn onsets_of(&self, trajectory: &Trajectory) -> usize {
        self.history
            .episodes(self.alert(), &trajectory.entity)
            .iter()
            .filter(|e| e.onset_ms.is_some())
            .count()
    }

    /// Every example of the trajectories `which`: (trajectory, step) with its label.
    /// A step whose inputs are not all known (too little history) is not an example: the
    /// classifier is never asked about it.
    fn examples(&self, which: &[usize]) -> Vec<Example> {
        let mut examples = Vec::new();
        let (mut row, mut buffer) = (Vec::new(), Vec::new());
        for &i in which {
            let trajectory = &self.trajectories[i];
            for step in 0..trajectory.rows.len() {
                let row = trajectory.rows.read(step, &mut row);
                if !self.inputs_known(row, &mut buffer) {
                    continue;
                }
                if let Some(fires) = self.label(i, step) {
                    examples.push(Example {
                        trajectory: i,
                        step,
                        threshold: self.scorer.target.threshold,
                        fires,
                    });
                }
            }
        }
        examples
    }

    /// The examples a classifier learns from on the trajectories `which`: at each step
    /// with every input known and the signal short of the threshold, the levels
    /// [`REACH_SHARES`] of the way there, each labelled by whether the signal reached it
    /// within the horizon and held it for the rule's `for` ([`reach`]): thousands of
    /// onsets where `ALERTS` holds a handful, on every entity, including those that
    /// never alerted. Beyond [`REACH_EXAMPLES_KEPT`] of a class, a uniform sample of it
    /// (seeded by `seed`), in the order of the steps.
    fn reach_examples(&self, which: &[usize], seed: u64) -> Vec<Example> {
        let mut positives = Reservoir::new(REACH_EXAMPLES_KEPT, seed);
        let mut negatives = Reservoir::new(REACH_EXAMPLES_KEPT, seed ^ 1);
        let mut place = 0;
        let side = self.scorer.inputs.side();
        let threshold = self.scorer.target.threshold;
        let level = self.scorer.level_column();
        let hold_ms = self.scorer.target.hold.as_millis() as i64;
        let (mut row, mut buffer) = (Vec::new(), Vec::new());
        for &i in which {
            let trajectory = &self.trajectories[i];
            let levels = trajectory.rows.column(level);
            let reach = reach::reaches(
                &trajectory.times_ms,
                &levels,
                side,
                hold_ms,
                self.horizon_ms(),
            );
            for step in 0..trajectory.rows.len() {
                let margin = side * (levels[step] - threshold);
                if margin.is_nan() || margin <= 0.0 {
                    continue;
                }
                if !self.inputs_known(trajectory.rows.read(step, &mut row), &mut buffer) {
                    continue;
                }
                for share in REACH_SHARES {
                    let at = levels[step] - side * share * margin;
                    if let Some(fires) = reach[step].reaches(side, at) {
                        let class = if fires {
                            &mut positives
                        } else {
                            &mut negatives
                        };
                        class.offer(
                            place,
                            Example {
                                trajectory: i,
                                step,
                                threshold: at,
                                fires,
                            },
                        );
                        place += 1;
                    }
                }
            }
        }
        let mut examples = positives.into_sorted();
        examples.extend(negatives.into_sorted());
        examples.sort_unstable_by_key(|&(place, _)| place);
        examples.into_iter().map(|(_, example)| example).collect()
    }

    /// Whether every input of `row` is known (its windows have enough history); a row
    /// with one unknown is never an example. `buffer` is scratch space.
    fn inputs_known(&self, row: &[f64], buffer: &mut Vec<f64>) -> bool {
        buffer.clear();
        self.scorer.inputs.encode(row, buffer);
        buffer.iter().all(|x| !x.is_nan())
    }

    fn matrix(&self, examples: &[Example]) -> (Array2<f64>, Vec<bool>) {
        let width = self.scorer.inputs.len();
        let mut values = Vec::with_capacity(examples.len() * width);
        let mut row = Vec::new();
        for e in examples {
            let rows = &self.trajectories[e.trajectory].rows;
            let row = rows.read(e.step, &mut row);
            self.scorer.inputs.encode_to(row, e.threshold, &mut values);
        }
        let x = Array2::from_shape_vec((examples.len(), width), values).expect("rows × inputs");
        (x, examples.iter().map(|e| e.fires).collect())
    }

    /// The tickets `policy` opens over the trajectories `which`, given the probability
    /// of each step of each trajectory (`probabilities[i]` for trajectory `i`).
    pub fn tickets(
        &self,
        policy: &Policy,
        which: &[usize],
        probabilities: &[Vec<f64>],
    ) -> Vec<TrajectoryTicket> {
        self.replay(policy, &self.observed(&[*policy], which, probabilities))
    }

    /// What `policies` observe over the trajectories `which`: per trajectory, the steps
    /// that can change what one of them decides ([`steps_that_matter`]).
    fn observed(
        &self,
        policies: &[Policy],
        which: &[usize],
        probabilities: &[Vec<f64>],
    ) -> Vec<(usize, Vec<(i64, Observation)>)> {
        which
            .iter()
            .map(|&i| {
                let trajectory = &self.trajectories[i];
                let steps = trajectory.rows.map(|step, row| {
                    let alert = self.alert_state(i, step);
                    let scored = self.scorer.observe(row, probabilities[i][step], alert);
                    (trajectory.times_ms[step], scored.observation)
                });
                (i, steps_that_matter(policies, self.horizon_s(), steps))
            })
            .collect()
    }

    /// The tickets `policy` opens over `observed` steps.
    fn replay(
        &self,
        policy: &Policy,
        observed: &[(usize, Vec<(i64, Observation)>)],
    ) -> Vec<TrajectoryTicket> {
        let mut tickets = Vec::new();
        for (i, steps) in observed {
            let opened = policy.tickets(self.horizon_s(), steps.iter().copied());
            tickets.extend(opened.into_iter().map(|span| TrajectoryTicket {
                trajectory: *i,
                span,
            }));
        }
        tickets
    }

    /// The tickets as evaluation sees them.
    pub fn entity_tickets(&self, tickets: &[TrajectoryTicket]) -> Vec<Ticket> {
        tickets
            .iter()
            .map(|t| Ticket {
                entity: self.trajectories[t.trajectory].entity.clone(),
                open_ms: t.span.open_ms,
            })
            .collect()
    }

    /// The calibrated probability of every step of `which`, by `model`.
    pub fn probabilities(&self, model: &TargetModel, which: &[usize]) -> Vec<Vec<f64>> {
        let mut buffer = Vec::new();
        which
            .iter()
            .map(|&i| {
                self.trajectories[i].rows.map(|step, row| {
                    let alert = self.alert_state(i, step);
                    let scored = self.scorer.score(model, row, alert, &mut buffer);
                    scored.observation.probability
                })
            })
            .collect()
    }
}

/// Fits the target's model on the trajectories `train`.
pub fn fit_target(data: &TargetData, train: &[usize], seed: u64) -> TargetModel {
    let examples = data.examples(train);
    let positives = examples.iter().filter(|e| e.fires).count();
    let onsets: Vec<usize> = train
        .iter()
        .map(|&i| data.onsets_of(&data.trajectories[i]))
        .collect();
    let mut model = TargetModel {
        training: TrainingSummary {
            entities: train.len(),
            examples: examples.len(),
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
    let Some(passage_key) = choose_passage(data, train, &mut model) else {
        return model;
    };
    if positives == 0 || positives == examples.len() || train.len() < 2 {
        return model;
    }
    let fold_of = folds::by_entity(&onsets, INNER_FOLDS.min(train.len()));
    let folds = fold_of.iter().max().map_or(0, |f| f + 1);
    // Where each training trajectory's scores are kept.
    let mut slot = vec![usize::MAX; data.trajectories.len()];
    for (k, &i) in train.iter().enumerate() {
        slot[i] = k;
    }

    // Held-out raw scores of each kind, per training trajectory and step.
    let mut best: Option<(Kind, f64, Vec<Vec<f64>>)> = None;
    for kind in Kind::ALL {
        let mut held_out: Vec<Vec<f64>> = train
            .iter()
            .map(|&i| vec![f64::NAN; data.trajectories[i].rows.len()])
            .collect();
        for fold in 0..folds {
            let fit_on: Vec<usize> = (0..train.len())
                .filter(|&k| fold_of[k] != fold)
                .map(|k| train[k])
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
            for k in (0..train.len()).filter(|&k| fold_of[k] == fold) {
                let rows = &data.trajectories[train[k]].rows;
                held_out[k] = rows.map(|_, row| data.scorer.raw_score(&scorer, row, &mut buffer));
            }
        }
        let scored: Vec<(f64, bool)> = examples
            .iter()
            .map(|e| (held_out[slot[e.trajectory]][e.step], e.fires))
            .filter(|(s, _)| !s.is_nan())
            .collect();
        let precision = average_precision(&scored);
        model.training.validation.push((
            format!("{kind:?} average precision").to_lowercase(),
            precision,
        ));
        if best.as_ref().is_none_or(|b| precision > b.1) {
            best = Some((kind, precision, held_out));
        }
    }
    let Some((kind, _, held_out)) = best else {
        return model;
    };

    let (scores, labels): (Vec<f64>, Vec<bool>) = examples
        .iter()
        .map(|e| (held_out[slot[e.trajectory]][e.step], e.fires))
        .filter(|(s, _)| !s.is_nan())
        .unzip();
    let calibration = Calibration::fit(&scores, &labels);
    // Where the classifier has no score (an input lacks history), the scorer falls back
    // on the first-passage probability: so does the policy search.
    let mut probabilities: Vec<Vec<f64>> = vec![Vec::new(); data.trajectories.len()];
    for (&i, steps) in train.iter().zip(&held_out) {
        probabilities[i] = data.trajectories[i].rows.map(|step, row| {
            let s = steps[step];
            if s.is_nan() {
                data.scorer.passage(&model.passage, row)
            } else {
                calibration.probability(s)
            }
        });
    }
    let (policy, key) = choose_policy(data, train, &probabilities);
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
/// found on `train`, and returns that policy's objective; None without entities.
fn choose_passage(data: &TargetData, train: &[usize], model: &mut TargetModel) -> Option<Key> {
    let mut best: Option<(Passage, Policy, Key)> = None;
    for window in data.scorer.inputs.windows() {
        for z in PASSAGE_Z {
            let mut passage = Passage {
                window: window.to_owned(),
                z,
                memory: Passage::DEFAULT_MEMORY,
                calibration: None,
            };
            passage.calibration = calibrate(data, &passage_probabilities(data, train, &passage));
            let probabilities = passage_probabilities(data, train, &passage);
            let (policy, key) = choose_policy(data, train, &probabilities);
            if best.as_ref().is_none_or(|b| key > b.2) {
                best = Some((passage, policy, key));
            }
        }
    }
    let (passage, policy, key) = best?;
    model.training.validation.push((
        format!(
            "passage {} z={} policy objective",
            passage.window, passage.z
        ),
        key.1,
    ));
    model.passage = passage;
    model.policy = policy;
    Some(key)
}

/// The first-passage probability of every step of the trajectories `train`.
fn passage_probabilities(data: &TargetData, train: &[usize], passage: &Passage) -> Vec<Vec<f64>> {
    let mut probabilities: Vec<Vec<f64>> = vec![Vec::new(); data.trajectories.len()];
    for &i in train {
        probabilities[i] = data.trajectories[i]
            .rows
            .map(|_, row| data.scorer.passage(passage, row));
    }
    probabilities
}

/// Platt scaling of `probabilities` (those of the training trajectories) to the labels
/// of their examples: the chance of reaching the threshold becomes that of the alert
/// firing within the horizon. None without both labels.
fn calibrate(data: &TargetData, probabilities: &[Vec<f64>]) -> Option<Calibration> {
    let (scores, labels): (Vec<f64>, Vec<bool>) = data.forecasts(probabilities).into_iter().unzip();
    let positives = labels.iter().filter(|&&l| l).count();
    (positives > 0 && positives < labels.len()).then(|| Calibration::fit(&scores, &labels))
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

/// How a policy did on training entities: within the false-ticket budget, then its
/// [`objective`] (outside the budget: fewer false tickets per entity-day), then fewer
/// tickets.
type Key = (bool, f64, i64);

/// The best candidate policy for these probabilities, and how it did.
fn choose_policy(data: &TargetData, train: &[usize], probabilities: &[Vec<f64>]) -> (Policy, Key) {
    let entities: Vec<_> = train
        .iter()
        .map(|&i| &data.trajectories[i].entity)
        .collect();
    let onsets = onsets(data.history, data.alert(), entities);
    let days: f64 = train.iter().map(|&i| data.trajectories[i].days()).sum();
    let candidates = candidates(&data.lifecycle);
    let observed = data.observed(&candidates, train, probabilities);
    let mut best: Option<(Policy, Key)> = None;
    for policy in candidates {
        let tickets = data.entity_tickets(&data.replay(&policy, &observed));
        let figures = score(&tickets, &onsets, data.judge(), days);
        let within = data
            .false_ticket_budget
            .is_none_or(|budget| figures.false_tickets_per_entity_day <= budget);
        let rank = if within {
            objective(&figures, data.horizon_s())
        } else {
            -figures.false_tickets_per_entity_day
        };
        let key = (within, rank, -(figures.tickets as i64));
        if best
            .as_ref()
            .is_none_or(|(_, b)| key.partial_cmp(b) == Some(std::cmp::Ordering::Greater))
        {
            best = Some((policy, key));
        }
    }
    best.unwrap_or((
        Policy::untrained(&data.lifecycle),
        (false, f64::NEG_INFINITY, 0),
    ))
}
