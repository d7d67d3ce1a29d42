//! One entity's signal as a sparkline: where it has been, where it is heading.
//!
//! In: the signal's track over its longest window, the rule's threshold and horizon,
//! and the prediction's ETA (with its standard error) or, without an ETA, its trend.
//! Out: a small inline `<svg>`: the past as a line (broken at gaps), the threshold
//! dashed, the future shaded, and the forecast: the trajectories that reach the
//! threshold between ETA − σ and ETA + σ as a band around the one at the ETA, cut at
//! the threshold and the horizon; or, without an ETA, the trend line over the horizon.

use std::fmt::Write;

use crate::predictions::board::Prediction;
use crate::predictions::card::RuleCard;
use crate::report::format::{duration, escape};

const WIDTH: f64 = 240.0;
const HEIGHT: f64 = 44.0;
const PAD: f64 = 3.0;

/// Where the plot's data lie: x in seconds from now, y in the signal's unit.
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn px(&self, (x, y): (f64, f64)) -> (f64, f64) {
        let share = |v: f64, (lo, hi): (f64, f64)| (v - lo) / (hi - lo);
        (
            PAD + share(x, self.x) * (WIDTH - 2.0 * PAD),
            HEIGHT - PAD - share(y, self.y) * (HEIGHT - 2.0 * PAD),
        )
    }

    fn points(&self, points: &[(f64, f64)]) -> String {
        let mut text = String::new();
        for &point in points {
            let (x, y) = self.px(point);
            let _ = write!(text, "{x:.1},{y:.1} ");
        }
        text.trim_end().to_owned()
    }
}

/// The forecast from the value now, as (seconds from now, value) points cut at the
/// threshold and the horizon.
#[derive(Default)]
struct Forecast {
    /// The central trajectory: toward the threshold at the ETA, or along the trend.
    line: Vec<(f64, f64)>,
    /// The band's polygon, when the ETA has an error; empty otherwise.
    band: Vec<(f64, f64)>,
}

/// The forecast of `p` under `rule`; empty without a value, an ETA or a trend.
fn forecast(p: &Prediction, rule: &RuleCard) -> Forecast {
    let Some(value) = p.value else {
        return Forecast::default();
    };
    let horizon = rule.horizon.as_secs_f64();
    let threshold = rule.threshold;
    let toward = |eta: f64| {
        let t = eta.min(horizon);
        (t, value + (threshold - value) * t / eta)
    };
    match (p.eta_seconds, p.trend_per_second) {
        (Some(eta), _) if eta > 0.0 => {
            let line = vec![(0.0, value), toward(eta)];
            let band = match p.eta_stderr_seconds {
                Some(sigma) if sigma > 0.0 => {
                    let fast = toward((eta - sigma).max(eta / 10.0));
                    let slow = toward(eta + sigma);
                    let mut band = vec![(0.0, value), fast];
                    if fast.0 < horizon {
                        band.push((horizon, threshold));
                    }
                    band.push(slow);
                    band
                }
                _ => Vec::new(),
            };
            Forecast { line, band }
        }
        (_, Some(trend)) => Forecast {
            line: vec![(0.0, value), (horizon, value + trend * horizon)],
            band: Vec::new(),
        },
        _ => Forecast::default(),
    }
}

