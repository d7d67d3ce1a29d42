//! One fingerprint's ticket over time: the policy's decisions and the rule's own state
//! in, ticket actions out.
//!
//! - the policy opens a ticket → `open`;
//! - while it is open, the estimate changes materially (the ETA by a quarter of the
//!   horizon, or the probability by 0.2) and the last action is at least
//!   [`UPDATE_EVERY`] old → `update`;
//! - the rule starts firing while it is open → `confirm` (once);
//! - the policy closes it → `resolve`, as `averted` or `materialised`; so does the
//!   entity going away (`abandon`): `materialised` if the rule fired while the ticket
//!   was open, `averted` if not.
//!
//! A lifecycle can also carry on a ticket opened before a restart ([`Lifecycle::resumed`],
//! from the outbox's record of open tickets): it is open, and resolved like any other.

use std::time::Duration;

use crate::model::{AlertState, Decision, Observation, Outcome, Policy, PolicyState};
use crate::tickets::{ActionKind, OpenTicket, Ticket, TicketAction};

/// Updates of one ticket are at least this far apart.
pub const UPDATE_EVERY: Duration = Duration::from_secs(300);

/// A fingerprint's state across steps.
#[derive(Debug, Default)]
pub struct Lifecycle {
    policy: PolicyState,
    open: Option<OpenTicket>,
    /// Carried on from before a restart, and not seen by the engine since.
    resumed: bool,
    /// When a resumed lifecycle's entity was first missed by a step.
    missed_since_ms: Option<i64>,
}

/// What the ticket would say now, built only when an action needs it.
pub trait Describe {
    fn ticket(&self, sequence: u64, opened_at_ms: i64) -> Ticket;
}

