//! The command line: one subcommand per file, each a thin shell over the library.

mod backtest;
mod check;
mod export;
mod exports;
mod feature_replay;
mod feature_source;
mod feature_table;
mod features;
mod nab;
mod output;
mod query;
mod remote_write;
mod replay;
mod replayed;
mod serve;
mod summary;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harbinger::telemetry::{LogFormat, init_logging};

#[derive(Parser)]
#[command(
    name = "harbinger",
    version,
    about = "A ticket before the Prometheus alert fires.",
    long_about = "A ticket before the Prometheus alert fires.\n\n\
                  harbinger receives the samples Prometheus sends by remote write, learns from \
                  the alerts that fired in the past, and opens a maintenance ticket before an \
                  alert rule crosses its threshold."
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Log level (error, warn, info, debug, trace); RUST_LOG, when set, takes precedence.
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the remote-write receiver and the pipeline.
    Serve(serve::ServeArgs),
    /// Validate a configuration file and report every problem at once.
    Check(check::CheckArgs),
    /// Evaluate a PromQL expression over CSV exports, as serve would, and print CSV.
    Query(query::QueryArgs),
    /// Replay CSV exports through a pipeline's signals and features; write the table.
    Features(features::FeaturesArgs),
    /// Fit a model to CSV exports (labels from ALERTS); evaluate it on held-out entities.
    Train(train::TrainArgs),
    /// Replay CSV exports through a model and its ticket policy; write the predictions.
    Backtest(backtest::BacktestArgs),
    /// Pull series from Prometheus's HTTP API into a long-format CSV file (resumable).
    Export(export::ExportArgs),
    /// Send CSV exports as remote write to a receiver, in time order, paced or not.
    Replay(replay::ReplayArgs),
    /// Score anomaly scores against the Numenta Anomaly Benchmark's labelled windows.
    Nab(nab::NabArgs),
    /// Print the prometheus.yml remote_write entry that sends only what the pipeline reads.
    RemoteWriteConfig(remote_write::RemoteWriteConfigArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, &cli.log_level);
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Check(args) => check::run(args),
        Command::Query(args) => query::run(args),
        Command::Features(args) => features::run(args),
        Command::Train(args) => train::run(args),
        Command::Backtest(args) => backtest::run(args),
        Command::Export(args) => export::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Nab(args) => nab::run(args),
        Command::RemoteWriteConfig(args) => remote_write::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("harbinger: {error:#}");
            ExitCode::FAILURE
        }
    }
}
