//! Synthetic remote-write traffic for the benchmarks: a fleet of node_exporter targets
//! scraped by one Prometheus, and the requests it would send.
//!
//! In: a number of hosts and a [`Shape`]. Out: their series, each with a value model
//! (counters increase, gauges wander, constants stay), and the remote-write requests
//! carrying one sample of each series per scrape round of 15 s, 2000 samples per request,
//! host after host, as Prometheus sends them. The shapes:
//! - `node-exporter`: 500 series per host, shaped like node_exporter's
//!   (`node_cpu_seconds_total{cpu,mode}`, `node_filesystem_*{device,fstype,mountpoint}`,
//!   `node_network_*{device}`, `node_memory_*`, `node_disk_*{device}`, `go_*`,
//!   `process_*`, and Prometheus's own `up` and `scrape_*`);
//! - `sparse`: 21 of those per host, the ones the default pipeline reads
//!   (`Pipeline::metric_names`: one CPU's modes, load, memory and swap, disk writes, two
//!   filesystems) and `up`: an estate of many small entities, where the cost per entity
//!   and step dominates.
//!
//! Two ways to get requests:
//! - `Fleet::requests(protocol, round)`: prost encoding and `proto::encode_snappy`, exactly
//!   what a sender produces; used by the decode benchmarks.
//! - `Template`: the same bodies, compressed once by `compress_pinned`, a snappy block
//!   encoder that keeps every timestamp and value in a literal at a known position, so
//!   that the request of any later round is made by copying the template and patching
//!   those bytes (microseconds per request instead of re-encoding). Used wherever
//!   timestamps must keep advancing for a long time (registry steady state, load test).
//!   `Template::check` proves a rendered body decodes (snap + prost) to the same message
//!   as the prost-encoded request of that round.

#![allow(dead_code)]

mod catalogue;
mod template;

use std::collections::BTreeSet;
use std::ops::Range;

use harbinger::ingest::Protocol;
use harbinger::ingest::proto;
use harbinger::pipeline::Pipeline;

use catalogue::Catalogue;
pub use template::Template;

/// The node_exporter shape's series per host.
pub const SERIES_PER_HOST: usize = 500;
pub const SAMPLES_PER_REQUEST: usize = 2000;
pub const SCRAPE_INTERVAL_MS: i64 = 15_000;
/// Timestamp of round 0 (2025-06-15T15:06:40Z); later rounds add 15 s each.
pub const BASE_MS: i64 = 1_750_000_000_000;

/// How a series' value evolves from one scrape round to the next.
#[derive(Debug, Clone, Copy)]
enum Model {
    /// Increases by about `per_sec` per second (never decreases); integer counters
    /// (bytes, packets) stay integers.
    Counter {
        start: f64,
        per_sec: f64,
        integer: bool,
    },
    /// Wanders around `base` by up to `amplitude`, never below zero.
    Gauge {
        base: f64,
        amplitude: f64,
        integer: bool,
    },
    Constant(f64),
}

/// The metric type a remote-write 2.0 sender declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn wire(self) -> i32 {
        match self {
            Kind::Counter => proto::v2::metadata::MetricType::Counter as i32,
            Kind::Gauge => proto::v2::metadata::MetricType::Gauge as i32,
        }
    }
}

pub struct Series {
    /// Sorted by name; `__name__` first.
    pub labels: Vec<(String, String)>,
    pub kind: Kind,
    pub help: String,
    pub host: usize,
    model: Model,
    seed: u64,
}

/// What each host of a fleet exposes (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    NodeExporter,
    Sparse,
}

impl std::str::FromStr for Shape {
    type Err = String;

    fn from_str(text: &str) -> Result<Shape, String> {
        match text {
            "node-exporter" => Ok(Shape::NodeExporter),
            "sparse" => Ok(Shape::Sparse),
            other => Err(format!("{other:?}: expected node-exporter or sparse")),
        }
    }
}

