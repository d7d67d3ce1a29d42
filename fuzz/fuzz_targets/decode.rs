//! Fuzz target: `Decoder::decode` on arbitrary bytes, both protocols, checked against prost.
//!
//! Every input is decoded four times:
//!
//! 1. snappy-compressed, as remote write 1.0, and compared with
//!    `proto::v1::WriteRequest::decode` of the same (uncompressed) bytes;
//! 2. snappy-compressed, as remote write 2.0, and compared with `proto::v2::Request::decode`;
//! 3. and 4. as is, as if the input were already a compressed body, for both protocols
//!    (these only have to not panic and to leave an empty batch when they fail).
//!
//! The differential rules (see the crate's README for the reasoning):
//!
//! - prost fails => ours fails, or refused a series (`WriteBatch::rejected`): prost
//!   refuses a whole request for one label that is not UTF-8, ours (as Prometheus's Go
//!   receiver) only its series.
//! - ours fails => prost fails.
//! - ours succeeds => prost succeeds, with the same series in the same order, the same
//!   label bytes per series (v2: label refs resolved through the symbols table), the same
//!   samples (timestamp and value bits), the same hash as `hash_labels`, the same counts of
//!   histograms, exemplars and metadata, and (v2) the same metric type.
//! - ours refused some series (a partial write, `WriteBatch::rejected`) => ours' series
//!   are prost's in order with those left out, and the refused series plus ours make up
//!   prost's series, histograms and exemplars. Label validation is the one place where
//!   the walk is deliberately stricter than prost.
//!
//! `HARBINGER_FUZZ_DEBUG=1` prints both decoders' results for each input.
//!
//! The four divergences this target found (groups, a 1.0 histogram's field 17, merged
//! 2.0 metadata, repeated label strings) are fixed in the decoder; the README lists them.

#![no_main]

use std::sync::OnceLock;

use harbinger::ingest::{
    DecodeError, DecodeLimits, Decoder, MetricType, Protocol, WriteBatch, hash_labels, proto,
};
use libfuzzer_sys::fuzz_target;
use prost::Message;

/// `HARBINGER_FUZZ_DEBUG=1` prints both decoders' results for every input (for running
/// the target on a single file, not for fuzzing).
fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("HARBINGER_FUZZ_DEBUG").is_some_and(|v| v != "0"))
}

/// One series as plain data, from either decoder.
#[derive(Debug, PartialEq)]
struct Series {
    labels: Vec<(Vec<u8>, Vec<u8>)>,
    /// (timestamp, value bits)
    samples: Vec<(i64, u64)>,
    metric_type: MetricType,
}

#[derive(Debug, PartialEq)]
struct Plain {
    series: Vec<Series>,
    histograms: u64,
    exemplars: u64,
    metadata: u64,
}

