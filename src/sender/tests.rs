//! The pure parts: time order, batching, pacing, retry classification, and encoding
//! read back with the reference prost decoding.

use std::time::Duration;

use proptest::prelude::*;
use prost::Message;

use super::batch::{Batch, Batcher};
use super::encode::encode;
use super::order::TimeOrder;
use super::pace::{Pacing, shift_to_now};
use super::retry::{Backoff, Verdict, classify};
use crate::dataset::{Dataset, Sample, SeriesData};
use crate::ingest::Protocol;
use crate::ingest::proto::{v1, v2};

fn dataset(series: Vec<Vec<i64>>) -> Dataset {
    Dataset {
        series: series
            .into_iter()
            .enumerate()
            .map(|(index, timestamps)| SeriesData {
                labels: vec![
                    ("__name__".to_owned(), "m".to_owned()),
                    ("i".to_owned(), index.to_string()),
                ],
                samples: timestamps
                    .into_iter()
                    .map(|timestamp_ms| Sample {
                        timestamp_ms,
                        value: timestamp_ms as f64 / 10.0,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Every batch the replay would send, per shard in sending order.
fn batches(data: &Dataset, shards: usize, max: usize, span: Option<i64>) -> Vec<Vec<Batch>> {
    let mut sent = vec![Vec::new(); shards];
    let mut batcher = Batcher::new(shards, max, span);
    for (series, sample) in TimeOrder::new(data) {
        batcher.push(series, sample, |shard, batch| sent[shard].push(batch));
    }
    batcher.finish(|shard, batch| sent[shard].push(batch));
    sent
}

/// Up to 6 series of up to 40 strictly increasing timestamps, some shared across series.
fn arbitrary_dataset() -> impl Strategy<Value = Dataset> {
    prop::collection::vec(prop::collection::btree_set(0i64..200, 0..40), 0..6).prop_map(|series| {
        dataset(
            series
                .into_iter()
                .map(|set| set.into_iter().map(|t| t * 250).collect())
                .collect(),
        )
    })
}

proptest! {
    #[test]
    fn batching_sends_every_sample_once_in_series_order_within_limits(
        data in arbitrary_dataset(),
        shards in 1usize..4,
        max in 1usize..50,
        span in prop::option::of(1i64..5000),
    ) {
        let sent = batches(&data, shards, max, span);
        let mut received: Vec<Vec<Sample>> = vec![Vec::new(); data.series.len()];
        for (shard, shard_batches) in sent.iter().enumerate() {
            for batch in shard_batches {
                prop_assert!(!batch.samples.is_empty());
                prop_assert!(batch.samples.len() <= max);
                if let Some(span) = span {
                    let first = batch.samples[0].1.timestamp_ms;
                    let last = batch.samples.last().unwrap().1.timestamp_ms;
                    prop_assert!(last - first < span, "batch spans {first}..={last}");
                }
                for &(series, sample) in &batch.samples {
                    prop_assert_eq!(series as usize % shards, shard, "series on its shard");
                    received[series as usize].push(sample);
                }
            }
        }
        // Each shard sends its batches one after the other, so concatenating them in
        // sending order is what the receiver gets: exactly each series, in order.
        for (series, got) in data.series.iter().zip(&received) {
            prop_assert_eq!(&series.samples, got);
        }
    }

    #[test]
    fn time_order_is_global_and_complete(data in arbitrary_dataset()) {
        let stream: Vec<(u32, Sample)> = TimeOrder::new(&data).collect();
        prop_assert_eq!(stream.len(), data.sample_count());
        prop_assert!(stream.windows(2).all(|w| (w[0].1.timestamp_ms, w[0].0) < (w[1].1.timestamp_ms, w[1].0)));
    }
}

#[test]
fn a_full_batch_closes_at_once_and_a_time_slice_ends_a_batch() {
    // Two series scraped together every second; at most 5 samples, 2 s slices.
    let data = dataset(vec![vec![0, 1000, 2000, 3000], vec![0, 1000, 2000, 3000]]);
    let timestamps = |batch: &Batch| -> Vec<(u32, i64)> {
        batch
            .samples
            .iter()
            .map(|&(s, x)| (s, x.timestamp_ms))
            .collect()
    };
    let paced: Vec<_> = batches(&data, 1, 5, Some(2000))[0]
        .iter()
        .map(timestamps)
        .collect();
    assert_eq!(
        paced,
        [
            // The slice that began at 0 ends when the stream reaches 2000.
            vec![(0, 0), (1, 0), (0, 1000), (1, 1000)],
            vec![(0, 2000), (1, 2000), (0, 3000), (1, 3000)],
        ]
    );
    let unpaced: Vec<_> = batches(&data, 1, 5, None)[0]
        .iter()
        .map(|b| b.samples.len())
        .collect();
    assert_eq!(unpaced, [5, 3]);
}

#[test]
fn pacing_maps_sample_time_to_wall_time() {
    let double = Pacing::Speed(2.0);
    assert_eq!(double.offset(1000, 11_000), Some(Duration::from_secs(5)));
    assert_eq!(double.span_ms(Duration::from_secs(5)), Some(10_000));
    assert_eq!(Pacing::AsFastAsPossible.offset(0, 5000), None);
    assert_eq!(
        Pacing::AsFastAsPossible.span_ms(Duration::from_secs(5)),
        None
    );
}

#[test]
fn shift_to_now_never_stamps_a_sample_after_it_is_due() {
    let (first, last, start) = (1_000_000, 1_600_000, 9_000_000); // 600 s recorded
    // Unpaced: the last sample lands at the start.
    assert_eq!(
        shift_to_now(Pacing::AsFastAsPossible, first, last, start) + last,
        start
    );
    // Real time: every sample is stamped with the moment it is due.
    let shift = shift_to_now(Pacing::Speed(1.0), first, last, start);
    assert_eq!(first + shift, start);
    assert_eq!(last + shift, start + 600_000);
    // 10x: the last sample lands at its due time, 60 s after the start.
    assert_eq!(
        shift_to_now(Pacing::Speed(10.0), first, last, start) + last,
        start + 60_000
    );
    // Half speed: the first sample lands at the start; the others are stamped early.
    assert_eq!(
        shift_to_now(Pacing::Speed(0.5), first, last, start) + first,
        start
    );
}

#[test]
fn statuses_are_classified_as_prometheus_does() {
    let cases = [
        (200, false, Verdict::Delivered),
        (204, false, Verdict::Delivered),
        (400, false, Verdict::Reject),
        (401, false, Verdict::Reject),
        (413, false, Verdict::Reject),
        (429, false, Verdict::Reject),
        (429, true, Verdict::Retry),
        (500, false, Verdict::Retry),
        (503, false, Verdict::Retry),
        (302, false, Verdict::Reject),
    ];
    for (status, retry_on_429, verdict) in cases {
        assert_eq!(
            classify(status, retry_on_429),
            verdict,
            "{status} {retry_on_429}"
        );
    }
}

#[test]
fn backoff_doubles_up_to_its_cap() {
    let mut backoff = Backoff::new(Duration::from_millis(30), Duration::from_millis(200));
    let delays: Vec<u128> = (0..6).map(|_| backoff.next_delay().as_millis()).collect();
    assert_eq!(delays, [30, 60, 120, 200, 200, 200]);
}

/// A decoded 1.0 series: its labels as `name=value` and its (timestamp ms, value) samples.
#[derive(Debug, PartialEq)]
struct SentSeries {
    labels: Vec<String>,
    samples: Vec<(i64, f64)>,
}

#[test]
fn both_protocols_encode_series_grouped_and_shifted() {
    let data = dataset(vec![vec![1000, 2000], vec![1000]]);
    let batch = Batch {
        samples: TimeOrder::new(&data).collect(),
    };
    let raw = |body: Vec<u8>| snap::raw::Decoder::new().decompress_vec(&body).unwrap();

    let request =
        v1::WriteRequest::decode(&raw(encode(Protocol::V1, &data, &batch, 5))[..]).unwrap();
    let got: Vec<SentSeries> = request
        .timeseries
        .iter()
        .map(|ts| SentSeries {
            labels: ts
                .labels
                .iter()
                .map(|l| format!("{}={}", l.name, l.value))
                .collect(),
            samples: ts.samples.iter().map(|s| (s.timestamp, s.value)).collect(),
        })
        .collect();
    assert_eq!(
        got,
        [
            SentSeries {
                labels: vec!["__name__=m".into(), "i=0".into()],
                samples: vec![(1005, 100.0), (2005, 200.0)],
            },
            SentSeries {
                labels: vec!["__name__=m".into(), "i=1".into()],
                samples: vec![(1005, 100.0)],
            },
        ]
    );

    let request = v2::Request::decode(&raw(encode(Protocol::V2, &data, &batch, 5))[..]).unwrap();
    assert_eq!(request.symbols, ["", "__name__", "m", "i", "0", "1"]);
    let refs: Vec<&[u32]> = request
        .timeseries
        .iter()
        .map(|ts| &ts.labels_refs[..])
        .collect();
    assert_eq!(refs, [&[1, 2, 3, 4][..], &[1, 2, 3, 5][..]]);
    let samples: Vec<Vec<i64>> = request
        .timeseries
        .iter()
        .map(|ts| ts.samples.iter().map(|s| s.timestamp).collect())
        .collect();
    assert_eq!(samples, [vec![1005, 2005], vec![1005]]);
}