impl Lifecycle {
    /// Carries on `open`, a ticket opened before a restart.
    pub fn resumed(open: OpenTicket) -> Lifecycle {
        Lifecycle {
            policy: PolicyState::resumed(open.confirmed),
            open: Some(open),
            resumed: true,
            missed_since_ms: None,
        }
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// The fingerprint of the open ticket, if one is.
    pub fn open_fingerprint(&self) -> Option<&str> {
        self.open
            .as_ref()
            .map(|open| open.ticket.fingerprint.as_str())
    }

    /// Whether the entity, which the step at `t_ms` did not see, is gone: at once when
    /// the engine knew it (the engine forgets an entity only after its longest window
    /// without a value); when resumed from before a restart and not seen since, once
    /// `grace_ms` has passed without it (its samples may not be back yet).
    pub fn gone(&mut self, t_ms: i64, grace_ms: i64) -> bool {
        if !self.resumed {
            return true;
        }
        let since = *self.missed_since_ms.get_or_insert(t_ms);
        t_ms - since >= grace_ms
    }

    /// Resolves the open ticket, if any: its entity is gone (forgotten by the engine
    /// after its longest window without a value). `materialised` if its rule fired while
    /// it was open, `averted` if not.
    pub fn abandon(&mut self, t_ms: i64) -> Option<TicketAction> {
        let open = self.open.take()?;
        let outcome = if open.confirmed {
            Outcome::Materialised
        } else {
            Outcome::Averted
        };
        let kind = ActionKind::Resolve { outcome };
        Some(TicketAction::new(kind, t_ms, open.ticket, open.actions + 1))
    }

    /// Takes one step; returns the action it causes, if any.
    pub fn step(
        &mut self,
        t_ms: i64,
        policy: &Policy,
        horizon_s: f64,
        observation: &Observation,
        describe: &impl Describe,
    ) -> Option<TicketAction> {
        self.resumed = false;
        match self.policy.step(policy, horizon_s, observation) {
            Decision::Open => {
                // Numbered by its opening time: unique for the fingerprint, across
                // restarts too, so that no two tickets share an idempotency key.
                let ticket = describe.ticket(t_ms as u64, t_ms);
                let action = TicketAction::new(ActionKind::Open, t_ms, ticket, 1);
                self.open = Some(OpenTicket::opened(&action));
                Some(action)
            }
            Decision::Close(outcome) => {
                let open = self.open.take()?;
                let ticket = describe.ticket(open.ticket.sequence, open.ticket.opened_at_ms);
                let kind = ActionKind::Resolve { outcome };
                Some(TicketAction::new(kind, t_ms, ticket, open.actions + 1))
            }
            Decision::Nothing => {
                let open = self.open.as_mut()?;
                let kind = if observation.alert == AlertState::Firing && !open.confirmed {
                    open.confirmed = true;
                    ActionKind::Confirm
                } else if t_ms - open.last_action_ms >= UPDATE_EVERY.as_millis() as i64
                    && changed(&open.ticket, observation, horizon_s)
                {
                    ActionKind::Update
                } else {
                    return None;
                };
                open.actions += 1;
                open.last_action_ms = t_ms;
                open.ticket = describe.ticket(open.ticket.sequence, open.ticket.opened_at_ms);
                Some(TicketAction::new(
                    kind,
                    t_ms,
                    open.ticket.clone(),
                    open.actions,
                ))
            }
        }
    }
}

/// Whether the estimate moved materially since the ticket last said it. While nothing
/// is known (no probability: warm-up after a restart, a scrape gap) nothing moved: an
/// absent estimate is not a new one.
fn changed(ticket: &Ticket, now: &Observation, horizon_s: f64) -> bool {
    if !now.probability.is_finite() {
        return false;
    }
    let finite = |v: f64| v.is_finite().then_some(v);
    let eta_moved = match (ticket.eta_seconds, finite(now.eta_seconds)) {
        (Some(was), Some(is)) => (was - is).abs() >= horizon_s / 4.0,
        (was, is) => was.is_some() != is.is_some(),
    };
    let probability_moved = match (ticket.probability, finite(now.probability)) {
        (Some(was), Some(is)) => (was - is).abs() >= 0.2,
        _ => false,
    };
    eta_moved || probability_moved
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    struct Now(Observation);

    impl Describe for Now {
        fn ticket(&self, sequence: u64, opened_at_ms: i64) -> Ticket {
            Ticket {
                fingerprint: "f".into(),
                sequence,
                target: "T".into(),
                entity: BTreeMap::new(),
                title: "t".into(),
                rule: "x < 1".into(),
                threshold: 1.0,
                probability: Some(self.0.probability),
                horizon_seconds: 1800.0,
                eta_seconds: self.0.eta_seconds.is_finite().then_some(self.0.eta_seconds),
                eta_stderr_seconds: None,
                value: None,
                trend_per_second: None,
                graph_url: None,
                evidence: Vec::new(),
                annotations: BTreeMap::new(),
                labels: BTreeMap::new(),
                opened_at_ms,
            }
        }
    }

    const POLICY: Policy = Policy {
        open_probability: Some(0.8),
        eta_z: None,
        open_steps: 1,
        close_steps: 2,
        cooldown_steps: 0,
    };

    fn observe(probability: f64, eta_seconds: f64, alert: AlertState) -> Observation {
        Observation {
            probability,
            eta_seconds,
            eta_stderr_seconds: f64::NAN,
            alert,
        }
    }

    #[test]
    fn a_ticket_opens_is_updated_at_most_every_five_minutes_confirmed_and_resolved() {
        let mut lifecycle = Lifecycle::default();
        let minute = 60_000;
        let steps = [
            (0, observe(0.9, 1500.0, AlertState::Inactive)),
            (minute, observe(0.95, 600.0, AlertState::Inactive)), // too soon to update
            (6 * minute, observe(0.95, 600.0, AlertState::Inactive)), // update: ETA moved
            (7 * minute, observe(0.95, 590.0, AlertState::Inactive)), // no material change
            (12 * minute, observe(0.95, 0.0, AlertState::Firing)), // confirm
            (13 * minute, observe(0.2, f64::NAN, AlertState::Firing)),
            (14 * minute, observe(0.2, f64::NAN, AlertState::Inactive)), // resolved
        ];
        // The outbox's record of the open ticket, replayed from the actions, is the
        // lifecycle's own state after each: what a restart resumes.
        let mut recorded: Option<OpenTicket> = None;
        let actions: Vec<TicketAction> = steps
            .iter()
            .filter_map(|(t, o)| {
                let action = lifecycle.step(*t, &POLICY, 1800.0, o, &Now(*o))?;
                recorded = OpenTicket::after(recorded.take(), &action);
                assert_eq!(recorded, lifecycle.open);
                Some(action)
            })
            .collect();
        let kinds: Vec<ActionKind> = actions.iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            [
                ActionKind::Open,
                ActionKind::Update,
                ActionKind::Confirm,
                ActionKind::Resolve {
                    outcome: Outcome::Materialised
                }
            ]
        );
        let keys: Vec<&str> = actions.iter().map(|a| a.idempotency_key.as_str()).collect();
        assert_eq!(keys, ["f-0-1", "f-0-2", "f-0-3", "f-0-4"]);
        assert!(actions.iter().all(|a| a.ticket.opened_at_ms == 0));
        assert!(!lifecycle.is_open());
    }

