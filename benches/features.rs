//! Feature engine: time per sample (one `update` and one `write`) for the default feature
//! set, and the memory per signal and per entity.
//!
//! The default set: windows 5m, 15m and 1h at a 15 s step, EWMA half-lives 1m and 10m, a
//! 1h anomaly window, one threshold (HostOutOfDiskSpace, `< 10`). Inputs are synthetic:
//! - `disk_free`: a disk filling at a drifting rate with noise, cleaned up below 8 % free,
//!   one step in 500 missing; the ETA is defined most of the time;
//! - `noisy_gauge`: a stationary noisy gauge with spikes (CPU-like);
//! - `entity_6_signals`: one step of an entity with the default pipeline's six signals
//!   (its four targets' signals with their thresholds, and two without).
//!
//! Before the measurements it prints `memory_bytes` for one signal and for one entity of
//! the default pipeline, and checks them at 10k entities against a counting allocator
//! (every byte requested from the heap, the `Vec` of states included) and against the
//! process's resident set; and it checks that updates and writes do not allocate.
//!
//! Run: `cargo bench --bench features` (about 30 s).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use harbinger::features::{FeatureParams, FeatureSpec, SignalFeatures, Threshold};
use harbinger::pipeline::Pipeline;
use harbinger::rules::Comparison;

/// Counts what is requested from the heap: bytes held and allocations made.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size(), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HELD.fetch_add(new_size, Ordering::Relaxed);
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const STEP_MS: i64 = 15_000;
const SAMPLES: usize = 100_000;

/// xorshift64*: deterministic noise without a dependency.
struct Noise(u64);

impl Noise {
    /// Uniform in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn disk_free(n: usize) -> Vec<Option<f64>> {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut free = 80.0;
    let mut rate = 0.1;
    (0..n)
        .map(|_| {
            rate = (rate + 0.01 * (noise.next() - 0.5)).clamp(0.0, 0.5);
            free -= rate + 0.2 * (noise.next() - 0.5);
            if free < 8.0 {
                free = 60.0 + 20.0 * noise.next();
            }
            (noise.next() >= 0.002).then_some(free)
        })
        .collect()
}

fn noisy_gauge(n: usize) -> Vec<Option<f64>> {
    let mut noise = Noise(0x0123_4567_89ab_cdef);
    (0..n)
        .map(|_| {
            let spike = if noise.next() < 0.01 { 40.0 } else { 0.0 };
            Some(30.0 + 10.0 * noise.next() + spike)
        })
        .collect()
}

fn default_spec(thresholds: Vec<Threshold>) -> FeatureSpec {
    FeatureSpec::new(FeatureParams {
        thresholds,
        ..FeatureParams::default()
    })
    .expect("the default parameters are valid")
}

fn disk_spec() -> FeatureSpec {
    default_spec(vec![Threshold {
        name: "HostOutOfDiskSpace".to_owned(),
        comparison: Comparison::Below,
        inclusive: false,
        value: 10.0,
        warning_fraction: 0.8,
    }])
}

/// The specs of the default pipeline's signals: each target's signal with its threshold,
/// the pipeline's own signals without.
fn pipeline_specs() -> Vec<(String, FeatureSpec)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/node-exporter.yml");
    let pipeline = Pipeline::load(&path).expect("the default pipeline loads");
    pipeline
        .signals
        .iter()
        .map(|signal| {
            let thresholds = pipeline
                .targets
                .iter()
                .filter(|t| t.alert == signal.name)
                .map(Threshold::from_target)
                .collect();
            (signal.name.clone(), default_spec(thresholds))
        })
        .collect()
}

