//! The `harbinger` binary's offline commands, run as a user runs them: `query`,
//! `features` (on one core and on several) and `check`, on the lab-dev export and on
//! bad input.

mod command;

use arrow_array::Array;
use command::{harbinger, text};

const LAB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/lab-dev/metrics.csv.gz"
);
const PIPELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/node-exporter.yml");

#[test]
fn query_prints_a_signal_as_csv() {
    let out = harbinger(&[
        "query",
        "--data",
        LAB,
        "--step",
        "60s",
        "--start",
        "1795572235",
        "--end",
        "1795572295",
        "--expr",
        "(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("timestamp,device,fstype,instance,job,mountpoint,value")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2 * 8, "two steps, eight hosts");
    assert!(rows[0].starts_with("1795572235,tmpfs,tmpfs,host1,node,/srv/data,"));
    let free: f64 = rows[0].rsplit(',').next().unwrap().parse().unwrap();
    assert!((0.0..=100.0).contains(&free), "{free}");
}

#[test]
fn query_refuses_unsupported_promql_with_its_position() {
    let out = harbinger(&["query", "--data", LAB, "--expr", "rate(up[5m] offset 1m)"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "harbinger: \"rate(up[5m] offset 1m)\": offset modifier at column 13 is not supported"
    );
}

/// `harbinger features` over three steps of lab-dev, into `out`.
fn write_features(out: &std::path::Path) {
    let out = harbinger(&[
        "features",
        "--pipeline",
        PIPELINE,
        "--data",
        LAB,
        "--out",
        out.to_str().unwrap(),
        "--start",
        "1795572235",
        "--end",
        "1795572265",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn features_writes_one_row_per_step_signal_and_entity() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("features.csv");
    write_features(&table);
    let csv = std::fs::read_to_string(&table).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.starts_with("timestamp,signal,instance,mountpoint,level,"),
        "{header}"
    );
    assert!(header.contains("eta_seconds:HostOutOfDiskSpace"));
    // 3 steps of 15 s; 6 signals for 8 hosts (the disk signal per host and mountpoint).
    assert_eq!(csv.lines().count(), 1 + 3 * 6 * 8);
    let disk_rows = csv
        .lines()
        .filter(|l| l.contains(",HostOutOfDiskSpace,"))
        .count();
    assert_eq!(disk_rows, 3 * 8);
}

#[test]
fn features_over_several_cores_writes_the_table_of_one_replay() {
    let dir = tempfile::tempdir().unwrap();
    let table = |threads: &str| {
        let path = dir.path().join(format!("features-{threads}.csv"));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_harbinger"))
            .args(["features", "--data", LAB, "--out", path.to_str().unwrap()])
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains(&format!("parts={threads}")));
        std::fs::read_to_string(path).unwrap()
    };
    let one = table("1");
    assert!(one.lines().count() > 181 * 6 * 8, "every step of lab-dev");
    assert!(one == table("3"), "split by instance over three threads");
}

#[test]
fn features_without_a_pipeline_uses_the_built_in_one_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harbinger"))
        .args([
            "features",
            "--data",
            LAB,
            "--out",
            "f.csv",
            "--start",
            "1795572235",
            "--end",
            "1795572265",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let with_file = dir.path().join("with-file.csv");
    write_features(&with_file);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("f.csv")).unwrap(),
        std::fs::read_to_string(with_file).unwrap(),
        "the built-in pipeline is pipelines/node-exporter.yml"
    );
}

#[test]
fn features_writes_the_same_table_as_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str| {
        let path = dir.path().join(name);
        write_features(&path);
        path
    };
    let csv = std::fs::read_to_string(write("features.csv")).unwrap();
    let file = std::fs::File::open(write("features.parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    let schema = batches[0].schema();
    let header: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(header.join(","), csv.lines().next().unwrap());

    // Every cell equals the CSV's: empty is null, numbers as written.
    let mut rows = csv.lines().skip(1);
    for batch in &batches {
        let cast =
            |column| arrow_cast::cast(batch.column(column), &arrow_schema::DataType::Utf8).unwrap();
        let columns: Vec<_> = (1..batch.num_columns()).map(cast).collect();
        let timestamps = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::TimestampMillisecondArray>()
            .unwrap();
        for row in 0..batch.num_rows() {
            let expected: Vec<&str> = rows.next().expect("as many CSV rows").split(',').collect();
            assert_eq!((timestamps.value(row) / 1000).to_string(), expected[0]);
            for (column, cell) in columns.iter().zip(&expected[1..]) {
                let strings = column
                    .as_any()
                    .downcast_ref::<arrow_array::StringArray>()
                    .unwrap();
                let got = if strings.is_null(row) {
                    ""
                } else {
                    strings.value(row)
                };
                match (got.parse::<f64>(), cell.parse::<f64>()) {
                    (Ok(a), Ok(b)) => assert!(a == b || a.is_nan() && b.is_nan(), "{a} vs {b}"),
                    _ => assert_eq!(got, *cell),
                }
            }
        }
    }
    assert_eq!(rows.next(), None, "as many Parquet rows");
}

#[test]
fn check_reports_a_broken_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("p.yml");
    std::fs::write(
        &pipeline,
        "step: 15s\nentity_labels: [instance]\nsignal: []\n",
    )
    .unwrap();
    let out = harbinger(&["check", "--pipeline", pipeline.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let message = text(&out.stderr);
    assert!(message.contains("unknown field `signal`"), "{message}");

    let out = harbinger(&["check", "--pipeline", PIPELINE]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("4 targets: HostOutOfDiskSpace"));
}

/// `check --config` says what each false-ticket budget will pick, as `serve` will.
#[test]
fn check_says_what_a_false_ticket_budget_picks() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("h.yml");
    std::fs::write(&config, "false_ticket_budget:\n  HostOutOfDiskSpace: 5\n").unwrap();
    let out = harbinger(&["check", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains(
            "HostOutOfDiskSpace: a budget of 5 false tickets per entity-day, within it: p ≥"
        ),
        "{said}"
    );
}

#[test]
fn log_lines_to_a_file_carry_no_colour_codes() {
    // A warning (a repeated timestamp), with stderr a pipe and NO_COLOR unset, as under
    // systemd or with `2> file`.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("repeated.csv");
    std::fs::write(&csv, "name,timestamp,value,instance\nup,1,1,a\nup,1,2,a\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harbinger"))
        .args(["query", "--expr", "up", "--data"])
        .arg(&csv)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = text(&out.stderr);
    assert!(log.contains("WARN"), "{log}");
    assert!(!log.contains('\u{1b}'), "ANSI escape codes in {log:?}");
}
