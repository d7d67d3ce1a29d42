//! Binary operators between vectors against Prometheus 2.42's behaviour: output label
//! sets, vector matching and its errors, set operators (`binary_scalar_tests` has the
//! operations with a scalar).

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

use super::test_vectors::{assert_same, vector};

fn one_to_one() -> Matching {
    Matching {
        on: false,
        labels: vec![],
        cardinality: Cardinality::OneToOne,
        return_bool: false,
    }
}

fn on(names: &[&str], cardinality: Cardinality) -> Matching {
    Matching {
        on: true,
        labels: names.iter().map(|n| n.to_string()).collect(),
        cardinality,
        return_bool: false,
    }
}

fn ignoring(names: &[&str], cardinality: Cardinality) -> Matching {
    Matching {
        on: false,
        ..on(names, cardinality)
    }
}

fn with_bool(matching: Matching) -> Matching {
    Matching {
        return_bool: true,
        ..matching
    }
}

fn include(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// An operation between two vectors (arithmetic, comparison or set operator), and
/// the vector it gives.
struct MatchCase {
    what: &'static str,
    op: BinaryOp,
    lhs: &'static [(&'static str, f64)],
    rhs: &'static [(&'static str, f64)],
    matching: Matching,
    /// The vector the operation gives.
    want: &'static [(&'static str, f64)],
}

