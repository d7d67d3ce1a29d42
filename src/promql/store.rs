//! The live series state PromQL reads: each series' labels and its recent samples.
//!
//! In: samples in timestamp order per series (from the receiver's pipeline, or replayed
//! from a CSV export), and `trim` calls that drop what no expression can still see.
//! Out: the series a selector matches, the value an instant selector sees at a time
//! (Prometheus's lookback and staleness rules), and the points a range selector sees.
//! Memory is bounded by the longest range plus the lookback, per series.

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;

use parking_lot::Mutex;
use promql_parser::label::{MatchOp, Matcher};

use super::value::{Labels, LabelsMap, METRIC_NAME, Point};
use crate::ingest::is_stale_marker;

/// Prometheus's default lookback for instant selectors: 5 minutes.
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// Index of a series in the store.
pub type SeriesIndex = usize;

struct StoredSeries {
    labels: Labels,
    /// `labels` without `__name__`, made the first time a function that drops the name
    /// (`rate`, arithmetic) is evaluated over the series, then shared at every step.
    nameless: OnceLock<Labels>,
    /// Ascending by time; may end with a stale marker.
    points: VecDeque<Point>,
}

#[derive(Default)]
pub struct SeriesStore {
    series: Vec<StoredSeries>,
    by_labels: LabelsMap<SeriesIndex>,
    /// Series by metric name: nearly every selector names its metric, so selection
    /// looks at that metric's series only, not at every series.
    by_name: HashMap<String, Vec<SeriesIndex>>,
    /// What each selector seen so far matched. A series keeps its index for good, so a
    /// selection only ever grows, and at each step only the series added since the last
    /// are matched: a pipeline evaluated step after step compares no labels once its
    /// series exist.
    selections: Mutex<Vec<Selection>>,
}

/// The series a selector matched among the first `examined` of its candidates (its
/// metric's series, or every series when it names none).
struct Selection {
    matchers: Vec<Matcher>,
    examined: usize,
    matched: Vec<SeriesIndex>,
}

impl SeriesStore {
    /// The index of a label set, adding it on first sight.
    pub fn series(&mut self, labels: &Labels) -> SeriesIndex {
        if let Some(&index) = self.by_labels.get(labels) {
            return index;
        }
        let index = self.series.len();
        self.series.push(StoredSeries {
            labels: labels.clone(),
            nameless: OnceLock::new(),
            points: VecDeque::new(),
        });
        self.by_labels.insert(labels.clone(), index);
        let name = labels.get(METRIC_NAME).unwrap_or_default();
        self.by_name.entry(name.to_owned()).or_default().push(index);
        index
    }

    /// Appends a sample; one not newer than the series' last is ignored.
    pub fn push(&mut self, index: SeriesIndex, point: Point) {
        let points = &mut self.series[index].points;
        if points.back().is_none_or(|last| last.t < point.t) {
            points.push_back(point);
        }
    }

    /// Forgets every sample of a series (it ended); its labels keep their index.
    pub fn clear(&mut self, index: SeriesIndex) {
        self.series[index].points = VecDeque::new();
    }

    /// Forgets samples older than `before_ms`, keeping the newest older one so that an
    /// instant selector can still look back to it.
    pub fn trim(&mut self, before_ms: i64) {
        for series in &mut self.series {
            while series.points.len() > 1 && series.points[1].t < before_ms {
                series.points.pop_front();
            }
        }
    }

