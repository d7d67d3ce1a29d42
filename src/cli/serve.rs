//! `harbinger serve`: loads the configuration, applies flag overrides, runs the server
//! until SIGTERM or SIGINT.

use std::path::{Path, PathBuf};

use anyhow::Context;
use harbinger::config::{Config, ValidConfig};
use harbinger::server::{App, Role};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    harbinger serve                                  # embedded defaults, listens on :9799\n  \
    harbinger serve --config deploy/harbinger.yml\n  \
    harbinger serve --listen 127.0.0.1:9799 --data-dir /var/lib/harbinger\n\n\
    Point Prometheus at it (prometheus.yml):\n  \
    remote_write:\n    - url: http://HOST:9799/api/v1/write\n\n\
    Scale out over Kafka (a kafka: section names brokers and topic; see docs/kafka.md):\n  \
    harbinger serve --role receiver --config harbinger.yml   # Prometheus writes here\n  \
    harbinger serve --role worker --config harbinger.yml     # up to one per partition")]
pub struct ServeArgs {
    /// YAML configuration file (see deploy/harbinger.yml); defaults apply without it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen address; overrides `listen` in the file.
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// State directory; overrides `data_dir` in the file.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// What this process does: `all` receives and scores in one process; `receiver`
    /// publishes what it receives to Kafka; `worker` scores what the consumer group
    /// gives it from Kafka.
    #[arg(long, value_enum, default_value_t = Role::All)]
    role: Role,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = load(args.config.as_deref())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(data_dir) = args.data_dir {
        config.data_dir = data_dir;
    }
    let valid = validate(config, args.config.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let app = App::build(valid, args.role).await?;
        app.run(shutdown_signal()).await?;
        Ok(())
    })
}

pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
    Ok(match path {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    })
}

pub fn validate(config: Config, path: Option<&Path>) -> anyhow::Result<ValidConfig> {
    Ok(config.validate(path.unwrap_or(Path::new("embedded defaults")))?)
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
