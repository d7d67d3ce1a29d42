//! The report written from a small hand-made [`Report`] with plausible lab-dev numbers:
//! what its Markdown table says, and that its HTML page is self-contained, balanced,
//! escaped and free of NaN coordinates.

use std::path::Path;

use regex::Regex;

use super::{Report, TargetReport, Timeline, write};
use crate::evaluation::episodes::quantile;
use crate::evaluation::reliability::reliability;
use crate::evaluation::{Figures, Gains, Interval, Intervals};
use crate::model::{FrontPoint, Policy};

const START: f64 = 1_795_571_575.0;
const HOST8: &str = r#"{instance="host8",mountpoint="/srv/data"}"#;
const HOST7: &str =
    r#"{instance="host7",mountpoint="/srv/data",note="a 'quoted' <value> & {braces}"}"#;

fn figures(onsets: usize, leads: &[f64], tickets: usize, true_tickets: usize) -> Figures {
    let entity_days = 0.25;
    let ratio = |part: usize, whole: usize| (whole > 0).then(|| part as f64 / whole as f64);
    Figures {
        onsets,
        caught: leads.len(),
        recall: ratio(leads.len(), onsets),
        tickets,
        true_tickets,
        precision: ratio(true_tickets, tickets),
        lead_median_seconds: quantile(leads, 0.5),
        lead_p10_seconds: quantile(leads, 0.1),
        false_tickets_per_entity_day: (tickets - true_tickets) as f64 / entity_days,
        quiet_entity_tickets: 0,
        entity_days,
        leads_seconds: leads.to_vec(),
        intervals: None,
    }
}

/// Available space in % every 15 s for 40 min: flat, then a fill of 2.2 %/min from
/// minute 5, and a cleanup at minute `cleanup` that frees most of it; `gap` is a run
/// of steps without data.
fn timeline(
    entity: &str,
    kind: &str,
    floor: f64,
    cleanup: f64,
    gap: std::ops::Range<usize>,
) -> Timeline {
    let times_unix: Vec<f64> = (0..160).map(|i| START + 15.0 * i as f64).collect();
    let level: Vec<f64> = times_unix
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let minute = (t - START) / 60.0;
            let noise = 0.6 * (i as f64 * 1.7).sin();
            match minute {
                _ if gap.contains(&i) => f64::NAN,
                m if m >= cleanup => 62.0 + noise,
                m => (70.0 - 2.2 * (m - 5.0).max(0.0)).max(floor) + noise,
            }
        })
        .collect();
    let probability = level
        .iter()
        .enumerate()
        .map(|(i, v)| match i {
            // The classifier needs a few minutes of history first.
            0..20 => f64::NAN,
            _ => 1.0 / (1.0 + ((v - 30.0) / 6.0).exp()),
        })
        .collect();
    Timeline {
        entity: entity.to_owned(),
        kind: kind.to_owned(),
        times_unix,
        level,
        probability,
        tickets: vec![],
        baseline_tickets: vec![],
        alerts: vec![],
    }
}

fn minute(m: f64) -> f64 {
    START + 60.0 * m
}

