//! A bounded, uniform sample of a stream: how training keeps the examples a classifier
//! learns from when an estate gives more than it can hold.
//!
//! In: items one by one, in a fixed order, each with its place in an order of the
//! caller's (several reservoirs may share one). Out: at most `capacity` of them, each
//! item equally likely to be kept (Vitter's algorithm R, seeded), with their places. A
//! stream no longer than the capacity is kept whole.
//!
//! Training samples each class of examples on its own. The classifiers balance the
//! classes before fitting (see `model::classifier`), so what they learn depends on
//! each class's own distribution of inputs, which a uniform sample of that class
//! estimates without weights.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub struct Reservoir<T> {
    capacity: usize,
    seen: u64,
    /// (place in the stream, item).
    kept: Vec<(u64, T)>,
    rng: StdRng,
}

impl<T> Reservoir<T> {
    pub fn new(capacity: usize, seed: u64) -> Reservoir<T> {
        Reservoir {
            capacity,
            seen: 0,
            kept: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn offer(&mut self, place: u64, item: T) {
        self.seen += 1;
        if self.kept.len() < self.capacity {
            self.kept.push((place, item));
            return;
        }
        let slot = self.rng.gen_range(0..self.seen);
        if let Some(kept) = self.kept.get_mut(slot as usize) {
            *kept = (place, item);
        }
    }

    /// How many items were offered.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The kept items with their places, in the order of their places.
    pub fn into_sorted(mut self) -> Vec<(u64, T)> {
        self.kept.sort_unstable_by_key(|&(place, _)| place);
        self.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_stream_is_kept_whole() {
        let mut reservoir = Reservoir::new(10, 1);
        (0..7).for_each(|i| reservoir.offer(i, i * 3));
        let kept: Vec<u64> = reservoir
            .into_sorted()
            .into_iter()
            .map(|(_, i)| i)
            .collect();
        assert_eq!(kept, [0, 3, 6, 9, 12, 15, 18]);
    }

    #[test]
    fn a_long_stream_is_sampled_uniformly() {
        // 200 draws of 100 from 1,000: each item is kept 20 times on average; the first
        // and the last tenth of the stream each get about a tenth of the places.
        let mut first_tenth = 0;
        let mut last_tenth = 0;
        for seed in 0..200 {
            let mut reservoir = Reservoir::new(100, seed);
            (0..1000).for_each(|i| reservoir.offer(i, i));
            assert_eq!(reservoir.seen(), 1000);
            let kept = reservoir.into_sorted();
            assert_eq!(kept.len(), 100);
            assert!(kept.windows(2).all(|w| w[0].0 < w[1].0), "in stream order");
            first_tenth += kept.iter().filter(|&&(_, i)| i < 100).count();
            last_tenth += kept.iter().filter(|&&(_, i)| i >= 900).count();
        }
        // Expected 2,000 each; a binomial's spread is about 42.
        for count in [first_tenth, last_tenth] {
            assert!((1800..2200).contains(&count), "{first_tenth} {last_tenth}");
        }
    }
}
