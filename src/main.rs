//! The `harbinger` command: parses the command line, sets up logging, runs a subcommand.
//! Errors end here as one readable message and a non-zero exit status.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use harbinger::config::{Config, ValidConfig};
use harbinger::server::App;
use harbinger::telemetry::{LogFormat, init_logging};

#[derive(Parser)]
#[command(
    name = "harbinger",
    version,
    about = "A ticket before the Prometheus alert fires.",
    long_about = "harbinger receives the samples Prometheus sends by remote write, learns from the \
                  alerts that fired in the past, and opens a maintenance ticket before an alert \
                  rule crosses its threshold."
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
    #[command(after_help = "Examples:\n  \
        harbinger serve                                  # embedded defaults, listens on :9799\n  \
        harbinger serve --config deploy/harbinger.yml\n  \
        harbinger serve --listen 127.0.0.1:9799 --data-dir /var/lib/harbinger\n\n\
        Point Prometheus at it (prometheus.yml):\n  \
        remote_write:\n    - url: http://HOST:9799/api/v1/write")]
    Serve {
        /// YAML configuration file (see deploy/harbinger.yml); defaults apply without it.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Listen address; overrides `listen` in the file.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// State directory; overrides `data_dir` in the file.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Validate a configuration file and report every problem at once.
    #[command(after_help = "Examples:\n  \
        harbinger check --config deploy/harbinger.yml\n\n\
        Exit status: 0 when valid, 1 when not.")]
    Check {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, &cli.log_level);
    let result = match cli.command {
        Command::Serve {
            config,
            listen,
            data_dir,
        } => serve(config.as_deref(), listen, data_dir),
        Command::Check { config } => check(&config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("harbinger: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: Option<&Path>) -> anyhow::Result<Config> {
    Ok(match path {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    })
}

fn validate(config: Config, path: Option<&Path>) -> anyhow::Result<ValidConfig> {
    Ok(config.validate(path.unwrap_or(Path::new("embedded defaults")))?)
}

fn serve(
    path: Option<&Path>,
    listen: Option<std::net::SocketAddr>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut config = load(path)?;
    if let Some(listen) = listen {
        config.listen = listen;
    }
    if let Some(data_dir) = data_dir {
        config.data_dir = data_dir;
    }
    let valid = validate(config, path)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let app = App::build(valid).await?;
        app.run(shutdown_signal()).await?;
        Ok(())
    })
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}

fn check(path: &Path) -> anyhow::Result<()> {
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
    Ok(())
}
