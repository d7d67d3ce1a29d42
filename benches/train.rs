//! Training at the size of an estate: `harbinger train`'s code over 1,000 filesystems ×
//! 7 days at a 15 s step (80 M samples; fills that cross, near misses, fills that level
//! off, busy scratch disks, one-off copies; the `ALERTS` of `HostOutOfDiskSpace`),
//! generated in memory by `support/estate.rs`, through the default pipeline.
//!
//! Run: `cargo bench --bench train`. Settings: `TRAIN_ENTITIES` (1000), `TRAIN_DAYS` (7),
//! `TRAIN_SEED`. Prints the time of each phase, the whole, the peak resident memory of
//! the process (`VmHWM`), the held-out figures and the disk target's policy front, and
//! fails when the model was not fitted on the episodes or the held-out evaluation is
//! missing.

#[path = "support/estate.rs"]
mod estate;
#[path = "support/setting.rs"]
mod setting;

use std::time::{Duration, Instant};

use harbinger::evaluation::Figures;
use harbinger::model::artifact::DataSummary;
use harbinger::pipeline::Pipeline;
use harbinger::promql::Steps;
use harbinger::training::{AlertHistory, Options, collect, columns_read, train};
use setting::setting;

fn main() {
    let entities: usize = setting("TRAIN_ENTITIES", 1000);
    let days: f64 = setting("TRAIN_DAYS", 7.0);
    let seed: u64 = setting("TRAIN_SEED", 1);
    let pipeline = Pipeline::embedded_default();
    let step_ms = pipeline.step.as_millis() as i64;

    let started = Instant::now();
    let estate = estate::generate(entities, days, step_ms, seed);
    println!(
        "generated {} filesystems × {days} days at {} s: {} series, {} samples, {} crossing \
         episodes, in {:.1} s; peak RSS so far {}",
        estate.filesystems,
        step_ms / 1000,
        estate.dataset.series.len(),
        estate.dataset.sample_count(),
        estate.crossing_episodes,
        started.elapsed().as_secs_f64(),
        peak_rss(),
    );

    let options = Options {
        horizon: None,
        seed: 42,
        folds: 5,
        baseline_windows: vec![Duration::from_secs(600), Duration::from_secs(1800)],
        false_ticket_budget: None,
    };
    let started = Instant::now();
    let mut phase = Phase::default();
    phase.start("replay".to_owned());
    let dataset = &estate.dataset;
    let steps = Steps::over(dataset, step_ms, None, None).expect("the estate has samples");
    let columns = columns_read(&pipeline, &pipeline.targets);
    let trajectories =
        collect(&pipeline, dataset, steps, &columns, |_, _| {}).expect("the replay succeeds");
    let history = AlertHistory::read(dataset, &pipeline.entity_labels, step_ms);
    let summary = DataSummary::of(dataset, &[]);
    let trained = train(
        &pipeline,
        &trajectories,
        &history,
        summary,
        &options,
        |target, _, _| phase.start(format!("fit {target}")),
    );
    phase.finish();
    let total = started.elapsed();

    let disk = (trained.model)
        .target("HostOutOfDiskSpace")
        .expect("the disk target is trained");
    assert!(
        disk.training.onsets > 0,
        "the model saw no onset: the generator or the labels are wrong"
    );
    let report = trained
        .report
        .targets
        .iter()
        .find(|t| t.alert == "HostOutOfDiskSpace")
        .expect("a held-out report for the disk target");
    for (name, figures) in [
        ("harbinger", &report.harbinger),
        ("predict_linear", &report.predict_linear),
    ] {
        println!("held out, {name}: {}", describe(figures));
    }
    // What a false-ticket budget could pick instead of the trained policy.
    for point in &report.front {
        println!(
            "policy front, {}: {}",
            point.policy,
            describe(&point.figures)
        );
    }
    println!(
        "train: {:.1} s in all ({}), peak RSS {}",
        total.as_secs_f64(),
        phase.lines.join(", "),
        peak_rss()
    );
}

fn describe(f: &Figures) -> String {
    let or_none =
        |x: Option<f64>, unit: &str| x.map_or("-".to_owned(), |x| format!("{x:.2}{unit}"));
    format!(
        "{} of {} episodes caught, {} tickets, precision {}, median lead {}, {:.3} false \
         tickets per entity-day",
        f.caught,
        f.onsets,
        f.tickets,
        or_none(f.precision, ""),
        or_none(f.lead_median_seconds, " s"),
        f.false_tickets_per_entity_day
    )
}

/// When each phase of training ended.
#[derive(Default)]
struct Phase {
    current: Option<(String, Instant)>,
    lines: Vec<String>,
}

impl Phase {
    /// Starts the phase `name`, ending the one before (nothing when it is the same).
    fn start(&mut self, name: String) {
        if self.current.as_ref().is_some_and(|(n, _)| *n == name) {
            return;
        }
        self.finish();
        self.current = Some((name, Instant::now()));
    }

    fn finish(&mut self) {
        if let Some((name, from)) = self.current.take() {
            let line = format!("{name} {:.1} s", from.elapsed().as_secs_f64());
            eprintln!("{line}");
            self.lines.push(line);
        }
    }
}

/// The process's peak resident memory, from `/proc/self/status`.
fn peak_rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    format!("{:.2} GiB", kib as f64 / (1024.0 * 1024.0))
}
