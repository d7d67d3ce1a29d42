//! The policy front: the ticket policies that no other candidate beats on held-out
//! entities, each with its held-out figures, and the false-ticket budget that picks one
//! of them. An operator trades episodes and lead for fewer false tickets in the
//! configuration, without retraining.
//!
//! In: candidate policies with their held-out [`Figures`] (from `train`), then a budget
//! in false tickets per entity-day. Out: the front ([`undominated`]), kept in the model; the
//! point a budget picks ([`within`]), and a model whose targets take it
//! ([`Model::spend`], with a [`BudgetChoice`] each to log).
//!
//! A point is on the front when no other catches as many episodes, as early (its leads
//! as shares of the horizon, summed), with no more false tickets, and is better on one
//! of the three. A budget picks, among the points within it, the best by the policy
//! objective ([`Figures::objective`]: caught, plus lead, less false tickets), the one
//! with fewer tickets on a tie; with none within, the one with the fewest false tickets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::artifact::Model;
use super::policy::Policy;
use crate::evaluation::Figures;

/// A candidate policy and what it did on held-out entities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FrontPoint {
    pub policy: Policy,
    pub figures: Figures,
}

/// False-ticket budgets in false tickets per entity-day, by target (alert name), with
/// `default` for every target not named.
pub type Budgets = BTreeMap<String, f64>;

/// The key `Budgets` gives every target not named.
pub const DEFAULT_BUDGET: &str = "default";

/// The budget of `alert` among `budgets`: its own (true), else the default (false),
/// else none.
pub fn budget_of(budgets: &Budgets, alert: &str) -> Option<(f64, bool)> {
    match budgets.get(alert) {
        Some(&own) => Some((own, true)),
        None => budgets.get(DEFAULT_BUDGET).map(|&default| (default, false)),
    }
}

/// What is wrong with `budgets` for a pipeline with these `targets`, one line each,
/// starting with the name: a budget that is not a number of false tickets, 0 or more,
/// or a name that is neither a target nor `default`.
pub fn problems(budgets: &Budgets, targets: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, &budget) in budgets {
        if !(budget.is_finite() && budget >= 0.0) {
            found.push(format!(
                "{name}: {budget} is not a number of false tickets per entity-day, 0 or more"
            ));
        }
        if name != DEFAULT_BUDGET && !targets.contains(&name.as_str()) {
            found.push(format!(
                "{name}: the pipeline has no such target (its targets: {}; `{DEFAULT_BUDGET}` sets the others)",
                targets.join(", ")
            ));
        }
    }
    found
}

/// What the front ranks by: episodes caught, their leads as shares of the horizon, and
/// false tickets (fewer is better).
fn merits(figures: &Figures, horizon_s: f64) -> (f64, f64, f64) {
    let false_tickets = figures.false_tickets() as f64;
    (
        figures.caught as f64,
        figures.lead_shares(horizon_s),
        -false_tickets,
    )
}

/// The indices of the `candidates` that no other one beats, by false tickets per
/// entity-day ascending. Of candidates with the same merits (episodes caught, lead,
/// false tickets), the first stays.
pub fn undominated(candidates: &[&Figures], horizon_s: f64) -> Vec<usize> {
    let merit: Vec<(f64, f64, f64)> = candidates.iter().map(|f| merits(f, horizon_s)).collect();
    let beats =
        |a: (f64, f64, f64), b: (f64, f64, f64)| a.0 >= b.0 && a.1 >= b.1 && a.2 >= b.2 && a != b;
    let mut kept: Vec<usize> = (0..candidates.len())
        .filter(|&i| {
            let same_before = merit[..i].contains(&merit[i]);
            !same_before && !merit.iter().any(|&other| beats(other, merit[i]))
        })
        .collect();
    let per_day = |i: usize| candidates[i].false_tickets_per_entity_day;
    kept.sort_by(|&a, &b| per_day(a).total_cmp(&per_day(b)));
    kept
}

/// The point of `front` a budget of `budget` false tickets per entity-day picks (see
/// the module's documentation), and whether it is within the budget; None for an empty
/// front.
pub fn within(front: &[FrontPoint], budget: f64, horizon_s: f64) -> Option<(&FrontPoint, bool)> {
    let per_day = |p: &FrontPoint| p.figures.false_tickets_per_entity_day;
    let quieter = |a: &FrontPoint, b: &FrontPoint| per_day(b).total_cmp(&per_day(a));
    let best_within = front
        .iter()
        .filter(|p| per_day(p) <= budget)
        .max_by(|a, b| {
            let objective = |p: &FrontPoint| p.figures.objective(horizon_s);
            objective(a)
                .total_cmp(&objective(b))
                .then(b.figures.tickets.cmp(&a.figures.tickets))
                .then(quieter(a, b))
        });
    match best_within {
        Some(point) => Some((point, true)),
        None => front
            .iter()
            .max_by(|a, b| quieter(a, b))
            .map(|point| (point, false)),
    }
}

