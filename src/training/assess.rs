//! A target's tickets judged against its alerts, next to both baselines on the same
//! entities, and the material of the report (precision–recall curve, timelines).
//!
//! In: a [`TargetData`], the probability at every step of every trajectory and the
//! tickets opened, the `predict_linear` windows to try. Out: the [`HeldOut`] figures
//! kept in the model and the [`TargetReport`] the report is drawn from. The
//! `predict_linear` baseline is given its best window and `for` among those tried
//! (windows × [`BASELINE_HOLDS`], by F1 over episodes caught and ticket precision, on
//! the same entities), so the comparison is with the baseline at its best, chosen with
//! hindsight. The measures that choose between models and policies in fitting are
//! here too: [`Figures::objective`] and [`average_precision`].

use std::time::Duration;

use super::data::{TargetData, TrajectoryTicket};
use super::front::held_out_front;
use crate::evaluation::baselines::{predict_linear_crosses, predict_linear_tickets, rule_tickets};
use crate::evaluation::reliability::reliability;
use crate::evaluation::{Figures, Judge, Ticket, gains, onsets, score, score_each, with_intervals};
use crate::model::{HeldOut, Policy, TargetModel};
use crate::promql::Labels;
use crate::report::{TargetReport, Timeline};

/// Timelines shown per target, at most.
const MAX_TIMELINES: usize = 24;
/// The `for` the `predict_linear` rule may be held for: none, 1 minute, 2 minutes.
pub const BASELINE_HOLDS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_secs(60),
    Duration::from_secs(120),
];

/// F1 of episodes caught (recall) and ticket precision; 0 with neither.
pub fn f1(figures: &Figures) -> f64 {
    match (figures.recall, figures.precision) {
        (Some(r), Some(p)) if r + p > 0.0 => 2.0 * r * p / (r + p),
        _ => 0.0,
    }
}

pub fn assess(
    data: &TargetData,
    probabilities: &[Vec<f64>],
    tickets: &[TrajectoryTicket],
    windows: &[Duration],
    model: &TargetModel,
) -> (HeldOut, TargetReport) {
    let target = &data.scorer.target;
    let trajectories = data.trajectories;
    let entities = trajectories.iter().map(|t| &t.entity);
    let onsets = onsets(data.history, &target.alert, entities);
    let days: f64 = trajectories.iter().map(|t| t.days()).sum();
    let each: Vec<(&Labels, f64)> = trajectories.iter().map(|t| (&t.entity, t.days())).collect();
    let judge = data.judge();
    let harbinger_parts = score_each(&data.entity_tickets(tickets), &onsets, judge, &each);
    let harbinger = with_intervals(&harbinger_parts);
    let rule = score(&rule_tickets(&onsets), &onsets, judge, days);
    let level = data.scorer.level_column();
    let mut baseline: Option<(Duration, Duration, Figures, Vec<Ticket>)> = None;
    let mut crossings: Vec<Vec<Vec<bool>>> = Vec::new();
    for &window in windows {
        let crosses: Vec<Vec<bool>> = trajectories
            .iter()
            .map(|t| {
                predict_linear_crosses(
                    t,
                    level,
                    target,
                    window.as_millis() as i64,
                    data.horizon_s(),
                )
            })
            .collect();
        for hold in BASELINE_HOLDS {
            let lifecycle = Policy {
                open_steps: (hold.as_millis() as i64 / data.step_ms) as u32 + 1,
                ..data.lifecycle
            };
            let found: Vec<Ticket> = trajectories
                .iter()
                .zip(&crosses)
                .flat_map(|(t, crosses)| {
                    predict_linear_tickets(
                        t,
                        crosses,
                        &target.alert,
                        data.horizon_s(),
                        &lifecycle,
                        data.history,
                    )
                })
                .collect();
            let figures = score(&found, &onsets, judge, days);
            let key = |f: &Figures| (f1(f), f.lead_median_seconds.unwrap_or(0.0));
            let better = baseline.as_ref().is_none_or(|(_, _, best, _)| {
                key(&figures).partial_cmp(&key(best)) == Some(std::cmp::Ordering::Greater)
            });
            if better {
                baseline = Some((window, hold, figures, found));
            }
        }
        crossings.push(crosses);
    }
    let (window, hold, _, baseline_tickets) = baseline.expect("at least one window");
    let chosen = windows
        .iter()
        .position(|&w| w == window)
        .expect("a window tried");
    let predict_linear_parts = score_each(&baseline_tickets, &onsets, judge, &each);
    let predict_linear = with_intervals(&predict_linear_parts);
    let gains = gains(&harbinger_parts, &predict_linear_parts);
    let held_out = HeldOut {
        harbinger: harbinger.clone(),
        predict_linear: predict_linear.clone(),
        predict_linear_window_seconds: window.as_secs_f64(),
        predict_linear_hold_seconds: hold.as_secs_f64(),
        rule: rule.clone(),
        gains: Some(gains.clone()),
        front: held_out_front(data, probabilities),
    };
    let report = TargetReport {
        alert: target.alert.clone(),
        rule: target.condition(),
        threshold: target.threshold,
        horizon_seconds: data.horizon_s(),
        hold_seconds: data.scorer.target.hold.as_secs_f64(),
        entities: trajectories.len(),
        entity_days: days,
        harbinger,
        rule_baseline: rule,
        predict_linear,
        predict_linear_window_seconds: window.as_secs_f64(),
        predict_linear_hold_seconds: hold.as_secs_f64(),
        gains,
        scored_by: model.scored_by(),
        policy: model.policy,
        front: held_out.front.clone(),
        pr_curve: pr_curve(data, probabilities),
        reliability: reliability(data.forecasts(probabilities)),
        predict_linear_reliability: reliability(
            data.forecasts(&as_probabilities(&crossings[chosen])),
        ),
        timelines: timelines(data, probabilities, tickets, &baseline_tickets),
    };
    (held_out, report)
}

