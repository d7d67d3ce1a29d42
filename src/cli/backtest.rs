//! `harbinger backtest`: replays CSV exports through the pipeline's features, a model
//! and its decision policy (the code `serve` runs) and writes one row per step, target
//! and entity; with `--report`, judges the tickets against the export's ALERTS next to
//! both baselines.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use harbinger::config::duration;
use harbinger::dataset;
use harbinger::model::{BudgetChoice, Budgets, Model, Policy, TargetModel, TargetScorer, front};
use harbinger::pipeline::{Pipeline, Signal};
use harbinger::promql::format_value;
use harbinger::report::Report;
use harbinger::rules::Target;
use harbinger::training::{TargetData, Trajectory, assess::assess, columns_read};
use indicatif::ProgressBar;

use super::feature_source::FeatureSource;
use super::output::Output;
use super::replayed::Replayed;
use super::summary::print_figures;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    harbinger backtest --model models/default.json \\\n    \
    --data ../shared/data/lab-dev/metrics.csv.gz --out predictions.csv --report report/\n  \
    harbinger backtest --model models/default.json --false-ticket-budget 2 \\\n    \
    --false-ticket-budget HostHighCpuLoad=0.5 --data export.csv.gz --out predictions.csv\n  \
    harbinger backtest --pipeline pipelines/nab.yml --data nab.csv.gz --out scores.csv\n  \
    harbinger backtest --model models/default.json --features features.parquet \\\n    \
    --data export.csv.gz --out predictions.csv\n\n\
    Output columns: timestamp (unix seconds), entity (its labels, Prometheus style),\n\
    target, probability, eta_seconds, eta_stderr_seconds, anomaly_score, level, ticket\n\
    (1 on the steps where a ticket opens); probability is NaN while it is unknown\n\
    (too little history). Without --model, each target's probability is the first-\n\
    passage probability of its shortest window, and a ticket opens at 0.8 for two\n\
    steps; a pipeline without targets gives one row\n\
    per signal (target empty, signal named in the `signal` column).")]
pub struct BacktestArgs {
    /// The model artifact (from `harbinger train`).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    #[command(flatten)]
    input: Replayed,
    #[command(flatten)]
    source: FeatureSource,
    /// Where to write the predictions (CSV; gzipped when the name ends in .gz).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Also judge the tickets against the data's ALERTS and write report.md and
    /// report.html into this directory.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Every target's horizon, without --model [default: each target's horizon in the
    /// pipeline's `horizons`]. A model predicts over the horizons it was trained for.
    #[arg(long, value_parser = duration::parse, conflicts_with = "model")]
    horizon: Option<Duration>,
    /// predict_linear windows the report's baseline may use; its best is reported.
    #[arg(long, value_delimiter = ',', default_value = "5m,10m,15m,20m,30m", value_parser = duration::parse)]
    baseline_windows: Vec<Duration>,
    /// At most N false tickets per entity-day, as `serve`'s `false_ticket_budget`: N for
    /// every target, ALERT=N for one (repeat the option for more). Each target then opens
    /// tickets by the policy of the model's front that is the best within it by the
    /// policy objective (episodes caught and their lead, less false tickets) [default:
    /// each target's trained policy].
    #[arg(long, value_name = "[ALERT=]N", requires = "model", value_parser = budget)]
    false_ticket_budget: Vec<(String, f64)>,
}

/// `N` (every target) or `ALERT=N`.
fn budget(text: &str) -> Result<(String, f64), String> {
    let (name, number) = text
        .split_once('=')
        .unwrap_or((harbinger::model::front::DEFAULT_BUDGET, text));
    let budget: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{number:?} is not a number of false tickets per entity-day"))?;
    Ok((name.trim().to_owned(), budget))
}

