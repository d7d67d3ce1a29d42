//! A window's min and max with monotonic deques: O(1) amortised per step.
//!
//! The deques hold ring positions (`u16`), not values: the ring already has the values,
//! and the positions of a window's steps are all distinct, so each deque holds at most as
//! many entries as the window has steps. Both live in one buffer allocated once at twice
//! that size; each is a ring queue within its half.

#[derive(Debug, Clone)]
pub(super) struct Extremes {
    /// The min queue in `[0, steps)`, the max queue in `[steps, 2 × steps)`.
    buffer: Box<[u16]>,
    /// Positions of values increasing from front to back: the front is the min.
    min: Queue,
    /// Positions of values decreasing from front to back: the front is the max.
    max: Queue,
}

/// A ring queue in one half of the buffer.
#[derive(Debug, Clone, Copy)]
struct Queue {
    /// Where the half starts in the buffer.
    base: usize,
    /// Index of the front within the half.
    front: usize,
    len: usize,
}

impl Queue {
    #[inline]
    fn at(&self, i: usize, capacity: usize) -> usize {
        let i = self.front + i;
        self.base + if i >= capacity { i - capacity } else { i }
    }
}

impl Extremes {
    pub fn new(steps: usize) -> Extremes {
        Extremes {
            buffer: vec![0; 2 * steps].into_boxed_slice(),
            min: Queue {
                base: 0,
                front: 0,
                len: 0,
            },
            max: Queue {
                base: steps,
                front: 0,
                len: 0,
            },
        }
    }

    /// Moves the window (of `steps` steps) to end at `head`, whose value has just been
    /// written to the ring (NaN for a step without a value).
    #[inline]
    pub fn slide(&mut self, ring: &[f64], head: usize, steps: usize) {
        let v = ring[head];
        let capacity = self.buffer.len() / 2;
        for (queue, keeps_min) in [(&mut self.min, true), (&mut self.max, false)] {
            let buffer = &mut self.buffer[..];
            // The oldest leaves once it is `steps` steps old.
            if queue.len > 0 {
                let position = usize::from(buffer[queue.at(0, capacity)]);
                let age = if head >= position {
                    head - position
                } else {
                    head + ring.len() - position
                };
                if age >= steps {
                    queue.front = if queue.front + 1 == capacity {
                        0
                    } else {
                        queue.front + 1
                    };
                    queue.len -= 1;
                }
            }
            if v.is_nan() {
                continue;
            }
            // Values the new one dominates can never be the extreme again.
            while queue.len > 0 {
                let back = ring[usize::from(buffer[queue.at(queue.len - 1, capacity)])];
                if (keeps_min && back >= v) || (!keeps_min && back <= v) {
                    queue.len -= 1;
                } else {
                    break;
                }
            }
            buffer[queue.at(queue.len, capacity)] = head as u16;
            queue.len += 1;
        }
    }

    /// (min, max) of the window; NaN when it holds no value.
    #[inline]
    pub fn get(&self, ring: &[f64]) -> (f64, f64) {
        let front = |queue: &Queue| {
            if queue.len == 0 {
                f64::NAN
            } else {
                ring[usize::from(self.buffer[queue.base + queue.front])]
            }
        };
        (front(&self.min), front(&self.max))
    }

    pub fn clear(&mut self) {
        self.min.len = 0;
        self.max.len = 0;
    }

    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.buffer)
    }
}
