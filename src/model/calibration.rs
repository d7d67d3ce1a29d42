//! Platt scaling: a classifier's scores in, probabilities out.
//!
//! Fitted on held-out scores (never on the rows the classifier learned from), because a
//! classifier fitted to oversampled rows scores far too high for a rare event:
//! `p = σ(a · logit(score) + b)`, with `a` and `b` minimising the log-loss of Platt's
//! smoothed targets (`(n₊ + 1)/(n₊ + 2)` for positives, `1/(n₋ + 2)` for negatives), by
//! Newton's method with backtracking.
//!
//! Pairs may carry weights (training chooses on a sample of entities, each standing for
//! several): the log-loss and the class sizes in the targets are weighted.
//!
//! Bounded: a class of more than `KEPT_PER_CLASS` (200,000) pairs (a week of steps over an
//! estate is tens of millions) is fitted on every k-th of its pairs, each weighing k
//! times its own weight, so that the weighted log-loss estimates the full one; the
//! targets still count the whole class.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Calibration {
    pub a: f64,
    pub b: f64,
}

/// Pairs of each class the fit reads, at most (the two lab runs give about 5,000).
const KEPT_PER_CLASS: usize = 200_000;

/// Scores are clipped to [EPSILON, 1 − EPSILON] before the logit.
const EPSILON: f64 = 1e-6;

fn logit(score: f64) -> f64 {
    let s = score.clamp(EPSILON, 1.0 - EPSILON);
    (s / (1.0 - s)).ln()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Calibration {
    /// The probability for a score.
    pub fn probability(&self, score: f64) -> f64 {
        sigmoid(self.a * logit(score) + self.b)
    }

    /// Fits the scaling to (score, label, weight) triples.
    pub fn fit(scored: &[(f64, bool, f64)]) -> Calibration {
        let positives = scored.iter().filter(|s| s.1).count();
        let negatives = scored.len() - positives;
        let mut class_weights = [0.0, 0.0];
        for &(_, label, weight) in scored {
            class_weights[usize::from(label)] += weight;
        }
        let [weight_negative, weight_positive] = class_weights;
        let high = (weight_positive + 1.0) / (weight_positive + 2.0);
        let low = 1.0 / (weight_negative + 2.0);
        // Every `stride`-th pair of each class, weighing `stride`.
        let stride = |count: usize| count.div_ceil(KEPT_PER_CLASS).max(1);
        let strides = [stride(negatives), stride(positives)];
        let mut seen = [0usize; 2];
        let mut xs = Vec::new();
        let mut ts = Vec::new();
        let mut ws = Vec::new();
        for &(score, label, weight) in scored {
            let class = usize::from(label);
            seen[class] += 1;
            if (seen[class] - 1) % strides[class] == 0 {
                xs.push(logit(score));
                ts.push(if label { high } else { low });
                ws.push(strides[class] as f64 * weight);
            }
        }
        let loss = |a: f64, b: f64| -> f64 {
            xs.iter()
                .zip(&ts)
                .zip(&ws)
                .map(|((&x, &t), &w)| {
                    let z = a * x + b;
                    // log(1 + e^z) − t·z, computed without overflow.
                    w * (z.max(0.0) + (-z.abs()).exp().ln_1p() - t * z)
                })
                .sum()
        };
        let (mut a, mut b) = (1.0, 0.0);
        let mut current = loss(a, b);
        for _ in 0..100 {
            // Gradient and Hessian of the log-loss in (a, b), with a little ridge.
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
            for ((&x, &t), &weight) in xs.iter().zip(&ts).zip(&ws) {
                let p = sigmoid(a * x + b);
                let w = weight * p * (1.0 - p);
                ga += weight * (p - t) * x;
                gb += weight * (p - t);
                haa += w * x * x;
                hab += w * x;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-300 {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            // Backtracking: halve the Newton step until the loss does not increase.
            let mut scale = 1.0;
            while scale > 1e-6 && loss(a - scale * da, b - scale * db) > current {
                scale *= 0.5;
            }
            a -= scale * da;
            b -= scale * db;
            current = loss(a, b);
            if (scale * da).abs() < 1e-10 && (scale * db).abs() < 1e-10 {
                break;
            }
        }
        Calibration { a, b }
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
    }

    #[test]
    fn a_class_too_large_to_read_whole_is_sampled_and_weighted_to_the_same_fit() {
        // 150,000 pairs over a spread of scores, positive one time in fifty at the
        // highest scores: read whole. The same pairs fourteen times over (2.1 M, ten
        // times what is read of the negatives): sampled and weighted.
        let scored: Vec<(f64, bool, f64)> = (0..150_000usize)
            .map(|i| {
                let score = (i % 97) as f64 / 100.0 + 0.01;
                (score, score > 0.9 && i % 50 == 0, 1.0)
            })
            .collect();
        let whole = Calibration::fit(&scored);
        let sampled = Calibration::fit(&scored.repeat(14));
        for score in [0.05, 0.5, 0.95] {
            let (p, q) = (sampled.probability(score), whole.probability(score));
            assert!((p - q).abs() < 0.05 * q + 1e-5, "{score}: {p} vs {q}");
        }
    }

    #[test]
    fn a_pair_weighing_k_counts_as_k_copies_of_it() {
        // Every third pair weighs 4; the same data with those pairs written four times.
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
        assert!(
            (weighted.a - copied.a).abs() < 1e-6,
            "{weighted:?} vs {copied:?}"
        );
        assert!(
            (weighted.b - copied.b).abs() < 1e-6,
            "{weighted:?} vs {copied:?}"
        );
    }
}
