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

/// One table for arithmetic and comparisons between vectors: (what, op, lhs, rhs,
/// matching, result).
type Case = (
    &'static str,
    BinaryOp,
    &'static [(&'static str, f64)],
    &'static [(&'static str, f64)],
    Matching,
    &'static [(&'static str, f64)],
);

#[test]
fn vector_matching_builds_prometheus_label_sets() {
    use BinaryOp::*;
    let cases: Vec<Case> = vec![
        (
            "a + b: matched on all labels but the name, which is dropped",
            Add,
            &[
                ("a{i=\"1\"}", 1.0),
                ("a{i=\"2\"}", 2.0),
                ("a{i=\"3\"}", 3.0),
            ],
            &[("b{i=\"1\"}", 10.0), ("b{i=\"2\"}", 20.0)],
            one_to_one(),
            &[("{i=\"1\"}", 11.0), ("{i=\"2\"}", 22.0)],
        ),
        (
            "a - b: lhs minus rhs",
            Sub,
            &[("a{i=\"1\"}", 1.0)],
            &[("b{i=\"1\"}", 10.0)],
            one_to_one(),
            &[("{i=\"1\"}", -9.0)],
        ),
        (
            "a > b: filters, keeps the lhs name, labels and value",
            Gt,
            &[("a{i=\"1\"}", 5.0), ("a{i=\"2\"}", 1.0)],
            &[("b{i=\"1\"}", 3.0), ("b{i=\"2\"}", 3.0)],
            one_to_one(),
            &[("a{i=\"1\"}", 5.0)],
        ),
        (
            "a > bool b: 0/1 for every match, name dropped",
            Gt,
            &[("a{i=\"1\"}", 5.0), ("a{i=\"2\"}", 1.0)],
            &[("b{i=\"1\"}", 3.0), ("b{i=\"2\"}", 3.0)],
            with_bool(one_to_one()),
            &[("{i=\"1\"}", 1.0), ("{i=\"2\"}", 0.0)],
        ),
        (
            "a + on(i) b: only the on labels remain",
            Add,
            &[("a{i=\"1\", j=\"x\"}", 1.0)],
            &[("b{i=\"1\", j=\"y\"}", 2.0)],
            on(&["i"], Cardinality::OneToOne),
            &[("{i=\"1\"}", 3.0)],
        ),
        (
            "a == on(i) b: a comparison also keeps only the on labels (and loses the name)",
            Eq,
            &[("a{i=\"1\", j=\"x\"}", 2.0)],
            &[("b{i=\"1\", j=\"y\"}", 2.0)],
            on(&["i"], Cardinality::OneToOne),
            &[("{i=\"1\"}", 2.0)],
        ),
        (
            "a == on(__name__, i) b: the name can be matched on",
            Eq,
            &[("a{i=\"1\", j=\"x\"}", 2.0)],
            &[("a{i=\"1\", j=\"y\"}", 2.0), ("b{i=\"1\"}", 2.0)],
            on(&["__name__", "i"], Cardinality::OneToOne),
            &[("a{i=\"1\"}", 2.0)],
        ),
        (
            "a - ignoring(j) b: all but the ignored labels and the name",
            Sub,
            &[("a{i=\"1\", j=\"x\", k=\"z\"}", 5.0)],
            &[("b{i=\"1\", j=\"y\", k=\"z\"}", 2.0)],
            ignoring(&["j"], Cardinality::OneToOne),
            &[("{i=\"1\", k=\"z\"}", 3.0)],
        ),
        (
            "a < ignoring(j) b: the comparison keeps the name",
            Lt,
            &[("a{i=\"1\", j=\"x\"}", 1.0)],
            &[("b{i=\"1\", j=\"y\"}", 2.0)],
            ignoring(&["j"], Cardinality::OneToOne),
            &[("a{i=\"1\"}", 1.0)],
        ),
        (
            "a * on(i) group_left(team) info: many lhs per rhs, team copied over",
            Mul,
            &[
                ("a{i=\"1\", j=\"x\"}", 2.0),
                ("a{i=\"1\", j=\"y\", team=\"old\"}", 3.0),
                ("a{i=\"2\", j=\"x\"}", 4.0),
            ],
            &[("info{i=\"1\", team=\"db\", other=\"o\"}", 10.0)],
            on(
                &["i"],
                Cardinality::ManyToOne {
                    include: include(&["team"]),
                },
            ),
            &[
                ("{i=\"1\", j=\"x\", team=\"db\"}", 20.0),
                ("{i=\"1\", j=\"y\", team=\"db\"}", 30.0),
            ],
        ),
        (
            "group_left(team) where the one side lacks team: team removed",
            Add,
            &[("a{i=\"1\", team=\"old\"}", 1.0)],
            &[("info{i=\"1\"}", 1.0)],
            on(
                &["i"],
                Cardinality::ManyToOne {
                    include: include(&["team"]),
                },
            ),
            &[("{i=\"1\"}", 2.0)],
        ),
        (
            "a > on(i) group_left info: the many side's labels, name kept",
            Gt,
            &[("a{i=\"1\", j=\"x\"}", 2.0), ("a{i=\"1\", j=\"y\"}", 30.0)],
            &[("info{i=\"1\"}", 10.0)],
            on(&["i"], Cardinality::ManyToOne { include: vec![] }),
            &[("a{i=\"1\", j=\"y\"}", 30.0)],
        ),
        (
            "info - on(i) group_right(team) a: rhs labels, lhs minus rhs",
            Sub,
            &[("info{i=\"1\", team=\"db\"}", 10.0)],
            &[("a{i=\"1\", j=\"x\"}", 2.0), ("a{i=\"1\", j=\"y\"}", 3.0)],
            on(
                &["i"],
                Cardinality::OneToMany {
                    include: include(&["team"]),
                },
            ),
            &[
                ("{i=\"1\", j=\"x\", team=\"db\"}", 8.0),
                ("{i=\"1\", j=\"y\", team=\"db\"}", 7.0),
            ],
        ),
        (
            "info > on(i) group_right a: rhs labels, but the lhs (one side) value",
            Gt,
            &[("info{i=\"1\"}", 5.0)],
            &[("a{i=\"1\", j=\"x\"}", 3.0), ("a{i=\"1\", j=\"y\"}", 7.0)],
            on(&["i"], Cardinality::OneToMany { include: vec![] }),
            &[("a{i=\"1\", j=\"x\"}", 5.0)],
        ),
        (
            "duplicates on the lhs are fine when the filter lets only one through",
            Gt,
            &[("a{i=\"1\", j=\"x\"}", 1.0), ("a{i=\"1\", j=\"y\"}", 9.0)],
            &[("b{i=\"1\"}", 5.0)],
            on(&["i"], Cardinality::OneToOne),
            &[("{i=\"1\"}", 9.0)],
        ),
        (
            "an empty side gives nothing, without looking for duplicates",
            Add,
            &[("a{i=\"1\"}", 1.0), ("a{i=\"1\", j=\"x\"}", 1.0)],
            &[],
            on(&["i"], Cardinality::OneToOne),
            &[],
        ),
        (
            "NaN compares unequal",
            Eq,
            &[("a{i=\"1\"}", f64::NAN)],
            &[("b{i=\"1\"}", f64::NAN)],
            one_to_one(),
            &[],
        ),
    ];
    for (what, op, lhs, rhs, matching, want) in cases {
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
    let cases: Vec<Case> = vec![
        (
            "a and b: no label set in common",
            And,
            a,
            b,
            one_to_one(),
            &[],
        ),
        (
            "a and same: the name is ignored",
            And,
            a,
            same,
            one_to_one(),
            &[("a{i=\"1\", j=\"x\"}", 1.0)],
        ),
        (
            "a and on(i) b",
            And,
            a,
            b,
            on(&["i"], Cardinality::ManyToMany),
            &[("a{i=\"1\", j=\"x\"}", 1.0)],
        ),
        (
            "a and ignoring(j) b",
            And,
            a,
            b,
            ignoring(&["j"], Cardinality::ManyToMany),
            &[("a{i=\"1\", j=\"x\"}", 1.0)],
        ),
        ("a and nothing", And, a, &[], one_to_one(), &[]),
        (
            "a or on(i) b: all of a, and b where a has no match",
            Or,
            a,
            b,
            on(&["i"], Cardinality::ManyToMany),
            &[
                ("a{i=\"1\", j=\"x\"}", 1.0),
                ("a{i=\"2\", j=\"x\"}", 2.0),
                ("b{i=\"3\", j=\"y\"}", 30.0),
            ],
        ),
        ("nothing or b", Or, &[], b, one_to_one(), b),
        ("a or nothing", Or, a, &[], one_to_one(), a),
        (
            "a unless on(i) b",
            Unless,
            a,
            b,
            on(&["i"], Cardinality::ManyToMany),
            &[("a{i=\"2\", j=\"x\"}", 2.0)],
        ),
        ("a unless nothing", Unless, a, &[], one_to_one(), a),
        (
            "a unless b: no label set in common",
            Unless,
            a,
            b,
            one_to_one(),
            a,
        ),
    ];
    for (what, op, lhs, rhs, matching, want) in cases {
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
