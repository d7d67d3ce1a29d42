//! `harbinger remote-write-config`: prints the `remote_write` entry of a prometheus.yml
//! that sends harbinger only the series its pipeline reads (see
//! `harbinger::pipeline::remote_write_fragment`).

use std::path::PathBuf;

use harbinger::pipeline::{Pipeline, remote_write_fragment};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    harbinger remote-write-config --url http://harbinger.example:9799/api/v1/write\n  \
    harbinger remote-write-config --pipeline pipelines/node-exporter.yml >> remote-write.yml\n\n\
    Output: YAML to merge into prometheus.yml: one remote_write endpoint whose\n\
    write_relabel_configs keep, by __name__, the metrics the pipeline's signals select,\n\
    and ALERTS when it has targets. Everything else stays in Prometheus: of the 500 or\n\
    so series node_exporter exposes per host, the default pipeline's metrics are about 30.")]
pub struct RemoteWriteConfigArgs {
    /// harbinger's write endpoint, as Prometheus reaches it.
    #[arg(long, default_value = "http://localhost:9799/api/v1/write")]
    url: String,
    /// The pipeline definition; without it, the built-in one
    /// (`pipelines/node-exporter.yml` and its rules).
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
}

pub fn run(args: RemoteWriteConfigArgs) -> anyhow::Result<()> {
    let (pipeline, source) = match &args.pipeline {
        Some(path) => (Pipeline::load(path)?, path.display().to_string()),
        None => (
            Pipeline::embedded_default(),
            "the built-in pipeline".to_owned(),
        ),
    };
    print!("{}", remote_write_fragment(&pipeline, &args.url, &source)?);
    Ok(())
}
