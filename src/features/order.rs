//! A window in order, for its median, median absolute deviation (MAD), min and max: the
//! anomaly window's values ([`Level`]), and each feature window's increments over the
//! signal's sampling interval ([`Increment`]), from which the robust drift and volatility
//! are read.
//!
//! A sorted buffer rather than two heaps or a tree: it holds ring positions (`u16`, two
//! bytes per step, against eight for a value), an insertion or removal is a binary search
//! and one `memmove` of at most a few hundred bytes, and order statistics are then direct
//! reads. The MAD is the median of `|v − median|`; the deviations of the values below the
//! median, read from the median outwards, are sorted, and so are those above, so the MAD
//! is a selection from two sorted sequences, with no copy, in O(log d) where d is how far
//! the split between the two moved since the previous step (little, as a rule). MAD
//! rather than IQR: it is the spread the robust z-score is defined with. Both are
//! refreshed at every step, so reading them is free.
//!
//! The removal and the insertion of a step are found by two binary searches run in one
//! loop (independent chains of loads, which the processor overlaps), and done by one
//! shift of the positions between the two places.
//!
//! Equal values are kept oldest first. The value leaving the window is the oldest of all,
//! so it is the first of its equals and a binary search finds its exact position.

/// What an [`Order`] sorts by: a number read from the ring at a position.
pub(super) trait Key: Copy {
    fn at(&self, ring: &[f64], position: usize) -> f64;
}

/// The value at a ring position.
#[derive(Debug, Clone, Copy)]
pub(super) struct Level;

impl Key for Level {
    #[inline]
    fn at(&self, ring: &[f64], position: usize) -> f64 {
        ring[position]
    }
}

/// The increment ending at a ring position: its value less the value `lag` steps before
/// (both must be finite for the position to be in an order).
#[derive(Debug, Clone, Copy)]
pub(super) struct Increment {
    pub lag: usize,
}

impl Key for Increment {
    #[inline]
    fn at(&self, ring: &[f64], position: usize) -> f64 {
        let before = if position >= self.lag {
            position - self.lag
        } else {
            position + ring.len() - self.lag
        };
        ring[position] - ring[before]
    }
}

#[derive(Debug)]
pub(super) struct Order<K: Key = Level> {
    /// Ring positions, by key, equal keys oldest first.
    slots: Vec<u16>,
    /// The median and the MAD, refreshed at every step (NaN when empty).
    median: f64,
    mad: f64,
    /// How many of the smallest deviations the MAD took from below the median at the
    /// last refresh: the next selection starts its search there, since it moves little
    /// from one step to the next.
    split_hint: usize,
    key: K,
}

/// A clone keeps the capacity, so that it does not allocate when its window fills.
impl<K: Key> Clone for Order<K> {
    fn clone(&self) -> Order<K> {
        let mut slots = Vec::with_capacity(self.slots.capacity());
        slots.extend_from_slice(&self.slots);
        Order { slots, ..*self }
    }
}

impl<K: Key> Order<K> {
    pub fn new(steps: usize, key: K) -> Order<K> {
        Order {
            slots: Vec::with_capacity(steps),
            median: f64::NAN,
            mad: f64::NAN,
            split_hint: 0,
            key,
        }
    }

    pub fn key(&self) -> K {
        self.key
    }

