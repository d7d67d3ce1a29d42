//! The generated data set of the PromQL differential test: an hour of series that hold
//! the awkward cases (counter resets, gaps longer than the lookback, series that end,
//! NaN and ±Inf, irregular intervals), from a fixed pseudo-random sequence.
//!
//! In: the start time `t0`. Out: the series (`generated`), and the time constants the
//! test uses to place its span.

use crate::support::prometheus::Series;

pub const SECOND: i64 = 1_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const GEN_SPAN_MS: i64 = 60 * MINUTE;

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
pub fn generated(t0: i64) -> Vec<Series> {
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
