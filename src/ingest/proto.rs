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

/// A 1.0 series from its label pairs (sorted by name) and its (timestamp ms, value)
/// samples.
pub fn v1_series<'a>(
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    samples: impl IntoIterator<Item = (i64, f64)>,
) -> v1::TimeSeries {
    v1::TimeSeries {
        labels: labels
            .into_iter()
            .map(|(name, value)| v1::Label {
                name: name.to_owned(),
                value: value.to_owned(),
            })
            .collect(),
        samples: samples
            .into_iter()
            .map(|(timestamp, value)| v1::Sample { value, timestamp })
            .collect(),
        ..Default::default()
    }
}

/// One series with a single sample, as [`v1_request`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct SeriesSample<'a> {
    /// The label pairs, in the order they are sent (sorted by name in a valid request).
    pub labels: &'a [(&'a str, &'a str)],
    /// The sample's timestamp, in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The sample's value.
    pub value: f64,
}

impl<'a> SeriesSample<'a> {
    /// The series `labels` with one sample.
    pub fn new(labels: &'a [(&'a str, &'a str)], timestamp_ms: i64, value: f64) -> Self {
        SeriesSample {
            labels,
            timestamp_ms,
            value,
        }
    }
}

/// A 1.0 request with one sample per series; for tools and tests that build small
/// requests by hand.
pub fn v1_request(series: &[SeriesSample]) -> v1::WriteRequest {
    v1::WriteRequest {
        timeseries: series
            .iter()
            .map(|sample| {
                v1_series(
                    sample.labels.iter().copied(),
                    [(sample.timestamp_ms, sample.value)],
                )
            })
            .collect(),
        ..Default::default()
    }
}
