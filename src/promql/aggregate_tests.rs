//! Aggregations against Prometheus 2.42's behaviour: groups and their labels, values
//! with NaN and Inf, topk/bottomk selection including ties.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

use crate::promql::binary::test_vectors::{assert_same, close, vector};

fn by(names: &[&str]) -> Grouping {
    Grouping::By(names.iter().map(|n| n.to_string()).collect())
}

fn without(names: &[&str]) -> Grouping {
    Grouping::Without(names.iter().map(|n| n.to_string()).collect())
}

/// The value of an aggregation over one group, for the value tables.
fn single(op: AggregateOp, values: &[f64]) -> f64 {
    let input = values
        .iter()
        .enumerate()
        .map(|(i, &value)| Element {
            labels: Labels::new([("i", i.to_string())]),
            value,
        })
        .collect();
    let out = aggregate(&op, &by(&[]), input);
    assert_eq!(out.len(), 1, "{op:?} over {values:?}");
    out[0].value
}

/// A `sum` over the same input with a grouping, and the vector it gives.
struct GroupingCase {
    what: &'static str,
    grouping: Grouping,
    /// The result as (series text, value) pairs.
    want: &'static [(&'static str, f64)],
}

#[test]
fn grouping_decides_the_output_labels() {
    let input = || {
        vector(&[
            ("http{job=\"api\", code=\"200\", instance=\"1\"}", 1.0),
            ("http{job=\"api\", code=\"500\", instance=\"1\"}", 2.0),
            ("http{job=\"api\", code=\"200\", instance=\"2\"}", 3.0),
            ("http{job=\"web\", code=\"200\"}", 4.0),
        ])
    };
    let cases = vec![
        GroupingCase {
            what: "sum(x): one group, no labels",
            grouping: by(&[]),
            want: &[("{}", 10.0)],
        },
        GroupingCase {
            what: "sum by (job)",
            grouping: by(&["job"]),
            want: &[("{job=\"api\"}", 6.0), ("{job=\"web\"}", 4.0)],
        },
        GroupingCase {
            what: "sum by (instance): a missing label is its own group",
            grouping: by(&["instance"]),
            want: &[
                ("{instance=\"1\"}", 3.0),
                ("{instance=\"2\"}", 3.0),
                ("{}", 4.0),
            ],
        },
        GroupingCase {
            what: "sum by (__name__, job): the name stays when listed",
            grouping: by(&["__name__", "job"]),
            want: &[("http{job=\"api\"}", 6.0), ("http{job=\"web\"}", 4.0)],
        },
        GroupingCase {
            what: "sum without (instance): the name goes too",
            grouping: without(&["instance"]),
            want: &[
                ("{job=\"api\", code=\"200\"}", 4.0),
                ("{job=\"api\", code=\"500\"}", 2.0),
                ("{job=\"web\", code=\"200\"}", 4.0),
            ],
        },
        GroupingCase {
            what: "sum without (): only the name goes",
            grouping: without(&[]),
            want: &[
                ("{job=\"api\", code=\"200\", instance=\"1\"}", 1.0),
                ("{job=\"api\", code=\"500\", instance=\"1\"}", 2.0),
                ("{job=\"api\", code=\"200\", instance=\"2\"}", 3.0),
                ("{job=\"web\", code=\"200\"}", 4.0),
            ],
        },
    ];
    for case in cases {
        let got = aggregate(&AggregateOp::Sum, &case.grouping, input());
        assert_same(case.what, got, vector(case.want));
    }
    assert!(aggregate(&AggregateOp::Sum, &by(&[]), Vector::new()).is_empty());
}

