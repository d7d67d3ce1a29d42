//! The zero-copy walk, checked against prost's decoding of the same bodies.

use proptest::prelude::*;

use super::proto::{self, v1, v2};
use super::*;

/// A series as plain data: sorted labels and (timestamp, value bits) samples.
type Plain = (Vec<(String, String)>, Vec<(i64, u64)>);

fn decode(protocol: Protocol, compressed: &[u8]) -> Result<Vec<Plain>, DecodeError> {
    decode_batch(protocol, compressed).map(|batch| plain(&batch))
}

fn decode_batch(protocol: Protocol, compressed: &[u8]) -> Result<WriteBatch, DecodeError> {
    let mut batch = WriteBatch::default();
    Decoder::new(DecodeLimits::default()).decode(protocol, compressed, &mut batch)?;
    Ok(batch)
}

/// How a 2.0 request's first refused series reads: `series N: problem`.
fn first_refused(batch: &WriteBatch) -> String {
    let (series, problem) = batch.rejected.first.as_ref().expect("a refused series");
    format!("series {series}: {problem}")
}

fn plain(batch: &WriteBatch) -> Vec<Plain> {
    batch
        .series()
        .iter()
        .map(|series| {
            let labels = batch
                .labels(series)
                .map(|(n, v)| {
                    let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
                    (text(n), text(v))
                })
                .collect();
            let samples = batch
                .samples(series)
                .iter()
                .map(|s| (s.timestamp_ms, s.value.to_bits()))
                .collect();
            (labels, samples)
        })
        .collect()
}

fn v1_request(series: &[Plain]) -> v1::WriteRequest {
    v1::WriteRequest {
        timeseries: series
            .iter()
            .map(|(labels, samples)| {
                let labels = labels.iter().map(|(n, v)| (n.as_str(), v.as_str()));
                let samples = samples.iter().map(|&(t, bits)| (t, f64::from_bits(bits)));
                super::proto::v1_series(labels, samples)
            })
            .collect(),
        ..Default::default()
    }
}

