//! Differential test of the PromQL engine: every supported construct, evaluated by
//! `harbinger query` and by Prometheus 2.42 over the same samples, must give the same
//! points.
//!
//! Two data sets: the lab-dev export (real node_exporter data, only the metric names the
//! expressions read) and a generated one that holds the awkward cases (counter resets,
//! gaps longer than the lookback, series that end, NaN and ±Inf, irregular intervals).
//! Each is written twice: as long-format CSV for harbinger, and as OpenMetrics text that
//! promtool turns into TSDB blocks for a Prometheus that scrapes nothing. For each
//! expression the test asks Prometheus's `/api/v1/query_range` and runs the harbinger
//! binary with the same start, end and step, then compares the (time, label set) pairs
//! and the values (relative tolerance 1e-9; NaN equals NaN, infinities their own sign).
//! All mismatches are collected and reported together.
//!
//! Needs Debian's `prometheus` package (Prometheus 2.42 and promtool); the test fails,
//! never skips, without it.

#[path = "support/differential/mod.rs"]
mod differential;
#[allow(dead_code)] // The shared helpers serve several test crates; this one uses a part.
mod support;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use differential::files::{load_lab, prepare};
use differential::generated::{GEN_SPAN_MS, MINUTE, SECOND, generated};
use differential::harness::{DataSet, Expect, Job, run};
use support::prometheus::Server;

// =====================================================================================
// The specification: the expressions, per data set and construct.
// =====================================================================================

/// The lab-dev export: 8 hosts, 5 s scrapes, 45 minutes.
const LAB_DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/lab-dev/metrics.csv.gz"
);
const LAB_RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/lab-dev/rules.yml"
);
/// Evaluation step over lab-dev: its scrape interval, 544 steps.
const LAB_STEP_MS: i64 = 5_000;

/// The metric names of lab-dev that the expressions read; the rest is not loaded.
const LAB_METRICS: &[&str] = &[
    "ALERTS",
    "node_cpu_seconds_total",
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
    "node_load1",
    "node_memory_MemFree_bytes",
    "node_memory_MemTotal_bytes",
    "node_memory_SwapFree_bytes",
    "node_memory_SwapTotal_bytes",
    "node_network_receive_bytes_total",
    "up",
];

/// The alert expressions of lab-dev's rules.yml (checked against the file), evaluated
/// as written.
const LAB_ALERT_RULES: &[&str] = &[
    "(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes < 10",
    "(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes < 20",
    "node_memory_MemFree_bytes / node_memory_MemTotal_bytes * 100 < 10",
    "(1 - (node_memory_SwapFree_bytes / node_memory_SwapTotal_bytes)) * 100 > 80",
    "(sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[1m])) / count by (instance) (node_cpu_seconds_total{mode=\"idle\"})) * 100 > 80",
];

