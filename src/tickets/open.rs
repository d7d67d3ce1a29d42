//! An open ticket, as a restart needs it: the ticket as it last stood, how many actions
//! it has had, when the last one was, and whether its rule fired while it was open.
//!
//! In: a ticket's actions, in order. Out: the open ticket after each, or None once it is
//! resolved. The outbox stores it in the same transaction as the action, so that after
//! a crash (`kill -9` included) `serve` carries on every ticket it had open: it is
//! updated, confirmed and resolved once, and never opened twice.

use serde::{Deserialize, Serialize};

use super::{ActionKind, Ticket, TicketAction};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenTicket {
    pub ticket: Ticket,
    /// Actions taken on it so far (the last part of the next idempotency key is this + 1).
    pub actions: u64,
    pub last_action_ms: i64,
    /// The rule fired while it was open (a `confirm` was sent).
    pub confirmed: bool,
}

impl OpenTicket {
    /// The ticket just opened by `action` (an `open`).
    pub fn opened(action: &TicketAction) -> OpenTicket {
        OpenTicket {
            ticket: action.ticket.clone(),
            actions: 1,
            last_action_ms: action.at_ms,
            confirmed: false,
        }
    }

    /// The open ticket after `action`, given what it was before (None: not open); None
    /// once resolved. An update or confirm of a ticket not known to be open (its `open`
    /// was silenced and never recorded) leaves it unknown.
    pub fn after(before: Option<OpenTicket>, action: &TicketAction) -> Option<OpenTicket> {
        match action.kind {
            ActionKind::Open => Some(OpenTicket::opened(action)),
            ActionKind::Resolve { .. } => None,
            ActionKind::Update | ActionKind::Confirm => before.map(|open| OpenTicket {
                ticket: action.ticket.clone(),
                actions: open.actions + 1,
                last_action_ms: action.at_ms,
                confirmed: open.confirmed || action.kind == ActionKind::Confirm,
            }),
        }
    }
}
