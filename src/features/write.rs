//! Reading the features out of a state, in the order of `FeatureSpec::names`.
//!
//! The columns are written by index into a row filled with NaN, so that each window's
//! statistics (its fit, its extremes) are computed once and land in every column that
//! uses them.

use super::increments::Increments;
use super::spec::Checked;
use super::state::{State, position, window_extremes};

/// Where each family of columns starts (see `spec::names`).
struct Columns {
    windows: usize,
    half_lives: usize,
}

impl Columns {
    fn change(&self, k: usize) -> usize {
        1 + k
    }
    fn slope(&self, k: usize) -> usize {
        1 + self.windows + k
    }
    fn line(&self, k: usize) -> usize {
        1 + 2 * self.windows + k
    }
    fn ewma(&self, h: usize) -> usize {
        1 + 3 * self.windows + h
    }
    fn stddev(&self, k: usize) -> usize {
        1 + 3 * self.windows + self.half_lives + k
    }
    fn mad(&self) -> usize {
        1 + 4 * self.windows + self.half_lives
    }
    fn min(&self, k: usize) -> usize {
        2 + 4 * self.windows + self.half_lives + k
    }
    fn max(&self, k: usize) -> usize {
        2 + 5 * self.windows + self.half_lives + k
    }
    /// Drift, its standard error and volatility are three families from here.
    fn drift(&self, k: usize) -> usize {
        2 + 6 * self.windows + self.half_lives + k
    }
    fn anomaly(&self) -> usize {
        2 + 9 * self.windows + self.half_lives
    }
    /// ETA, its standard error, and the fraction beyond warning.
    fn threshold(&self, i: usize) -> usize {
        3 + 9 * self.windows + self.half_lives + 3 * i
    }
}

impl State {
    pub fn write(&self, spec: &Checked, out: &mut Vec<f64>) {
        let width = spec.names.len();
        let base = out.len();
        out.resize(base + width, f64::NAN);
        let Some(step) = self.step else {
            return;
        };
        let row = &mut out[base..];
        let at = Columns {
            windows: spec.window_steps.len(),
            half_lives: self.ewma.len(),
        };
        let ring = &self.ring[..];
        let now = ring[self.head];
        let step_seconds = spec.step_seconds;
        let thresholds = &spec.params.thresholds;

        row[0] = self.level;
        for (h, &ewma) in self.ewma.iter().enumerate() {
            row[at.ewma(h)] = ewma;
        }
        row[at.mad()] = self.order.mad();
        row[at.anomaly()] = self.anomaly_score;
        for (i, (threshold, &count)) in thresholds.iter().zip(&self.beyond_warning).enumerate() {
            let column = at.threshold(i);
            if threshold.is_beyond(self.level) {
                row[column] = 0.0;
                row[column + 1] = 0.0;
            }
            row[column + 2] = f64::from(count) / self.order.len() as f64;
        }
        row[width - 2] = (step - self.last_gap) as f64 * step_seconds;
        row[width - 1] = (step - self.last_reset) as f64 * step_seconds;

        let x_now = (step - self.x_origin) as f64;
        // Longest first, so that an ETA tie between windows goes to the longer.
        for &k in &spec.longest_first {
            let window = &self.windows[k];
            let steps = spec.window_steps[k];
            row[at.change(k)] = now - ring[position(self.head, ring.len(), steps)];
            let order = &window.increments;
            let lag = order.key().lag;
            let increments = Increments::of_sorted(
                order.len(),
                Increments::least(steps, lag),
                lag,
                |i| order.value(ring, i),
                order.median(),
                order.mad(),
            );
            let drift = at.drift(k);
            row[drift] = increments.drift / step_seconds;
            row[drift + at.windows] = increments.drift_stderr / step_seconds;
            row[drift + 2 * at.windows] = increments.volatility / step_seconds.sqrt();
            let (min, max) = window_extremes(window, &self.order, ring);
            row[at.min(k)] = min;
            row[at.max(k)] = max;
            let count = window.sums.count();
            if count == 0 {
                continue;
            }
            // Too little history to extend a trend from (as for the ETA below).
            let enough = count >= steps.div_ceil(2).max(3);
            if min == max {
                // Constant: exact zeros, and no trend to extend.
                row[at.stddev(k)] = 0.0;
                if count > 1 {
                    row[at.slope(k)] = 0.0;
                }
                if enough {
                    row[at.line(k)] = min;
                }
                continue;
            }
            let fit = window.sums.centred();
            let slope = fit.slope();
            let since_centre = x_now - fit.mean_x;
            row[at.stddev(k)] = fit.stddev();
            row[at.slope(k)] = slope * fit.scale / step_seconds;
            if !enough {
                continue;
            }
            // Relative to the latest value when there is one: the mean itself is not
            // formed (see `Centred::above_mean`).
            let below_now = slope * since_centre - fit.above_mean(now);
            row[at.line(k)] = if now.is_nan() {
                (fit.mean_u + fit.shift + slope * since_centre) * fit.scale
            } else {
                now + below_now * fit.scale
            };
            // The ETA's arithmetic is arranged so that few divisions wait on each other:
            // with q = 1/b = Sxx/Sxy, the line meets level L at x̄ + (L − ū)·q, and the
            // inverse-prediction variance σ²/b² × (1/n + (x_cross − x̄)²/Sxx), from the
            // variances of the fitted level and slope and their covariance, with
            // σ² = SSR/(n − 2), is SSR/((n − 2)·Sxx) · q² · (Sxx/n + ((L − ū)·q)²). The
            // root is taken once a window is chosen.
            let per_slope = fit.sxx / fit.sxu;
            let residual_part = fit.residual(slope) / ((fit.n - 2.0) * fit.sxx);
            for (i, threshold) in thresholds.iter().enumerate() {
                let direction = threshold.direction();
                // A line carried toward the threshold by a step, not by a trend: the
                // robust drift, which a one-off step does not move, is not toward it.
                let (toward, drift) = (slope * direction, increments.drift * direction);
                if threshold.is_beyond(self.level)
                    || toward.is_nan()
                    || toward <= 0.0
                    || drift <= 0.0
                {
                    continue;
                }
                let reach = fit.above_mean(threshold.value) * per_slope;
                // Where the fitted line meets the threshold, in steps from now.
                let mut eta = reach - since_centre;
                let mut variance =
                    residual_part * per_slope * per_slope * (fit.sxx * fit.inv_n + reach * reach);
                if eta < 0.0 {
                    // The line is past the threshold and the latest value is not: the line
                    // has overshot it (a step it was fitted across, noise at the end), so
                    // the value itself is carried at the window's robust drift.
                    eta = (threshold.value - now) * direction / drift;
                    variance = (eta * increments.drift_stderr / drift).powi(2);
                }
                let column = at.threshold(i);
                let best = row[column + 1];
                if !eta.is_nan() && !variance.is_nan() && (best.is_nan() || variance < best) {
                    row[column] = eta * step_seconds;
                    row[column + 1] = variance;
                }
            }
        }
        for i in 0..thresholds.len() {
            let column = at.threshold(i) + 1;
            row[column] = row[column].sqrt() * step_seconds;
        }
    }
}
