//! Isotonic calibration: a score in, the probability that the label is true out.
//!
//! Fitted on held-out (score, label, weight) triples, never on the rows a classifier
//! learned from: the pool-adjacent-violators algorithm finds the non-decreasing step
//! function of the score closest to the labels in weighted least squares (Zadrozny and
//! Elkan, 2002; scikit-learn's `CalibratedClassifierCV(method="isotonic")`). Between the
//! steps the probability is interpolated linearly in the score's logit, and it is held
//! flat beyond the first and the last.
//!
//! Why not Platt scaling (a sigmoid of the logit): the first-passage probability is
//! overconfident in its middle (a raw 1e-4 is followed by the alert one time in ten)
//! and honest at its low end (a flat disk's 1e-36, one time in forty), a shape no line
//! in the logit can follow: its fit lifted the flat disk towards the middle's rate.
//!
//! Labels are Platt's smoothed targets (`(n₊ + 1)/(n₊ + 2)` for positives, `1/(n₋ + 2)`
//! for negatives), so that a step of the function seen only with one label does not read
//! 0 or 1. Weights (training chooses on a sample of entities, each standing for several)
//! count in the pooling and in the class sizes.
//!
//! Bounded: the function keeps at most [`MAX_KNOTS`] knots; adjacent steps of least
//! weight are pooled until it fits.

use serde::{Deserialize, Serialize};

/// A non-decreasing, piecewise-linear map from a score's logit to a probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Calibration {
    /// The knots' logits of the score, ascending.
    pub logits: Vec<f64>,
    /// The probability at each knot, non-decreasing.
    pub probabilities: Vec<f64>,
}

/// Knots the map keeps at most (each step of the function is one or two knots).
pub const MAX_KNOTS: usize = 256;

/// Scores are clipped to [EPSILON, 1 − EPSILON] before the logit: below one in a million,
/// a first-passage probability's differences are those of a distribution's far tail
/// (an idle disk's 1e-31 against 1e-36), not evidence, and one step holds them all.
const EPSILON: f64 = 1e-6;

fn logit(score: f64) -> f64 {
    let s = score.clamp(EPSILON, 1.0 - EPSILON);
    (s / (1.0 - s)).ln()
}

/// One step of the function: the scores it spans, its weight and its mean label.
#[derive(Debug, Clone, Copy)]
struct Block {
    low: f64,
    high: f64,
    weight: f64,
    mean: f64,
}

impl Block {
    fn pool(self, other: Block) -> Block {
        let weight = self.weight + other.weight;
        Block {
            low: self.low.min(other.low),
            high: self.high.max(other.high),
            weight,
            mean: (self.mean * self.weight + other.mean * other.weight) / weight,
        }
    }
}

impl Calibration {
    /// The probability for a score.
    pub fn probability(&self, score: f64) -> f64 {
        let x = logit(score);
        let (xs, ps) = (&self.logits, &self.probabilities);
        if xs.is_empty() {
            return f64::NAN;
        }
        let above = xs.partition_point(|&k| k <= x);
        match above {
            0 => ps[0],
            n if n == xs.len() => ps[n - 1],
            n => {
                let (x0, x1, p0, p1) = (xs[n - 1], xs[n], ps[n - 1], ps[n]);
                p0 + (p1 - p0) * (x - x0) / (x1 - x0)
            }
        }
    }

