//! Where `train` and `backtest` get their feature trajectories and labels: the export
//! replayed through the pipeline, or a feature table that `harbinger features` wrote as
//! Parquet read back (`--features`), the labels then being the export's `ALERTS` alone.
//!
//! In: the `--features` argument, the pipeline, the exports, the columns to keep per
//! signal. Out: [`Sourced`]: the trajectories as `training::collect` gives them, the
//! rules' episodes, and what a model records of the data. A table written by another
//! harbinger, or from other files than `--data` names, is read with a warning.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use harbinger::model::artifact::DataSummary;
use harbinger::pipeline::Pipeline;
use harbinger::promql::Steps;
use harbinger::training::{AlertHistory, Trajectory, cache, collect};

use super::exports::Exports;

#[derive(clap::Args)]
pub struct FeatureSource {
    /// Read the features from this table instead of replaying the export: one that
    /// `harbinger features --out FILE.parquet` wrote over the export with the same
    /// pipeline. `--data` then gives only the labels (its `ALERTS`), so it may be the
    /// export itself or one of `ALERTS` alone.
    #[arg(long, value_name = "FILE.parquet")]
    features: Option<PathBuf>,
}

pub struct Sourced {
    /// Per signal, in pipeline order.
    pub trajectories: Vec<Vec<Trajectory>>,
    pub history: AlertHistory,
    pub data: DataSummary,
}

impl FeatureSource {
    /// Refuses a table that is not Parquet before any work is done.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(table) = &self.features {
            anyhow::ensure!(
                table.extension().is_some_and(|e| e == "parquet"),
                "--features reads a Parquet table (`harbinger features --out FILE.parquet`); \
                 {} is not one",
                table.display()
            );
        }
        Ok(())
    }

    /// The trajectories keeping `columns[signal]`, from the table or from a replay of
    /// `exports` (`progress(done, of)` as its steps go by), and the labels.
    pub fn load(
        &self,
        pipeline: &Pipeline,
        exports: &Exports,
        columns: &[Vec<usize>],
        progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<Sourced> {
        let step_ms = pipeline.step.as_millis() as i64;
        let Some(table) = &self.features else {
            let dataset = exports.read()?;
            let Some(steps) = Steps::over(&dataset, step_ms, None, None) else {
                anyhow::bail!("the data holds no samples");
            };
            let trajectories = collect(pipeline, &dataset, steps, columns, progress)
                .with_context(|| format!("replaying {:?}", exports.data))?;
            return Ok(Sourced {
                trajectories,
                history: AlertHistory::read(&dataset, &pipeline.entity_labels, step_ms),
                data: DataSummary::of(&dataset, &exports.data),
            });
        };
        let labels = exports.read_named(&["ALERTS"])?;
        let reading = Instant::now();
        let cached = cache::read(table, pipeline, columns)?;
        tracing::info!(
            table = %table.display(),
            seconds = reading.elapsed().as_secs_f64(),
            "features read"
        );
        let files: Vec<String> = exports
            .data
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        if cached.data.files != files {
            tracing::warn!(
                table = %table.display(),
                computed_from = ?cached.data.files,
                labels_from = ?files,
                "the table was computed from other files than --data names; its steps are \
                 labelled with the ALERTS of --data"
            );
        }
        let running = format!("harbinger {}", env!("CARGO_PKG_VERSION"));
        if cached.written_by != running {
            tracing::warn!(
                table = %table.display(),
                written_by = %cached.written_by,
                running = %running,
                "the table was written by another version; features it computes differently \
                 would differ from a replay"
            );
        }
        Ok(Sourced {
            trajectories: cached.trajectories,
            history: AlertHistory::read(&labels, &pipeline.entity_labels, step_ms),
            data: cached.data,
        })
    }
}