#[test]
fn vector_matching_builds_prometheus_label_sets() {
    use BinaryOp::*;
    let cases = vec![
        MatchCase {
            what: "a + b: matched on all labels but the name, which is dropped",
            op: Add,
            lhs: &[
                ("a{i=\"1\"}", 1.0),
                ("a{i=\"2\"}", 2.0),
                ("a{i=\"3\"}", 3.0),
            ],
            rhs: &[("b{i=\"1\"}", 10.0), ("b{i=\"2\"}", 20.0)],
            matching: one_to_one(),
            want: &[("{i=\"1\"}", 11.0), ("{i=\"2\"}", 22.0)],
        },
        MatchCase {
            what: "a - b: lhs minus rhs",
            op: Sub,
            lhs: &[("a{i=\"1\"}", 1.0)],
            rhs: &[("b{i=\"1\"}", 10.0)],
            matching: one_to_one(),
            want: &[("{i=\"1\"}", -9.0)],
        },
        MatchCase {
            what: "a > b: filters, keeps the lhs name, labels and value",
            op: Gt,
            lhs: &[("a{i=\"1\"}", 5.0), ("a{i=\"2\"}", 1.0)],
            rhs: &[("b{i=\"1\"}", 3.0), ("b{i=\"2\"}", 3.0)],
            matching: one_to_one(),
            want: &[("a{i=\"1\"}", 5.0)],
        },
        MatchCase {
            what: "a > bool b: 0/1 for every match, name dropped",
            op: Gt,
            lhs: &[("a{i=\"1\"}", 5.0), ("a{i=\"2\"}", 1.0)],
            rhs: &[("b{i=\"1\"}", 3.0), ("b{i=\"2\"}", 3.0)],
            matching: with_bool(one_to_one()),
            want: &[("{i=\"1\"}", 1.0), ("{i=\"2\"}", 0.0)],
        },
        MatchCase {
            what: "a + on(i) b: only the on labels remain",
            op: Add,
            lhs: &[("a{i=\"1\", j=\"x\"}", 1.0)],
            rhs: &[("b{i=\"1\", j=\"y\"}", 2.0)],
            matching: on(&["i"], Cardinality::OneToOne),
            want: &[("{i=\"1\"}", 3.0)],
        },
        MatchCase {
            what: "a == on(i) b: a comparison also keeps only the on labels (and loses the name)",
            op: Eq,
            lhs: &[("a{i=\"1\", j=\"x\"}", 2.0)],
            rhs: &[("b{i=\"1\", j=\"y\"}", 2.0)],
            matching: on(&["i"], Cardinality::OneToOne),
            want: &[("{i=\"1\"}", 2.0)],
        },
        MatchCase {
            what: "a == on(__name__, i) b: the name can be matched on",
            op: Eq,
            lhs: &[("a{i=\"1\", j=\"x\"}", 2.0)],
            rhs: &[("a{i=\"1\", j=\"y\"}", 2.0), ("b{i=\"1\"}", 2.0)],
            matching: on(&["__name__", "i"], Cardinality::OneToOne),
            want: &[("a{i=\"1\"}", 2.0)],
        },
        MatchCase {
            what: "a - ignoring(j) b: all but the ignored labels and the name",
            op: Sub,
            lhs: &[("a{i=\"1\", j=\"x\", k=\"z\"}", 5.0)],
            rhs: &[("b{i=\"1\", j=\"y\", k=\"z\"}", 2.0)],
            matching: ignoring(&["j"], Cardinality::OneToOne),
            want: &[("{i=\"1\", k=\"z\"}", 3.0)],
        },
        MatchCase {
            what: "a < ignoring(j) b: the comparison keeps the name",
            op: Lt,
            lhs: &[("a{i=\"1\", j=\"x\"}", 1.0)],
            rhs: &[("b{i=\"1\", j=\"y\"}", 2.0)],
            matching: ignoring(&["j"], Cardinality::OneToOne),
            want: &[("a{i=\"1\"}", 1.0)],
        },
        MatchCase {
            what: "a * on(i) group_left(team) info: many lhs per rhs, team copied over",
            op: Mul,
            lhs: &[
                ("a{i=\"1\", j=\"x\"}", 2.0),
                ("a{i=\"1\", j=\"y\", team=\"old\"}", 3.0),
                ("a{i=\"2\", j=\"x\"}", 4.0),
            ],
            rhs: &[("info{i=\"1\", team=\"db\", other=\"o\"}", 10.0)],
            matching: on(
                &["i"],
                Cardinality::ManyToOne {
                    include: include(&["team"]),
                },
            ),
            want: &[
                ("{i=\"1\", j=\"x\", team=\"db\"}", 20.0),
                ("{i=\"1\", j=\"y\", team=\"db\"}", 30.0),
            ],
        },
        MatchCase {
            what: "group_left(team) where the one side lacks team: team removed",
            op: Add,
            lhs: &[("a{i=\"1\", team=\"old\"}", 1.0)],
            rhs: &[("info{i=\"1\"}", 1.0)],
            matching: on(
                &["i"],
                Cardinality::ManyToOne {
                    include: include(&["team"]),
                },
            ),
            want: &[("{i=\"1\"}", 2.0)],
        },
        MatchCase {
            what: "a > on(i) group_left info: the many side's labels, name kept",
            op: Gt,
            lhs: &[("a{i=\"1\", j=\"x\"}", 2.0), ("a{i=\"1\", j=\"y\"}", 30.0)],
            rhs: &[("info{i=\"1\"}", 10.0)],
            matching: on(&["i"], Cardinality::ManyToOne { include: vec![] }),
            want: &[("a{i=\"1\", j=\"y\"}", 30.0)],
        },
        MatchCase {
            what: "info - on(i) group_right(team) a: rhs labels, lhs minus rhs",
            op: Sub,
            lhs: &[("info{i=\"1\", team=\"db\"}", 10.0)],
            rhs: &[("a{i=\"1\", j=\"x\"}", 2.0), ("a{i=\"1\", j=\"y\"}", 3.0)],
            matching: on(
                &["i"],
                Cardinality::OneToMany {
                    include: include(&["team"]),
                },
            ),
            want: &[
                ("{i=\"1\", j=\"x\", team=\"db\"}", 8.0),
                ("{i=\"1\", j=\"y\", team=\"db\"}", 7.0),
            ],
        },
        MatchCase {
            what: "info > on(i) group_right a: rhs labels, but the lhs (one side) value",
            op: Gt,
            lhs: &[("info{i=\"1\"}", 5.0)],
            rhs: &[("a{i=\"1\", j=\"x\"}", 3.0), ("a{i=\"1\", j=\"y\"}", 7.0)],
            matching: on(&["i"], Cardinality::OneToMany { include: vec![] }),
            want: &[("a{i=\"1\", j=\"x\"}", 5.0)],
        },
        MatchCase {
            what: "duplicates on the lhs are fine when the filter lets only one through",
            op: Gt,
            lhs: &[("a{i=\"1\", j=\"x\"}", 1.0), ("a{i=\"1\", j=\"y\"}", 9.0)],
            rhs: &[("b{i=\"1\"}", 5.0)],
            matching: on(&["i"], Cardinality::OneToOne),
            want: &[("{i=\"1\"}", 9.0)],
        },
        MatchCase {
            what: "an empty side gives nothing, without looking for duplicates",
            op: Add,
            lhs: &[("a{i=\"1\"}", 1.0), ("a{i=\"1\", j=\"x\"}", 1.0)],
            rhs: &[],
            matching: on(&["i"], Cardinality::OneToOne),
            want: &[],
        },
        MatchCase {
            what: "NaN compares unequal",
            op: Eq,
            lhs: &[("a{i=\"1\"}", f64::NAN)],
            rhs: &[("b{i=\"1\"}", f64::NAN)],
            matching: one_to_one(),
            want: &[],
        },
    ];
    for MatchCase {
        what,
        op,
        lhs,
        rhs,
        matching,
        want,
    } in cases
    {
        let got = vector_vector(op, vector(lhs), vector(rhs), &matching);
        let got = got.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_same(what, got, vector(want));
    }
}

