//! The Markdown summary: a [`Report`] in, the text of `report.md` out.
//!
//! Per target: the rule, a table with one row per method, the verdict line, the
//! calibration line and the policy front's table.

use std::fmt::Write;

use super::format::duration;
use super::methods::{
    COLUMNS, FRONT_CAPTION, Method, calibration, front, judging, methods, verdict,
};
use super::{Report, TargetReport};

pub(super) fn render(report: &Report) -> String {
    let mut md = format!("# {}\n\n", report.title);
    let _ = writeln!(md, "{}\n", judging());
    for note in &report.notes {
        let _ = writeln!(md, "- {note}");
    }
    if !report.notes.is_empty() {
        md.push('\n');
    }
    for target in &report.targets {
        render_target(&mut md, target);
    }
    md
}

fn render_target(md: &mut String, target: &TargetReport) {
    let _ = writeln!(md, "## {}\n", target.alert);
    let _ = writeln!(
        md,
        "Rule {}; horizon {}; scored by {}; {} entities, {:.2} entity-days.\n",
        code(&target.rule),
        duration(target.horizon_seconds),
        target.scored_by,
        target.entities,
        target.entity_days
    );
    table(md, "method", &methods(target));
    let _ = writeln!(md, "\n{}\n", verdict(target));
    let _ = writeln!(md, "{}\n", calibration(target));
    let points = front(target);
    if !points.is_empty() {
        let _ = writeln!(md, "{FRONT_CAPTION}\n");
        table(md, "policy", &points);
        md.push('\n');
    }
}

/// The figures table: a header (its first column named `first`), a row per method.
fn table(md: &mut String, first: &str, rows: &[Method]) {
    let _ = writeln!(md, "| {first} | {} |", COLUMNS[1..].join(" | "));
    let _ = writeln!(md, "|---{}|", "|--:".repeat(COLUMNS.len() - 1));
    for method in rows {
        let _ = writeln!(md, "| {} |", method.cells().join(" | "));
    }
}

/// `text` as an inline code span, fenced with more backticks than it contains in a row.
fn code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if longest > 0 { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::code;

    #[test]
    fn code_spans_survive_backticks_in_the_rule() {
        assert_eq!(code("x < 10"), "`x < 10`");
        assert_eq!(code("a `b` c"), "`` a `b` c ``");
    }
}
