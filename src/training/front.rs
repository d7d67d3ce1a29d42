//! The policy front on held-out entities: every candidate policy of the grid that
//! fitting chooses from (`fit::on_evidence`), replayed on the probabilities of the entities
//! each fold's model never saw, scored as outside judges score tickets; the ones no
//! other beats are kept, with intervals over entities resampled.
//!
//! In: a target's [`TargetData`] and its held-out probability at every step of every
//! trajectory. Out: the front (`model::front`) the model keeps, which a false-ticket
//! budget in the configuration picks from; none without an episode to rank by. Each point's figures are held out, but
//! picking the best of them for a budget is a choice made on those same entities, so a
//! picked point's figures flatter it a little; the trained policy's were not chosen so.

use super::choice::Choice;
use super::data::TargetData;
use super::fit::on_evidence;
use crate::evaluation::{Figures, onsets, score_each, with_intervals};
use crate::model::FrontPoint;
use crate::model::front::undominated;
use crate::promql::Labels;

/// Draws the quiet entities the usual probability is read from, on an estate.
const CHOICE_SEED: u64 = 0;

pub fn held_out_front(data: &TargetData, probabilities: &[Vec<f64>]) -> Vec<FrontPoint> {
    let trajectories = data.trajectories;
    let which: Vec<usize> = (0..trajectories.len())
        .filter(|&i| !probabilities[i].is_empty())
        .collect();
    let each: Vec<(&Labels, f64)> = which
        .iter()
        .map(|&i| (&trajectories[i].entity, trajectories[i].days()))
        .collect();
    let found = onsets(data.history, data.alert(), each.iter().map(|&(e, _)| e));
    if found.is_empty() {
        // Every policy catches nothing: there is nothing to rank them by.
        return Vec::new();
    }
    // The candidates fitting chooses from, on the held-out entities (all of them at
    // weight 1 up to `QUIET_WHOLE` quiet ones).
    let choice = Choice::of(data, &which, CHOICE_SEED);
    let policies = on_evidence(data, &choice, probabilities);
    let observed = data.observed(&policies, &which, probabilities);
    let scored: Vec<(FrontPoint, Vec<Figures>)> = policies
        .into_iter()
        .map(|policy| {
            let tickets = data.entity_tickets(&data.replay(&policy, &observed));
            let parts = score_each(&tickets, &found, data.judge(), &each);
            let figures = Figures::combine(&parts);
            (FrontPoint { policy, figures }, parts)
        })
        .collect();
    let figures: Vec<&Figures> = scored.iter().map(|(point, _)| &point.figures).collect();
    // Intervals for the points kept only: resampling every candidate would cost
    // hundreds of bootstraps.
    undominated(&figures, data.horizon_s())
        .into_iter()
        .map(|i| {
            let (point, parts) = &scored[i];
            FrontPoint {
                policy: point.policy,
                figures: with_intervals(parts),
            }
        })
        .collect()
}
