//! A synthetic estate of filesystems, as a Prometheus export would hold it: per
//! filesystem `node_filesystem_avail_bytes` and `node_filesystem_size_bytes` at every
//! step, and the `ALERTS` series of `HostOutOfDiskSpace` (`< 10` % free for 2m) that a
//! Prometheus evaluating the rule would have written.
//!
//! In: how many filesystems, how many days, the step and a seed. Out: a [`Dataset`] in
//! memory (no CSV: at 1,000 filesystems × 7 days it is 80 M samples) and the count of
//! crossing episodes in it.
//!
//! Each filesystem is one of the kinds the lab runs hold (`../shared/data/lab-dev*`),
//! drawn with these shares: idle (flat, with noise and a small daily cycle), fills that
//! cross and are cleaned up after firing, fills that stop just short, fills that slow
//! down and level off short, busy scratch disks swinging up to ~85 % used, and one-off
//! copies (a step up, deleted later).

use harbinger::dataset::{Dataset, Sample, SeriesData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The rule's threshold (percent free) and `for`.
const THRESHOLD_FREE: f64 = 10.0;
const HOLD_MS: i64 = 120_000;
/// 2026-11-01T00:00:00Z.
const START_MS: i64 = 1_793_491_200_000;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Idle,
    Crossing,
    NearMiss,
    Decelerating,
    Scratch,
    Copy,
}

impl Kind {
    fn draw(rng: &mut StdRng) -> Kind {
        match rng.gen_range(0..100) {
            0..50 => Kind::Idle,
            50..65 => Kind::Crossing,
            65..75 => Kind::NearMiss,
            75..80 => Kind::Decelerating,
            80..90 => Kind::Scratch,
            _ => Kind::Copy,
        }
    }
}

pub struct Estate {
    pub dataset: Dataset,
    pub filesystems: usize,
    pub crossing_episodes: usize,
}

pub fn generate(filesystems: usize, days: f64, step_ms: i64, seed: u64) -> Estate {
    let steps = (days * 86_400_000.0 / step_ms as f64) as usize;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut series = Vec::new();
    let mut crossing_episodes = 0;
    for index in 0..filesystems {
        let kind = Kind::draw(&mut rng);
        let used = used_fraction(kind, steps, step_ms, &mut rng);
        let size = (rng.gen_range(50.0..500.0_f64) * 1e9 / 4096.0).round() * 4096.0;
        let instance = format!("host{index:04}:9100");
        let labels = |name: &str| -> Vec<(String, String)> {
            let mut labels = vec![
                ("__name__".to_owned(), name.to_owned()),
                ("device".to_owned(), "/dev/sdb1".to_owned()),
                ("fstype".to_owned(), "ext4".to_owned()),
                ("instance".to_owned(), instance.clone()),
                ("job".to_owned(), "node".to_owned()),
                ("mountpoint".to_owned(), "/srv/data".to_owned()),
            ];
            labels.sort();
            labels
        };
        let at = |step: usize| START_MS + step as i64 * step_ms;
        let avail: Vec<Sample> = used
            .iter()
            .enumerate()
            .map(|(step, u)| Sample {
                timestamp_ms: at(step),
                value: ((1.0 - u) * size / 4096.0).round() * 4096.0,
            })
            .collect();
        let size_samples = (0..steps)
            .map(|step| Sample {
                timestamp_ms: at(step),
                value: size,
            })
            .collect();
        let (pending, firing, episodes) = alerts(&avail, size, step_ms);
        crossing_episodes += episodes;
        for (state, samples) in [("pending", pending), ("firing", firing)] {
            if samples.is_empty() {
                continue;
            }
            let mut alert = labels("ALERTS");
            alert.retain(|(name, _)| name != "__name__");
            alert.extend([
                ("__name__".to_owned(), "ALERTS".to_owned()),
                ("alertname".to_owned(), "HostOutOfDiskSpace".to_owned()),
                ("alertstate".to_owned(), state.to_owned()),
                ("severity".to_owned(), "warning".to_owned()),
            ]);
            alert.sort();
            series.push(SeriesData {
                labels: alert,
                samples,
            });
        }
        series.push(SeriesData {
            labels: labels("node_filesystem_avail_bytes"),
            samples: avail,
        });
        series.push(SeriesData {
            labels: labels("node_filesystem_size_bytes"),
            samples: size_samples,
        });
    }
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    Estate {
        dataset: Dataset { series },
        filesystems,
        crossing_episodes,
    }
}

