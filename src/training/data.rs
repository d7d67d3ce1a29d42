//! One target's training material and how a policy replays over it.
//!
//! In: the target's scorer, its signal's trajectories, the alert history and the step.
//! Out: the examples classifiers learn from (the rule's own labels, and the levels
//! each signal reached within the horizon, [`reach`], bounded by a uniform sample of
//! each class), the probability of every step under a model, and the tickets a policy
//! opens, replayed over the steps that can change its decisions
//! ([`steps_that_matter`]). [`super::fit`] chooses a model with them; `backtest` and the
//! held-out evaluation score with them.

use std::sync::OnceLock;

use ndarray::Array2;

use super::alerts::{fires_among, state_among};
use super::reach;
use super::sample::Reservoir;
use super::{AlertHistory, Episode, Trajectory};
use crate::evaluation::{Judge, Ticket};
use crate::model::{
    AlertState, Observation, Policy, TargetModel, TargetScorer, TicketSpan, steps_that_matter,
};

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
const REACH_EXAMPLES_KEPT: usize = 5_000;

/// A step of a trajectory, a threshold, and whether the rule fired (or would have, at
/// that threshold).
#[derive(Debug, Clone, Copy)]
pub(super) struct Example {
    pub(super) trajectory: usize,
    pub(super) step: usize,
    pub(super) threshold: f64,
    pub(super) fires: bool,
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
    /// Each trajectory's episodes of the rule.
    episodes: Vec<&'a [Episode]>,
    /// The rule's state at each step of each trajectory (read once: every policy tried
    /// replays them).
    alerts: Vec<Vec<AlertState>>,
    /// Per trajectory, whether each step has every input known ([`Self::inputs_known`]),
    /// worked out by the first fit that asks: every fold reads them.
    known: Vec<OnceLock<Vec<bool>>>,
}

impl<'a> TargetData<'a> {
    pub fn new(
        scorer: &'a TargetScorer,
        trajectories: &'a [Trajectory],
        history: &'a AlertHistory,
        step: std::time::Duration,
    ) -> TargetData<'a> {
        let alert = &scorer.target.alert;
        let episodes: Vec<&[Episode]> = trajectories
            .iter()
            .map(|t| history.episodes(alert, &t.entity))
            .collect();
        let alerts = trajectories
            .iter()
            .zip(&episodes)
            .map(|(t, episodes)| {
                let states = t.times_ms.iter();
                states.map(|&at| state_among(episodes, at)).collect()
            })
            .collect();
        TargetData {
            scorer,
            trajectories,
            history,
            step_ms: step.as_millis() as i64,
            lifecycle: Policy::lifecycle(step),
            false_ticket_budget: None,
            episodes,
            alerts,
            known: trajectories.iter().map(|_| OnceLock::new()).collect(),
        }
    }
}

impl TargetData<'_> {
    pub(super) fn alert(&self) -> &str {
        &self.scorer.target.alert
    }

    pub fn horizon_s(&self) -> f64 {
        self.scorer.target.horizon.as_secs_f64()
    }

    pub(super) fn horizon_ms(&self) -> i64 {
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

    /// The label of step `step` of trajectory `i`: does the alert start firing within the
    /// horizon and the rule's `for`, as a ticket opened then is judged true. None when
    /// the step is not an example (the rule is active).
    pub fn label(&self, i: usize, step: usize) -> Option<bool> {
        (self.alert_state(i, step) == AlertState::Inactive).then(|| {
            let t_ms = self.trajectories[i].times_ms[step];
            fires_among(self.episodes[i], t_ms, self.judge().window_ms())
        })
    }

    /// Every example step's (probability, label), given the probability of each step of
    /// each trajectory (`probabilities[i]` for trajectory `i`, empty for one left out):
    /// the steps where the rule was not active and the probability is known.
    pub fn forecasts(&self, probabilities: &[Vec<f64>]) -> Vec<(f64, bool)> {
        self.forecasts_of_each(probabilities)
            .map(|(_, p, label)| (p, label))
            .collect()
    }

    /// [`Self::forecasts`], each with its trajectory: (trajectory, probability, label).
    pub(super) fn forecasts_of_each<'p>(
        &'p self,
        probabilities: &'p [Vec<f64>],
    ) -> impl Iterator<Item = (usize, f64, bool)> + 'p {
        probabilities
            .iter()
            .enumerate()
            .flat_map(move |(i, steps)| {
                steps.iter().enumerate().filter_map(move |(step, &p)| {
                    let label = self.label(i, step)?;
                    (!p.is_nan()).then_some((i, p, label))
                })
            })
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
    pub(super) fn examples(&self, which: &[usize]) -> Vec<Example> {
        let mut examples = Vec::new();
        for &i in which {
            let known = self.inputs_known(i);
            for step in (0..known.len()).filter(|&step| known[step]) {
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
    pub(super) fn reach_examples(&self, which: &[usize], seed: u64) -> Vec<Example> {
        let mut positives = Reservoir::new(REACH_EXAMPLES_KEPT, seed);
        let mut negatives = Reservoir::new(REACH_EXAMPLES_KEPT, seed ^ 1);
        let mut place = 0;
        let side = self.scorer.inputs.side();
        let threshold = self.scorer.target.threshold;
        let level = self.scorer.level_column();
        let hold_ms = self.scorer.target.hold.as_millis() as i64;
        for &i in which {
            let trajectory = &self.trajectories[i];
            let known = self.inputs_known(i);
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
                if !known[step] {
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

    /// Whether each step of trajectory `i` has every input known (its windows have
    /// enough history); a step with one unknown is never an example.
    fn inputs_known(&self, i: usize) -> &[bool] {
        self.known[i].get_or_init(|| {
            let rows = &self.trajectories[i].rows;
            let (mut row, mut inputs) = (Vec::new(), Vec::new());
            (0..rows.len())
                .map(|step| {
                    inputs.clear();
                    self.scorer
                        .inputs
                        .encode(rows.read(step, &mut row), &mut inputs);
                    inputs.iter().all(|x| !x.is_nan())
                })
                .collect()
        })
    }

    pub(super) fn matrix(&self, examples: &[Example]) -> (Array2<f64>, Vec<bool>) {
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
    pub(super) fn observed(
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
    pub(super) fn replay(
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
