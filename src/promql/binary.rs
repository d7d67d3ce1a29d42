//! Binary operators: between two scalars, between a vector and a scalar, and between two
//! vectors with vector matching (`on`/`ignoring`, `group_left`/`group_right`) and the set
//! operators (`and`, `or`, `unless`).
//!
//! In: the operands of one evaluation step. Out: the step's result, or Prometheus's error
//! for an ambiguous match. Pure functions over [`Vector`]s; they own no state.
//!
//! The semantics are Prometheus 2.42's `promql/engine.go` (`scalarBinop`,
//! `vectorElemBinop`, `VectorscalarBinop`, `VectorBinop`, `VectorAnd`, `VectorOr`,
//! `VectorUnless`, `signatureFunc`, `resultMetric`, `shouldDropMetricName`), followed
//! step for step where the step decides which elements, labels or errors come out.
//! Duplicate output label sets (e.g. `a + 1` over two metric names with equal other
//! labels) are not detected here: Prometheus checks every step's result for them
//! (`ContainsSameLabelset`), and so must the evaluator.

use std::collections::hash_map::Entry;
use std::fmt::Write as _;

use super::{Element, EvalError, Labels, LabelsMap, LabelsSet, METRIC_NAME, Vector};

/// The binary operators PromQL knows for numbers (`atan2` is not supported).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl BinaryOp {
    /// `==`, `!=`, `>`, `<`, `>=`, `<=`: they filter, or give 0/1 with `bool`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Gt | BinaryOp::Lt | BinaryOp::Ge | BinaryOp::Le
        )
    }

    /// `and`, `or`, `unless`: defined between vectors only.
    pub fn is_set(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }

    /// Prometheus's `shouldDropMetricName`: arithmetic drops `__name__`; comparisons
    /// (without `bool`) and set operators keep it.
    fn drops_metric_name(self) -> bool {
        matches!(
            self,
            BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Mul
                | BinaryOp::Div
                | BinaryOp::Mod
                | BinaryOp::Pow
        )
    }
}

/// Which side may hold several series per match group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cardinality {
    OneToOne,
    /// `group_left(include...)`: the left side is the "many" side; `include` labels are
    /// copied from the right ("one") side.
    ManyToOne {
        include: Vec<String>,
    },
    /// `group_right(include...)`: the mirror image of [`Cardinality::ManyToOne`].
    OneToMany {
        include: Vec<String>,
    },
    /// The set operators' matching; for other operators it is read as one-to-one.
    ManyToMany,
}

/// The vector-matching clause of a binary expression between two vectors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matching {
    /// `on(labels)` when true, `ignoring(labels)` (or no clause, with no labels) when false.
    pub on: bool,
    pub labels: Vec<String>,
    pub cardinality: Cardinality,
    /// The `bool` modifier of a comparison.
    pub return_bool: bool,
}

/// `lhs op rhs` between two scalars. A comparison always gives 0 or 1: Prometheus's
/// parser requires `bool` there, so `_return_bool` changes nothing. The set operators are
/// not defined between scalars (the checker rejects them) and give NaN.
pub fn scalar_scalar(op: BinaryOp, lhs: f64, rhs: f64, _return_bool: bool) -> f64 {
    let (value, keep) = element_op(op, lhs, rhs);
    if op.is_comparison() {
        bool_value(keep)
    } else {
        value
    }
}

/// `vector op scalar`, or `scalar op vector` when `scalar_on_left`.
///
/// A comparison without `bool` keeps the elements for which it holds, with their labels
/// (name included) and the *vector's* value, whichever side the scalar is on. With
/// `bool` every element stays, valued 0 or 1, without its name; arithmetic drops the
/// name too. The set operators are not defined with a scalar (the checker rejects them)
/// and give an empty vector.
pub fn vector_scalar(
    op: BinaryOp,
    vector: Vector,
    scalar: f64,
    scalar_on_left: bool,
    return_bool: bool,
) -> Vector {
    if op.is_set() {
        return Vector::new();
    }
    vector
        .into_iter()
        .filter_map(|mut element| {
            let (lhs, rhs) = if scalar_on_left {
                (scalar, element.value)
            } else {
                (element.value, scalar)
            };
            let (mut value, mut keep) = element_op(op, lhs, rhs);
            if op.is_comparison() && scalar_on_left {
                value = rhs;
            }
            if return_bool {
                value = bool_value(keep);
                keep = true;
            }
            if !keep {
                return None;
            }
            element.value = value;
            if op.drops_metric_name() || return_bool {
                element.labels = element.labels.without_metric_name();
            }
            Some(element)
        })
        .collect()
}