impl Shape {
    /// Whether a host of this shape exposes the catalogue's series; `read` holds the
    /// metric names the default pipeline reads (`Pipeline::metric_names`).
    fn keeps(self, entry: &catalogue::Entry, read: &BTreeSet<String>) -> bool {
        let label = |name: &str| {
            entry
                .labels
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        match self {
            Shape::NodeExporter => true,
            Shape::Sparse => {
                // `up`, which no signal reads, is what Prometheus writes of every target.
                (read.contains(entry.name.as_str()) || entry.name == "up")
                    && label("cpu").is_none_or(|cpu| cpu == "0")
                    && label("mountpoint").is_none_or(|m| m == "/" || m == "/var/lib/data")
            }
        }
    }
}

/// All series of `hosts` targets, host after host, each host's series in scrape order.
pub struct Fleet {
    pub series: Vec<Series>,
    pub hosts: usize,
    pub series_per_host: usize,
    /// Whether each host is scraped at its own offset within the interval (true, as
    /// Prometheus spreads targets) or all at the same instant.
    pub spread: bool,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A deterministic number in [0, 1) for (seed, round).
fn unit(seed: u64, round: u64) -> f64 {
    (splitmix(seed ^ round.wrapping_mul(0x2545_f491_4f6c_dd1d)) >> 11) as f64 / (1u64 << 53) as f64
}

impl Fleet {
    /// `hosts` node_exporter targets, `instance="host-NNN:9100"`, `job="node"`.
    pub fn node_exporters(hosts: usize) -> Fleet {
        Fleet::new(Shape::NodeExporter, hosts)
    }

    /// `hosts` targets of a shape, `instance="host-NNN:9100"`, `job="node"`. A series
    /// has the same values in every shape that has it.
    pub fn new(shape: Shape, hosts: usize) -> Fleet {
        let catalogue = Catalogue::node_exporter();
        let pipeline = Pipeline::embedded_default();
        let read = pipeline
            .metric_names()
            .expect("the default pipeline's selectors name their metrics");
        let kept: Vec<(usize, &catalogue::Entry)> = catalogue
            .entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| shape.keeps(entry, &read))
            .collect();
        let mut series = Vec::with_capacity(hosts * kept.len());
        for host in 0..hosts {
            let instance = format!("host-{host:03}:9100");
            for &(local, entry) in &kept {
                let seed = splitmix((host * SERIES_PER_HOST + local) as u64);
                // Hosts differ: rates and levels vary by up to ±50%.
                let scale = 0.5 + unit(seed, u64::MAX);
                let model = match entry.model {
                    Model::Counter {
                        start,
                        per_sec,
                        integer,
                    } => Model::Counter {
                        start: if integer {
                            (start * scale).floor()
                        } else {
                            start * scale
                        },
                        per_sec: per_sec * scale,
                        integer,
                    },
                    other => other,
                };
                let mut labels = Vec::with_capacity(entry.labels.len() + 3);
                labels.push(("__name__".to_owned(), entry.name.clone()));
                labels.extend(entry.labels.iter().cloned());
                labels.push(("instance".to_owned(), instance.clone()));
                labels.push(("job".to_owned(), "node".to_owned()));
                labels.sort();
                let help = help_text(&entry.name, entry.kind);
                series.push(Series {
                    labels,
                    kind: entry.kind,
                    help,
                    host,
                    model,
                    seed,
                });
            }
        }
        Fleet {
            series,
            hosts,
            series_per_host: kept.len(),
            spread: true,
        }
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// The series ranges of successive requests of `SAMPLES_PER_REQUEST` samples each.
    pub fn request_ranges(&self) -> Vec<Range<usize>> {
        (0..self.series.len())
            .step_by(SAMPLES_PER_REQUEST)
            .map(|start| start..(start + SAMPLES_PER_REQUEST).min(self.series.len()))
            .collect()
    }

    /// The scrape time of `series` in `round`: each host is scraped at its own offset
    /// within the interval, as Prometheus spreads targets.
    pub fn timestamp(&self, series: usize, round: u64) -> i64 {
        let host = self.series[series].host as i64;
        let offset = if self.spread {
            (host * 7919) % SCRAPE_INTERVAL_MS
        } else {
            0
        };
        BASE_MS + round as i64 * SCRAPE_INTERVAL_MS + offset
    }

