//! Functions applied to each element's value: `abs(x)`, `clamp_min(x, 0)`, ...
//!
//! All of them drop `__name__` from the output labels (Prometheus's `DropMetricName`).

/// A function of one sample value (and constant parameters).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MathFunction {
    Abs,
    Ceil,
    Floor,
    /// `round(v, to_nearest)`; `round(v)` is `to_nearest: 1.0`.
    Round {
        to_nearest: f64,
    },
    Ln,
    Exp,
    Sqrt,
    ClampMin {
        min: f64,
    },
    ClampMax {
        max: f64,
    },
}

impl MathFunction {
    pub fn apply(&self, v: f64) -> f64 {
        match *self {
            MathFunction::Abs => v.abs(),
            MathFunction::Ceil => v.ceil(),
            MathFunction::Floor => v.floor(),
            MathFunction::Round { to_nearest } => {
                // Prometheus multiplies by the inverse ("fewer floating point accuracy
                // issues") and breaks ties upwards, also for negative values:
                // round(-2.5) = -2, unlike Rust's f64::round.
                let inverse = 1.0 / to_nearest;
                (v * inverse + 0.5).floor() / inverse
            }
            MathFunction::Ln => v.ln(),
            MathFunction::Exp => v.exp(),
            MathFunction::Sqrt => v.sqrt(),
            MathFunction::ClampMin { min } => go_max(min, v),
            MathFunction::ClampMax { max } => go_min(max, v),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            MathFunction::Abs => "abs",
            MathFunction::Ceil => "ceil",
            MathFunction::Floor => "floor",
            MathFunction::Round { .. } => "round",
            MathFunction::Ln => "ln",
            MathFunction::Exp => "exp",
            MathFunction::Sqrt => "sqrt",
            MathFunction::ClampMin { .. } => "clamp_min",
            MathFunction::ClampMax { .. } => "clamp_max",
        }
    }
}

/// Go's `math.Max`, which `clamp_min` uses: +Inf wins over NaN, then NaN wins over
/// everything (so a NaN bound makes every output NaN), and +0 is above -0. Rust's
/// `f64::max` instead ignores a NaN operand.
fn go_max(x: f64, y: f64) -> f64 {
    if x == f64::INFINITY || y == f64::INFINITY {
        f64::INFINITY
    } else if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && y == 0.0 {
        if x.is_sign_negative() { y } else { x }
    } else if x > y {
        x
    } else {
        y
    }
}

/// Go's `math.Min`, which `clamp_max` uses: -Inf wins over NaN, then NaN wins over
/// everything, and -0 is below +0.
fn go_min(x: f64, y: f64) -> f64 {
    if x == f64::NEG_INFINITY || y == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && y == 0.0 {
        if x.is_sign_negative() { x } else { y }
    } else if x < y {
        x
    } else {
        y
    }
}
