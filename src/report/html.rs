//! The HTML page: a [`Report`] in, the text of `report.html` out.
//!
//! One self-contained file (inline CSS and SVG, no scripts, nothing fetched): the same
//! tables and verdicts as the Markdown summary (the policy front's too), then per target
//! the lead-time and precision–recall plots and one timeline per episode or false
//! ticket.

use std::fmt::Write;

use super::format::escape;
use super::methods::{
    COLUMNS, FRONT_CAPTION, Method, calibration, front, judging, methods, verdict,
};
use super::{Report, TargetReport, plots, timeline};

pub(super) const STYLE: &str = "
body { margin: 0; background: #ffffff; color: #222222;
  font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 8px; }
h2 { font-size: 21px; margin: 40px 0 8px; padding-top: 16px; border-top: 1px solid #dddddd; }
h3 { font-size: 17px; margin: 28px 0 8px; }
code { font: 13px/1.4 ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace;
  background: #f3f3f3; padding: 1px 4px; border-radius: 3px; }
table { border-collapse: collapse; margin: 12px 0; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 12px; border-bottom: 1px solid #e3e3e3; }
th { text-align: right; font-weight: 600; background: #f7f7f7; }
td { text-align: right; }
th:first-child, td:first-child { text-align: left; }
.verdict { font-weight: 600; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
svg { max-width: 100%; height: auto; background: #ffffff; }
";

pub(super) fn render(report: &Report) -> String {
    let title = escape(&report.title);
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>{title}</h1>\n"
    );
    let _ = writeln!(html, "<p>{}</p>", escape(judging()));
    if !report.notes.is_empty() {
        html.push_str("<ul>\n");
        for note in &report.notes {
            let _ = writeln!(html, "<li>{}</li>", escape(note));
        }
        html.push_str("</ul>\n");
    }
    for target in &report.targets {
        render_target(&mut html, target);
    }
    html.push_str("</main>\n</body>\n</html>\n");
    html
}

fn render_target(html: &mut String, target: &TargetReport) {
    let _ = writeln!(
        html,
        "<section>\n<h2>{}</h2>\n<p>Rule <code>{}</code>; scored by {}; {} entities, {:.2} entity-days.</p>",
        escape(&target.alert),
        escape(&target.rule),
        escape(&target.scored_by),
        target.entities,
        target.entity_days
    );
    table(html, "method", &methods(target));
    let _ = writeln!(
        html,
        "<p class=\"verdict\">{}</p>",
        escape(&verdict(target))
    );
    let _ = writeln!(html, "<p>{}</p>", escape(&calibration(target)));
    let points = front(target);
    if !points.is_empty() {
        let _ = writeln!(html, "<p>{}</p>", escape(FRONT_CAPTION));
        table(html, "policy", &points);
    }
    let _ = writeln!(
        html,
        "<div class=\"plots\">\n{}\n{}\n{}\n</div>",
        plots::leads(target),
        plots::precision_recall(target),
        plots::reliability(target)
    );
    if !target.timelines.is_empty() {
        html.push_str("<h3>Timelines</h3>\n<div class=\"plots\">\n");
        for shown in &target.timelines {
            let _ = writeln!(html, "{}", timeline::plot(shown, target.threshold));
        }
        html.push_str("</div>\n");
    }
    html.push_str("</section>\n");
}

/// The figures table: a header (its first column named `first`), a row per method.
fn table(html: &mut String, first: &str, rows: &[Method]) {
    html.push_str("<table>\n<thead><tr>");
    for column in std::iter::once(first).chain(COLUMNS[1..].iter().copied()) {
        let _ = write!(html, "<th>{}</th>", escape(column));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for method in rows {
        html.push_str("<tr>");
        for cell in method.cells() {
            let _ = write!(html, "<td>{}</td>", escape(&cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");
}
