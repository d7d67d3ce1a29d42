//! From PromQL text to a checked evaluation plan.
//!
//! In: an expression as text. Out: a `Plan` tree that holds only constructs harbinger
//! evaluates, with every parameter resolved; or a `PlanError` naming the construct
//! that is not supported and where it stands in the text. Checking happens once, when a
//! pipeline or query loads, so evaluation never meets an unsupported node.

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::token::TokenType;
use promql_parser::parser::{
    self, AggregateExpr, BinaryExpr, Call, Expr, LabelModifier, VectorMatchCardinality,
    VectorSelector,
};

use super::aggregate::{AggregateOp, Grouping, k_overflow_message};
use super::binary::{BinaryOp, Cardinality, Matching, scalar_scalar};
use super::functions::{MathFunction, RangeFunction};
use super::value::METRIC_NAME;

/// A checked expression, ready to evaluate.
#[derive(Debug, Clone)]
pub enum Plan {
    Number(f64),
    /// An instant-vector selector.
    Select(Vec<Matcher>),
    /// A range function over a range selector.
    Range {
        function: RangeFunction,
        matchers: Vec<Matcher>,
        range_ms: i64,
    },
    Math {
        function: MathFunction,
        arg: Box<Plan>,
    },
    /// `time()`: the evaluation time in seconds.
    Time,
    /// `scalar(v)`: the value of a one-element vector, else NaN.
    Scalar(Box<Plan>),
    /// `vector(s)`: a one-element vector without labels.
    Vector(Box<Plan>),
    Aggregate {
        op: AggregateOp,
        grouping: Grouping,
        arg: Box<Plan>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Plan>,
        rhs: Box<Plan>,
        matching: Matching,
    },
    Negate(Box<Plan>),
}

/// How a plan's results relate to one label's values ([`Plan::partitioned_by`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Partition {
    /// The same value everywhere: no series read.
    Constant,
    /// Each result keeps the label and reads only series with its value.
    Kept,
    Across,
}

/// Why an expression cannot be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("cannot parse {expr:?}: {reason}")]
    Parse { expr: String, reason: String },
    #[error("{expr:?}: {message}")]
    Parameter { expr: String, message: String },
    #[error("{expr:?}: {construct} at column {column} is not supported{hint}")]
    Unsupported {
        expr: String,
        construct: String,
        column: usize,
        hint: String,
    },
}

impl Plan {
    pub fn parse(text: &str) -> Result<Plan, PlanError> {
        let expr = parser::parse(text).map_err(|reason| PlanError::Parse {
            expr: text.to_owned(),
            reason,
        })?;
        Planner { text }.plan(&expr)
    }

    /// Every selector's matchers, instant and range: a series no selector matches can
    /// never affect the plan's value.
    pub fn selectors(&self) -> Vec<&[Matcher]> {
        match self {
            Plan::Number(_) | Plan::Time => Vec::new(),
            Plan::Select(matchers) | Plan::Range { matchers, .. } => vec![matchers.as_slice()],
            Plan::Math { arg, .. }
            | Plan::Scalar(arg)
            | Plan::Vector(arg)
            | Plan::Aggregate { arg, .. }
            | Plan::Negate(arg) => arg.selectors(),
            Plan::Binary { lhs, rhs, .. } => {
                let mut both = lhs.selectors();
                both.extend(rhs.selectors());
                both
            }
        }
    }

    /// The value of an expression made only of numbers, such as `4 * 3600`.
    pub fn constant(&self) -> Option<f64> {
        match self {
            Plan::Number(value) => Some(*value),
            Plan::Negate(arg) => arg.constant().map(|v| -v),
            Plan::Binary {
                op,
                lhs,
                rhs,
                matching,
            } => Some(scalar_scalar(
                *op,
                lhs.constant()?,
                rhs.constant()?,
                matching.return_bool,
            )),
            _ => None,
        }
    }

    /// Whether the plan can be evaluated apart on the series of each value of `label`:
    /// every result series keeps `label`, and its value reads only series with the same
    /// value of it (a number or `time()` beside them, the same everywhere, reads none).
    /// Then a replay split by that label's values gives the same results, each in one
    /// part. A plan of numbers alone has no such label; `scalar()`, `vector()`, an
    /// aggregation or a match that drops the label reads across values; `__name__`
    /// never partitions.
    pub fn partitioned_by(&self, label: &str) -> bool {
        // The metric name is dropped by functions, arithmetic and aggregations alike.
        label != METRIC_NAME && self.partition(label) == Partition::Kept
    }

