//! Writes the seed corpus of the `decode` fuzz target to `fuzz/seeds/decode/`.
//!
//! Each seed is an uncompressed protobuf body (the fuzz target compresses it itself):
//! valid remote-write 1.0 and 2.0 requests covering every message type the walk reads,
//! plus a few hand-encoded shapes prost never produces but accepts (unpacked refs, unknown
//! and reserved fields, symbols after the series). Every seed must decode with both
//! harbinger and prost. Run with `cargo run --bin make_seeds` from `fuzz/`.

use std::path::PathBuf;

use harbinger::ingest::proto::{self, v1, v2};
use harbinger::ingest::{DecodeLimits, Decoder, Protocol, WriteBatch};
use prost::Message;

const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

fn label(name: &str, value: &str) -> v1::Label {
    v1::Label {
        name: name.into(),
        value: value.into(),
    }
}

fn v1_basic() -> Vec<u8> {
    v1::WriteRequest {
        timeseries: vec![
            v1::TimeSeries {
                labels: vec![
                    label("__name__", "up"),
                    label("instance", "10.0.0.1:9100"),
                    label("job", "node"),
                ],
                samples: vec![
                    v1::Sample {
                        value: 1.0,
                        timestamp: 1_700_000_000_000,
                    },
                    v1::Sample {
                        value: f64::from_bits(STALE_NAN),
                        timestamp: 1_700_000_015_000,
                    },
                ],
                ..Default::default()
            },
            v1::TimeSeries {
                labels: vec![
                    label("__name__", "temperature_celsius"),
                    label("room", "kü"),
                ],
                samples: vec![v1::Sample {
                    value: -12.5,
                    timestamp: -1,
                }],
                ..Default::default()
            },
        ],
        metadata: vec![],
    }
    .encode_to_vec()
}

fn v1_histogram_exemplar_metadata() -> Vec<u8> {
    let histogram = v1::Histogram {
        count: Some(v1::histogram::Count::CountInt(12)),
        sum: 33.5,
        schema: -2,
        zero_threshold: 1e-128,
        zero_count: Some(v1::histogram::ZeroCount::ZeroCountInt(1)),
        negative_spans: vec![v1::BucketSpan {
            offset: -3,
            length: 1,
        }],
        negative_deltas: vec![2],
        positive_spans: vec![
            v1::BucketSpan {
                offset: 0,
                length: 2,
            },
            v1::BucketSpan {
                offset: 4,
                length: 1,
            },
        ],
        positive_deltas: vec![3, -1, 4],
        reset_hint: v1::histogram::ResetHint::No as i32,
        timestamp: 1_700_000_000_000,
        ..Default::default()
    };
    let float_histogram = v1::Histogram {
        count: Some(v1::histogram::Count::CountFloat(7.25)),
        sum: 2.0,
        schema: -53,
        zero_count: Some(v1::histogram::ZeroCount::ZeroCountFloat(0.5)),
        positive_spans: vec![v1::BucketSpan {
            offset: 0,
            length: 3,
        }],
        positive_counts: vec![1.0, 2.75, 3.0],
        negative_counts: vec![0.5],
        custom_values: vec![0.1, 1.0, 10.0],
        reset_hint: v1::histogram::ResetHint::Gauge as i32,
        timestamp: 1_700_000_000_001,
        ..Default::default()
    };
    v1::WriteRequest {
        timeseries: vec![v1::TimeSeries {
            labels: vec![
                label("__name__", "http_request_duration_seconds"),
                label("method", "GET"),
            ],
            samples: vec![v1::Sample {
                value: 0.25,
                timestamp: 1_700_000_000_000,
            }],
            exemplars: vec![v1::Exemplar {
                labels: vec![label("trace_id", "4bf92f3577b34da6")],
                value: 0.31,
                timestamp: 1_700_000_000_000,
            }],
            histograms: vec![histogram, float_histogram],
        }],
        metadata: vec![
            v1::MetricMetadata {
                r#type: v1::metric_metadata::MetricType::Histogram as i32,
                metric_family_name: "http_request_duration_seconds".into(),
                help: "Time spent serving HTTP requests.".into(),
                unit: "seconds".into(),
            },
            v1::MetricMetadata {
                r#type: v1::metric_metadata::MetricType::Counter as i32,
                metric_family_name: "errors_total".into(),
                help: String::new(),
                unit: String::new(),
            },
        ],
    }
    .encode_to_vec()
}

fn v1_many_series() -> Vec<u8> {
    let timeseries = (0..24)
        .map(|i| v1::TimeSeries {
            labels: vec![
                label("__name__", "node_cpu_seconds_total"),
                label("cpu", &i.to_string()),
                label("instance", "host-a:9100"),
                label("mode", ["idle", "user", "system"][i % 3]),
            ],
            samples: vec![v1::Sample {
                value: i as f64 * 1.5,
                timestamp: 1_700_000_000_000 + i as i64,
            }],
            ..Default::default()
        })
        .collect();
    v1::WriteRequest {
        timeseries,
        metadata: vec![],
    }
    .encode_to_vec()
}

