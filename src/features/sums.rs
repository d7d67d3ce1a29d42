//! Sliding sums over one window, for its least-squares slope and standard deviation in
//! O(1) per step, kept precise by recomputing them exactly from the ring when needed.
//!
//! A value enters as `u = v/s − c/s`. The shift `c` (the window's latest value at the
//! last recomputation) takes the level out, so that `Σu² − (Σu)²/n` does not cancel; the
//! scale `s`, a power of two near the window's largest magnitude, keeps squares finite up
//! to `f64::MAX` (scaling by a power of two is exact). Time is the step number less an
//! origin moved at every periodic recomputation, so `n`, `Σx` and `Σx²` are exact integers.
//!
//! Adding and removing lets rounding errors build up, and removing a value far larger than
//! the rest leaves little of the rest (absorption). Both are bounded by recomputing the
//! sums from the ring when the largest `u²` added since the last recomputation exceeds
//! `TRUST` times the square of the window's current range (so a departed outlier, or a
//! level that drifted far from `c`, triggers it), when the sums are no longer finite, and
//! at least once per ring cycle. Between recomputations, each sum's error is then at most
//! about `(2 × ring length) × n × ε × TRUST × range²`, while `Σ(u − ū)²` is at least
//! `range²/2`: a relative error below 1e-9 for windows up to a few hundred steps, and far
//! less in practice, since errors of opposite signs cancel.

/// How far the largest `u²` since the last recomputation may exceed the squared range.
const TRUST: f64 = 16.0;

#[derive(Debug, Clone)]
pub(super) struct Sums {
    count: i64,
    sx: i64,
    sxx: i64,
    su: f64,
    suu: f64,
    sxu: f64,
    /// `c/s`.
    shift: f64,
    /// `1/s`.
    inv_scale: f64,
    /// `s`.
    scale: f64,
    /// The largest `u²` added since the last recomputation.
    peak: f64,
}

impl Default for Sums {
    fn default() -> Sums {
        Sums {
            count: 0,
            sx: 0,
            sxx: 0,
            su: 0.0,
            suu: 0.0,
            sxu: 0.0,
            shift: 0.0,
            inv_scale: 1.0,
            scale: 1.0,
            peak: 0.0,
        }
    }
}

/// The sums about their means, in scaled units.
#[derive(Debug, Clone, Copy)]
pub(super) struct Centred {
    pub n: f64,
    pub inv_n: f64,
    pub mean_x: f64,
    /// `mean(u)`: the mean value is `(mean_u + shift) × scale`.
    pub mean_u: f64,
    /// `Σ(x − x̄)²`, exact but for one rounding.
    pub sxx: f64,
    /// `Σ(x − x̄)(u − ū)`.
    pub sxu: f64,
    /// `Σ(u − ū)²`, clamped at 0.
    pub suu: f64,
    pub shift: f64,
    pub inv_scale: f64,
    pub scale: f64,
}

impl Sums {
    pub fn count(&self) -> usize {
        self.count as usize
    }

    #[inline]
    pub fn add(&mut self, x: i64, v: f64) {
        let u = v * self.inv_scale - self.shift;
        self.count += 1;
        self.sx += x;
        self.sxx += x * x;
        self.su += u;
        self.suu += u * u;
        self.sxu += x as f64 * u;
        self.peak = self.peak.max(u * u);
    }

    #[inline]
    pub fn remove(&mut self, x: i64, v: f64) {
        let u = v * self.inv_scale - self.shift;
        self.count -= 1;
        self.sx -= x;
        self.sxx -= x * x;
        self.su -= u;
        self.suu -= u * u;
        self.sxu -= x as f64 * u;
    }

    /// Whether the sums can still be used, given the window's current min and max (see
    /// the module's comment). An empty window's sums are reset here, exactly.
    #[inline]
    pub fn trusted(&mut self, min: f64, max: f64) -> bool {
        if self.count == 0 {
            *self = Sums {
                shift: self.shift,
                inv_scale: self.inv_scale,
                scale: self.scale,
                ..Sums::default()
            };
            return true;
        }
        let range = max * self.inv_scale - min * self.inv_scale;
        self.suu.is_finite() && self.peak <= TRUST * range * range
    }

