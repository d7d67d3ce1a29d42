//! Tickets: what a prediction becomes for the operators' ticket desk.
//!
//! - [`action`]: the ticket actions (open, update, confirm, resolve) and what a ticket
//!   carries; the unit that is stored durably and delivered to every sink (see
//!   [`outbox`](crate::outbox));
//! - [`open`]: what a restart needs to carry an open ticket on.

pub mod action;
pub mod open;

pub use action::{ActionKind, Evidence, Ticket, TicketAction};
pub use open::OpenTicket;