    /// Sorts anew by `key`, holding the keys at `positions`, oldest first (within its
    /// capacity).
    pub fn rebuild(&mut self, ring: &[f64], key: K, positions: impl Iterator<Item = usize>) {
        self.clear();
        self.key = key;
        for position in positions {
            self.shift(ring, None, Some(position));
        }
        self.refresh(ring);
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Moves the window on a step: the key at `leaving` (the oldest) goes, the key at
    /// `entering` (the newest) comes; either may be absent (a gap).
    #[inline]
    pub fn slide(&mut self, ring: &[f64], leaving: Option<usize>, entering: Option<usize>) {
        if leaving.is_some() || entering.is_some() {
            self.shift(ring, leaving, entering);
            self.refresh(ring);
        }
    }

    fn shift(&mut self, ring: &[f64], leaving: Option<usize>, entering: Option<usize>) {
        let key = self.key;
        let value = |p: &u16| key.at(ring, usize::from(*p));
        match (leaving, entering) {
            (None, None) => {}
            (Some(leaving), None) => {
                let v = self.key.at(ring, leaving);
                let at = self.slots.partition_point(|p| value(p) < v);
                debug_assert_eq!(self.slots.get(at).copied(), Some(leaving as u16));
                if at < self.slots.len() {
                    self.slots.remove(at);
                }
            }
            (None, Some(entering)) => {
                let v = self.key.at(ring, entering);
                let at = self.slots.partition_point(|p| value(p) <= v);
                self.slots.insert(at, entering as u16);
            }
            (Some(leaving), Some(entering)) => {
                let (out, into) = self.bounds(
                    ring,
                    self.key.at(ring, leaving),
                    self.key.at(ring, entering),
                );
                debug_assert_eq!(self.slots.get(out).copied(), Some(leaving as u16));
                if out >= self.slots.len() {
                    return;
                }
                // One shift between the two places instead of a removal and an insertion.
                if into > out {
                    self.slots.copy_within(out + 1..into, out);
                    self.slots[into - 1] = entering as u16;
                } else {
                    self.slots.copy_within(into..out, into + 1);
                    self.slots[into] = entering as u16;
                }
            }
        }
    }

    /// Where the first value not below `leaving` is, and where `entering` goes (after its
    /// equals). Two branchless binary searches run in one loop: they are independent, so
    /// the processor overlaps their chains of loads.
    #[inline]
    fn bounds(&self, ring: &[f64], leaving: f64, entering: f64) -> (usize, usize) {
        let slots = &self.slots[..];
        let value = |i: usize| self.key.at(ring, usize::from(slots[i]));
        let (mut out, mut into, mut size) = (0, 0, slots.len());
        while size > 1 {
            let half = size / 2;
            out = std::hint::select_unpredictable(value(out + half) < leaving, out + half, out);
            into =
                std::hint::select_unpredictable(value(into + half) <= entering, into + half, into);
            size -= half;
        }
        (
            out + usize::from(value(out) < leaving),
            into + usize::from(value(into) <= entering),
        )
    }

    pub fn clear(&mut self) {
        self.slots.clear();
        self.median = f64::NAN;
        self.mad = f64::NAN;
    }

    /// The `i`-th smallest key.
    #[inline]
    pub fn value(&self, ring: &[f64], i: usize) -> f64 {
        self.key.at(ring, usize::from(self.slots[i]))
    }

    /// (min, max); NaN when empty.
    #[inline]
    pub fn extremes(&self, ring: &[f64]) -> (f64, f64) {
        match (self.slots.first(), self.slots.last()) {
            (Some(&lo), Some(&hi)) => (
                self.key.at(ring, usize::from(lo)),
                self.key.at(ring, usize::from(hi)),
            ),
            _ => (f64::NAN, f64::NAN),
        }
    }

    /// The middle key, or the midpoint of the two middle keys. NaN when empty.
    pub fn median(&self) -> f64 {
        self.median
    }

    /// The median of `|v − median|`, the median being the middle value or the midpoint of
    /// the two middle values. NaN when empty.
    pub fn mad(&self) -> f64 {
        self.mad
    }

    fn refresh(&mut self, ring: &[f64]) {
        let n = self.slots.len();
        if n == 0 {
            (self.median, self.mad) = (f64::NAN, f64::NAN);
            return;
        }
        let median = if n % 2 == 1 {
            self.value(ring, n / 2)
        } else {
            midpoint(self.value(ring, n / 2 - 1), self.value(ring, n / 2))
        };
        // Values [0, split) are at or below the median, [split, n) at or above.
        let split = n.div_ceil(2);
        let below = |i: usize| median - self.value(ring, split - 1 - i);
        let above = |j: usize| self.value(ring, split + j) - median;
        let k = if n % 2 == 1 { n / 2 } else { n / 2 - 1 };
        let (kth, next, taken) = kth_of_two(split, n - split, k, self.split_hint, below, above);
        self.median = median;
        self.mad = if n % 2 == 1 { kth } else { midpoint(kth, next) };
        self.split_hint = taken;
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
/// and `nb`, read through `a` and `b`; the next one (+Inf if none); and how many of the
/// `k + 1` smallest come from `a`. The search starts from `hint`, a guess of that count.
/// `k < na + nb`.
fn kth_of_two(
    na: usize,
    nb: usize,
    k: usize,
    hint: usize,
    a: impl Fn(usize) -> f64,
    b: impl Fn(usize) -> f64,
) -> (f64, f64, usize) {
    // The k + 1 smallest are the first i of `a` and the first k + 1 − i of `b`, for the
    // least i in the range whose next `a` is not below the last `b` taken: `taken_below`
    // holds up to some i and not after it. A galloping search from the hint finds it in
    // O(log |i − hint|).
    let taken_below = |i: usize| a(i) < b(k - i);
    let (mut lo, mut hi) = ((k + 1).saturating_sub(nb), (k + 1).min(na));
    let start = hint.clamp(lo, hi);
    let mut step = 1;
    if start < hi && taken_below(start) {
        lo = start + 1;
        while lo < hi {
            let probe = (lo + step - 1).min(hi - 1);
            if taken_below(probe) {
                lo = probe + 1;
                step *= 2;
            } else {
                hi = probe;
                break;
            }
        }
    } else {
        hi = start;
        while lo < hi {
            let probe = hi.saturating_sub(step).max(lo);
            if taken_below(probe) {
                lo = probe + 1;
                break;
            }
            hi = probe;
            step *= 2;
        }
    }
    while lo < hi {
        let i = (lo + hi) / 2;
        if taken_below(i) {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let from_b = k + 1 - lo;
    let at_or = |len: usize, i: usize, read: &dyn Fn(usize) -> f64, none: f64| {
        if i < len { read(i) } else { none }
    };
    let kth = f64::max(
        if lo > 0 { a(lo - 1) } else { f64::NEG_INFINITY },
        if from_b > 0 {
            b(from_b - 1)
        } else {
            f64::NEG_INFINITY
        },
    );
    let next = f64::min(
        at_or(na, lo, &a, f64::INFINITY),
        at_or(nb, from_b, &b, f64::INFINITY),
    );
    (kth, next, lo)
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
            hint in 0usize..30,
        ) {
            prop_assume!(!a.is_empty() || !b.is_empty());
            a.sort();
            b.sort();
            let mut merged: Vec<i32> = a.iter().chain(&b).copied().collect();
            merged.sort();
            let k = pick % merged.len();
            let (kth, next, _) =
                kth_of_two(a.len(), b.len(), k, hint, |i| f64::from(a[i]), |j| f64::from(b[j]));
            let want_next = merged.get(k + 1).map_or(f64::INFINITY, |&v| f64::from(v));
            prop_assert_eq!((kth, next), (f64::from(merged[k]), want_next));
        }
    }
}
