//! Aggregation operators: `sum`, `avg`, `min`, `max`, `count`, `stddev`, `quantile`,
//! `topk` and `bottomk`, with `by`/`without` grouping.
//!
//! In: one evaluation step's instant vector. Out: one element per group (`topk` and
//! `bottomk`: up to k elements per group, with their original labels). A pure function.
//!
//! The semantics are Prometheus 2.42's `aggregation` in `promql/engine.go`, followed
//! step for step: the same accumulation order and formulas (so the same rounding), the
//! same NaN and Inf handling, and for `topk`/`bottomk` the same heap as Go's
//! `container/heap`, so that ties and NaNs select the same series.

use super::functions::quantile;
use super::{Element, Labels, LabelsMap, METRIC_NAME, Vector};

/// An aggregation and its parameter, already evaluated to a number.
#[derive(Clone, Debug, PartialEq)]
pub enum AggregateOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Stddev,
    Quantile {
        q: f64,
    },
    /// `k` as the expression gave it; truncated towards zero as Go's `int64(f)` does.
    Topk {
        k: f64,
    },
    Bottomk {
        k: f64,
    },
}

/// Which labels decide the groups and survive into the output. Plain `sum(x)` is
/// `By(vec![])`: one group, no labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grouping {
    /// Only the listed labels (`__name__` too, if listed).
    By(Vec<String>),
    /// All labels but the listed ones and `__name__`.
    Without(Vec<String>),
}

/// Prometheus's error when `topk`/`bottomk`'s k does not fit an int64 (NaN and ±Inf
/// included), e.g. "Scalar value NaN overflows int64". Prometheus fails the query with
/// it; [`aggregate`] cannot return errors, so the evaluator checks k with this first
/// ([`aggregate`] returns nothing for such a k).
pub fn k_overflow_message(k: f64) -> Option<String> {
    k_to_int(k)
        .is_none()
        .then(|| format!("Scalar value {} overflows int64", go_float(k)))
}

/// Aggregates `input` into groups. The output order is the order in which groups first
/// appear (`topk`: largest first within a group; `bottomk`: smallest first).
pub fn aggregate(op: &AggregateOp, grouping: &Grouping, input: Vector) -> Vector {
    let limit = match *op {
        AggregateOp::Topk { k } | AggregateOp::Bottomk { k } => match k_to_int(k) {
            Some(k) if k >= 1 => k,
            _ => return Vector::new(),
        },
        _ => 0,
    };
    let group_of = GroupKey::new(grouping);

    let mut groups: Vec<Group> = Vec::new();
    let mut index: LabelsMap<usize> = LabelsMap::default();
    for element in input {
        let labels = group_of.labels(&element.labels);
        match index.get(&labels) {
            Some(&i) => groups[i].state.add(element, limit),
            None => {
                index.insert(labels.clone(), groups.len());
                groups.push(Group {
                    labels,
                    state: State::first(op, element),
                });
            }
        }
    }

    let mut out = Vector::with_capacity(groups.len());
    for group in groups {
        match group.state {
            State::Kept(mut heap) => {
                heap.sort_for_output();
                out.extend(heap.items);
            }
            state => out.push(Element {
                labels: group.labels,
                value: state.value(),
            }),
        }
    }
    out
}

/// Maps a series' labels to its group's labels, which are also the output labels.
struct GroupKey<'a> {
    by: bool,
    /// The `by` labels, or the `without` labels plus `__name__`.
    names: Vec<&'a str>,
}

impl<'a> GroupKey<'a> {
    fn new(grouping: &'a Grouping) -> GroupKey<'a> {
        match grouping {
            Grouping::By(names) => GroupKey {
                by: true,
                names: names.iter().map(String::as_str).collect(),
            },
            Grouping::Without(names) => GroupKey {
                by: false,
                names: names
                    .iter()
                    .map(String::as_str)
                    .chain([METRIC_NAME])
                    .collect(),
            },
        }
    }

    fn labels(&self, labels: &Labels) -> Labels {
        if self.by {
            labels.keeping(&self.names)
        } else {
            labels.without(&self.names)
        }
    }
}

struct Group {
    labels: Labels,
    state: State,
}

/// One group's running aggregate, started from its first element as Prometheus does.
enum State {
    Sum(f64),
    Avg {
        mean: f64,
        count: f64,
    },
    Min(f64),
    Max(f64),
    Count(f64),
    /// Welford's running mean and sum of squared deviations.
    Stddev {
        mean: f64,
        squares: f64,
        count: f64,
    },
    Quantile {
        q: f64,
        values: Vec<f64>,
    },
    /// `topk`/`bottomk`: the elements kept so far.
    Kept(GoHeap),
}

impl State {
    fn first(op: &AggregateOp, element: Element) -> State {
        let v = element.value;
        match *op {
            AggregateOp::Sum => State::Sum(v),
            AggregateOp::Avg => State::Avg {
                mean: v,
                count: 1.0,
            },
            AggregateOp::Min => State::Min(v),
            AggregateOp::Max => State::Max(v),
            AggregateOp::Count => State::Count(1.0),
            // The first element adds no squares, even when it is NaN or Inf: a group of
            // one has a standard deviation of 0 whatever its value.
            AggregateOp::Stddev => State::Stddev {
                mean: v,
                squares: 0.0,
                count: 1.0,
            },
            AggregateOp::Quantile { q } => State::Quantile { q, values: vec![v] },
            AggregateOp::Topk { .. } => State::Kept(GoHeap::new(element, top_less)),
            AggregateOp::Bottomk { .. } => State::Kept(GoHeap::new(element, bottom_less)),
        }
    }

