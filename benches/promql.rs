//! PromQL benchmark over the lab-dev export: step evaluation of the default pipeline's
//! signals, and the rows per second `harbinger query` evaluates.
//!
//! Run: `cargo bench --bench promql`. It reads ../shared/data/lab-dev/metrics.csv.gz
//! (4153 series, 544 steps of 5 s, 8 hosts; `PROMQL_DATA=FILE` reads another export, such
//! as one of many small hosts) and prints one row per expression:
//! - evaluation alone: the store holds the whole export, and each step is one
//!   `evaluate` call; time per step, and per step and entity (a host, or a host's
//!   filesystem);
//! - end to end as `harbinger query` runs it: `replay` feeds every sample into the store
//!   in time order, trims it, and evaluates at each step; result rows per second.

use std::path::Path;
use std::time::Instant;

use harbinger::dataset;
use harbinger::pipeline::Pipeline;
use harbinger::promql::{Labels, Plan, Point, SeriesStore, Steps, Value, evaluate, replay_plan};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = std::env::var_os("PROMQL_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/data/lab-dev/metrics.csv.gz"));
    let started = Instant::now();
    let data = dataset::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    println!(
        "read {}: {} series, {} samples in {:.2} s",
        path.display(),
        data.series.len(),
        data.sample_count(),
        started.elapsed().as_secs_f64()
    );
    let pipeline =
        Pipeline::load(&root.join("pipelines/node-exporter.yml")).expect("default pipeline");
    let steps = Steps::covering(&data, 5_000).expect("data has samples");
    let mut expressions: Vec<(String, String)> = pipeline
        .signals
        .iter()
        .map(|s| (s.name.clone(), s.expr.clone()))
        .collect();
    expressions.push((
        "all node_cpu_seconds_total".into(),
        "node_cpu_seconds_total".into(),
    ));
    expressions.push((
        "rate(node_cpu_seconds_total[1m])".into(),
        "rate(node_cpu_seconds_total[1m])".into(),
    ));

    let mut store = SeriesStore::default();
    for series in &data.series {
        let index = store.series(&Labels::new(series.labels.iter().cloned()));
        for sample in &series.samples {
            store.push(
                index,
                Point {
                    t: sample.timestamp_ms,
                    v: sample.value,
                },
            );
        }
    }
    println!(
        "\n{:<34} {:>8} {:>10} {:>15} {:>14}",
        "signal", "entities", "µs/step", "µs/step/entity", "query rows/s"
    );
    for (name, expr) in expressions {
        let plan = Plan::parse(&expr).expect("expression of the default pipeline");
        let mut entities = 0usize;
        let started = Instant::now();
        for step in 0..steps.count() {
            let t_ms = steps.start_ms + step as i64 * steps.step_ms;
            if let Value::Vector(vector) = evaluate(&plan, &store, t_ms).expect("evaluation") {
                entities = entities.max(vector.len());
            }
        }
        let per_step = started.elapsed().as_secs_f64() * 1e6 / steps.count() as f64;

        let mut rows = 0usize;
        let started = Instant::now();
        replay_plan(&plan, &data, steps, |_, value| {
            if let Value::Vector(vector) = value {
                rows += vector.len();
            }
        })
        .expect("evaluation");
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{:<34} {:>8} {:>10.1} {:>15.2} {:>14.0}",
            name,
            entities,
            per_step,
            per_step / entities.max(1) as f64,
            rows as f64 / seconds
        );
    }
    println!(
        "\n({} steps; query rows/s includes replaying all {} samples through the store)",
        steps.count(),
        data.sample_count()
    );
}
