//! Test helpers for the operator tests: vectors written in Prometheus's notation, and
//! results compared whatever their order.

use crate::promql::{Element, Labels, Vector};

/// Labels from Prometheus's notation: `up{job="a", instance="1"}`, `{job="a"}`, `up`.
pub fn labels(text: &str) -> Labels {
    let (name, rest) = text.split_once('{').unwrap_or((text, "}"));
    let body = rest.strip_suffix('}').expect("label set ends with }");
    let mut pairs = vec![("__name__".to_owned(), name.trim().to_owned())];
    for pair in body.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (n, v) = pair.split_once('=').expect("label is name=\"value\"");
        pairs.push((n.trim().to_owned(), v.trim().trim_matches('"').to_owned()));
    }
    Labels::new(pairs)
}

/// A vector from (labels, value) pairs, in the given order.
pub fn vector(elements: &[(&str, f64)]) -> Vector {
    elements
        .iter()
        .map(|&(text, value)| Element {
            labels: labels(text),
            value,
        })
        .collect()
}

/// The same elements in any order; values equal to 1e-12 relative, NaN equal to NaN.
#[track_caller]
pub fn assert_same(what: &str, got: Vector, want: Vector) {
    let sorted = |mut v: Vector| {
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    };
    let (got, want) = (sorted(got), sorted(want));
    let show = |v: &Vector| {
        v.iter()
            .map(|e| format!("{} {}", e.labels, e.value))
            .collect::<Vec<_>>()
            .join("\n  ")
    };
    let same = got.len() == want.len()
        && got
            .iter()
            .zip(&want)
            .all(|(g, w)| g.labels == w.labels && close(g.value, w.value));
    assert!(
        same,
        "{what}\ngot:\n  {}\nwant:\n  {}",
        show(&got),
        show(&want)
    );
}

pub fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}
