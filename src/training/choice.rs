//! The entities a target's model is chosen on: a bounded sample of the training
//! entities, stratified by how close each came to the threshold, each entity standing
//! for those it was drawn for.
//!
//! In: the target's training material and the training trajectories. Out: a [`Choice`]:
//!
//! - every entity with an onset, whole (every positive, and the steps near each
//!   episode), weighing 1;
//! - the quiet entities (no onset), ordered by their closest approach to the threshold:
//!   the [`QUIET_WHOLE`] closest whole, weighing 1, then strata of doubling size from
//!   each of which [`QUIET_DRAWN`] are drawn uniformly (seeded), each weighing the
//!   stratum's size over the number drawn.
//!
//! An estate of a thousand filesystems is mostly quiet ones far from any threshold: they
//! add steps to read but no decision to weigh, and a few of them stand for the rest.
//! The near misses, where false tickets come from, are kept or drawn densely. Quiet
//! entities give only negative examples and false tickets, so their weights fall there:
//! on the policy objective, the false-ticket budget, calibration and average precision.
//! With no more than [`QUIET_WHOLE`] quiet entities (the lab runs) every entity is kept
//! and every weight is 1: the choice is the same as over every entity.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::index;

use super::data::TargetData;

/// The quiet entities closest to the threshold, kept whole.
pub const QUIET_WHOLE: usize = 64;
/// The quiet entities drawn from each farther stratum (each twice the size of the one
/// before it).
pub const QUIET_DRAWN: usize = 64;

/// The training entities a model is chosen on, with their weights.
#[derive(Debug, Clone)]
pub struct Choice {
    /// Trajectory indices, ascending.
    pub entities: Vec<usize>,
    /// Per trajectory index: how many training entities it stands for (1 where not
    /// drawn from a stratum).
    weights: Vec<f64>,
}

impl Choice {
    /// The choice among the trajectories `train` of `data`, drawing with `seed`.
    pub fn of(data: &TargetData, train: &[usize], seed: u64) -> Choice {
        let (with_onsets, quiet): (Vec<usize>, Vec<usize>) = train
            .iter()
            .partition(|&&i| data.onsets_of(&data.trajectories[i]) > 0);
        let mut by_approach: Vec<(f64, usize)> = quiet
            .into_iter()
            .map(|i| (closest_approach(data, i), i))
            .collect();
        by_approach.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let quiet: Vec<usize> = by_approach.into_iter().map(|(_, i)| i).collect();
        Choice::stratified(data.trajectories.len(), with_onsets, &quiet, seed)
    }

    /// Every entity of `with_onsets`, and the sample of `quiet` (closest to the
    /// threshold first) described in the module doc, among `trajectories` in all.
    pub(super) fn stratified(
        trajectories: usize,
        mut entities: Vec<usize>,
        quiet: &[usize],
        seed: u64,
    ) -> Choice {
        let mut weights = vec![1.0; trajectories];
        let whole = quiet.len().min(QUIET_WHOLE);
        entities.extend_from_slice(&quiet[..whole]);
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut from, mut size) = (whole, 2 * QUIET_DRAWN);
        while from < quiet.len() {
            let stratum = &quiet[from..(from + size).min(quiet.len())];
            let drawn = stratum.len().min(QUIET_DRAWN);
            let weight = stratum.len() as f64 / drawn as f64;
            for k in index::sample(&mut rng, stratum.len(), drawn) {
                entities.push(stratum[k]);
                weights[stratum[k]] = weight;
            }
            from += stratum.len();
            size *= 2;
        }
        entities.sort_unstable();
        Choice { entities, weights }
    }

    /// How many training entities trajectory `i` stands for.
    pub fn weight(&self, i: usize) -> f64 {
        self.weights[i]
    }
}

/// How close trajectory `i`'s signal came to the threshold: the least distance on the
/// safe side (negative once across it); infinite without a level.
fn closest_approach(data: &TargetData, i: usize) -> f64 {
    let side = data.scorer.inputs.side();
    let threshold = data.scorer.target.threshold;
    let levels = data.trajectories[i].rows.column(data.scorer.level_column());
    levels
        .iter()
        .map(|level| side * (level - threshold))
        .filter(|margin| !margin.is_nan())
        .fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_quiet_entities_are_all_kept_and_weigh_one() {
        let quiet: Vec<usize> = (10..10 + QUIET_WHOLE).rev().collect();
        let choice = Choice::stratified(100, vec![3, 5], &quiet, 7);
        let mut expected: Vec<usize> = [3, 5].into_iter().chain(quiet).collect();
        expected.sort_unstable();
        assert_eq!(choice.entities, expected);
        assert!((0..100).all(|i| choice.weight(i) == 1.0));
    }

    #[test]
    fn many_quiet_entities_are_drawn_by_strata_standing_for_them_all() {
        // 2,000 entities: 100 with onsets, 1,900 quiet, closest first.
        let with_onsets: Vec<usize> = (0..100).collect();
        let quiet: Vec<usize> = (100..2000).rev().collect();
        let choice = Choice::stratified(2000, with_onsets, &quiet, 7);
        // Every entity with an onset and the closest quiet ones, whole.
        for &i in (0..100)
            .chain(quiet[..QUIET_WHOLE].iter().copied())
            .collect::<Vec<_>>()
            .iter()
        {
            assert!(choice.entities.binary_search(&i).is_ok(), "{i} kept");
            assert_eq!(choice.weight(i), 1.0);
        }
        // Strata of 128, 256, 512 and the last 940: 64 drawn from each.
        assert_eq!(choice.entities.len(), 100 + QUIET_WHOLE + 4 * QUIET_DRAWN);
        let stood_for: f64 = choice
            .entities
            .iter()
            .filter(|&&i| i >= 100)
            .map(|&i| choice.weight(i))
            .sum();
        assert!((stood_for - 1900.0).abs() < 1e-9, "{stood_for}");
        let farthest = quiet[quiet.len() - 940..].iter();
        let drawn: Vec<&usize> = farthest.filter(|i| choice.entities.contains(i)).collect();
        assert_eq!(drawn.len(), QUIET_DRAWN);
        assert!(drawn.iter().all(|&&i| choice.weight(i) == 940.0 / 64.0));
        // The same seed draws the same entities; another seed, others.
        assert_eq!(
            Choice::stratified(2000, (0..100).collect(), &quiet, 7).entities,
            choice.entities
        );
        assert_ne!(
            Choice::stratified(2000, (0..100).collect(), &quiet, 8).entities,
            choice.entities
        );
    }
}
