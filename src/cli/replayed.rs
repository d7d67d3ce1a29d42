//! The arguments of the commands that replay CSV exports through a pipeline
//! (`features`, `train`, `backtest`): the pipeline and the exports.

use std::path::PathBuf;

use super::exports::Exports;

#[derive(clap::Args)]
pub struct Replayed {
    /// The pipeline definition (signals, targets, entity labels, step, feature windows).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "pipelines/node-exporter.yml"
    )]
    pub pipeline: PathBuf,
    #[command(flatten)]
    pub exports: Exports,
}