/// Expressions over lab-dev, by construct.
const LAB: &[(&str, &[&str])] = &[
    (
        "selectors",
        &[
            "node_filesystem_avail_bytes",
            "node_cpu_seconds_total{mode=\"idle\"}",
            "node_cpu_seconds_total{mode!=\"idle\", instance=\"host3\"}",
            "node_cpu_seconds_total{mode=~\"user|system\", cpu=\"1\"}",
            "node_cpu_seconds_total{mode!~\"i.*\", instance=~\"host[12]\"}",
            "{__name__=~\"node_memory_(MemFree|MemTotal)_bytes\", instance=\"host5\"}",
            "ALERTS{alertstate=\"firing\"}",
            "ALERTS{alertname=\"HostOutOfDiskSpace\"}",
            "up",
        ],
    ),
    (
        "range functions over counters",
        &[
            "rate(node_cpu_seconds_total{mode=\"user\"}[1m])",
            "rate(node_cpu_seconds_total[5m])",
            "rate(node_network_receive_bytes_total[1m])",
            "irate(node_cpu_seconds_total{mode=\"system\"}[1m])",
            "irate(node_network_receive_bytes_total[5m])",
            "increase(node_cpu_seconds_total{mode=\"user\"}[5m])",
            "increase(node_network_receive_bytes_total[1m])",
            "resets(node_cpu_seconds_total[5m])",
        ],
    ),
    (
        "range functions over gauges",
        &[
            "delta(node_filesystem_avail_bytes[1m])",
            "delta(node_filesystem_avail_bytes[5m])",
            "idelta(node_filesystem_avail_bytes[1m])",
            "deriv(node_filesystem_avail_bytes[5m])",
            "deriv(node_memory_MemFree_bytes[1m])",
            "predict_linear(node_filesystem_avail_bytes[5m], 600)",
            "predict_linear(node_filesystem_avail_bytes[1m], 4 * 3600)",
            "changes(node_filesystem_avail_bytes[5m])",
            "changes(ALERTS[5m])",
            "avg_over_time(node_filesystem_avail_bytes[1m])",
            "min_over_time(node_filesystem_avail_bytes[5m])",
            "max_over_time(node_load1[5m])",
            "sum_over_time(node_load1[1m])",
            "count_over_time(ALERTS[5m])",
            "count_over_time(node_load1[1m])",
            "last_over_time(ALERTS[1m])",
            "stddev_over_time(node_filesystem_avail_bytes[5m])",
            "stddev_over_time(node_load1[1m])",
            "quantile_over_time(0.9, node_filesystem_avail_bytes[5m])",
            "quantile_over_time(0.5, node_load1[1m])",
        ],
    ),
    (
        "arithmetic",
        &[
            "node_filesystem_avail_bytes / node_filesystem_size_bytes",
            "node_filesystem_size_bytes - node_filesystem_avail_bytes",
            "node_memory_MemFree_bytes + node_memory_MemTotal_bytes",
            "node_filesystem_avail_bytes * 100",
            "100 * node_filesystem_avail_bytes",
            "node_memory_MemTotal_bytes / 1024 ^ 3",
            "node_filesystem_avail_bytes % 4096",
            "node_load1 ^ 2",
            "2 ^ node_load1",
            "node_memory_SwapFree_bytes / node_memory_SwapTotal_bytes",
        ],
    ),
    (
        "comparisons",
        &[
            "node_load1 > 1",
            "node_load1 > bool 1",
            "1 < node_load1",
            "node_filesystem_avail_bytes <= node_filesystem_size_bytes * 0.5",
            "up == 1",
        ],
    ),
    (
        "set operators",
        &[
            "node_filesystem_avail_bytes and on(instance) ALERTS{alertname=\"DiskAlmostFull\"}",
            "node_filesystem_avail_bytes unless on(instance) ALERTS",
            "ALERTS{alertstate=\"firing\"} or on(instance) up",
        ],
    ),
    (
        "vector matching",
        &[
            "node_filesystem_avail_bytes / on(instance, device) node_filesystem_size_bytes",
            "rate(node_cpu_seconds_total{mode=\"user\"}[1m]) / ignoring(mode, cpu) group_left node_load1",
            "up * on(instance) group_left(mountpoint) node_filesystem_size_bytes",
            "node_load1 * on(instance) group_right rate(node_cpu_seconds_total{mode=\"user\"}[1m])",
        ],
    ),
    (
        "aggregations",
        &[
            "sum by (instance) (rate(node_cpu_seconds_total[1m]))",
            "sum without (instance, cpu) (node_cpu_seconds_total)",
            "avg without (cpu) (rate(node_cpu_seconds_total[5m]))",
            "min by (mode) (node_cpu_seconds_total)",
            "max(node_filesystem_avail_bytes)",
            "count by (instance) (node_cpu_seconds_total{mode=\"idle\"})",
            "count(ALERTS)",
            "stddev by (mode) (rate(node_cpu_seconds_total[1m]))",
            "quantile(0.5, node_filesystem_avail_bytes)",
            "quantile by (mode) (0.9, rate(node_cpu_seconds_total[1m]))",
            "topk(2, node_filesystem_avail_bytes)",
            "bottomk(2, node_filesystem_avail_bytes / node_filesystem_size_bytes)",
        ],
    ),
    (
        "math functions",
        &[
            "abs(deriv(node_filesystem_avail_bytes[1m]))",
            "ceil(node_load1)",
            "floor(node_load1 * 10)",
            "round(node_load1, 0.5)",
            "round(node_filesystem_avail_bytes / 1e6)",
            "ln(node_load1)",
            "exp(node_load1)",
            "sqrt(node_load1)",
            "clamp_min(node_load1, 1.5)",
            "clamp_max(node_load1, 1.5)",
        ],
    ),
    (
        "time, scalar, vector, unary minus",
        &[
            "time()",
            "vector(1)",
            "scalar(node_load1{instance=\"host1\"})",
            "node_filesystem_avail_bytes / scalar(max(node_filesystem_size_bytes))",
            "-node_load1",
            "-sum(node_filesystem_avail_bytes)",
        ],
    ),
    ("alert rules", LAB_ALERT_RULES),
    (
        "alert rules without their comparison",
        &[
            "(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes",
            "node_memory_MemFree_bytes / node_memory_MemTotal_bytes * 100",
            "(1 - (node_memory_SwapFree_bytes / node_memory_SwapTotal_bytes)) * 100",
            "(sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[1m])) / count by (instance) (node_cpu_seconds_total{mode=\"idle\"})) * 100",
        ],
    ),
];