    fn partition(&self, label: &str) -> Partition {
        match self {
            Plan::Number(_) | Plan::Time => Partition::Constant,
            Plan::Select(_) | Plan::Range { .. } => Partition::Kept,
            Plan::Math { arg, .. } | Plan::Negate(arg) => arg.partition(label),
            Plan::Scalar(arg) => match arg.partition(label) {
                Partition::Constant => Partition::Constant,
                _ => Partition::Across,
            },
            // One series without labels, which every part would give.
            Plan::Vector(_) => Partition::Across,
            Plan::Aggregate { grouping, arg, .. } => {
                let keeps = match grouping {
                    Grouping::By(labels) => labels.iter().any(|l| l == label),
                    Grouping::Without(labels) => labels.iter().all(|l| l != label),
                };
                match arg.partition(label) {
                    Partition::Kept if keeps => Partition::Kept,
                    _ => Partition::Across,
                }
            }
            Plan::Binary {
                lhs, rhs, matching, ..
            } => match (lhs.partition(label), rhs.partition(label)) {
                (Partition::Across, _) | (_, Partition::Across) => Partition::Across,
                (Partition::Constant, Partition::Constant) => Partition::Constant,
                (Partition::Kept, Partition::Kept) => {
                    let matched = matching.labels.iter().any(|l| l == label);
                    if matched == matching.on {
                        Partition::Kept
                    } else {
                        Partition::Across
                    }
                }
                _ => Partition::Kept,
            },
        }
    }

    /// How far back, in milliseconds, evaluation at time t reads samples: the longest
    /// range selector, or the lookback of instant selectors.
    pub fn history_ms(&self) -> i64 {
        let lookback = super::store::LOOKBACK_MS;
        match self {
            Plan::Number(_) | Plan::Time => 0,
            Plan::Select(_) => lookback,
            Plan::Range { range_ms, .. } => *range_ms,
            Plan::Math { arg, .. }
            | Plan::Scalar(arg)
            | Plan::Vector(arg)
            | Plan::Aggregate { arg, .. }
            | Plan::Negate(arg) => arg.history_ms(),
            Plan::Binary { lhs, rhs, .. } => lhs.history_ms().max(rhs.history_ms()),
        }
    }
}

struct Planner<'a> {
    text: &'a str,
}

