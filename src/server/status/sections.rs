//! The page's sections, each from one part of the snapshot: the rankings per target,
//! the open tickets, the recent ticket actions, the dead letters, the model card.

use std::fmt::Write;

use super::page::utc;
use super::{Outbox, PageQuery, Scoring, TargetRanking, sparkline};
use crate::evaluation::Figures;
use crate::model::Outcome;
use crate::outbox::DeadLetter;
use crate::predictions::card::ModelCard;
use crate::report::format::{MISSING, duration, escape, fraction, optional};
use crate::tickets::{ActionKind, OpenTicket, TicketAction};

/// A value as people read it: three significant digits, whole numbers from 1000 up.
fn number(value: f64) -> String {
    match value.abs() {
        v if !v.is_finite() => MISSING.to_owned(),
        v if v >= 1000.0 || v == 0.0 => format!("{value:.0}"),
        v => {
            let decimals = (2 - v.log10().floor() as i32).clamp(0, 6) as usize;
            format!("{value:.decimals$}")
        }
    }
}

fn eta(eta: Option<f64>, stderr: Option<f64>) -> String {
    match (eta, stderr) {
        (Some(eta), Some(stderr)) => format!("{} ± {}", duration(eta), duration(stderr)),
        (Some(eta), None) => duration(eta),
        _ => MISSING.to_owned(),
    }
}

pub fn rankings(html: &mut String, scoring: &Scoring, query: &PageQuery) {
    html.push_str("<section id=\"predictions\">\n");
    if scoring.targets.is_empty() {
        html.push_str("<h2>Predictions</h2>\n<p class=\"muted\">No target matches.</p>\n");
    }
    for target in &scoring.targets {
        ranking(html, target, scoring.at_ms, query);
    }
    html.push_str("</section>\n");
}

fn ranking(html: &mut String, target: &TargetRanking, at_ms: i64, query: &PageQuery) {
    let rule = &target.rule;
    let alert = escape(&rule.alert);
    let _ = writeln!(
        html,
        "<h2 id=\"target-{alert}\">{alert}</h2>\n<p><code>{}</code> for {}, predicted {} ahead; \
         the sparklines show the last {} and the forecast.</p>",
        escape(&rule.condition),
        duration(rule.hold.as_secs_f64()),
        duration(rule.horizon.as_secs_f64()),
        duration(rule.window.as_secs_f64())
    );
    if target.shown.is_empty() {
        let why = if query.entity.is_empty() {
            "No entity scored yet."
        } else {
            "No entity matches."
        };
        let _ = writeln!(html, "<p class=\"muted\">{why}</p>");
        return;
    }
    html.push_str(
        "<table class=\"ranking\">\n<thead><tr><th>#</th><th>entity</th><th>probability</th>\
         <th>ETA</th><th>value</th><th>signal and forecast</th><th>ticket</th></tr></thead>\n<tbody>\n",
    );
    for (rank, p) in target.shown.iter().enumerate() {
        let entity = escape(&p.entity.to_string());
        let probability = p.probability.map_or_else(
            || format!("<span class=\"muted\">{MISSING}</span>"),
            |v| {
                format!(
                    "<span class=\"bar\" style=\"width:{:.0}px\"></span>{v:.2}",
                    60.0 * v
                )
            },
        );
        let badge = if p.ticket_open {
            "<span class=\"badge\">open</span>"
        } else {
            ""
        };
        let _ = writeln!(
            html,
            "<tr class=\"entity\" data-target=\"{alert}\" data-entity=\"{entity}\"><td class=\"num\">{}</td>\
             <td><code>{entity}</code></td><td class=\"num\">{probability}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td><td>{badge}</td></tr>",
            rank + 1,
            eta(p.eta_seconds, p.eta_stderr_seconds),
            optional(p.value, number),
            sparkline::render(p, rule, at_ms)
        );
    }
    html.push_str("</tbody>\n</table>\n");
    if target.matched > target.shown.len() {
        let _ = writeln!(
            html,
            "<p class=\"muted\">The {} riskiest of {} entities; search by label value or raise the \
             number per target to see others.</p>",
            target.shown.len(),
            target.matched
        );
    }
}

