//! The incremental state of one signal, and what one step does to it.

use super::anomaly::Detector;
use super::extremes::Extremes;
use super::order::{Increment, Level, Order};
use super::sampling::Sampling;
use super::spec::Checked;
use super::sums::Sums;

#[derive(Debug, Clone)]
pub(super) struct State {
    /// The values of the last `ring_len` steps, NaN where a step had no finite value.
    pub ring: Box<[f64]>,
    /// Ring position of the latest step.
    pub head: usize,
    /// Number of the latest step (step 0 is the first update's); None before it.
    pub step: Option<i64>,
    /// Time of step 0, ms.
    pub origin_ms: i64,
    /// The latest input as given, NaN for none. Unlike the ring it keeps ±Inf, which is
    /// beyond any threshold on its side.
    pub level: f64,
    pub windows: Box<[Window]>,
    /// The anomaly window's finite values, in order.
    pub order: Order,
    /// The sampling interval the windows' increments are taken over.
    pub sampling: Sampling,
    /// Per threshold: how many of the anomaly window's values are beyond its warning level.
    pub beyond_warning: Box<[u32]>,
    /// Per half-life: the EWMA; NaN before the first finite value.
    pub ewma: Box<[f64]>,
    pub anomaly: Detector,
    /// The anomaly score of the latest step, NaN when it had no finite value.
    pub anomaly_score: f64,
    /// Step and value of the latest finite value.
    pub last_finite: Option<(i64, f64)>,
    /// First step of the current run of non-decreasing finite values.
    pub run_start: i64,
    /// Latest step without a finite value (the step before the first counts as one).
    pub last_gap: i64,
    /// Latest step at which a reset was seen (the step before the first counts as one).
    pub last_reset: i64,
    /// The sums' time origin: a value at step `s` enters them with `x = s − x_origin`.
    pub x_origin: i64,
    /// Step at which every window's sums are next recomputed from the ring.
    pub next_recompute: i64,
}

#[derive(Debug, Clone)]
pub(super) struct Window {
    pub sums: Sums,
    /// None for the window as long as the anomaly window: `order` has its extremes.
    pub extremes: Option<Extremes>,
    /// The window's increments over the sampling interval, in order (those between two
    /// finite values), for its robust drift and volatility.
    pub increments: Order<Increment>,
}

/// The ring position `age` steps before `head`; `age < len`.
#[inline]
pub(super) fn position(head: usize, len: usize, age: usize) -> usize {
    if head >= age {
        head - age
    } else {
        head + len - age
    }
}

/// The window's (min, max), NaN when it holds no value.
#[inline]
pub(super) fn window_extremes(window: &Window, order: &Order, ring: &[f64]) -> (f64, f64) {
    match &window.extremes {
        Some(extremes) => extremes.get(ring),
        None => order.extremes(ring),
    }
}

/// The step a time falls on: the nearest, counted from `origin_ms`.
fn step_of(t_ms: i64, origin_ms: i64, step_ms: i64) -> i64 {
    t_ms.saturating_sub(origin_ms)
        .saturating_add(step_ms / 2)
        .div_euclid(step_ms)
}

/// The EWMA after `v`, where `decay` is the weight left to the previous value.
#[inline]
fn blend(previous: f64, v: f64, decay: f64) -> f64 {
    let delta = v - previous;
    if delta.is_finite() {
        previous + (1.0 - decay) * delta
    } else {
        // Values of opposite signs near f64::MAX: the convex form cannot overflow.
        decay * previous + (1.0 - decay) * v
    }
}

impl State {
    pub fn new(spec: &Checked) -> State {
        let windows = spec
            .window_steps
            .iter()
            .enumerate()
            .map(|(k, &steps)| Window {
                sums: Sums::default(),
                extremes: (spec.same_as_anomaly != Some(k)).then(|| Extremes::new(steps)),
                increments: Order::new(steps.saturating_sub(1), Increment { lag: 1 }),
            })
            .collect();
        State {
            ring: vec![f64::NAN; spec.ring_len].into_boxed_slice(),
            head: 0,
            step: None,
            origin_ms: 0,
            level: f64::NAN,
            windows,
            order: Order::new(spec.anomaly_steps, Level),
            sampling: Sampling::default(),
            beyond_warning: vec![0; spec.params.thresholds.len()].into_boxed_slice(),
            ewma: vec![f64::NAN; spec.decay_per_step.len()].into_boxed_slice(),
            anomaly: Detector::new(spec.season, spec.anomaly_memory_values),
            anomaly_score: f64::NAN,
            last_finite: None,
            run_start: 0,
            last_gap: -1,
            last_reset: -1,
            x_origin: 0,
            next_recompute: spec.ring_len as i64,
        }
    }

    pub fn update(&mut self, spec: &Checked, t_ms: i64, value: Option<f64>) {
        let step = match self.step {
            None => {
                self.origin_ms = t_ms;
                0
            }
            Some(last) => {
                let step = step_of(t_ms, self.origin_ms, spec.step_ms);
                if step <= last {
                    return;
                }
                if step - last > spec.ring_len as i64 {
                    // Every window would only hold gaps: start them afresh.
                    self.clear_windows(spec, step);
                    self.last_gap = step - 1;
                } else {
                    for skipped in last + 1..step {
                        self.push(spec, skipped, f64::NAN);
                    }
                }
                step
            }
        };
        let level = value.unwrap_or(f64::NAN);
        self.level = level;
        self.push(spec, step, if level.is_finite() { level } else { f64::NAN });
    }

