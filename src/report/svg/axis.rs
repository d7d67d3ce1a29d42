//! An axis of a plot: a range in data units, round ticks inside it and their labels.

/// One axis: its range, where its ticks are and what they say, and its label.
#[derive(Debug, Clone)]
pub(in crate::report) struct Axis {
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) ticks: Vec<(f64, String)>,
    pub(super) label: String,
}

impl Axis {
    /// Exactly `[min, max]`, with round ticks inside it.
    pub(in crate::report) fn exact(min: f64, max: f64, label: impl Into<String>) -> Self {
        let (min, max) = nonempty(min, max);
        let step = nice_step(max - min);
        let first = (min / step - 1e-9).ceil() as i64;
        let last = (max / step + 1e-9).floor() as i64;
        let ticks = (first..=last)
            .map(|i| {
                let value = i as f64 * step;
                (value, tick_label(value, step))
            })
            .collect();
        Self {
            min,
            max,
            ticks,
            label: label.into(),
        }
    }

    /// `[min, max]` widened out to the nearest round ticks.
    pub(in crate::report) fn rounded(min: f64, max: f64, label: impl Into<String>) -> Self {
        let (min, max) = nonempty(min, max);
        let step = nice_step(max - min);
        Self::exact(
            (min / step).floor() * step,
            (max / step).ceil() * step,
            label,
        )
    }

    /// One tick per name, at 0, 1, 2, ..., with half a step of room either side.
    pub(in crate::report) fn categories(names: &[String]) -> Self {
        Self {
            min: -0.5,
            max: names.len() as f64 - 0.5,
            ticks: names
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, n)| (i as f64, n))
                .collect(),
            label: String::new(),
        }
    }

    /// The fraction of the way from `min` to `max` that `value` lies.
    pub(super) fn share(&self, value: f64) -> f64 {
        (value - self.min) / (self.max - self.min)
    }

    /// How many characters the longest tick label has.
    pub(super) fn widest_tick(&self) -> usize {
        let chars = self.ticks.iter().map(|(_, t)| t.chars().count()).max();
        chars.unwrap_or(0)
    }
}

/// A range with some width: an empty or non-finite one is widened so it can be drawn.
fn nonempty(min: f64, max: f64) -> (f64, f64) {
    match (min.is_finite() && max.is_finite(), max - min) {
        (false, _) => (0.0, 1.0),
        (true, span) if span > 0.0 => (min, max),
        (true, _) => {
            let pad = if min == 0.0 { 1.0 } else { min.abs() * 0.05 };
            (min - pad, min + pad)
        }
    }
}

/// A step of 1, 2 or 5 times a power of ten that cuts `span` into about five parts.
fn nice_step(span: f64) -> f64 {
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let factor = match raw / magnitude {
        n if n < 1.5 => 1.0,
        n if n < 3.0 => 2.0,
        n if n < 7.0 => 5.0,
        _ => 10.0,
    };
    factor * magnitude
}

/// A tick's text with as many decimals as its step needs, large values with an SI
/// prefix (`250M`, not `250000000`).
fn tick_label(value: f64, step: f64) -> String {
    let (divisor, suffix) = [(1e9, "G"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|(d, _)| step >= *d)
        .unwrap_or((1.0, ""));
    let decimals = (-(step / divisor).log10().floor()).max(0.0) as usize;
    // Avoids "-0" for a tick at zero that carries rounding noise.
    let value = if value.abs() < step * 1e-6 {
        0.0
    } else {
        value
    };
    format!("{:.*}{suffix}", decimals, value / divisor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let axis = Axis::rounded(3.2, 97.5, "");
        let values: Vec<f64> = axis.ticks.iter().map(|(v, _)| *v).collect();
        assert_eq!(values, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let axis = Axis::exact(0.0, 1.0, "");
        let labels: Vec<&str> = axis.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(tick_label(250e6, 50e6), "250M");
    }

    #[test]
    fn an_empty_or_missing_range_still_draws() {
        let axis = Axis::exact(5.0, 5.0, "");
        assert!(axis.min < 5.0 && 5.0 < axis.max);
        let axis = Axis::exact(f64::NAN, f64::NAN, "");
        assert_eq!((axis.min, axis.max), (0.0, 1.0));
    }
}
