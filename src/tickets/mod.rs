//! Tickets: what a prediction becomes for the operators' ticket desk.
//!
//! - [`action`]: the ticket actions (open, update, confirm, resolve) and what a ticket
//!   carries; the unit that is stored durably and delivered to every sink (see
//!   [`outbox`](crate::outbox));
//! - [`open`]: what a restart needs to carry an open ticket on;
//! - [`TicketMessage`]: what the scoring side hands the ticket recorder.

pub mod action;
pub mod open;

use std::time::Instant;

pub use action::{ActionKind, Evidence, Ticket, TicketAction};
pub use open::OpenTicket;

/// What the scoring side hands the ticket recorder, in the order it happened.
#[derive(Debug)]
pub enum TicketMessage {
    /// An action decided here, with the time its step's processing began.
    Decided(TicketAction, Instant),
    /// An action the previous owner of its entity took, replayed while a Kafka
    /// partition warms up: not delivered again, but carried on.
    Adopted(TicketAction),
    /// The fingerprints of open tickets whose entities another process scores from now
    /// on (a Kafka partition that moved).
    Disowned(Vec<String>),
}
