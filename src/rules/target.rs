//! Splits an alerting rule's expression into its signal, comparison, threshold and
//! filter.

use std::collections::BTreeMap;
use std::time::Duration;

use promql_parser::parser::{self, BinaryExpr, Expr, NumberLiteral, ParenExpr};

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
    /// What the rule keeps of the compared series, after the comparison: `and on
    /// (instance) node_filesystem_readonly == 0` (an `and` or `unless`); None when the
    /// rule is the comparison alone.
    pub filter: Option<String>,
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
    /// The rule's condition, `signal <op> threshold [filter]`.
    pub fn condition(&self) -> String {
        let op = match (self.comparison, self.inclusive) {
            (Comparison::Below, false) => "<",
            (Comparison::Below, true) => "<=",
            (Comparison::Above, false) => ">",
            (Comparison::Above, true) => ">=",
        };
        let condition = format!("{} {op} {}", self.signal, format_value(self.threshold));
        match &self.filter {
            Some(filter) => format!("{condition} {filter}"),
            None => condition,
        }
    }

    /// What is evaluated and predicted: the signal of the series the filter keeps.
    pub fn expression(&self) -> String {
        match &self.filter {
            Some(filter) => format!("({}) {filter}", self.signal),
            None => self.signal.clone(),
        }
    }
}

/// Splits `signal <op> number` (or `number <op> signal`), optionally followed by a filter
/// (`... and on (instance) other == 0`, or `unless`), into a target whose alert name,
/// durations, labels and annotations are left empty for the caller to fill. The signal
/// with its filter must be an expression harbinger evaluates.
pub fn split_rule(expr: &str) -> Result<Target, String> {
    let not_split = || {
        format!(
            "the expression `{expr}` is not `<signal> <comparison> <number>` (optionally followed by `and` or `unless` and a filter), so it has no threshold to predict"
        )
    };
    let parsed = parser::parse(expr).map_err(|e| format!("cannot parse `{expr}`: {e}"))?;
    let Expr::Binary(binary) = strip_parens(&parsed) else {
        return Err(not_split());
    };
    let (comparison, filter) = match binary.op.to_string().as_str() {
        "and" | "unless" => {
            let Expr::Binary(compared) = strip_parens(&binary.lhs) else {
                return Err(not_split());
            };
            // The filter as Prometheus prints it, after a stand-in for the signal.
            let stand_in = Expr::Paren(ParenExpr {
                expr: Box::new(Expr::NumberLiteral(NumberLiteral { val: 0.0 })),
            });
            let filtered = BinaryExpr {
                lhs: Box::new(stand_in.clone()),
                ..binary.clone()
            };
            let text = Expr::Binary(filtered).to_string();
            let filter = text
                .strip_prefix(&format!("{stand_in} "))
                .map(str::to_owned);
            (compared, filter)
        }
        _ => (binary, None),
    };
    if comparison.modifier.as_ref().is_some_and(|m| m.return_bool) {
        return Err(not_split());
    }
    let op = comparison.op.to_string();
    let (signal, threshold, op): (&Expr, f64, String) =
        match (number(&comparison.lhs), number(&comparison.rhs)) {
            (None, Some(threshold)) => (&comparison.lhs, threshold, op),
            (Some(threshold), None) => (&comparison.rhs, threshold, flipped(&op)),
            _ => return Err(not_split()),
        };
    let (comparison, inclusive) = match op.as_str() {
        "<" => (Comparison::Below, false),
        "<=" => (Comparison::Below, true),
        ">" => (Comparison::Above, false),
        ">=" => (Comparison::Above, true),
        _ => return Err(not_split()),
    };
    let target = Target {
        alert: String::new(),
        signal: signal.to_string(),
        filter,
        comparison,
        inclusive,
        threshold,
        hold: Duration::ZERO,
        keep_firing_for: Duration::ZERO,
        horizon: Duration::ZERO,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
    };
    Plan::parse(&target.expression()).map_err(|e| e.to_string())?;
    Ok(target)
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
    fn a_filter_after_the_comparison_is_kept_apart_and_applied() {
        let rule = "(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes < 10 and ON (instance, device, mountpoint) node_filesystem_readonly == 0";
        let target = split_rule(rule).unwrap();
        assert_eq!(
            target.signal,
            "(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes"
        );
        assert_eq!(
            (target.comparison, target.threshold),
            (Comparison::Below, 10.0)
        );
        assert_eq!(
            target.filter.as_deref(),
            Some("and on (instance, device, mountpoint) node_filesystem_readonly == 0")
        );
        assert_eq!(
            target.expression(),
            "((node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes) and on (instance, device, mountpoint) node_filesystem_readonly == 0"
        );
        let unless = split_rule("10 > x unless on (instance) maintenance == 1").unwrap();
        assert_eq!(
            (unless.signal.as_str(), unless.comparison),
            ("x", Comparison::Below)
        );
        assert_eq!(
            unless.condition(),
            "x < 10 unless on (instance) maintenance == 1"
        );
    }

    #[test]
    fn refuses_what_has_no_threshold() {
        for expr in [
            "up == 0",
            "x > y",
            "x > bool 3",
            "absent(up)",
            "x and y < 10",
            "x < 10 or y",
        ] {
            assert!(split_rule(expr).is_err(), "{expr}");
        }
        let unsupported = split_rule("holt_winters_like(x) < 3").unwrap_err();
        assert!(unsupported.contains("cannot parse"), "{unsupported}");
    }
}