    /// One step: `v` is finite, or NaN for a step without a finite value.
    fn push(&mut self, spec: &Checked, step: i64, v: f64) {
        let len = self.ring.len();
        self.head = if self.head + 1 == len {
            0
        } else {
            self.head + 1
        };
        let head = self.head;
        self.ring[head] = v;
        self.step = Some(step);
        let present = !v.is_nan();

        // The anomaly window first: the window as long as it takes its extremes from it.
        let leaving_at = position(head, len, spec.anomaly_steps);
        let leaving = self.ring[leaving_at];
        let thresholds = spec.params.thresholds.iter().zip(&spec.warning_levels);
        for (count, (threshold, &level)) in self.beyond_warning.iter_mut().zip(thresholds) {
            *count += u32::from(threshold.past(v, level));
            *count -= u32::from(threshold.past(leaving, level));
        }
        self.order.slide(
            &self.ring,
            (!leaving.is_nan()).then_some(leaving_at),
            present.then_some(head),
        );

        let relagged = present && self.sampling.observe(step, v);
        let lag = self.sampling.lag();
        let x = step - self.x_origin;
        for (window, &steps) in self.windows.iter_mut().zip(&spec.window_steps) {
            let out_at = position(head, len, steps);
            let out = self.ring[out_at];
            if present {
                window.sums.add(x, v);
            }
            if !out.is_nan() {
                window.sums.remove(x - steps as i64, out);
            }
            if let Some(extremes) = &mut window.extremes {
                extremes.slide(&self.ring, head, steps);
            }
            let finite = |age: usize| !self.ring[position(head, len, age)].is_nan();
            if relagged {
                // Every increment in the window, over the new lag, oldest first (the order
                // keeps equal keys oldest first).
                let ends = (0..steps.saturating_sub(lag))
                    .rev()
                    .filter(|&age| finite(age) && finite(age + lag));
                let positions = ends.map(|age| position(head, len, age));
                window
                    .increments
                    .rebuild(&self.ring, Increment { lag }, positions);
            } else if steps > lag {
                // The increment ending at the newest step comes, the one ending where the
                // window now starts goes (its start has just left the window).
                let entering = (present && finite(lag)).then_some(head);
                let leaving_at = position(head, len, steps - lag);
                let leaving = (finite(steps - lag) && finite(steps)).then_some(leaving_at);
                window.increments.slide(&self.ring, leaving, entering);
            }
            let (min, max) = window_extremes(window, &self.order, &self.ring);
            if !window.sums.trusted(min, max) {
                recompute(window, &self.ring, head, steps, x, (min, max));
            }
        }

        if present {
            self.follow(spec, step, v);
            let t_ms = self
                .origin_ms
                .saturating_add(step.saturating_mul(spec.step_ms));
            self.anomaly_score = self.anomaly.observe(&spec.season, t_ms, v);
        } else {
            self.last_gap = step;
            self.anomaly_score = f64::NAN;
        }

        if step >= self.next_recompute {
            self.x_origin = step;
            self.next_recompute = step + len as i64;
            for (window, &steps) in self.windows.iter_mut().zip(&spec.window_steps) {
                let extremes = window_extremes(window, &self.order, &self.ring);
                recompute(window, &self.ring, head, steps, 0, extremes);
            }
        }
    }

    /// EWMAs and resets, for a finite value.
    fn follow(&mut self, spec: &Checked, step: i64, v: f64) {
        match self.last_finite {
            Some((last_step, last_v)) => {
                let elapsed = step - last_step;
                for (h, ewma) in self.ewma.iter_mut().enumerate() {
                    let decay = if elapsed == 1 {
                        spec.decay_per_step[h]
                    } else {
                        (-(elapsed as f64) / spec.half_life_steps[h]).exp2()
                    };
                    *ewma = blend(*ewma, v, decay);
                }
                if v < last_v {
                    if last_step - self.run_start + 1 >= spec.reset_steps as i64 {
                        self.last_reset = step;
                    }
                    self.run_start = step;
                }
            }
            None => {
                self.ewma.fill(v);
                self.run_start = step;
            }
        }
        self.last_finite = Some((step, v));
    }

    /// Empties every window, for a jump past the longest: the next value is at `step`.
    fn clear_windows(&mut self, spec: &Checked, step: i64) {
        self.ring.fill(f64::NAN);
        for window in self.windows.iter_mut() {
            window.sums = Sums::default();
            if let Some(extremes) = &mut window.extremes {
                extremes.clear();
            }
            window.increments.clear();
        }
        self.order.clear();
        self.beyond_warning.fill(0);
        self.x_origin = step;
        self.next_recompute = step + spec.ring_len as i64;
    }
}

/// Recomputes a window's sums from the ring: `x` is the latest step's, `extremes` the
/// window's (min, max).
fn recompute(
    window: &mut Window,
    ring: &[f64],
    head: usize,
    steps: usize,
    x: i64,
    (min, max): (f64, f64),
) {
    let values = (0..steps).filter_map(|age| {
        let v = ring[position(head, ring.len(), age)];
        (!v.is_nan()).then_some((x - age as i64, v))
    });
    match values.clone().next() {
        Some((_, latest)) => window.sums.recompute(latest, min, max, values),
        None => window.sums = Sums::default(),
    }
}
