//! The arguments of the commands that replay CSV exports through a pipeline
//! (`features`, `train`, `backtest`): the pipeline and the exports.

use std::path::PathBuf;

use harbinger::pipeline::{Pipeline, PipelineError};

use super::exports::Exports;

#[derive(clap::Args)]
pub struct Replayed {
    /// The pipeline definition (signals, targets, entity labels, step, feature windows);
    /// without it, the built-in one (`pipelines/node-exporter.yml` and its rules), from
    /// any directory
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    #[command(flatten)]
    pub exports: Exports,
}

impl Replayed {
    /// The pipeline named, or the built-in one.
    pub fn pipeline(&self) -> Result<Pipeline, PipelineError> {
        match &self.pipeline {
            Some(path) => Pipeline::load(path),
            None => Ok(Pipeline::embedded_default()),
        }
    }
}
