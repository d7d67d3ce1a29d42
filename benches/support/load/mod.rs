//! The parts of the load bench (`benches/load.rs`): the traffic, what is read off the
//! servers, the printed tables, the Kafka broker, and the figures of the peer and of
//! the worker.

pub mod broker;
pub mod counters;
pub mod generator;
pub mod peer;
pub mod table;
pub mod worker;
