//! The anomaly detector alone (`harbinger::features::anomaly`): time per value and bytes
//! per series, over the 26 real nab-dev series (about 130 000 values: daily cycles, flat
//! stretches, spikes, counts and bytes), each series scored by a detector of its own at a
//! 5-minute step, as `pipelines/nab.yml` runs it.
//!
//! Before the measurement it prints the bytes one detector holds (inline and heap).
//! Goals (issue 12): ≤ 300 ns per value, ≤ 1 KiB per series.
//!
//! Run: `cargo bench --bench anomaly` (about 10 s).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use harbinger::dataset::{self, Duplicates};
use harbinger::features::anomaly::{Detector, Season};

const STEP_MS: i64 = 300_000;
const WEEK_OF_STEPS: f64 = 7.0 * 288.0;

/// Every nab-dev series: its (unix ms, value) samples.
fn nab_dev() -> Vec<Vec<(i64, f64)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/nab-dev");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".csv.gz"))
        .collect();
    files.sort();
    let loaded = dataset::read_files(&files, Duplicates::Last).unwrap();
    loaded
        .dataset
        .series
        .iter()
        .map(|series| {
            series
                .samples
                .iter()
                .map(|s| (s.timestamp_ms, s.value))
                .collect()
        })
        .collect()
}

fn score_all(season: Season, series: &[Vec<(i64, f64)>]) -> f64 {
    let mut total = 0.0;
    for samples in series {
        let mut detector = Detector::new(season, WEEK_OF_STEPS);
        for &(t_ms, v) in samples {
            total += detector.observe(&season, t_ms, v);
        }
    }
    total
}

fn benches(c: &mut Criterion) {
    let season = Season::for_step(STEP_MS);
    let series = nab_dev();
    let values: usize = series.iter().map(Vec::len).sum();
    println!(
        "anomaly detector: {} bytes per series (inline and heap), {values} values in {} series",
        Detector::new(season, WEEK_OF_STEPS).memory_bytes(),
        series.len()
    );
    let mut group = c.benchmark_group("anomaly");
    group.throughput(Throughput::Elements(values as u64));
    group.bench_function("observe/nab_dev", |b| {
        b.iter(|| black_box(score_all(season, black_box(&series))))
    });
    group.finish();
}

criterion_group!(anomaly, benches);
criterion_main!(anomaly);
