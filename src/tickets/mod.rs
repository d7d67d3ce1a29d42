//! Tickets: what a prediction becomes for the operators' ticket desk.
//!
//! - [`action`]: the ticket actions (open, update, confirm, resolve) and what a ticket
//!   carries; the unit that is stored durably and delivered to every sink.
//! - [`journal`]: the built-in sink, JSON lines in the data directory.

pub mod action;
pub mod journal;

pub use action::{ActionKind, Ticket, TicketAction};
