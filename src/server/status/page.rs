//! The page's frame: head and style, the header with its links, pipeline health, the
//! filter form; then the sections (see [`super::sections`]).

use std::fmt::Write;

use super::{Health, Outbox, Snapshot, sections};
use crate::report::format::{duration, escape};

const STYLE: &str = "
body { margin: 0; background: #ffffff; color: #222222;
  font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
header { background: #1f2a37; color: #f3f4f6; padding: 10px 28px; display: flex;
  align-items: baseline; gap: 18px; flex-wrap: wrap; }
header h1 { font-size: 20px; margin: 0; }
header a { color: #bfdbfe; }
main { max-width: 1280px; margin: 0 auto; padding: 8px 28px 48px; }
h2 { font-size: 18px; margin: 28px 0 6px; padding-top: 12px; border-top: 1px solid #dddddd; }
h3 { font-size: 16px; margin: 18px 0 4px; }
code { font: 12px/1.4 ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace;
  background: #f3f3f3; padding: 1px 4px; border-radius: 3px; }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e5e7eb; text-align: left; vertical-align: middle; }
th { font-weight: 600; background: #f7f7f7; }
td.num { text-align: right; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0; }
.tile { border: 1px solid #e5e7eb; border-left: 5px solid #16a34a; border-radius: 4px;
  padding: 6px 12px; min-width: 150px; }
.tile.warn { border-left-color: #d97706; }
.tile.bad { border-left-color: #dc2626; }
.tile b { display: block; font-size: 18px; }
.tile span { color: #555555; font-size: 12px; }
form { display: flex; gap: 10px; align-items: end; flex-wrap: wrap; margin: 10px 0;
  padding: 10px 12px; background: #f7f7f7; border-radius: 4px; }
form label { display: flex; flex-direction: column; font-size: 12px; color: #555555; }
input, select, button { font: inherit; padding: 3px 6px; }
.bar { display: inline-block; height: 8px; background: #d6604d; margin-right: 6px; vertical-align: middle; }
.badge { background: #dc2626; color: #ffffff; border-radius: 3px; padding: 1px 6px; font-size: 12px; }
.muted { color: #6b7280; }
.evidence { margin: 0; padding-left: 16px; font-size: 12px; }
";

/// The whole page's text.
pub fn render(snapshot: &Snapshot) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>harbinger</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    );
    header(&mut html, snapshot);
    html.push_str("<main>\n");
    health(&mut html, snapshot);
    match &snapshot.outbox {
        Some(Ok(outbox)) => sections::tickets(&mut html, outbox),
        Some(Err(error)) => {
            let _ = writeln!(
                html,
                "<h2>Tickets</h2>\n<p>Reading the outbox failed: {}</p>",
                escape(error)
            );
        }
        None => {}
    }
    match &snapshot.scoring {
        Some(scoring) => {
            filter(&mut html, snapshot);
            sections::rankings(&mut html, scoring, &snapshot.query);
            sections::recent_actions(&mut html, &scoring.recent);
        }
        None => {
            let _ = writeln!(
                html,
                "<p class=\"muted\">This process scores nothing (role <code>{}</code>): \
                 the status of predictions is on the <code>--role all</code> process.</p>",
                snapshot.role
            );
        }
    }
    if let Some(Ok(outbox)) = &snapshot.outbox {
        sections::dead_letters(&mut html, &outbox.dead_letters);
    }
    if let Some(scoring) = &snapshot.scoring {
        sections::model(&mut html, scoring.model.as_ref(), &snapshot.model_source);
    }
    html.push_str("</main>\n</body>\n</html>\n");
    html
}

fn header(html: &mut String, snapshot: &Snapshot) {
    let step = match &snapshot.scoring {
        Some(s) if s.at_ms > 0 => format!(
            "last step {} ({} ago)",
            utc(s.at_ms),
            duration((snapshot.now_ms - s.at_ms) as f64 / 1e3)
        ),
        Some(_) => "no step yet".to_owned(),
        None => String::new(),
    };
    let _ = writeln!(
        html,
        "<header><h1>harbinger</h1><span>{} · role {} · {step}</span>\
         <nav><a href=\"/metrics\">metrics</a> · <a href=\"/api/v1/predictions\">predictions JSON</a> · \
         <a href=\"/api/v1/tickets\">tickets JSON</a></nav></header>",
        env!("CARGO_PKG_VERSION"),
        snapshot.role
    );
}

/// A unix millisecond time as `2026-11-25 01:52:40 UTC`.
pub(super) fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// How a tile reads: fine, worth a look, or wrong.
#[derive(Clone, Copy)]
enum Level {
    Ok,
    Warn,
    Bad,
}

impl Level {
    /// This level when `wrong`, fine otherwise.
    fn when(self, wrong: bool) -> Level {
        if wrong { self } else { Level::Ok }
    }
}

fn tile(html: &mut String, level: Level, value: &str, what: &str) {
    let class = match level {
        Level::Ok => "tile",
        Level::Warn => "tile warn",
        Level::Bad => "tile bad",
    };
    let _ = write!(
        html,
        "<div class=\"{class}\"><b>{}</b><span>{}</span></div>",
        escape(value),
        escape(what)
    );
}

fn health(html: &mut String, snapshot: &Snapshot) {
    let Health {
        ready,
        samples_received,
        active_series,
        series_limit,
        queue_depth,
        queue_capacity,
        steps,
        evaluation_errors,
        feature_bytes,
    } = snapshot.health;
    html.push_str("<section id=\"health\" class=\"tiles\">");
    if !ready {
        tile(html, Level::Bad, "shutting down", "readiness");
    }
    if let Some(scoring) = &snapshot.scoring {
        let age = (snapshot.now_ms - scoring.at_ms) as f64 / 1e3;
        let (level, value) = match scoring.at_ms {
            0 => (Level::Warn, "no step yet".to_owned()),
            _ if age > 3.0 * scoring.step_seconds => {
                (Level::Warn, format!("{} behind", duration(age)))
            }
            _ => (Level::Ok, format!("{steps} steps")),
        };
        tile(html, level, &value, "pipeline");
    }
    tile(
        html,
        Level::Warn.when(samples_received == 0),
        &samples_received.to_string(),
        "samples received",
    );
    tile(
        html,
        Level::Warn.when(10 * active_series >= 9 * series_limit),
        &format!("{active_series} / {series_limit}"),
        "active series / limit",
    );
    if queue_capacity > 0 {
        tile(
            html,
            Level::Warn.when(2 * queue_depth > queue_capacity),
            &format!("{queue_depth} / {queue_capacity}"),
            "pipeline queue",
        );
    }
    if evaluation_errors > 0 {
        tile(
            html,
            Level::Warn,
            &evaluation_errors.to_string(),
            "evaluation errors",
        );
    }
    if feature_bytes > 0 {
        tile(
            html,
            Level::Ok,
            &format!("{:.1} MiB", feature_bytes as f64 / 1048576.0),
            "feature state",
        );
    }
    if let Some(Ok(Outbox {
        open,
        dead_letters,
        undelivered,
    })) = &snapshot.outbox
    {
        tile(html, Level::Ok, &open.len().to_string(), "open tickets");
        tile(
            html,
            Level::Warn.when(*undelivered > 100),
            &undelivered.to_string(),
            "actions not yet delivered",
        );
        let dead = Level::Bad.when(!dead_letters.is_empty());
        tile(html, dead, &dead_letters.len().to_string(), "dead letters");
    }
    html.push_str("</section>\n");
}

fn filter(html: &mut String, snapshot: &Snapshot) {
    let query = &snapshot.query;
    let mut options = String::from("<option value=\"\">all targets</option>");
    for alert in snapshot.scoring.iter().flat_map(|s| &s.alerts) {
        let selected = if *alert == query.target {
            " selected"
        } else {
            ""
        };
        let alert = escape(alert);
        let _ = write!(
            options,
            "<option value=\"{alert}\"{selected}>{alert}</option>"
        );
    }
    let _ = writeln!(
        html,
        "<form method=\"get\" action=\"/\">\
         <label>target<select name=\"target\">{options}</select></label>\
         <label>entity label value contains<input name=\"entity\" value=\"{}\" placeholder=\"app-1\"></label>\
         <label>entities per target<input name=\"limit\" type=\"number\" min=\"1\" max=\"{}\" value=\"{}\"></label>\
         <button type=\"submit\">Show</button></form>",
        escape(&query.entity),
        super::MAX_LIMIT,
        query.limit
    );
}
