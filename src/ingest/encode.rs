//! The other way round: a decoded batch's series written back as a remote-write 1.0
//! `WriteRequest`, straight from the batch's spans (no owned strings, no prost types).
//!
//! In: a `WriteBatch` and the series of it to write. Out: the protobuf bytes of a
//! `prometheus.WriteRequest` holding those series' labels and float samples, which the
//! 1.0 decoder reads back as they were. Histograms, exemplars and metadata are left out.
//! Receivers use it to publish each partition's share of a request.

use super::{SeriesEntry, WriteBatch};

const LEN: u8 = 2;
const FIXED64: u8 = 1;
const VARINT: u8 = 0;

const fn tag(field: u8, wire_type: u8) -> u8 {
    field << 3 | wire_type
}

/// The length of `value` as a protobuf varint.
pub fn varint_len(mut value: u64) -> usize {
    let mut len = 1;
    while value >= 0x80 {
        value >>= 7;
        len += 1;
    }
    len
}

/// Appends `value` as a protobuf varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A length-delimited field's size on the wire, tag included.
fn field_len(payload: usize) -> usize {
    1 + varint_len(payload as u64) + payload
}

fn label_len(name: &[u8], value: &[u8]) -> usize {
    field_len(name.len()) + field_len(value.len())
}

fn sample_len(timestamp_ms: i64) -> usize {
    1 + 8 + 1 + varint_len(timestamp_ms as u64)
}

fn series_len(batch: &WriteBatch, series: &SeriesEntry) -> usize {
    let labels: usize = batch
        .labels(series)
        .map(|(name, value)| field_len(label_len(name, value)))
        .sum();
    let samples: usize = batch
        .samples(series)
        .iter()
        .map(|s| field_len(sample_len(s.timestamp_ms)))
        .sum();
    labels + samples
}

fn put_bytes(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
    out.push(tag(field, LEN));
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends `series` of `batch` to `out` as the `timeseries` fields of a `WriteRequest`;
/// appending to a buffer that already holds such fields extends the same request. A
/// series that arrived as 1.0 is copied as it came (with its exemplars and histograms,
/// already validated); one that arrived as 2.0 is written from its labels and samples.
pub fn encode_v1_series(batch: &WriteBatch, series: &SeriesEntry, out: &mut Vec<u8>) {
    if let Some(message) = series.v1_message {
        put_bytes(out, 1, batch.bytes(message));
        return;
    }
    out.push(tag(1, LEN));
    put_varint(out, series_len(batch, series) as u64);
    for (name, value) in batch.labels(series) {
        out.push(tag(1, LEN));
        put_varint(out, label_len(name, value) as u64);
        put_bytes(out, 1, name);
        put_bytes(out, 2, value);
    }
    for sample in batch.samples(series) {
        out.push(tag(2, LEN));
        put_varint(out, sample_len(sample.timestamp_ms) as u64);
        out.push(tag(1, FIXED64));
        out.extend_from_slice(&sample.value.to_le_bytes());
        out.push(tag(2, VARINT));
        put_varint(out, sample.timestamp_ms as u64);
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::super::proto::{self, v1};
    use super::super::{DecodeLimits, Decoder, Protocol, STALE_NAN_BITS};
    use super::*;

    #[test]
    fn prost_reads_what_is_written_and_so_does_the_decoder() {
        let request = v1::WriteRequest {
            timeseries: vec![
                proto::v1_series(
                    [("__name__", "up"), ("instance", "a:9100"), ("job", "node")],
                    [(1_700_000_000_000, 1.0), (1_700_000_015_000, 0.0)],
                ),
                proto::v1_series(
                    [("__name__", "x"), ("long", &"v".repeat(300))],
                    [(-5, f64::from_bits(STALE_NAN_BITS)), (0, -1.5e300)],
                ),
            ],
            ..Default::default()
        };
        let decoder = Decoder::new(DecodeLimits::default());
        let mut batch = WriteBatch::default();
        decoder
            .decode(Protocol::V1, &proto::encode_snappy(&request), &mut batch)
            .unwrap();
        let mut out = Vec::new();
        for series in batch.series() {
            encode_v1_series(&batch, series, &mut out);
        }
        let back = v1::WriteRequest::decode(out.as_slice()).unwrap();
        assert_eq!(back.timeseries.len(), 2);
        for (was, is) in request.timeseries.iter().zip(&back.timeseries) {
            assert_eq!(was.labels, is.labels);
            let bits = |s: &[v1::Sample]| -> Vec<(i64, u64)> {
                s.iter().map(|s| (s.timestamp, s.value.to_bits())).collect()
            };
            assert_eq!(bits(&was.samples), bits(&is.samples));
        }
        let mut again = WriteBatch::default();
        decoder
            .decode(Protocol::V1, &proto::snappy(&out), &mut again)
            .unwrap();
        assert_eq!(again.sample_count(), 4);
        let hashes = |b: &WriteBatch| b.series().iter().map(|s| s.hash).collect::<Vec<_>>();
        assert_eq!(hashes(&again), hashes(&batch));
    }
}