    /// Fits the map to (score, label, weight) triples (with none, every probability is
    /// unknown: NaN).
    pub fn fit(scored: &[(f64, bool, f64)]) -> Calibration {
        let mut class_weights = [0.0, 0.0];
        for &(_, label, weight) in scored {
            class_weights[usize::from(label)] += weight;
        }
        let [negative, positive] = class_weights;
        let targets = [1.0 / (negative + 2.0), (positive + 1.0) / (positive + 2.0)];
        let mut points: Vec<(f64, f64, f64)> = scored
            .iter()
            .filter(|s| s.2 > 0.0)
            .map(|&(score, label, weight)| (logit(score), targets[usize::from(label)], weight))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Equal scores are one point.
        let mut tied: Vec<Block> = Vec::new();
        for (x, target, weight) in points {
            let point = Block {
                low: x,
                high: x,
                weight,
                mean: target,
            };
            match tied.last_mut() {
                Some(last) if last.high == x => *last = last.pool(point),
                _ => tied.push(point),
            }
        }
        // A step whose mean is not above the one before it is pooled with it.
        let mut blocks: Vec<Block> = Vec::new();
        for mut block in tied {
            while blocks.last().is_some_and(|last| last.mean >= block.mean) {
                block = blocks.pop().unwrap().pool(block);
            }
            blocks.push(block);
        }
        while 2 * blocks.len() > MAX_KNOTS {
            let lightest = (0..blocks.len() - 1)
                .min_by(|&i, &j| {
                    let pair = |k: usize| blocks[k].weight + blocks[k + 1].weight;
                    pair(i).total_cmp(&pair(j))
                })
                .expect("more than one block");
            let pooled = blocks[lightest].pool(blocks[lightest + 1]);
            blocks.splice(lightest..lightest + 2, [pooled]);
        }
        let mut calibration = Calibration {
            logits: Vec::new(),
            probabilities: Vec::new(),
        };
        for block in blocks {
            for x in [block.low, block.high] {
                if calibration.logits.last() != Some(&x) {
                    calibration.logits.push(x);
                    calibration.probabilities.push(block.mean);
                }
            }
        }
        calibration
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibrated_probabilities_match_observed_frequencies() {
        // Scores of 0.9 are positive one time in ten, scores of 0.1 one time in a hundred.
        let mut scored = Vec::new();
        for i in 0..1000 {
            scored.push((0.9, i % 10 == 0, 1.0));
            scored.push((0.1, i % 100 == 0, 1.0));
        }
        let calibration = Calibration::fit(&scored);
        let high = calibration.probability(0.9);
        let low = calibration.probability(0.1);
        assert!((high - 0.1).abs() < 0.01, "{high}");
        assert!((low - 0.01).abs() < 0.005, "{low}");
        assert!(calibration.probability(0.5) > low && calibration.probability(0.5) < high);
        assert_eq!(
            calibration.probability(0.01),
            low,
            "flat below the first knot"
        );
        assert_eq!(calibration.probability(0.99), high, "flat above the last");
    }

    #[test]
    fn an_overconfident_middle_does_not_lift_the_honest_low_end() {
        // Scores of 1e-36 (a flat disk) are positive one time in fifty; scores of 1e-4
        // one time in ten; 0.5 one time in two. A sigmoid of the logit would put the
        // first near the second; the isotonic map keeps each at its own rate.
        let mut scored = Vec::new();
        for i in 0..5000 {
            scored.push((1e-36, i % 50 == 0, 1.0));
            scored.push((1e-4, i % 10 == 0, 1.0));
            scored.push((0.5, i % 2 == 0, 1.0));
        }
        let calibration = Calibration::fit(&scored);
        let rates = [(1e-36, 0.02), (1e-4, 0.1), (0.5, 0.5)];
        for (score, rate) in rates {
            let p = calibration.probability(score);
            assert!((p - rate).abs() < 0.002, "{score}: {p} vs {rate}");
        }
    }

    #[test]
    fn the_map_never_decreases_and_keeps_at_most_its_knots() {
        // Noisy labels over 50,000 distinct scores whose rate rises with the score.
        let scored: Vec<(f64, bool, f64)> = (0..50_000u64)
            .map(|i| {
                let score = i as f64 / 50_000.0;
                let noise = (i.wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0;
                (score, noise < score * score, 1.0)
            })
            .collect();
        let calibration = Calibration::fit(&scored);
        assert!(calibration.logits.len() <= MAX_KNOTS);
        assert!(calibration.logits.windows(2).all(|w| w[0] < w[1]));
        assert!(calibration.probabilities.windows(2).all(|w| w[0] <= w[1]));
        for score in [0.1, 0.5, 0.9] {
            let p = calibration.probability(score);
            assert!((p - score * score).abs() < 0.05, "{score}: {p}");
        }
    }

    #[test]
    fn a_triple_weighing_k_counts_as_k_copies_of_it() {
        // Every third triple weighs 4; the same data with those triples written four times.
        let (mut weighted, mut copied) = (Vec::new(), Vec::new());
        for i in 0..3_000usize {
            let score = (i % 89) as f64 / 100.0 + 0.05;
            let label = score > 0.6 && i % 7 == 0;
            let weight = if i % 3 == 0 { 4 } else { 1 };
            weighted.push((score, label, weight as f64));
            copied.extend(std::iter::repeat_n((score, label, 1.0), weight));
        }
        let weighted = Calibration::fit(&weighted);
        let copied = Calibration::fit(&copied);
        for score in [0.05, 0.3, 0.61, 0.7, 0.93] {
            let (p, q) = (weighted.probability(score), copied.probability(score));
            assert!((p - q).abs() < 1e-9, "{score}: {p} vs {q}");
        }
    }

    #[test]
    fn without_triples_every_probability_is_unknown() {
        assert!(Calibration::fit(&[]).probability(0.5).is_nan());
    }
}