fn target() -> TargetReport {
    let episode = Timeline {
        tickets: vec![(minute(22.0), Some(minute(38.0)))],
        baseline_tickets: vec![minute(29.5)],
        alerts: vec![(minute(32.0), Some(minute(34.0)), minute(37.0))],
        ..timeline(HOST8, "episode", 7.0, 37.0, 40..45)
    };
    let false_ticket = Timeline {
        tickets: vec![(minute(20.0), None)],
        ..timeline(HOST7, "false ticket", 13.0, 31.0, 0..0)
    };
    let pr_curve = (1..20)
        .map(|i| {
            let level = i as f64 / 20.0;
            (level, 0.35 + 0.6 * level, 1.0 - level.powi(2))
        })
        .chain([(0.99, f64::NAN, 0.0)])
        .collect();
    TargetReport {
        alert: "HostOutOfDiskSpace".to_owned(),
        rule: "(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes < 10".to_owned(),
        threshold: 10.0,
        horizon_seconds: 1800.0,
        hold_seconds: 60.0,
        entities: 8,
        entity_days: 0.25,
        harbinger: Figures {
            intervals: Some(Intervals {
                recall: Some(Interval {
                    low: 0.8,
                    high: 1.0,
                }),
                precision: Some(Interval {
                    low: 0.6,
                    high: 1.0,
                }),
                lead_median_seconds: Some(Interval {
                    low: 545.0,
                    high: 745.0,
                }),
                false_tickets_per_entity_day: None,
            }),
            ..figures(5, &[312.0, 545.0, 610.0, 745.0, 880.0], 6, 5)
        },
        rule_baseline: figures(5, &[0.0; 5], 5, 5),
        predict_linear: figures(5, &[95.0, 250.0, 410.0], 5, 3),
        predict_linear_window_seconds: 600.0,
        predict_linear_hold_seconds: 60.0,
        gains: Gains {
            precision: Some(Interval {
                low: -0.05,
                high: 0.4,
            }),
            lead_ratio: Some(Interval {
                low: 1.3,
                high: 3.5,
            }),
        },
        scored_by: "first-passage probability over 5m".to_owned(),
        policy: disk_policy(0.1),
        front: vec![
            FrontPoint {
                policy: disk_policy(0.5),
                figures: figures(5, &[120.0, 300.0], 2, 2),
            },
            FrontPoint {
                policy: disk_policy(0.1),
                figures: figures(5, &[312.0, 545.0, 610.0, 745.0, 880.0], 6, 5),
            },
        ],
        pr_curve,
        reliability: reliability((0..200).map(|i| (f64::from(i % 10) / 10.0, i % 7 == 0))),
        predict_linear_reliability: reliability((0..200).map(|i| (f64::from(i % 2), i % 7 == 0))),
        timelines: vec![episode, false_ticket],
    }
}

/// Opens at `open` for 16 steps.
fn disk_policy(open: f64) -> Policy {
    Policy {
        open_probability: Some(open),
        eta_z: None,
        open_steps: 16,
        close_steps: 20,
        cooldown_steps: 20,
    }
}

fn report(targets: Vec<TargetReport>) -> Report {
    Report {
        title: "held-out hosts of lab-dev (4-fold by entity)".to_owned(),
        notes: vec!["harbinger train --data shared/data/lab-dev --folds 4".to_owned()],
        targets,
    }
}

/// Writes `report` into a fresh directory and reads back (Markdown, HTML).
fn written(report: &Report) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/report");
    write(report, &out).unwrap();
    let read = |name: &str| std::fs::read_to_string(Path::new(&out).join(name)).unwrap();
    (read("report.md"), read("report.html"))
}

#[test]
fn markdown_has_a_row_per_method_with_formatted_figures() {
    let (md, _) = written(&report(vec![target()]));
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(
        rows,
        [
            "| method | onsets | caught (recall) | tickets | on quiet entities | precision | median lead | p10 lead | false tickets / entity-day |",
            "| harbinger | 5 | 5 (1.00 [0.80–1.00]) | 6 | 0 | 0.83 [0.60–1.00] | 10m10s [9m05s–12m25s] | 6m45s | 4.00 |",
            "| predict_linear (W = 10m, for 1m) | 5 | 3 (0.60) | 5 | 0 | 0.60 | 4m10s | 2m06s | 8.00 |",
            "| rule itself (ticket when it fires) | 5 | 5 (1.00) | 5 | 0 | 1.00 | 0s | 0s | 0 |",
            "| policy | onsets | caught (recall) | tickets | on quiet entities | precision | median lead | p10 lead | false tickets / entity-day |",
            "| p ≥ 0.5, for 16 steps | 5 | 2 (0.40) | 2 | 0 | 1.00 | 3m30s | 2m18s | 0 |",
            "| p ≥ 0.1, for 16 steps (the model's) | 5 | 5 (1.00) | 6 | 0 | 0.83 | 10m10s | 6m45s | 4.00 |",
        ]
    );
    assert!(
        md.contains("The policy front: every candidate ticket policy"),
        "{md}"
    );
    assert!(
        md.contains(
            "Calibration over 200 steps (did the alert fire within 30m and its `for` of 1m?): \
             Brier score 0.2980 for harbinger, 0.5050 for predict_linear read as 0 or 1, 0.1240 for the base rate"
        ),
        "{md}"
    );
    assert!(md.starts_with("# held-out hosts of lab-dev (4-fold by entity)\n"));
    assert!(md.contains("- harbinger train --data shared/data/lab-dev --folds 4\n"));
    assert!(md.contains("`(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes < 10`"));
    assert!(
        md.contains(
            "harbinger's median lead is 2.4× predict_linear's (10m10s vs 4m10s), \
             at recall 1.00 vs 0.60 and precision 0.83 vs 0.60. Over entities resampled \
             in pairs (90 %), precision gains −0.05 to +0.40 and the median lead ratio is \
             1.3× to 3.5×."
        ),
        "{md}"
    );
}

