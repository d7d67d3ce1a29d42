//! Reading the features out of a state, in the order of `FeatureSpec::names`.

use super::spec::{Checked, Threshold};
use super::state::{State, position, window_extremes};

/// Scales a MAD to a standard deviation for normally distributed values.
const MAD_TO_SIGMA: f64 = 1.4826;
/// Scales a mean absolute deviation to a standard deviation (√(π/2)), for windows whose
/// MAD is 0 (more than half their values equal).
const MEAN_AD_TO_SIGMA: f64 = 1.253_314;
/// Robust z-scores at which the anomaly score is 1: three robust standard deviations.
const NORMAL_EDGE: f64 = 3.0;

impl State {
    pub fn write(&self, spec: &Checked, out: &mut Vec<f64>) {
        let Some(step) = self.step else {
            out.extend(std::iter::repeat_n(f64::NAN, spec.names.len()));
            return;
        };
        out.reserve(spec.names.len());
        let ring = &self.ring[..];
        let now = ring[self.head];
        let steps = &spec.window_steps;
        let extremes = |k: usize| window_extremes(&self.windows[k], &self.order, ring);

        out.push(self.level);
        for &n in steps {
            out.push(now - ring[position(self.head, ring.len(), n)]);
        }
        for (k, window) in self.windows.iter().enumerate() {
            let (min, max) = extremes(k);
            out.push(match window.sums.count() {
                0 | 1 => f64::NAN,
                _ if min == max => 0.0,
                _ => {
                    let centred = window.sums.centred();
                    centred.slope() * centred.scale / spec.step_seconds
                }
            });
        }
        out.extend_from_slice(&self.ewma);
        for (k, window) in self.windows.iter().enumerate() {
            let (min, max) = extremes(k);
            out.push(match window.sums.count() {
                0 => f64::NAN,
                _ if min == max => 0.0,
                _ => window.sums.centred().stddev(),
            });
        }
        let median = self.order.median(ring);
        let mad = self.order.mad(ring, median);
        out.push(mad);
        for k in 0..steps.len() {
            out.push(extremes(k).0);
        }
        for k in 0..steps.len() {
            out.push(extremes(k).1);
        }
        out.push(self.anomaly_score(ring, now, median, mad));
        let x_now = (step - self.x_origin) as f64;
        for (threshold, &count) in spec.params.thresholds.iter().zip(&self.beyond_warning) {
            let (eta, stderr) = self.eta(spec, threshold, x_now);
            out.push(eta * spec.step_seconds);
            out.push(stderr * spec.step_seconds);
            out.push(f64::from(count) / self.order.len() as f64);
        }
        out.push((step - self.last_gap) as f64 * spec.step_seconds);
        out.push((step - self.last_reset) as f64 * spec.step_seconds);
    }

    /// `|now − median| / (1.4826 × MAD) / 3`: 1 at three robust standard deviations.
    fn anomaly_score(&self, ring: &[f64], now: f64, median: f64, mad: f64) -> f64 {
        let distance = (now - median).abs();
        if distance == 0.0 || distance.is_nan() {
            return if now.is_nan() { f64::NAN } else { distance };
        }
        let mut sigma = MAD_TO_SIGMA * mad;
        if sigma == 0.0 {
            // Now is in the window and differs from the median: this is not 0.
            sigma = MEAN_AD_TO_SIGMA * self.order.mean_absolute_deviation(ring, median);
        }
        distance / sigma / NORMAL_EDGE
    }

    /// Steps until the threshold is crossed, and the standard error: from the window
    /// whose fit gives the most precise crossing (see the module's documentation).
    fn eta(&self, spec: &Checked, threshold: &Threshold, x_now: f64) -> (f64, f64) {
        if threshold.is_beyond(self.level) {
            return (0.0, 0.0);
        }
        let mut best = (f64::NAN, f64::NAN);
        // Longest first, so that a tie goes to the longer window.
        for &k in &spec.longest_first {
            let window = &self.windows[k];
            if window.sums.count() < spec.window_steps[k].div_ceil(2).max(3) {
                continue;
            }
            let (min, max) = window_extremes(window, &self.order, &self.ring);
            if min == max {
                continue;
            }
            let fit = window.sums.centred();
            let slope = fit.slope();
            let toward = slope * fit.scale * threshold.direction();
            if toward.is_nan() || toward <= 0.0 {
                continue;
            }
            // Where the fitted line meets the threshold, in steps from now.
            let eta = fit.distance(threshold.value, slope, x_now) / slope;
            // Inverse prediction: Var = σ²/b² × (1/n + (x_cross − x̄)²/Sxx), from the
            // variances of the fitted level and slope and their covariance.
            let sigma = (fit.residual(slope) / (fit.n - 2.0)).sqrt();
            let from_centre = x_now + eta - fit.mean_x;
            let stderr =
                sigma / slope.abs() * (1.0 / fit.n + from_centre * from_centre / fit.sxx).sqrt();
            if !eta.is_nan() && !stderr.is_nan() && (best.1.is_nan() || stderr < best.1) {
                best = (eta.max(0.0), stderr);
            }
        }
        best
    }
}