#[test]
fn values_follow_prometheus_arithmetic() {
    use AggregateOp::*;
    let (nan, inf) = (f64::NAN, f64::INFINITY);
    let cases: &[(AggregateOp, &[f64], f64)] = &[
        (Sum, &[1.0, 2.0, 3.5], 6.5),
        (Sum, &[inf, -inf], nan),
        (Count, &[1.0, nan, inf], 3.0),
        (Avg, &[1.0, 2.0, 4.0], 7.0 / 3.0),
        // Each side of the subtraction is divided first: no overflow to Inf.
        (Avg, &[1e308, 1e308], 1e308),
        (Avg, &[inf, 1.0], inf),
        (Avg, &[1.0, inf], inf),
        (Avg, &[inf, inf], inf),
        (Avg, &[-inf, -inf, 5.0], -inf),
        (Avg, &[inf, -inf], nan),
        (Avg, &[inf, nan], nan),
        (Avg, &[nan, 1.0], nan),
        (Min, &[3.0, 1.0, 2.0], 1.0),
        (Min, &[nan, 2.0, 1.0], 1.0),
        (Min, &[2.0, nan], 2.0),
        (Min, &[nan, nan], nan),
        (Max, &[3.0, 1.0, 2.0], 3.0),
        (Max, &[nan, 1.0, 2.0], 2.0),
        (Max, &[1.0, nan], 1.0),
        (Max, &[-inf, nan, inf], inf),
        (Stddev, &[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], 2.0),
        (Stddev, &[5.0], 0.0),
        // A group of one is 0 whatever its value.
        (Stddev, &[nan], 0.0),
        (Stddev, &[inf], 0.0),
        (Stddev, &[1.0, nan], nan),
        (Stddev, &[1.0, inf], nan),
        (Quantile { q: 0.5 }, &[4.0, 1.0, 3.0, 2.0], 2.5),
        (Quantile { q: 0.0 }, &[4.0, 1.0, 3.0], 1.0),
        (Quantile { q: 1.0 }, &[4.0, 1.0, 3.0], 4.0),
        (Quantile { q: 0.9 }, &[10.0, 20.0], 19.0),
        (Quantile { q: -0.1 }, &[1.0], -inf),
        (Quantile { q: 1.1 }, &[1.0], inf),
        // NaNs sort first.
        (Quantile { q: 0.0 }, &[1.0, nan, 2.0], nan),
        (Quantile { q: 0.5 }, &[2.0, nan, 1.0], 1.0),
        (Quantile { q: 1.0 }, &[2.0, nan, 1.0], 2.0),
        (Quantile { q: nan }, &[1.0], nan),
    ];
    for (op, values, want) in cases {
        let got = single(op.clone(), values);
        assert!(
            close(got, *want),
            "{op:?} over {values:?} = {got}, want {want}"
        );
    }
}

/// A `topk` or `bottomk` with a grouping, and the series it keeps.
struct TopkCase {
    op: AggregateOp,
    grouping: Grouping,
    /// The kept series as (series text, value) pairs.
    want: &'static [(&'static str, f64)],
}

#[test]
fn topk_and_bottomk_keep_the_selected_series_whole() {
    let input = || {
        vector(&[
            ("x{job=\"a\", i=\"1\"}", 5.0),
            ("x{job=\"a\", i=\"2\"}", 1.0),
            ("x{job=\"a\", i=\"3\"}", 3.0),
            ("x{job=\"b\", i=\"4\"}", 7.0),
        ])
    };
    let cases = vec![
        TopkCase {
            op: AggregateOp::Topk { k: 2.0 },
            grouping: by(&[]),
            want: &[
                ("x{job=\"b\", i=\"4\"}", 7.0),
                ("x{job=\"a\", i=\"1\"}", 5.0),
            ],
        },
        TopkCase {
            op: AggregateOp::Topk { k: 1.0 },
            grouping: by(&["job"]),
            want: &[
                ("x{job=\"a\", i=\"1\"}", 5.0),
                ("x{job=\"b\", i=\"4\"}", 7.0),
            ],
        },
        TopkCase {
            op: AggregateOp::Bottomk { k: 2.0 },
            grouping: without(&["i"]),
            want: &[
                ("x{job=\"a\", i=\"2\"}", 1.0),
                ("x{job=\"a\", i=\"3\"}", 3.0),
                ("x{job=\"b\", i=\"4\"}", 7.0),
            ],
        },
        // k is truncated towards zero.
        TopkCase {
            op: AggregateOp::Topk { k: 1.9 },
            grouping: by(&[]),
            want: &[("x{job=\"b\", i=\"4\"}", 7.0)],
        },
        TopkCase {
            op: AggregateOp::Topk { k: 0.9 },
            grouping: by(&[]),
            want: &[],
        },
        TopkCase {
            op: AggregateOp::Bottomk { k: -3.0 },
            grouping: by(&[]),
            want: &[],
        },
        TopkCase {
            op: AggregateOp::Topk { k: f64::NAN },
            grouping: by(&[]),
            want: &[],
        },
        TopkCase {
            op: AggregateOp::Topk { k: 1e6 },
            grouping: by(&[]),
            want: &[
                ("x{job=\"a\", i=\"1\"}", 5.0),
                ("x{job=\"a\", i=\"2\"}", 1.0),
                ("x{job=\"a\", i=\"3\"}", 3.0),
                ("x{job=\"b\", i=\"4\"}", 7.0),
            ],
        },
    ];
    for TopkCase { op, grouping, want } in cases {
        let got = aggregate(&op, &grouping, input());
        assert_same(&format!("{op:?} {grouping:?}"), got, vector(want));
    }
}