/// Evaluation step over the generated data: 361 steps over its hour. Sample intervals
/// are irregular, so steps fall before, on and after samples.
const GEN_STEP_MS: i64 = 10_000;

/// Expressions over the generated data set (see `generated` for what each series does).
const GEN: &[(&str, &[&str])] = &[
    (
        "selectors",
        &[
            "gen_requests_total",
            "gen_requests_total{method=\"get\"}",
            "gen_requests_total{instance!=\"a\"}",
            "gen_requests_total{instance=~\"a|c\", method!~\"po.*\"}",
            "gen_temperature_celsius",
            "gen_queue_length",
            "gen_queue_length{queue=~\".*y.*\"}",
            "{__name__=~\"gen_(up|info)\"}",
            "{job=\"api\", __name__=~\"gen_.*\", __name__!=\"gen_requests_total\"}",
            "gen_requests_total{method=~\"(?i)GET\"}",
            "gen_queue_length{queue=~\"q\"}",
            "gen_queue_length{queue=~\"q.\"}",
            "gen_queue_length{queue=\"x,\\\"y\\\"\\\\z\"}",
            "gen_up{instance!~\"a|b\"}",
            "{__name__=~\"gen_.*\", team=\"\"}",
            "{__name__=~\"gen_.*\", team!=\"\"}",
            "gen_nonexistent",
        ],
    ),
    (
        "range functions over counters",
        &[
            "rate(gen_requests_total[1m])",
            "rate(gen_requests_total[5m])",
            "irate(gen_requests_total[1m])",
            "irate(gen_requests_total[5m])",
            "increase(gen_requests_total[1m])",
            "increase(gen_requests_total[5m])",
            "resets(gen_requests_total[1m])",
            "resets(gen_requests_total[5m])",
            "rate(gen_queue_length[30s])",
            "irate(gen_queue_length[1m])",
            "increase(gen_queue_length[5m])",
            "resets(gen_queue_length[5m])",
            "rate(gen_requests_total[15s])",
            "irate(gen_queue_length[30s])",
            "rate(gen_temperature_celsius[5m])",
            "irate(gen_temperature_celsius[1m])",
            "resets(gen_temperature_celsius[5m])",
        ],
    ),
    (
        "range functions over gauges",
        &[
            "delta(gen_temperature_celsius[1m])",
            "delta(gen_temperature_celsius[5m])",
            "delta(gen_queue_length[1m])",
            "idelta(gen_temperature_celsius[1m])",
            "idelta(gen_queue_length[5m])",
            "deriv(gen_temperature_celsius[1m])",
            "deriv(gen_temperature_celsius[5m])",
            "deriv(gen_capacity_bytes[5m])",
            "predict_linear(gen_temperature_celsius[5m], 600)",
            "predict_linear(gen_queue_length[1m], 60)",
            "changes(gen_queue_length[1m])",
            "changes(gen_queue_length[5m])",
            "changes(gen_temperature_celsius[5m])",
            "changes(gen_capacity_bytes[5m])",
            "avg_over_time(gen_temperature_celsius[1m])",
            "avg_over_time(gen_temperature_celsius[5m])",
            "avg_over_time(gen_capacity_bytes[5m])",
            "min_over_time(gen_temperature_celsius[1m])",
            "min_over_time(gen_temperature_celsius[5m])",
            "max_over_time(gen_temperature_celsius[1m])",
            "max_over_time(gen_temperature_celsius[5m])",
            "sum_over_time(gen_temperature_celsius[1m])",
            "sum_over_time(gen_queue_length[5m])",
            "count_over_time(gen_temperature_celsius[1m])",
            "count_over_time(gen_queue_length[5m])",
            "last_over_time(gen_temperature_celsius[1m])",
            "last_over_time(gen_queue_length[5m])",
            "stddev_over_time(gen_temperature_celsius[1m])",
            "stddev_over_time(gen_temperature_celsius[5m])",
            "stddev_over_time(gen_capacity_bytes[5m])",
            "quantile_over_time(0.9, gen_temperature_celsius[5m])",
            "quantile_over_time(0.25, gen_queue_length[1m])",
            "quantile_over_time(0, gen_temperature_celsius[1m])",
            "quantile_over_time(1, gen_queue_length[5m])",
            "quantile_over_time(-0.5, gen_queue_length[1m])",
            "quantile_over_time(2, gen_queue_length[1m])",
            "delta(gen_capacity_bytes[30s])",
            "count_over_time(gen_capacity_bytes[30s])",
            "count_over_time(gen_capacity_bytes[1m])",
            "predict_linear(gen_temperature_celsius[5m], -300)",
        ],
    ),
    (
        "arithmetic",
        &[
            "gen_temperature_celsius + 1.5",
            "1.5 + gen_temperature_celsius",
            "gen_temperature_celsius - 20",
            "20 - gen_temperature_celsius",
            "gen_temperature_celsius * 2",
            "2 * gen_temperature_celsius",
            "gen_temperature_celsius / 0",
            "0 / gen_queue_length",
            "gen_temperature_celsius / 3",
            "300 / gen_temperature_celsius",
            "gen_temperature_celsius % 7",
            "100 % gen_temperature_celsius",
            "gen_temperature_celsius % -7",
            "gen_temperature_celsius % 0",
            "gen_up * NaN",
            "gen_up + Inf",
            "-gen_queue_length ^ 2",
            "2 ^ -gen_up",
            "-2 ^ 2",
            "gen_temperature_celsius ^ 2",
            "2 ^ gen_queue_length",
            "gen_queue_length ^ 0.5",
            "gen_capacity_bytes + gen_up",
            "gen_capacity_bytes - gen_up",
            "gen_capacity_bytes * gen_up",
            "gen_capacity_bytes / gen_up",
            "gen_capacity_bytes % gen_up",
            "gen_up ^ gen_up",
            "gen_temperature_celsius - gen_temperature_celsius",
            "gen_temperature_celsius / gen_temperature_celsius",
            "rate(gen_requests_total[5m]) * 60",
            "1 + 2 * 3",
            "2 ^ 3 ^ 2",
            "7 % 3 - 1 / 4",
        ],
    ),
    (
        "comparisons",
        &[
            "gen_temperature_celsius > 40",
            "40 < gen_temperature_celsius",
            "gen_temperature_celsius > bool 40",
            "40 < bool gen_temperature_celsius",
            "gen_temperature_celsius >= 40",
            "gen_temperature_celsius <= bool 40",
            "gen_queue_length == 3",
            "gen_queue_length != 3",
            "gen_queue_length == bool 3",
            "gen_up == 0",
            "gen_temperature_celsius == gen_temperature_celsius",
            "gen_temperature_celsius != bool gen_temperature_celsius",
            "gen_capacity_bytes > gen_up",
            "gen_capacity_bytes < bool gen_up",
            "rate(gen_requests_total[1m]) > 5",
            "1 < bool 2",
            "2 == bool 2",
            "3 >= bool 4",
            "gen_temperature_celsius > Inf",
            "gen_temperature_celsius < bool Inf",
            "time() > bool 0",
            "vector(1) > bool 0",
            "(gen_up == 1) * 5",
        ],
    ),
    (
        "set operators",
        &[
            "gen_requests_total and on(instance) gen_up == 1",
            "gen_capacity_bytes and gen_up == 1",
            "gen_requests_total and ignoring(method) gen_capacity_bytes",
            "gen_requests_total unless on(instance) gen_up == 0",
            "gen_up unless on(instance) gen_info",
            "gen_temperature_celsius or gen_capacity_bytes",
            "gen_capacity_bytes or ignoring(job) gen_info",
            "sum by (instance) (gen_requests_total) or on(instance) gen_up",
            "gen_temperature_celsius > 45 or vector(0)",
            "(gen_temperature_celsius and gen_temperature_celsius > 40) or gen_temperature_celsius < 35",
            "gen_up and on() vector(1)",
            "gen_up unless on() vector(1)",
            "gen_up * 2 or gen_up",
            "gen_up or gen_up * 2",
            "vector(1) or vector(2)",
            "gen_nonexistent or gen_up",
        ],
    ),
    (
        "vector matching",
        &[
            "gen_capacity_bytes / on(instance, job) gen_up",
            "gen_capacity_bytes * ignoring(job) gen_up",
            "gen_temperature_celsius / on(instance) group_left gen_capacity_bytes",
            "rate(gen_requests_total[5m]) / ignoring(method) group_left gen_capacity_bytes",
            "gen_requests_total * on(instance) group_left(team) gen_info",
            "gen_requests_total * on(instance) group_left(team, version) gen_info",
            "gen_capacity_bytes / on(instance) group_right gen_temperature_celsius",
            "gen_info * on(instance) group_right(team) gen_requests_total",
            "sum without (method) (rate(gen_requests_total[5m])) / on(instance, job) gen_capacity_bytes",
            "gen_temperature_celsius - ignoring(sensor) group_left avg without (sensor) (gen_temperature_celsius)",
            "gen_requests_total > on(instance) group_left gen_capacity_bytes / 1e7",
            "gen_requests_total * on(instance) group_left(job) gen_capacity_bytes",
            "gen_capacity_bytes / ignoring(method) group_right gen_requests_total",
            "gen_up * on() group_left vector(10)",
        ],
    ),
    (
        "aggregations",
        &[
            "sum(gen_requests_total)",
            "sum by (instance) (rate(gen_requests_total[1m]))",
            "sum without (method) (gen_requests_total)",
            "sum by (job) (gen_temperature_celsius)",
            "sum by (nonexistent) (gen_up)",
            "sum by (__name__) ({__name__=~\"gen_(up|capacity_bytes)\"})",
            "avg(gen_temperature_celsius)",
            "avg by (job) (gen_temperature_celsius)",
            "avg without (sensor) (gen_temperature_celsius)",
            "min(gen_temperature_celsius)",
            "min by (instance) (gen_temperature_celsius)",
            "max(gen_temperature_celsius)",
            "max by (sensor) (gen_temperature_celsius)",
            "count(gen_temperature_celsius)",
            "count by (job) (gen_requests_total)",
            "count without (instance, method) (gen_requests_total)",
            "count(gen_temperature_celsius > 40)",
            "stddev(gen_capacity_bytes)",
            "stddev by (job) (gen_temperature_celsius)",
            "stddev without (method) (rate(gen_requests_total[5m]))",
            "quantile(0.5, gen_temperature_celsius)",
            "quantile by (sensor) (0.9, gen_temperature_celsius)",
            "quantile(0, gen_capacity_bytes)",
            "quantile(1.5, gen_capacity_bytes)",
            "quantile(-1, gen_capacity_bytes)",
            "topk(2, gen_temperature_celsius)",
            "topk by (job) (2, rate(gen_requests_total[5m]))",
            "topk(1, gen_capacity_bytes)",
            "bottomk(2, gen_capacity_bytes)",
            "bottomk(3, gen_temperature_celsius)",
            "bottomk without (method) (1, gen_requests_total)",
            "topk(2.7, gen_temperature_celsius)",
            "topk(0, gen_temperature_celsius)",
            "bottomk(-1, gen_up)",
            "sum(gen_up) by (instance)",
            "count(gen_requests_total) without (method)",
            "sum by () (gen_up)",
            "sum without () (gen_up)",
            "max by (instance, sensor) ({__name__=~\"gen_(temperature_celsius|up)\"})",
            "sum(max by (instance) (gen_temperature_celsius))",
            "count(count by (job) (gen_requests_total))",
            "sum(gen_nonexistent)",
            "count(gen_nonexistent)",
            "avg(gen_capacity_bytes * 1e300)",
            "sum(gen_capacity_bytes * 1e300)",
            "stddev(gen_capacity_bytes * 1e300)",
            "quantile(NaN, gen_up)",
        ],
    ),
    (
        "math functions",
        &[
            "abs(gen_temperature_celsius - 40)",
            "abs(-gen_queue_length)",
            "ceil(gen_temperature_celsius)",
            "floor(gen_temperature_celsius)",
            "round(gen_temperature_celsius)",
            "round(gen_temperature_celsius, 0.5)",
            "round(gen_temperature_celsius, 10)",
            "round(gen_temperature_celsius * 100 + 0.5)",
            "round(gen_queue_length, 0)",
            "round(gen_temperature_celsius, -0.25)",
            "ln(gen_temperature_celsius)",
            "ln(gen_queue_length)",
            "exp(gen_queue_length)",
            "exp(gen_temperature_celsius * 20)",
            "sqrt(gen_temperature_celsius - 40)",
            "sqrt(gen_capacity_bytes)",
            "clamp_min(gen_temperature_celsius, 40)",
            "clamp_max(gen_temperature_celsius, 42.5)",
            "clamp_max(clamp_min(gen_queue_length, 2), 8)",
            "clamp_max(gen_queue_length, NaN)",
            "clamp_min(gen_temperature_celsius, -Inf)",
        ],
    ),
    (
        "time, scalar, vector, unary minus",
        &[
            "time()",
            "time() % 60",
            "-time()",
            "vector(1)",
            "vector(time())",
            "vector(1) + 1",
            "scalar(gen_capacity_bytes{instance=\"a\"})",
            "scalar(gen_capacity_bytes)",
            "scalar(sum(gen_up))",
            "scalar(gen_up{instance=\"d\"})",
            "scalar(gen_nonexistent)",
            "scalar(vector(time()))",
            "gen_temperature_celsius * scalar(gen_up{instance=\"b\"})",
            "gen_capacity_bytes / scalar(sum(gen_capacity_bytes))",
            "time() - gen_capacity_bytes / 1e6",
            "-gen_temperature_celsius",
            "-sum(gen_requests_total)",
            "-(-gen_up)",
            "-1",
        ],
    ),
];

