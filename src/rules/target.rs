//! Splits an alerting rule's expression into its signal, comparison and threshold.

use std::collections::BTreeMap;
use std::time::Duration;

use promql_parser::parser::{self, Expr};

use crate::promql::{Plan, format_value};

/// Which side of the threshold is the alert side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `signal < threshold` (or `<=`): the rule fires when the signal falls.
    Below,
    /// `signal > threshold` (or `>=`): the rule fires when the signal rises.
    Above,
}

/// One alerting rule to predict.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub alert: String,
    /// The expression without its comparison, as PromQL text.
    pub signal: String,
    pub comparison: Comparison,
    /// Whether the threshold itself is on the alert side (`<=`, `>=`).
    pub inclusive: bool,
    pub threshold: f64,
    /// The rule's `for`: how long the condition must hold before it fires.
    pub hold: Duration,
    pub keep_firing_for: Duration,
    /// How far ahead it is predicted: the pipeline's `horizons`.
    pub horizon: Duration,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl Target {
    /// The rule's condition, `signal <op> threshold`.
    pub fn condition(&self) -> String {
        let op = match (self.comparison, self.inclusive) {
            (Comparison::Below, false) => "<",
            (Comparison::Below, true) => "<=",
            (Comparison::Above, false) => ">",
            (Comparison::Above, true) => ">=",
        };
        format!("{} {op} {}", self.signal, format_value(self.threshold))
    }
}

/// Splits `signal <op> number` (or `number <op> signal`) into a target whose alert name,
/// durations, labels and annotations are left empty for the caller to fill. The signal
/// must itself be an expression harbinger evaluates.
pub fn split_rule(expr: &str) -> Result<Target, String> {
    let not_split = || {
        format!(
            "the expression `{expr}` is not `<signal> <comparison> <number>`, so it has no threshold to predict"
        )
    };
    let parsed = parser::parse(expr).map_err(|e| format!("cannot parse `{expr}`: {e}"))?;
    let Expr::Binary(binary) = strip_parens(&parsed) else {
        return Err(not_split());
    };
    if binary.modifier.as_ref().is_some_and(|m| m.return_bool) {
        return Err(not_split());
    }
    let op = binary.op.to_string();
    let (signal, threshold, op): (&Expr, f64, String) =
        match (number(&binary.lhs), number(&binary.rhs)) {
            (None, Some(threshold)) => (&binary.lhs, threshold, op),
            (Some(threshold), None) => (&binary.rhs, threshold, flipped(&op)),
            _ => return Err(not_split()),
        };
    let (comparison, inclusive) = match op.as_str() {
        "<" => (Comparison::Below, false),
        "<=" => (Comparison::Below, true),
        ">" => (Comparison::Above, false),
        ">=" => (Comparison::Above, true),
        _ => return Err(not_split()),
    };
    let signal = signal.to_string();
    Plan::parse(&signal).map_err(|e| e.to_string())?;
    Ok(Target {
        alert: String::new(),
        signal,
        comparison,
        inclusive,
        threshold,
        hold: Duration::ZERO,
        keep_firing_for: Duration::ZERO,
        horizon: Duration::ZERO,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
    })
}

fn strip_parens(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(paren) = expr {
        expr = &paren.expr;
    }
    expr
}

fn number(expr: &Expr) -> Option<f64> {
    Plan::parse(&expr.to_string()).ok()?.constant()
}

/// The same comparison with its sides swapped: `10 > x` is `x < 10`.
fn flipped(op: &str) -> String {
    match op {
        "<" => ">",
        ">" => "<",
        "<=" => ">=",
        ">=" => "<=",
        other => other,
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_either_side_and_every_comparison() {
        let cases = [
            ("x < 10", Comparison::Below, false, 10.0),
            ("x >= 0.9", Comparison::Above, true, 0.9),
            ("(x * 100) / y <= 5", Comparison::Below, true, 5.0),
            ("80 < rate(x[1m])", Comparison::Above, false, 80.0),
            ("x > 4 * 1024", Comparison::Above, false, 4096.0),
        ];
        for (expr, comparison, inclusive, threshold) in cases {
            let target = split_rule(expr).unwrap();
            assert_eq!(
                (target.comparison, target.inclusive, target.threshold),
                (comparison, inclusive, threshold),
                "{expr}"
            );
        }
        assert_eq!(
            split_rule("80 < rate(x[1m])").unwrap().signal,
            "rate(x[1m])"
        );
    }

    #[test]
    fn refuses_what_has_no_threshold() {
        for expr in [
            "up == 0",
            "x > y",
            "x > bool 3",
            "absent(up)",
            "x < 10 and y",
        ] {
            assert!(split_rule(expr).is_err(), "{expr}");
        }
        let unsupported = split_rule("holt_winters_like(x) < 3").unwrap_err();
        assert!(unsupported.contains("cannot parse"), "{unsupported}");
    }
}