fn ours_plain(batch: &WriteBatch) -> Plain {
    let series = batch
        .series()
        .iter()
        .map(|entry| {
            let labels: Vec<(Vec<u8>, Vec<u8>)> = batch
                .labels(entry)
                .map(|(name, value)| (name.to_vec(), value.to_vec()))
                .collect();
            let rehashed = hash_labels(labels.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
            assert_eq!(entry.hash, rehashed, "series hash differs from hash_labels");
            Series {
                labels,
                samples: batch
                    .samples(entry)
                    .iter()
                    .map(|s| (s.timestamp_ms, s.value.to_bits()))
                    .collect(),
                metric_type: entry.metric_type,
            }
        })
        .collect();
    Plain {
        series,
        histograms: batch.histograms,
        exemplars: batch.exemplars,
        metadata: batch.metadata,
    }
}

fn prost_v1_plain(request: &proto::v1::WriteRequest) -> Plain {
    let series = request
        .timeseries
        .iter()
        .map(|ts| Series {
            labels: ts
                .labels
                .iter()
                .map(|l| (l.name.as_bytes().to_vec(), l.value.as_bytes().to_vec()))
                .collect(),
            samples: ts
                .samples
                .iter()
                .map(|s| (s.timestamp, s.value.to_bits()))
                .collect(),
            metric_type: MetricType::Unknown,
        })
        .collect();
    Plain {
        series,
        histograms: request
            .timeseries
            .iter()
            .map(|ts| ts.histograms.len() as u64)
            .sum(),
        exemplars: request
            .timeseries
            .iter()
            .map(|ts| ts.exemplars.len() as u64)
            .sum(),
        metadata: request.metadata.len() as u64,
    }
}

/// Prost's series of a 2.0 request; None for one whose refs are odd or out of range
/// (ours must have refused it).
fn prost_v2_series(request: &proto::v2::Request) -> Vec<Option<Series>> {
    let symbol = |r: u32| -> Option<Vec<u8>> {
        request
            .symbols
            .get(r as usize)
            .map(|s| s.as_bytes().to_vec())
    };
    request
        .timeseries
        .iter()
        .map(|ts| {
            if ts.labels_refs.len() % 2 != 0 {
                return None;
            }
            let labels = ts
                .labels_refs
                .chunks_exact(2)
                .map(|pair| Some((symbol(pair[0])?, symbol(pair[1])?)))
                .collect::<Option<Vec<_>>>()?;
            Some(Series {
                labels,
                samples: ts
                    .samples
                    .iter()
                    .map(|s| (s.timestamp, s.value.to_bits()))
                    .collect(),
                metric_type: MetricType::from_wire(
                    ts.metadata.as_ref().map_or(0, |m| m.r#type as u32),
                ),
            })
        })
        .collect()
}

fn prost_v2_plain(request: &proto::v2::Request) -> Plain {
    Plain {
        series: prost_v2_series(request)
            .into_iter()
            .map(|s| s.expect("ours accepted a series with odd or out-of-range refs"))
            .collect(),
        histograms: request
            .timeseries
            .iter()
            .map(|ts| ts.histograms.len() as u64)
            .sum(),
        exemplars: request
            .timeseries
            .iter()
            .map(|ts| ts.exemplars.len() as u64)
            .sum(),
        metadata: request
            .timeseries
            .iter()
            .filter(|ts| ts.metadata.is_some())
            .count() as u64,
    }
}

/// Runs our decoder; a failure must leave the batch empty.
fn run(
    decoder: &Decoder,
    protocol: Protocol,
    body: &[u8],
    batch: &mut WriteBatch,
) -> Result<(), DecodeError> {
    let result = decoder.decode(protocol, body, batch);
    if let Err(error) = &result {
        assert!(
            batch.series().is_empty() && batch.sample_count() == 0,
            "a failed decode left series in the batch: {error}"
        );
    }
    result
}

fn compare(
    protocol: Protocol,
    raw: &[u8],
    ours: Result<(), DecodeError>,
    batch: &WriteBatch,
    reference: Result<Plain, prost::DecodeError>,
) {
    if debug() {
        let ours = match &ours {
            Ok(()) => format!("Ok({:?})", ours_plain(batch)),
            Err(e) => format!("Err({e})"),
        };
        match &reference {
            Ok(plain) => eprintln!("{protocol:?} ours:  {ours}\n{protocol:?} prost: Ok({plain:?})"),
            Err(e) => eprintln!("{protocol:?} ours:  {ours}\n{protocol:?} prost: Err({e})"),
        }
    }
    match (ours, reference) {
        (Err(_), Err(_)) => {}
        (Ok(()), Err(_)) if !batch.rejected.is_empty() => {}
        (Ok(()), Err(prost_error)) => {
            let message = prost_error.to_string();
            panic!(
                "{protocol:?}: prost rejects the body ({message}) but ours accepts it: {:?}\nbody: {}",
                ours_plain(batch),
                hex(raw)
            );
        }
        (Err(error), Ok(_)) => panic!(
            "{protocol:?}: prost accepts the body but ours rejects it: {error}\nbody: {}",
            hex(raw)
        ),
        (Ok(()), Ok(expected)) => {
            let actual = ours_plain(batch);
            assert_eq!(
                actual,
                expected,
                "{protocol:?}: ours (left) and prost (right) differ\nbody: {}",
                hex(raw)
            );
        }
    }
}

/// A partial write: ours' series are prost's (`None` for one prost cannot resolve) with
/// the refused ones left out; prost's histograms and exemplars are ours plus the refused.
fn compare_partial(raw: &[u8], batch: &WriteBatch, theirs: &[Option<&Series>], totals: (u64, u64)) {
    let ours = ours_plain(batch);
    let rejected = &batch.rejected;
    let context = || format!("body: {}", hex(raw));
    assert_eq!(
        ours.series.len() as u64 + rejected.series,
        theirs.len() as u64,
        "accepted and refused series do not add up to prost's\n{}",
        context()
    );
    let mut candidates = theirs.iter();
    for series in &ours.series {
        assert!(
            candidates.any(|candidate| *candidate == Some(series)),
            "ours kept a series prost does not have, or out of order: {series:?}\n{}",
            context()
        );
    }
    let (histograms, exemplars) = totals;
    assert_eq!(
        ours.histograms + rejected.histograms,
        histograms,
        "histograms do not add up\n{}",
        context()
    );
    assert_eq!(
        ours.exemplars + rejected.exemplars,
        exemplars,
        "exemplars do not add up\n{}",
        context()
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let decoder = Decoder::new(DecodeLimits::default());
    let mut batch = WriteBatch::default();

    // The input is the protobuf body; compress it the way a sender does.
    let compressed = proto::snappy(data);

    let ours = run(&decoder, Protocol::V1, &compressed, &mut batch);
    let reference = proto::v1::WriteRequest::decode(data).map(|r| prost_v1_plain(&r));
    match (&ours, &reference) {
        (Ok(()), Ok(plain)) if !batch.rejected.is_empty() => {
            let theirs: Vec<Option<&Series>> = plain.series.iter().map(Some).collect();
            compare_partial(data, &batch, &theirs, (plain.histograms, plain.exemplars));
        }
        _ => compare(Protocol::V1, data, ours, &batch, reference),
    }

    // The same batch is reused, as a server worker does.
    let ours = run(&decoder, Protocol::V2, &compressed, &mut batch);
    let reference = proto::v2::Request::decode(data);
    if let (Ok(()), Ok(request)) = (&ours, &reference) {
        if !batch.rejected.is_empty() {
            let series = prost_v2_series(request);
            let theirs: Vec<Option<&Series>> = series.iter().map(Option::as_ref).collect();
            let total = |count: fn(&proto::v2::TimeSeries) -> usize| -> u64 {
                request.timeseries.iter().map(|ts| count(ts) as u64).sum()
            };
            let totals = (
                total(|ts| ts.histograms.len()),
                total(|ts| ts.exemplars.len()),
            );
            compare_partial(data, &batch, &theirs, totals);
            return;
        }
    }
    let reference = match (&ours, reference) {
        // Resolving refs needs them to be in range; only do it when ours accepted.
        (Ok(()), Ok(request)) => Ok(prost_v2_plain(&request)),
        // Ours failed: only prost's success matters then, not its content (shown empty by
        // HARBINGER_FUZZ_DEBUG).
        (_, Ok(_)) => Ok(Plain {
            series: Vec::new(),
            histograms: 0,
            exemplars: 0,
            metadata: 0,
        }),
        (_, Err(e)) => Err(e),
    };
    compare(Protocol::V2, data, ours, &batch, reference);

    // The input itself as a compressed body: anything may fail, nothing may panic. A
    // smaller size limit keeps a forged snappy header from costing 128 MiB per run.
    let small = Decoder::new(DecodeLimits {
        max_decoded_bytes: 1 << 20,
        ..DecodeLimits::default()
    });
    for protocol in [Protocol::V1, Protocol::V2] {
        let _ = run(&small, protocol, data, &mut batch);
    }
});
