//! `harbinger check`: validates a configuration file and/or a pipeline (with its rule
//! files), reporting every problem at once.

use std::path::PathBuf;

use harbinger::pipeline::Pipeline;

use super::serve::{load, validate};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    harbinger check --config deploy/harbinger.yml\n  \
    harbinger check --pipeline pipelines/node-exporter.yml\n  \
    harbinger check --config harbinger.yml --kafka   # and ask the brokers for the topic\n\n\
    Exit status: 0 when everything given is valid, 1 when not.")]
#[group(required = true, multiple = true)]
pub struct CheckArgs {
    /// A harbinger configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A pipeline definition; its rule files and every PromQL expression are checked.
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// With --config: also ask the brokers of its `kafka:` section whether they answer
    /// and know the topic (as receivers and workers will at start).
    #[arg(long, requires = "config")]
    kafka: bool,
}

pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.config {
        let valid = validate(load(Some(path))?, Some(path))?;
        println!(
            "{}: valid (listen {}, data_dir {}, write auth {})",
            path.display(),
            valid.config.listen,
            valid.config.data_dir.display(),
            if valid.write_auth.is_some() {
                "on"
            } else {
                "off"
            }
        );
        // What the false-ticket budgets will do, as `serve` will say it at start.
        for choice in &valid.budget_choices {
            println!("  {choice}");
        }
        if args.kafka {
            check_kafka(&valid)?;
        }
    }
    if let Some(path) = &args.pipeline {
        let pipeline = Pipeline::load(path)?;
        let alerts: Vec<&str> = pipeline.targets.iter().map(|t| t.alert.as_str()).collect();
        println!(
            "{}: valid ({} signals, {} targets{})",
            path.display(),
            pipeline.signals.len(),
            alerts.len(),
            if alerts.is_empty() {
                String::new()
            } else {
                format!(": {}", alerts.join(", "))
            }
        );
    }
    Ok(())
}

#[cfg(feature = "kafka")]
fn check_kafka(valid: &harbinger::config::ValidConfig) -> anyhow::Result<()> {
    let Some(kafka) = &valid.kafka else {
        anyhow::bail!("--kafka: the configuration has no kafka: section");
    };
    let report = harbinger::kafka::check(kafka, std::time::Duration::from_secs(10))
        .map_err(|problem| anyhow::anyhow!("kafka: {problem}"))?;
    println!(
        "kafka: topic {} has {} partitions (brokers: {})",
        kafka.config.topic,
        report.partitions,
        report.brokers.join(", ")
    );
    Ok(())
}

#[cfg(not(feature = "kafka"))]
fn check_kafka(_: &harbinger::config::ValidConfig) -> anyhow::Result<()> {
    anyhow::bail!("--kafka: this harbinger was built without the kafka feature")
}