pub fn tickets(html: &mut String, outbox: &Outbox) {
    let _ = writeln!(
        html,
        "<section id=\"tickets\">\n<h2>Open tickets ({})</h2>",
        outbox.open.len()
    );
    if outbox.open.is_empty() {
        html.push_str("<p class=\"muted\">None.</p>\n</section>\n");
        return;
    }
    html.push_str(
        "<table>\n<thead><tr><th>ticket</th><th>opened</th><th>probability</th><th>ETA</th>\
         <th>evidence</th><th>state</th></tr></thead>\n<tbody>\n",
    );
    let mut open: Vec<&OpenTicket> = outbox.open.iter().collect();
    open.sort_by_key(|o| std::cmp::Reverse(o.ticket.opened_at_ms));
    for OpenTicket {
        ticket,
        actions,
        confirmed,
        ..
    } in open
    {
        let title = match &ticket.graph_url {
            Some(url) => format!("<a href=\"{}\">{}</a>", escape(url), escape(&ticket.title)),
            None => escape(&ticket.title),
        };
        let mut evidence = String::from("<ul class=\"evidence\">");
        for e in &ticket.evidence {
            let _ = write!(
                evidence,
                "<li><code>{}</code> = {} (effect {:+.2})</li>",
                escape(&e.input),
                number(e.value),
                e.effect
            );
        }
        evidence.push_str("</ul>");
        let state = if *confirmed {
            "rule fired"
        } else {
            "predicted"
        };
        let _ = writeln!(
            html,
            "<tr class=\"ticket\" data-fingerprint=\"{}\"><td>{title}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{evidence}</td><td>{state}, {actions} action{}</td></tr>",
            escape(&ticket.fingerprint),
            utc(ticket.opened_at_ms),
            optional(ticket.probability, fraction),
            eta(ticket.eta_seconds, ticket.eta_stderr_seconds),
            if *actions == 1 { "" } else { "s" }
        );
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
}

fn action_name(kind: &ActionKind) -> String {
    match kind {
        ActionKind::Resolve {
            outcome: Outcome::Averted,
        } => "resolve (averted)".to_owned(),
        ActionKind::Resolve {
            outcome: Outcome::Materialised,
        } => "resolve (materialised)".to_owned(),
        other => other.name().to_owned(),
    }
}

pub fn recent_actions(html: &mut String, recent: &[TicketAction]) {
    html.push_str("<section id=\"actions\">\n<h2>Recent ticket actions</h2>\n");
    if recent.is_empty() {
        html.push_str("<p class=\"muted\">None since the start.</p>\n</section>\n");
        return;
    }
    html.push_str(
        "<table>\n<thead><tr><th>at</th><th>action</th><th>ticket</th></tr></thead>\n<tbody>\n",
    );
    for action in recent {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            utc(action.at_ms),
            action_name(&action.kind),
            escape(&action.ticket.title)
        );
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
}

pub fn dead_letters(html: &mut String, letters: &[DeadLetter]) {
    let _ = writeln!(
        html,
        "<section id=\"dead-letters\">\n<h2>Dead letters ({})</h2>",
        letters.len()
    );
    if letters.is_empty() {
        html.push_str(
            "<p class=\"muted\">None: every sink took every action it was given.</p>\n</section>\n",
        );
        return;
    }
    html.push_str(
        "<table>\n<thead><tr><th>sink</th><th>action</th><th>ticket</th><th>reason</th></tr></thead>\n<tbody>\n",
    );
    for letter in letters {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&letter.sink),
            action_name(&letter.action.kind),
            escape(&letter.action.ticket.title),
            escape(&letter.reason)
        );
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
}

/// `caught/onsets`, precision, median lead, tickets on quiet entities.
fn figures(f: &Figures) -> [String; 4] {
    [
        format!("{}/{}", f.caught, f.onsets),
        optional(f.precision, fraction),
        optional(f.lead_median_seconds, duration),
        f.quiet_entity_tickets.to_string(),
    ]
}

