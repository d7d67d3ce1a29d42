//! A trajectory's feature rows as training and `backtest` keep them: only the columns
//! something reads, stored as `f32`.
//!
//! In: full feature rows (every column of the signal's `FeatureSpec::names`), one per
//! step. Out: per step, a row of the same width with the kept columns restored and NaN
//! in the others, so that scoring code indexes it as it indexes a live row.
//!
//! Why: at estate scale (1,000 entities × 7 days at 15 s is 40 M rows) full rows of 34
//! `f64` in a `Vec` each would take 12 GB; the 15 columns a target reads as `f32` take
//! 2.4 GB. An `f32` keeps 24 bits of mantissa: a relative error of at most 6e-8 (the
//! features may lose 1e-6), NaN and infinities as they are.

use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Rows {
    /// The kept columns of a full row, ascending.
    columns: Arc<[usize]>,
    /// The width of a full row.
    width: usize,
    len: usize,
    /// `len × columns.len()`, row after row.
    values: Vec<f32>,
}

impl Rows {
    /// No rows yet, keeping `columns` (ascending) of full rows of `width`.
    pub fn new(columns: Arc<[usize]>, width: usize) -> Rows {
        debug_assert!(columns.windows(2).all(|w| w[0] < w[1]));
        debug_assert!(columns.last().is_none_or(|&c| c < width));
        Rows {
            columns,
            width,
            len: 0,
            values: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends the kept columns of a full row.
    pub fn push(&mut self, row: &[f64]) {
        debug_assert_eq!(row.len(), self.width);
        self.values
            .extend(self.columns.iter().map(|&column| row[column] as f32));
        self.len += 1;
    }

    /// Row `step` at full width in `row` (reused between calls: columns not kept stay
    /// NaN), returned.
    pub fn read<'r>(&self, step: usize, row: &'r mut Vec<f64>) -> &'r [f64] {
        if row.len() != self.width {
            row.clear();
            row.resize(self.width, f64::NAN);
        }
        let kept = self.columns.len();
        let values = &self.values[step * kept..(step + 1) * kept];
        for (&column, &value) in self.columns.iter().zip(values) {
            row[column] = f64::from(value);
        }
        row
    }

    /// `f(step, row)` of every row, in order.
    pub fn map<T>(&self, mut f: impl FnMut(usize, &[f64]) -> T) -> Vec<T> {
        let mut row = Vec::new();
        (0..self.len)
            .map(|step| f(step, self.read(step, &mut row)))
            .collect()
    }

    /// One kept column's value at every step.
    pub fn column(&self, column: usize) -> Vec<f64> {
        let Some(at) = self.columns.iter().position(|&c| c == column) else {
            panic!("column {column} is not kept");
        };
        let kept = self.columns.len();
        (0..self.len)
            .map(|step| f64::from(self.values[step * kept + at]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_columns_come_back_within_the_features_error_and_the_others_are_nan() {
        let mut rows = Rows::new(Arc::from([0, 2, 3]), 4);
        let first = [123_456_789.123, 7.0, -1e-9, f64::NAN];
        let second = [f64::INFINITY, 1.0, 4.2e12, f64::NEG_INFINITY];
        rows.push(&first);
        rows.push(&second);
        assert_eq!(rows.len(), 2);
        let mut row = Vec::new();
        let read = rows.read(0, &mut row);
        for (got, want) in [(read[0], first[0]), (read[2], first[2])] {
            assert!(((got - want) / want).abs() < 1e-6, "{got} for {want}");
        }
        assert!(read[1].is_nan(), "column 1 is not kept");
        assert!(read[3].is_nan());
        let read = rows.read(1, &mut row);
        assert_eq!(read[0], f64::INFINITY);
        assert!(
            read[1].is_nan(),
            "reading another row keeps the column unkept"
        );
        assert!(((read[2] - 4.2e12) / 4.2e12).abs() < 1e-6);
        assert_eq!(read[3], f64::NEG_INFINITY);
        assert_eq!(rows.column(3)[1], f64::NEG_INFINITY);
    }
}
