//! The data files of the PromQL differential test: a data set written as long-format
//! CSV (for harbinger) and as TSDB blocks (for Prometheus), and the lab-dev export read
//! back.
//!
//! In: series, or the path of a gzip lab export. Out: the CSV and TSDB paths with the span
//! that covers the data (`prepare`), the series of the wanted metric names (`load_lab`),
//! and `parse_seconds` for CSV timestamps.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::support::prometheus::{
    Series, Span, create_blocks, format_seconds, format_value, parse_value, write_openmetrics,
};

/// Unix seconds with up to three decimals, to ms.
pub fn parse_seconds(text: &str) -> Option<i64> {
    let (int, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis = format!("{fraction:0<3}").parse::<i64>().ok()?;
    Some(int.parse::<i64>().ok()? * 1000 + millis)
}

/// Writes `series` in `dir` as long-format CSV and as TSDB blocks; returns their paths
/// and the span that covers the data at `step_ms`.
pub fn prepare(dir: &Path, series: &[Series], step_ms: i64) -> (PathBuf, PathBuf, Span) {
    std::fs::create_dir_all(dir).expect("creating a data directory");
    let csv = dir.join("data.csv");
    write_long_csv(series, &csv);
    let openmetrics = dir.join("data.om");
    write_openmetrics(series, &openmetrics);
    let tsdb = dir.join("tsdb");
    create_blocks(&openmetrics, &tsdb);
    (csv, tsdb, Span::covering(series, step_ms))
}

/// `name,timestamp,value,<label names, sorted>`, as lab-dev's export; the label `name`
/// is the column `label_name`.
fn write_long_csv(series: &[Series], path: &Path) {
    let columns: std::collections::BTreeSet<&str> = series
        .iter()
        .flat_map(|s| s.labels.keys().map(String::as_str))
        .collect();
    let mut out = csv::Writer::from_path(path).expect("creating the CSV file");
    let header = ["name", "timestamp", "value"].into_iter().chain(
        columns
            .iter()
            .map(|&c| if c == "name" { "label_name" } else { c }),
    );
    out.write_record(header).expect("writing CSV");
    for s in series {
        for &(t, v) in &s.samples {
            let mut record = vec![s.name.clone(), format_seconds(t), format_value(v)];
            record.extend(
                columns
                    .iter()
                    .map(|&c| s.labels.get(c).cloned().unwrap_or_default()),
            );
            out.write_record(&record).expect("writing CSV");
        }
    }
    out.flush().expect("writing CSV");
}

/// The series of `names` in a lab export (gzip long-format CSV without quoted cells).
pub fn load_lab(path: &Path, names: &[&str]) -> Vec<Series> {
    let file = File::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let text = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, file));
    let mut lines = BufReader::with_capacity(1 << 20, text).lines();
    let header = lines.next().expect("a header").expect("reading the export");
    let labels: Vec<&str> = header
        .split(',')
        .skip(3)
        .map(|c| if c == "label_name" { "name" } else { c })
        .collect();
    let wanted: HashSet<&str> = names.iter().copied().collect();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut series: Vec<Series> = Vec::new();
    for line in lines {
        let line = line.expect("reading the export");
        let Some((name, rest)) = line.split_once(',') else {
            continue;
        };
        if !wanted.contains(name) {
            continue;
        }
        assert!(!line.contains('"'), "quoted cells are not expected: {line}");
        let mut cells = rest.splitn(3, ',');
        let (Some(t), Some(v), Some(label_cells)) = (cells.next(), cells.next(), cells.next())
        else {
            panic!("short line: {line}");
        };
        let t = parse_seconds(t).unwrap_or_else(|| panic!("bad timestamp: {line}"));
        let v = parse_value(v).unwrap_or_else(|| panic!("bad value: {line}"));
        let key = format!("{name},{label_cells}");
        let i = *index.entry(key).or_insert_with(|| {
            let values = label_cells.split(',');
            series.push(Series {
                name: name.to_owned(),
                labels: labels
                    .iter()
                    .zip(values)
                    .filter(|(_, value)| !value.is_empty())
                    .map(|(k, v)| (k.to_string(), v.to_owned()))
                    .collect(),
                samples: Vec::new(),
            });
            series.len() - 1
        });
        series[i].samples.push((t, v));
    }
    let found: HashSet<&str> = series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(found, wanted, "metric names found in {}", path.display());
    for s in &mut series {
        s.samples.sort_by_key(|&(t, _)| t);
    }
    series
}