pub fn run(args: BacktestArgs) -> anyhow::Result<()> {
    let pipeline = args.input.pipeline()?;
    let mut model = args.model.as_deref().map(Model::load).transpose()?;
    if let Some(model) = &mut model {
        model.check(&pipeline)?;
        let budgets: Budgets = args.false_ticket_budget.iter().cloned().collect();
        let targets: Vec<&str> = pipeline.targets.iter().map(|t| t.alert.as_str()).collect();
        let problems: Vec<String> = front::problems(&budgets, &targets)
            .iter()
            .map(|p| format!("--false-ticket-budget {p}"))
            .collect();
        anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n"));
        model.spend(&budgets).iter().for_each(BudgetChoice::log);
    }
    anyhow::ensure!(
        args.horizon.is_none_or(|h| !h.is_zero()),
        "--horizon must be greater than 0"
    );
    args.source.check()?;
    let bar = ProgressBar::new(0).with_message("replaying");
    let columns = if pipeline.targets.is_empty() {
        signal_columns(&pipeline)
    } else {
        columns_read(&pipeline, &pipeline.targets)
    };
    let sourced = args
        .source
        .load(&pipeline, &args.input.exports, &columns, |done, of| {
            bar.set_length(of);
            bar.set_position(done);
        })?;
    bar.finish_and_clear();
    let (trajectories, history) = (sourced.trajectories, sourced.history);

    let mut csv = csv::Writer::from_writer(Output::create(&args.out)?);
    csv.write_record([
        "timestamp",
        "entity",
        "target",
        "signal",
        "probability",
        "eta_seconds",
        "eta_stderr_seconds",
        "anomaly_score",
        "level",
        "ticket",
    ])?;
    let mut report = Report {
        title: format!("Backtest over {:?}", args.input.exports.data),
        notes: args
            .model
            .iter()
            .map(|m| format!("model {}", m.display()))
            .collect(),
        targets: Vec::new(),
    };
    for target in &pipeline.targets {
        let target = match (&model, args.horizon) {
            (Some(model), _) => model.target_as_trained(target),
            (None, horizon) => Target {
                horizon: horizon.unwrap_or(target.horizon),
                ..target.clone()
            },
        };
        let scorer = TargetScorer::new(&pipeline, &target);
        let data = TargetData::new(
            &scorer,
            &trajectories[scorer.signal],
            &history,
            pipeline.step,
        );
        let untrained;
        let target_model = match model.as_ref().and_then(|m| m.target(&target.alert)) {
            Some(trained) => trained,
            None => {
                untrained = TargetModel::untrained(&scorer, Policy::untrained(&data.lifecycle));
                &untrained
            }
        };
        let all: Vec<usize> = (0..data.trajectories.len()).collect();
        let probabilities = data.probabilities(target_model, &all);
        let tickets = data.tickets(&target_model.policy, &all, &probabilities);
        let mut row = Vec::new();
        for (i, trajectory) in data.trajectories.iter().enumerate() {
            let entity = trajectory.entity.to_string();
            for (step, &t_ms) in trajectory.times_ms.iter().enumerate() {
                let alert = data.alert_state(i, step);
                let row = trajectory.rows.read(step, &mut row);
                let scored = scorer.observe(row, probabilities[i][step], alert);
                let opened = tickets
                    .iter()
                    .any(|t| t.trajectory == i && t.span.open_ms == t_ms);
                let o = scored.observation;
                csv.write_record([
                    dataset::format_seconds(t_ms),
                    entity.clone(),
                    target.alert.clone(),
                    target.alert.clone(),
                    format_value(o.probability),
                    format_value(o.eta_seconds),
                    format_value(o.eta_stderr_seconds),
                    format_value(scored.anomaly_score),
                    format_value(scored.level),
                    u8::from(opened).to_string(),
                ])?;
            }
        }
        if args.report.is_some() {
            let (_, target_report) = assess(
                &data,
                &probabilities,
                &tickets,
                &args.baseline_windows,
                target_model,
            );
            report.targets.push(target_report);
        }
    }
    if pipeline.targets.is_empty() {
        write_signals(&mut csv, &pipeline, &trajectories)?;
    }
    csv.into_inner()
        .map_err(|e| e.into_error())?
        .finish()
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(dir) = &args.report {
        harbinger::report::write(&report, dir)
            .with_context(|| format!("writing the report into {}", dir.display()))?;
        print_figures(&report);
    }
    Ok(())
}

/// The columns of each signal a pipeline without targets writes: level and anomaly
/// score.
fn signal_columns(pipeline: &Pipeline) -> Vec<Vec<usize>> {
    let columns = pipeline.signals.iter().map(|signal| {
        let (level, anomaly) = level_and_anomaly(signal);
        let mut columns = vec![level, anomaly];
        columns.sort_unstable();
        columns
    });
    columns.collect()
}

/// The columns of a signal's level and anomaly score.
fn level_and_anomaly(signal: &Signal) -> (usize, usize) {
    let names = signal.features.names();
    let column = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .expect("a feature column")
    };
    (column("level"), column("anomaly_score"))
}

/// Rows of a pipeline without targets: each signal's anomaly score and level.
fn write_signals(
    csv: &mut csv::Writer<Output>,
    pipeline: &Pipeline,
    trajectories: &[Vec<Trajectory>],
) -> anyhow::Result<()> {
    let mut row = Vec::new();
    for (signal, trajectories) in pipeline.signals.iter().zip(trajectories) {
        let (level, anomaly) = level_and_anomaly(signal);
        for trajectory in trajectories {
            let entity = trajectory.entity.to_string();
            for (step, &t_ms) in trajectory.times_ms.iter().enumerate() {
                let row = trajectory.rows.read(step, &mut row);
                csv.write_record([
                    dataset::format_seconds(t_ms),
                    entity.clone(),
                    String::new(),
                    signal.name.clone(),
                    "NaN".to_owned(),
                    "NaN".to_owned(),
                    "NaN".to_owned(),
                    format_value(row[anomaly]),
                    format_value(row[level]),
                    "0".to_owned(),
                ])?;
            }
        }
    }
    Ok(())
}