    #[test]
    fn a_resumed_ticket_waits_for_its_entity_then_is_gone_and_resolves_on_from_its_count() {
        let o = observe(0.9, 600.0, AlertState::Inactive);
        let open = OpenTicket {
            ticket: Now(o).ticket(7, 7),
            actions: 3,
            last_action_ms: 7,
            confirmed: false,
        };
        // Missed from 1 000 on: not gone before the grace has passed.
        let mut waiting = Lifecycle::resumed(open.clone());
        assert!(!waiting.gone(1_000, 60_000));
        assert!(!waiting.gone(60_999, 60_000));
        assert!(waiting.gone(61_000, 60_000));
        let resolve = waiting.abandon(61_000).unwrap();
        assert_eq!(resolve.idempotency_key, "f-7-4");
        // Seen again: an entity like any other, whose next action is numbered on.
        let mut seen = Lifecycle::resumed(open);
        let low = observe(0.1, f64::NAN, AlertState::Inactive);
        assert!(seen.step(2_000, &POLICY, 1800.0, &low, &Now(low)).is_none());
        assert!(seen.gone(3_000, 60_000), "the engine knows it now");
        let closed = seen.step(4_000, &POLICY, 1800.0, &low, &Now(low)).unwrap();
        assert_eq!(closed.idempotency_key, "f-7-4");
        assert!(matches!(closed.kind, ActionKind::Resolve { .. }));
    }

    #[test]
    fn an_unknown_step_is_no_update_and_a_fired_ticket_whose_entity_goes_is_materialised() {
        let mut lifecycle = Lifecycle::default();
        let minute = 60_000;
        let risky = observe(0.9, 600.0, AlertState::Inactive);
        let opened = lifecycle.step(0, &POLICY, 1800.0, &risky, &Now(risky));
        assert_eq!(opened.map(|a| a.kind), Some(ActionKind::Open));
        // Warm-up after a restart, or a scrape gap: nothing is known, so nothing moved.
        let unknown = observe(f64::NAN, f64::NAN, AlertState::Inactive);
        let step = lifecycle.step(6 * minute, &POLICY, 1800.0, &unknown, &Now(unknown));
        assert_eq!(step.map(|a| a.kind), None);
        let firing = observe(0.95, 0.0, AlertState::Firing);
        let step = lifecycle.step(7 * minute, &POLICY, 1800.0, &firing, &Now(firing));
        assert_eq!(step.map(|a| a.kind), Some(ActionKind::Confirm));
        // The entity goes away after its rule fired: the risk materialised.
        assert_eq!(
            lifecycle.abandon(8 * minute).map(|a| a.kind),
            Some(ActionKind::Resolve {
                outcome: Outcome::Materialised
            })
        );
    }
}
