//! The detector's promises: a score means the same on every series, it does not change
//! when a series is scaled, a spike is one detection, a daily cycle is learned, and a new
//! or flat series is not alarmed by its own start.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

const FIVE_MINUTES: i64 = 300_000;

/// Scores `values`, one per 5-minute step, with a week's memory.
fn scores(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let season = Season::for_step(FIVE_MINUTES);
    let mut detector = Detector::new(season, 7.0 * 288.0);
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| detector.observe(&season, i as i64 * FIVE_MINUTES, v))
        .collect()
}

fn normal(rng: &mut StdRng) -> f64 {
    let (u, v): (f64, f64) = (rng.r#gen(), rng.r#gen());
    (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Share of values at or after `from` that are detections (score ≥ 1).
fn detection_rate(scores: &[f64], from: usize) -> f64 {
    let later = &scores[from..];
    later.iter().filter(|&&s| s >= 1.0).count() as f64 / later.len() as f64
}

/// Noise of very different shapes and sizes, after a week's warm-up: detections stay
/// near the tail probability that a score of 1 stands for (10^−2.1 ≈ 0.8 %, fewer with
/// the quiet period after each), where a z-score would flag heavy tails far more often.
#[test]
fn a_score_means_the_same_on_every_series() {
    let mut rng = StdRng::seed_from_u64(7);
    let n = 30_000;
    let gaussian: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
    let cauchy_like: Vec<f64> = (0..n)
        .map(|_| normal(&mut rng) / normal(&mut rng).abs().max(1e-3))
        .collect();
    let counts: Vec<f64> = (0..n).map(|_| f64::from(rng.gen_range(0..4u8))).collect();
    let bytes: Vec<f64> = (0..n).map(|_| 1e9 + 3e7 * normal(&mut rng).exp()).collect();
    for (name, values) in [
        ("gaussian", gaussian),
        ("heavy-tailed", cauchy_like),
        ("small counts", counts),
        ("log-normal bytes", bytes),
    ] {
        let rate = detection_rate(&scores(values), 7 * 288);
        assert!(rate <= 0.005, "{name}: {rate}");
    }
}

/// Multiplying a series by a power of two multiplies every residual, spread and floor
/// by it exactly: the scores are the same, bit for bit.
#[test]
fn scaling_a_series_leaves_its_scores() {
    let mut rng = StdRng::seed_from_u64(3);
    let values: Vec<f64> = (0..5_000)
        .map(|i| 50.0 + 10.0 * ((i % 288) as f64 / 288.0).sin() + normal(&mut rng))
        .collect();
    let scaled = values.iter().map(|v| v * 1_048_576.0);
    assert_eq!(scores(values.iter().copied()), scores(scaled));
}

/// A spike in noise after warm-up is detected at once, and the values after it read 0
/// for the quiet period: one event, one detection. The noise has surprises of its own
/// (about one in 500 values), so the spike goes where the noise alone left the detector
/// out of its quiet period: the detector is causal, so the scores before it are the same.
#[test]
fn a_spike_is_one_detection() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut values: Vec<f64> = (0..4_000).map(|_| 10.0 + normal(&mut rng)).collect();
    let quiet = usize::from(QUIET_VALUES);
    let noise_alone = scores(values.iter().copied());
    let spike = (3_000..3_800)
        .find(|&i| noise_alone[i - quiet..i].iter().all(|&s| s < 1.0))
        .expect("a stretch of noise without detections");
    values[spike] = 40.0;
    values[spike + 1] = 38.0;
    let scores = scores(values);
    assert!(scores[spike] >= 1.0, "{}", scores[spike]);
    assert!(scores[spike + 1..=spike + quiet].iter().all(|&s| s == 0.0));
}

/// A spike at the same time every night, as a backup's: the first night detects; from
/// the second on it keeps the calendar and reads below 1. A larger spike at another hour
/// still detects. The background repeats every 7 values, so that after its first cycles
/// nothing in it is a surprise: random noise has surprises of its own (about one in 500
/// values), which may fall near the spike's time by chance or start a quiet period
/// over it.
#[test]
fn a_nightly_spike_is_expected_once_it_keeps_a_rhythm() {
    let day = 288;
    let background = [0.0, 0.8, -0.5, 1.1, -0.9, 0.3, -0.7];
    let mut values: Vec<f64> = (0..12 * day).map(|i| 10.0 + background[i % 7]).collect();
    let nightly = |d: usize| d * day + 30;
    for d in 2..12 {
        values[nightly(d)] = 40.0;
    }
    let off_rhythm = 10 * day + 150;
    values[off_rhythm] = 60.0;
    let scores = scores(values);
    let at = |days: std::ops::Range<usize>| days.map(|d| scores[nightly(d)]).collect::<Vec<_>>();
    assert!(at(2..3).iter().all(|&s| s >= 1.0), "{:?}", at(2..3));
    assert!(at(3..12).iter().all(|&s| s < 1.0), "{:?}", at(3..12));
    assert!(scores[off_rhythm] >= 1.0, "{}", scores[off_rhythm]);
}

/// A level that moves by a little over one standard deviation and stays there: no value
/// alone is unusual (a residual of 1.3σ is common), but the recent mean's shift is, and
/// it detects within a few hours, where the same noise without the shift does not.
#[test]
fn a_shift_of_the_mean_is_detected_though_no_value_is_unusual() {
    let mut rng = StdRng::seed_from_u64(17);
    let moved = 4_000;
    let noise: Vec<f64> = (0..5_000).map(|_| 10.0 + normal(&mut rng)).collect();
    let shifted = noise
        .iter()
        .enumerate()
        .map(|(i, x)| x + if i >= moved { 1.3 } else { 0.0 });
    let first_detection = |scores: Vec<f64>| scores[moved..].iter().position(|&s| s >= 1.0);
    let with_shift = first_detection(scores(shifted));
    assert!(with_shift.is_some_and(|k| k <= 36), "{with_shift:?}");
    let without = first_detection(scores(noise.iter().copied()));
    assert!(without.is_none_or(|k| k > 36), "{without:?}");
}

/// A square daily cycle with noise (as NAB's `art_daily_*`): once learned, its steep
/// edges are no longer anomalous, and a day without its rise is.
#[test]
fn a_daily_cycle_is_learned_and_a_missing_rise_is_anomalous() {
    let mut rng = StdRng::seed_from_u64(5);
    let day = 288;
    let skipped = 10;
    let values: Vec<f64> = (0..14 * day)
        .map(|i| {
            let (d, phase) = (i / day, i % day);
            let high = (96..192).contains(&phase) && d != skipped;
            let level = if high { 80.0 } else { 20.0 };
            level + normal(&mut rng)
        })
        .collect();
    let scores = scores(values);
    // From day 5 to the skipped day: no detection at the edges, and no more elsewhere
    // than the noise's own surprises (see `a_score_means_the_same_on_every_series`).
    let learned = 5 * day..skipped * day;
    let near_edge = |i: usize| [96, 192].iter().any(|&edge| (i % day).abs_diff(edge) <= 3);
    let detections: Vec<usize> = learned.filter(|&i| scores[i] >= 1.0).collect();
    assert!(!detections.iter().any(|&i| near_edge(i)), "{detections:?}");
    assert!(detections.len() <= 5, "{detections:?}");
    let missing_rise = &scores[skipped * day + 96..skipped * day + 120];
    assert!(missing_rise.iter().any(|&s| s >= 1.0));
}

/// The first values have no history to be unusual against: even a wild one scores
/// below 1 (its tail probability is at least 0.1 / values seen).
#[test]
fn a_new_series_does_not_alarm_at_its_start() {
    let mut values = vec![1.0, 2.0, 1.5, 1.0, 2.5, 1.0, 2.0, 1.5, 1.0, 2.0];
    values.extend([1e9, 1.0, 2.0]);
    let scores = scores(values);
    assert!(
        scores.iter().all(|&s| (0.0..1.0).contains(&s)),
        "{scores:?}"
    );
}

/// A flat series scores 0 throughout; its first move, however small, is news (the
/// spread's floors are 0, and the score stays finite).
#[test]
fn a_flat_series_scores_zero_until_it_moves() {
    let mut values = vec![5.0; 1_000];
    values.push(5.001);
    let scores = scores(values);
    assert!(scores[..1_000].iter().all(|&s| s == 0.0));
    assert!(
        scores[1_000].is_finite() && scores[1_000] >= 1.0,
        "{}",
        scores[1_000]
    );
}

/// Offsets keep about 1/16 000 of the largest: a small one stored first survives the
/// unit's growth for a large one within that precision.
#[test]
fn season_offsets_keep_their_precision_as_they_grow() {
    let mut offsets = Offsets::new(4);
    assert!(offsets.get(0).is_nan());
    offsets.set(0, 1.0);
    offsets.set(1, -3.0e6);
    offsets.set(2, 0.0);
    assert!((offsets.get(0) - 1.0).abs() <= 3.0e6 / 16_000.0);
    assert!((offsets.get(1) + 3.0e6).abs() <= 3.0e6 / 16_000.0);
    assert_eq!(offsets.get(2), 0.0);
    assert!(offsets.get(3).is_nan());
    offsets.set(3, f64::INFINITY);
    assert!(offsets.get(3).is_nan());
}

#[test]
fn seasons_by_step() {
    assert_eq!(Season::for_step(15_000).buckets, 288);
    assert_eq!(Season::for_step(FIVE_MINUTES).buckets, 288);
    assert_eq!(Season::for_step(1_800_000).buckets, 48);
    assert_eq!(Season::for_step(7 * 3_600_000).buckets, 4);
    assert_eq!(Season::for_step(8 * 3_600_000).buckets, 0);
}