/// Expressions whose evaluation fails in Prometheus; harbinger must fail too (and not
/// by refusing them as unsupported).
const GEN_ERRORS: &[&str] = &[
    // Two series on the left per instance: many-to-one without group_left.
    "gen_requests_total + on(instance) gen_capacity_bytes",
    // Two series on the right for instance a (sensors cpu and disk).
    "gen_capacity_bytes + on(instance) group_left gen_temperature_celsius",
    // Dropping the metric name leaves two series with the same labels.
    "abs({__name__=~\"gen_(up|capacity_bytes)\"})",
    "{__name__=~\"gen_(up|capacity_bytes)\"} * 2",
    "-{__name__=~\"gen_(up|capacity_bytes)\"}",
    "rate({__name__=~\"gen_(up|capacity_bytes)\"}[5m])",
    // k does not fit in an int64.
    "topk(1e20, gen_up)",
    "bottomk(NaN, gen_up)",
];

// =====================================================================================
// The test (data and harness: `support/differential/`).
// =====================================================================================

#[tokio::test(flavor = "multi_thread")]
async fn harbinger_query_agrees_with_prometheus_2_42() {
    let started = Instant::now();
    // Declared first, dropped last: the log files outlive the processes.
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("building the HTTP client");
    check_alert_rules_match_the_rule_file();

    let lab_dir = dir.path().join("lab-dev");
    let gen_dir = dir.path().join("generated");
    let t0 = {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_millis() as i64;
        (now_ms - 3 * 3600 * SECOND) / MINUTE * MINUTE
    };
    let prepared = tokio::join!(
        tokio::task::spawn_blocking(move || {
            let series = load_lab(Path::new(LAB_DATA), LAB_METRICS);
            prepare(&lab_dir, &series, LAB_STEP_MS)
        }),
        tokio::task::spawn_blocking(move || {
            let series = generated(t0);
            let (csv, tsdb, mut span) = prepare(&gen_dir, &series, GEN_STEP_MS);
            span.start_ms = t0;
            span.end_ms = t0 + GEN_SPAN_MS;
            (csv, tsdb, span)
        }),
    );
    let ((lab_csv, lab_tsdb, lab_span), (gen_csv, gen_tsdb, gen_span)) = (
        prepared.0.expect("preparing lab-dev"),
        prepared.1.expect("preparing the generated data"),
    );
    let (lab_server, gen_server) = tokio::join!(
        Server::start("prometheus-lab-dev", dir.path(), &lab_tsdb, &http),
        Server::start("prometheus-generated", dir.path(), &gen_tsdb, &http),
    );
    let prepared_in = started.elapsed();

    let lab = Arc::new(DataSet {
        name: "lab-dev",
        csv: lab_csv,
        span: lab_span,
        prometheus: lab_server,
    });
    let generated = Arc::new(DataSet {
        name: "generated",
        csv: gen_csv,
        span: gen_span,
        prometheus: gen_server,
    });
    let mut jobs = Vec::new();
    for (data, tables) in [(&lab, LAB), (&generated, GEN)] {
        for &(section, exprs) in tables {
            for &expr in exprs {
                jobs.push(Job {
                    data: Arc::clone(data),
                    section,
                    expr,
                    expect: Expect::Agree,
                });
            }
        }
    }
    for &expr in GEN_ERRORS {
        jobs.push(Job {
            data: Arc::clone(&generated),
            section: "evaluation errors",
            expr,
            expect: Expect::Fail,
        });
    }

    let total = jobs.len();
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get()) + 1;
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, job) in jobs.into_iter().enumerate() {
        let (http, permits) = (http.clone(), Arc::clone(&permits));
        tasks.spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .expect("the semaphore stays open");
            let outcome = run(&http, &job).await;
            (index, job, outcome)
        });
    }
    let mut results = Vec::new();
    while let Some(result) = tasks.join_next().await {
        results.push(result.expect("an expression task panicked"));
    }
    results.sort_by_key(|(index, _, _)| *index);

    let points: usize = results.iter().map(|(_, _, o)| o.points).sum();
    let mut report = String::new();
    let mut failed = 0;
    for (_, job, outcome) in &results {
        if let Some(problem) = &outcome.problem {
            failed += 1;
            let _ = writeln!(
                report,
                "\n[{} / {}] {}\n{problem}",
                job.data.name, job.section, job.expr
            );
        }
    }
    // Legitimate (an alert that never fires), but worth seeing: they compare nothing.
    let empty: Vec<String> = results
        .iter()
        .filter(|(_, job, o)| {
            matches!(job.expect, Expect::Agree) && o.points == 0 && o.problem.is_none()
        })
        .map(|(_, job, _)| format!("  [{}] {}", job.data.name, job.expr))
        .collect();
    if !empty.is_empty() {
        eprintln!(
            "promql differential: no points in either engine for:\n{}",
            empty.join("\n")
        );
    }
    eprintln!(
        "promql differential: {total} expressions ({} lab-dev steps of {} s, {} generated steps of {} s), \
         {points} points compared, {failed} differ; data ready in {:.1} s, total {:.1} s",
        lab.span.steps(),
        lab.span.step_ms / 1000,
        generated.span.steps(),
        generated.span.step_ms / 1000,
        prepared_in.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    assert!(
        failed == 0,
        "{failed} of {total} expressions differ between Prometheus 2.42 and harbinger:\n{report}"
    );
}
/// The alert table above is the rule file's.
fn check_alert_rules_match_the_rule_file() {
    let text = std::fs::read_to_string(LAB_RULES).expect("reading lab-dev's rules.yml");
    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("parsing rules.yml");
    let exprs: Vec<&str> = rules["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|group| group["rules"].as_sequence().expect("rules"))
        .map(|rule| rule["expr"].as_str().expect("an expr").trim())
        .collect();
    assert_eq!(
        exprs, LAB_ALERT_RULES,
        "the alert expressions of {LAB_RULES}"
    );
}
