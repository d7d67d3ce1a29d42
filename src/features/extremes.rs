//! A window's min and max with monotonic deques: O(1) amortised per step.
//!
//! The deques hold ring positions (`u16`), not values: the ring already has the values,
//! and the positions of a window's steps are all distinct, so each deque holds at most as
//! many entries as the window has steps. Both are allocated once at that size.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub(super) struct Extremes {
    /// Positions of values increasing from front to back; the front is the min.
    min: VecDeque<u16>,
    /// Positions of values decreasing from front to back; the front is the max.
    max: VecDeque<u16>,
}

impl Extremes {
    pub fn new(steps: usize) -> Extremes {
        Extremes {
            min: VecDeque::with_capacity(steps),
            max: VecDeque::with_capacity(steps),
        }
    }

    /// Moves the window (of `steps` steps) to end at `head`, whose value has just been
    /// written to the ring (NaN for a step without a value).
    #[inline]
    pub fn slide(&mut self, ring: &[f64], head: usize, steps: usize) {
        let age = |position: u16| {
            let position = usize::from(position);
            if head >= position {
                head - position
            } else {
                head + ring.len() - position
            }
        };
        while self.min.front().is_some_and(|&p| age(p) >= steps) {
            self.min.pop_front();
        }
        while self.max.front().is_some_and(|&p| age(p) >= steps) {
            self.max.pop_front();
        }
        let v = ring[head];
        if v.is_nan() {
            return;
        }
        while self.min.back().is_some_and(|&p| ring[usize::from(p)] >= v) {
            self.min.pop_back();
        }
        while self.max.back().is_some_and(|&p| ring[usize::from(p)] <= v) {
            self.max.pop_back();
        }
        self.min.push_back(head as u16);
        self.max.push_back(head as u16);
    }

    /// (min, max) of the window; NaN when it holds no value.
    #[inline]
    pub fn get(&self, ring: &[f64]) -> (f64, f64) {
        let value = |p: Option<&u16>| p.map_or(f64::NAN, |&p| ring[usize::from(p)]);
        (value(self.min.front()), value(self.max.front()))
    }

    pub fn clear(&mut self) {
        self.min.clear();
        self.max.clear();
    }

    pub fn heap_bytes(&self) -> usize {
        (self.min.capacity() + self.max.capacity()) * std::mem::size_of::<u16>()
    }
}
