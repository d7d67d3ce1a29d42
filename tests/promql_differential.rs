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

#[allow(dead_code)] // The shared helpers serve several test crates; this one uses a part.
mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::prometheus::{
    Labels, Matrix, Series, Server, Span, create_blocks, format_seconds, format_value, parse_value,
    write_openmetrics,
};

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
// The generated data set.
// =====================================================================================

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const GEN_SPAN_MS: i64 = 60 * MINUTE;

/// An hour of data starting at `t0` (a whole minute, in ms). Instances a, b, c (job api)
/// and d (job db):
///
/// - c disappears for 7 minutes (from +20m to +27m): longer than the 5 minute lookback;
/// - d stops at +40m, for good;
/// - `gen_requests_total{instance, job, method}`: counters scraped every 12–18 s, with
///   resets (a/get at +12m, a/post to exactly 0 at +30m, c/post at +33m and +48m, d/get at
///   +25m); b/post starts at +10m from 0;
/// - `gen_temperature_celsius{instance, job, sensor}`: gauges sampled every 5–25 s;
///   a/cpu is NaN from +15m to +16m, +Inf once at +30m and -Inf once at +45m; b/disk is
///   NaN once at +50m;
/// - `gen_capacity_bytes{instance, job}`: every 30 s on the minute grid (samples on
///   evaluation steps), step changes at +10m (d), +20m (a) and +35m (b);
/// - `gen_up{instance, job}`: every 15 s, offset 7.5 s; b is 0 from +25m to +32m;
/// - `gen_info{instance, team, version}`: value 1 every 60 s, for a, b and c only;
/// - `gen_queue_length{instance, queue}`: small integers that often repeat, every 1–45 s
///   with occasional 2–4 minute pauses; one queue name needs CSV quoting and OpenMetrics
///   escaping; c/once has a single sample at +30m.
///
/// Every time is a multiple of 125 ms (see `write_openmetrics`).
fn generated(t0: i64) -> Vec<Series> {
    let end = t0 + GEN_SPAN_MS;
    let mut rng = Rng(0x6861_7262_696e_6765);
    let present = |instance: &str, t: i64| match instance {
        "c" => !(t0 + 20 * MINUTE..t0 + 27 * MINUTE).contains(&t),
        "d" => t < t0 + 40 * MINUTE,
        _ => true,
    };
    let instances = [("a", "api"), ("b", "api"), ("c", "api"), ("d", "db")];
    let mut out = Vec::new();

    for (instance, job) in instances {
        for method in ["get", "post"] {
            let (start, mut value) = match (instance, method) {
                ("b", "post") => (t0 + 10 * MINUTE, 0.0),
                _ => (t0, rng.between(100.0, 10_000.0).round()),
            };
            let per_second = match method {
                "get" => rng.between(2.0, 20.0),
                _ => rng.between(0.5, 5.0),
            };
            let resets: &[(i64, bool)] = match (instance, method) {
                ("a", "get") => &[(12, false)],
                ("a", "post") => &[(30, true)],
                ("c", "post") => &[(33, false), (48, false)],
                ("d", "get") => &[(25, false)],
                _ => &[],
            };
            let start = start + rng.ticks(0, 15 * SECOND);
            let mut samples = Vec::new();
            let mut last = start;
            for t in rng.times(start, end, 12 * SECOND, 18 * SECOND) {
                if !present(instance, t) {
                    continue;
                }
                let increment =
                    (per_second * (t - last) as f64 / 1e3 * rng.between(0.5, 1.5)).round();
                match resets
                    .iter()
                    .find(|&&(minute, _)| (last + 1..=t).contains(&(t0 + minute * MINUTE)))
                {
                    Some((_, true)) => value = 0.0,
                    Some((_, false)) => value = (increment * 0.3).round(),
                    None => value += increment,
                }
                samples.push((t, value));
                last = t;
            }
            out.push(series(
                "gen_requests_total",
                &[("instance", instance), ("job", job), ("method", method)],
                samples,
            ));
        }
    }

    let sensors = [
        ("a", "api", "cpu"),
        ("a", "api", "disk"),
        ("b", "api", "cpu"),
        ("b", "api", "disk"),
        ("c", "api", "cpu"),
        ("d", "db", "cpu"),
    ];
    for (instance, job, sensor) in sensors {
        let (base, amplitude) = match sensor {
            "cpu" => (rng.between(38.0, 44.0), 8.0),
            _ => (rng.between(30.0, 36.0), 3.0),
        };
        let phase = rng.between(0.0, std::f64::consts::TAU);
        let start = t0 + rng.ticks(0, 10 * SECOND);
        let mut specials: Vec<(i64, f64)> = match (instance, sensor) {
            ("a", "cpu") => vec![(30, f64::INFINITY), (45, f64::NEG_INFINITY)],
            ("b", "disk") => vec![(50, f64::NAN)],
            _ => vec![],
        };
        let mut samples = Vec::new();
        for t in rng.times(start, end, 5 * SECOND, 25 * SECOND) {
            if !present(instance, t) {
                continue;
            }
            let minutes = (t - t0) as f64 / MINUTE as f64;
            let wave = (minutes / 20.0 * std::f64::consts::TAU + phase).sin();
            let mut v =
                ((base + amplitude * wave + rng.between(-1.0, 1.0)) * 100.0).round() / 100.0;
            if (instance, sensor) == ("a", "cpu") && (15.0..16.0).contains(&minutes) {
                v = f64::NAN;
            }
            if let Some(i) = specials.iter().position(|&(m, _)| t >= t0 + m * MINUTE) {
                v = specials.remove(i).1;
            }
            samples.push((t, v));
        }
        out.push(series(
            "gen_temperature_celsius",
            &[("instance", instance), ("job", job), ("sensor", sensor)],
            samples,
        ));
    }

    for (instance, job) in instances {
        let (base, change_minute, change) = match instance {
            "a" => (1e9, 20, 1e8),
            "b" => (2e9, 35, -2.5e8),
            "c" => (5e8, 90, 0.0),
            _ => (4e9, 10, 1.5e8),
        };
        let samples = (t0..=end)
            .step_by(30 * SECOND as usize)
            .filter(|&t| present(instance, t))
            .map(|t| {
                let changed = t >= t0 + change_minute * MINUTE;
                (t, if changed { base + change } else { base })
            })
            .collect();
        out.push(series(
            "gen_capacity_bytes",
            &[("instance", instance), ("job", job)],
            samples,
        ));

        let down = |t: i64| instance == "b" && (t0 + 25 * MINUTE..t0 + 32 * MINUTE).contains(&t);
        let samples = (t0 + 7_500..=end)
            .step_by(15 * SECOND as usize)
            .filter(|&t| present(instance, t))
            .map(|t| (t, if down(t) { 0.0 } else { 1.0 }))
            .collect();
        out.push(series(
            "gen_up",
            &[("instance", instance), ("job", job)],
            samples,
        ));
    }

    for (instance, team, version) in [
        ("a", "web", "1.2.3"),
        ("b", "web", "1.2.4"),
        ("c", "batch", "0.9.0"),
    ] {
        let samples = (t0 + 30_250..=end)
            .step_by(MINUTE as usize)
            .filter(|&t| present(instance, t))
            .map(|t| (t, 1.0))
            .collect();
        let labels = [("instance", instance), ("team", team), ("version", version)];
        out.push(series("gen_info", &labels, samples));
    }

    for (instance, queue) in [("a", "q1"), ("b", "q1"), ("a", "x,\"y\"\\z")] {
        let mut value: f64 = rng.between(0.0, 6.0).round();
        let mut samples = Vec::new();
        let mut t = t0 + rng.ticks(0, 5 * SECOND);
        while t <= end {
            samples.push((t, value));
            if rng.between(0.0, 1.0) > 0.4 {
                value = (value + rng.between(-3.0, 3.0).round()).clamp(0.0, 12.0);
            }
            t += match rng.between(0.0, 1.0) < 0.05 {
                true => rng.ticks(2 * MINUTE, 4 * MINUTE),
                false => rng.ticks(SECOND, 45 * SECOND),
            };
        }
        out.push(series(
            "gen_queue_length",
            &[("instance", instance), ("queue", queue)],
            samples,
        ));
    }
    out.push(series(
        "gen_queue_length",
        &[("instance", "c"), ("queue", "once")],
        vec![(t0 + 30 * MINUTE, 7.0)],
    ));
    out
}

