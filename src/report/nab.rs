//! The NAB check's page: each series with its anomaly score, NAB's windows and where
//! the swept threshold detects, so that a miss or a false positive can be looked at.
//!
//! In: a [`NabPage`]: per file its rows (time, value, score), windows, probation, the
//! detections the scorer counted (`Corpus::detections`) and a line of figures, and the
//! standard profile's threshold. Out: `DIR/nab.html`, one self-contained page (inline
//! CSS and SVG), one plot per file: the value (left axis) and the score (right axis)
//! over days, NAB's windows and the probation shaded, the threshold dashed, and a dot on
//! the value at each detection that counts: green for a window's first, red for a
//! false positive.

use std::fmt::Write;
use std::io;
use std::path::Path;

use super::format::escape;
use super::html::STYLE;
use super::svg::{Axis, Plot, Side, Stroke, Swatch};

/// One NAB file as scored.
pub struct NabSeries {
    pub name: String,
    /// The rows' times (unix ms), values and scores (NaN: none), in file order.
    pub times_ms: Vec<i64>,
    pub values: Vec<f64>,
    pub scores: Vec<f64>,
    /// NAB's windows, `[start, end]` in unix ms, inclusive.
    pub windows: Vec<[i64; 2]>,
    /// Rows at the start that NAB does not score.
    pub probation_rows: usize,
    /// The detections NAB counts at the threshold: (row, a window's first).
    pub detections: Vec<(usize, bool)>,
    /// A line of figures shown above the plot.
    pub summary: String,
}

pub struct NabPage {
    pub title: String,
    /// Paragraphs shown above the plots.
    pub notes: Vec<String>,
    /// Where the standard profile detects (none: never).
    pub threshold: Option<f64>,
    pub series: Vec<NabSeries>,
}

/// Creates `dir` (and its parents) and writes `nab.html` into it.
pub fn write_nab(page: &NabPage, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", dir.display())))?;
    let path = dir.join("nab.html");
    std::fs::write(&path, render(page))
        .map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))
}

/// Points per line at most: a series of 20,000 rows is drawn from its extremes.
const MOST_POINTS: usize = 1_200;
const VALUE: Stroke = Stroke::solid("#222222", 1.0);
const SCORE: Stroke = Stroke::solid("#2166ac", 1.0);
const THRESHOLD: Stroke = Stroke::dashed("#2166ac", 1.5, "6 4");
const WINDOW: &str = "#fdebc8";
const PROBATION: &str = "#ececec";
const DETECTED: &str = "#1a9850";
const FALSE_POSITIVE: &str = "#d73027";

fn render(page: &NabPage) -> String {
    let title = escape(&page.title);
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>{title}</h1>\n"
    );
    for note in &page.notes {
        let _ = writeln!(html, "<p>{}</p>", escape(note));
    }
    for series in &page.series {
        let _ = writeln!(
            html,
            "<section>\n<h3>{}</h3>\n<p>{}</p>\n{}\n</section>",
            escape(&series.name),
            escape(&series.summary),
            plot(series, page.threshold)
        );
    }
    html.push_str("</main>\n</body>\n</html>\n");
    html
}