#[test]
fn topk_output_is_ordered_best_first_within_groups_in_order_of_appearance() {
    let input = vector(&[
        ("x{job=\"b\", i=\"1\"}", 1.0),
        ("x{job=\"a\", i=\"2\"}", 2.0),
        ("x{job=\"b\", i=\"3\"}", 3.0),
    ]);
    let got = aggregate(&AggregateOp::Topk { k: 5.0 }, &by(&["job"]), input);
    let values: Vec<f64> = got.iter().map(|e| e.value).collect();
    assert_eq!(values, [3.0, 1.0, 2.0]);
}

#[test]
fn topk_and_bottomk_prefer_numbers_to_nan() {
    let nan = f64::NAN;
    let cases: &[(AggregateOp, &[f64], &[f64])] = &[
        (AggregateOp::Topk { k: 2.0 }, &[nan, 1.0, 2.0], &[1.0, 2.0]),
        (AggregateOp::Topk { k: 1.0 }, &[1.0, nan], &[1.0]),
        (AggregateOp::Topk { k: 1.0 }, &[nan, 1.0], &[1.0]),
        (
            AggregateOp::Topk { k: 3.0 },
            &[nan, 1.0, 2.0],
            &[nan, 1.0, 2.0],
        ),
        (
            AggregateOp::Bottomk { k: 2.0 },
            &[nan, 3.0, 1.0, 2.0],
            &[1.0, 2.0],
        ),
        (AggregateOp::Bottomk { k: 1.0 }, &[nan, nan], &[nan]),
    ];
    for (op, values, want) in cases {
        let input = values
            .iter()
            .enumerate()
            .map(|(i, &value)| Element {
                labels: Labels::new([("i", i.to_string())]),
                value,
            })
            .collect();
        let mut got: Vec<f64> = aggregate(op, &by(&[]), input)
            .iter()
            .map(|e| e.value)
            .collect();
        got.sort_by(f64::total_cmp);
        let mut want = want.to_vec();
        want.sort_by(f64::total_cmp);
        assert_eq!(
            format!("{got:?}"),
            format!("{want:?}"),
            "{op:?} over {values:?}"
        );
    }
}

/// Which of equal values survive depends on Go's heap layout; a "first come stays"
/// rule would keep b here, Prometheus keeps c.
#[test]
fn topk_ties_evict_as_gos_heap_does() {
    let input = || {
        vector(&[
            ("{s=\"a\"}", 1.0),
            ("{s=\"b\"}", 2.0),
            ("{s=\"c\"}", 2.0),
            ("{s=\"d\"}", 3.0),
        ])
    };
    let got = aggregate(&AggregateOp::Topk { k: 2.0 }, &by(&[]), input());
    assert_same(
        "topk(2)",
        got,
        vector(&[("{s=\"c\"}", 2.0), ("{s=\"d\"}", 3.0)]),
    );

    let ties = vector(&[("{s=\"a\"}", 1.0), ("{s=\"b\"}", 1.0), ("{s=\"c\"}", 1.0)]);
    let got = aggregate(&AggregateOp::Topk { k: 2.0 }, &by(&[]), ties.clone());
    assert_same(
        "topk(2) of ties",
        got,
        vector(&[("{s=\"a\"}", 1.0), ("{s=\"b\"}", 1.0)]),
    );
    let got = aggregate(&AggregateOp::Bottomk { k: 1.0 }, &by(&[]), ties);
    assert_same("bottomk(1) of ties", got, vector(&[("{s=\"a\"}", 1.0)]));
}

