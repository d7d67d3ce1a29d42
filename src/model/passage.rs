//! The first-passage probability: how likely a signal that drifts and wanders reaches a
//! threshold within a horizon.
//!
//! In: the distance to the threshold on the safe side, the drift toward it and the
//! volatility (both per second, from the signal's increments: the feature engine's
//! `drift_<w>` and `volatility_<w>`), the horizon. Out: P(the signal reaches the
//! threshold within the horizon), for a Brownian motion with that drift and volatility
//! (the inverse Gaussian distribution of the first-passage time):
//!
//! ```text
//! P(τ ≤ T) = Φ((μT − d) / (σ√T)) + exp(2μd / σ²) · Φ((−d − μT) / (σ√T))
//! ```
//!
//! Unlike a point ETA from a line, it weighs the drift against the noise: a disk 30
//! points from its threshold that wanders by a point a minute and does not move reads
//! ≈ 0, one that fills at 5 points a minute reads ≈ 1 over ten minutes, and one that
//! swings by several points a minute around a level near the threshold reads in between.
//! It needs no labels, so it scores a target that never fired.
//!
//! A volatility of 0 is a deterministic path: 1 when the drift covers the distance
//! within the horizon, else 0. A distance of 0 or less (already beyond) is 1.

/// P(a Brownian motion at `distance` (> 0) from a barrier, drifting toward it at `drift`
/// per second (negative: away) with `volatility` per √second, reaches it within
/// `horizon_s` seconds). NaN when an input is NaN.
pub fn probability(distance: f64, drift: f64, volatility: f64, horizon_s: f64) -> f64 {
    if distance.is_nan() || drift.is_nan() || volatility.is_nan() || horizon_s.is_nan() {
        return f64::NAN;
    }
    if distance <= 0.0 {
        return 1.0;
    }
    if horizon_s <= 0.0 {
        return 0.0;
    }
    let spread = volatility.abs() * horizon_s.sqrt();
    if spread == 0.0 || !spread.is_finite() {
        return if drift * horizon_s >= distance {
            1.0
        } else {
            0.0
        };
    }
    let travel = drift * horizon_s;
    let direct = normal_cdf((travel - distance) / spread);
    // exp(2μd/σ²) · Φ(x) in log space: the exponential can overflow where Φ underflows.
    let exponent = 2.0 * drift * distance / (volatility * volatility);
    let reflected = (exponent + ln_normal_cdf((-distance - travel) / spread)).exp();
    (direct + reflected).clamp(0.0, 1.0)
}

/// Φ(x), the standard normal distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// ln Φ(x), accurate far into the lower tail (where Φ underflows).
fn ln_normal_cdf(x: f64) -> f64 {
    if x > -30.0 {
        return normal_cdf(x).ln();
    }
    // Mills' ratio: Φ(x) ≈ φ(x)/|x| · (1 − 1/x² + 3/x⁴) for x → −∞.
    let x2 = x * x;
    -0.5 * x2 - (-x).ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
        + (1.0 - 1.0 / x2 + 3.0 / (x2 * x2)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Simulated paths with the Brownian-bridge correction between steps (the chance
    /// that the path crossed and came back between two simulated points), so that the
    /// estimate is unbiased for the continuous process.
    fn monte_carlo(distance: f64, drift: f64, volatility: f64, horizon: f64, seed: u64) -> f64 {
        const PATHS: usize = 20_000;
        const STEPS: usize = 100;
        let mut rng = StdRng::seed_from_u64(seed);
        let dt = horizon / STEPS as f64;
        let normal = |rng: &mut StdRng| {
            // Box–Muller.
            let (u, v): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.r#gen());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        };
        let mut hits = 0;
        for _ in 0..PATHS {
            // Position as the distance left to the barrier.
            let mut left = distance;
            for _ in 0..STEPS {
                let next = left - drift * dt - volatility * dt.sqrt() * normal(&mut rng);
                let crossed = next <= 0.0
                    || rng.r#gen::<f64>()
                        < (-2.0 * left * next / (volatility * volatility * dt)).exp();
                if crossed {
                    hits += 1;
                    break;
                }
                left = next;
            }
        }
        hits as f64 / PATHS as f64
    }

    #[test]
    fn agrees_with_a_simulation_of_the_process() {
        // (distance, drift per s, volatility per √s, horizon s): toward, away, no drift,
        // far and near, noisy and smooth.
        let cases = [
            (10.0, 0.02, 0.1, 600.0),
            (10.0, 0.0, 0.3, 600.0),
            (5.0, -0.01, 0.2, 600.0),
            (20.0, 0.05, 0.5, 300.0),
            (1.0, 0.001, 0.05, 60.0),
            (30.0, 0.04, 0.2, 600.0),
        ];
        for (seed, &(d, mu, sigma, horizon)) in cases.iter().enumerate() {
            let exact = probability(d, mu, sigma, horizon);
            let simulated = monte_carlo(d, mu, sigma, horizon, seed as u64);
            // Four standard errors of a 20 000-path proportion, at least 0.004.
            let tolerance = 4.0 * (exact * (1.0 - exact) / 20_000.0).sqrt() + 0.004;
            assert!(
                (exact - simulated).abs() < tolerance,
                "d={d} μ={mu} σ={sigma} T={horizon}: formula {exact}, simulation {simulated}"
            );
        }
    }

    #[test]
    fn limits_are_those_of_a_certain_path() {
        assert_eq!(probability(0.0, -1.0, 1.0, 60.0), 1.0, "already there");
        assert_eq!(probability(-3.0, 0.0, 0.0, 60.0), 1.0, "already beyond");
        assert_eq!(probability(10.0, 0.2, 0.0, 60.0), 1.0, "covers 12 in time");
        assert_eq!(probability(10.0, 0.1, 0.0, 60.0), 0.0, "covers 6");
        assert_eq!(probability(10.0, 1.0, 1.0, 0.0), 0.0, "no time");
        assert!(probability(10.0, f64::NAN, 1.0, 60.0).is_nan());
    }

    #[test]
    fn a_flat_signal_far_from_its_threshold_reads_zero_and_a_fast_fill_one() {
        // 30 points away, wandering 0.3 points per 15 s step, not moving: ≈ 0.
        let idle = probability(30.0, 0.0, 0.3 / 15f64.sqrt(), 600.0);
        assert!(idle < 1e-12, "{idle}");
        // 30 points away, filling 5 points a minute: certain within 10 minutes.
        let filling = probability(30.0, 5.0 / 60.0, 0.3 / 15f64.sqrt(), 600.0);
        assert!(filling > 0.999, "{filling}");
    }

    #[test]
    fn the_reflected_term_neither_overflows_nor_vanishes_wrongly() {
        // 2μd/σ² = 2e6: exp alone overflows; Φ alone underflows.
        let p = probability(1000.0, 1.0, 1.0, 2000.0);
        assert!((p - 1.0).abs() < 1e-12, "{p}");
        let p = probability(1000.0, 1.0, 1.0, 500.0);
        assert!(p < 1e-12, "{p}");
        // Deep tail: ln Φ by its asymptotic series matches ln of the direct value.
        for x in [-30.5f64, -35.0] {
            let direct = normal_cdf(x).ln();
            assert!(
                (ln_normal_cdf(x) - direct).abs() < 1e-6 * direct.abs(),
                "{x}"
            );
        }
    }
}