    /// Series whose labels satisfy every matcher, in index order.
    pub fn select<'a>(
        &'a self,
        matchers: &[Matcher],
    ) -> impl Iterator<Item = (SeriesIndex, &'a Labels)> + 'a {
        let named = matchers
            .iter()
            .find(|m| m.name == METRIC_NAME && matches!(m.op, MatchOp::Equal));
        let candidates: &[SeriesIndex] = match named {
            Some(m) => self.by_name.get(&m.value).map_or(&[], Vec::as_slice),
            None => &[],
        };
        let candidate_count = match named {
            Some(_) => candidates.len(),
            None => self.series.len(),
        };
        let candidate = |i: usize| match named {
            Some(_) => candidates[i],
            None => i,
        };
        let mut selections = self.selections.lock();
        let at = match selections.iter().position(|s| s.matchers == matchers) {
            Some(at) => at,
            None => {
                selections.push(Selection {
                    matchers: matchers.to_vec(),
                    examined: 0,
                    matched: Vec::new(),
                });
                selections.len() - 1
            }
        };
        let selection = &mut selections[at];
        for i in selection.examined..candidate_count {
            let index = candidate(i);
            let labels = &self.series[index].labels;
            if matchers
                .iter()
                .all(|m| m.is_match(labels.get(&m.name).unwrap_or("")))
            {
                selection.matched.push(index);
            }
        }
        selection.examined = candidate_count;
        let matched = selection.matched.clone();
        drop(selections);
        matched
            .into_iter()
            .map(|index| (index, &self.series[index].labels))
    }

    /// The value an instant selector sees at `t_ms`: the latest sample at or before it,
    /// unless older than the lookback or a stale marker.
    pub fn instant(&self, index: SeriesIndex, t_ms: i64) -> Option<f64> {
        let points = &self.series[index].points;
        let at_or_before = at_or_before(points, t_ms);
        let latest = points.get(at_or_before.checked_sub(1)?)?;
        (latest.t >= t_ms - LOOKBACK_MS && !is_stale_marker(latest.v)).then_some(latest.v)
    }

    /// The points a range selector `[range]` sees at `t_ms`: those in
    /// `[t_ms - range_ms, t_ms]` (Prometheus 2.x closes the window on both ends), stale
    /// markers left out.
    /// The series' labels without `__name__`.
    pub fn nameless(&self, index: SeriesIndex) -> &Labels {
        let series = &self.series[index];
        series
            .nameless
            .get_or_init(|| series.labels.without_metric_name())
    }

    pub fn range(&self, index: SeriesIndex, t_ms: i64, range_ms: i64, out: &mut Vec<Point>) {
        out.clear();
        let points = &self.series[index].points;
        let start = points.partition_point(|p| p.t < t_ms - range_ms);
        let end = at_or_before(points, t_ms);
        out.extend(
            points
                .range(start..end)
                .filter(|p| !is_stale_marker(p.v))
                .copied(),
        );
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

/// How many points are at or before `t_ms`. Looked for from the newest end first: live
/// evaluation runs a step behind the newest sample, so the answer is one or two points
/// from the end; a binary search otherwise.
fn at_or_before(points: &VecDeque<Point>, t_ms: i64) -> usize {
    const FROM_THE_END: usize = 4;
    for (back, point) in points.iter().rev().take(FROM_THE_END).enumerate() {
        if point.t <= t_ms {
            return points.len() - back;
        }
    }
    points.partition_point(|p| p.t <= t_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::STALE_NAN_BITS;

    fn store() -> (SeriesStore, SeriesIndex) {
        let mut store = SeriesStore::default();
        let up = store.series(&Labels::new([("__name__", "up"), ("job", "node")]));
        for (t, v) in [(0, 1.0), (15_000, 2.0), (30_000, 3.0)] {
            store.push(up, Point { t, v });
        }
        (store, up)
    }

    #[test]
    fn points_at_or_before_a_time_are_counted_from_either_end_alike() {
        let points: VecDeque<Point> = (0..10).map(|i| Point { t: 10 * i, v: 0.0 }).collect();
        for t in -5..=105 {
            let searched = points.partition_point(|p| p.t <= t);
            assert_eq!(at_or_before(&points, t), searched, "at {t}");
        }
        assert_eq!(at_or_before(&VecDeque::new(), 0), 0);
    }

    #[test]
    fn instant_selector_looks_back_five_minutes() {
        let (store, up) = store();
        assert_eq!(store.instant(up, 20_000), Some(2.0));
        assert_eq!(store.instant(up, 30_000 + LOOKBACK_MS), Some(3.0));
        assert_eq!(store.instant(up, 30_001 + LOOKBACK_MS), None);
        assert_eq!(store.instant(up, -1), None);
    }

    #[test]
    fn a_stale_marker_hides_the_series_until_the_next_sample() {
        let (mut store, up) = store();
        store.push(
            up,
            Point {
                t: 45_000,
                v: f64::from_bits(STALE_NAN_BITS),
            },
        );
        assert_eq!(store.instant(up, 50_000), None);
        assert_eq!(store.instant(up, 40_000), Some(3.0));
        let mut points = Vec::new();
        store.range(up, 50_000, 60_000, &mut points);
        assert_eq!(points.len(), 3, "stale markers are not range points");
    }

    #[test]
    fn range_window_is_closed_on_both_ends() {
        let (store, up) = store();
        let mut points = Vec::new();
        store.range(up, 30_000, 15_000, &mut points);
        assert_eq!(
            points.iter().map(|p| p.t).collect::<Vec<_>>(),
            [15_000, 30_000]
        );
    }

    #[test]
    fn trim_keeps_one_sample_for_the_lookback() {
        let (mut store, up) = store();
        store.trim(40_000);
        assert_eq!(store.instant(up, 60_000), Some(3.0));
        let mut points = Vec::new();
        store.range(up, 60_000, 60_000, &mut points);
        assert_eq!(points.len(), 1);
    }

    #[test]
    fn selects_with_all_matcher_kinds() {
        let (mut store, _) = store();
        store.series(&Labels::new([("__name__", "up"), ("job", "db")]));
        let select = |matchers: Vec<Matcher>| store.select(&matchers).count();
        let regex = |op: fn(regex::Regex) -> MatchOp, re: &str| {
            Matcher::new(
                op(regex::Regex::new(&format!("^(?:{re})$")).unwrap()),
                "job",
                re,
            )
        };
        assert_eq!(select(vec![Matcher::new(MatchOp::Equal, "job", "db")]), 1);
        assert_eq!(
            select(vec![Matcher::new(MatchOp::NotEqual, "job", "db")]),
            1
        );
        assert_eq!(select(vec![regex(MatchOp::Re, "n.*")]), 1);
        assert_eq!(select(vec![regex(MatchOp::NotRe, "n.*")]), 1);
        assert_eq!(select(vec![Matcher::new(MatchOp::Equal, "zone", "")]), 2);
    }

    #[test]
    fn a_selection_takes_in_series_added_after_it_was_first_made() {
        let (mut store, up) = store();
        let name = |n: &str| Matcher::new(MatchOp::Equal, METRIC_NAME, n);
        let job = |j: &str| Matcher::new(MatchOp::Equal, "job", j);
        let selected = |store: &SeriesStore, matchers: &[Matcher]| -> Vec<SeriesIndex> {
            store.select(matchers).map(|(index, _)| index).collect()
        };
        let db_up = [name("up"), job("db")];
        let any_db = [job("db")];
        assert!(selected(&store, &db_up).is_empty());
        assert!(selected(&store, &any_db).is_empty());
        let db = store.series(&Labels::new([("__name__", "up"), ("job", "db")]));
        let other = store.series(&Labels::new([("__name__", "down"), ("job", "db")]));
        assert_eq!(selected(&store, &db_up), [db]);
        assert_eq!(selected(&store, &any_db), [db, other]);
        assert_eq!(selected(&store, &[name("up")]), [up, db]);
        assert_eq!(selected(&store, &db_up), [db], "asked again: the same");
    }
}