/// The used fraction of a filesystem of `kind` at each step.
fn used_fraction(kind: Kind, steps: usize, step_ms: i64, rng: &mut StdRng) -> Vec<f64> {
    let base = rng.gen_range(0.2..0.7);
    let cycle = rng.gen_range(0.0..0.01);
    let phase = rng.gen_range(0.0..std::f64::consts::TAU);
    let step_s = step_ms as f64 / 1000.0;
    let minutes = |m: f64| (m * 60.0 / step_s) as usize;
    // The quiet level: the base, a daily cycle (logs written by day) and noise.
    let mut used: Vec<f64> = (0..steps)
        .map(|step| {
            let day = step as f64 * step_s / 86_400.0;
            base + cycle * (std::f64::consts::TAU * day + phase).sin() + rng.gen_range(-2e-4..2e-4)
        })
        .collect();
    // Events at random times, at least a few hours apart.
    let mut at = minutes(rng.gen_range(60.0..600.0));
    while at + minutes(600.0) < steps {
        let rise = match kind {
            Kind::Idle => {
                at += minutes(600.0);
                continue;
            }
            Kind::Crossing => {
                let target = rng.gen_range(0.905..0.98);
                let lasting = minutes(rng.gen_range(20.0..120.0)) + minutes(40.0);
                (target, lasting, Shape::Linear)
            }
            Kind::NearMiss => (
                rng.gen_range(0.86..0.885),
                minutes(rng.gen_range(30.0..120.0)),
                Shape::Linear,
            ),
            Kind::Decelerating => (
                rng.gen_range(0.875..0.89),
                minutes(rng.gen_range(40.0..150.0)),
                Shape::Levelling,
            ),
            Kind::Scratch => (
                rng.gen_range(0.8..0.87),
                minutes(rng.gen_range(10.0..40.0)),
                Shape::Linear,
            ),
            Kind::Copy => (rng.gen_range(0.8..0.88), 1, Shape::Linear),
        };
        let (peak, rise_steps, shape) = rise;
        let hold = minutes(rng.gen_range(20.0..120.0));
        let end = (at + rise_steps + hold).min(steps);
        let from = used[at];
        for (k, u) in used[at..end].iter_mut().enumerate() {
            let progress = (k as f64 / rise_steps as f64).min(1.0);
            let progress = match shape {
                Shape::Linear => progress,
                Shape::Levelling => 1.0 - (-4.0 * progress).exp(),
            };
            *u += (peak - from) * progress;
        }
        let quiet = match kind {
            Kind::Scratch => rng.gen_range(30.0..240.0),
            _ => rng.gen_range(300.0..2000.0),
        };
        at = end + minutes(quiet);
    }
    used.iter_mut().for_each(|u| *u = u.clamp(0.0, 1.0));
    used
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Linear,
    /// Fast at first, then slowing to the peak.
    Levelling,
}

/// The rule's `ALERTS` samples (pending, firing) as Prometheus writes them at each
/// evaluation, and the number of episodes that fired.
fn alerts(avail: &[Sample], size: f64, step_ms: i64) -> (Vec<Sample>, Vec<Sample>, usize) {
    let (mut pending, mut firing) = (Vec::new(), Vec::new());
    let mut episodes = 0;
    let mut since: Option<i64> = None;
    for sample in avail {
        if sample.value * 100.0 / size >= THRESHOLD_FREE {
            since = None;
            continue;
        }
        let since = *since.get_or_insert(sample.timestamp_ms);
        let held = sample.timestamp_ms - since;
        let point = Sample {
            timestamp_ms: sample.timestamp_ms,
            value: 1.0,
        };
        if held >= HOLD_MS {
            if held < HOLD_MS + step_ms {
                episodes += 1;
            }
            firing.push(point);
        } else {
            pending.push(point);
        }
    }
    (pending, firing, episodes)
}
