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
use linfa_logistic::LogisticRegression;
use linfa_trees::{DecisionTree, TreeNode};
use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Which classifier to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
/// Each tree sees this share of the rows (drawn with replacement) and of the inputs.
const FOREST_BOOTSTRAP: f64 = 0.7;
const FOREST_INPUTS: f64 = 0.6;
const POSITIVE_WEIGHT: f32 = 1.0001;

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Classifier {
    /// `σ(w · (x − center) / scale + intercept)`.
    Logistic {
        center: Vec<f64>,
        scale: Vec<f64>,
        weights: Vec<f64>,
        intercept: f64,
    },
    /// The mean over the trees of the positive fraction of the leaf the input reaches.
    /// `center` is the mean training input, the reference of [`Classifier::effects`].
    Forest { center: Vec<f64>, trees: Vec<Tree> },
}

/// A decision tree as a node list; node 0 is the root.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// Go to `below` when `input[feature] < value`, else to `above`.
    Split {
        feature: usize,
        value: f64,
        below: usize,
        above: usize,
    },
    /// The fraction of the (balanced) training rows reaching this leaf that were
    /// positive; 0.5 for a leaf no row reached.
    Leaf { positive: f64 },
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
            Classifier::Forest { trees, .. } => {
                let sum: f64 = trees.iter().map(|t| t.leaf_of(input).1).sum();
                sum / trees.len().max(1) as f64
            }
        }
    }
}

impl Classifier {
    /// The mean input the classifier was fitted on (after balancing the classes).
    pub fn center(&self) -> &[f64] {
        match self {
            Classifier::Logistic { center, .. } | Classifier::Forest { center, .. } => center,
        }
    }

    /// How much each input moves the score: the score minus the score with that input
    /// set to its mean training value (occlusion), per input.
    pub fn effects(&self, input: &[f64]) -> Vec<f64> {
        let center = self.center();
        let score = self.score(input);
        let mut probe = input.to_vec();
        (0..input.len())
            .map(|i| {
                probe[i] = center[i];
                let without = self.score(&probe);
                probe[i] = input[i];
                score - without
            })
            .collect()
    }
}

impl Tree {
    /// The leaf `input` reaches: its index and positive fraction.
    fn leaf_of(&self, input: &[f64]) -> (usize, f64) {
        let mut at = 0;
        loop {
            match self.nodes[at] {
                Node::Leaf { positive } => return (at, positive),
                Node::Split {
                    feature,
                    value,
                    below,
                    above,
                } => at = if input[feature] < value { below } else { above },
            }
        }
    }