fn v2_request(series: &[Plain]) -> v2::Request {
    let mut symbols = vec![String::new()];
    let mut symbol = |text: &str| match symbols.iter().position(|s| s == text) {
        Some(index) => index as u32,
        None => {
            symbols.push(text.to_owned());
            (symbols.len() - 1) as u32
        }
    };
    let timeseries = series
        .iter()
        .map(|(labels, samples)| v2::TimeSeries {
            labels_refs: labels
                .iter()
                .flat_map(|(name, value)| [symbol(name), symbol(value)])
                .collect(),
            samples: samples
                .iter()
                .map(|&(timestamp, bits)| v2::Sample {
                    value: f64::from_bits(bits),
                    timestamp,
                    start_timestamp: 0,
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    v2::Request {
        symbols,
        timeseries,
    }
}

/// Series with a metric name (2.0 refuses a series without one) and other labels.
fn series_strategy() -> impl Strategy<Value = Vec<Plain>> {
    let others = prop::collection::btree_map("[a-z_][a-z0-9_]{0,12}", "\\PC{0,16}", 0..7);
    let labels = ("[a-z_:][a-z0-9_:]{0,12}", others).prop_map(|(name, mut map)| {
        map.insert("__name__".to_owned(), name);
        map.into_iter().collect::<Vec<_>>()
    });
    let samples = prop::collection::vec((any::<i64>(), any::<u64>()), 0..4);
    prop::collection::vec((labels, samples), 0..20)
}

proptest! {
    #[test]
    fn v1_walk_equals_the_encoded_series(series in series_strategy()) {
        let body = proto::encode_snappy(&v1_request(&series));
        prop_assert_eq!(decode(Protocol::V1, &body).unwrap(), series);
    }

    #[test]
    fn v2_walk_equals_the_encoded_series(series in series_strategy()) {
        let body = proto::encode_snappy(&v2_request(&series));
        prop_assert_eq!(decode(Protocol::V2, &body).unwrap(), series);
    }

    #[test]
    fn v1_and_v2_hash_a_label_set_alike(series in series_strategy()) {
        let hashes = |protocol, body: &[u8]| {
            let mut batch = WriteBatch::default();
            Decoder::new(DecodeLimits::default()).decode(protocol, body, &mut batch).unwrap();
            batch.series().iter().map(|s| s.hash).collect::<Vec<_>>()
        };
        let one = hashes(Protocol::V1, &proto::encode_snappy(&v1_request(&series)));
        let two = hashes(Protocol::V2, &proto::encode_snappy(&v2_request(&series)));
        prop_assert_eq!(one, two);
    }

    #[test]
    fn series_re_encoded_as_1_0_read_back_as_they_came(series in series_strategy()) {
        // 1.0 series are copied whole, 2.0 series re-encoded: both must read back.
        let bodies = [
            (Protocol::V1, proto::encode_snappy(&v1_request(&series))),
            (Protocol::V2, proto::encode_snappy(&v2_request(&series))),
        ];
        for (protocol, body) in bodies {
            let mut batch = WriteBatch::default();
            Decoder::new(DecodeLimits::default()).decode(protocol, &body, &mut batch).unwrap();
            let mut out = Vec::new();
            for entry in batch.series() {
                encode_v1_series(&batch, entry, &mut out);
            }
            prop_assert_eq!(decode(Protocol::V1, &proto::snappy(&out)).unwrap(), series.clone());
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic(raw in prop::collection::vec(any::<u8>(), 0..512)) {
        let body = proto::snappy(&raw);
        let _ = decode(Protocol::V1, &body);
        let _ = decode(Protocol::V2, &body);
        let _ = decode(Protocol::V1, &raw);
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn stale_marker_is_recognised_by_its_exact_bits() {
    assert!(is_stale_marker(f64::from_bits(STALE_NAN_BITS)));
    assert!(!is_stale_marker(f64::NAN));
    let series = vec![(
        labels(&[("__name__", "up")]),
        vec![(1, STALE_NAN_BITS), (2, f64::NAN.to_bits())],
    )];
    let decoded = decode(Protocol::V1, &proto::encode_snappy(&v1_request(&series))).unwrap();
    // Both NaNs survive bit for bit: the stale marker is not folded into an ordinary NaN.
    assert_eq!(decoded, series);
}

#[test]
fn decoded_size_is_checked_before_allocating() {
    // A snappy header claiming ~4 GiB, with no data behind it.
    let body = [0xff, 0xff, 0xff, 0xff, 0x0f];
    let error = decode(Protocol::V1, &body).unwrap_err();
    assert!(
        matches!(error, DecodeError::DecodedTooLarge { decoded, .. } if decoded > 1 << 31),
        "{error}"
    );
}

#[test]
fn errors_name_the_series_and_the_label() {
    let good = (labels(&[("__name__", "up")]), vec![(1, 0)]);
    let unsorted = (labels(&[("job", "a"), ("__name__", "up")]), vec![(1, 0)]);
    let series = [good.clone(), unsorted];
    let expected =
        "series 1: label \"__name__\": labels not sorted by name (\"__name__\" after \"job\")";
    // Both protocols refuse the series and keep the other, as Prometheus does.
    let v1 = decode_batch(Protocol::V1, &proto::encode_snappy(&v1_request(&series))).unwrap();
    let v2 = decode_batch(Protocol::V2, &proto::encode_snappy(&v2_request(&series))).unwrap();
    for batch in [v1, v2] {
        assert_eq!(first_refused(&batch), expected);
        assert_eq!(plain(&batch), vec![good.clone()]);
        assert_eq!((batch.rejected.series, batch.rejected.samples), (1, 1));
    }
}

#[test]
fn a_v2_series_without_a_metric_name_is_refused() {
    let series = [(labels(&[("job", "a")]), vec![(1, 0), (2, 0)])];
    let batch = decode_batch(Protocol::V2, &proto::encode_snappy(&v2_request(&series))).unwrap();
    assert_eq!(first_refused(&batch), "series 0: no __name__ label");
    assert_eq!(batch.sample_count(), 0);
    assert_eq!((batch.rejected.series, batch.rejected.samples), (1, 2));
    // 1.0 has no such rule, as Prometheus's own receiver.
    let v1 = decode(Protocol::V1, &proto::encode_snappy(&v1_request(&series))).unwrap();
    assert_eq!(v1.len(), 1);
}

#[test]
fn v2_symbol_refs_are_checked() {
    let mut request = v2_request(&[(labels(&[("__name__", "up")]), vec![(1, 0)])]);
    let refused = |request: &v2::Request| {
        let batch = decode_batch(Protocol::V2, &proto::encode_snappy(request)).unwrap();
        assert!(batch.series().is_empty());
        first_refused(&batch)
    };
    request.timeseries[0].labels_refs.push(99);
    assert_eq!(
        refused(&request),
        "series 0: odd number of label refs (3); refs come in name/value pairs"
    );
    request.timeseries[0].labels_refs.push(1);
    assert_eq!(
        refused(&request),
        "series 0: symbol ref 99 is out of range of the 3 symbols"
    );
    request.timeseries[0].labels_refs.truncate(2);
    request.timeseries[0].metadata = Some(v2::Metadata {
        r#type: v2::metadata::MetricType::Counter as i32,
        help_ref: 7,
        unit_ref: 0,
    });
    assert_eq!(
        refused(&request),
        "series 0: symbol ref 7 is out of range of the 3 symbols"
    );
}

#[test]
fn v2_metadata_and_start_timestamps_are_kept() {
    let mut request = v2_request(&[(labels(&[("__name__", "c_total")]), vec![(5, 0)])]);
    request.timeseries[0].metadata = Some(v2::Metadata {
        r#type: v2::metadata::MetricType::Counter as i32,
        help_ref: 0,
        unit_ref: 0,
    });
    request.timeseries[0].samples[0].start_timestamp = 3;
    let mut batch = WriteBatch::default();
    Decoder::new(DecodeLimits::default())
        .decode(Protocol::V2, &proto::encode_snappy(&request), &mut batch)
        .unwrap();
    assert_eq!(batch.series()[0].metric_type, MetricType::Counter);
    assert_eq!(batch.series()[0].start_timestamp_ms, 3);
    assert_eq!(batch.metadata, 1);
}

#[test]
fn histograms_and_exemplars_are_counted_not_kept_as_samples() {
    let mut request = v1_request(&[(labels(&[("__name__", "h")]), vec![(1, 0)])]);
    request.timeseries[0].histograms = vec![v1::Histogram {
        count: Some(v1::histogram::Count::CountInt(3)),
        sum: 1.5,
        positive_spans: vec![v1::BucketSpan {
            offset: -1,
            length: 2,
        }],
        positive_deltas: vec![1, 1],
        timestamp: 1,
        ..Default::default()
    }];
    request.timeseries[0].exemplars = vec![v1::Exemplar {
        labels: vec![v1::Label {
            name: "trace_id".into(),
            value: "abc".into(),
        }],
        value: 1.0,
        timestamp: 1,
    }];
    let mut batch = WriteBatch::default();
    Decoder::new(DecodeLimits::default())
        .decode(Protocol::V1, &proto::encode_snappy(&request), &mut batch)
        .unwrap();
    assert_eq!((batch.histograms, batch.exemplars), (1, 1));
    assert_eq!(batch.sample_count(), 1);
}

#[test]
fn malformed_bodies_are_refused_with_the_reason() {
    let garbage = decode(Protocol::V1, b"not snappy at all").unwrap_err();
    assert_eq!(garbage.reason(), "snappy");
    // Field 1 declared as a 100-byte message with 1 byte behind it.
    let truncated = decode(Protocol::V1, &proto::snappy(&[0x0a, 100, 0])).unwrap_err();
    assert_eq!(truncated.reason(), "protobuf");
    assert!(truncated.to_string().contains("truncated"), "{truncated}");
}

/// Every input the fuzzer kept (`fuzz/corpus/decode`, minimised, and the seeds) replays
/// in the ordinary test run: nothing panics, a failed decode leaves the batch empty, and
/// whatever prost refuses is refused, whole or in part: prost refuses a whole request for
/// one label that is not UTF-8, where harbinger (as Prometheus) refuses only its series
/// (the fuzz target's full differential needs cargo-fuzz; this keeps its findings as
/// regression tests).
#[test]
fn the_fuzz_corpus_replays() {
    use prost::Message;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut inputs = 0;
    for dir in ["corpus/decode", "seeds/decode"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let raw = std::fs::read(entry.unwrap().path()).unwrap();
            inputs += 1;
            let wrapped = proto::snappy(&raw);
            for (protocol, prost_ok) in [
                (Protocol::V1, v1::WriteRequest::decode(&raw[..]).is_ok()),
                (Protocol::V2, v2::Request::decode(&raw[..]).is_ok()),
            ] {
                let mut batch = WriteBatch::default();
                let decoder = Decoder::new(DecodeLimits::default());
                let ours = decoder.decode(protocol, &wrapped, &mut batch);
                if ours.is_err() {
                    assert!(batch.series().is_empty() && batch.sample_count() == 0);
                }
                let refused = ours.is_err() || !batch.rejected.is_empty();
                assert!(prost_ok || refused, "{protocol:?}: prost refuses it");
                let small = Decoder::new(DecodeLimits {
                    max_decoded_bytes: 1 << 20,
                    ..DecodeLimits::default()
                });
                let _ = small.decode(protocol, &raw, &mut batch);
            }
        }
    }
    assert!(inputs > 100, "{inputs} inputs: is the corpus committed?");
}