fn series(name: &str, labels: &[(&str, &str)], samples: Vec<(i64, f64)>) -> Series {
    Series {
        name: name.to_owned(),
        labels: labels
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        samples,
    }
}

/// splitmix64: a fixed sequence, so that a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A duration in [lo, hi] ms, a multiple of 125 ms.
    fn ticks(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo) / 125 + 1) as u64) as i64 * 125
    }

    /// Times from `start` up to `end`, apart by [lo, hi] ms each.
    fn times(&mut self, start: i64, end: i64, lo: i64, hi: i64) -> Vec<i64> {
        let mut times = Vec::new();
        let mut t = start;
        while t <= end {
            times.push(t);
            t += self.ticks(lo, hi);
        }
        times
    }
}

// =====================================================================================
// The harness.
// =====================================================================================

/// A data set loaded into both engines.
struct DataSet {
    name: &'static str,
    /// The long-format CSV harbinger reads.
    csv: PathBuf,
    span: Span,
    prometheus: Server,
}

#[derive(Clone, Copy)]
enum Expect {
    /// Both engines answer, with the same points.
    Agree,
    /// Both engines fail to evaluate.
    Fail,
}

struct Job {
    data: Arc<DataSet>,
    section: &'static str,
    expr: &'static str,
    expect: Expect,
}

