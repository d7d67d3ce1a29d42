//! How unusual two quantities are against their own decayed history: the residual ratio
//! of the forecast and the shift of the recent mean (see the detector's steps 3 and 4).
//!
//! In: one (ratio, shift) pair per value. Out: the share of the history at or above a
//! new ratio, or shift, in log-spaced bins (`Scale`) with [`PRIOR`] values beyond
//! everything, each value's weight halving over the anomaly memory.
//!
//! Decay without touching every bin: each new value is added with a weight that grows by
//! `1/(1 − rate)`, which is the same as shrinking all earlier counts; the counts are
//! rescaled before the weight gets large. Both histograms get a value at every step, so
//! they share that weight and the total: 256 bytes of counts and three words.

/// Pseudo-count of values beyond anything seen.
pub const PRIOR: f64 = 0.1;

/// Log-spaced bins: `per_decade` of them from `10^low_decade`, the last one open-ended.
struct Scale {
    low_decade: f64,
    per_decade: f64,
}

/// The residual ratio: 8 bins per decade from 0.1 to 10⁴.
const RATIO: Scale = Scale {
    low_decade: -1.0,
    per_decade: 8.0,
};
const RATIO_BINS: usize = 40;
/// The shift of the recent mean, in mean deviations: 6 bins per decade from 0.01 to 100.
const SHIFT: Scale = Scale {
    low_decade: -2.0,
    per_decade: 6.0,
};
const SHIFT_BINS: usize = 24;

/// Past this weight the counts are rescaled to weight 1 (well within `f32`).
const RESCALE_AT: f64 = 1e20;

impl Scale {
    /// Position of `x` in `bins` bins, continuous; None for 0 (no deviation at all).
    fn position(&self, x: f64, bins: usize) -> Option<f64> {
        if x.is_nan() || x <= 0.0 {
            return None;
        }
        let at = (x.log10() - self.low_decade) * self.per_decade;
        Some(at.clamp(0.0, bins as f64 - 1e-9))
    }
}

#[derive(Debug, Clone)]
pub struct Tails {
    ratio: [f32; RATIO_BINS],
    shift: [f32; SHIFT_BINS],
    /// The weight of every value, counted or not (a 0 has no bin), in `f64`: it is
    /// compared with small shares of itself.
    total: f64,
    /// The weight of the next value.
    weight: f64,
    growth: f64,
}

impl Tails {
    /// Histories that forget with a time constant of `memory_values` values.
    pub fn new(memory_values: f64) -> Tails {
        Tails {
            ratio: [0.0; RATIO_BINS],
            shift: [0.0; SHIFT_BINS],
            total: 0.0,
            weight: 1.0,
            growth: 1.0 / (1.0 - 1.0 / memory_values.max(1.0)).max(f64::MIN_POSITIVE),
        }
    }

    /// The share of the history at or above `ratio`.
    pub fn ratio_probability(&self, ratio: f64) -> f64 {
        self.probability(&RATIO, &self.ratio, ratio)
    }

    /// The share of the history at or above `shift`.
    pub fn shift_probability(&self, shift: f64) -> f64 {
        self.probability(&SHIFT, &self.shift, shift)
    }

    /// Within its bin, linearly; with [`PRIOR`] values beyond everything.
    fn probability(&self, scale: &Scale, counts: &[f32], x: f64) -> f64 {
        let Some(at) = scale.position(x, counts.len()) else {
            return 1.0;
        };
        let bin = at as usize;
        let within = f64::from(counts[bin]) * (1.0 - at.fract());
        let above: f64 = counts[bin + 1..].iter().map(|&c| f64::from(c)).sum();
        let prior = PRIOR * self.weight;
        ((above + within + prior) / (self.total + prior)).min(1.0)
    }

    pub fn add(&mut self, ratio: f64, shift: f64) {
        self.weight *= self.growth;
        if let Some(at) = RATIO.position(ratio, RATIO_BINS) {
            self.ratio[at as usize] += self.weight as f32;
        }
        if let Some(at) = SHIFT.position(shift, SHIFT_BINS) {
            self.shift[at as usize] += self.weight as f32;
        }
        self.total += self.weight;
        if self.weight > RESCALE_AT {
            for count in self.ratio.iter_mut().chain(&mut self.shift) {
                *count = (f64::from(*count) / self.weight) as f32;
            }
            self.total /= self.weight;
            self.weight = 1.0;
        }
    }
}
