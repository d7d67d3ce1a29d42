//! Prometheus over recorded series, for differential tests: the series are written as
//! OpenMetrics text, turned into TSDB blocks by `promtool tsdb create-blocks-from
//! openmetrics`, served by a Prometheus that scrapes nothing, and queried with
//! `/api/v1/query_range`.
//!
//! Needs Debian's `prometheus` package (it ships `promtool`); fails, never skips, without.

// Test crates that include `support` for its other helpers leave this module unused.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Process, eventually, free_ports};

pub const INSTALL: &str = "run `apt-get install prometheus` (it ships promtool too)";

/// A label set, `__name__` included when present, as the query API returns it.
pub type Labels = BTreeMap<String, String>;

/// A query result: the points (unix ms, value) of each label set, in time order.
pub type Matrix = BTreeMap<Labels, Vec<(i64, f64)>>;

/// One recorded series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// The labels other than the metric name.
    pub labels: Labels,
    /// (unix ms, value), in time order.
    pub samples: Vec<(i64, f64)>,
}

/// Evaluation times of a range query: `start_ms`, `start_ms + step_ms`, ... ≤ `end_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

impl Span {
    /// From the first to the last sample of `series`.
    pub fn covering(series: &[Series], step_ms: i64) -> Span {
        let times = series
            .iter()
            .flat_map(|s| s.samples.iter().map(|&(t, _)| t));
        let start_ms = times.clone().min().expect("the data set has samples");
        let end_ms = times.max().expect("the data set has samples");
        Span {
            start_ms,
            end_ms,
            step_ms,
        }
    }

    pub fn steps(&self) -> i64 {
        (self.end_ms - self.start_ms) / self.step_ms + 1
    }
}

pub use harbinger::promql::format_value;

/// The inverse of `format_value`, also accepting any decimal or exponent form.
pub fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

/// Unix milliseconds as seconds: an integer when whole, else with the needed decimals.
pub fn format_seconds(ms: i64) -> String {
    let (seconds, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    if millis == 0 {
        seconds.to_string()
    } else {
        format!("{seconds}.{millis:03}")
            .trim_end_matches('0')
            .to_owned()
    }
}

/// Writes `series` as OpenMetrics text: one `# TYPE name unknown` family per metric name,
/// its series one after the other, each in time order, then `# EOF`.
///
/// promtool reads a timestamp as float seconds and keeps `int64(seconds * 1000)`, which
/// truncates: a millisecond time whose seconds are not exact in binary (such as `.1`) may
/// come back one millisecond early. Such times are refused here; use multiples of 125 ms.
pub fn write_openmetrics(series: &[Series], path: &Path) {
    let mut families: BTreeMap<&str, Vec<&Series>> = BTreeMap::new();
    for s in series {
        families.entry(&s.name).or_default().push(s);
    }
    let file = std::fs::File::create(path).expect("creating the OpenMetrics file");
    let mut out = BufWriter::new(file);
    let mut write = |text: &str| out.write_all(text.as_bytes()).expect("writing OpenMetrics");
    for (name, members) in families {
        write(&format!("# TYPE {name} unknown\n"));
        for s in members {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let head = format!("{name}{{{}}}", labels.join(","));
            for &(t, v) in &s.samples {
                let seconds = format_seconds(t);
                let read_back = (seconds.parse::<f64>().expect("a number") * 1000.0) as i64;
                assert_eq!(
                    read_back, t,
                    "promtool would read {seconds} s as {read_back} ms; use multiples of 125 ms"
                );
                write(&format!("{head} {} {seconds}\n", format_value(v)));
            }
        }
    }
    write("# EOF\n");
    out.flush().expect("writing OpenMetrics");
}

/// A label value escaped for the text formats.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// Runs `promtool tsdb create-blocks-from openmetrics INPUT TSDB`.
pub fn create_blocks(openmetrics: &Path, tsdb: &Path) {
    let output = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
        .arg(openmetrics)
        .arg(tsdb)
        .output()
        .unwrap_or_else(|error| match error.kind() {
            ErrorKind::NotFound => panic!("promtool is not installed: {INSTALL}"),
            _ => panic!("starting promtool: {error}"),
        });
    assert!(
        output.status.success(),
        "promtool create-blocks-from openmetrics {} failed ({}):\n{}{}",
        openmetrics.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

/// A Prometheus serving a TSDB directory, with nothing to scrape and a retention long
/// enough to keep any recorded block. Killed when dropped.
pub struct Server {
    pub process: Process,
    pub tsdb: PathBuf,
}

impl Server {
    /// Starts Prometheus on `tsdb` (logs and config in `dir`, named after `name`) and
    /// waits until it is ready.
    pub async fn start(name: &str, dir: &Path, tsdb: &Path, http: &reqwest::Client) -> Server {
        let [port] = free_ports();
        let config = dir.join(format!("{name}.yml"));
        std::fs::write(&config, "global:\n  scrape_interval: 1m\n").expect("writing the config");
        let args = [
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", tsdb.display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--storage.tsdb.retention.time=10y".to_owned(),
        ];
        let process = Process::spawn(name, "prometheus", &args, port, dir, INSTALL);
        let ready = format!("{}/-/ready", process.url);
        let deadline = Instant::now() + Duration::from_secs(60);
        eventually(&ready, deadline, async || {
            match http.get(&ready).send().await {
                Ok(response) if response.status() == 200 => Ok(()),
                Ok(response) => Err(format!("status {}", response.status())),
                Err(error) => Err(error.to_string()),
            }
        })
        .await;
        Server {
            process,
            tsdb: tsdb.to_owned(),
        }
    }

    /// `/api/v1/query_range` over `span`. A scalar result is one label-less series. An
    /// error answer (bad expression, failed evaluation) is `Err` with Prometheus's message.
    pub async fn query_range(
        &self,
        http: &reqwest::Client,
        expr: &str,
        span: Span,
    ) -> Result<Matrix, String> {
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/query_range", self.process.url))
            .expect("a valid URL");
        url.query_pairs_mut()
            .append_pair("query", expr)
            .append_pair("start", &format_seconds(span.start_ms))
            .append_pair("end", &format_seconds(span.end_ms))
            .append_pair("step", &format_seconds(span.step_ms));
        let response = http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("querying Prometheus: {e}"))?;
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("reading Prometheus's answer: {e}"))?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        parse_result(&body["data"]).ok_or_else(|| format!("unexpected answer: {body}"))
    }
}

/// The `data` of a query answer as a matrix.
fn parse_result(data: &Value) -> Option<Matrix> {
    let point = |pair: &Value| -> Option<(i64, f64)> {
        let t = pair.get(0)?.as_f64()?;
        let v = parse_value(pair.get(1)?.as_str()?)?;
        Some(((t * 1000.0).round() as i64, v))
    };
    let labels = |metric: &Value| -> Option<Labels> {
        metric
            .as_object()?
            .iter()
            .map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect()
    };
    let mut matrix = Matrix::new();
    match data["resultType"].as_str()? {
        "scalar" => {
            matrix.insert(Labels::new(), vec![point(&data["result"])?]);
        }
        "vector" => {
            for element in data["result"].as_array()? {
                let points = vec![point(&element["value"])?];
                matrix.insert(labels(&element["metric"])?, points);
            }
        }
        "matrix" => {
            for series in data["result"].as_array()? {
                let points = series["values"]
                    .as_array()?
                    .iter()
                    .map(point)
                    .collect::<Option<Vec<_>>>()?;
                matrix.insert(labels(&series["metric"])?, points);
            }
        }
        _ => return None,
    }
    Some(matrix)
}