    pub fn value(&self, series: usize, round: u64) -> f64 {
        let s = &self.series[series];
        match s.model {
            Model::Constant(value) => value,
            Model::Counter {
                start,
                per_sec,
                integer,
            } => {
                let step = per_sec * (SCRAPE_INTERVAL_MS / 1000) as f64;
                // Jitter of up to half a step keeps the counter monotonic.
                let value = start + step * round as f64 + step * 0.5 * unit(s.seed, round);
                if integer { value.floor() } else { value }
            }
            Model::Gauge {
                base,
                amplitude,
                integer,
            } => {
                let period = 20.0 + (s.seed % 180) as f64;
                let phase = unit(s.seed, u64::MAX - 1) * std::f64::consts::TAU;
                let wave = (round as f64 / period * std::f64::consts::TAU + phase).sin();
                let noise = 2.0 * unit(s.seed, round) - 1.0;
                let value = (base + amplitude * (0.8 * wave + 0.2 * noise)).max(0.0);
                if integer { value.round() } else { value }
            }
        }
    }

    /// The remote-write 1.0 message for `series` in `round`.
    pub fn v1_message(&self, series: Range<usize>, round: u64) -> proto::v1::WriteRequest {
        let timeseries = series
            .map(|i| proto::v1::TimeSeries {
                labels: self.series[i]
                    .labels
                    .iter()
                    .map(|(name, value)| proto::v1::Label {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect(),
                samples: vec![proto::v1::Sample {
                    value: self.value(i, round),
                    timestamp: self.timestamp(i, round),
                }],
                ..Default::default()
            })
            .collect();
        proto::v1::WriteRequest {
            timeseries,
            metadata: Vec::new(),
        }
    }

    /// The remote-write 2.0 message for `series` in `round`: symbols in order of first
    /// use, starting with "", each series with its type and help text.
    pub fn v2_message(&self, series: Range<usize>, round: u64) -> proto::v2::Request {
        let mut symbols = Symbols::default();
        let timeseries = series
            .map(|i| {
                let s = &self.series[i];
                let labels_refs = s
                    .labels
                    .iter()
                    .flat_map(|(name, value)| [symbols.get(name), symbols.get(value)])
                    .collect();
                proto::v2::TimeSeries {
                    labels_refs,
                    samples: vec![proto::v2::Sample {
                        value: self.value(i, round),
                        timestamp: self.timestamp(i, round),
                        start_timestamp: 0,
                    }],
                    metadata: Some(proto::v2::Metadata {
                        r#type: s.kind.wire(),
                        help_ref: symbols.get(&s.help),
                        unit_ref: 0,
                    }),
                    ..Default::default()
                }
            })
            .collect();
        proto::v2::Request {
            symbols: symbols.list,
            timeseries,
        }
    }

    /// Every request of `round`, prost-encoded and snappy-compressed.
    pub fn requests(&self, protocol: Protocol, round: u64) -> Vec<Vec<u8>> {
        self.request_ranges()
            .into_iter()
            .map(|range| match protocol {
                Protocol::V1 => proto::encode_snappy(&self.v1_message(range, round)),
                Protocol::V2 => proto::encode_snappy(&self.v2_message(range, round)),
            })
            .collect()
    }

    /// One patchable template per request of a round.
    pub fn templates(&self, protocol: Protocol) -> Vec<Template> {
        self.request_ranges()
            .into_iter()
            .map(|range| Template::new(self, protocol, range))
            .collect()
    }
}

fn help_text(name: &str, kind: Kind) -> String {
    let what = name
        .trim_start_matches("node_")
        .trim_end_matches("_total")
        .replace('_', " ");
    match kind {
        Kind::Counter => format!("Total {what}, as a counter since boot or process start."),
        Kind::Gauge => format!("Current {what}, as reported by the exporter."),
    }
}

#[derive(Default)]
struct Symbols {
    list: Vec<String>,
    index: std::collections::HashMap<String, u32>,
}

impl Symbols {
    fn get(&mut self, text: &str) -> u32 {
        if self.list.is_empty() {
            self.list.push(String::new());
            self.index.insert(String::new(), 0);
        }
        if let Some(&id) = self.index.get(text) {
            return id;
        }
        let id = self.list.len() as u32;
        self.list.push(text.to_owned());
        self.index.insert(text.to_owned(), id);
        id
    }
}