impl Model {
    /// Each target with a budget among `budgets` takes the policy of its front that the
    /// budget picks ([`within`]), and says what it took. A target without a front (no
    /// episode on held-out entities to rank policies by, or a model trained without
    /// folds) keeps its trained policy.
    pub fn spend(&mut self, budgets: &Budgets) -> Vec<BudgetChoice> {
        let mut choices = Vec::new();
        for target in &mut self.targets {
            let Some((budget, named)) = budget_of(budgets, &target.alert) else {
                continue;
            };
            let points = target.evaluation.as_ref().map_or(&[][..], |e| &e.front[..]);
            let picked = within(points, budget, target.horizon_seconds).map(|(point, within)| {
                let picked = Picked {
                    budget,
                    within,
                    figures: point.figures.clone(),
                };
                // The trained policy, picked again, keeps its own held-out figures.
                if point.policy != target.policy {
                    target.policy = point.policy;
                    target.budget = Some(picked.clone());
                }
                picked
            });
            choices.push(BudgetChoice {
                alert: target.alert.clone(),
                budget,
                named,
                policy: target.policy,
                picked,
            });
        }
        choices
    }
}

/// What a false-ticket budget did to a target's policy ([`Model::spend`]).
#[derive(Debug, Clone)]
pub struct BudgetChoice {
    pub alert: String,
    pub budget: f64,
    /// The budget names the target (false: it is the `default`).
    pub named: bool,
    /// The policy the target opens tickets by now.
    pub policy: Policy,
    /// None: the target has no front, and keeps its trained policy.
    pub picked: Option<Picked>,
}

/// The point of a front a budget picked.
#[derive(Debug, Clone, PartialEq)]
pub struct Picked {
    pub budget: f64,
    /// False: no point of the front stayed within the budget; this is the quietest.
    pub within: bool,
    /// Its held-out figures (every entity under this one policy).
    pub figures: Figures,
}

impl Picked {
    /// It catches no episode where some were caught before: the target is silent.
    pub fn silences(&self) -> bool {
        self.figures.caught == 0 && self.figures.onsets > 0
    }
}

impl BudgetChoice {
    /// Says which policy the budget picked, with its held-out figures; a warning when no
    /// policy of the front stays within the budget, when the one within it catches no
    /// episode, or when a budget that names the target finds no front.
    pub fn log(&self) {
        let as_asked = match &self.picked {
            Some(picked) => picked.within && !picked.silences(),
            None => !self.named,
        };
        if as_asked {
            tracing::info!("false-ticket budget: {self}");
        } else {
            tracing::warn!("false-ticket budget: {self}");
        }
    }
}

