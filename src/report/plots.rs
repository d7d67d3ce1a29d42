//! The three summary plots of a target: lead times per method, precision against
//! recall, and the reliability diagram.
//!
//! In: a [`TargetReport`] (and the horizon). Out: one `<svg>` element per plot.

use super::TargetReport;
use super::format::duration;
use super::methods::methods;
use super::svg::{Axis, Plot, Side, Stroke, Swatch};

const MEDIAN_STROKE: Stroke = Stroke::solid("#222222", 2.5);

/// A strip plot of each caught onset's lead time, harbinger above `predict_linear`,
/// with each method's median marked. The rule's leads are all 0 and are not shown.
pub(super) fn leads(target: &TargetReport) -> String {
    // Bottom row first: the y axis counts upwards.
    let [harbinger, predict_linear, _] = methods(target);
    let shown = [predict_linear, harbinger];
    let names: Vec<String> = shown
        .iter()
        .map(|m| format!("{} (n={})", m.short, m.figures.leads_seconds.len()))
        .collect();
    let longest = shown
        .iter()
        .flat_map(|m| m.figures.leads_seconds.iter().copied())
        .fold(target.horizon_seconds, f64::max);
    let x = Axis::exact(
        0.0,
        longest / 60.0,
        "lead time (minutes before the alert fired)",
    );
    let mut plot = Plot::new(
        format!("{}: lead time of each caught onset", target.alert),
        560.0,
        230.0,
        x,
        Axis::categories(&names),
    );
    for (row, method) in shown.iter().enumerate() {
        let row = row as f64;
        for (i, lead) in method.figures.leads_seconds.iter().enumerate() {
            // A fixed spread keeps equal leads apart without randomness.
            let jitter = ((i * 7) % 9) as f64 / 8.0 - 0.5;
            plot.dot((lead / 60.0, row + 0.5 * jitter), 4.5, method.color);
        }
        if let Some(median) = method.figures.lead_median_seconds {
            let x = median / 60.0;
            plot.segment((x, row - 0.38), (x, row + 0.38), MEDIAN_STROKE);
            plot.text((x, row + 0.3), duration(median));
        }
    }
    plot.legend("median", Swatch::Line(MEDIAN_STROKE));
    plot.finish()
}

/// harbinger's per-step precision against recall as its probability threshold varies,
/// with each method's episode-level operating point (from its figures) marked.
pub(super) fn precision_recall(target: &TargetReport) -> String {
    let [harbinger, ..] = methods(target);
    let mut plot = Plot::new(
        format!("{}: precision and recall", target.alert),
        440.0,
        380.0,
        Axis::exact(0.0, 1.0, "recall"),
        Axis::exact(0.0, 1.0, "precision"),
    );
    let curve = Stroke::solid(harbinger.color, 2.0);
    plot.line(
        target.pr_curve.iter().map(|&(_, p, r)| (r, p)),
        Side::Left,
        curve,
    );
    plot.legend(
        "harbinger per step, by probability level",
        Swatch::Line(curve),
    );
    for wanted in [0.2, 0.5, 0.8] {
        let nearest = target
            .pr_curve
            .iter()
            .filter(|(_, p, r)| p.is_finite() && r.is_finite())
            .min_by(|a, b| (a.0 - wanted).abs().total_cmp(&(b.0 - wanted).abs()));
        if let Some(&(level, p, r)) = nearest {
            plot.dot((r, p), 2.5, harbinger.color);
            plot.text((r, p), format!("≥{level:.2}"));
        }
    }
    for method in methods(target) {
        if let (Some(recall), Some(precision)) = (method.figures.recall, method.figures.precision) {
            plot.dot((recall, precision), 6.0, method.color);
            plot.legend(
                format!("{} per episode", method.short),
                Swatch::Dot(method.color),
            );
        }
    }
    plot.finish()
}

/// The reliability diagram: each bin's mean probability against how often the alert
/// fired within the horizon, a dot sized by its steps, over the diagonal a calibrated
/// forecast lies on.
pub(super) fn reliability(target: &TargetReport) -> String {
    let [harbinger, ..] = methods(target);
    let mut plot = Plot::new(
        format!("{}: reliability", target.alert),
        440.0,
        380.0,
        Axis::exact(0.0, 1.0, "probability (mean of the bin)"),
        Axis::exact(
            0.0,
            1.0,
            "share of steps the alert fired within the horizon",
        ),
    );
    let diagonal = Stroke::dashed("#999999", 1.0, "4 3");
    plot.segment((0.0, 0.0), (1.0, 1.0), diagonal);
    plot.legend("calibrated", Swatch::Line(diagonal));
    let bins = &target.reliability.bins;
    let most = bins.iter().map(|b| b.steps).max().unwrap_or(1) as f64;
    plot.line(
        bins.iter().map(|b| (b.mean_forecast, b.observed)),
        Side::Left,
        Stroke::solid(harbinger.color, 1.5),
    );
    for bin in bins {
        let radius = 2.5 + 5.5 * (bin.steps as f64 / most).sqrt();
        plot.dot((bin.mean_forecast, bin.observed), radius, harbinger.color);
        plot.text(
            (bin.mean_forecast, bin.observed),
            format!("n={}", bin.steps),
        );
    }
    plot.legend(
        "harbinger, by probability bin",
        Swatch::Dot(harbinger.color),
    );
    plot.finish()
}
