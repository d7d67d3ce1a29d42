//! `harbinger export`: pulls series from Prometheus's HTTP API into a long-format CSV
//! file, the input of `query`, `features` and training.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use harbinger::config::duration;
use harbinger::dataset::parse_api_time;
use harbinger::export::{
    Client, ClientOptions, ExportEvent, ExportRequest, Grid, MAX_POINTS_PER_QUERY, RetryPolicy,
    export,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    harbinger export --prometheus http://localhost:9090 \\\n    \
    --start 2026-11-25T01:52:40Z --end 2026-11-25T02:38:10Z --step 5s --out metrics.csv.gz\n  \
    harbinger export --prometheus http://localhost:9090 --match 'ALERTS' \\\n    \
    --match '{job=\"node\"}' --start 1795571560 --end 1795574290 --out node.csv.gz --resume\n\n\
    Output: the long format `name,timestamp,value,<label names, sorted>` (the label\n\
    `name` in a column `label_name`), one row per series and grid point where Prometheus\n\
    has a value (the latest sample within its 5m lookback), ordered by metric name,\n\
    series, then time; timestamps in unix seconds, values as Prometheus writes them.\n\
    A .gz name is gzipped.\n\n\
    Resume: the export is written to FILE.partial, series by series, and FILE.progress\n\
    records how many series are complete; at the end FILE.partial becomes FILE. After\n\
    an interruption (Ctrl-C, a crash, Prometheus down for longer than the retries),\n\
    run the same command with --resume: it checks that the request and Prometheus's\n\
    series list are unchanged, drops the series that was being written, and goes on\n\
    from there; the result is byte for byte the file an uninterrupted export writes,\n\
    as long as the data in the range does not change (export past ranges). With\n\
    nothing to resume, --resume starts from the beginning; without it, an earlier\n\
    FILE.partial is overwritten.\n\n\
    Failures: 429, 5xx, timeouts and broken connections are retried with a capped\n\
    exponential backoff (--max-attempts per request); any other 4xx stops the export\n\
    with Prometheus's message.")]
pub struct ExportArgs {
    /// Prometheus's base URL (with its path prefix, if any).
    #[arg(long, value_name = "URL")]
    prometheus: String,
    /// Series selector; repeat for several (a series matching any is exported).
    #[arg(
        long = "match",
        value_name = "SELECTOR",
        default_value = "{__name__=~\".+\"}"
    )]
    matchers: Vec<String>,
    /// First grid point: unix seconds or RFC 3339.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    start: i64,
    /// Last grid point (included when on the grid): unix seconds or RFC 3339.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    end: i64,
    /// Grid step (Prometheus duration).
    #[arg(long, default_value = "15s", value_parser = duration::parse)]
    step: Duration,
    /// The CSV file to write (gzipped when the name ends in .gz).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Continue an interrupted export of the same request into FILE (see below).
    #[arg(long)]
    resume: bool,
    /// Send `Authorization: Bearer <the file's content>`.
    #[arg(long, value_name = "FILE")]
    bearer_token_file: Option<PathBuf>,
    /// An extra request header, `Name: value` (e.g. `X-Scope-OrgID: tenant`); repeatable.
    #[arg(long = "header", value_name = "HEADER", value_parser = parse_header)]
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Timeout of one request attempt (Prometheus duration).
    #[arg(long, default_value = "2m", value_parser = duration::parse)]
    timeout: Duration,
    /// Attempts per request before giving up on a transient failure.
    #[arg(long, default_value_t = RetryPolicy::default().max_attempts,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// Series queried at once. Prometheus runs at most `--query.max-concurrency` (20 by
    /// default) queries at a time and queues the rest; the file is the same whatever the
    /// number.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Grid points per range query; Prometheus refuses more than 11000.
    #[arg(long, default_value_t = MAX_POINTS_PER_QUERY,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_POINTS_PER_QUERY)))]
    points_per_query: u32,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let step_ms = args.step.as_millis() as i64;
    let grid = Grid::new(args.start, args.end, step_ms)
        .context("--end must not be before --start, and --step must be greater than 0")?;
    let mut headers: HeaderMap = args.headers.into_iter().collect();
    if let Some(path) = &args.bearer_token_file {
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("reading the bearer token from {}", path.display()))?;
        let mut value = HeaderValue::try_from(format!("Bearer {}", token.trim()))
            .with_context(|| format!("the token in {} is not a header value", path.display()))?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    let options = ClientOptions {
        headers,
        timeout: args.timeout,
        retry: RetryPolicy {
            max_attempts: args.max_attempts,
            ..RetryPolicy::default()
        },
    };
    let client = Client::new(&args.prometheus, options)?;
    let request = ExportRequest {
        matchers: args.matchers,
        grid,
        points_per_query: args.points_per_query,
        concurrency: usize::from(args.concurrency),
        out: args.out,
        resume: args.resume,
    };
    let bar = progress_bar();
    let started = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let summary = runtime.block_on(export(&client, &request, |event| match event {
        ExportEvent::Planned { queries, done, .. } => {
            bar.set_length(queries);
            bar.set_position(done);
        }
        ExportEvent::Queried { .. } => bar.inc(1),
    }));
    bar.finish_and_clear();
    let summary = summary?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        series = summary.series,
        series_resumed = summary.series_resumed,
        rows = summary.rows,
        queries = summary.queries,
        seconds,
        rows_per_second = (summary.rows as f64 / seconds).round(),
        series_per_second = ((summary.series - summary.series_resumed) as f64 / seconds).round(),
        out = %request.out.display(),
        "export written"
    );
    Ok(())
}

/// Range queries done out of all, on stderr; hidden when stderr is not a terminal.
fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {pos}/{len} range queries, eta {eta}",
    )
    .expect("a valid template");
    bar.set_style(style);
    bar
}

fn parse_time(text: &str) -> Result<i64, String> {
    parse_api_time(text).ok_or_else(|| {
        format!("{text:?} is not a time: expected unix seconds or RFC 3339 (2026-11-25T01:52:40Z)")
    })
}

fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not a header: expected `Name: value`"))?;
    let name = HeaderName::try_from(name.trim()).map_err(|e| format!("{name:?}: {e}"))?;
    let value = HeaderValue::try_from(value.trim()).map_err(|e| format!("{value:?}: {e}"))?;
    Ok((name, value))
}
