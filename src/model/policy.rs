//! The decision policy: when a prediction opens a ticket and when the ticket closes.
//!
//! In: per target and entity, one [`Observation`] per step (calibrated probability, ETA
//! and its standard error, the rule's own state from `ALERTS`). Out: a [`Decision`]
//! per step. `backtest` and `serve` run this same state machine, so a backtest shows the
//! tickets `serve` would open.
//!
//! - **Open** when the risk has held for `open_steps` consecutive steps, the rule is not
//!   firing (a pending rule has not fired yet: its `for` may still run out), no ticket
//!   is open and the cooldown has passed. The risk
//!   holds when the probability is at least `open_probability`, or when the trend
//!   crosses the threshold within the horizon with confidence:
//!   `eta + eta_z × eta_stderr ≤ horizon`.
//! - **Close** as `averted` when the risk has stayed low for `close_steps` steps (the
//!   probability below half the open level and the ETA condition false), or as
//!   `materialised` when the real alert fired and has resolved since.
//! - At most one open ticket; after a close, a new one opens `cooldown_steps` steps
//!   after it at the earliest (steps while the rule is active do not count down).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long a ticket's risk must stay low before it closes, and the cooldown after.
pub const CALM: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Policy {
    /// None: the probability never opens a ticket (a target without a classifier).
    pub open_probability: Option<f64>,
    /// None: the ETA never opens a ticket.
    pub eta_z: Option<f64>,
    pub open_steps: u32,
    pub close_steps: u32,
    pub cooldown_steps: u32,
}

/// The rule's own state at a step, from `ALERTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

#[derive(Debug, Clone, Copy)]
pub struct Observation {
    /// NaN when there is no classifier.
    pub probability: f64,
    /// NaN when the trend crosses nowhere.
    pub eta_seconds: f64,
    pub eta_stderr_seconds: f64,
    pub alert: AlertState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The risk went away without the alert.
    Averted,
    /// The alert fired and has resolved.
    Materialised,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Nothing,
    Open,
    Close(Outcome),
}

/// When a ticket opened, and closed if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketSpan {
    pub open_ms: i64,
    pub close_ms: Option<i64>,
}

/// One (target, entity)'s place in the policy.
#[derive(Debug, Clone, Default)]
pub struct PolicyState {
    /// Consecutive steps the risk has held (while no ticket is open).
    risky: u32,
    /// Consecutive low-risk steps (while a ticket is open).
    calm: u32,
    open: bool,
    /// The alert fired while the ticket was open.
    fired: bool,
    cooldown_left: u32,
}

/// How the policy opens, in words: `p ≥ 0.3 or ETA + 1σ within the horizon, for 8 steps`.
impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let probability = self.open_probability.map(|level| format!("p ≥ {level}"));
        let eta = self.eta_z.map(|z| format!("ETA + {z}σ within the horizon"));
        let rules: Vec<String> = probability.into_iter().chain(eta).collect();
        let rules = if rules.is_empty() {
            "never".to_owned()
        } else {
            rules.join(" or ")
        };
        let steps = self.open_steps;
        write!(
            f,
            "{rules}, for {steps} step{}",
            if steps == 1 { "" } else { "s" }
        )
    }
}

impl Policy {
    /// The close and cooldown steps every policy of a pipeline with this step uses
    /// ([`CALM`]), opening on nothing.
    pub fn lifecycle(step: Duration) -> Policy {
        let steps = (CALM.as_millis() / step.as_millis().max(1)).max(1) as u32;
        Policy {
            open_probability: None,
            eta_z: None,
            open_steps: 1,
            close_steps: steps,
            cooldown_steps: steps,
        }
    }

    /// The policy of a target nothing was learnt for: the probability (the first-passage
    /// probability, without a classifier) at 0.8 or more for two steps in a row.
    pub fn untrained(lifecycle: &Policy) -> Policy {
        Policy {
            open_probability: Some(0.8),
            eta_z: None,
            open_steps: 2,
            ..*lifecycle
        }
    }

    /// Whether a step neither opens nor keeps open a ticket (see [`steps_that_matter`]).
    fn is_quiet(&self, horizon_s: f64, o: &Observation) -> bool {
        o.alert == AlertState::Inactive
            && !o.probability.is_nan()
            && self
                .open_probability
                .is_none_or(|level| o.probability < level * 0.5)
            && !self.eta_within(horizon_s, o)
    }