/// A vector-vector operation whose matching is ambiguous, and Prometheus's error.
struct AmbiguousCase {
    what: &'static str,
    op: BinaryOp,
    /// The operands as (series text, value) pairs.
    lhs: &'static [(&'static str, f64)],
    rhs: &'static [(&'static str, f64)],
    matching: Matching,
    /// The message of the matching error.
    error: &'static str,
}

#[test]
fn ambiguous_matches_fail_with_prometheus_messages() {
    use BinaryOp::*;
    let cases = vec![
        AmbiguousCase {
            what: "two rhs series in one match group",
            op: Add,
            lhs: &[("a{i=\"1\"}", 1.0)],
            rhs: &[("b{i=\"1\", j=\"x\"}", 1.0), ("b{i=\"1\", j=\"y\"}", 2.0)],
            matching: ignoring(&["j"], Cardinality::OneToOne),
            error: "found duplicate series for the match group {i=\"1\"} on the right hand-side \
                    of the operation: [{__name__=\"b\", i=\"1\", j=\"y\"}, \
                    {__name__=\"b\", i=\"1\", j=\"x\"}];\
                    many-to-many matching not allowed: matching labels must be unique on one side",
        },
        AmbiguousCase {
            what: "duplicates on the one side are an error even without a partner",
            op: Add,
            lhs: &[("a{i=\"1\"}", 1.0)],
            rhs: &[("b{i=\"9\", j=\"x\"}", 1.0), ("b{i=\"9\", j=\"y\"}", 2.0)],
            matching: on(&["i"], Cardinality::ManyToOne { include: vec![] }),
            error: "found duplicate series for the match group {i=\"9\"} on the right hand-side \
                    of the operation: [{__name__=\"b\", i=\"9\", j=\"y\"}, \
                    {__name__=\"b\", i=\"9\", j=\"x\"}];\
                    many-to-many matching not allowed: matching labels must be unique on one side",
        },
        AmbiguousCase {
            what: "group_right: the one side is the left",
            op: Add,
            lhs: &[("a{i=\"1\", j=\"x\"}", 1.0), ("a{i=\"1\", j=\"y\"}", 2.0)],
            rhs: &[("b{i=\"1\"}", 1.0)],
            matching: on(&["i"], Cardinality::OneToMany { include: vec![] }),
            error: "found duplicate series for the match group {i=\"1\"} on the left hand-side \
                    of the operation: [{__name__=\"a\", i=\"1\", j=\"y\"}, \
                    {__name__=\"a\", i=\"1\", j=\"x\"}];\
                    many-to-many matching not allowed: matching labels must be unique on one side",
        },
        AmbiguousCase {
            what: "several lhs series per group need group_left",
            op: Add,
            lhs: &[("a{i=\"1\", j=\"x\"}", 1.0), ("a{i=\"1\", j=\"y\"}", 2.0)],
            rhs: &[("b{i=\"1\"}", 1.0)],
            matching: on(&["i"], Cardinality::OneToOne),
            error: "multiple matches for labels: many-to-one matching must be explicit \
                    (group_left/group_right)",
        },
        AmbiguousCase {
            what: "group_left results must differ: here the name was their only difference",
            op: Add,
            lhs: &[("a{i=\"1\", j=\"x\"}", 1.0), ("c{i=\"1\", j=\"x\"}", 2.0)],
            rhs: &[("b{i=\"1\"}", 1.0)],
            matching: on(&["i"], Cardinality::ManyToOne { include: vec![] }),
            error: "multiple matches for labels: grouping labels must ensure unique matches",
        },
    ];
    for case in cases {
        let got = vector_vector(case.op, vector(case.lhs), vector(case.rhs), &case.matching);
        assert_eq!(
            got,
            Err(EvalError::Matching(case.error.to_owned())),
            "{}",
            case.what
        );
    }
}

