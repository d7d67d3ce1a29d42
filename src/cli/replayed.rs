//! The arguments of the commands that replay CSV exports through a pipeline
//! (`features`, `train`, `backtest`): the pipeline and the exports.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Replayed {
    /// The pipeline definition (signals, targets, entity labels, step, feature windows).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "pipelines/node-exporter.yml"
    )]
    pub pipeline: PathBuf,
    /// CSV export(s) to replay (long format or Grafana's series-joined-by-time; .gz ok).
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
}