/// A yes/no rule read as a forecast: 1 where it holds, 0 elsewhere.
fn as_probabilities(holds: &[Vec<bool>]) -> Vec<Vec<f64>> {
    holds
        .iter()
        .map(|steps| steps.iter().map(|&h| f64::from(u8::from(h))).collect())
        .collect()
}

/// Step-level precision and recall of `probability ≥ level`, at levels 0.05 … 0.95.
fn pr_curve(data: &TargetData, probabilities: &[Vec<f64>]) -> Vec<(f64, f64, f64)> {
    let scored = data.forecasts(probabilities);
    let positives = scored.iter().filter(|s| s.1).count();
    if positives == 0 {
        return Vec::new();
    }
    (1..20)
        .map(|i| {
            let level = i as f64 * 0.05;
            let flagged = scored.iter().filter(|s| s.0 >= level).count();
            let hits = scored.iter().filter(|s| s.0 >= level && s.1).count();
            let precision = if flagged > 0 {
                hits as f64 / flagged as f64
            } else {
                1.0
            };
            (level, precision, hits as f64 / positives as f64)
        })
        .collect()
}

/// One timeline per episode with an onset, and per false ticket.
fn timelines(
    data: &TargetData,
    probabilities: &[Vec<f64>],
    tickets: &[TrajectoryTicket],
    baseline: &[Ticket],
) -> Vec<Timeline> {
    let alert = &data.scorer.target.alert;
    let Judge {
        horizon_ms: horizon,
        hold_ms: hold,
    } = data.judge();
    let mut spans: Vec<(usize, &str, i64, i64)> = Vec::new();
    for (i, trajectory) in data.trajectories.iter().enumerate() {
        let episodes = data.history.episodes(alert, &trajectory.entity);
        for episode in episodes.iter().filter(|e| e.onset_ms.is_some()) {
            let onset = episode.onset_ms.unwrap_or(episode.start_ms);
            let caught = tickets.iter().any(|t| {
                t.trajectory == i
                    && episode.start_ms - horizon <= t.span.open_ms
                    && t.span.open_ms < onset
            });
            let kind = if caught { "episode" } else { "missed episode" };
            spans.push((
                i,
                kind,
                onset - horizon * 3 / 2,
                episode.end_ms + horizon / 4,
            ));
        }
        for t in tickets.iter().filter(|t| t.trajectory == i) {
            let open = t.span.open_ms;
            let true_ticket = episodes.iter().any(|e| {
                e.onset_ms
                    .is_some_and(|onset| open <= onset && onset <= open + horizon + hold)
            });
            if !true_ticket {
                spans.push((i, "false ticket", open - horizon / 2, open + horizon));
            }
        }
    }
    spans.truncate(MAX_TIMELINES);
    let seconds = |ms: i64| ms as f64 / 1e3;
    spans
        .into_iter()
        .map(|(i, kind, from, to)| {
            let trajectory = &data.trajectories[i];
            let level = data.scorer.level_column();
            let within: Vec<usize> = (0..trajectory.times_ms.len())
                .filter(|&s| (from..=to).contains(&trajectory.times_ms[s]))
                .collect();
            let inside = |t: i64| (from..=to).contains(&t);
            Timeline {
                entity: trajectory.entity.to_string(),
                kind: kind.to_owned(),
                times_unix: within
                    .iter()
                    .map(|&s| seconds(trajectory.times_ms[s]))
                    .collect(),
                level: {
                    let levels = trajectory.rows.column(level);
                    within.iter().map(|&s| levels[s]).collect()
                },
                probability: within.iter().map(|&s| probabilities[i][s]).collect(),
                tickets: tickets
                    .iter()
                    .filter(|t| t.trajectory == i && inside(t.span.open_ms))
                    .map(|t| (seconds(t.span.open_ms), t.span.close_ms.map(seconds)))
                    .collect(),
                baseline_tickets: baseline
                    .iter()
                    .filter(|t| t.entity == trajectory.entity && inside(t.open_ms))
                    .map(|t| seconds(t.open_ms))
                    .collect(),
                alerts: data
                    .history
                    .episodes(alert, &trajectory.entity)
                    .iter()
                    .filter(|e| e.end_ms >= from && e.start_ms <= to)
                    .map(|e| {
                        (
                            seconds(e.start_ms),
                            e.onset_ms.map(seconds),
                            seconds(e.end_ms),
                        )
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Average precision of (score, label, weight) triples: the area under the
/// precision–recall curve, as a step function, each example counting its weight (an
/// entity drawn from a stratum stands for several); 0 without positives.
pub fn average_precision(scored: &[(f64, bool, f64)]) -> f64 {
    let mut sorted = scored.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let positives: f64 = sorted.iter().filter(|s| s.1).map(|s| s.2).sum();
    if positives == 0.0 {
        return 0.0;
    }
    let (mut hits, mut ranked) = (0.0, 0.0);
    let mut sum = 0.0;
    for &(_, label, weight) in &sorted {
        ranked += weight;
        if label {
            hits += weight;
            sum += weight * hits / ranked;
        }
    }
    sum / positives
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_precision_of_a_perfect_and_of_an_inverted_ranking() {
        let perfect = [
            (0.9, true, 1.0),
            (0.8, true, 1.0),
            (0.2, false, 1.0),
            (0.1, false, 1.0),
        ];
        assert_eq!(average_precision(&perfect), 1.0);
        let inverted = [
            (0.9, false, 1.0),
            (0.8, false, 1.0),
            (0.2, true, 1.0),
            (0.1, true, 1.0),
        ];
        assert!((average_precision(&inverted) - (1.0 / 3.0 + 2.0 / 4.0) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn a_negative_weighing_k_ranks_as_k_copies_of_it() {
        let weighted = [(0.9, true, 1.0), (0.8, false, 3.0), (0.7, true, 1.0)];
        let copied = [
            (0.9, true, 1.0),
            (0.8, false, 1.0),
            (0.8, false, 1.0),
            (0.8, false, 1.0),
            (0.7, true, 1.0),
        ];
        assert_eq!(average_precision(&weighted), average_precision(&copied));
        assert!((average_precision(&weighted) - (1.0 + 2.0 / 5.0) / 2.0).abs() < 1e-12);
    }
}
