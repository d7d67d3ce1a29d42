//! Binary operators with a scalar against Prometheus 2.42's behaviour: Go's float
//! semantics between scalars, and what a vector-scalar operation keeps, drops and filters.

use super::*;

use super::test_vectors::{assert_same, close, vector};

#[test]
fn scalar_operations_follow_go_float_semantics() {
    use BinaryOp::*;
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    let cases: &[(BinaryOp, f64, f64, f64)] = &[
        (Add, 1.5, 2.0, 3.5),
        (Sub, 1.0, 3.0, -2.0),
        (Mul, -2.0, 4.0, -8.0),
        (Div, 1.0, 0.0, inf),
        (Div, -1.0, 0.0, -inf),
        (Div, 0.0, 0.0, nan),
        (Mod, 5.0, 3.0, 2.0),
        (Mod, -5.0, 3.0, -2.0),
        (Mod, 5.0, -3.0, 2.0),
        (Mod, 5.5, inf, 5.5),
        (Mod, inf, 3.0, nan),
        (Mod, 5.0, 0.0, nan),
        (Pow, 2.0, 10.0, 1024.0),
        (Pow, -8.0, 1.0 / 3.0, nan),
        (Pow, 0.0, -1.0, inf),
        (Pow, nan, 0.0, 1.0),
        (Pow, 1.0, nan, 1.0),
        (Pow, -1.0, inf, 1.0),
        (Eq, 1.0, 1.0, 1.0),
        (Eq, nan, nan, 0.0),
        (Ne, nan, nan, 1.0),
        (Gt, 2.0, 1.0, 1.0),
        (Lt, 2.0, 1.0, 0.0),
        (Ge, 1.0, 1.0, 1.0),
        (Le, inf, 1.0, 0.0),
    ];
    for &(op, lhs, rhs, want) in cases {
        let got = scalar_scalar(op, lhs, rhs, true);
        assert!(close(got, want), "{lhs} {op:?} {rhs} = {got}, want {want}");
    }
}

/// A vector-scalar operation on a fixed vector, and the vector it gives.
struct ScalarCase {
    op: BinaryOp,
    scalar: f64,
    /// Whether the scalar is the left operand, as in `2 > x`.
    scalar_on_left: bool,
    /// The result as (series text, value) pairs.
    want: &'static [(&'static str, f64)],
}

#[test]
fn vector_scalar_arithmetic_drops_the_name_and_keeps_operand_order() {
    use BinaryOp::*;
    let x = || vector(&[("x{i=\"1\"}", 2.0), ("x{i=\"2\"}", 5.0)]);
    let cases = [
        ScalarCase {
            op: Mul,
            scalar: 3.0,
            scalar_on_left: false,
            want: &[("{i=\"1\"}", 6.0), ("{i=\"2\"}", 15.0)],
        },
        ScalarCase {
            op: Sub,
            scalar: 1.0,
            scalar_on_left: false,
            want: &[("{i=\"1\"}", 1.0), ("{i=\"2\"}", 4.0)],
        },
        ScalarCase {
            op: Sub,
            scalar: 1.0,
            scalar_on_left: true,
            want: &[("{i=\"1\"}", -1.0), ("{i=\"2\"}", -4.0)],
        },
        ScalarCase {
            op: Div,
            scalar: 10.0,
            scalar_on_left: true,
            want: &[("{i=\"1\"}", 5.0), ("{i=\"2\"}", 2.0)],
        },
        ScalarCase {
            op: Pow,
            scalar: 2.0,
            scalar_on_left: true,
            want: &[("{i=\"1\"}", 4.0), ("{i=\"2\"}", 32.0)],
        },
        ScalarCase {
            op: Mod,
            scalar: 3.0,
            scalar_on_left: false,
            want: &[("{i=\"1\"}", 2.0), ("{i=\"2\"}", 2.0)],
        },
        ScalarCase {
            op: Div,
            scalar: 0.0,
            scalar_on_left: false,
            want: &[("{i=\"1\"}", f64::INFINITY), ("{i=\"2\"}", f64::INFINITY)],
        },
    ];
    for ScalarCase {
        op,
        scalar,
        scalar_on_left,
        want,
    } in cases
    {
        let got = vector_scalar(op, x(), scalar, scalar_on_left, false);
        let what = format!("{op:?} {scalar} (scalar on left: {scalar_on_left})");
        assert_same(&what, got, vector(want));
    }
}

#[test]
fn vector_scalar_comparisons_filter_and_keep_the_vector_value() {
    use BinaryOp::*;
    let x = || {
        vector(&[
            ("x{i=\"1\"}", 1.0),
            ("x{i=\"2\"}", 3.0),
            ("x{i=\"3\"}", f64::NAN),
        ])
    };
    let cases = [
        ScalarCase {
            op: Gt,
            scalar: 2.0,
            scalar_on_left: false,
            want: &[("x{i=\"2\"}", 3.0)],
        },
        // `2 > x`: the scalar is on the left, the value is still x's.
        ScalarCase {
            op: Gt,
            scalar: 2.0,
            scalar_on_left: true,
            want: &[("x{i=\"1\"}", 1.0)],
        },
        ScalarCase {
            op: Le,
            scalar: 3.0,
            scalar_on_left: false,
            want: &[("x{i=\"1\"}", 1.0), ("x{i=\"2\"}", 3.0)],
        },
        ScalarCase {
            op: Eq,
            scalar: f64::NAN,
            scalar_on_left: false,
            want: &[],
        },
        ScalarCase {
            op: Ne,
            scalar: f64::NAN,
            scalar_on_left: false,
            want: &[
                ("x{i=\"1\"}", 1.0),
                ("x{i=\"2\"}", 3.0),
                ("x{i=\"3\"}", f64::NAN),
            ],
        },
    ];
    for ScalarCase {
        op,
        scalar,
        scalar_on_left,
        want,
    } in cases
    {
        let got = vector_scalar(op, x(), scalar, scalar_on_left, false);
        let what = format!("{op:?} {scalar} (scalar on left: {scalar_on_left})");
        assert_same(&what, got, vector(want));
    }
}

#[test]
fn vector_scalar_bool_gives_zero_or_one_without_the_name() {
    let x = vector(&[
        ("x{i=\"1\"}", 1.0),
        ("x{i=\"2\"}", 3.0),
        ("x{i=\"3\"}", f64::NAN),
    ]);
    let got = vector_scalar(BinaryOp::Gt, x, 2.0, false, true);
    assert_same(
        "x > bool 2",
        got,
        vector(&[("{i=\"1\"}", 0.0), ("{i=\"2\"}", 1.0), ("{i=\"3\"}", 0.0)]),
    );
}
