//! Prost types generated from `schemas/` at build time, and the snappy framing senders use.
//!
//! These owned types are the reference decoding (tests compare the zero-copy walk with
//! them) and the way harbinger builds requests of its own (replay, load generator).

use prost::Message;

/// Remote write 1.0, package `prometheus`.
pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/prometheus.rs"));
}

/// Remote write 2.0, package `io.prometheus.write.v2`.
pub mod v2 {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/io.prometheus.write.v2.rs"));
}

/// Encodes a message and compresses it in the snappy block format, as a sender does.
pub fn encode_snappy(message: &impl Message) -> Vec<u8> {
    snappy(&message.encode_to_vec())
}

/// Compresses raw bytes in the snappy block format.
pub fn snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .expect("snappy accepts any input below 4 GiB")
}