/// `lhs op rhs` between two vectors, matched as `matching` says.
///
/// Errors, with Prometheus's wording: several series of one match group on the "one"
/// side; several matches of one "many"-side series group in one-to-one matching; two
/// results with one label set in a match group of many-to-one matching.
pub fn vector_vector(
    op: BinaryOp,
    lhs: Vector,
    rhs: Vector,
    matching: &Matching,
) -> Result<Vector, EvalError> {
    let signature = Signature::new(matching);
    Ok(match op {
        BinaryOp::And => and(lhs, rhs, &signature),
        BinaryOp::Or => or(lhs, rhs, &signature),
        BinaryOp::Unless => unless(lhs, rhs, &signature),
        _ => return matched(op, lhs, rhs, matching, &signature),
    })
}

/// The labels two series must share to match (`signatureFunc`): the `on` labels, or all
/// but the `ignoring` labels and `__name__`.
struct Signature<'a> {
    on: bool,
    /// The `on` labels, or the `ignoring` labels plus `__name__`.
    names: Vec<&'a str>,
}

impl<'a> Signature<'a> {
    fn new(matching: &'a Matching) -> Signature<'a> {
        let mut names: Vec<&str> = matching.labels.iter().map(String::as_str).collect();
        if !matching.on {
            names.push(METRIC_NAME);
        }
        Signature {
            on: matching.on,
            names,
        }
    }

    /// Also the "match group" Prometheus prints in its errors (`MatchLabels`), which
    /// keeps and drops exactly the same labels.
    fn of(&self, labels: &Labels) -> Labels {
        if self.on {
            labels.keeping(&self.names)
        } else {
            labels.without(&self.names)
        }
    }
}

/// `VectorAnd`: the left elements with a match on the right, unchanged.
fn and(lhs: Vector, rhs: Vector, signature: &Signature) -> Vector {
    if lhs.is_empty() || rhs.is_empty() {
        return Vector::new();
    }
    let right: LabelsSet = rhs.iter().map(|e| signature.of(&e.labels)).collect();
    lhs.into_iter()
        .filter(|e| right.contains(&signature.of(&e.labels)))
        .collect()
}

/// `VectorOr`: all left elements, then the right elements whose match group has no
/// left element, all unchanged.
fn or(mut lhs: Vector, rhs: Vector, signature: &Signature) -> Vector {
    if lhs.is_empty() {
        return rhs;
    }
    if rhs.is_empty() {
        return lhs;
    }
    let left: LabelsSet = lhs.iter().map(|e| signature.of(&e.labels)).collect();
    lhs.extend(
        rhs.into_iter()
            .filter(|e| !left.contains(&signature.of(&e.labels))),
    );
    lhs
}

/// `VectorUnless`: the left elements without a match on the right, unchanged.
fn unless(lhs: Vector, rhs: Vector, signature: &Signature) -> Vector {
    if lhs.is_empty() || rhs.is_empty() {
        return lhs;
    }
    let right: LabelsSet = rhs.iter().map(|e| signature.of(&e.labels)).collect();
    lhs.into_iter()
        .filter(|e| !right.contains(&signature.of(&e.labels)))
        .collect()
}

/// `VectorBinop`: arithmetic and comparisons between matched elements.
fn matched(
    op: BinaryOp,
    lhs: Vector,
    rhs: Vector,
    matching: &Matching,
    signature: &Signature,
) -> Result<Vector, EvalError> {
    // Nothing can match, and Prometheus returns before looking for duplicates.
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vector::new());
    }
    // Prometheus handles one-to-many as many-to-one with the sides swapped, swapping
    // the values back for the operation.
    let (one_to_many, include): (bool, &[String]) = match &matching.cardinality {
        Cardinality::OneToOne | Cardinality::ManyToMany => (false, &[]),
        Cardinality::ManyToOne { include } => (false, include),
        Cardinality::OneToMany { include } => (true, include),
    };
    let one_to_one = matches!(
        matching.cardinality,
        Cardinality::OneToOne | Cardinality::ManyToMany
    );
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };

    // The whole "one" side must be unique per match group, matched or not.
    let mut one_by_group: LabelsMap<&Element> =
        LabelsMap::with_capacity_and_hasher(one.len(), Default::default());
    for element in &one {
        match one_by_group.entry(signature.of(&element.labels)) {
            Entry::Occupied(earlier) => {
                let side = if one_to_many { "left" } else { "right" };
                return Err(EvalError::Matching(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the \
                     operation: [{}, {}];many-to-many matching not allowed: matching labels must be \
                     unique on one side",
                    go_labels(earlier.key()),
                    go_labels(&element.labels),
                    go_labels(&earlier.get().labels),
                )));
            }
            Entry::Vacant(slot) => {
                slot.insert(element);
            }
        }
    }

    // Per match group that produced output: nothing (one-to-one), or the output label
    // sets so far (many-to-one). Only elements that pass a filtering comparison count.
    let mut produced: LabelsMap<LabelsSet> = LabelsMap::default();
    let mut out = Vector::with_capacity(many.len());
    for element in &many {
        let group = signature.of(&element.labels);
        let Some(partner) = one_by_group.get(&group) else {
            continue;
        };
        let (left, right) = if one_to_many {
            (partner.value, element.value)
        } else {
            (element.value, partner.value)
        };
        let (mut value, keep) = element_op(op, left, right);
        if matching.return_bool {
            value = bool_value(keep);
        } else if !keep {
            continue;
        }
        let mut labels = result_labels(
            &element.labels,
            &partner.labels,
            op,
            matching,
            one_to_one,
            include,
        );
        if matching.return_bool {
            labels = labels.without_metric_name();
        }
        match produced.entry(group) {
            Entry::Occupied(_) if one_to_one => {
                return Err(EvalError::Matching(
                    "multiple matches for labels: many-to-one matching must be explicit \
                     (group_left/group_right)"
                        .to_owned(),
                ));
            }
            Entry::Occupied(mut outputs) => {
                if !outputs.get_mut().insert(labels.clone()) {
                    return Err(EvalError::Matching(
                        "multiple matches for labels: grouping labels must ensure unique matches"
                            .to_owned(),
                    ));
                }
            }
            Entry::Vacant(slot) => {
                let outputs = slot.insert(LabelsSet::default());
                if !one_to_one {
                    outputs.insert(labels.clone());
                }
            }
        }
        out.push(Element { labels, value });
    }
    Ok(out)
}