#[test]
fn k_that_overflows_an_int64_has_prometheus_message() {
    let cases: &[(f64, Option<&str>)] = &[
        (f64::NAN, Some("Scalar value NaN overflows int64")),
        (f64::INFINITY, Some("Scalar value +Inf overflows int64")),
        (f64::NEG_INFINITY, Some("Scalar value -Inf overflows int64")),
        (1e19, Some("Scalar value 1e+19 overflows int64")),
        (-9.3e18, Some("Scalar value -9.3e+18 overflows int64")),
        (9_223_372_036_854_774_784.0, None),
        (-9_223_372_036_854_775_808.0, None),
        (-5.0, None),
        (3.0, None),
    ];
    for &(k, want) in cases {
        assert_eq!(k_overflow_message(k).as_deref(), want, "k = {k}");
    }
}

/// Vectors over a small label space, with unique label sets like a real instant vector.
fn instant_vector() -> impl Strategy<Value = Vector> {
    prop::collection::btree_map(
        (
            prop::sample::select(vec!["a", "b"]),
            prop::sample::select(vec!["", "x", "y"]),
            0..5u8,
        ),
        -1e6..1e6f64,
        0..20,
    )
    .prop_map(|elements| {
        elements
            .into_iter()
            .map(|((name, x, i), value)| Element {
                labels: Labels::new([
                    ("__name__", name.to_owned()),
                    ("x", x.to_owned()),
                    ("i", i.to_string()),
                ]),
                value,
            })
            .collect()
    })
}

/// Elements grouped by their `x` label, the naive way.
fn naive_groups(input: &Vector) -> HashMap<Option<String>, Vec<f64>> {
    let mut groups: HashMap<Option<String>, Vec<f64>> = HashMap::new();
    for e in input {
        groups
            .entry(e.labels.get("x").map(str::to_owned))
            .or_default()
            .push(e.value);
    }
    groups
}

fn by_x(out: &Vector) -> HashMap<Option<String>, f64> {
    out.iter()
        .map(|e| (e.labels.get("x").map(str::to_owned), e.value))
        .collect()
}

proptest! {
    #[test]
    fn sum_count_min_max_by_x_equal_naive_grouping(input in instant_vector()) {
        let groups = naive_groups(&input);
        for op in [AggregateOp::Sum, AggregateOp::Count, AggregateOp::Min, AggregateOp::Max] {
            let out = aggregate(&op, &by(&["x"]), input.clone());
            prop_assert_eq!(out.len(), groups.len());
            prop_assert!(out.iter().all(|e| e.labels.len() == usize::from(e.labels.get("x").is_some())));
            let got = by_x(&out);
            for (x, values) in &groups {
                let want = match op {
                    AggregateOp::Sum => values.iter().sum(),
                    AggregateOp::Count => values.len() as f64,
                    AggregateOp::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
                    _ => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                };
                prop_assert!(close(got[x], want), "{:?} {:?}: {} != {}", op, x, got[x], want);
            }
        }
    }

    #[test]
    fn avg_and_stddev_by_x_match_the_textbook_formulas(input in instant_vector()) {
        let avg = by_x(&aggregate(&AggregateOp::Avg, &by(&["x"]), input.clone()));
        let stddev = by_x(&aggregate(&AggregateOp::Stddev, &by(&["x"]), input.clone()));
        for (x, values) in naive_groups(&input) {
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            prop_assert!((avg[&x] - mean).abs() <= 1e-9 * mean.abs().max(1.0));
            prop_assert!((stddev[&x] - variance.sqrt()).abs() <= 1e-6 * variance.sqrt().max(1.0));
        }
    }

    #[test]
    fn topk_by_x_keeps_the_k_largest_of_each_group(input in instant_vector(), k in 1..5u8) {
        let out = aggregate(&AggregateOp::Topk { k: f64::from(k) }, &by(&["x"]), input.clone());
        for (x, mut values) in naive_groups(&input) {
            values.sort_by(|a, b| b.total_cmp(a));
            values.truncate(usize::from(k));
            let mut kept: Vec<f64> = out
                .iter()
                .filter(|e| e.labels.get("x").map(str::to_owned) == x)
                .map(|e| e.value)
                .collect();
            kept.sort_by(|a, b| b.total_cmp(a));
            prop_assert_eq!(kept, values);
        }
        prop_assert!(out.iter().all(|e| input.contains(e)));
    }
}