/// The sparkline of `p` at `now_ms`.
pub fn render(p: &Prediction, rule: &RuleCard, now_ms: i64) -> String {
    let past: Vec<(f64, f64)> = p
        .history
        .points()
        .map(|(t, v)| ((t - now_ms) as f64 / 1e3, v))
        .collect();
    let Forecast { line, band } = forecast(p, rule);
    let values = past
        .iter()
        .chain(&line)
        .chain(&band)
        .map(|&(_, v)| v)
        .chain([rule.threshold])
        .filter(|v| v.is_finite());
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let spread = (high - low).max(high.abs().max(1.0) * 1e-9);
    let frame = Frame {
        x: (-rule.window.as_secs_f64(), rule.horizon.as_secs_f64()),
        y: (low - 0.08 * spread, high + 0.08 * spread),
    };
    let (now_x, _) = frame.px((0.0, 0.0));
    let (_, threshold_y) = frame.px((0.0, rule.threshold));
    let mut svg = format!(
        r#"<svg class="spark" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"><title>{}</title>"#,
        escape(&format!(
            "the last {} and the next {}; threshold {}",
            duration(rule.window.as_secs_f64()),
            duration(rule.horizon.as_secs_f64()),
            crate::promql::format_value(rule.threshold)
        ))
    );
    let _ = write!(
        svg,
        r##"<rect x="{now_x:.1}" y="0" width="{:.1}" height="{HEIGHT}" fill="#f4f6fa"/>"##,
        WIDTH - now_x
    );
    if band.len() >= 3 {
        let _ = write!(
            svg,
            r##"<polygon points="{}" fill="#f5b7a3" fill-opacity="0.6"/>"##,
            frame.points(&band)
        );
    }
    let _ = write!(
        svg,
        r##"<line class="threshold" x1="0" x2="{WIDTH}" y1="{threshold_y:.1}" y2="{threshold_y:.1}" stroke="#b2182b" stroke-dasharray="4 3"/>"##
    );
    if !line.is_empty() {
        let _ = write!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="#d6604d" stroke-width="1.5" stroke-dasharray="3 2"/>"##,
            frame.points(&line)
        );
    }
    for run in past
        .split(|(_, v)| !v.is_finite())
        .filter(|run| !run.is_empty())
    {
        let _ = write!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="#222222" stroke-width="1.5"/>"##,
            frame.points(run)
        );
    }
    if let Some(value) = p.value {
        let (x, y) = frame.px((0.0, value));
        let _ = write!(
            svg,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="2.5" fill="#222222"/>"##
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::predictions::track::Track;
    use crate::promql::Labels;

    fn rule() -> RuleCard {
        RuleCard {
            alert: "HostOutOfDiskSpace".into(),
            condition: "x < 10".into(),
            threshold: 10.0,
            hold: Duration::from_secs(60),
            horizon: Duration::from_secs(600),
            window: Duration::from_secs(3600),
        }
    }

    fn falling(eta: Option<f64>, sigma: Option<f64>) -> Prediction {
        let mut history = Track::default();
        for i in 0..=60 {
            history.push(i * 60_000, 40.0 - 0.4 * i as f64, 3_600_000);
        }
        Prediction {
            target: "HostOutOfDiskSpace".into(),
            entity: Labels::new([("instance", "a")]),
            probability: Some(0.9),
            eta_seconds: eta,
            eta_stderr_seconds: sigma,
            value: Some(16.0),
            trend_per_second: Some(-0.4 / 60.0),
            anomaly_score: None,
            ticket_open: true,
            history,
        }
    }

    #[test]
    fn the_band_is_cut_at_the_threshold_and_the_horizon() {
        // Reaches 10 in 900 s ± 400 s: the fast edge crosses at 500 s, the slow edge is
        // still above at the 600 s horizon.
        let Forecast { line, band } = forecast(&falling(Some(900.0), Some(400.0)), &rule());
        assert_eq!(line, [(0.0, 16.0), (600.0, 12.0)]);
        assert_eq!(band[0], (0.0, 16.0));
        assert_eq!(band[1], (500.0, 10.0));
        assert_eq!(band[2], (600.0, 10.0));
        assert_eq!(band[3].0, 600.0);
        assert!((band[3].1 - (16.0 - 6.0 * 600.0 / 1300.0)).abs() < 1e-9);
    }

    #[test]
    fn without_an_eta_the_trend_is_drawn_and_nothing_escapes_the_frame() {
        let Forecast { line, band } = forecast(&falling(None, None), &rule());
        assert_eq!(line.len(), 2);
        assert!((line[1].1 - 12.0).abs() < 1e-9);
        assert!(band.is_empty());
        let now_ms = 3_600_000;
        let svg = render(&falling(Some(900.0), Some(400.0)), &rule(), now_ms);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<polygon") && svg.contains(r#"class="threshold""#));
        let numbers = regex::Regex::new(r#"(?:points|cx|cy|x1|x2|y1|y2)="([^"]+)""#).unwrap();
        for capture in numbers.captures_iter(&svg) {
            for number in capture[1].split([' ', ',']) {
                let n: f64 = number.parse().unwrap();
                assert!((-0.01..=WIDTH + 0.01).contains(&n), "{n} in {svg}");
            }
        }
    }

    #[test]
    fn a_flat_signal_at_its_threshold_still_draws() {
        let mut p = falling(None, None);
        p.history = Track::default();
        p.history.push(0, 10.0, 3_600_000);
        p.value = Some(10.0);
        p.trend_per_second = Some(0.0);
        let svg = render(&p, &rule(), 0);
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }
}