/// `resultMetric`: the "many" side's labels, without `__name__` for arithmetic, cut to
/// the `on` labels or without the `ignoring` labels in one-to-one matching, with the
/// `group_x` include labels taken from the "one" side (removed where it lacks them).
fn result_labels(
    many: &Labels,
    one: &Labels,
    op: BinaryOp,
    matching: &Matching,
    one_to_one: bool,
    include: &[String],
) -> Labels {
    let mut labels = if op.drops_metric_name() {
        many.without_metric_name()
    } else {
        many.clone()
    };
    if one_to_one {
        labels = if matching.on {
            labels.keeping(&matching.labels)
        } else {
            labels.without(&matching.labels)
        };
    }
    for name in include {
        labels = labels.with(name, one.get(name).unwrap_or(""));
    }
    labels
}

/// `vectorElemBinop`: the value and whether the element stays. A comparison keeps the
/// left value. Go's `math.Mod` and Rust's `%` are both the exact IEEE remainder with the
/// dividend's sign; `powf` may differ from Go's `math.Pow` in the last bits.
fn element_op(op: BinaryOp, lhs: f64, rhs: f64) -> (f64, bool) {
    match op {
        BinaryOp::Add => (lhs + rhs, true),
        BinaryOp::Sub => (lhs - rhs, true),
        BinaryOp::Mul => (lhs * rhs, true),
        BinaryOp::Div => (lhs / rhs, true),
        BinaryOp::Mod => (lhs % rhs, true),
        BinaryOp::Pow => (lhs.powf(rhs), true),
        BinaryOp::Eq => (lhs, lhs == rhs),
        BinaryOp::Ne => (lhs, lhs != rhs),
        BinaryOp::Gt => (lhs, lhs > rhs),
        BinaryOp::Lt => (lhs, lhs < rhs),
        BinaryOp::Ge => (lhs, lhs >= rhs),
        BinaryOp::Le => (lhs, lhs <= rhs),
        BinaryOp::And | BinaryOp::Or | BinaryOp::Unless => (f64::NAN, false),
    }
}

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// A label set as Go's `labels.Labels.String()` prints it in Prometheus's errors:
/// `{__name__="up", job="node"}`, values quoted as by `strconv.Quote`.
fn go_labels(labels: &Labels) -> String {
    let mut text = String::from("{");
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str(name);
        text.push('=');
        go_quote(value, &mut text);
    }
    text.push('}');
    text
}

/// Go's `strconv.Quote` for valid UTF-8. Non-ASCII characters are kept as they are
/// unless they are control characters; Go also escapes a few other non-printable ones
/// (e.g. U+200B), which label values practically never hold.
fn go_quote(value: &str, out: &mut String) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[path = "binary_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "binary_scalar_tests.rs"]
mod scalar_tests;

/// Vectors in Prometheus's notation and order-free comparison, for the operator tests
/// here and in `aggregate`.
#[cfg(test)]
#[path = "test_vectors.rs"]
pub(super) mod test_vectors;