#[test]
fn missing_figures_and_data_show_a_dash_and_still_plot() {
    let quiet = TargetReport {
        harbinger: figures(0, &[], 1, 0),
        predict_linear: Figures::default(),
        rule_baseline: Figures::default(),
        pr_curve: vec![],
        timelines: vec![
            Timeline {
                times_unix: vec![],
                level: vec![],
                probability: vec![],
                ..timeline(HOST8, "no data", 0.0, 0.0, 0..0)
            },
            timeline(HOST8, "a gap throughout", 0.0, 0.0, 0..160),
        ],
        ..target()
    };
    let (md, html) = written(&report(vec![quiet]));
    assert!(
        md.contains("| predict_linear (W = 10m, for 1m) | 0 | 0 (–) | 0 | 0 | – | – | – | 0 |"),
        "{md}"
    );
    assert!(
        md.contains("No alert fired here: harbinger opened 1 tickets (4.00 false per entity-day)")
    );
    assert_eq!(
        html.matches("<svg").count(),
        5,
        "leads, precision–recall, reliability and both timelines"
    );
    assert!(!html.contains("NaN"));
}

#[test]
fn html_is_one_balanced_self_contained_page_with_a_plot_each() {
    let (_, html) = written(&report(vec![target()]));
    // Leads, precision–recall, reliability, and one per timeline.
    assert_eq!(html.matches("<svg").count(), 5);
    for tag in [
        "svg", "g", "text", "table", "tr", "th", "td", "section", "div", "p", "ul", "li", "h2",
        "h3", "title",
    ] {
        let open = Regex::new(&format!(r"<{tag}[\s>]"))
            .unwrap()
            .find_iter(&html)
            .count();
        let close = html.matches(&format!("</{tag}>")).count();
        assert_eq!(open, close, "<{tag}> opened {open} times, closed {close}");
    }
    for external in ["<script", "<link", "src=", "href=", "url("] {
        assert!(!html.contains(external), "{external}");
    }
}

#[test]
fn text_from_the_data_is_escaped() {
    let (_, html) = written(&report(vec![target()]));
    assert!(
        html.contains("{instance=&quot;host8&quot;,mountpoint=&quot;/srv/data&quot;} — episode")
    );
    assert!(html.contains("&#39;quoted&#39; &lt;value&gt; &amp; {braces}"));
    assert!(!html.contains("<value>"));
    assert!(html.contains("node_filesystem_size_bytes &lt; 10"));
}

#[test]
fn no_coordinate_is_nan_and_the_level_line_breaks_at_the_gap() {
    let (_, html) = written(&report(vec![target()]));
    let points = Regex::new(r#"points="([^"]*)""#).unwrap();
    let all: Vec<&str> = points
        .captures_iter(&html)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert!(!all.is_empty());
    for coords in all {
        assert!(
            coords
                .split([' ', ','])
                .all(|n| n.parse::<f64>().is_ok_and(f64::is_finite)),
            "{coords}"
        );
    }
    assert!(!html.contains("NaN"));

    let episode = html
        .split("<svg")
        .find(|svg| svg.contains("host8"))
        .unwrap();
    let level = r##"<polyline points="[^"]*" stroke-linejoin="round" fill="none" stroke="#222222" stroke-width="1.5"/>"##;
    assert_eq!(
        Regex::new(level).unwrap().find_iter(episode).count(),
        2,
        "before and after the gap"
    );
    let probability = r##"<polyline points="[^"]*" stroke-linejoin="round" fill="none" stroke="#2166ac" stroke-width="1.5"/>"##;
    // Without values until step 20, and without a level in the gap.
    assert_eq!(
        Regex::new(probability).unwrap().find_iter(episode).count(),
        2
    );
}