// Hand encoding, for shapes prost's encoder never writes.

fn key(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    prost::encoding::encode_varint(u64::from(field << 3 | wire_type), out);
}

fn varint_field(out: &mut Vec<u8>, field: u32, value: u64) {
    key(out, field, 0);
    prost::encoding::encode_varint(value, out);
}

fn len_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, 2);
    prost::encoding::encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn fixed64_field(out: &mut Vec<u8>, field: u32, bits: u64) {
    key(out, field, 1);
    out.extend_from_slice(&bits.to_le_bytes());
}

fn fixed32_field(out: &mut Vec<u8>, field: u32, bits: u32) {
    key(out, field, 5);
    out.extend_from_slice(&bits.to_le_bytes());
}

/// A v1 request with reserved and unknown fields of every wire type at each level
/// (histograms included), fields out of order, and singular fields given twice (a
/// sample's value, a label's name; the last occurrence counts).
fn v1_unknown_fields() -> Vec<u8> {
    let mut name = Vec::new();
    len_field(&mut name, 2, b"up");
    fixed32_field(&mut name, 7, 0xdead_beef);
    len_field(&mut name, 1, b"job");
    len_field(&mut name, 1, b"__name__");
    let mut job = Vec::new();
    len_field(&mut job, 1, b"job");
    len_field(&mut job, 2, b"api");
    let mut sample = Vec::new();
    varint_field(&mut sample, 2, 42);
    fixed64_field(&mut sample, 1, 1.0f64.to_bits());
    fixed64_field(&mut sample, 1, 2.0f64.to_bits());
    varint_field(&mut sample, 9, 1);
    let mut histogram = Vec::new();
    varint_field(&mut histogram, 1, 5);
    varint_field(&mut histogram, 15, 42);
    varint_field(&mut histogram, 17, 40);
    len_field(&mut histogram, 18, b"x");
    let mut series = Vec::new();
    len_field(&mut series, 2, &sample);
    len_field(&mut series, 1, &name);
    fixed64_field(&mut series, 5, 7);
    len_field(&mut series, 1, &job);
    len_field(&mut series, 4, &histogram);
    len_field(&mut series, 6, b"unknown");
    let mut body = Vec::new();
    varint_field(&mut body, 2, 1);
    len_field(&mut body, 1, &series);
    len_field(&mut body, 15, b"");
    body
}

fn v2_basic() -> Vec<u8> {
    let symbols = [
        "",
        "__name__",
        "http_requests_total",
        "job",
        "api",
        "code",
        "200",
        "Requests served.",
        "requests",
    ];
    v2::Request {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        timeseries: vec![
            v2::TimeSeries {
                labels_refs: vec![1, 2, 5, 6, 3, 4],
                samples: vec![
                    v2::Sample {
                        value: 1027.0,
                        timestamp: 1_700_000_000_000,
                        start_timestamp: 1_699_000_000_000,
                    },
                    v2::Sample {
                        value: 1030.0,
                        timestamp: 1_700_000_015_000,
                        start_timestamp: 1_699_000_000_000,
                    },
                ],
                metadata: Some(v2::Metadata {
                    r#type: v2::metadata::MetricType::Counter as i32,
                    help_ref: 7,
                    unit_ref: 8,
                }),
                ..Default::default()
            },
            v2::TimeSeries {
                labels_refs: vec![1, 2, 3, 4],
                samples: vec![v2::Sample {
                    value: f64::from_bits(STALE_NAN),
                    timestamp: 1_700_000_030_000,
                    start_timestamp: 0,
                }],
                metadata: Some(v2::Metadata {
                    r#type: v2::metadata::MetricType::Gauge as i32,
                    help_ref: 0,
                    unit_ref: 0,
                }),
                ..Default::default()
            },
        ],
    }
    .encode_to_vec()
}