    fn eta_within(&self, horizon_s: f64, o: &Observation) -> bool {
        self.eta_z.is_some_and(|z| {
            let stderr = if o.eta_stderr_seconds.is_nan() {
                0.0
            } else {
                o.eta_stderr_seconds
            };
            o.eta_seconds + z * stderr <= horizon_s
        })
    }
}

impl Policy {
    /// Runs a fresh state over one entity's (time, observation) steps: every ticket it
    /// opens.
    pub fn tickets(
        &self,
        horizon_s: f64,
        steps: impl IntoIterator<Item = (i64, Observation)>,
    ) -> Vec<TicketSpan> {
        let mut state = PolicyState::default();
        let mut tickets: Vec<TicketSpan> = Vec::new();
        for (t_ms, observation) in steps {
            match state.step(self, horizon_s, &observation) {
                Decision::Open => tickets.push(TicketSpan {
                    open_ms: t_ms,
                    close_ms: None,
                }),
                Decision::Close(_) => {
                    if let Some(open) = tickets.last_mut() {
                        open.close_ms = Some(t_ms);
                    }
                }
                Decision::Nothing => {}
            }
        }
        tickets
    }
}

/// The steps of one entity that can change what any of `policies` decides; replaying
/// only them opens (and closes) the same tickets at the same times.
///
/// A step is quiet for a policy when the rule is inactive, the probability is known and
/// below half its open level, and the ETA condition is false: it neither opens nor
/// keeps a ticket open. After `close_steps + cooldown_steps` quiet steps in a row every
/// state is at rest (no ticket, no cooldown, no risky run), and a quiet step leaves a
/// state at rest as it is: such steps are left out. Most steps of a quiet estate are,
/// which is what makes choosing among hundreds of policies cheap at estate scale.
pub fn steps_that_matter(
    policies: &[Policy],
    horizon_s: f64,
    steps: impl IntoIterator<Item = (i64, Observation)>,
) -> Vec<(i64, Observation)> {
    let settling = policies
        .iter()
        .map(|p| p.close_steps + p.cooldown_steps)
        .max()
        .unwrap_or(0);
    let loosest = loosest(policies);
    // Quiet steps in a row before this one; the start is at rest.
    let mut quiet_run = u32::MAX;
    let mut kept = Vec::new();
    for (t_ms, o) in steps {
        let quiet = loosest.is_quiet(horizon_s, &o);
        if !(quiet && quiet_run >= settling) {
            kept.push((t_ms, o));
        }
        quiet_run = if quiet {
            quiet_run.saturating_add(1)
        } else {
            0
        };
    }
    kept
}

/// A policy quiet exactly where every one of `policies` is: the lowest open level and
/// the smallest ETA confidence among them. A probability below half the lowest level is
/// below half of each; an ETA that is not within the horizon with the smallest `z` is
/// not with any larger one (the standard error is never negative).
fn loosest(policies: &[Policy]) -> Policy {
    let least = |values: &mut dyn Iterator<Item = f64>| values.reduce(f64::min);
    Policy {
        open_probability: least(&mut policies.iter().filter_map(|p| p.open_probability)),
        eta_z: least(&mut policies.iter().filter_map(|p| p.eta_z)),
        // Only its quiet test is read.
        open_steps: 1,
        close_steps: 0,
        cooldown_steps: 0,
    }
}