#[test]
fn error_labels_are_quoted_as_go_does() {
    let lhs = vector(&[("a{i=\"1\"}", 1.0)]);
    let mut rhs = vector(&[("b{i=\"1\"}", 1.0), ("b{i=\"1\"}", 2.0)]);
    rhs[1].labels = rhs[1].labels.with("v", "q\"\\\n\u{1}é");
    let got = vector_vector(BinaryOp::Add, lhs, rhs, &on(&["i"], Cardinality::OneToOne));
    let Err(EvalError::Matching(message)) = got else {
        panic!("expected a matching error, got {got:?}");
    };
    assert!(message.contains(r#"v="q\"\\\n\x01é""#), "{message}");
}

#[test]
fn set_operators_match_on_signatures_and_keep_labels() {
    use BinaryOp::*;
    let a: &[(&str, f64)] = &[("a{i=\"1\", j=\"x\"}", 1.0), ("a{i=\"2\", j=\"x\"}", 2.0)];
    let b: &[(&str, f64)] = &[("b{i=\"1\", j=\"y\"}", 10.0), ("b{i=\"3\", j=\"y\"}", 30.0)];
    let same: &[(&str, f64)] = &[("b{i=\"1\", j=\"x\"}", 10.0)];
    let cases = vec![
        MatchCase {
            what: "a and b: no label set in common",
            op: And,
            lhs: a,
            rhs: b,
            matching: one_to_one(),
            want: &[],
        },
        MatchCase {
            what: "a and same: the name is ignored",
            op: And,
            lhs: a,
            rhs: same,
            matching: one_to_one(),
            want: &[("a{i=\"1\", j=\"x\"}", 1.0)],
        },
        MatchCase {
            what: "a and on(i) b",
            op: And,
            lhs: a,
            rhs: b,
            matching: on(&["i"], Cardinality::ManyToMany),
            want: &[("a{i=\"1\", j=\"x\"}", 1.0)],
        },
        MatchCase {
            what: "a and ignoring(j) b",
            op: And,
            lhs: a,
            rhs: b,
            matching: ignoring(&["j"], Cardinality::ManyToMany),
            want: &[("a{i=\"1\", j=\"x\"}", 1.0)],
        },
        MatchCase {
            what: "a and nothing",
            op: And,
            lhs: a,
            rhs: &[],
            matching: one_to_one(),
            want: &[],
        },
        MatchCase {
            what: "a or on(i) b: all of a, and b where a has no match",
            op: Or,
            lhs: a,
            rhs: b,
            matching: on(&["i"], Cardinality::ManyToMany),
            want: &[
                ("a{i=\"1\", j=\"x\"}", 1.0),
                ("a{i=\"2\", j=\"x\"}", 2.0),
                ("b{i=\"3\", j=\"y\"}", 30.0),
            ],
        },
        MatchCase {
            what: "nothing or b",
            op: Or,
            lhs: &[],
            rhs: b,
            matching: one_to_one(),
            want: b,
        },
        MatchCase {
            what: "a or nothing",
            op: Or,
            lhs: a,
            rhs: &[],
            matching: one_to_one(),
            want: a,
        },
        MatchCase {
            what: "a unless on(i) b",
            op: Unless,
            lhs: a,
            rhs: b,
            matching: on(&["i"], Cardinality::ManyToMany),
            want: &[("a{i=\"2\", j=\"x\"}", 2.0)],
        },
        MatchCase {
            what: "a unless nothing",
            op: Unless,
            lhs: a,
            rhs: &[],
            matching: one_to_one(),
            want: a,
        },
        MatchCase {
            what: "a unless b: no label set in common",
            op: Unless,
            lhs: a,
            rhs: b,
            matching: one_to_one(),
            want: a,
        },
    ];
    for MatchCase {
        what,
        op,
        lhs,
        rhs,
        matching,
        want,
    } in cases
    {
        let got = vector_vector(op, vector(lhs), vector(rhs), &matching);
        let got = got.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_same(what, got, vector(want));
    }
}

/// Vectors over a small label space, so that matches and duplicates are frequent.
fn small_vector() -> impl Strategy<Value = Vector> {
    prop::collection::vec(
        (
            prop::sample::select(vec!["a", "b"]),
            0..4u8,
            prop::sample::select(vec!["", "x", "y"]),
            -100.0..100.0f64,
        ),
        0..8,
    )
    .prop_map(|elements| {
        elements
            .into_iter()
            .map(|(name, i, j, value)| Element {
                labels: Labels::new([
                    ("__name__", name.to_owned()),
                    ("i", i.to_string()),
                    ("j", j.to_owned()),
                ]),
                value,
            })
            .collect()
    })
}

fn unique_labels(v: Vector) -> Vector {
    let mut seen = HashSet::new();
    v.into_iter()
        .filter(|e| seen.insert(e.labels.clone()))
        .collect()
}

proptest! {
    #[test]
    fn or_contains_all_of_the_left_side(a in small_vector(), b in small_vector()) {
        let matching = on(&["i"], Cardinality::ManyToMany);
        let got = vector_vector(BinaryOp::Or, a.clone(), b.clone(), &matching).unwrap();
        for e in &a {
            prop_assert!(got.contains(e));
        }
        for e in &b {
            let matched = a.iter().any(|l| l.labels.get("i") == e.labels.get("i"));
            prop_assert_eq!(got.contains(e), !matched || a.contains(e));
        }
    }

    #[test]
    fn and_and_unless_split_the_left_side(a in small_vector(), b in small_vector()) {
        let matching = ignoring(&["j"], Cardinality::ManyToMany);
        let and = vector_vector(BinaryOp::And, a.clone(), b.clone(), &matching).unwrap();
        let unless = vector_vector(BinaryOp::Unless, a.clone(), b, &matching).unwrap();
        prop_assert_eq!(and.len() + unless.len(), a.len());
        for e in &a {
            prop_assert!(and.contains(e) != unless.contains(e));
        }
    }

    #[test]
    fn one_to_one_addition_is_a_join(a in small_vector(), b in small_vector()) {
        let (a, b) = (unique_labels(a), unique_labels(b));
        let key = |e: &Element| e.labels.without_metric_name();
        let got = vector_vector(BinaryOp::Add, a.clone(), b.clone(), &one_to_one());
        let unique = |v: &Vector| {
            let keys: HashSet<_> = v.iter().map(key).collect();
            keys.len() == v.len()
        };
        if !a.is_empty() && !b.is_empty() && !unique(&b) {
            prop_assert!(got.is_err());
            return Ok(());
        }
        let mut want = Vector::new();
        for l in &a {
            for r in b.iter().filter(|r| key(r) == key(l)) {
                want.push(Element { labels: key(l), value: l.value + r.value });
            }
        }
        // Several left series meeting one right series: Prometheus asks for group_left.
        if unique(&want) {
            assert_same("a + b", got.unwrap(), want);
        } else {
            prop_assert!(got.is_err());
        }
    }
}
