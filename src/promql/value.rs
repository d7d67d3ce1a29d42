//! The values PromQL expressions produce: label sets, instant vectors, range points.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The metric-name label.
pub const METRIC_NAME: &str = "__name__";

/// A series' label set: sorted by name, no empty values (an empty value is the same as
/// an absent label in Prometheus), no duplicate names. Shared, not copied: a selector
/// hands out the stored series' labels at every step, so a clone is a reference count,
/// and so is each name and value of a set derived from it (`without`, `by`).
#[derive(Clone, Debug, Default, PartialOrd, Ord)]
pub struct Labels(Arc<[(Arc<str>, Arc<str>)]>);

/// Maps and sets keyed by label sets, with a fast hash: an evaluation builds several per
/// step over the series it selects.
pub type LabelsMap<V> = HashMap<Labels, V, foldhash::fast::RandomState>;
pub type LabelsSet = HashSet<Labels, foldhash::fast::RandomState>;

/// Two clones of one label set are equal without comparing their strings.
impl PartialEq for Labels {
    fn eq(&self, other: &Labels) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for Labels {}

impl Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl Labels {
    /// Builds a label set from pairs in any order; empty values are dropped and, for a
    /// repeated name, the last pair wins.
    pub fn new<N: Into<Arc<str>>, V: Into<Arc<str>>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Labels {
        let mut pairs: Vec<(Arc<str>, Arc<str>)> = pairs
            .into_iter()
            .map(|(n, v)| (n.into(), v.into()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        pairs.reverse();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|later, earlier| later.0 == earlier.0);
        Labels(pairs.into())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .map(|i| &*self.0[i].1)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (&**n, &**v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same labels without `__name__`, as functions and arithmetic return them.
    pub fn without_metric_name(&self) -> Labels {
        self.without(&[METRIC_NAME])
    }

    /// Only the labels whose names are listed (`by`, `on`).
    pub fn keeping<S: AsRef<str>>(&self, names: &[S]) -> Labels {
        self.filtered(|name| names.iter().any(|k| k.as_ref() == name))
    }

    /// All labels but the listed ones (`without`, `ignoring`).
    pub fn without<S: AsRef<str>>(&self, names: &[S]) -> Labels {
        self.filtered(|name| names.iter().all(|k| k.as_ref() != name))
    }

    /// The labels whose names `keep` accepts; a clone (no copy) when it accepts them all,
    /// as it does at most steps (`without(__name__)` of a series that has lost its name).
    fn filtered(&self, keep: impl Fn(&str) -> bool) -> Labels {
        if self.0.iter().all(|(n, _)| keep(n)) {
            return self.clone();
        }
        Labels(self.0.iter().filter(|(n, _)| keep(n)).cloned().collect())
    }

    /// Sets (or, with an empty value, removes) one label.
    pub fn with(&self, name: &str, value: &str) -> Labels {
        let mut pairs = self.0.to_vec();
        pairs.retain(|(n, _)| &**n != name);
        if !value.is_empty() {
            pairs.push((name.into(), value.into()));
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Labels(pairs.into())
    }
}

impl fmt::Display for Labels {
    /// Prometheus's notation: `name{label="value", ...}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.get(METRIC_NAME) {
            f.write_str(name)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for (name, value) in self.iter().filter(|(n, _)| *n != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{name}={value:?}")?;
        }
        f.write_str("}")
    }
}

/// A value as Prometheus prints it: `NaN`, `+Inf`, `-Inf`, else the shortest decimal
/// that reads back as the same float (never an exponent).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        v.to_string()
    }
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Element {
    pub labels: Labels,
    pub value: f64,
}

pub type Vector = Vec<Element>;

/// A raw sample inside a range: timestamp in milliseconds and value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub t: i64,
    pub v: f64,
}

/// What an expression evaluates to at one instant.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    Vector(Vector),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_sets_are_sorted_without_empty_values() {
        let labels = Labels::new([("job", "node"), ("__name__", "up"), ("zone", "")]);
        assert_eq!(labels.to_string(), "up{job=\"node\"}");
        assert_eq!(labels.get("zone"), None);
        assert_eq!(labels.without_metric_name().to_string(), "{job=\"node\"}");
        assert_eq!(labels.keeping(&["job"]).len(), 1);
        assert_eq!(labels.with("instance", "a").get("instance"), Some("a"));
        assert_eq!(labels.with("job", "").len(), 1);
    }
}
