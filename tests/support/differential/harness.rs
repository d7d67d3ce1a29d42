//! The harness of the PromQL differential test: one expression evaluated by Prometheus
//! (over HTTP) and by the `harbinger query` binary, and the two results compared.
//!
//! In: a `Job` (a data set loaded into both engines, an expression, and whether both
//! should agree or both fail). Out: an `Outcome`, the number of points compared and a
//! report of what differs, if anything.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use super::files::parse_seconds;
use crate::support::prometheus::{
    Labels, Matrix, Server, Span, format_seconds, format_value, parse_value,
};

/// A data set loaded into both engines.
pub struct DataSet {
    pub name: &'static str,
    /// The long-format CSV harbinger reads.
    pub csv: PathBuf,
    pub span: Span,
    pub prometheus: Server,
}

#[derive(Clone, Copy)]
pub enum Expect {
    /// Both engines answer, with the same points.
    Agree,
    /// Both engines fail to evaluate.
    Fail,
}

pub struct Job {
    pub data: Arc<DataSet>,
    pub section: &'static str,
    pub expr: &'static str,
    pub expect: Expect,
}

/// What came of one expression.
pub struct Outcome {
    pub points: usize,
    /// A report of what differs, if anything.
    pub problem: Option<String>,
}

/// Evaluates one job in both engines and compares.
pub async fn run(http: &reqwest::Client, job: &Job) -> Outcome {
    let data = &job.data;
    let (csv, expr, span) = (data.csv.clone(), job.expr, data.span);
    let (expected, got) = tokio::join!(data.prometheus.query_range(http, expr, span), async {
        tokio::task::spawn_blocking(move || run_harbinger(&csv, expr, span))
            .await
            .expect("running harbinger panicked")
    });
    let problem = |text: String| Outcome {
        points: 0,
        problem: Some(text),
    };
    match (job.expect, expected, got) {
        (Expect::Agree, Ok(expected), Ok(got)) => {
            let (points, differences) = compare(&expected, &got, span);
            Outcome {
                points,
                problem: differences,
            }
        }
        (Expect::Agree, Err(error), _) => problem(format!(
            "  the test is wrong: Prometheus refuses the expression: {error}"
        )),
        (Expect::Agree, Ok(_), Err(error)) => problem(format!("  harbinger failed: {error}")),
        (Expect::Fail, Ok(_), _) => problem(
            "  the test is wrong: Prometheus evaluates the expression without an error".into(),
        ),
        (Expect::Fail, Err(expected), Ok(got)) => problem(format!(
            "  Prometheus fails ({expected}) but harbinger answered {} series",
            got.len()
        )),
        (Expect::Fail, Err(expected), Err(error))
            if error.contains("not supported") || error.contains("cannot parse") =>
        {
            problem(format!(
                "  Prometheus fails at evaluation ({expected}) but harbinger refuses the \
                 expression itself: {error}"
            ))
        }
        (Expect::Fail, Err(_), Err(_)) => Outcome {
            points: 0,
            problem: None,
        },
    }
}

/// `harbinger query` over `csv`, its CSV output read back as a matrix.
fn run_harbinger(csv: &Path, expr: &str, span: Span) -> Result<Matrix, String> {
    assert_eq!(span.step_ms % 1000, 0, "steps are whole seconds");
    let output = Command::new(env!("CARGO_BIN_EXE_harbinger"))
        .arg("query")
        .arg("--data")
        .arg(csv)
        // `=`: an expression that starts with `-` is not an option.
        .arg(format!("--expr={expr}"))
        .args(["--step", &format!("{}s", span.step_ms / 1000)])
        .args(["--start", &format_seconds(span.start_ms)])
        .args(["--end", &format_seconds(span.end_ms)])
        .env_remove("RUST_LOG")
        .output()
        .map_err(|e| format!("starting harbinger: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    read_harbinger_csv(&output.stdout)
}

/// `timestamp,<label columns>,value`; an empty cell is an absent label.
fn read_harbinger_csv(text: &[u8]) -> Result<Matrix, String> {
    let mut reader = csv::Reader::from_reader(text);
    let header = reader
        .headers()
        .map_err(|e| format!("output header: {e}"))?
        .clone();
    let columns: Vec<&str> = header.iter().collect();
    let (Some(&"timestamp"), Some(&"value")) = (columns.first(), columns.last()) else {
        return Err(format!("unexpected output header {columns:?}"));
    };
    let label_columns = &columns[1..columns.len() - 1];
    let mut matrix = Matrix::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("output line {}: {e}", line + 2))?;
        let bad = |what: &str| format!("output line {}: bad {what} in {record:?}", line + 2);
        let t = parse_seconds(&record[0]).ok_or_else(|| bad("timestamp"))?;
        let v = parse_value(&record[record.len() - 1]).ok_or_else(|| bad("value"))?;
        let labels: Labels = label_columns
            .iter()
            .zip(record.iter().skip(1))
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name.to_string(), value.to_owned()))
            .collect();
        matrix.entry(labels).or_default().push((t, v));
    }
    Ok(matrix)
}

/// Compares two results point by point; returns the number of points and, when they
/// differ, a report of the first differences.
fn compare(expected: &Matrix, got: &Matrix, span: Span) -> (usize, Option<String>) {
    const SHOWN: usize = 6;
    let flatten = |matrix: &Matrix| -> BTreeMap<(i64, Labels), f64> {
        matrix
            .iter()
            .flat_map(|(labels, points)| points.iter().map(|&(t, v)| ((t, labels.clone()), v)))
            .collect()
    };
    let (expected, got) = (flatten(expected), flatten(got));
    let keys: std::collections::BTreeSet<&(i64, Labels)> =
        expected.keys().chain(got.keys()).collect();
    let mut differences = Vec::new();
    for key in &keys {
        let (e, g) = (expected.get(key), got.get(key));
        if let (Some(&e), Some(&g)) = (e, g)
            && same(e, g)
        {
            continue;
        }
        differences.push((*key, e.copied(), g.copied()));
    }
    if differences.is_empty() {
        return (expected.len(), None);
    }
    let show = |v: Option<f64>| v.map_or("(no point)".to_owned(), format_value);
    let mut text = format!(
        "  {} of {} points differ (Prometheus has {}, harbinger {}):",
        differences.len(),
        keys.len(),
        expected.len(),
        got.len()
    );
    for ((t, labels), e, g) in differences.iter().take(SHOWN) {
        let _ = write!(
            text,
            "\n    t={} (start+{}s) {}: prometheus {}, harbinger {}",
            format_seconds(*t),
            (t - span.start_ms) as f64 / 1e3,
            format_labels(labels),
            show(*e),
            show(*g),
        );
    }
    if differences.len() > SHOWN {
        let _ = write!(text, "\n    ...");
    }
    (expected.len(), Some(text))
}

/// Equal within 1e-9 relative, or both below 1e-12; NaN equals NaN, an infinity only
/// itself.
fn same(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    if a.is_infinite() || b.is_infinite() {
        return false;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) || (a.abs() < 1e-12 && b.abs() < 1e-12)
}

fn format_labels(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}
