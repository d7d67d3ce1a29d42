//! Folds by entity: neighbouring steps of one entity never fall on both sides of a split.
//!
//! In: per entity, how many onsets it had; the number of folds. Out: the fold of each
//! entity. Entities are dealt round-robin in order of onsets (most first, then by
//! position), so that the entities with episodes spread over the folds.

/// The fold (0..k) of each entity.
pub fn by_entity(onsets: &[usize], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..onsets.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(onsets[i]), i));
    let mut fold = vec![0; onsets.len()];
    for (rank, &entity) in order.iter().enumerate() {
        fold[entity] = rank % k.max(1);
    }
    fold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_with_episodes_spread_over_the_folds() {
        let folds = by_entity(&[0, 2, 0, 1, 1, 0, 1, 0], 4);
        // Ranked: 1 (2 onsets), 3, 4, 6 (1 each), then 0, 2, 5, 7.
        assert_eq!(folds, vec![0, 0, 1, 1, 2, 2, 3, 3]);
        for fold in 0..4 {
            assert_eq!(folds.iter().filter(|&&f| f == fold).count(), 2);
        }
    }
}
