//! The shared data sets read as their READMEs describe them: lab-dev's figures, and
//! every nab-dev file, the two whose source repeats timestamps included.

use std::path::PathBuf;
use std::time::Instant;

use super::*;

const LAB_DEV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/lab-dev/metrics.csv.gz"
);
/// lab-dev's export, read, for tests anywhere on real data.
pub(crate) fn lab_dev() -> Dataset {
    read(LAB_DEV).expect("../shared/data/lab-dev is read")
}

const NAB_DEV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/nab-dev");

/// The figures of `lab-dev/README.md`: 4153 series, 2,235,328 samples, 38 `ALERTS` series.
#[test]
fn lab_dev_matches_its_readme() {
    let started = Instant::now();
    let dataset = read(LAB_DEV);
    eprintln!("read lab-dev in {:?}", started.elapsed());
    let dataset = dataset.unwrap();
    assert_eq!(dataset.series.len(), 4153);
    assert_eq!(dataset.sample_count(), 2_235_328);
    assert_eq!(dataset.select(&[("__name__", "ALERTS")]).count(), 38);
    let avail = [
        ("__name__", "node_filesystem_avail_bytes"),
        ("instance", "host8"),
    ];
    let host8: Vec<_> = dataset.select(&avail).collect();
    assert_eq!(host8.len(), 1);
    assert!(!host8[0].samples.is_empty());
    // The export window is 544 steps of 5 s.
    let first = host8[0].samples.first().unwrap().timestamp_ms;
    let last = host8[0].samples.last().unwrap().timestamp_ms;
    assert_eq!((first, last), (1_795_571_575_000, 1_795_574_290_000));
}

/// Every NAB file has the row count of `windows.json`, except two whose source repeats
/// timestamps: see the next test.
#[test]
fn nab_dev_files_have_the_row_counts_of_windows_json() {
    let windows = std::fs::read_to_string(format!("{NAB_DEV}/windows.json")).unwrap();
    let windows: serde_json::Value = serde_json::from_str(&windows).unwrap();
    let windows = windows.as_object().unwrap();
    assert_eq!(windows.len(), 26);
    for (name, window) in windows {
        if matches!(
            name.as_str(),
            "ec2_disk_write_bytes_1ef3de" | "machine_temperature_system_failure"
        ) {
            continue;
        }
        let dataset = read(format!("{NAB_DEV}/{name}.csv.gz")).unwrap();
        assert_eq!(dataset.series.len(), 1, "{name}");
        let series = &dataset.series[0];
        assert_eq!(series.label("instance"), Some(name.as_str()));
        let rows = window["rows"].as_u64().unwrap();
        assert_eq!(series.samples.len() as u64, rows, "{name}");
    }
}

/// Two NAB sources repeat timestamps. One repeats a single timestamp 12 times with the
/// same value: read as one sample. The other goes back an hour (a daylight-saving hour
/// folded) and gives 12 timestamps a second, different value: refused when asked, and by
/// default read with the later value of each, the 12 counted.
#[test]
fn nab_dev_files_with_repeated_timestamps() {
    let disk = read(format!("{NAB_DEV}/ec2_disk_write_bytes_1ef3de.csv.gz")).unwrap();
    assert_eq!(disk.series[0].samples.len(), 4730 - 11);

    let name = "machine_temperature_system_failure";
    let error = read(format!("{NAB_DEV}/{name}.csv.gz")).unwrap_err();
    assert_eq!(
        error.to_string().replace(NAB_DEV, "nab-dev"),
        format!(
            "nab-dev/{name}.csv.gz: line 10151: nab_value{{category=\"realKnownCause\", \
             instance=\"{name}\", job=\"nab\"}} has two values at 1389060000: 94.42340604 \
             on line 10139 and 94.13972336 on this line"
        )
    );
    let path = PathBuf::from(format!("{NAB_DEV}/{name}.csv.gz"));
    let loaded = read_files(&[&path], Duplicates::default()).unwrap();
    assert_eq!(loaded.dataset.series[0].samples.len(), 22695 - 12);
    assert_eq!(
        loaded.resolved,
        vec![ResolvedDuplicates { path, samples: 12 }]
    );
}
