//! `harbinger train`: fits a model to CSV exports, evaluates it on held-out entities
//! next to both baselines, and writes the model artifact (and a report).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use harbinger::config::duration;
use harbinger::dataset;
use harbinger::training::{HeldOutTicket, Options, columns_read, train};
use indicatif::{ProgressBar, ProgressStyle};

use super::feature_source::FeatureSource;
use super::output::Output;
use super::replayed::Replayed;
use super::summary::print_figures;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    harbinger train --data ../shared/data/lab-dev/metrics.csv.gz \\\n    \
    --data ../shared/data/lab-dev2/metrics.csv.gz --horizon 10m --out models/default.json\n  \
    harbinger train --pipeline pipelines/node-exporter.yml --data export.csv.gz \\\n    \
    --horizon 1h --out models/disks.json --report report/ --tickets held-out.csv\n  \
    harbinger features --data export.csv.gz --out features.parquet\n  \
    harbinger train --features features.parquet --data export.csv.gz --out model.json\n\n\
    Each target's probability is the first-passage probability of its signal (drift and\n\
    volatility of a window, no labels needed); training picks the window, how cautious\n\
    the drift is, and the ticket policy, and tries a classifier that learns from every\n\
    level the signal reached and held, and is calibrated on the export's ALERTS (positive\n\
    when the rule starts firing within the horizon). Entities are split into\n\
    folds; each fold is scored by a model fitted on the others, so the printed figures\n\
    are on entities the model never saw: an episode is caught by a ticket opened from\n\
    the horizon before its crossing (first pending) until it fires, and a ticket is true\n\
    when the alert fires within the horizon plus the rule's `for`.")]
pub struct TrainArgs {
    #[command(flatten)]
    input: Replayed,
    #[command(flatten)]
    source: FeatureSource,
    /// How far ahead to predict every target's onset (Prometheus duration) [default:
    /// each target's horizon in the pipeline's `horizons`, 30m where it names none].
    #[arg(long, value_parser = duration::parse)]
    horizon: Option<Duration>,
    /// Where to write the model artifact (JSON); missing directories are created.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Also write the evaluation report (report.md, report.html) into this directory.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Also write every ticket of the held-out evaluation (CSV: target, entity,
    /// timestamp), to score them with your own tools.
    #[arg(long, value_name = "FILE")]
    tickets: Option<PathBuf>,
    /// Folds of entities for the held-out evaluation.
    #[arg(long, default_value_t = 4)]
    folds: usize,
    /// Seed of every random choice (bootstrap samples, oversampling).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// predict_linear windows the baseline may use; its best is reported.
    #[arg(long, value_delimiter = ',', default_value = "5m,10m,15m,20m,30m", value_parser = duration::parse)]
    baseline_windows: Vec<Duration>,
    /// At most this many false tickets per entity-day on the training entities: each
    /// target's policy is the one that catches most, earliest, within it (the one with
    /// the fewest false tickets when none is) [default: no limit; caught episodes, their
    /// lead and false tickets are weighed together].
    #[arg(long, value_name = "PER_ENTITY_DAY")]
    false_ticket_budget: Option<f64>,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.horizon.is_none_or(|h| !h.is_zero()),
        "--horizon must be greater than 0"
    );
    anyhow::ensure!(args.folds >= 2, "--folds must be at least 2");
    args.source.check()?;
    anyhow::ensure!(
        args.false_ticket_budget
            .is_none_or(|b| b.is_finite() && b >= 0.0),
        "--false-ticket-budget must be a number of false tickets per entity-day, 0 or more"
    );
    // The outputs' directories first: a typo in a path is no reason to lose a training.
    for path in std::iter::once(&args.out).chain(&args.tickets) {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| {
                format!(
                    "creating {}, the directory of {}",
                    parent.display(),
                    path.display()
                )
            })?;
        }
    }
    let started = Instant::now();
    let pipeline = args.input.pipeline()?;
    let options = Options {
        horizon: args.horizon,
        seed: args.seed,
        folds: args.folds,
        baseline_windows: args.baseline_windows.clone(),
        false_ticket_budget: args.false_ticket_budget,
    };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} ({elapsed})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let mut fitting_from = None;
    let progress = |target: &str, done, of| {
        fitting_from.get_or_insert_with(Instant::now);
        bar.set_length(of);
        bar.set_position(done);
        bar.set_message(format!("fitting {target}"));
    };
    let columns = columns_read(&pipeline, &pipeline.targets);
    let sourced = args
        .source
        .load(&pipeline, &args.input.exports, &columns, |done, of| {
            bar.set_length(of);
            bar.set_position(done);
            bar.set_message("replaying features");
        })?;
    let load_seconds = started.elapsed().as_secs_f64();
    let trained = train(
        &pipeline,
        &sourced.trajectories,
        &sourced.history,
        sourced.data,
        &options,
        progress,
    );
    bar.finish_and_clear();
    trained
        .model
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(dir) = &args.report {
        harbinger::report::write(&trained.report, dir)
            .with_context(|| format!("writing the report into {}", dir.display()))?;
    }
    if let Some(path) = &args.tickets {
        write_tickets(path, &trained.held_out_tickets)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    print_figures(&trained.report);
    let fit_seconds = fitting_from.map_or(0.0, |from| from.elapsed().as_secs_f64());
    tracing::info!(
        model = %args.out.display(),
        load_seconds,
        fit_seconds,
        total_seconds = started.elapsed().as_secs_f64(),
        "model written"
    );
    Ok(())
}

fn write_tickets(path: &Path, tickets: &[HeldOutTicket]) -> anyhow::Result<()> {
    let mut csv = csv::Writer::from_writer(Output::create(path)?);
    csv.write_record(["target", "entity", "timestamp"])?;
    for ticket in tickets {
        csv.write_record([
            ticket.target.clone(),
            ticket.entity.to_string(),
            dataset::format_seconds(ticket.open_ms),
        ])?;
    }
    csv.into_inner().map_err(|e| e.into_error())?.finish()?;
    Ok(())
}