    /// Flattens a linfa tree whose inputs are the columns `features` of the full input,
    /// and sets each leaf's positive fraction from the rows `x`, `y`. linfa's own leaf
    /// label breaks ties between equally weighted classes in hash-map order, which
    /// differs from run to run; the fractions make the forest reproducible and its score
    /// finer than a vote.
    fn from_linfa(
        tree: &DecisionTree<f64, bool>,
        features: &[usize],
        x: &Array2<f64>,
        y: &[bool],
    ) -> Tree {
        fn walk(node: &TreeNode<f64, bool>, features: &[usize], nodes: &mut Vec<Node>) -> usize {
            let at = nodes.len();
            nodes.push(Node::Leaf { positive: 0.5 });
            if node.prediction().is_some() {
                return at;
            }
            let (feature, value, _) = node.split();
            let children = node.children();
            let mut child = |i: usize| match children[i] {
                Some(child) => walk(child, features, nodes),
                None => {
                    nodes.push(Node::Leaf { positive: 0.5 });
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
        let mut tree = Tree { nodes };
        let mut counts = vec![(0usize, 0usize); tree.nodes.len()];
        for (row, &label) in x.rows().into_iter().zip(y) {
            let (leaf, _) = tree.leaf_of(row.as_slice().expect("standard layout"));
            let count = &mut counts[leaf];
            *count = (count.0 + usize::from(label), count.1 + 1);
        }
        for (node, (positives, rows)) in tree.nodes.iter_mut().zip(counts) {
            if let Node::Leaf { positive } = node
                && rows > 0
            {
                *positive = positives as f64 / rows as f64;
            }
        }
        tree
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

/// Bagged decision trees (a random forest): each tree is fitted by linfa on a bootstrap
/// sample of the rows and a random subset of the inputs, both drawn from the seeded
/// generator. Positive rows weigh [`POSITIVE_WEIGHT`] rather than 1: linfa prunes
/// sibling leaves that predict the same class, and settles a tie between equally
/// weighted classes in hash-map order, which changes from run to run; with unequal
/// weights there is no tie, so a seed gives the same forest every time.
fn fit_forest(x: Array2<f64>, y: Vec<bool>, seed: u64) -> Result<Classifier, FitError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let rows = x.nrows();
    let sample = (rows as f64 * FOREST_BOOTSTRAP).ceil() as usize;
    let inputs = ((x.ncols() as f64 * FOREST_INPUTS).ceil() as usize).max(1);
    let mut trees = Vec::with_capacity(FOREST_TREES);
    for _ in 0..FOREST_TREES {
        let picked: Vec<usize> = (0..sample).map(|_| rng.gen_range(0..rows)).collect();
        let mut features = rand::seq::index::sample(&mut rng, x.ncols(), inputs).into_vec();
        features.sort_unstable();
        let records = x
            .select(ndarray::Axis(0), &picked)
            .select(ndarray::Axis(1), &features);
        let labels: Array1<bool> = picked.iter().map(|&i| y[i]).collect();
        let weights = labels.mapv(|positive| if positive { POSITIVE_WEIGHT } else { 1.0 });
        let tree = DecisionTree::params()
            .max_depth(Some(FOREST_MAX_DEPTH))
            .min_weight_leaf(FOREST_MIN_LEAF as f32)
            .fit(&Dataset::new(records, labels).with_weights(weights))?;
        trees.push(Tree::from_linfa(&tree, &features, &x, &y));
    }
    let center = x.mean_axis(ndarray::Axis(0)).expect("rows").to_vec();
    Ok(Classifier::Forest { center, trees })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two noisy, overlapping classes in three inputs.
    fn data() -> (Array2<f64>, Vec<bool>) {
        let mut rng = StdRng::seed_from_u64(7);
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for i in 0..400 {
            let positive = i % 5 == 0;
            let shift = if positive { 1.0 } else { 0.0 };
            for _ in 0..3 {
                values.push(shift + rng.gen_range(-1.5..1.5));
            }
            labels.push(positive);
        }
        (Array2::from_shape_vec((400, 3), values).unwrap(), labels)
    }

    #[test]
    fn effects_are_zero_at_the_center_and_name_the_inputs_that_matter() {
        let (x, y) = data();
        for kind in Kind::ALL {
            let classifier = Classifier::fit(kind, &x, &y, 3).unwrap();
            let center = classifier.center().to_vec();
            assert!(
                classifier.effects(&center).iter().all(|e| *e == 0.0),
                "{kind:?}"
            );
            // Every input shifts positives the same way: above the center, an input
            // pushes the score up.
            let above: Vec<f64> = center.iter().map(|c| c + 0.5).collect();
            let effects = classifier.effects(&above);
            assert!(effects.iter().any(|e| *e > 0.0), "{kind:?}: {effects:?}");
        }
    }

    #[test]
    fn both_kinds_rank_positives_higher_and_refit_identically() {
        let (x, y) = data();
        for kind in Kind::ALL {
            let first = Classifier::fit(kind, &x, &y, 3).unwrap();
            let again = Classifier::fit(kind, &x, &y, 3).unwrap();
            let mean = |label: bool| {
                let rows: Vec<f64> = (0..y.len())
                    .filter(|&i| y[i] == label)
                    .map(|i| first.score(x.row(i).as_slice().unwrap()))
                    .collect();
                rows.iter().sum::<f64>() / rows.len() as f64
            };
            assert!(mean(true) > mean(false) + 0.2, "{kind:?}");
            assert_eq!(
                serde_json::to_string(&first).unwrap(),
                serde_json::to_string(&again).unwrap(),
                "{kind:?} refits identically with the same seed"
            );
        }
    }
}