    /// Replaces the sums by those of `values`, each `(x, v)` of a finite value of the
    /// window; `latest` is the window's latest value, `min` and `max` its extremes.
    pub fn recompute(
        &mut self,
        latest: f64,
        min: f64,
        max: f64,
        values: impl Iterator<Item = (i64, f64)>,
    ) {
        let exponent = binary_exponent(min.abs().max(max.abs())).clamp(-1000, 1000);
        *self = Sums {
            inv_scale: power_of_two(-exponent),
            scale: power_of_two(exponent),
            ..Sums::default()
        };
        self.shift = latest * self.inv_scale;
        for (x, v) in values {
            self.add(x, v);
        }
    }

    pub fn centred(&self) -> Centred {
        let n = self.count as f64;
        let inv_n = 1.0 / n;
        // n·Σx² − (Σx)², exactly: in i64 unless a very long window overflows it.
        let spread = match (
            self.count.checked_mul(self.sxx),
            self.sx.checked_mul(self.sx),
        ) {
            (Some(a), Some(b)) => (a - b) as f64,
            _ => {
                (i128::from(self.count) * i128::from(self.sxx) - i128::from(self.sx).pow(2)) as f64
            }
        };
        let mean_u = self.su * inv_n;
        Centred {
            n,
            inv_n,
            sxx: spread * inv_n,
            mean_x: self.sx as f64 * inv_n,
            mean_u,
            sxu: self.sxu - self.sx as f64 * mean_u,
            suu: (self.suu - self.su * mean_u).max(0.0),
            shift: self.shift,
            inv_scale: self.inv_scale,
            scale: self.scale,
        }
    }
}

impl Centred {
    /// Population standard deviation, in value units.
    pub fn stddev(&self) -> f64 {
        (self.suu * self.inv_n).sqrt() * self.scale
    }

    /// Least-squares slope per step, in scaled units; NaN with fewer than two points.
    pub fn slope(&self) -> f64 {
        if self.sxx > 0.0 {
            self.sxu / self.sxx
        } else {
            f64::NAN
        }
    }

    /// How far `level` is above the mean value, in scaled units. The mean itself is never
    /// formed: with a large level it would round the distance away.
    pub fn above_mean(&self, level: f64) -> f64 {
        (level * self.inv_scale - self.shift) - self.mean_u
    }

    /// The residual sum of squares of the fit with `slope`, in scaled units.
    pub fn residual(&self, slope: f64) -> f64 {
        (self.suu - slope * self.sxu).max(0.0)
    }
}

/// `e` such that `2^e <= m < 2^(e+1)` for a normal `m`; −1023 for 0 and subnormals.
fn binary_exponent(m: f64) -> i32 {
    ((m.to_bits() >> 52) & 0x7ff) as i32 - 1023
}

/// `2^e` for `e` in −1022..=1023.
fn power_of_two(e: i32) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_two_are_exact() {
        for (m, e) in [
            (1.0, 0),
            (3.0, 1),
            (0.5, -1),
            (f64::MAX, 1023),
            (1e-300, -997),
        ] {
            assert_eq!(binary_exponent(m), e, "{m}");
        }
        assert_eq!(binary_exponent(0.0), -1023);
        assert_eq!(power_of_two(-1000), 2f64.powi(-1000));
        assert_eq!(power_of_two(1000), 2f64.powi(1000));
    }

    #[test]
    fn huge_values_keep_finite_sums() {
        let mut sums = Sums::default();
        let values = [(0, f64::MAX), (1, -f64::MAX), (2, f64::MAX)];
        sums.recompute(f64::MAX, -f64::MAX, f64::MAX, values.into_iter());
        let centred = sums.centred();
        assert!(centred.suu.is_finite());
        // Population stddev of {M, −M, M} is M·√8/3.
        let expected = f64::MAX / 3.0 * 8f64.sqrt();
        assert!((centred.stddev() - expected).abs() <= 1e-12 * expected);
    }
}