impl std::fmt::Display for BudgetChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (alert, budget, policy) = (&self.alert, self.budget, &self.policy);
        write!(
            f,
            "{alert}: a budget of {budget} false tickets per entity-day, "
        )?;
        let Some(picked) = &self.picked else {
            return write!(
                f,
                "but the model has no policy front for it (no episode on held-out entities, or trained without folds or before fronts): its trained policy stays ({policy})"
            );
        };
        let figures = &picked.figures;
        let fits = if picked.within {
            "within it"
        } else {
            "no policy stays within it; the quietest"
        };
        write!(
            f,
            "{fits}: {policy}; held out, {} of {} episodes caught, {:.2} false tickets per entity-day",
            figures.caught, figures.onsets, figures.false_tickets_per_entity_day,
        )?;
        if let Some(lead) = figures.lead_median_seconds {
            write!(f, ", median lead {}", crate::report::format::duration(lead))?;
        }
        if picked.silences() {
            write!(f, "; it catches no episode: the target opens no ticket")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HORIZON_S: f64 = 600.0;

    /// A point opening at `open`, with `caught` episodes caught each `lead_s` ahead and
    /// `false_tickets` false ones over 10 entity-days.
    fn point(open: f64, caught: usize, lead_s: f64, false_tickets: usize) -> FrontPoint {
        FrontPoint {
            policy: Policy {
                open_probability: Some(open),
                eta_z: None,
                open_steps: 1,
                close_steps: 20,
                cooldown_steps: 20,
            },
            figures: Figures {
                onsets: 10,
                caught,
                tickets: caught + false_tickets,
                true_tickets: caught,
                false_tickets_per_entity_day: false_tickets as f64 / 10.0,
                leads_seconds: vec![lead_s; caught],
                ..Figures::default()
            },
        }
    }

    /// The front of `candidates`, quietest first.
    fn front(candidates: Vec<FrontPoint>, horizon_s: f64) -> Vec<FrontPoint> {
        let figures: Vec<&Figures> = candidates.iter().map(|c| &c.figures).collect();
        let kept = undominated(&figures, horizon_s);
        kept.into_iter().map(|i| candidates[i].clone()).collect()
    }

    fn opens(points: &[FrontPoint]) -> Vec<f64> {
        points
            .iter()
            .map(|p| p.policy.open_probability.unwrap())
            .collect()
    }

    /// A candidate that catches fewer, later, with more false tickets than another is
    /// off the front; trade-offs stay, quietest first; a twin of a kept point goes.
    #[test]
    fn the_front_keeps_the_trade_offs_and_drops_what_another_beats() {
        let candidates = vec![
            point(0.1, 9, 400.0, 4),
            point(0.2, 8, 300.0, 2),
            point(0.3, 8, 200.0, 3), // beaten by 0.2: as many, later, noisier
            point(0.5, 5, 300.0, 1),
            point(0.6, 5, 300.0, 1), // the same figures as 0.5
            point(0.9, 2, 100.0, 0),
        ];
        assert_eq!(opens(&front(candidates, HORIZON_S)), [0.9, 0.5, 0.2, 0.1]);
    }

    /// A budget picks the best point within it by the objective (0.1: 9 + 6 − 4 = 11,
    /// 0.2: 8 + 4 − 2 = 10, 0.5: 5 + 2.5 − 1 = 6.5); with none within, the quietest.
    #[test]
    fn a_budget_picks_the_best_point_within_it() {
        let front = front(
            vec![
                point(0.1, 9, 400.0, 4),
                point(0.2, 8, 300.0, 2),
                point(0.5, 5, 300.0, 1),
            ],
            HORIZON_S,
        );
        let pick = |budget: f64| {
            let (point, fits) = within(&front, budget, HORIZON_S).unwrap();
            (point.policy.open_probability.unwrap(), fits)
        };
        assert_eq!(pick(10.0), (0.1, true));
        assert_eq!(pick(0.4), (0.1, true));
        assert_eq!(pick(0.3), (0.2, true));
        assert_eq!(pick(0.1), (0.5, true));
        assert_eq!(pick(0.05), (0.5, false));
        assert!(within(&[], 1.0, HORIZON_S).is_none());
    }

    #[test]
    fn budgets_name_targets_and_count_false_tickets() {
        let budgets = Budgets::from([
            ("default".to_owned(), 2.0),
            ("Disk".to_owned(), -1.0),
            ("Dsik".to_owned(), 1.0),
        ]);
        let found = problems(&budgets, &["Disk", "Cpu"]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("Disk: -1 is not a number"));
        assert!(
            found[1].starts_with("Dsik: the pipeline has no such target (its targets: Disk, Cpu")
        );
        assert!(problems(&Budgets::from([("Cpu".to_owned(), 0.0)]), &["Cpu"]).is_empty());
    }

    /// On the built-in model: a budget the trained policy fits in picks it again and
    /// leaves it as trained; a budget of 0 silences the disk target, and says so.
    #[test]
    fn a_budget_replaces_the_trained_policy_only_with_another() {
        let trained = Model::embedded_default();
        let disk = |model: &Model| model.target("HostOutOfDiskSpace").unwrap().clone();
        let mut generous = trained.clone();
        let budgets = Budgets::from([("HostOutOfDiskSpace".to_owned(), 100.0)]);
        let choices = generous.spend(&budgets);
        assert_eq!(disk(&generous).policy, disk(&trained).policy);
        assert!(disk(&generous).budget.is_none());
        assert!(choices[0].picked.as_ref().is_some_and(|p| p.within));

        let mut silent = trained.clone();
        let choices = silent.spend(&Budgets::from([(DEFAULT_BUDGET.to_owned(), 0.0)]));
        let picked = disk(&silent)
            .budget
            .expect("another policy than the trained one");
        assert!(picked.within && picked.silences());
        let said = choices[0].to_string();
        assert!(said.contains("it catches no episode"), "{said}");
        assert_eq!(choices.len(), 4, "every target has the default budget");
    }

    #[test]
    fn a_target_without_a_budget_of_its_own_has_the_default() {
        let budgets = Budgets::from([("default".to_owned(), 2.0), ("Cpu".to_owned(), 0.5)]);
        assert_eq!(budget_of(&budgets, "Cpu"), Some((0.5, true)));
        assert_eq!(budget_of(&budgets, "Disk"), Some((2.0, false)));
        assert_eq!(budget_of(&Budgets::new(), "Disk"), None);
    }
}
