//! Turns a [`Batch`] into a request body with the `ingest::proto` prost types.
//!
//! In: the batch, the dataset it indexes (for the labels), the protocol and the
//! timestamp shift. Out: the snappy-compressed protobuf body and the headers that name
//! its protocol. A series' samples in one batch become one `TimeSeries`, in the order
//! the series first appear, so the receiver sees each series' samples in time order.

use hashbrown::HashMap;

use super::batch::Batch;
use crate::dataset::Dataset;
use crate::ingest::Protocol;
use crate::ingest::proto::{self, v1, v2};

/// The Content-Type of each protocol, as Prometheus sends it.
pub fn content_type(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::V1 => "application/x-protobuf",
        Protocol::V2 => "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    }
}

/// The `X-Prometheus-Remote-Write-Version` header of each protocol.
pub fn version(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::V1 => "0.1.0",
        Protocol::V2 => "2.0.0",
    }
}

/// The compressed body of `batch`, every timestamp plus `shift_ms`.
pub fn encode(protocol: Protocol, dataset: &Dataset, batch: &Batch, shift_ms: i64) -> Vec<u8> {
    let groups = group_by_series(batch);
    let labels = |series: u32| dataset.series[series as usize].labels.iter();
    let timestamp = |t: i64| t + shift_ms;
    match protocol {
        Protocol::V1 => proto::encode_snappy(&v1::WriteRequest {
            timeseries: groups
                .iter()
                .map(|(series, samples)| {
                    let labels = labels(*series).map(|(n, v)| (n.as_str(), v.as_str()));
                    let samples = samples.iter().map(|&(t, value)| (timestamp(t), value));
                    proto::v1_series(labels, samples)
                })
                .collect(),
            ..Default::default()
        }),
        Protocol::V2 => {
            let mut symbols = Symbols::default();
            let timeseries = groups
                .iter()
                .map(|(series, samples)| v2::TimeSeries {
                    labels_refs: labels(*series)
                        .flat_map(|(name, value)| [symbols.get(name), symbols.get(value)])
                        .collect(),
                    samples: samples
                        .iter()
                        .map(|&(t, value)| v2::Sample {
                            value,
                            timestamp: timestamp(t),
                            start_timestamp: 0,
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect();
            proto::encode_snappy(&v2::Request {
                symbols: symbols.table,
                timeseries,
            })
        }
    }
}

/// The batch's samples as (series, [(timestamp, value)]) in first-appearance order.
fn group_by_series(batch: &Batch) -> Vec<(u32, Vec<(i64, f64)>)> {
    let mut slot: HashMap<u32, usize> = HashMap::with_capacity(batch.samples.len());
    let mut groups: Vec<(u32, Vec<(i64, f64)>)> = Vec::new();
    for &(series, sample) in &batch.samples {
        let index = *slot.entry(series).or_insert_with(|| {
            groups.push((series, Vec::with_capacity(1)));
            groups.len() - 1
        });
        groups[index].1.push((sample.timestamp_ms, sample.value));
    }
    groups
}

/// A request's symbol table: the empty string first, as the 2.0 spec requires, then
/// each distinct string once.
struct Symbols<'d> {
    table: Vec<String>,
    refs: HashMap<&'d str, u32>,
}

impl Default for Symbols<'_> {
    fn default() -> Self {
        Symbols {
            table: vec![String::new()],
            refs: HashMap::from([("", 0)]),
        }
    }
}

impl<'d> Symbols<'d> {
    fn get(&mut self, text: &'d str) -> u32 {
        *self.refs.entry(text).or_insert_with(|| {
            self.table.push(text.to_owned());
            self.table.len() as u32 - 1
        })
    }
}
