//! Tickets: what a prediction becomes for the operators' ticket desk.
//!
//! - [`action`]: the ticket actions (open, update, confirm, resolve) and what a ticket
//!   carries; the unit that is stored durably and delivered to every sink (see
//!   [`outbox`](crate::outbox)).

pub mod action;

pub use action::{ActionKind, Evidence, Ticket, TicketAction};
