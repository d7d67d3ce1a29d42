//! Platt scaling: a classifier's scores in, probabilities out.
//!
//! Fitted on held-out scores (never on the rows the classifier learned from), because a
//! classifier fitted to oversampled rows scores far too high for a rare event:
//! `p = σ(a · logit(score) + b)`, with `a` and `b` minimising the log-loss of Platt's
//! smoothed targets (`(n₊ + 1)/(n₊ + 2)` for positives, `1/(n₋ + 2)` for negatives), by
//! Newton's method with backtracking.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Calibration {
    pub a: f64,
    pub b: f64,
}

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

    /// Fits the scaling to (score, label) pairs.
    pub fn fit(scores: &[f64], labels: &[bool]) -> Calibration {
        let positives = labels.iter().filter(|&&l| l).count() as f64;
        let negatives = labels.len() as f64 - positives;
        let high = (positives + 1.0) / (positives + 2.0);
        let low = 1.0 / (negatives + 2.0);
        let xs: Vec<f64> = scores.iter().map(|&s| logit(s)).collect();
        let ts: Vec<f64> = labels.iter().map(|&l| if l { high } else { low }).collect();
        let loss = |a: f64, b: f64| -> f64 {
            xs.iter()
                .zip(&ts)
                .map(|(&x, &t)| {
                    let z = a * x + b;
                    // log(1 + e^z) − t·z, computed without overflow.
                    z.max(0.0) + (-z.abs()).exp().ln_1p() - t * z
                })
                .sum()
        };
        let (mut a, mut b) = (1.0, 0.0);
        let mut current = loss(a, b);
        for _ in 0..100 {
            // Gradient and Hessian of the log-loss in (a, b), with a little ridge.
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
            for (&x, &t) in xs.iter().zip(&ts) {
                let p = sigmoid(a * x + b);
                let w = p * (1.0 - p);
                ga += (p - t) * x;
                gb += p - t;
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
        let mut scores = Vec::new();
        let mut labels = Vec::new();
        for i in 0..1000 {
            scores.push(0.9);
            labels.push(i % 10 == 0);
            scores.push(0.1);
            labels.push(i % 100 == 0);
        }
        let calibration = Calibration::fit(&scores, &labels);
        let high = calibration.probability(0.9);
        let low = calibration.probability(0.1);
        assert!((high - 0.1).abs() < 0.01, "{high}");
        assert!((low - 0.01).abs() < 0.005, "{low}");
        assert!(calibration.probability(0.5) > low && calibration.probability(0.5) < high);
    }
}
