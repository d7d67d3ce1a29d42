//! `harbinger query`: evaluates a PromQL expression over CSV exports with the engine
//! `serve` uses, and prints `timestamp,<labels as columns>,value` CSV, so that a user can
//! check a signal before trusting it.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;

use super::exports::Exports;
use anyhow::Context;
use harbinger::config::duration;
use harbinger::dataset;
use harbinger::promql::{Labels, Plan, Steps, Value, format_value, replay_plan};

use super::output::Output;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    harbinger query --data ../shared/data/lab-dev/metrics.csv.gz --step 5s \\\n    \
    --expr '(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes'\n  \
    harbinger query --data export.csv.gz --expr 'rate(node_cpu_seconds_total[1m])' \\\n    \
    --start 1795571575 --end 1795572175 --out cpu.csv\n\n\
    Output: one row per step and series, ordered by time, then labels; a column per\n\
    label name found in the result; timestamp in unix seconds; values as Prometheus\n\
    prints them (NaN, +Inf, -Inf).")]
pub struct QueryArgs {
    #[command(flatten)]
    exports: Exports,
    /// The PromQL expression.
    #[arg(long, value_name = "EXPR")]
    expr: String,
    /// Evaluation step (Prometheus duration).
    #[arg(long, default_value = "15s", value_parser = duration::parse)]
    step: std::time::Duration,
    /// First evaluation time, unix seconds (default: the data's first sample).
    #[arg(long, value_name = "SECONDS")]
    start: Option<f64>,
    /// Last evaluation time, unix seconds (default: the data's last sample).
    #[arg(long, value_name = "SECONDS")]
    end: Option<f64>,
    /// Write the CSV here instead of standard output (gzipped when the name ends in .gz).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(args: QueryArgs) -> anyhow::Result<()> {
    let plan = Plan::parse(&args.expr)?;
    let step_ms = args.step.as_millis() as i64;
    anyhow::ensure!(step_ms > 0, "--step must be greater than 0");
    let dataset = args.exports.read()?;
    let Some(steps) = Steps::over(&dataset, step_ms, args.start, args.end) else {
        anyhow::bail!("the data holds no samples");
    };
    let mut table = Table::default();
    replay_plan(&plan, &dataset, steps, |t_ms, value| table.add(t_ms, value))
        .with_context(|| format!("evaluating {:?}", args.expr))?;
    match &args.out {
        Some(path) => {
            let mut out = Output::create(path)?;
            table.write(&mut out)?;
            out.finish()
                .with_context(|| format!("writing {}", path.display()))
        }
        None => table.write(std::io::stdout().lock()),
    }
}

/// The result rows, with each label set stored once.
#[derive(Default)]
struct Table {
    label_sets: Vec<Labels>,
    ids: HashMap<Labels, usize>,
    rows: Vec<(i64, usize, f64)>,
}

impl Table {
    fn add(&mut self, t_ms: i64, value: Value) {
        let elements = match value {
            Value::Scalar(v) => vec![(Labels::default(), v)],
            Value::Vector(vector) => vector.into_iter().map(|e| (e.labels, e.value)).collect(),
        };
        for (labels, v) in elements {
            let next = self.label_sets.len();
            let id = *self.ids.entry(labels.clone()).or_insert(next);
            if id == next {
                self.label_sets.push(labels);
            }
            self.rows.push((t_ms, id, v));
        }
    }

    fn write(mut self, out: impl Write) -> anyhow::Result<()> {
        let columns: BTreeSet<&str> = self
            .label_sets
            .iter()
            .flat_map(|labels| labels.iter().map(|(name, _)| name))
            .collect();
        let label_sets = &self.label_sets;
        self.rows
            .sort_by(|a, b| (a.0, &label_sets[a.1]).cmp(&(b.0, &label_sets[b.1])));
        let mut csv = csv::Writer::from_writer(out);
        let header = std::iter::once("timestamp")
            .chain(columns.iter().copied())
            .chain(std::iter::once("value"));
        csv.write_record(header)?;
        for &(t_ms, id, v) in &self.rows {
            let labels = &label_sets[id];
            let mut record = vec![dataset::format_seconds(t_ms)];
            record.extend(
                columns
                    .iter()
                    .map(|c| labels.get(c).unwrap_or("").to_owned()),
            );
            record.push(format_value(v));
            csv.write_record(&record)?;
        }
        csv.flush()?;
        Ok(())
    }
}