fn plot(series: &NabSeries, threshold: Option<f64>) -> String {
    let start = series.times_ms.first().copied().unwrap_or(0);
    let end = series.times_ms.last().copied().unwrap_or(start);
    let days = |t_ms: i64| (t_ms - start) as f64 / 86_400_000.0;
    let x = Axis::exact(0.0, days(end).max(1e-9), "days from the first row");
    let (low, high) = range(&series.values);
    let y = Axis::rounded(low, high.max(low + 1e-9), "value");
    let top_score = range(&series.scores).1.max(threshold.unwrap_or(1.0) * 1.5);
    let mut plot = Plot::new(series.name.clone(), 1080.0, 300.0, x, y)
        .with_right_axis(Axis::exact(0.0, top_score, "anomaly score"));

    if let Some(&last) = series.times_ms.get(series.probation_rows.saturating_sub(1)) {
        plot.span(0.0, days(last), PROBATION);
    }
    for &[from, to] in &series.windows {
        plot.span(days(from), days(to), WINDOW);
    }
    let over_days = |ys: &[f64]| {
        envelope(&series.times_ms, ys, MOST_POINTS)
            .into_iter()
            .map(|(t, v)| (days(t), v))
    };
    plot.line(over_days(&series.values), Side::Left, VALUE);
    plot.line(over_days(&series.scores), Side::Right, SCORE);
    if let Some(threshold) = threshold {
        plot.line(
            [(0.0, threshold), (days(end), threshold)],
            Side::Right,
            THRESHOLD,
        );
    }
    for &(row, in_window) in &series.detections {
        let fill = if in_window { DETECTED } else { FALSE_POSITIVE };
        plot.dot((days(series.times_ms[row]), series.values[row]), 3.5, fill);
    }
    plot.legend("value", Swatch::Line(VALUE));
    plot.legend("anomaly score", Swatch::Line(SCORE));
    plot.legend("threshold", Swatch::Line(THRESHOLD));
    plot.legend("NAB window", Swatch::Fill(WINDOW));
    plot.legend("probation", Swatch::Fill(PROBATION));
    plot.legend("window detected", Swatch::Dot(DETECTED));
    plot.legend("false positive", Swatch::Dot(FALSE_POSITIVE));
    plot.finish()
}

/// The smallest and largest finite value; (0, 1) when there is none.
fn range(values: &[f64]) -> (f64, f64) {
    let (low, high) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if low <= high { (low, high) } else { (0.0, 1.0) }
}

/// At most `most` points (about) of the line through `(times[i], values[i])`: for each
/// of `most / 2` runs of rows, its lowest and highest finite value in time order, so a
/// one-row spike is still drawn. A run without a finite value breaks the line.
fn envelope(times: &[i64], values: &[f64], most: usize) -> Vec<(i64, f64)> {
    let run = times.len().div_ceil((most / 2).max(1)).max(1);
    let mut out = Vec::new();
    for (ts, vs) in times.chunks(run).zip(values.chunks(run)) {
        let finite = || vs.iter().enumerate().filter(|(_, v)| v.is_finite());
        let low = finite().min_by(|a, b| a.1.total_cmp(b.1));
        let high = finite().max_by(|a, b| a.1.total_cmp(b.1));
        match (low, high) {
            (Some((i, &lo)), Some((j, &hi))) => {
                let (first, second) = if i <= j {
                    ((i, lo), (j, hi))
                } else {
                    ((j, hi), (i, lo))
                };
                out.push((ts[first.0], first.1));
                if second.0 != first.0 {
                    out.push((ts[second.0], second.1));
                }
            }
            _ => out.push((ts[0], f64::NAN)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(scores: &[f64], windows: Vec<[i64; 2]>, probation_rows: usize) -> NabSeries {
        NabSeries {
            name: "file".into(),
            times_ms: (0..scores.len() as i64).collect(),
            values: vec![1.0; scores.len()],
            scores: scores.to_vec(),
            windows,
            probation_rows,
            detections: vec![(1, true)],
            summary: String::new(),
        }
    }

    #[test]
    fn the_envelope_keeps_each_runs_extremes_in_time_order() {
        let times: Vec<i64> = (0..10).collect();
        let values = [0.0, 5.0, 1.0, 1.0, -3.0, 1.0, 1.0, 1.0, 9.0, 1.0];
        let drawn = envelope(&times, &values, 4);
        assert_eq!(drawn, [(1, 5.0), (4, -3.0), (5, 1.0), (8, 9.0)]);
        assert_eq!(envelope(&times, &values, 100).len(), 10);
        let gap = envelope(&times, &[f64::NAN; 10], 4);
        assert!(gap.iter().all(|(_, v)| v.is_nan()));
    }

    #[test]
    fn the_page_has_a_plot_per_file() {
        let page = NabPage {
            title: "NAB check".into(),
            notes: vec!["standard 63.8".into()],
            threshold: Some(1.0),
            series: (0..2)
                .map(|_| series(&[0.0, 2.0, 0.0], vec![[1, 1]], 0))
                .collect(),
        };
        let html = render(&page);
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(html.contains("standard 63.8"));
        assert!(html.contains(DETECTED), "the window's detection is drawn");
    }
}
