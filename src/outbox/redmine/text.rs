//! What a ticket says in Redmine: the subject and description for an open, a
//! journal note for the other actions; each ends with a marker line that makes a
//! repeated delivery findable (`harbinger ticket <fingerprint>-<sequence>` in the
//! description, `harbinger action <idempotency key>` in a note).

use std::fmt::Write;

use crate::model::Outcome;
use crate::report::format::duration;
use crate::tickets::{ActionKind, Ticket, TicketAction};

/// Redmine's limit on an issue's subject.
const SUBJECT_CHARS: usize = 255;

/// The line that names the ticket in its issue's description.
pub fn ticket_marker(ticket: &Ticket) -> String {
    format!(
        "harbinger ticket {}-{}",
        ticket.fingerprint, ticket.sequence
    )
}

/// The line that names the action in its journal note.
pub fn action_marker(action: &TicketAction) -> String {
    format!("harbinger action {}", action.idempotency_key)
}

pub fn subject(ticket: &Ticket) -> String {
    ticket.title.chars().take(SUBJECT_CHARS).collect()
}

fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// The estimate's lines: probability, ETA, value and trend, as far as known.
fn estimate(ticket: &Ticket) -> String {
    let mut text = String::new();
    if let Some(p) = ticket.probability {
        let _ = writeln!(
            text,
            "* Probability that it fires within {}: {p:.2}",
            duration(ticket.horizon_seconds)
        );
    }
    if let Some(eta) = ticket.eta_seconds {
        let error = ticket
            .eta_stderr_seconds
            .map_or(String::new(), |e| format!(" ± {}", duration(e)));
        let _ = writeln!(
            text,
            "* Threshold crossed in about {}{error}",
            duration(eta)
        );
    }
    if let Some(value) = ticket.value {
        let trend = ticket.trend_per_second.map_or(String::new(), |t| {
            format!(", moving {:+.4} per minute", t * 60.0)
        });
        let _ = writeln!(text, "* Now at {value:.4}{trend}");
    }
    text
}

/// The description: what is predicted, on what, why, and where to look.
pub fn description(ticket: &Ticket) -> String {
    let mut text = format!("{}\n\n", ticket.title);
    let _ = writeln!(text, "* Rule: @{}@", ticket.rule);
    let entity: Vec<String> = ticket
        .entity
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(text, "* Entity: {}", entity.join(", "));
    text.push_str(&estimate(ticket));
    let _ = writeln!(text, "* Predicted at {}", utc(ticket.opened_at_ms));
    if let Some(url) = &ticket.graph_url {
        let _ = writeln!(text, "* Graph: {url}");
    }
    if !ticket.evidence.is_empty() {
        text.push_str("\nEvidence (the model's inputs that weighed most):\n");
        for e in &ticket.evidence {
            let _ = writeln!(
                text,
                "* {} = {:.4} (effect {:+.2})",
                e.input, e.value, e.effect
            );
        }
    }
    for (name, value) in &ticket.annotations {
        let _ = write!(text, "\n{name}: {value}\n");
    }
    let _ = write!(text, "\n{}", ticket_marker(ticket));
    text
}

/// The journal note of an update, a confirm or a resolve.
pub fn note(action: &TicketAction) -> String {
    let ticket = &action.ticket;
    let head = match &action.kind {
        ActionKind::Open | ActionKind::Update => format!(
            "Estimate updated at {}:\n\n{}",
            utc(action.at_ms),
            estimate(ticket)
        ),
        ActionKind::Confirm => format!(
            "{} is firing on this entity since {}, as predicted.\n",
            ticket.target,
            utc(action.at_ms)
        ),
        ActionKind::Resolve {
            outcome: Outcome::Materialised,
        } => format!(
            "Resolved at {}: {} fired and has ended.\n",
            utc(action.at_ms),
            ticket.target
        ),
        ActionKind::Resolve {
            outcome: Outcome::Averted,
        } => format!(
            "Resolved at {}: the risk went away and {} did not fire.\n",
            utc(action.at_ms),
            ticket.target
        ),
    };
    format!("{head}\n{}", action_marker(action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_and_notes_carry_their_markers_last() {
        let action = crate::outbox::example_action();
        let description = description(&action.ticket);
        assert!(description.starts_with(&action.ticket.title));
        assert!(description.contains("* Rule: @node_filesystem_avail_bytes"));
        assert!(description.contains("Threshold crossed in about 40m ± 5m"));
        assert!(description.ends_with("harbinger ticket 3f2a9c0d1e7b6a54-1"));
        let note = note(&action);
        assert!(note.contains("the risk went away"), "{note}");
        assert!(note.ends_with(&format!("harbinger action {}", action.idempotency_key)));
    }
}
