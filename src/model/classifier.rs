//! The classifiers a target's model can be: a logistic regression or a random forest,
//! both fitted with linfa, both kept in a plain form that the model artifact stores and
//! that scores one input vector without linfa.
//!
//! In: input rows (see [`Inputs`](super::Inputs)) with onset labels, a kind and a seed.
//! Out: a [`Classifier`] whose [`score`](Classifier::score) is in [0, 1], higher meaning
//! more likely positive. Scores are not probabilities until calibrated
//! ([`Calibration`](super::Calibration)): positives are oversampled to balance the
//! classes before fitting, because onsets are rare.

use linfa::prelude::*;
use linfa_ensemble::EnsembleLearnerParams;
use linfa_logistic::LogisticRegression;
use linfa_trees::{DecisionTree, TreeNode};
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// Which classifier to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Logistic,
    Forest,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Logistic, Kind::Forest];
}

/// L2 penalty of the logistic regression (on standardised inputs).
const LOGISTIC_ALPHA: f64 = 0.1;
const FOREST_TREES: usize = 60;
const FOREST_MAX_DEPTH: usize = 6;
const FOREST_MIN_LEAF: usize = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Classifier {
    /// `σ(w · (x − center) / scale + intercept)`.
    Logistic {
        center: Vec<f64>,
        scale: Vec<f64>,
        weights: Vec<f64>,
        intercept: f64,
    },
    /// The fraction of trees that vote positive.
    Forest { trees: Vec<Tree> },
}

/// A decision tree as a node list; node 0 is the root.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// Go to `below` when `input[feature] < value`, else to `above`.
    Split {
        feature: usize,
        value: f64,
        below: usize,
        above: usize,
    },
    Leaf {
        positive: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("the training data has no {0} example")]
    OneClass(&'static str),
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
    #[error(transparent)]
    Logistic(#[from] linfa_logistic::error::Error),
}

impl Classifier {
    /// Fits `kind` to the rows of `x` (one input vector per row) and their labels.
    pub fn fit(kind: Kind, x: &Array2<f64>, y: &[bool], seed: u64) -> Result<Classifier, FitError> {
        let (x, y) = balanced(x, y, seed)?;
        match kind {
            Kind::Logistic => fit_logistic(&x, y),
            Kind::Forest => fit_forest(x, y, seed),
        }
    }

    /// The score of one input vector, in [0, 1].
    pub fn score(&self, input: &[f64]) -> f64 {
        match self {
            Classifier::Logistic {
                center,
                scale,
                weights,
                intercept,
            } => {
                let z: f64 = input
                    .iter()
                    .zip(center)
                    .zip(scale)
                    .zip(weights)
                    .map(|(((x, c), s), w)| w * (x - c) / s)
                    .sum();
                1.0 / (1.0 + (-(z + intercept)).exp())
            }
            Classifier::Forest { trees } => {
                let votes = trees.iter().filter(|t| t.votes_positive(input)).count();
                votes as f64 / trees.len().max(1) as f64
            }
        }
    }
}

impl Tree {
    fn votes_positive(&self, input: &[f64]) -> bool {
        let mut at = 0;
        loop {
            match self.nodes[at] {
                Node::Leaf { positive } => return positive,
                Node::Split {
                    feature,
                    value,
                    below,
                    above,
                } => at = if input[feature] < value { below } else { above },
            }
        }
    }

    /// Flattens a linfa tree whose inputs are the columns `features` of the full input.
    fn from_linfa(tree: &DecisionTree<f64, bool>, features: &[usize]) -> Tree {
        fn walk(node: &TreeNode<f64, bool>, features: &[usize], nodes: &mut Vec<Node>) -> usize {
            let at = nodes.len();
            if let Some(positive) = node.prediction() {
                nodes.push(Node::Leaf { positive });
                return at;
            }
            nodes.push(Node::Leaf { positive: false });
            let (feature, value, _) = node.split();
            let children = node.children();
            let mut child = |i: usize| match children[i] {
                Some(child) => walk(child, features, nodes),
                None => {
                    nodes.push(Node::Leaf { positive: false });
                    nodes.len() - 1
                }
            };
            let below = child(0);
            let above = child(1);
            nodes[at] = Node::Split {
                feature: features[feature],
                value,
                below,
                above,
            };
            at
        }
        let mut nodes = Vec::new();
        walk(tree.root_node(), features, &mut nodes);
        Tree { nodes }
    }
}

/// The rows with the positives repeated (in a seeded order) until the classes are about
/// equal in number.
fn balanced(x: &Array2<f64>, y: &[bool], seed: u64) -> Result<(Array2<f64>, Vec<bool>), FitError> {
    let positives: Vec<usize> = (0..y.len()).filter(|&i| y[i]).collect();
    let negatives = y.len() - positives.len();
    if positives.is_empty() {
        return Err(FitError::OneClass("positive"));
    }
    if negatives == 0 {
        return Err(FitError::OneClass("negative"));
    }
    let mut rows: Vec<usize> = (0..y.len()).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let extra = negatives.saturating_sub(positives.len());
    let mut pool = positives.clone();
    while rows.len() < y.len() + extra {
        pool.shuffle(&mut rng);
        let room = y.len() + extra - rows.len();
        rows.extend(pool.iter().take(room));
    }
    let x = x.select(ndarray::Axis(0), &rows);
    let y = rows.iter().map(|&i| y[i]).collect();
    Ok((x, y))
}

fn fit_logistic(x: &Array2<f64>, y: Vec<bool>) -> Result<Classifier, FitError> {
    let center = x.mean_axis(ndarray::Axis(0)).expect("rows");
    let scale = x
        .std_axis(ndarray::Axis(0), 0.0)
        .mapv(|s| if s > 1e-12 { s } else { 1.0 });
    let standardised = (x - &center) / &scale;
    let fitted = LogisticRegression::default()
        .alpha(LOGISTIC_ALPHA)
        .max_iterations(300)
        .fit(&Dataset::new(standardised, Array1::from(y)))?;
    // linfa's positive class is whichever label it saw more of; make it `true`.
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    Ok(Classifier::Logistic {
        center: center.to_vec(),
        scale: scale.to_vec(),
        weights: fitted.params().iter().map(|w| sign * w).collect(),
        intercept: sign * fitted.intercept(),
    })
}

fn fit_forest(x: Array2<f64>, y: Vec<bool>, seed: u64) -> Result<Classifier, FitError> {
    let rng = StdRng::seed_from_u64(seed);
    let forest = EnsembleLearnerParams::new_fixed_rng(
        DecisionTree::params()
            .max_depth(Some(FOREST_MAX_DEPTH))
            .min_weight_leaf(FOREST_MIN_LEAF as f32),
        rng,
    )
    .ensemble_size(FOREST_TREES)
    .bootstrap_proportion(0.7)
    .feature_proportion(0.6)
    .fit(&Dataset::new(x, Array1::from(y)))?;
    let trees = forest
        .models
        .iter()
        .zip(&forest.model_features)
        .map(|(tree, features)| Tree::from_linfa(tree, features))
        .collect();
    Ok(Classifier::Forest { trees })
}
