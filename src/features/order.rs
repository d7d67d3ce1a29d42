//! The anomaly window's values in order, for its median, median absolute deviation
//! (MAD), min and max.
//!
//! A sorted buffer rather than two heaps or a tree: it holds ring positions (`u16`, two
//! bytes per step, against eight for a value), an insertion or removal is a binary search
//! and one `memmove` of at most a few hundred bytes, and order statistics are then direct
//! reads. The MAD is the median of `|v − median|`; the deviations of the values below the
//! median, read from the median outwards, are sorted, and so are those above, so the MAD
//! is a selection from two sorted sequences in O(log n), with no copy. MAD rather than
//! IQR: it is the spread the robust z-score is defined with.
//!
//! Equal values are kept oldest first. The value leaving the window is the oldest of all,
//! so it is the first of its equals and a binary search finds its exact position.

#[derive(Debug, Clone)]
pub(super) struct Order {
    /// Ring positions, by value, equal values oldest first.
    slots: Vec<u16>,
}

impl Order {
    pub fn new(steps: usize) -> Order {
        Order {
            slots: Vec::with_capacity(steps),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Adds the value at `position`, the newest of the window.
    #[inline]
    pub fn insert(&mut self, ring: &[f64], position: usize) {
        let v = ring[position];
        let at = self.slots.partition_point(|&p| ring[usize::from(p)] <= v);
        self.slots.insert(at, position as u16);
    }

    /// Removes the value at `position`, the oldest of the window.
    #[inline]
    pub fn remove(&mut self, ring: &[f64], position: usize) {
        let v = ring[position];
        let at = self.slots.partition_point(|&p| ring[usize::from(p)] < v);
        debug_assert_eq!(self.slots.get(at).copied(), Some(position as u16));
        if at < self.slots.len() {
            self.slots.remove(at);
        }
    }

    pub fn clear(&mut self) {
        self.slots.clear();
    }

    /// The `i`-th smallest value.
    #[inline]
    fn value(&self, ring: &[f64], i: usize) -> f64 {
        ring[usize::from(self.slots[i])]
    }

    /// (min, max); NaN when empty.
    #[inline]
    pub fn extremes(&self, ring: &[f64]) -> (f64, f64) {
        match (self.slots.first(), self.slots.last()) {
            (Some(&lo), Some(&hi)) => (ring[usize::from(lo)], ring[usize::from(hi)]),
            _ => (f64::NAN, f64::NAN),
        }
    }

    /// The median: the middle value, or the midpoint of the two middle values; NaN when
    /// empty.
    pub fn median(&self, ring: &[f64]) -> f64 {
        let n = self.slots.len();
        match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => self.value(ring, n / 2),
            _ => midpoint(self.value(ring, n / 2 - 1), self.value(ring, n / 2)),
        }
    }

    /// The median of `|v − median|` over the window; NaN when empty.
    pub fn mad(&self, ring: &[f64], median: f64) -> f64 {
        let n = self.slots.len();
        if n == 0 {
            return f64::NAN;
        }
        // Values [0, split) are at or below the median, [split, n) at or above.
        let split = n.div_ceil(2);
        let below = |i: usize| median - self.value(ring, split - 1 - i);
        let above = |j: usize| self.value(ring, split + j) - median;
        let kth = |k: usize| kth_of_two(split, n - split, k, below, above);
        if n % 2 == 1 {
            kth(n / 2)
        } else {
            midpoint(kth(n / 2 - 1), kth(n / 2))
        }
    }

    /// The mean of `|v − median|` over the window; NaN when empty.
    pub fn mean_absolute_deviation(&self, ring: &[f64], median: f64) -> f64 {
        let sum: f64 = self
            .slots
            .iter()
            .map(|&p| (ring[usize::from(p)] - median).abs())
            .sum();
        sum / self.slots.len() as f64
    }

    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<u16>()
    }
}

/// The midpoint of `a <= b`, without overflow.
pub(super) fn midpoint(a: f64, b: f64) -> f64 {
    a * 0.5 + b * 0.5
}

/// The `k`-th smallest (from 0) of the union of two ascending sequences of lengths `na`
/// and `nb`, read through `a` and `b`; `k < na + nb`.
fn kth_of_two(
    na: usize,
    nb: usize,
    k: usize,
    a: impl Fn(usize) -> f64,
    b: impl Fn(usize) -> f64,
) -> f64 {
    // The k + 1 smallest are the first i of `a` and the first k + 1 − i of `b`, for the
    // least i whose next `a` is not below the last `b` taken.
    let (mut lo, mut hi) = ((k + 1).saturating_sub(nb), (k + 1).min(na));
    while lo < hi {
        let i = (lo + hi) / 2;
        if a(i) < b(k - i) {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let from_b = k + 1 - lo;
    let last_a = if lo > 0 { a(lo - 1) } else { f64::NEG_INFINITY };
    let last_b = if from_b > 0 {
        b(from_b - 1)
    } else {
        f64::NEG_INFINITY
    };
    last_a.max(last_b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn kth_of_two_is_the_kth_of_the_merge(
            mut a in proptest::collection::vec(-5i32..5, 0..12),
            mut b in proptest::collection::vec(-5i32..5, 0..12),
            pick in 0usize..100,
        ) {
            prop_assume!(!a.is_empty() || !b.is_empty());
            a.sort();
            b.sort();
            let mut merged: Vec<i32> = a.iter().chain(&b).copied().collect();
            merged.sort();
            let k = pick % merged.len();
            let got = kth_of_two(a.len(), b.len(), k, |i| f64::from(a[i]), |j| f64::from(b[j]));
            prop_assert_eq!(got, f64::from(merged[k]));
        }
    }
}
