//! Grafana's "series joined by time": a time column, then one column per series.
//!
//! In: the header (`Time`, then series names such as `node_load1{instance="host1"}`) and
//! the file's records. Out: samples pushed into the `Builder`. A time cell is a date and
//! time (UTC unless it says otherwise) or epoch seconds or milliseconds; an empty value
//! cell means the series has no sample at that time.

use super::builder::{Builder, Located};
use super::error::{At, DatasetError, Problem};
use super::long::{lossy, parse_value};
use super::selector::parse_series;
use super::source::CsvFile;
use super::time::parse_grafana_time;

/// Whether a header is this format's: its first column is the time.
pub fn is_time_column(column: &str) -> bool {
    matches!(column, "Time" | "time")
}

pub fn read(
    file: &mut CsvFile<'_>,
    file_id: u32,
    header: &[String],
    header_line: u32,
    builder: &mut Builder,
) -> Result<(), DatasetError> {
    let mut series = Vec::with_capacity(header.len() - 1);
    for column in &header[1..] {
        let labels = parse_series(column).map_err(|reason| {
            file.error(
                At::cell(header_line.into(), column),
                Problem::SeriesName(reason),
            )
        })?;
        series.push(builder.intern(labels));
    }
    while let Some(line) = file.next()? {
        let cell_error =
            |column: usize, problem| file.error(At::cell(line.into(), &header[column]), problem);
        let timestamp_ms = match file.field(0) {
            b"" => return Err(cell_error(0, Problem::EmptyCell)),
            text => {
                parse_grafana_time(text).ok_or_else(|| cell_error(0, Problem::Time(lossy(text))))?
            }
        };
        for (column, &series) in series.iter().enumerate().map(|(i, s)| (i + 1, s)) {
            let value = match file.field(column) {
                b"" => continue,
                text => parse_value(text)
                    .ok_or_else(|| cell_error(column, Problem::Number(lossy(text))))?,
            };
            builder.push(
                series,
                Located {
                    timestamp_ms,
                    value,
                    file: file_id,
                    line,
                },
            );
        }
    }
    Ok(())
}
