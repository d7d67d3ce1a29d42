use super::*;
use crate::ingest::proto::{self, SeriesSample};
use crate::ingest::{DecodeLimits, Decoder, Protocol, STALE_NAN_BITS};

/// A batch of one sample per series.
fn batch(series: &[SeriesSample]) -> WriteBatch {
    let request = proto::v1_request(series);
    let mut batch = WriteBatch::default();
    Decoder::new(DecodeLimits::default())
        .decode(Protocol::V1, &proto::encode_snappy(&request), &mut batch)
        .unwrap();
    batch
}

const UP_A: &[(&str, &str)] = &[("__name__", "up"), ("instance", "a")];
const UP_B: &[(&str, &str)] = &[("__name__", "up"), ("instance", "b")];

fn apply(
    registry: &mut Registry,
    batch: &WriteBatch,
    now_ms: i64,
) -> (ApplyOutcome, Vec<AcceptedSample>) {
    let mut accepted = Vec::new();
    let outcome = registry.apply(batch, now_ms, &mut accepted);
    (outcome, accepted)
}

#[test]
fn interns_each_label_set_once_and_keeps_the_latest_sample() {
    let mut registry = Registry::new(10);
    let (first, accepted) = apply(
        &mut registry,
        &batch(&[
            SeriesSample::new(UP_A, 1000, 1.0),
            SeriesSample::new(UP_B, 1000, 0.0),
        ]),
        0,
    );
    assert_eq!((first.series_created, first.accepted), (2, 2));
    let (second, again) = apply(
        &mut registry,
        &batch(&[SeriesSample::new(UP_A, 2000, 0.5)]),
        0,
    );
    assert_eq!((second.series_created, second.accepted), (0, 1));
    assert_eq!(again[0].series, accepted[0].series);
    assert_eq!(registry.active_series(), 2);
    // "__name__", "up", "instance", "a", "b": shared strings are stored once.
    assert_eq!(registry.symbol_count(), 5);
    let snapshot = registry.snapshot(accepted[0].series).unwrap();
    assert_eq!((snapshot.timestamp_ms, snapshot.value), (2000, 0.5));
    assert_eq!(snapshot.labels[1], ("instance".to_owned(), "a".to_owned()));
}

#[test]
fn samples_not_newer_than_the_last_are_dropped_and_counted() {
    let mut registry = Registry::new(10);
    apply(
        &mut registry,
        &batch(&[SeriesSample::new(UP_A, 2000, 1.0)]),
        0,
    );
    let (outcome, accepted) = apply(
        &mut registry,
        &batch(&[
            SeriesSample::new(UP_A, 1000, 5.0),
            SeriesSample::new(UP_A, 2000, 6.0),
            SeriesSample::new(UP_A, 3000, 7.0),
        ]),
        0,
    );
    assert_eq!(
        (outcome.out_of_order, outcome.duplicate, outcome.accepted),
        (1, 1, 1)
    );
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].value, 7.0);
}

#[test]
fn series_past_the_cap_are_dropped_while_known_ones_go_on() {
    let mut registry = Registry::new(1);
    apply(
        &mut registry,
        &batch(&[SeriesSample::new(UP_A, 1000, 1.0)]),
        0,
    );
    let (outcome, _) = apply(
        &mut registry,
        &batch(&[
            SeriesSample::new(UP_A, 2000, 1.0),
            SeriesSample::new(UP_B, 2000, 1.0),
        ]),
        0,
    );
    assert_eq!((outcome.accepted, outcome.series_limit), (1, 1));
    assert!(registry.at_limit());
    assert_eq!(registry.active_series(), 1);
}

#[test]
fn stale_marker_ends_the_series_at_the_next_sweep() {
    let mut registry = Registry::new(10);
    let stale = f64::from_bits(STALE_NAN_BITS);
    let (_, accepted) = apply(
        &mut registry,
        &batch(&[
            SeriesSample::new(UP_A, 1000, 1.0),
            SeriesSample::new(UP_B, 1000, 1.0),
        ]),
        0,
    );
    let (outcome, _) = apply(
        &mut registry,
        &batch(&[SeriesSample::new(UP_A, 2000, stale)]),
        0,
    );
    assert_eq!(outcome.stale_markers, 1);
    assert!(registry.snapshot(accepted[0].series).unwrap().stale);
    let mut evicted = Vec::new();
    registry.evict(1, 60_000, &mut evicted);
    assert_eq!(evicted, vec![accepted[0].series]);
    assert_eq!(registry.snapshot(accepted[0].series), None);
    assert_eq!(registry.active_series(), 1);
}

#[test]
fn idle_series_are_evicted_and_their_ids_never_come_back() {
    let mut registry = Registry::new(10);
    let (_, first) = apply(
        &mut registry,
        &batch(&[SeriesSample::new(UP_A, 1000, 1.0)]),
        10_000,
    );
    apply(
        &mut registry,
        &batch(&[SeriesSample::new(UP_B, 1000, 1.0)]),
        50_000,
    );
    let mut evicted = Vec::new();
    registry.evict(70_000, 30_000, &mut evicted);
    assert_eq!(evicted, vec![first[0].series]);
    // "a" went with its series; the other strings are still used by UP_B.
    assert_eq!(registry.symbol_count(), 4);
    // The same label set comes back in the freed slot, under a new id.
    let (outcome, again) = apply(
        &mut registry,
        &batch(&[SeriesSample::new(UP_A, 500, 2.0)]),
        80_000,
    );
    assert_eq!(outcome.series_created, 1);
    assert_ne!(again[0].series, first[0].series);
    assert_eq!(registry.snapshot(first[0].series), None);
}

#[test]
fn digest_changes_with_content_only() {
    let mut registry = Registry::new(10);
    let empty = registry.digest();
    apply(
        &mut registry,
        &batch(&[SeriesSample::new(UP_A, 1000, 1.0)]),
        0,
    );
    let one = registry.digest();
    assert_ne!(empty, one);
    assert_eq!(registry.digest(), one);
    assert_eq!(registry.series_named("up", 10).len(), 1);
    assert!(registry.series_named("down", 10).is_empty());
}

#[test]
fn samples_far_ahead_of_the_clock_are_dropped_and_do_not_make_a_series() {
    let mut registry = Registry::new(10);
    let now = 1_000_000_000;
    let ahead = now + MAX_AHEAD_MS;
    let request = batch(&[
        SeriesSample::new(UP_A, ahead, 1.0),
        SeriesSample::new(UP_B, ahead + 1, 1.0),
    ]);
    let (outcome, accepted) = apply(&mut registry, &request, now);
    assert_eq!((outcome.accepted, outcome.too_far_ahead), (1, 1));
    assert_eq!(accepted.len(), 1, "up to MAX_AHEAD_MS ahead is accepted");
    assert_eq!(
        outcome.series_created, 1,
        "a series with only such samples is not made"
    );
    assert_eq!(registry.active_series(), 1);
}
