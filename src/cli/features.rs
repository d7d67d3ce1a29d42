//! `harbinger features`: replays CSV exports through a pipeline's signals and feature
//! engine, the code `serve` runs, over every core where the pipeline allows
//! (`feature_replay`), and writes the per-entity feature table at each step.

use std::path::PathBuf;

use anyhow::Context;
use harbinger::model::artifact::DataSummary;
use harbinger::promql::Steps;
use harbinger::training::cache::Provenance;

use super::feature_replay::replay_in_parts;
use super::feature_table::FeatureTable;
use super::replayed::Replayed;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    harbinger features --pipeline pipelines/node-exporter.yml \\\n    \
    --data ../shared/data/lab-dev/metrics.csv.gz --out features.csv.gz\n\n\
    Output: one row per step, signal and entity: `timestamp,signal,<entity labels>,\n\
    <features>` (see `harbinger::features` for their definitions); an empty cell is a\n\
    feature the signal does not have (a threshold of another target) or an absent\n\
    entity label; NaN is a feature undefined at that step. A .gz name is gzipped; a\n\
    .parquet name writes Parquet (nulls for empty cells, zstd, 64k-row groups), which\n\
    `harbinger train --features` reads instead of replaying the export again.")]
pub struct FeaturesArgs {
    #[command(flatten)]
    input: Replayed,
    /// Where to write the table: CSV (gzipped when the name ends in .gz) or Parquet (.parquet).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// First step, unix seconds (default: the data's first sample).
    #[arg(long, value_name = "SECONDS")]
    start: Option<f64>,
    /// Last step, unix seconds (default: the data's last sample).
    #[arg(long, value_name = "SECONDS")]
    end: Option<f64>,
}

pub fn run(args: FeaturesArgs) -> anyhow::Result<()> {
    let pipeline = args.input.pipeline()?;
    let data = args.input.exports.read()?;
    let step_ms = pipeline.step.as_millis() as i64;
    let Some(steps) = Steps::over(&data, step_ms, args.start, args.end) else {
        anyhow::bail!("the data holds no samples");
    };
    // Feature columns in the engine's order, each signal's threshold columns in turn.
    let mut columns: Vec<String> = Vec::new();
    for name in pipeline.signals.iter().flat_map(|s| s.features.names()) {
        if !columns.contains(&name) {
            columns.push(name);
        }
    }
    // Per signal, where each column's value stands in its feature vector.
    let layouts: Vec<Vec<Option<usize>>> = pipeline
        .signals
        .iter()
        .map(|signal| {
            let names = signal.features.names();
            columns
                .iter()
                .map(|c| names.iter().position(|n| n == c))
                .collect()
        })
        .collect();
    let entity_labels = pipeline.entity_labels.clone();
    let mut summary = DataSummary::of(&data, &args.input.exports.data);
    if args.start.is_some() || args.end.is_some() {
        // What the table covers, for a model trained on it to record.
        summary.start_unix = steps.start_ms as f64 / 1e3;
        summary.end_unix = steps.end_ms as f64 / 1e3;
    }
    let provenance = Provenance::new(&pipeline, summary);
    let mut table = FeatureTable::create(&args.out, &entity_labels, &columns, &provenance)?;
    // Over every core: the same table, in the same order, as one replay.
    let parts = pipeline.replay_parts(&data, rayon::current_num_threads());
    let (states, bytes) = replay_in_parts(&pipeline, &parts, steps, |t_ms, rows| {
        for row in rows {
            table.write(
                t_ms,
                &pipeline.signals[row.signal].name,
                entity_labels.iter().map(|l| row.entity.get(l)),
                layouts[row.signal]
                    .iter()
                    .map(|at| at.map(|i| row.values[i])),
            )?;
        }
        Ok(())
    })
    .with_context(|| format!("computing features over {:?}", args.input.exports.data))?;
    table
        .finish()
        .with_context(|| format!("writing {}", args.out.display()))?;
    tracing::info!(
        steps = steps.count(),
        parts = parts.len(),
        signal_entity_states = states,
        feature_bytes = bytes,
        out = %args.out.display(),
        "feature table written"
    );
    Ok(())
}
