//! What the load bench reads off a server's `/metrics` page: harbinger's own counters
//! (samples received and dropped, requests by code, active series, a worker's samples
//! and record delays), and any metric's value by name (VictoriaMetrics' rows stored).

use std::collections::BTreeMap;

/// The figures read from the server's `/metrics`.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub received: f64,
    pub dropped: BTreeMap<String, f64>,
    pub active_series: f64,
    requests: BTreeMap<String, f64>,
    /// Samples the pipeline took (a worker's throughput).
    pub processed: f64,
    /// `harbinger_kafka_record_delay_seconds` buckets: (upper bound, cumulative count).
    delay_buckets: Vec<(f64, f64)>,
}

impl Counters {
    pub fn parse(text: &str) -> Counters {
        let mut counters = Counters::default();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let label = |key: &str| {
                labels
                    .split(',')
                    .find_map(|pair| pair.strip_prefix(key)?.strip_prefix("=\""))
                    .map(|v| v.trim_end_matches('"').to_owned())
                    .unwrap_or_default()
            };
            match name {
                "harbinger_samples_received_total" => counters.received = value,
                "harbinger_samples_dropped_total" => {
                    counters.dropped.insert(label("reason"), value);
                }
                "harbinger_active_series" => counters.active_series = value,
                "harbinger_pipeline_samples_processed_total" => counters.processed = value,
                "harbinger_kafka_record_delay_seconds_bucket" => {
                    let le = label("le");
                    let bound = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap_or(f64::NAN)
                    };
                    counters.delay_buckets.push((bound, value));
                }
                "harbinger_requests_total" => {
                    counters.requests.insert(label("code"), value);
                }
                _ => {}
            }
        }
        counters
    }

    /// The p99 of the record delays observed since `before`, as its bucket's upper bound.
    pub fn delay_p99_since(&self, before: &Counters) -> f64 {
        let count_before = |bound: f64| {
            before
                .delay_buckets
                .iter()
                .find(|(b, _)| *b == bound)
                .map_or(0.0, |(_, n)| *n)
        };
        let deltas: Vec<(f64, f64)> = self
            .delay_buckets
            .iter()
            .map(|&(bound, n)| (bound, n - count_before(bound)))
            .collect();
        let total = deltas.last().map_or(0.0, |(_, n)| *n);
        deltas
            .iter()
            .find(|(_, n)| *n >= 0.99 * total)
            .map_or(f64::NAN, |(bound, _)| *bound)
    }

    pub fn dropped_total(&self) -> f64 {
        self.dropped.values().sum()
    }

    pub fn requests_other_than_204(&self) -> f64 {
        self.requests
            .iter()
            .filter(|(code, _)| code.as_str() != "204")
            .map(|(_, n)| n)
            .sum()
    }
}

/// The value of an unlabelled metric, or the sum of its series, on a `/metrics` page.
pub fn metric_value(page: &str, name: &str) -> f64 {
    page.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}