pub fn model(html: &mut String, card: Option<&ModelCard>, source: &str) {
    let _ = write!(
        html,
        "<section id=\"model\">\n<h2>Model</h2>\n<p>Scoring with {}",
        escape(source)
    );
    let Some(card) = card else {
        html.push_str(".</p>\n</section>\n");
        return;
    };
    if let Some(by) = &card.written_by {
        let _ = write!(html, ", written by {}", escape(by));
    }
    html.push_str(".</p>\n");
    if let Some(data) = &card.data {
        let files: Vec<String> = data
            .files
            .iter()
            .map(|f| format!("<code>{}</code>", escape(f)))
            .collect();
        let _ = writeln!(
            html,
            "<p>Trained on {} ({} series, {} samples, {} to {}).</p>",
            files.join(", "),
            data.series,
            data.samples,
            utc((data.start_unix * 1e3) as i64),
            utc((data.end_unix * 1e3) as i64)
        );
    }
    html.push_str(
        "<table>\n<thead><tr><th rowspan=\"2\">target</th><th rowspan=\"2\">scored by</th>\
         <th rowspan=\"2\">horizon</th><th rowspan=\"2\">trained on</th>\
         <th colspan=\"4\">held out: harbinger | predict_linear</th></tr>\
         <tr><th>caught</th><th>precision</th><th>median lead</th><th>tickets on quiet entities</th></tr>\
         </thead>\n<tbody>\n",
    );
    for target in &card.targets {
        let trained_on = if target.trained {
            format!(
                "{} entities, {} onsets",
                target.training.entities, target.training.onsets
            )
        } else {
            "not trained: default policy".to_owned()
        };
        let mut scored_by = format!("{}; opens at {}", target.method, target.policy);
        if let Some(picked) = &target.budget {
            let (budget, per_day) = (picked.budget, picked.figures.false_tickets_per_entity_day);
            let _ = if picked.within {
                write!(
                    scored_by,
                    " (a false-ticket budget of {budget} picked it: {per_day:.2} false tickets per entity-day held out)"
                )
            } else {
                write!(
                    scored_by,
                    " (none stays within a false-ticket budget of {budget}; the quietest: {per_day:.2} false tickets per entity-day held out)"
                )
            };
        }
        let held_out: Vec<String> = match &target.evaluation {
            Some(e) => figures(target.budget.as_ref().map_or(&e.harbinger, |p| &p.figures))
                .into_iter()
                .zip(figures(&e.predict_linear))
                .map(|(h, p)| format!("<td class=\"num\">{h} | {p}</td>"))
                .collect(),
            None => vec![format!(
                "<td colspan=\"4\" class=\"muted\">nothing held out</td>"
            )],
        };
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{trained_on}</td>{}</tr>",
            escape(&target.alert),
            escape(&scored_by),
            duration(target.horizon.as_secs_f64()),
            held_out.concat()
        );
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With a false-ticket budget, the card says how the target opens tickets, that the
    /// budget picked it, and shows the picked policy's held-out figures, not the trained
    /// policy's.
    #[test]
    fn the_model_card_shows_the_policy_a_budget_picked() {
        let mut default = crate::model::Model::embedded_default();
        let trained = ModelCard::of(Some(&default), &default.targets);
        let budgets = crate::model::Budgets::from([("HostOutOfDiskSpace".to_owned(), 5.0)]);
        default.spend(&budgets);
        let picked = ModelCard::of(Some(&default), &default.targets);
        let disk = |card: &ModelCard| {
            let mut html = String::new();
            model(&mut html, Some(card), "the built-in default model");
            let row = html
                .lines()
                .find(|l| l.contains("<td>HostOutOfDiskSpace</td>"));
            row.unwrap().to_owned()
        };
        let (before, after) = (disk(&trained), disk(&picked));
        assert!(
            before
                .contains("first-passage probability over 5m; opens at p ≥ 0.1, for 16 steps</td>"),
            "{before}"
        );
        assert!(!before.contains("budget"), "{before}");
        let disk_model = default.target("HostOutOfDiskSpace").unwrap();
        let figures = disk_model.budget.clone().unwrap().figures;
        assert!(figures.false_tickets_per_entity_day <= 5.0);
        let per_day = figures.false_tickets_per_entity_day;
        let said = format!(
            "(a false-ticket budget of 5 picked it: {per_day:.2} false tickets per entity-day held out)"
        );
        assert!(after.contains(&said), "{after}");
        let caught = format!("{}/{} |", figures.caught, figures.onsets);
        assert!(after.contains(&caught), "{after}");
        assert_ne!(before, after);
    }

    #[test]
    fn numbers_keep_three_significant_digits() {
        let cases = [
            (14.23456, "14.2"),
            (0.012345, "0.0123"),
            (3.0, "3.00"),
            (123456.7, "123457"),
            (0.0, "0"),
            (-2.5, "-2.50"),
            (f64::NAN, MISSING),
        ];
        for (value, text) in cases {
            assert_eq!(number(value), text, "{value}");
        }
    }
}
