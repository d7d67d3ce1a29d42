//! One entity's course around an episode or a false ticket, as a plot.
//!
//! In: a [`Timeline`] and the target's threshold. Out: one `<svg>` element: the signal
//! level (left axis) with the threshold dashed, harbinger's probability (right axis,
//! 0–1), the alert's pending and firing spans shaded, and a vertical line where each
//! ticket opened or closed. The x axis is in minutes from the first time shown.

use super::Timeline;
use super::format::clock;
use super::methods::{HARBINGER_COLOR, PREDICT_LINEAR_COLOR};
use super::svg::{Axis, Plot, Side, Stroke, Swatch};

const LEVEL: Stroke = Stroke::solid("#222222", 1.5);
const THRESHOLD: Stroke = Stroke::dashed("#b2182b", 1.5, "6 4");
const PROBABILITY: Stroke = Stroke::solid(HARBINGER_COLOR, 1.5);
const TICKET_OPEN: Stroke = Stroke::solid(HARBINGER_COLOR, 2.0);
const TICKET_CLOSE: Stroke = Stroke::dashed(HARBINGER_COLOR, 1.5, "2 3");
const BASELINE_OPEN: Stroke = Stroke::dashed(PREDICT_LINEAR_COLOR, 2.0, "5 3");
const PENDING: &str = "#fdebc8";
const FIRING: &str = "#f9c0b4";

pub(super) fn plot(timeline: &Timeline, threshold: f64) -> String {
    let finite = |values: &[f64]| -> (f64, f64) {
        values
            .iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    };
    let (start, end) = finite(&timeline.times_unix);
    let minutes = |t: f64| (t - start) / 60.0;
    let x = Axis::exact(
        0.0,
        minutes(end),
        format!("minutes from {} UTC", clock(start)),
    );
    let (low, high) = finite(&timeline.level);
    let (low, high) = (low.min(threshold), high.max(threshold));
    // Room above and below, so that neither the threshold nor the line sits on the frame.
    let pad = 0.05 * (high - low);
    let y = Axis::rounded(low - pad, high + pad, "signal level");
    let mut plot = Plot::new(
        format!("{} — {}", timeline.entity, timeline.kind),
        540.0,
        320.0,
        x,
        y,
    )
    .with_right_axis(Axis::exact(0.0, 1.0, "probability"));

    for &(pending, onset, resolved) in &timeline.alerts {
        let firing = onset.unwrap_or(resolved);
        plot.span(minutes(pending), minutes(firing), PENDING);
        if onset.is_some() {
            plot.span(minutes(firing), minutes(resolved), FIRING);
        }
    }
    plot.hline(threshold, THRESHOLD);
    let over_time = |values: &[f64]| -> Vec<(f64, f64)> {
        timeline
            .times_unix
            .iter()
            .zip(values)
            .map(|(&t, &v)| (minutes(t), v))
            .collect()
    };
    plot.line(over_time(&timeline.level), Side::Left, LEVEL);
    plot.line(over_time(&timeline.probability), Side::Right, PROBABILITY);
    for &(open, close) in &timeline.tickets {
        plot.vline(minutes(open), TICKET_OPEN);
        if let Some(close) = close {
            plot.vline(minutes(close), TICKET_CLOSE);
        }
    }
    for &open in &timeline.baseline_tickets {
        plot.vline(minutes(open), BASELINE_OPEN);
    }

    plot.legend("level", Swatch::Line(LEVEL));
    plot.legend("threshold", Swatch::Line(THRESHOLD));
    plot.legend("probability", Swatch::Line(PROBABILITY));
    let shown = [
        (
            !timeline.alerts.is_empty(),
            "pending",
            Swatch::Fill(PENDING),
        ),
        (
            timeline.alerts.iter().any(|a| a.1.is_some()),
            "firing",
            Swatch::Fill(FIRING),
        ),
        (
            !timeline.tickets.is_empty(),
            "harbinger ticket opens",
            Swatch::Line(TICKET_OPEN),
        ),
        (
            timeline.tickets.iter().any(|t| t.1.is_some()),
            "closes",
            Swatch::Line(TICKET_CLOSE),
        ),
        (
            !timeline.baseline_tickets.is_empty(),
            "predict_linear ticket",
            Swatch::Line(BASELINE_OPEN),
        ),
    ];
    for (present, label, swatch) in shown {
        if present {
            plot.legend(label, swatch);
        }
    }
    plot.finish()
}
