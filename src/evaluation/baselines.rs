//! The two references every figure is shown next to, computed on the same data.
//!
//! - **The rule itself**: a ticket when the alert fires; lead time 0 by definition.
//! - **`predict_linear`**: the canonical predictive rule,
//!   `predict_linear(signal[W], horizon) <op> threshold`, evaluated on the signal's values
//!   at each pipeline step (as a recording rule of the signal would give them) with
//!   Prometheus's `predict_linear` (least squares over the window, anchored at the
//!   evaluation time). Its tickets follow the same lifecycle as harbinger's (one open at
//!   a time, closed after the condition stayed false, none opened while the rule is
//!   active), so the comparison is of the trigger alone.

use super::episodes::{Onset, Ticket};
use crate::features::Threshold;
use crate::model::{Observation, Policy};
use crate::promql::Point;
use crate::promql::functions::RangeFunction;
use crate::rules::Target;
use crate::training::alerts::state_among;
use crate::training::{AlertHistory, Trajectory};

/// The rule's own tickets: one at each onset.
pub fn rule_tickets(onsets: &[Onset]) -> Vec<Ticket> {
    onsets
        .iter()
        .map(|o| Ticket {
            entity: o.entity.clone(),
            open_ms: o.at_ms,
        })
        .collect()
}

/// Whether `predict_linear(signal[W], horizon)` is beyond the threshold at each step of
/// one trajectory; `level` is the column of the signal's value in its rows.
pub fn predict_linear_crosses(
    trajectory: &Trajectory,
    level: usize,
    target: &Target,
    window_ms: i64,
    horizon_s: f64,
) -> Vec<bool> {
    let threshold = Threshold::from_target(target);
    let function = RangeFunction::PredictLinear { seconds: horizon_s };
    let levels = trajectory.rows.column(level);
    let points: Vec<Point> = trajectory
        .times_ms
        .iter()
        .zip(levels)
        .map(|(&t, v)| Point { t, v })
        .collect();
    let mut first = 0;
    points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            while points[first].t < p.t - window_ms {
                first += 1;
            }
            let window: Vec<Point> = points[first..=i]
                .iter()
                .filter(|q| q.v.is_finite())
                .copied()
                .collect();
            function
                .apply(&window, p.t, window_ms)
                .is_some_and(|predicted| threshold.is_beyond(predicted))
        })
        .collect()
}

/// The predict_linear rule's tickets over one trajectory, given where it crosses
/// ([`predict_linear_crosses`]); `lifecycle` gives the close and cooldown steps.
pub fn predict_linear_tickets(
    trajectory: &Trajectory,
    crosses: &[bool],
    alert: &str,
    horizon_s: f64,
    lifecycle: &Policy,
    history: &AlertHistory,
) -> Vec<Ticket> {
    let policy = Policy {
        open_probability: Some(1.0),
        eta_z: None,
        open_steps: 1,
        ..*lifecycle
    };
    let episodes = history.episodes(alert, &trajectory.entity);
    let steps = trajectory
        .times_ms
        .iter()
        .zip(crosses)
        .map(|(&t, &crosses)| {
            let observation = Observation {
                probability: if crosses { 1.0 } else { 0.0 },
                eta_seconds: f64::NAN,
                eta_stderr_seconds: f64::NAN,
                alert: state_among(episodes, t),
            };
            (t, observation)
        });
    policy
        .tickets(horizon_s, steps.collect::<Vec<_>>())
        .into_iter()
        .map(|span| Ticket {
            entity: trajectory.entity.clone(),
            open_ms: span.open_ms,
        })
        .collect()
}
