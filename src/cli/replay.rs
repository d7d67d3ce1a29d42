//! `harbinger replay`: reads CSV exports and sends them as remote write to a receiver,
//! in time order, paced or as fast as possible, with a progress bar and a summary.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::exports::Exports;
use anyhow::Context;
use harbinger::config::duration;
use harbinger::ingest::Protocol;
use harbinger::sender::{self, Client, Options, Pacing, RetryPolicy, Target};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    # the lab-dev export into a local harbinger, as fast as it accepts:\n  \
    harbinger replay --data ../shared/data/lab-dev/metrics.csv.gz \\\n    \
    --url http://127.0.0.1:9799/api/v1/write --as-fast-as-possible\n  \
    # a demo at 10x real time into Prometheus (--web.enable-remote-write-receiver),\n  \
    # timestamps moved so that the replay ends now:\n  \
    harbinger replay --data export.csv.gz --url http://127.0.0.1:9090/api/v1/write \\\n    \
    --speed 10 --shift-to-now\n  \
    # remote write 2.0, 4 requests in flight, a bearer token:\n  \
    harbinger replay --data export.csv.gz --url https://harbinger.example/api/v1/write \\\n    \
    --protocol v2 --concurrency 4 --bearer-token-file /etc/harbinger/write-token \\\n    \
    --as-fast-as-possible\n\n\
    Sending follows Prometheus's remote-write sender: 5xx answers and transport errors\n\
    are retried after a capped exponential backoff; 429 only with --retry-on-http-429;\n\
    a request answered 4xx is rejected: its samples are dropped and counted, the replay\n\
    goes on, and the command exits 1 at the end naming the first rejection. A request\n\
    still failing after --max-retries retries stops the replay (exit 1).\n\n\
    Each series' samples are sent in time order. With --concurrency N, series are\n\
    sharded by index over N connections, one request in flight on each, as Prometheus\n\
    shards them, so a series' requests never overtake one another.")]
pub struct ReplayArgs {
    #[command(flatten)]
    exports: Exports,
    /// The receiver's remote-write endpoint.
    #[arg(long, value_name = "URL")]
    url: reqwest::Url,
    /// Remote-write protocol. v1 is the default because every receiver accepts it
    /// (Prometheus 2.x receives nothing else; 2.0 receivers accept 1.0 too).
    #[arg(long, value_enum, default_value = "v1")]
    protocol: ProtocolArg,
    /// Replay at N times real time (1 = as recorded; default when no pacing is given).
    #[arg(long, value_name = "N", conflicts_with = "as_fast_as_possible", value_parser = parse_speed)]
    speed: Option<f64>,
    /// No pacing: send as fast as the receiver accepts.
    #[arg(long)]
    as_fast_as_possible: bool,
    /// Move every timestamp by the same amount so that the replay ends at the present
    /// (no sample is stamped later than the moment it is sent). Receivers such as
    /// Prometheus refuse samples older than their head block; without this flag,
    /// timestamps are sent as recorded.
    #[arg(long)]
    shift_to_now: bool,
    /// Most samples in one request (Prometheus's max_samples_per_send).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    max_samples_per_send: u32,
    /// When paced, a request holds at most this much wall-clock time of samples
    /// (Prometheus's batch_send_deadline).
    #[arg(long, default_value = "5s", value_parser = duration::parse)]
    batch_send_deadline: Duration,
    /// Requests in flight at once; series are sharded over them by index.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    concurrency: u32,
    /// Send `Authorization: Bearer` with the token in this file (surrounding whitespace
    /// is ignored).
    #[arg(long, value_name = "FILE")]
    bearer_token_file: Option<PathBuf>,
    /// Timeout of one attempt (Prometheus's remote_timeout).
    #[arg(long, default_value = "30s", value_parser = duration::parse)]
    timeout: Duration,
    /// First retry delay; it doubles on each retry of the same request.
    #[arg(long, default_value = "30ms", value_parser = duration::parse)]
    min_backoff: Duration,
    /// Longest retry delay.
    #[arg(long, default_value = "5s", value_parser = duration::parse)]
    max_backoff: Duration,
    /// Retries of one request before the replay stops with an error.
    #[arg(long, default_value_t = 10)]
    max_retries: u32,
    /// Retry requests answered 429 Too Many Requests instead of dropping them.
    #[arg(long)]
    retry_on_http_429: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ProtocolArg {
    /// Remote write 1.0 (prometheus.WriteRequest).
    V1,
    /// Remote write 2.0 (io.prometheus.write.v2.Request).
    V2,
}

fn parse_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(speed) if speed.is_finite() && speed > 0.0 => Ok(speed),
        _ => Err(format!("{text:?} is not a number above 0")),
    }
}

pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let bearer_token = match &args.bearer_token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the bearer token {}", path.display()))?;
            let token = text.trim();
            anyhow::ensure!(
                !token.is_empty(),
                "the bearer token file {} is empty",
                path.display()
            );
            Some(token.to_owned())
        }
        None => None,
    };
    let dataset = args.exports.read()?;
    let total = dataset.sample_count() as u64;
    anyhow::ensure!(total > 0, "the data holds no samples");

    let target = Target {
        url: args.url,
        protocol: match args.protocol {
            ProtocolArg::V1 => Protocol::V1,
            ProtocolArg::V2 => Protocol::V2,
        },
        bearer_token,
        timeout: args.timeout,
    };
    let retry = RetryPolicy {
        min_backoff: args.min_backoff,
        max_backoff: args.max_backoff,
        max_retries: args.max_retries,
        retry_on_429: args.retry_on_http_429,
    };
    let options = Options {
        pacing: match (args.as_fast_as_possible, args.speed) {
            (true, _) => Pacing::AsFastAsPossible,
            (false, speed) => Pacing::Speed(speed.unwrap_or(1.0)),
        },
        shift_to_now: args.shift_to_now,
        max_samples_per_send: args.max_samples_per_send as usize,
        batch_send_deadline: args.batch_send_deadline,
        concurrency: args.concurrency as usize,
    };

    let bar = progress_bar(total);
    let progress = {
        let bar = bar.clone();
        Arc::new(move |samples| bar.inc(samples))
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let summary = runtime.block_on(async {
        let client = Client::new(target, retry)?;
        sender::replay(Arc::new(dataset), Arc::new(client), options, progress).await
    });
    bar.finish_and_clear();
    let summary = summary?;

    let seconds = summary.elapsed.as_secs_f64();
    tracing::info!(
        samples_sent = summary.samples_sent,
        requests = summary.requests,
        rejected_requests = summary.requests_rejected,
        rejected_samples = summary.samples_rejected,
        retries = summary.retries,
        written_mismatches = summary.written_mismatches,
        elapsed = format!("{seconds:.2}s"),
        samples_per_second = (summary.samples_sent as f64 / seconds.max(1e-9)) as u64,
        "replay finished"
    );
    if let Some(first) = summary.first_rejection {
        anyhow::bail!(
            "the receiver rejected {} of {} requests ({} samples); first: {first}",
            summary.requests_rejected,
            summary.requests,
            summary.samples_rejected
        );
    }
    Ok(())
}

/// Samples done out of the total, on stderr when it is a terminal.
fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} samples, {per_sec}, eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    )
}