impl Planner<'_> {
    fn unsupported(&self, construct: impl Into<String>, needle: &str, hint: &str) -> PlanError {
        let column = self
            .text
            .find(needle)
            .map_or(1, |byte| self.text[..byte].chars().count() + 1);
        PlanError::Unsupported {
            expr: self.text.to_owned(),
            construct: construct.into(),
            column,
            hint: if hint.is_empty() {
                String::new()
            } else {
                format!(" ({hint})")
            },
        }
    }

    fn plan(&self, expr: &Expr) -> Result<Plan, PlanError> {
        match expr {
            Expr::NumberLiteral(number) => Ok(Plan::Number(number.val)),
            Expr::Paren(paren) => self.plan(&paren.expr),
            Expr::Unary(unary) => Ok(Plan::Negate(Box::new(self.plan(&unary.expr)?))),
            Expr::VectorSelector(selector) => Ok(Plan::Select(self.matchers(selector)?)),
            Expr::Call(call) => self.call(call),
            Expr::Aggregate(aggregate) => self.aggregate(aggregate),
            Expr::Binary(binary) => self.binary(binary),
            Expr::MatrixSelector(matrix) => Err(self.unsupported(
                "a range vector",
                &matrix.vs.to_string(),
                "use it inside a range function such as rate()",
            )),
            Expr::Subquery(subquery) => {
                Err(self.unsupported("subquery", &subquery.expr.to_string(), ""))
            }
            Expr::StringLiteral(string) => {
                Err(self.unsupported("string literal", &format!("\"{}\"", string.val), ""))
            }
            Expr::Extension(_) => Err(self.unsupported("extension", "", "")),
        }
    }

    fn matchers(&self, selector: &VectorSelector) -> Result<Vec<Matcher>, PlanError> {
        let shown = selector.to_string();
        if selector.offset.is_some() {
            return Err(self.unsupported("offset modifier", "offset", ""));
        }
        if selector.at.is_some() {
            return Err(self.unsupported("@ modifier", "@", ""));
        }
        if !selector.matchers.or_matchers.is_empty() {
            return Err(self.unsupported("'or' inside a selector", &shown, ""));
        }
        let mut matchers = selector.matchers.matchers.clone();
        if let Some(name) = &selector.name {
            matchers.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name));
        }
        Ok(matchers)
    }

    fn number_arg(&self, call: &Call, index: usize) -> Result<f64, PlanError> {
        call.args
            .args
            .get(index)
            .map(|arg| self.plan(arg))
            .transpose()?
            .and_then(|plan| plan.constant())
            .ok_or_else(|| self.non_literal(call.func.name))
    }

    fn non_literal(&self, function: &str) -> PlanError {
        self.unsupported(
            format!("a non-literal parameter of {function}()"),
            function,
            "the parameter must be a constant number expression",
        )
    }

    fn call(&self, call: &Call) -> Result<Plan, PlanError> {
        let name = call.func.name;
        let range = |function: RangeFunction| -> Result<Plan, PlanError> {
            let Some(Expr::MatrixSelector(matrix)) =
                call.args.args.first().map(|a| strip_parens(a))
            else {
                return Err(self.unsupported(
                    format!("{name}() over a subquery or expression"),
                    name,
                    "its argument must be a range selector such as x[5m]",
                ));
            };
            Ok(Plan::Range {
                function,
                matchers: self.matchers(&matrix.vs)?,
                range_ms: matrix.range.as_millis() as i64,
            })
        };
        let math = |function: MathFunction| -> Result<Plan, PlanError> {
            Ok(Plan::Math {
                function,
                arg: Box::new(self.plan(&call.args.args[0])?),
            })
        };
        match name {
            "rate" => range(RangeFunction::Rate),
            "irate" => range(RangeFunction::Irate),
            "increase" => range(RangeFunction::Increase),
            "delta" => range(RangeFunction::Delta),
            "idelta" => range(RangeFunction::Idelta),
            "deriv" => range(RangeFunction::Deriv),
            "predict_linear" => range(RangeFunction::PredictLinear {
                seconds: self.number_arg(call, 1)?,
            }),
            "resets" => range(RangeFunction::Resets),
            "changes" => range(RangeFunction::Changes),
            "avg_over_time" => range(RangeFunction::AvgOverTime),
            "min_over_time" => range(RangeFunction::MinOverTime),
            "max_over_time" => range(RangeFunction::MaxOverTime),
            "sum_over_time" => range(RangeFunction::SumOverTime),
            "count_over_time" => range(RangeFunction::CountOverTime),
            "last_over_time" => range(RangeFunction::LastOverTime),
            "stddev_over_time" => range(RangeFunction::StddevOverTime),
            "quantile_over_time" => {
                let q = self.number_arg(call, 0)?;
                let Some(Expr::MatrixSelector(matrix)) =
                    call.args.args.get(1).map(|a| strip_parens(a))
                else {
                    return Err(self.unsupported(
                        "quantile_over_time() over a subquery or expression",
                        name,
                        "its second argument must be a range selector",
                    ));
                };
                Ok(Plan::Range {
                    function: RangeFunction::QuantileOverTime { q },
                    matchers: self.matchers(&matrix.vs)?,
                    range_ms: matrix.range.as_millis() as i64,
                })
            }
            "abs" => math(MathFunction::Abs),
            "ceil" => math(MathFunction::Ceil),
            "floor" => math(MathFunction::Floor),
            "ln" => math(MathFunction::Ln),
            "exp" => math(MathFunction::Exp),
            "sqrt" => math(MathFunction::Sqrt),
            "round" => math(MathFunction::Round {
                to_nearest: if call.args.args.len() > 1 {
                    self.number_arg(call, 1)?
                } else {
                    1.0
                },
            }),
            "clamp_min" => math(MathFunction::ClampMin {
                min: self.number_arg(call, 1)?,
            }),
            "clamp_max" => math(MathFunction::ClampMax {
                max: self.number_arg(call, 1)?,
            }),
            "time" => Ok(Plan::Time),
            "scalar" => Ok(Plan::Scalar(Box::new(self.plan(&call.args.args[0])?))),
            "vector" => Ok(Plan::Vector(Box::new(self.plan(&call.args.args[0])?))),
            other => Err(self.unsupported(format!("function {other}()"), other, "")),
        }
    }

    fn aggregate(&self, aggregate: &AggregateExpr) -> Result<Plan, PlanError> {
        let name = aggregate.op.to_string();
        let param = || -> Result<f64, PlanError> {
            aggregate
                .param
                .as_deref()
                .map(|param| self.plan(param))
                .transpose()?
                .and_then(|plan| plan.constant())
                .ok_or_else(|| self.non_literal(&name))
        };
        let op = match name.as_str() {
            "sum" => AggregateOp::Sum,
            "avg" => AggregateOp::Avg,
            "min" => AggregateOp::Min,
            "max" => AggregateOp::Max,
            "count" => AggregateOp::Count,
            "stddev" => AggregateOp::Stddev,
            "quantile" => AggregateOp::Quantile { q: param()? },
            "topk" => AggregateOp::Topk {
                k: self.k(param()?)?,
            },
            "bottomk" => AggregateOp::Bottomk {
                k: self.k(param()?)?,
            },
            other => return Err(self.unsupported(format!("aggregation {other}"), other, "")),
        };
        let grouping = match &aggregate.modifier {
            None => Grouping::By(Vec::new()),
            Some(LabelModifier::Include(labels)) => Grouping::By(labels.labels.clone()),
            Some(LabelModifier::Exclude(labels)) => Grouping::Without(labels.labels.clone()),
        };
        Ok(Plan::Aggregate {
            op,
            grouping,
            arg: Box::new(self.plan(&aggregate.expr)?),
        })
    }

    /// topk/bottomk's k, refused at load where Prometheus would fail every evaluation.
    fn k(&self, k: f64) -> Result<f64, PlanError> {
        match k_overflow_message(k) {
            Some(message) => Err(PlanError::Parameter {
                expr: self.text.to_owned(),
                message,
            }),
            None => Ok(k),
        }
    }

    fn binary(&self, binary: &BinaryExpr) -> Result<Plan, PlanError> {
        let symbol = binary.op.to_string();
        let op = binary_op(&binary.op)
            .ok_or_else(|| self.unsupported(format!("operator {symbol}"), &symbol, ""))?;
        let modifier = binary.modifier.as_ref();
        let cardinality = match modifier.map(|m| &m.card) {
            None | Some(VectorMatchCardinality::OneToOne) => Cardinality::OneToOne,
            Some(VectorMatchCardinality::ManyToOne(labels)) => Cardinality::ManyToOne {
                include: labels.labels.clone(),
            },
            Some(VectorMatchCardinality::OneToMany(labels)) => Cardinality::OneToMany {
                include: labels.labels.clone(),
            },
            Some(VectorMatchCardinality::ManyToMany) => Cardinality::ManyToMany,
        };
        let cardinality = if matches!(op, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless) {
            Cardinality::ManyToMany
        } else {
            cardinality
        };
        let (on, labels) = match modifier.and_then(|m| m.matching.as_ref()) {
            Some(LabelModifier::Include(labels)) => (true, labels.labels.clone()),
            Some(LabelModifier::Exclude(labels)) => (false, labels.labels.clone()),
            None => (false, Vec::new()),
        };
        if modifier.is_some_and(|m| m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some()) {
            return Err(self.unsupported("fill modifier", "fill", ""));
        }
        Ok(Plan::Binary {
            op,
            lhs: Box::new(self.plan(&binary.lhs)?),
            rhs: Box::new(self.plan(&binary.rhs)?),
            matching: Matching {
                on,
                labels,
                cardinality,
                return_bool: modifier.is_some_and(|m| m.return_bool),
            },
        })
    }
}

