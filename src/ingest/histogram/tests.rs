//! Every rule of a histogram's consistency, both ways: a histogram that keeps it is
//! accepted, and one that breaks it is refused naming the rule (the cases of
//! Prometheus's `Histogram.Validate` and `FloatHistogram.Validate`).

use prost::Message;

use super::*;
use crate::ingest::proto::v2::{BucketSpan, Histogram, histogram};

fn span(offset: i32, length: u32) -> BucketSpan {
    BucketSpan { offset, length }
}

/// An integer histogram: zero count 1, positive buckets 2 and 3 (deltas 2, 1) over one
/// span from bucket 0, negative bucket 4 at bucket 1; count 10.
fn integer() -> Histogram {
    Histogram {
        count: Some(histogram::Count::CountInt(10)),
        sum: 12.5,
        zero_count: Some(histogram::ZeroCount::ZeroCountInt(1)),
        zero_threshold: 1e-9,
        positive_spans: vec![span(0, 2)],
        positive_deltas: vec![2, 1],
        negative_spans: vec![span(1, 1)],
        negative_deltas: vec![4],
        ..Default::default()
    }
}

/// A float histogram with the same buckets; its count is not compared.
fn float() -> Histogram {
    Histogram {
        count: Some(histogram::Count::CountFloat(9.5)),
        zero_count: Some(histogram::ZeroCount::ZeroCountFloat(1.0)),
        positive_spans: vec![span(0, 2)],
        positive_counts: vec![2.0, 3.0],
        negative_spans: vec![span(1, 1)],
        negative_counts: vec![4.0],
        ..Default::default()
    }
}

/// Custom buckets: bounds 1, 2, 5; positive buckets at 0 and 2.
fn custom() -> Histogram {
    Histogram {
        count: Some(histogram::Count::CountInt(3)),
        schema: CUSTOM_BUCKETS_SCHEMA,
        positive_spans: vec![span(0, 1), span(1, 1)],
        positive_deltas: vec![1, 1],
        custom_values: vec![1.0, 2.0, 5.0],
        ..Default::default()
    }
}

fn check(h: &Histogram) -> Result<(), HistogramProblem> {
    match check_histogram(&h.encode_to_vec(), Protocol::V2) {
        Ok(None) => Ok(()),
        Ok(Some(problem)) => Err(problem),
        Err(error) => panic!("not well-formed: {error}"),
    }
}

#[test]
fn consistent_histograms_are_accepted() {
    let nan_sum_counts_more = Histogram {
        count: Some(histogram::Count::CountInt(11)),
        sum: f64::NAN,
        ..integer()
    };
    let float_count_differs = Histogram {
        count: Some(histogram::Count::CountFloat(1.0)),
        ..float()
    };
    let empty_spans_between = Histogram {
        positive_spans: vec![span(0, 1), span(0, 0), span(0, 1)],
        ..integer()
    };
    for (name, h) in [
        ("integer", integer()),
        ("float", float()),
        ("custom buckets", custom()),
        ("NaN sum, count above the buckets", nan_sum_counts_more),
        ("float, count not the buckets' sum", float_count_differs),
        ("an empty span between", empty_spans_between),
        ("empty", Histogram::default()),
    ] {
        assert_eq!(check(&h), Ok(()), "{name}");
    }
}

#[test]
fn inconsistent_histograms_are_refused_naming_the_rule() {
    use HistogramProblem::*;
    let cases: Vec<(&str, Histogram, HistogramProblem)> = vec![
        (
            "count is not the buckets'",
            Histogram {
                count: Some(histogram::Count::CountInt(9)),
                ..integer()
            },
            Count {
                in_buckets: 10,
                count: 9,
            },
        ),
        (
            "NaN sum, count below the buckets",
            Histogram {
                count: Some(histogram::Count::CountInt(9)),
                sum: f64::NAN,
                ..integer()
            },
            Count {
                in_buckets: 10,
                count: 9,
            },
        ),
        (
            "spans cover more buckets than there are",
            Histogram {
                positive_spans: vec![span(0, 3)],
                ..integer()
            },
            SpansBuckets {
                side: Side::Positive,
                spans: 3,
                buckets: 2,
            },
        ),
        (
            "float: counts, not deltas, are its buckets",
            Histogram {
                negative_counts: vec![],
                negative_deltas: vec![4],
                ..float()
            },
            SpansBuckets {
                side: Side::Negative,
                spans: 1,
                buckets: 0,
            },
        ),
        (
            "a later span goes back",
            Histogram {
                positive_spans: vec![span(0, 1), span(-2, 1)],
                ..integer()
            },
            NegativeOffset {
                side: Side::Positive,
                span: 2,
                offset: -2,
            },
        ),
        (
            "deltas reach a negative count",
            Histogram {
                positive_deltas: vec![2, -3],
                count: Some(histogram::Count::CountInt(6)),
                ..integer()
            },
            NegativeBucket {
                side: Side::Positive,
                bucket: 2,
                count: -1.0,
            },
        ),
        (
            "a negative float count",
            Histogram {
                negative_counts: vec![-4.0],
                ..float()
            },
            NegativeBucket {
                side: Side::Negative,
                bucket: 1,
                count: -4.0,
            },
        ),
        (
            "custom bounds not increasing",
            Histogram {
                custom_values: vec![1.0, 2.0, 2.0],
                ..custom()
            },
            CustomBounds {
                previous: 2.0,
                current: 2.0,
            },
        ),
        (
            "custom bounds too few for the spans",
            Histogram {
                custom_values: vec![1.0],
                ..custom()
            },
            CustomCover {
                bounds: 1,
                reach: 3,
            },
        ),
        (
            "custom buckets with a first span going back",
            Histogram {
                positive_spans: vec![span(-1, 1), span(1, 1)],
                ..custom()
            },
            NegativeOffset {
                side: Side::Positive,
                span: 1,
                offset: -1,
            },
        ),
        (
            "custom buckets with a zero bucket",
            Histogram {
                zero_count: Some(histogram::ZeroCount::ZeroCountInt(1)),
                count: Some(histogram::Count::CountInt(4)),
                ..custom()
            },
            Custom("the zero count must be 0"),
        ),
        (
            "custom buckets with a negative side",
            Histogram {
                negative_spans: vec![span(0, 1)],
                negative_deltas: vec![1],
                count: Some(histogram::Count::CountInt(4)),
                ..custom()
            },
            Custom("there is no negative side"),
        ),
    ];
    for (name, h, problem) in cases {
        assert_eq!(check(&h), Err(problem), "{name}");
    }
}