/// What came of one expression.
struct Outcome {
    points: usize,
    /// A report of what differs, if anything.
    problem: Option<String>,
}

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

/// Evaluates one job in both engines and compares.
async fn run(http: &reqwest::Client, job: &Job) -> Outcome {
    let data = &job.data;
    let (csv, expr, span) = (data.csv.clone(), job.expr, data.span);
    let (expected, got) = tokio::join!(data.prometheus.query_range(http, expr, span), async {
        tokio::task::spawn_blocking(move || run_harbinger(&csv, expr, span))
            .await
            .expect("running harbinger panicked")
    });
    let problem = |text: String| Outcome {
        points: 0,
        problem: Some(text),
    };
    match (job.expect, expected, got) {
        (Expect::Agree, Ok(expected), Ok(got)) => {
            let (points, differences) = compare(&expected, &got, span);
            Outcome {
                points,
                problem: differences,
            }
        }
        (Expect::Agree, Err(error), _) => problem(format!(
            "  the test is wrong: Prometheus refuses the expression: {error}"
        )),
        (Expect::Agree, Ok(_), Err(error)) => problem(format!("  harbinger failed: {error}")),
        (Expect::Fail, Ok(_), _) => problem(
            "  the test is wrong: Prometheus evaluates the expression without an error".into(),
        ),
        (Expect::Fail, Err(expected), Ok(got)) => problem(format!(
            "  Prometheus fails ({expected}) but harbinger answered {} series",
            got.len()
        )),
        (Expect::Fail, Err(expected), Err(error))
            if error.contains("not supported") || error.contains("cannot parse") =>
        {
            problem(format!(
                "  Prometheus fails at evaluation ({expected}) but harbinger refuses the \
                 expression itself: {error}"
            ))
        }
        (Expect::Fail, Err(_), Err(_)) => Outcome {
            points: 0,
            problem: None,
        },
    }
}

