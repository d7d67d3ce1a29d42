//! Reading datasets: both formats, gzip, merging files, every error message. The shared
//! lab and NAB data sets are read in `real_data_tests`.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::*;

/// A temporary directory to write CSV files into.
struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Files {
        Files(tempfile::tempdir().unwrap())
    }

    fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn write_gz(&self, name: &str, content: &str) -> PathBuf {
        self.write(name, gzip(content.as_bytes()))
    }

    /// An error's message with this directory left out of the paths in it.
    fn message(&self, error: DatasetError) -> String {
        let dir = format!("{}/", self.0.path().display());
        error.to_string().replace(&dir, "")
    }

    fn error(&self, name: &str, content: impl AsRef<[u8]>) -> String {
        let path = self.write(name, content);
        self.message(read(path).expect_err("the file should be refused"))
    }
}

fn gzip(content: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(content).unwrap();
    encoder.finish().unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|&(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

/// A series as plain data: labels and `(timestamp_ms, value)` pairs.
fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> SeriesData {
    SeriesData {
        labels: labels(pairs),
        samples: samples
            .iter()
            .map(|&(timestamp_ms, value)| Sample {
                timestamp_ms,
                value,
            })
            .collect(),
    }
}

/// A series with its values as bits, so that NaN equals NaN.
#[derive(Debug, PartialEq)]
struct SeriesBits {
    labels: Vec<(String, String)>,
    /// `(timestamp_ms, value bits)` pairs.
    samples: Vec<(i64, u64)>,
}

/// Compares values by bits, so that NaN equals NaN.
fn assert_same(actual: &Dataset, expected: &[SeriesData]) {
    let plain = |series: &[SeriesData]| -> Vec<SeriesBits> {
        series
            .iter()
            .map(|s| {
                let samples = s
                    .samples
                    .iter()
                    .map(|x| (x.timestamp_ms, x.value.to_bits()));
                SeriesBits {
                    labels: s.labels.clone(),
                    samples: samples.collect(),
                }
            })
            .collect()
    };
    assert_eq!(plain(&actual.series), plain(expected));
}

#[test]
fn long_format_rows_become_series_sorted_by_labels_and_time() {
    let files = Files::new();
    let path = files.write(
        "data.csv",
        "name,timestamp,value,instance,job,label_name\n\
         up,1795572240,1,host2,node,\n\
         node_os_info,1795572235,1,host1,node,Debian\n\
         up,1795572235,1,host2,node,\n\
         up,1795572235.0005,0,host1,,\n\
         up,1795572235,1,host2,node,\n\
         node_load1,10.25,NaN,host1,node,\n\
         node_load1,11,+Inf,host1,node,\n\
         node_load1,12,-Inf,host1,node,\n\
         node_load1,13,Inf,host1,node,\n\
         node_load1,14,6.7108864e7,host1,node,\n",
    );
    let dataset = read(path).unwrap();
    assert_same(
        &dataset,
        &[
            series(
                &[
                    ("__name__", "node_load1"),
                    ("instance", "host1"),
                    ("job", "node"),
                ],
                &[
                    (10_250, f64::NAN),
                    (11_000, f64::INFINITY),
                    (12_000, f64::NEG_INFINITY),
                    (13_000, f64::INFINITY),
                    (14_000, 67_108_864.0),
                ],
            ),
            series(
                &[
                    ("__name__", "node_os_info"),
                    ("instance", "host1"),
                    ("job", "node"),
                    ("name", "Debian"),
                ],
                &[(1_795_572_235_000, 1.0)],
            ),
            series(
                &[("__name__", "up"), ("instance", "host1")],
                &[(1_795_572_235_001, 0.0)],
            ),
            series(
                &[("__name__", "up"), ("instance", "host2"), ("job", "node")],
                &[(1_795_572_235_000, 1.0), (1_795_572_240_000, 1.0)],
            ),
        ],
    );
    assert_eq!(dataset.sample_count(), 9);
    let up = dataset.select(&[("__name__", "up"), ("job", "node")]);
    assert_eq!(up.count(), 1);
    let os = &dataset.series[1];
    assert_eq!(os.metric_name(), "node_os_info");
    assert_eq!(os.label("name"), Some("Debian"));
    assert_eq!(os.label("cpu"), None);
    assert_eq!(
        os.selector(),
        r#"node_os_info{instance="host1", job="node", name="Debian"}"#
    );
}

#[test]
fn long_format_columns_may_come_in_any_order() {
    let files = Files::new();
    let path = files.write(
        "data.csv",
        "job,value,timestamp,name\n\"a,b\",2.5,60,\"up\"\n",
    );
    assert_same(
        &read(path).unwrap(),
        &[series(
            &[("__name__", "up"), ("job", "a,b")],
            &[(60_000, 2.5)],
        )],
    );
}

#[test]
fn line_numbers_are_physical_lines_across_blank_lines_quoted_line_breaks_and_crlf() {
    let files = Files::new();
    let lf = "name,timestamp,value,msg\n\
              up,1,1,\"two\nlines\"\n\
              \n\
              up,2,1,\"a, b\"\n\
              up,3,x,\n";
    assert_eq!(
        files.error("lf.csv", lf),
        r#"lf.csv: line 6, column "value": cannot parse "x" as a number"#
    );
    let crlf = lf.replace('\n', "\r\n");
    assert_eq!(
        files.error("crlf.csv", crlf),
        r#"crlf.csv: line 6, column "value": cannot parse "x" as a number"#
    );
    let path = files.write("ok.csv", lf.replace(",x,", ",0,"));
    assert_same(
        &read(path).unwrap(),
        &[
            series(&[("__name__", "up")], &[(3_000, 0.0)]),
            series(&[("__name__", "up"), ("msg", "a, b")], &[(2_000, 1.0)]),
            series(
                &[("__name__", "up"), ("msg", "two\nlines")],
                &[(1_000, 1.0)],
            ),
        ],
    );
}

/// Rows are keyed by their raw text where possible; a label set written in two ways, or a
/// row that straddles two reads of the input, must still be one series.
#[test]
fn a_label_set_is_one_series_however_its_cells_are_written() {
    let files = Files::new();
    let mut csv = String::from("name,timestamp,value,instance,job\n");
    for t in 0..20_000 {
        let row = match t % 3 {
            0 => format!("up,{t},1,host1,node\n"),
            1 => format!("\"up\",{t},1,\"host1\",node\n"),
            _ => format!("up,{t},1,host1,\"no\"\"de\"\n"),
        };
        csv.push_str(&row);
    }
    assert!(csv.len() > 4 << 16, "the rows span several input buffers");
    let dataset = read(files.write("data.csv", &csv)).unwrap();
    let counts: Vec<_> = dataset
        .series
        .iter()
        .map(|s| (s.selector(), s.samples.len()))
        .collect();
    assert_eq!(
        counts,
        [
            (r#"up{instance="host1", job="no\"de"}"#.to_owned(), 6_666),
            (r#"up{instance="host1", job="node"}"#.to_owned(), 13_334),
        ]
    );
}

#[test]
fn grafana_series_joined_by_time_become_one_series_per_column() {
    let files = Files::new();
    // As Grafana writes it: quoted headers with doubled quotes, CRLF line ends.
    let path = files.write(
        "grafana.csv",
        "\"Time\",\"node_load1{instance=\"\"host1\"\", job=\"\"node\"\"}\",\
         \"{__name__=\"\"up\"\", job=\"\"x\"\"}\",\"up\",\
         \"probe{path=\"\"C:\\\\tmp\"\", msg=\"\"say \\\"\"hi\\\"\"\"\"}\"\r\n\
         2026-11-25 01:52:40,0.5,1,,7\r\n\
         2026-11-25T01:52:45Z,0.75,,0,\r\n\
         1795571570000,1,1,1,\r\n\
         \r\n\
         1795571575,,,,\r\n",
    );
    let t = 1_795_571_560_000;
    assert_same(
        &read(path).unwrap(),
        &[
            series(
                &[
                    ("__name__", "node_load1"),
                    ("instance", "host1"),
                    ("job", "node"),
                ],
                &[(t, 0.5), (t + 5_000, 0.75), (t + 10_000, 1.0)],
            ),
            series(
                &[
                    ("__name__", "probe"),
                    ("msg", r#"say "hi""#),
                    ("path", r"C:\tmp"),
                ],
                &[(t, 7.0)],
            ),
            series(
                &[("__name__", "up")],
                &[(t + 5_000, 0.0), (t + 10_000, 1.0)],
            ),
            series(
                &[("__name__", "up"), ("job", "x")],
                &[(t, 1.0), (t + 10_000, 1.0)],
            ),
        ],
    );
}

#[test]
fn grafana_excel_downloads_with_byte_order_mark_and_separator_line_are_read() {
    let files = Files::new();
    let content = "\u{feff}sep=;\r\ntime;up\r\n1795571560000;1\r\n";
    let path = files.write("excel.csv", content);
    assert_same(
        &read(path).unwrap(),
        &[series(&[("__name__", "up")], &[(1_795_571_560_000, 1.0)])],
    );
    // The separator line counts: the bad cell is on line 4 of the file.
    let error = files.error("bad.csv", format!("{content}1795571565000;x\r\n"));
    assert_eq!(
        error,
        r#"bad.csv: line 4, column "up": cannot parse "x" as a number"#
    );
}

#[test]
fn gzip_is_recognised_by_suffix_or_by_magic_bytes() {
    let files = Files::new();
    let csv = "name,timestamp,value\nup,1,1\n";
    let expected = [series(&[("__name__", "up")], &[(1_000, 1.0)])];
    let by_suffix = files.write_gz("data.csv.gz", csv);
    let by_magic = files.write_gz("data.csv", csv);
    assert_same(&read(by_suffix).unwrap(), &expected);
    assert_same(&read(by_magic).unwrap(), &expected);
    // Concatenated gzip members are one stream, as `gzip -c a b` or `cat a.gz b.gz` make.
    let mut two_members = gzip(b"name,timestamp,value\nup,1,1\n");
    two_members.extend(gzip(b"up,2,2\n"));
    let path = files.write("two.csv.gz", two_members);
    assert_same(
        &read(path).unwrap(),
        &[series(&[("__name__", "up")], &[(1_000, 1.0), (2_000, 2.0)])],
    );
}

#[test]
fn files_are_merged_by_label_set_and_shared_samples_kept_once() {
    let files = Files::new();
    let a = files.write("a.csv", "name,timestamp,value,job\nup,1,1,x\nup,2,1,x\n");
    let b = files.write(
        "b.csv.gz",
        gzip(b"Time,up{job=\"x\"},down\n2,1,\n1970-01-01 00:00:03,0,5\n"),
    );
    assert_same(
        &read_files(&[a, b], Duplicates::Error).unwrap().dataset,
        &[
            series(&[("__name__", "down")], &[(3_000, 5.0)]),
            series(
                &[("__name__", "up"), ("job", "x")],
                &[(1_000, 1.0), (2_000, 1.0), (3_000, 0.0)],
            ),
        ],
    );
    let nothing = read_files(&[] as &[&Path], Duplicates::Error).unwrap();
    assert_eq!(nothing.dataset, Dataset::default());
    assert!(nothing.resolved.is_empty());
}

#[test]
fn reading_by_name_keeps_only_those_series_and_still_checks_every_line() {
    let files = Files::new();
    let long = "name,timestamp,value,alertname\nALERTS,1,1,Disk\nup,1,1,\nup,2,0,\n";
    let a = files.write("a.csv", long);
    let b = files.write("b.csv", "Time,ALERTS{alertname=\"Cpu\"},up\n3,1,1\n");
    let loaded = read_files_named(&[&a, &b], Duplicates::Error, &["ALERTS"]).unwrap();
    assert_same(
        &loaded.dataset,
        &[
            series(
                &[("__name__", "ALERTS"), ("alertname", "Cpu")],
                &[(3_000, 1.0)],
            ),
            series(
                &[("__name__", "ALERTS"), ("alertname", "Disk")],
                &[(1_000, 1.0)],
            ),
        ],
    );
    let bad = files.write("bad.csv", "name,timestamp,value\nup,1,x\n");
    let message =
        files.message(read_files_named(&[bad], Duplicates::Error, &["ALERTS"]).unwrap_err());
    assert!(message.contains("line 2"), "{message}");
}

#[test]
fn a_header_without_rows_is_an_empty_dataset() {
    let files = Files::new();
    let path = files.write("data.csv", "name,timestamp,value,job\n");
    assert_eq!(read(path).unwrap(), Dataset::default());
}

/// Two values at one timestamp, within a file (lines 2 and 4) and across files: `first`
/// and `last` keep one each and count, per file, the samples that repeated a timestamp;
/// a repeat with the same value is no conflict and is not counted.
#[test]
fn duplicates_keep_the_first_or_the_last_value_and_are_counted_per_file() {
    let files = Files::new();
    let a = files.write(
        "a.csv",
        "name,timestamp,value\nup,1,1\nup,2,2\nup,1,3\nup,2,2\n",
    );
    let b = files.write("b.csv", "name,timestamp,value\nup,2,7\nup,3,4\n");
    let up = |values: &[(i64, f64)]| vec![series(&[("__name__", "up")], values)];
    for (duplicates, expected, counts) in [
        (
            Duplicates::First,
            up(&[(1_000, 1.0), (2_000, 2.0), (3_000, 4.0)]),
            [1, 1],
        ),
        (
            Duplicates::Last,
            up(&[(1_000, 3.0), (2_000, 7.0), (3_000, 4.0)]),
            [1, 1],
        ),
    ] {
        let loaded = read_files(&[&a, &b], duplicates).unwrap();
        assert_same(&loaded.dataset, &expected);
        let resolved: Vec<(PathBuf, usize)> = loaded
            .resolved
            .into_iter()
            .map(|r| (r.path, r.samples))
            .collect();
        assert_eq!(
            resolved,
            vec![(a.clone(), counts[0]), (b.clone(), counts[1])],
            "{duplicates:?}"
        );
    }
    let error = files.message(read_files(&[&a, &b], Duplicates::Error).unwrap_err());
    assert_eq!(
        error,
        "a.csv: line 4: up has two values at 1: 1 on line 2 and 3 on this line"
    );
}

#[path = "error_tests.rs"]
mod errors;
