//! The status page at the size of a large estate: 10,000 entities under each of two
//! targets, every one with a full sparkline track (an hour at a 15 s step, thinned).
//!
//! Measures what a step costs the board (publishing 20,000 predictions and carrying
//! each track on) and what a page costs (ranking, the top 20 per target, rendering), for
//! the default page and for a search; prints the page's size.
//!
//! Run: `cargo bench --bench status_page` (about 20 s).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use harbinger::model::{AlertState, Observation, Scored};
use harbinger::predictions::board::{Board, Prediction};
use harbinger::predictions::card::{ModelCard, RuleCard};
use harbinger::promql::Labels;
use harbinger::server::status::{Health, PageQuery, Scoring, Snapshot, render};

const ENTITIES: usize = 10_000;
const TARGETS: [&str; 2] = ["HostOutOfDiskSpace", "HostOutOfMemory"];
const STEP_MS: i64 = 15_000;

fn rule(alert: &str) -> RuleCard {
    RuleCard {
        alert: alert.to_owned(),
        condition: "x < 10".to_owned(),
        threshold: 10.0,
        hold: Duration::from_secs(120),
        horizon: Duration::from_secs(600),
        window: Duration::from_secs(3600),
    }
}

fn entities() -> Vec<Labels> {
    (0..ENTITIES)
        .map(|i| {
            Labels::new([
                ("instance", format!("host-{i:05}").as_str()),
                ("mountpoint", "/data"),
            ])
        })
        .collect()
}

/// Every (target, entity) at step `k`: a level drifting per entity, a probability that
/// ranks them.
fn step(entities: &[Labels], k: i64) -> Vec<Prediction> {
    let mut predictions = Vec::with_capacity(TARGETS.len() * entities.len());
    for target in TARGETS {
        for (i, entity) in entities.iter().enumerate() {
            let level = 50.0 + 30.0 * ((i as f64 * 0.37 + k as f64 * 0.01).sin());
            let scored = Scored {
                observation: Observation {
                    probability: (i % 997) as f64 / 997.0,
                    eta_seconds: 60.0 * (1 + i % 120) as f64,
                    eta_stderr_seconds: 30.0,
                    alert: AlertState::Inactive,
                },
                level,
                trend_per_second: -0.001,
                anomaly_score: 0.1,
            };
            predictions.push(Prediction::of(target, entity, &scored, i % 500 == 0));
        }
    }
    predictions
}

fn snapshot(board: &Board, query: PageQuery) -> Snapshot {
    let scoring = Scoring::of(board, &query, Duration::from_millis(STEP_MS as u64));
    Snapshot {
        role: "all",
        now_ms: board.at_ms(),
        query,
        model_source: "the built-in default model".to_owned(),
        scoring: Some(scoring),
        outbox: None,
        health: Health {
            ready: true,
            samples_received: 1,
            active_series: 1,
            series_limit: 2,
            queue_depth: 0,
            queue_capacity: 1,
            steps: 1,
            evaluation_errors: 0,
            feature_bytes: 0,
        },
    }
}

fn bench(c: &mut Criterion) {
    let board = Board::default();
    board.describe(TARGETS.map(rule).to_vec(), ModelCard::of(None, []));
    let entities = entities();
    // An hour and a bit of steps: every track full.
    let mut k = 0;
    while k < 250 {
        board.publish(k * STEP_MS, step(&entities, k));
        k += 1;
    }
    let default = || PageQuery {
        target: String::new(),
        entity: String::new(),
        limit: 20,
    };
    let page = render(&snapshot(&board, default()));
    println!(
        "status page over {} entities × {} targets: {} KiB, {} entity rows",
        ENTITIES,
        TARGETS.len(),
        page.len() / 1024,
        page.matches("<tr class=\"entity\"").count()
    );

    let mut group = c.benchmark_group("status_page");
    group.sample_size(20);
    group.bench_function("publish a step of 20,000 predictions", |b| {
        b.iter_batched(
            || {
                k += 1;
                (k, step(&entities, k))
            },
            |(k, predictions)| board.publish(k * STEP_MS, predictions),
            criterion::BatchSize::LargeInput,
        )
    });
    group.bench_function("render the default page", |b| {
        b.iter(|| black_box(render(&snapshot(&board, default()))))
    });
    group.bench_function("render a search for one host", |b| {
        b.iter(|| {
            let query = PageQuery {
                entity: "host-04242".to_owned(),
                ..default()
            };
            black_box(render(&snapshot(&board, query)))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