/// `harbinger query` over `csv`, its CSV output read back as a matrix.
fn run_harbinger(csv: &Path, expr: &str, span: Span) -> Result<Matrix, String> {
    assert_eq!(span.step_ms % 1000, 0, "steps are whole seconds");
    let output = Command::new(env!("CARGO_BIN_EXE_harbinger"))
        .arg("query")
        .arg("--data")
        .arg(csv)
        // `=`: an expression that starts with `-` is not an option.
        .arg(format!("--expr={expr}"))
        .args(["--step", &format!("{}s", span.step_ms / 1000)])
        .args(["--start", &format_seconds(span.start_ms)])
        .args(["--end", &format_seconds(span.end_ms)])
        .env_remove("RUST_LOG")
        .output()
        .map_err(|e| format!("starting harbinger: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    read_harbinger_csv(&output.stdout)
}

/// `timestamp,<label columns>,value`; an empty cell is an absent label.
fn read_harbinger_csv(text: &[u8]) -> Result<Matrix, String> {
    let mut reader = csv::Reader::from_reader(text);
    let header = reader
        .headers()
        .map_err(|e| format!("output header: {e}"))?
        .clone();
    let columns: Vec<&str> = header.iter().collect();
    let (Some(&"timestamp"), Some(&"value")) = (columns.first(), columns.last()) else {
        return Err(format!("unexpected output header {columns:?}"));
    };
    let label_columns = &columns[1..columns.len() - 1];
    let mut matrix = Matrix::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("output line {}: {e}", line + 2))?;
        let bad = |what: &str| format!("output line {}: bad {what} in {record:?}", line + 2);
        let t = parse_seconds(&record[0]).ok_or_else(|| bad("timestamp"))?;
        let v = parse_value(&record[record.len() - 1]).ok_or_else(|| bad("value"))?;
        let labels: Labels = label_columns
            .iter()
            .zip(record.iter().skip(1))
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name.to_string(), value.to_owned()))
            .collect();
        matrix.entry(labels).or_default().push((t, v));
    }
    Ok(matrix)
}

/// Compares two results point by point; returns the number of points and, when they
/// differ, a report of the first differences.
fn compare(expected: &Matrix, got: &Matrix, span: Span) -> (usize, Option<String>) {
    const SHOWN: usize = 6;
    let flatten = |matrix: &Matrix| -> BTreeMap<(i64, Labels), f64> {
        matrix
            .iter()
            .flat_map(|(labels, points)| points.iter().map(|&(t, v)| ((t, labels.clone()), v)))
            .collect()
    };
    let (expected, got) = (flatten(expected), flatten(got));
    let keys: std::collections::BTreeSet<&(i64, Labels)> =
        expected.keys().chain(got.keys()).collect();
    let mut differences = Vec::new();
    for key in &keys {
        let (e, g) = (expected.get(key), got.get(key));
        if let (Some(&e), Some(&g)) = (e, g)
            && same(e, g)
        {
            continue;
        }
        differences.push((*key, e.copied(), g.copied()));
    }
    if differences.is_empty() {
        return (expected.len(), None);
    }
    let show = |v: Option<f64>| v.map_or("(no point)".to_owned(), format_value);
    let mut text = format!(
        "  {} of {} points differ (Prometheus has {}, harbinger {}):",
        differences.len(),
        keys.len(),
        expected.len(),
        got.len()
    );
    for ((t, labels), e, g) in differences.iter().take(SHOWN) {
        let _ = write!(
            text,
            "\n    t={} (start+{}s) {}: prometheus {}, harbinger {}",
            format_seconds(*t),
            (t - span.start_ms) as f64 / 1e3,
            format_labels(labels),
            show(*e),
            show(*g),
        );
    }
    if differences.len() > SHOWN {
        let _ = write!(text, "\n    ...");
    }
    (expected.len(), Some(text))
}

/// Equal within 1e-9 relative, or both below 1e-12; NaN equals NaN, an infinity only
/// itself.
fn same(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    if a.is_infinite() || b.is_infinite() {
        return false;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) || (a.abs() < 1e-12 && b.abs() < 1e-12)
}

