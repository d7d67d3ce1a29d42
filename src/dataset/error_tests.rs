//! Every error of reading datasets names the file, and where it can the line and column.

use super::*;

#[test]
fn every_error_names_the_file_line_and_column() {
    let files = Files::new();
    let cases: &[(&str, &[u8], &str)] = &[
        ("data.csv", b"", "data.csv: the file is empty (a CSV header was expected)"),
        ("data.csv", b"\n\n", "data.csv: the file is empty (a CSV header was expected)"),
        (
            "data.csv",
            b"name,timestamp,instance\nup,1,a\n",
            "data.csv: line 1: no \"value\" column: the long format needs the columns name, \
             timestamp and value",
        ),
        (
            "data.csv",
            b"timestamp,value\n",
            "data.csv: line 1: no \"name\" column: the long format needs the columns name, \
             timestamp and value",
        ),
        (
            "data.csv",
            b"a,b,c\n1,2,3\n",
            "data.csv: line 1: unrecognised header \"a,b,c\": expected the long format \
             \"name,timestamp,value,<label columns>\" or Grafana's series joined by time \
             \"Time,<one column per series>\"",
        ),
        (
            "data.csv",
            b"Temps,node_load1,node_load5,node_load15,node_memory_MemFree_bytes,node_memory_MemTotal_bytes\n",
            "data.csv: line 1: unrecognised header \"Temps,node_load1,node_load5,node_load15,node_memory_MemFree_\
             bytes,node_memory...\": expected the long format \
             \"name,timestamp,value,<label columns>\" or Grafana's series joined by time \
             \"Time,<one column per series>\"",
        ),
        (
            "data.csv",
            b"name,timestamp,value,job,job\n",
            "data.csv: line 1, column \"job\": the column appears twice (first as column 4)",
        ),
        (
            "data.csv",
            b"name,timestamp,value,name\n",
            "data.csv: line 1, column \"name\": the column appears twice (first as column 1)",
        ),
        (
            "data.csv",
            b"name,timestamp,value,,job\n",
            "data.csv: line 1: column 4 has an empty name",
        ),
        (
            "data.csv",
            b"name,timestamp,value,__name__\n",
            "data.csv: line 1, column \"__name__\": a label column cannot be called \
             \"__name__\": the metric name is in the \"name\" column",
        ),
        (
            "data.csv",
            b"name,timestamp,value\nup,1,1\nup,2,abc\n",
            "data.csv: line 3, column \"value\": cannot parse \"abc\" as a number",
        ),
        (
            "data.csv",
            b"name,timestamp,value\nup,1,\n",
            "data.csv: line 2, column \"value\": the cell is empty",
        ),
        (
            "data.csv",
            b"name,timestamp,value\nup,12:00,1\n",
            "data.csv: line 2, column \"timestamp\": cannot parse \"12:00\" as a unix \
             timestamp in seconds",
        ),
        (
            "data.csv",
            b"name,timestamp,value\nup,,1\n",
            "data.csv: line 2, column \"timestamp\": the cell is empty",
        ),
        (
            "data.csv",
            b"name,timestamp,value,job\n,1,1,x\n",
            "data.csv: line 2, column \"name\": the metric name is empty",
        ),
        (
            "data.csv",
            b"name,timestamp,value,job\nup,1,1,\xff\n",
            "data.csv: line 2, column \"job\": the cell is not valid UTF-8",
        ),
        (
            "data.csv",
            b"name,timestamp,value\nup,1,1\nup,2,1,extra\n",
            "data.csv: line 3: the row has 4 fields but the header has 3",
        ),
        (
            "data.csv",
            b"name,timestamp,value,job\nup,1795572235,1,x\nup,1795572240,1,x\n\
              up,1795572235.0001,0,x\n",
            "data.csv: line 4: up{job=\"x\"} has two values at 1795572235: 1 on line 2 and 0 \
             on this line",
        ),
        (
            "data.csv",
            b"Time,sum(rate(x[5m]))\n",
            "data.csv: line 1, column \"sum(rate(x[5m]))\": cannot read the header as a series \
             name such as node_load1{instance=\"host1\"}: unexpected \"(rate(x[5m]))\" after \
             the series name",
        ),
        (
            "data.csv",
            b"Time,up{job!=\"x\"}\n",
            "data.csv: line 1, column \"up{job!=\\\"x\\\"}\": cannot read the header as a \
             series name such as node_load1{instance=\"host1\"}: label \"job\" has the \
             matcher \"!=\": only \"=\" names a series",
        ),
        (
            "data.csv",
            b"Time,up\nyesterday,1\n",
            "data.csv: line 2, column \"Time\": cannot parse \"yesterday\" as a time: expected \
             a date and time such as 2026-11-25T01:52:40Z or 2026-11-25 01:52:40 (UTC), or \
             epoch seconds or milliseconds",
        ),
        (
            "data.csv",
            b"time,up\n,1\n",
            "data.csv: line 2, column \"time\": the cell is empty",
        ),
        (
            "data.csv",
            b"Time,up{job=\"x\"}\n1,1\n2,1 K\n",
            "data.csv: line 3, column \"up{job=\\\"x\\\"}\": cannot parse \"1 K\" as a number",
        ),
        (
            "data.csv",
            b"Time,up,up\n1,1,2\n",
            "data.csv: line 2: up has two values at 1: 1 on line 2 and 2 on this line",
        ),
        (
            "data.csv.gz",
            b"name,timestamp,value\n",
            "data.csv.gz: the name ends in .gz but the content is not gzip",
        ),
    ];
    for &(name, content, expected) in cases {
        let shown = String::from_utf8_lossy(content);
        assert_eq!(files.error(name, content), expected, "{shown}");
    }
}

#[test]
fn file_errors_name_the_file() {
    let files = Files::new();
    let missing = files.0.path().join("missing.csv");
    let error = files.message(read(missing).unwrap_err());
    assert_eq!(
        error,
        "missing.csv: cannot open: No such file or directory (os error 2)"
    );

    let empty_gzip = files.error("empty.csv.gz", gzip(b""));
    assert_eq!(
        empty_gzip,
        "empty.csv.gz: the file is empty (a CSV header was expected)"
    );

    // Cut in the first buffer read, then in the middle of the rows.
    let rows = |count: usize| {
        let rows: String = (0..count).map(|t| format!("up,{t},1\n")).collect();
        gzip(format!("name,timestamp,value\n{rows}").as_bytes())
    };
    let small = rows(100);
    let cut = files.error("cut.csv.gz", &small[..small.len() / 2]);
    assert!(cut.starts_with("cut.csv.gz: cannot read: "), "{cut}");
    let large = rows(100_000);
    let cut = files.error("cut.csv.gz", &large[..large.len() / 2]);
    assert!(cut.starts_with("cut.csv.gz: line "), "{cut}");
    assert!(cut.contains(": cannot read: "), "{cut}");
}

#[test]
fn a_sample_in_two_files_with_different_values_names_both_files() {
    let files = Files::new();
    let a = files.write("a.csv", "name,timestamp,value\nup,1,1\n");
    let b = files.write("b.csv", "Time,up\n2,5\n1,0\n");
    let error = files.message(read_files(&[a, b], Duplicates::Error).unwrap_err());
    assert_eq!(
        error,
        "b.csv: line 3: up has two values at 1: 1 on a.csv line 2 and 0 on this line"
    );
}