/// A state that has seen `steps` steps of `inputs`.
/// `steps` updates, then one write (which sizes the thread's one scratch buffer for the
/// increments, once).
fn warmed(spec: &FeatureSpec, inputs: &[Option<f64>], steps: usize) -> SignalFeatures {
    let mut features = SignalFeatures::new(spec);
    for (i, &v) in inputs.iter().cycle().take(steps).enumerate() {
        features.update(i as i64 * STEP_MS, v);
    }
    features.write(&mut Vec::new());
    features
}

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn report_memory() {
    let disk = warmed(&disk_spec(), &disk_free(1_000), 1_000);
    println!(
        "memory: one signal (default set, one threshold): {} bytes",
        disk.memory_bytes()
    );
    let specs = pipeline_specs();
    let entity = |specs: &[(String, FeatureSpec)]| -> Vec<SignalFeatures> {
        let inputs = disk_free(300);
        specs
            .iter()
            .map(|(_, spec)| warmed(spec, &inputs, 300))
            .collect()
    };
    let one: Vec<SignalFeatures> = entity(&specs);
    let per_entity: usize = one.iter().map(SignalFeatures::memory_bytes).sum();
    let names: Vec<&str> = specs.iter().map(|(name, _)| name.as_str()).collect();
    println!(
        "memory: one entity of the default pipeline, {} signals ({}): {} bytes = {:.2} KiB (target 4 KiB)",
        one.len(),
        names.join(", "),
        per_entity,
        per_entity as f64 / 1024.0
    );

    const ENTITIES: usize = 10_000;
    let (held, resident) = (HELD.load(Ordering::Relaxed), resident_bytes());
    let fleet: Vec<Vec<SignalFeatures>> = (0..ENTITIES).map(|_| one.clone()).collect();
    let heap = HELD.load(Ordering::Relaxed) - held;
    let rss = resident_bytes().saturating_sub(resident);
    let reported: usize = fleet
        .iter()
        .flatten()
        .map(SignalFeatures::memory_bytes)
        .sum();
    println!(
        "memory: {ENTITIES} entities: memory_bytes {:.0} B/entity; heap requested {:.0} B/entity \
         (Vec of states and their buffers); resident set grew {:.0} B/entity",
        reported as f64 / ENTITIES as f64,
        heap as f64 / ENTITIES as f64,
        rss as f64 / ENTITIES as f64,
    );
    drop(fleet);

    let inputs = disk_free(SAMPLES);
    let mut features = warmed(&disk_spec(), &inputs, 1_000);
    let mut out = Vec::with_capacity(64);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for (i, &v) in inputs.iter().enumerate().skip(1_000) {
        features.update(i as i64 * STEP_MS, v);
        out.clear();
        features.write(&mut out);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!(
        "allocations in {} updates and writes: {allocations}",
        SAMPLES - 1_000
    );
    assert_eq!(allocations, 0, "updates and writes must not allocate");
}

/// Update and write, cycling over `inputs` with time moving on.
fn bench_signal(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    spec: &FeatureSpec,
    inputs: &[Option<f64>],
) {
    let mut features = warmed(spec, inputs, 1_000);
    let mut out = Vec::with_capacity(spec.width());
    let mut step = 1_000usize;
    c.bench_function(name, |b| {
        b.iter(|| {
            let v = inputs[step % inputs.len()];
            features.update(step as i64 * STEP_MS, v);
            out.clear();
            features.write(&mut out);
            step += 1;
            black_box(out[0])
        })
    });
}

fn benches(c: &mut Criterion) {
    report_memory();
    let disk = disk_free(SAMPLES);
    let gauge = noisy_gauge(SAMPLES);
    let disk_spec = disk_spec();

    let mut group = c.benchmark_group("features");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    bench_signal(&mut group, "update_write/disk_free", &disk_spec, &disk);
    bench_signal(&mut group, "update_write/noisy_gauge", &disk_spec, &gauge);

    let mut features = warmed(&disk_spec, &disk, 1_000);
    let mut step = 1_000usize;
    group.bench_function("update_only/disk_free", |b| {
        b.iter(|| {
            features.update(step as i64 * STEP_MS, disk[step % disk.len()]);
            step += 1;
        })
    });
    let features = warmed(&disk_spec, &disk, 5_000);
    let mut out = Vec::with_capacity(disk_spec.width());
    group.bench_function("write_only/disk_free", |b| {
        b.iter(|| {
            out.clear();
            features.write(&mut out);
            black_box(out[0])
        })
    });

    let specs = pipeline_specs();
    let mut entity: Vec<SignalFeatures> = specs
        .iter()
        .map(|(_, spec)| warmed(spec, &disk, 1_000))
        .collect();
    let mut out = Vec::with_capacity(256);
    let mut step = 1_000usize;
    group.throughput(Throughput::Elements(entity.len() as u64));
    group.bench_function("entity_6_signals", |b| {
        b.iter(|| {
            out.clear();
            for (k, features) in entity.iter_mut().enumerate() {
                let v = if k % 2 == 0 { &disk } else { &gauge }[step % SAMPLES];
                features.update(step as i64 * STEP_MS, v);
                features.write(&mut out);
            }
            step += 1;
            black_box(out[0])
        })
    });
    group.finish();
}

criterion_group!(features, benches);
criterion_main!(features);