fn strip_parens(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(paren) = expr {
        expr = &paren.expr;
    }
    expr
}

fn binary_op(token: &TokenType) -> Option<BinaryOp> {
    Some(match token.to_string().as_str() {
        "+" => BinaryOp::Add,
        "-" => BinaryOp::Sub,
        "*" => BinaryOp::Mul,
        "/" => BinaryOp::Div,
        "%" => BinaryOp::Mod,
        "^" => BinaryOp::Pow,
        "==" => BinaryOp::Eq,
        "!=" => BinaryOp::Ne,
        ">" => BinaryOp::Gt,
        "<" => BinaryOp::Lt,
        ">=" => BinaryOp::Ge,
        "<=" => BinaryOp::Le,
        "and" => BinaryOp::And,
        "or" => BinaryOp::Or,
        "unless" => BinaryOp::Unless,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_partitioned_by_a_label_every_result_keeps_and_reads_alone() {
        let partitioned = |expr: &str| Plan::parse(expr).unwrap().partitioned_by("instance");
        for expr in [
            "node_filesystem_avail_bytes",
            "(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes < 10",
            "sum by (instance) (rate(node_disk_written_bytes_total[1m]))",
            "(sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[1m])) / count by (instance) (node_cpu_seconds_total{mode=\"idle\"})) * 100",
            "sum without (cpu, mode) (rate(node_cpu_seconds_total[5m]))",
            "a / on (instance, job) group_left b",
            "a and ignoring (mode) b",
            "-abs(a) + time() * 4",
        ] {
            assert!(partitioned(expr), "{expr}");
        }
        for expr in [
            "sum(node_filesystem_avail_bytes)",
            "sum by (job) (a)",
            "sum without (instance) (a)",
            "a / ignoring (instance) b",
            "a / on (job) group_left b",
            "a - scalar(b)",
            "vector(1)",
            "a * on () group_left vector(1)",
            "time() * 4",
        ] {
            assert!(!partitioned(expr), "{expr}");
        }
        let by_name = Plan::parse("node_a - node_b").unwrap();
        assert!(!by_name.partitioned_by("__name__"));
    }

    #[test]
    fn accepts_the_lab_rules() {
        for rule in [
            "(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes < 10",
            "node_memory_MemFree_bytes / node_memory_MemTotal_bytes * 100 < 10",
            "(1 - (node_memory_SwapFree_bytes / node_memory_SwapTotal_bytes)) * 100 > 80",
            "(sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[1m])) / count by (instance) (node_cpu_seconds_total{mode=\"idle\"})) * 100 > 80",
            "predict_linear(node_filesystem_avail_bytes{fstype!~\"tmpfs\"}[1h], 4 * 3600) < 0",
        ] {
            assert!(Plan::parse(rule).is_ok(), "{rule}");
        }
    }

    #[test]
    fn names_the_unsupported_construct_and_its_column() {
        let cases = [
            (
                "1 - stdvar_over_time(up[5m])",
                "\"1 - stdvar_over_time(up[5m])\": function stdvar_over_time() at column 5 is not supported",
            ),
            (
                "rate(up[5m] offset 1m)",
                "\"rate(up[5m] offset 1m)\": offset modifier at column 13 is not supported",
            ),
            (
                "1 + count_values(\"v\", up)",
                "\"1 + count_values(\\\"v\\\", up)\": aggregation count_values at column 5 is not supported",
            ),
            (
                "max_over_time(rate(up[1m])[5m:1m])",
                "\"max_over_time(rate(up[1m])[5m:1m])\": max_over_time() over a subquery or expression at column 1 is not supported (its argument must be a range selector such as x[5m])",
            ),
            (
                "topk(scalar(up), up)",
                "\"topk(scalar(up), up)\": a non-literal parameter of topk() at column 1 is not supported (the parameter must be a constant number expression)",
            ),
            (
                "up[5m]",
                "\"up[5m]\": a range vector at column 1 is not supported (use it inside a range function such as rate())",
            ),
        ];
        for (expr, message) in cases {
            assert_eq!(Plan::parse(expr).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn history_is_the_longest_window() {
        let plan = Plan::parse("rate(a[10m]) + b").unwrap();
        assert_eq!(plan.history_ms(), 10 * 60 * 1000);
        assert_eq!(Plan::parse("time()").unwrap().history_ms(), 0);
    }
}