    /// Adds a further element; `limit` is topk/bottomk's k.
    fn add(&mut self, element: Element, limit: i64) {
        let v = element.value;
        match self {
            State::Sum(sum) => *sum += v,
            State::Avg { mean, count } => {
                *count += 1.0;
                // Prometheus's incremental mean; an infinite mean stays as it is when
                // `v` is the same Inf or finite, where the update would give NaN.
                if mean.is_infinite()
                    && ((v.is_infinite() && (*mean > 0.0) == (v > 0.0)) || v.is_finite())
                {
                    return;
                }
                // Each side of the `-` divided on its own, to avoid overflows.
                *mean += v / *count - *mean / *count;
            }
            // A NaN is replaced by whatever comes next, so NaN only results when every
            // value is NaN.
            State::Min(min) => {
                if *min > v || min.is_nan() {
                    *min = v;
                }
            }
            State::Max(max) => {
                if *max < v || max.is_nan() {
                    *max = v;
                }
            }
            State::Count(count) => *count += 1.0,
            State::Stddev {
                mean,
                squares,
                count,
            } => {
                *count += 1.0;
                let delta = v - *mean;
                *mean += delta / *count;
                *squares += delta * (v - *mean);
            }
            State::Quantile { values, .. } => values.push(v),
            State::Kept(heap) => heap.offer(element, limit),
        }
    }

    fn value(self) -> f64 {
        match self {
            State::Sum(v) | State::Min(v) | State::Max(v) | State::Count(v) => v,
            State::Avg { mean, .. } => mean,
            State::Stddev { squares, count, .. } => (squares / count).sqrt(),
            State::Quantile { q, mut values } => quantile(q, &mut values),
            State::Kept(_) => unreachable!("topk/bottomk groups output their elements"),
        }
    }
}

/// `vectorByValueHeap.Less`, topk's min-heap order: NaN is below everything, so a kept
/// NaN is the first to be replaced.
fn top_less(a: f64, b: f64) -> bool {
    a.is_nan() || a < b
}

/// `vectorByReverseValueHeap.Less`, bottomk's max-heap order, NaN again on top.
fn bottom_less(a: f64, b: f64) -> bool {
    a.is_nan() || a > b
}

/// Go's `container/heap` over elements, ordered by `less`; replicated exactly (sift
/// order included) so that ties evict the same element as in Prometheus.
struct GoHeap {
    items: Vec<Element>,
    less: fn(f64, f64) -> bool,
}

impl GoHeap {
    fn new(first: Element, less: fn(f64, f64) -> bool) -> GoHeap {
        GoHeap {
            items: vec![first],
            less,
        }
    }

    fn less_at(&self, i: usize, j: usize) -> bool {
        (self.less)(self.items[i].value, self.items[j].value)
    }

    /// Prometheus's topk/bottomk step: take the element while fewer than k are kept, or
    /// when it beats the top (or the top is NaN), evicting the top when k are kept.
    fn offer(&mut self, element: Element, k: i64) {
        let full = self.items.len() as i64 >= k;
        if full && !(self.less)(self.items[0].value, element.value) {
            return;
        }
        if full {
            if k == 1 {
                self.items[0] = element;
                return;
            }
            self.pop();
        }
        self.push(element);
    }

    fn push(&mut self, element: Element) {
        self.items.push(element);
        let mut j = self.items.len() - 1;
        while j > 0 {
            let parent = (j - 1) / 2;
            if !self.less_at(j, parent) {
                break;
            }
            self.items.swap(parent, j);
            j = parent;
        }
    }

    fn pop(&mut self) {
        let n = self.items.len() - 1;
        self.items.swap(0, n);
        let mut i = 0;
        loop {
            let left = 2 * i + 1;
            if left >= n {
                break;
            }
            let mut child = left;
            if left + 1 < n && self.less_at(left + 1, left) {
                child = left + 1;
            }
            if !self.less_at(child, i) {
                break;
            }
            self.items.swap(i, child);
            i = child;
        }
        self.items.pop();
    }

    /// Best first (largest for topk, smallest for bottomk), NaNs last, as Prometheus's
    /// `sort.Reverse` of the heap order does; ties keep no particular order there either.
    fn sort_for_output(&mut self) {
        let less = self.less;
        self.items
            .sort_by(|a, b| match (a.value.is_nan(), b.value.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                (false, false) if less(b.value, a.value) => std::cmp::Ordering::Less,
                (false, false) if less(a.value, b.value) => std::cmp::Ordering::Greater,
                (false, false) => std::cmp::Ordering::Equal,
            });
    }
}

/// Go's `int64(f)` guarded by Prometheus's `convertibleToInt64`.
fn k_to_int(k: f64) -> Option<i64> {
    // The largest float64 below 2^63, and -2^63.
    const MAX: f64 = 9_223_372_036_854_774_784.0;
    const MIN: f64 = -9_223_372_036_854_775_808.0;
    (MIN..=MAX).contains(&k).then_some(k as i64)
}

/// Go's `%v` for the floats that overflow an int64: NaN, ±Inf, or beyond ±9.2e18, which
/// Go prints in exponent form with a signed, two-digit-minimum exponent (`1e+19`).
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let text = format!("{f:e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) => {
            let (sign, digits) = match exponent.strip_prefix('-') {
                Some(digits) => ('-', digits),
                None => ('+', exponent),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => text,
    }
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
mod tests;
