//! The series of an export: their order, the CSV columns their labels need, and the
//! selector that asks Prometheus for exactly one of them.
//!
//! In: label sets as `/api/v1/series` lists them. Out: a [`SeriesList`] sorted as the
//! long format orders rows (metric name in byte order, then the sorted label set), its
//! label columns, and a fingerprint that tells whether two listings are the same.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;

use crate::dataset::format_series;

use super::error::ExportError;

/// One series: its metric name and its other labels, sorted by name. The derived order
/// is the long format's row order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Series {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

impl Series {
    /// From a label set that includes `__name__`; `None` without it.
    pub fn from_labels(mut labels: BTreeMap<String, String>) -> Option<Series> {
        let name = labels.remove("__name__")?;
        Some(Series {
            name,
            labels: labels.into_iter().collect(),
        })
    }

    /// The label set with `__name__`, as the query API returns it.
    pub fn label_set(&self) -> BTreeMap<String, String> {
        let mut all: BTreeMap<String, String> = self.labels.iter().cloned().collect();
        all.insert("__name__".to_owned(), self.name.clone());
        all
    }

    /// In PromQL notation, for messages.
    pub fn display(&self) -> String {
        format_series(&self.with_name())
    }

    fn with_name(&self) -> Vec<(String, String)> {
        let mut all = vec![("__name__".to_owned(), self.name.clone())];
        all.extend(self.labels.iter().cloned());
        all
    }
}

/// Label names that the long format cannot hold as label columns, and what they mean there.
const RESERVED: [(&str, &str); 3] = [
    ("label_name", "is the column of the label `name`"),
    ("timestamp", "is the sample's time"),
    ("value", "is the sample's value"),
];

/// The series to export, in row order, with the columns they need.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesList {
    pub series: Vec<Series>,
    /// Every label name of the series but `__name__`, sorted: the label columns.
    pub label_names: Vec<String>,
    /// Per metric name, the label names its series carry.
    names_of_metric: HashMap<String, BTreeSet<String>>,
}

impl SeriesList {
    /// Sorts and deduplicates `series`; refuses label names the format reserves.
    pub fn new(mut series: Vec<Series>) -> Result<SeriesList, ExportError> {
        series.sort_unstable();
        series.dedup();
        let mut names_of_metric: HashMap<String, BTreeSet<String>> = HashMap::new();
        for s in &series {
            let names = names_of_metric.entry(s.name.clone()).or_default();
            for (label, _) in &s.labels {
                if let Some(&(_, meaning)) = RESERVED.iter().find(|(name, _)| name == label) {
                    return Err(ExportError::LabelClash {
                        series: s.display(),
                        label: label.clone(),
                        meaning,
                    });
                }
                names.insert(label.clone());
            }
        }
        let label_names: BTreeSet<&String> = names_of_metric.values().flatten().collect();
        let label_names = label_names.into_iter().cloned().collect();
        Ok(SeriesList {
            series,
            label_names,
            names_of_metric,
        })
    }

    /// The CSV header: `name,timestamp,value`, then the label columns, the label `name`
    /// written `label_name` (in the place of `name`).
    pub fn header(&self) -> Vec<&str> {
        let labels = self.label_names.iter().map(|label| match label.as_str() {
            "name" => "label_name",
            other => other,
        });
        ["name", "timestamp", "value"]
            .into_iter()
            .chain(labels)
            .collect()
    }

    /// One series' label cells, in column order; empty where it lacks the label.
    pub fn cells<'a>(&'a self, series: &'a Series) -> Vec<&'a str> {
        self.label_names
            .iter()
            .map(|name| {
                series
                    .labels
                    .binary_search_by(|(label, _)| label.cmp(name))
                    .map_or("", |i| series.labels[i].1.as_str())
            })
            .collect()
    }

    /// A selector matching `series` and no other series of the listing: its labels as `=`
    /// matchers, and `label=""` (label absent) for every label name other series of its
    /// metric carry, so that `up{job="a"}` does not also match `up{job="a", zone="b"}`.
    pub fn selector(&self, series: &Series) -> String {
        let mut matchers = series.with_name();
        let absent = self.names_of_metric[&series.name]
            .iter()
            .filter(|name| {
                series
                    .labels
                    .binary_search_by(|(l, _)| l.cmp(name))
                    .is_err()
            })
            .map(|name| (name.clone(), String::new()));
        matchers.extend(absent);
        format_series(&matchers)
    }

    /// A digest of the listing: a resumed export continues only over the same series.
    /// Stable across runs of one harbinger build (a fixed seed).
    pub fn fingerprint(&self) -> u64 {
        foldhash::fast::FixedState::with_seed(0x6861_7262).hash_one(&self.series)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, labels: &[(&str, &str)]) -> Series {
        Series {
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|&(l, v)| (l.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    #[test]
    fn series_are_ordered_by_name_in_byte_order_then_labels() {
        let list = SeriesList::new(vec![
            series("up", &[("job", "b")]),
            series("node_load1", &[("job", "a")]),
            series("up", &[("job", "a"), ("zone", "z")]),
            series("ALERTS", &[("alertname", "X")]),
            series("up", &[("job", "a")]),
            series("up", &[("job", "a")]),
        ])
        .unwrap();
        let shown: Vec<String> = list.series.iter().map(Series::display).collect();
        assert_eq!(
            shown,
            [
                r#"ALERTS{alertname="X"}"#,
                r#"node_load1{job="a"}"#,
                r#"up{job="a"}"#,
                r#"up{job="a", zone="z"}"#,
                r#"up{job="b"}"#,
            ]
        );
        assert_eq!(
            list.header(),
            ["name", "timestamp", "value", "alertname", "job", "zone"]
        );
        assert_eq!(list.cells(&list.series[2]), ["", "a", ""]);
    }

    #[test]
    fn the_label_name_gets_the_label_name_column_in_its_place() {
        let list = SeriesList::new(vec![series(
            "node_os_info",
            &[("id", "debian"), ("name", "Debian"), ("zz", "1")],
        )])
        .unwrap();
        assert_eq!(
            list.header(),
            ["name", "timestamp", "value", "id", "label_name", "zz"]
        );
    }

    #[test]
    fn a_selector_excludes_the_labels_other_series_of_its_metric_have() {
        let list = SeriesList::new(vec![
            series("up", &[("job", "a")]),
            series("up", &[("job", "a"), ("zone", "z")]),
            series("other", &[("extra", "x")]),
        ])
        .unwrap();
        let up = &list.series[1];
        assert_eq!(list.selector(up), r#"up{job="a", zone=""}"#);
        assert_eq!(list.selector(&list.series[2]), r#"up{job="a", zone="z"}"#);
    }

    #[test]
    fn labels_the_format_reserves_are_refused_naming_the_series() {
        let error = SeriesList::new(vec![series("up", &[("value", "1")])]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "series up{value=\"1\"}: its label \"value\" cannot be a column of the long CSV \
             format, where \"value\" is the sample's value"
        );
    }
}