fn v2_histogram_exemplar() -> Vec<u8> {
    let symbols = [
        "",
        "__name__",
        "rpc_latency_seconds",
        "service",
        "checkout",
        "trace_id",
        "00f067aa0ba902b7",
    ];
    v2::Request {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        timeseries: vec![v2::TimeSeries {
            labels_refs: vec![1, 2, 3, 4],
            histograms: vec![
                v2::Histogram {
                    count: Some(v2::histogram::Count::CountInt(9)),
                    sum: 4.5,
                    schema: 3,
                    zero_threshold: 0.001,
                    zero_count: Some(v2::histogram::ZeroCount::ZeroCountInt(2)),
                    positive_spans: vec![v2::BucketSpan {
                        offset: 1,
                        length: 2,
                    }],
                    positive_deltas: vec![4, -1],
                    negative_spans: vec![v2::BucketSpan {
                        offset: -2,
                        length: 1,
                    }],
                    negative_deltas: vec![1],
                    reset_hint: v2::histogram::ResetHint::Yes as i32,
                    timestamp: 1_700_000_000_000,
                    start_timestamp: 1_690_000_000_000,
                    ..Default::default()
                },
                v2::Histogram {
                    count: Some(v2::histogram::Count::CountFloat(3.5)),
                    zero_count: Some(v2::histogram::ZeroCount::ZeroCountFloat(0.25)),
                    schema: -53,
                    custom_values: vec![0.5, 1.0],
                    positive_spans: vec![v2::BucketSpan {
                        offset: 0,
                        length: 3,
                    }],
                    positive_counts: vec![1.0, 1.5, 1.0],
                    timestamp: 1_700_000_000_001,
                    ..Default::default()
                },
            ],
            exemplars: vec![v2::Exemplar {
                labels_refs: vec![5, 6],
                value: 0.75,
                timestamp: 1_700_000_000_000,
            }],
            metadata: Some(v2::Metadata {
                r#type: v2::metadata::MetricType::Histogram as i32,
                help_ref: 0,
                unit_ref: 0,
            }),
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// A v2 request with the series before the symbols, unpacked label refs, the old
/// `created_timestamp` (reserved field 6) as a varint, reserved request fields 1-3, and
/// the singular `metadata` field given twice (prost merges the two).
fn v2_unpacked_refs() -> Vec<u8> {
    let mut sample = Vec::new();
    fixed64_field(&mut sample, 1, 0.5f64.to_bits());
    varint_field(&mut sample, 2, 1_700_000_000_000);
    let mut gauge = Vec::new();
    varint_field(&mut gauge, 1, 2);
    let mut with_help = Vec::new();
    varint_field(&mut with_help, 1, 2);
    varint_field(&mut with_help, 3, 2);
    let mut series = Vec::new();
    for r in [1u64, 2, 3, 4] {
        varint_field(&mut series, 1, r);
    }
    len_field(&mut series, 2, &sample);
    len_field(&mut series, 5, &gauge);
    varint_field(&mut series, 6, 1_600_000_000_000);
    len_field(&mut series, 5, &with_help);
    let mut body = Vec::new();
    len_field(&mut body, 1, b"reserved");
    len_field(&mut body, 5, &series);
    varint_field(&mut body, 3, 0);
    for symbol in ["", "__name__", "queue_depth", "queue", "emails"] {
        len_field(&mut body, 4, symbol.as_bytes());
    }
    body
}

/// Checks that a seed is a valid request of its protocol for both prost and harbinger.
fn check(name: &str, protocol: Protocol, body: &[u8]) {
    let mut batch = WriteBatch::default();
    Decoder::new(DecodeLimits::default())
        .decode(protocol, &proto::snappy(body), &mut batch)
        .unwrap_or_else(|e| panic!("{name}: harbinger refuses the seed: {e}"));
    let series = match protocol {
        Protocol::V1 => v1::WriteRequest::decode(body).map(|r| r.timeseries.len()),
        Protocol::V2 => v2::Request::decode(body).map(|r| r.timeseries.len()),
    }
    .unwrap_or_else(|e| panic!("{name}: prost refuses the seed: {e}"));
    assert_eq!(batch.series().len(), series, "{name}: series count");
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds/decode");
    std::fs::create_dir_all(&dir).expect("create seeds/decode");
    let seeds: [(&str, &[Protocol], Vec<u8>); 8] = [
        ("empty", &[Protocol::V1, Protocol::V2], Vec::new()),
        ("v1-basic", &[Protocol::V1], v1_basic()),
        (
            "v1-histogram-exemplar-metadata",
            &[Protocol::V1],
            v1_histogram_exemplar_metadata(),
        ),
        ("v1-many-series", &[Protocol::V1], v1_many_series()),
        ("v1-unknown-fields", &[Protocol::V1], v1_unknown_fields()),
        ("v2-basic", &[Protocol::V2], v2_basic()),
        (
            "v2-histogram-exemplar",
            &[Protocol::V2],
            v2_histogram_exemplar(),
        ),
        ("v2-unpacked-refs", &[Protocol::V2], v2_unpacked_refs()),
    ];
    for (name, protocols, body) in seeds {
        assert!(body.len() < 4096, "{name} is {} bytes", body.len());
        for &protocol in protocols {
            check(name, protocol, &body);
        }
        let path = dir.join(format!("{name}.pb"));
        std::fs::write(&path, &body).expect("write seed");
        println!("{} ({} bytes)", path.display(), body.len());
    }
}
