//! The three methods every target is measured by, in the order the report shows them.
//!
//! In: a [`TargetReport`]. Out: each method's label, figures and plot colour, its row of
//! the figures table as text (the same cells in Markdown and HTML), the rows of the
//! policy front's table, and the one-line verdict comparing harbinger with
//! `predict_linear`.

use super::TargetReport;
use super::format::{MISSING, duration, fraction, optional, rate, signed, times, with_interval};
use crate::evaluation::{Figures, Interval, Intervals};

/// harbinger's colour in every plot: its tickets, its probability, its lead times.
pub(super) const HARBINGER_COLOR: &str = "#2166ac";
/// The `predict_linear` baseline's colour in every plot.
pub(super) const PREDICT_LINEAR_COLOR: &str = "#e08214";
const RULE_COLOR: &str = "#666666";

pub(super) struct Method<'a> {
    /// The name alone, as plot legends show it.
    pub short: &'static str,
    /// The name with what distinguishes the method, as the tables show it.
    pub label: String,
    pub figures: &'a Figures,
    pub color: &'static str,
}

/// harbinger, the `predict_linear` baseline and the rule itself.
pub(super) fn methods(target: &TargetReport) -> [Method<'_>; 3] {
    [
        Method {
            short: "harbinger",
            label: "harbinger".to_owned(),
            figures: &target.harbinger,
            color: HARBINGER_COLOR,
        },
        Method {
            short: "predict_linear",
            label: format!(
                "predict_linear (W = {}, for {})",
                duration(target.predict_linear_window_seconds),
                duration(target.predict_linear_hold_seconds)
            ),
            figures: &target.predict_linear,
            color: PREDICT_LINEAR_COLOR,
        },
        Method {
            short: "rule",
            label: "rule itself (ticket when it fires)".to_owned(),
            figures: &target.rule_baseline,
            color: RULE_COLOR,
        },
    ]
}

/// The policy front, quietest first: one row per policy, the model's own marked.
pub(super) fn front(target: &TargetReport) -> Vec<Method<'_>> {
    target
        .front
        .iter()
        .map(|point| {
            let mark = if point.policy == target.policy {
                " (the model's)"
            } else {
                ""
            };
            Method {
                short: "harbinger",
                label: format!("{}{mark}", point.policy),
                figures: &point.figures,
                color: HARBINGER_COLOR,
            }
        })
        .collect()
}

/// What the front's table shows, as the sentence before it says it.
pub(super) const FRONT_CAPTION: &str = "The policy front: every candidate ticket policy \
     replayed on these entities' probabilities, each entity under the same policy, and \
     those no other beat (as many episodes caught, as early, with no more false \
     tickets). A false-ticket budget (`false_ticket_budget`, `backtest \
     --false-ticket-budget`) picks the best within it by the policy objective (episodes \
     caught and their lead, less false tickets). The model's own row differs from \
     harbinger's above, where each fold's model opened tickets by the policy chosen on \
     its own training entities.";

/// How tickets are judged, as the report's opening sentence says it.
pub(super) fn judging() -> &'static str {
    "With H each target's horizon: an episode is caught by a ticket opened from H before \
     it crosses the threshold (first pending) until it fires; a ticket is true when the \
     alert fires within H plus the rule's `for` after it opened; leads are to the \
     crossing. In brackets: from the 5th to the 95th percentile over the entities \
     resampled."
}

/// The header of the figures table.
pub(super) const COLUMNS: [&str; 9] = [
    "method",
    "onsets",
    "caught (recall)",
    "tickets",
    "on quiet entities",
    "precision",
    "median lead",
    "p10 lead",
    "false tickets / entity-day",
];

impl Method<'_> {
    /// This method's row of the figures table, one cell per [`COLUMNS`] entry.
    pub(super) fn cells(&self) -> [String; 9] {
        let f = self.figures;
        let interval =
            |pick: fn(&Intervals) -> Option<Interval>| f.intervals.as_ref().and_then(pick);
        [
            self.label.clone(),
            f.onsets.to_string(),
            format!(
                "{} ({})",
                f.caught,
                with_interval(f.recall, interval(|i| i.recall), fraction)
            ),
            f.tickets.to_string(),
            f.quiet_entity_tickets.to_string(),
            with_interval(f.precision, interval(|i| i.precision), fraction),
            with_interval(
                f.lead_median_seconds,
                interval(|i| i.lead_median_seconds),
                duration,
            ),
            optional(f.lead_p10_seconds, duration),
            rate(f.false_tickets_per_entity_day),
        ]
    }
}

/// One sentence comparing harbinger's median lead with `predict_linear`'s, and at what
/// recall and precision each got it; then, with intervals, how far the gains hold.
pub(super) fn verdict(target: &TargetReport) -> String {
    let gains = &target.gains;
    let sure = match (gains.precision, gains.lead_ratio) {
        (Some(precision), Some(lead)) => format!(
            " Over entities resampled in pairs (90 %), precision gains {} to {} and the \
             median lead ratio is {} to {}.",
            signed(precision.low),
            signed(precision.high),
            times(lead.low),
            times(lead.high)
        ),
        _ => String::new(),
    };
    format!("{}{sure}", comparison(target))
}

fn comparison(target: &TargetReport) -> String {
    let (h, p) = (&target.harbinger, &target.predict_linear);
    if h.onsets == 0 {
        return format!(
            "No alert fired here: harbinger opened {} tickets ({} false per entity-day), \
             predict_linear {}.",
            h.tickets,
            rate(h.false_tickets_per_entity_day),
            p.tickets
        );
    }
    let at = format!(
        "at recall {} vs {} and precision {} vs {}",
        optional(h.recall, fraction),
        optional(p.recall, fraction),
        optional(h.precision, fraction),
        optional(p.precision, fraction)
    );
    let onsets = h.onsets;
    match (h.lead_median_seconds, p.lead_median_seconds) {
        (Some(hl), Some(pl)) if pl > 0.0 => format!(
            "harbinger's median lead is {} predict_linear's ({} vs {}), {at}.",
            times(hl / pl),
            duration(hl),
            duration(pl)
        ),
        (Some(hl), Some(pl)) => format!(
            "harbinger's median lead is {} vs {} for predict_linear, {at}.",
            duration(hl),
            duration(pl)
        ),
        (Some(hl), None) => format!(
            "harbinger's median lead is {}; predict_linear caught none of the {onsets} \
             onsets ({at}).",
            duration(hl)
        ),
        (None, Some(pl)) => format!(
            "harbinger caught none of the {onsets} onsets; predict_linear's median lead is \
             {} ({at}).",
            duration(pl)
        ),
        (None, None) => format!(
            "Neither harbinger nor predict_linear caught any of the {onsets} onsets \
             (median lead {MISSING})."
        ),
    }
}

/// One sentence on calibration: the Brier scores of harbinger, of `predict_linear` read
/// as 0 or 1, and of the base rate, over the steps where the rule was not active.
pub(super) fn calibration(target: &TargetReport) -> String {
    let r = &target.reliability;
    let brier = |value: Option<f64>| optional(value, |v| format!("{v:.4}"));
    format!(
        "Calibration over {} steps (did the alert fire within {} and its `for` of {}?): \
         Brier score {} for harbinger, {} for predict_linear read as 0 or 1, {} for the \
         base rate (lower is better).",
        r.steps,
        duration(target.horizon_seconds),
        duration(target.hold_seconds),
        brier(r.brier),
        brier(target.predict_linear_reliability.brier),
        brier(r.brier_base_rate)
    )
}
