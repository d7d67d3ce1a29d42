//! Evaluates a checked `Plan` at one instant over the series store.
//!
//! In: a plan, the store, and the evaluation time. Out: a scalar or an instant vector,
//! as Prometheus 2.42 computes them in a range query at that step.

use super::aggregate::aggregate;
use super::binary::{scalar_scalar, vector_scalar, vector_vector};
use super::error::EvalError;
use super::plan::Plan;
use super::store::SeriesStore;
use super::value::{Element, Labels, LabelsSet, Value, Vector};

/// Evaluates `plan` at `t_ms` (milliseconds since the epoch).
pub fn evaluate(plan: &Plan, store: &SeriesStore, t_ms: i64) -> Result<Value, EvalError> {
    Evaluator {
        store,
        t_ms,
        points: Vec::new(),
    }
    .eval(plan)
}

struct Evaluator<'a> {
    store: &'a SeriesStore,
    t_ms: i64,
    /// Reused buffer for the points of one range selector.
    points: Vec<super::value::Point>,
}

impl Evaluator<'_> {
    fn eval(&mut self, plan: &Plan) -> Result<Value, EvalError> {
        Ok(match plan {
            Plan::Number(value) => Value::Scalar(*value),
            Plan::Time => Value::Scalar(self.t_ms as f64 / 1000.0),
            Plan::Select(matchers) => Value::Vector(
                self.store
                    .select(matchers)
                    .filter_map(|(index, labels)| {
                        self.store.instant(index, self.t_ms).map(|value| Element {
                            labels: labels.clone(),
                            value,
                        })
                    })
                    .collect(),
            ),
            Plan::Range {
                function,
                matchers,
                range_ms,
            } => {
                let mut out = Vector::new();
                for (index, labels) in self.store.select(matchers) {
                    self.store
                        .range(index, self.t_ms, *range_ms, &mut self.points);
                    if let Some(value) = function.apply(&self.points, self.t_ms, *range_ms) {
                        let labels = if function.keeps_metric_name() {
                            labels.clone()
                        } else {
                            self.store.nameless(index).clone()
                        };
                        out.push(Element { labels, value });
                    }
                }
                unique(out)?
            }
            Plan::Math { function, arg } => match self.eval(arg)? {
                Value::Scalar(value) => Value::Scalar(function.apply(value)),
                Value::Vector(vector) => unique(
                    vector
                        .into_iter()
                        .map(|e| Element {
                            labels: e.labels.without_metric_name(),
                            value: function.apply(e.value),
                        })
                        .collect(),
                )?,
            },
            Plan::Scalar(arg) => match self.eval(arg)? {
                Value::Vector(vector) if vector.len() == 1 => Value::Scalar(vector[0].value),
                Value::Vector(_) => Value::Scalar(f64::NAN),
                scalar => scalar,
            },
            Plan::Vector(arg) => match self.eval(arg)? {
                Value::Scalar(value) => Value::Vector(vec![Element {
                    labels: Labels::default(),
                    value,
                }]),
                vector => vector,
            },
            Plan::Aggregate { op, grouping, arg } => match self.eval(arg)? {
                Value::Vector(vector) => Value::Vector(aggregate(op, grouping, vector)),
                Value::Scalar(_) => unreachable!("the parser types aggregation arguments"),
            },
            Plan::Binary {
                op,
                lhs,
                rhs,
                matching,
            } => {
                let (lhs, rhs) = (self.eval(lhs)?, self.eval(rhs)?);
                match (lhs, rhs) {
                    (Value::Scalar(l), Value::Scalar(r)) => {
                        Value::Scalar(scalar_scalar(*op, l, r, matching.return_bool))
                    }
                    (Value::Vector(v), Value::Scalar(s)) => {
                        unique(vector_scalar(*op, v, s, false, matching.return_bool))?
                    }
                    (Value::Scalar(s), Value::Vector(v)) => {
                        unique(vector_scalar(*op, v, s, true, matching.return_bool))?
                    }
                    (Value::Vector(l), Value::Vector(r)) => {
                        unique(vector_vector(*op, l, r, matching)?)?
                    }
                }
            }
            Plan::Negate(arg) => match self.eval(arg)? {
                Value::Scalar(value) => Value::Scalar(-value),
                Value::Vector(vector) => unique(
                    vector
                        .into_iter()
                        .map(|e| Element {
                            labels: e.labels.without_metric_name(),
                            value: -e.value,
                        })
                        .collect(),
                )?,
            },
        })
    }
}

/// Prometheus refuses a result in which two elements share a label set (for instance
/// `rate()` over two metrics that differ only by name).
fn unique(vector: Vector) -> Result<Value, EvalError> {
    let mut seen = LabelsSet::with_capacity_and_hasher(vector.len(), Default::default());
    if !vector.iter().all(|e| seen.insert(e.labels.clone())) {
        return Err(EvalError::DuplicateLabelset);
    }
    Ok(Value::Vector(vector))
}