impl PolicyState {
    /// The state of a ticket opened before a restart: open, and `fired` when its rule
    /// fired since (so that it closes as materialised once the rule resolves).
    pub fn resumed(fired: bool) -> PolicyState {
        PolicyState {
            open: true,
            fired,
            ..PolicyState::default()
        }
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    pub fn step(&mut self, policy: &Policy, horizon_s: f64, o: &Observation) -> Decision {
        match o.alert {
            AlertState::Firing => {
                self.risky = 0;
                self.calm = 0;
                self.fired |= self.open;
                return Decision::Nothing;
            }
            // A pending rule is still a prediction away from firing: a ticket may open,
            // an open one waits for the rule.
            AlertState::Pending if self.open => {
                self.calm = 0;
                return Decision::Nothing;
            }
            AlertState::Pending | AlertState::Inactive => {}
        }
        if self.open && o.probability.is_nan() {
            // Nothing is known (warm-up after a restart, a scrape gap): an open ticket
            // neither calms down nor closes until the signal is back.
            return Decision::Nothing;
        }
        if self.open && self.fired {
            return self.close(policy, Outcome::Materialised);
        }
        let eta = policy.eta_within(horizon_s, o);
        if self.open {
            let low = policy
                .open_probability
                .is_none_or(|level| o.probability < level * 0.5);
            self.calm = if low && !eta { self.calm + 1 } else { 0 };
            if self.calm >= policy.close_steps {
                return self.close(policy, Outcome::Averted);
            }
            return Decision::Nothing;
        }
        self.cooldown_left = self.cooldown_left.saturating_sub(1);
        let high = policy
            .open_probability
            .is_some_and(|level| o.probability >= level);
        self.risky = if high || eta { self.risky + 1 } else { 0 };
        if self.risky >= policy.open_steps && self.cooldown_left == 0 {
            self.open = true;
            self.risky = 0;
            self.calm = 0;
            return Decision::Open;
        }
        Decision::Nothing
    }

    fn close(&mut self, policy: &Policy, outcome: Outcome) -> Decision {
        self.open = false;
        self.fired = false;
        self.calm = 0;
        self.cooldown_left = policy.cooldown_steps;
        Decision::Close(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        open_probability: Some(0.8),
        eta_z: None,
        open_steps: 2,
        close_steps: 3,
        cooldown_steps: 3,
    };

    fn run(probabilities: &[(f64, AlertState)]) -> Vec<Decision> {
        run_from(PolicyState::default(), probabilities)
    }

    fn run_from(mut state: PolicyState, probabilities: &[(f64, AlertState)]) -> Vec<Decision> {
        probabilities
            .iter()
            .map(|&(probability, alert)| {
                let o = Observation {
                    probability,
                    eta_seconds: f64::NAN,
                    eta_stderr_seconds: f64::NAN,
                    alert,
                };
                state.step(&POLICY, 1800.0, &o)
            })
            .collect()
    }

    use AlertState::*;
    use Decision::*;

    #[test]
    fn replaying_only_the_steps_that_matter_gives_the_same_tickets() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let pick =
            |rng: &mut rand::rngs::StdRng, values: &[f64]| values[rng.gen_range(0..values.len())];
        for _ in 0..300 {
            let policies: Vec<Policy> = (0..rng.gen_range(1..4))
                .map(|_| Policy {
                    open_probability: rng.gen_bool(0.8).then(|| pick(&mut rng, &[0.2, 0.5, 0.8])),
                    eta_z: rng.gen_bool(0.5).then(|| pick(&mut rng, &[0.0, 1.0])),
                    open_steps: rng.gen_range(1..4),
                    close_steps: rng.gen_range(1..4),
                    cooldown_steps: rng.gen_range(0..4),
                })
                .collect();
            // Long calm stretches with bursts of risk, unknown steps and alerts.
            let steps: Vec<(i64, Observation)> = (0..rng.gen_range(0..120))
                .map(|i| {
                    let calm = rng.gen_bool(0.7);
                    let o = Observation {
                        probability: match rng.gen_range(0..20) {
                            0 => f64::NAN,
                            _ if calm => rng.gen_range(0.0..0.09),
                            _ => rng.gen_range(0.0..1.0),
                        },
                        eta_seconds: if calm {
                            f64::NAN
                        } else {
                            rng.gen_range(0.0..3600.0)
                        },
                        eta_stderr_seconds: rng.gen_range(0.0..600.0),
                        alert: match rng.gen_range(0..30) {
                            0 => AlertState::Pending,
                            1 => AlertState::Firing,
                            _ => AlertState::Inactive,
                        },
                    };
                    (i * 15_000, o)
                })
                .collect();
            let kept = steps_that_matter(&policies, 1800.0, steps.clone());
            for policy in &policies {
                assert_eq!(
                    policy.tickets(1800.0, kept.clone()),
                    policy.tickets(1800.0, steps.clone()),
                    "{policy:?}"
                );
            }
        }
    }

    #[test]
    fn opens_after_k_risky_steps_and_closes_after_the_risk_stays_low() {
        let decisions = run(&[
            (0.9, Inactive),
            (0.5, Inactive),
            (0.9, Inactive),
            (0.95, Inactive),
            (0.5, Inactive), // above half the open level: still risky
            (0.1, Inactive),
            (0.1, Inactive),
            (0.1, Inactive),
            (0.9, Inactive), // cooldown
            (0.9, Inactive),
            (0.9, Inactive),
        ]);
        assert_eq!(
            decisions,
            [
                Nothing,
                Nothing,
                Nothing,
                Open,
                Nothing,
                Nothing,
                Nothing,
                Close(Outcome::Averted),
                Nothing,
                Nothing,
                Open
            ]
        );
    }

    #[test]
    fn an_open_ticket_waits_out_unknown_steps_and_a_resumed_one_closes_like_any_other() {
        let nan = f64::NAN;
        // Open, then nothing known for longer than the close takes: still open; known
        // and low again: it closes after the calm steps.
        let decisions = run(&[
            (0.9, Inactive),
            (0.9, Inactive),
            (nan, Inactive),
            (nan, Inactive),
            (nan, Inactive),
            (nan, Inactive),
            (0.1, Inactive),
            (0.1, Inactive),
            (0.1, Inactive),
        ]);
        assert_eq!(decisions[1], Open);
        assert_eq!(
            decisions[2..],
            [
                Nothing,
                Nothing,
                Nothing,
                Nothing,
                Nothing,
                Nothing,
                Close(Outcome::Averted)
            ]
        );
        // Resumed after a restart: never opened again while open, closed once.
        let decisions = run_from(
            PolicyState::resumed(false),
            &[
                (0.9, Inactive),
                (0.95, Inactive),
                (0.1, Inactive),
                (0.1, Inactive),
                (0.1, Inactive),
            ],
        );
        assert_eq!(
            decisions,
            [Nothing, Nothing, Nothing, Nothing, Close(Outcome::Averted)]
        );
        // Its rule fired before the restart: materialised once the rule is no longer
        // active and the signal is known.
        let decisions = run_from(
            PolicyState::resumed(true),
            &[(nan, Inactive), (0.9, Firing), (0.2, Inactive)],
        );
        assert_eq!(decisions, [Nothing, Nothing, Close(Outcome::Materialised)]);
    }

    #[test]
    fn a_ticket_whose_alert_fired_closes_as_materialised_when_it_resolves() {
        let decisions = run(&[
            (0.9, Inactive),
            (0.9, Inactive),
            (0.9, Pending),
            (0.9, Firing),
            (0.1, Firing),
            (0.1, Inactive),
        ]);
        assert_eq!(
            decisions,
            [
                Nothing,
                Open,
                Nothing,
                Nothing,
                Nothing,
                Close(Outcome::Materialised)
            ]
        );
    }

    #[test]
    fn nothing_opens_while_the_rule_fires_but_a_pending_rule_may_be_ticketed() {
        let decisions = run(&[(0.9, Firing), (0.9, Firing), (0.9, Inactive)]);
        assert_eq!(decisions, [Nothing, Nothing, Nothing]);
        let decisions = run(&[(0.9, Pending), (0.9, Pending), (0.9, Firing)]);
        assert_eq!(decisions, [Nothing, Open, Nothing]);
    }

    #[test]
    fn the_eta_opens_a_ticket_when_its_confident_crossing_is_within_the_horizon() {
        let policy = Policy {
            open_probability: None,
            eta_z: Some(2.0),
            open_steps: 1,
            ..POLICY
        };
        let mut state = PolicyState::default();
        let mut step = |eta_seconds, eta_stderr_seconds| {
            let o = Observation {
                probability: f64::NAN,
                eta_seconds,
                eta_stderr_seconds,
                alert: Inactive,
            };
            state.step(&policy, 1800.0, &o)
        };
        assert_eq!(step(1000.0, 500.0), Nothing, "1000 + 2 × 500 > 1800");
        assert_eq!(step(1000.0, 300.0), Open);
    }
}