fn format_labels(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Unix seconds with up to three decimals, to ms.
fn parse_seconds(text: &str) -> Option<i64> {
    let (int, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis = format!("{fraction:0<3}").parse::<i64>().ok()?;
    Some(int.parse::<i64>().ok()? * 1000 + millis)
}

/// Writes `series` in `dir` as long-format CSV and as TSDB blocks; returns their paths
/// and the span that covers the data at `step_ms`.
fn prepare(dir: &Path, series: &[Series], step_ms: i64) -> (PathBuf, PathBuf, Span) {
    std::fs::create_dir_all(dir).expect("creating a data directory");
    let csv = dir.join("data.csv");
    write_long_csv(series, &csv);
    let openmetrics = dir.join("data.om");
    write_openmetrics(series, &openmetrics);
    let tsdb = dir.join("tsdb");
    create_blocks(&openmetrics, &tsdb);
    (csv, tsdb, Span::covering(series, step_ms))
}

/// `name,timestamp,value,<label names, sorted>`, as lab-dev's export; the label `name`
/// is the column `label_name`.
fn write_long_csv(series: &[Series], path: &Path) {
    let columns: std::collections::BTreeSet<&str> = series
        .iter()
        .flat_map(|s| s.labels.keys().map(String::as_str))
        .collect();
    let mut out = csv::Writer::from_path(path).expect("creating the CSV file");
    let header = ["name", "timestamp", "value"].into_iter().chain(
        columns
            .iter()
            .map(|&c| if c == "name" { "label_name" } else { c }),
    );
    out.write_record(header).expect("writing CSV");
    for s in series {
        for &(t, v) in &s.samples {
            let mut record = vec![s.name.clone(), format_seconds(t), format_value(v)];
            record.extend(
                columns
                    .iter()
                    .map(|&c| s.labels.get(c).cloned().unwrap_or_default()),
            );
            out.write_record(&record).expect("writing CSV");
        }
    }
    out.flush().expect("writing CSV");
}

/// The series of `names` in a lab export (gzip long-format CSV without quoted cells).
fn load_lab(path: &Path, names: &[&str]) -> Vec<Series> {
    let file = File::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let text = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, file));
    let mut lines = BufReader::with_capacity(1 << 20, text).lines();
    let header = lines.next().expect("a header").expect("reading the export");
    let labels: Vec<&str> = header
        .split(',')
        .skip(3)
        .map(|c| if c == "label_name" { "name" } else { c })
        .collect();
    let wanted: HashSet<&str> = names.iter().copied().collect();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut series: Vec<Series> = Vec::new();
    for line in lines {
        let line = line.expect("reading the export");
        let Some((name, rest)) = line.split_once(',') else {
            continue;
        };
        if !wanted.contains(name) {
            continue;
        }
        assert!(!line.contains('"'), "quoted cells are not expected: {line}");
        let mut cells = rest.splitn(3, ',');
        let (Some(t), Some(v), Some(label_cells)) = (cells.next(), cells.next(), cells.next())
        else {
            panic!("short line: {line}");
        };
        let t = parse_seconds(t).unwrap_or_else(|| panic!("bad timestamp: {line}"));
        let v = parse_value(v).unwrap_or_else(|| panic!("bad value: {line}"));
        let key = format!("{name},{label_cells}");
        let i = *index.entry(key).or_insert_with(|| {
            let values = label_cells.split(',');
            series.push(Series {
                name: name.to_owned(),
                labels: labels
                    .iter()
                    .zip(values)
                    .filter(|(_, value)| !value.is_empty())
                    .map(|(k, v)| (k.to_string(), v.to_owned()))
                    .collect(),
                samples: Vec::new(),
            });
            series.len() - 1
        });
        series[i].samples.push((t, v));
    }
    let found: HashSet<&str> = series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(found, wanted, "metric names found in {}", path.display());
    for s in &mut series {
        s.samples.sort_by_key(|&(t, _)| t);
    }
    series
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
