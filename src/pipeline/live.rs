//! The pipeline on live samples: the same store and `SignalEngine` that `query` and
//! `features` replay, fed by the receiver's queue.
//!
//! In: batches of accepted samples (registry ids, timestamps, values), series evictions,
//! and a way to learn the labels of an id seen for the first time. Out: at every step
//! boundary, the engine stepped once (signals evaluated, entity features updated) and,
//! with predictions, every entity scored and decided: ticket actions to take. With
//! predictions, a signal no target scores feeds nothing, so it is not evaluated and the
//! series only it selects are not kept.
//!
//! The step clock follows the samples, not the wall clock: step `t` (a multiple of the
//! pipeline's step) is evaluated once a sample at least one step later has arrived, so
//! that the senders' shards, which deliver a scrape round within seconds of each other,
//! have all landed. A jump far ahead (a sender that was down) evaluates at most the
//! anomaly window's worth of the skipped steps.

use promql_parser::label::Matcher;

use super::engine::SignalEngine;
use super::spec::Pipeline;
use crate::model::{Model, ModelError};
use crate::predictions::{LivePredictions, resolve_orphans};
use crate::promql::{EvalError, Labels, Plan, Point, SeriesIndex, SeriesStore};
use crate::registry::{AcceptedSample, SeriesId};

use super::selected::{Seen, Selected};
use crate::tickets::{OpenTicket, TicketAction};

/// Most skipped steps evaluated after a jump: an hour at a 15 s step.
const MAX_CATCH_UP_STEPS: i64 = 240;

pub struct LiveSignals {
    engine: SignalEngine,
    /// Scores and decides every entity after each step, when the pipeline has targets.
    predictions: Option<LivePredictions>,
    /// Ticket actions decided since the last `take_actions`.
    actions: Vec<TicketAction>,
    store: SeriesStore,
    /// Registry id → store index for every live series seen, or skipped for a series no
    /// signal selects (most of what node_exporter sends).
    selected: Selected,
    /// Every selector of every signal.
    selectors: Vec<Vec<Matcher>>,
    step_ms: i64,
    history_ms: i64,
    /// The next step to evaluate, once samples have started.
    next_step_ms: Option<i64>,
}

impl LiveSignals {
    /// The live pipeline; with `predictions`, the `ALERTS` series are kept too (the
    /// rules' own state) and every step is scored.
    pub fn new(pipeline: Pipeline, predictions: Option<LivePredictions>) -> LiveSignals {
        let step_ms = pipeline.step.as_millis() as i64;
        // With predictions, only the signals they score feed anything: the others are
        // not evaluated, and their series are not kept.
        let evaluated = match &predictions {
            Some(predictions) => {
                let mut scored = vec![false; pipeline.signals.len()];
                predictions
                    .signals()
                    .for_each(|signal| scored[signal] = true);
                scored
            }
            None => vec![true; pipeline.signals.len()],
        };
        let engine = SignalEngine::evaluating(pipeline, evaluated);
        let mut selectors: Vec<Vec<Matcher>> = engine
            .evaluated()
            .flat_map(|s| s.plan.selectors())
            .map(<[Matcher]>::to_vec)
            .collect();
        let mut history_ms = 0;
        if predictions.is_some() {
            let alerts = Plan::parse("ALERTS").expect("a valid selector");
            selectors.extend(alerts.selectors().into_iter().map(<[Matcher]>::to_vec));
            history_ms = alerts.history_ms();
        }
        LiveSignals {
            history_ms: engine.history_ms().max(history_ms),
            engine,
            predictions,
            actions: Vec::new(),
            selectors,
            store: SeriesStore::default(),
            selected: Selected::default(),
            step_ms,
            next_step_ms: None,
        }
    }

    pub fn engine(&self) -> &SignalEngine {
        &self.engine
    }

    /// Scores with `model` from the next step on (see `LivePredictions::reload`).
    pub fn reload_model(&mut self, model: &Model) -> Result<(), ModelError> {
        match &mut self.predictions {
            Some(predictions) => predictions.reload(self.engine.pipeline(), model),
            None => Ok(()),
        }
    }

    /// Gives the entities up (see `LivePredictions::release`); returns the fingerprints
    /// of their open tickets.
    pub fn release(self) -> Vec<String> {
        self.predictions
            .map(LivePredictions::release)
            .unwrap_or_default()
    }

    /// Carries on the tickets open before a restart (see `LivePredictions::resume`): an
    /// entity has as long as the pipeline keeps history to send samples again. The
    /// resolves of tickets nothing scores any more (at `now_ms`) go with the next actions.
    pub fn resume(&mut self, open: Vec<OpenTicket>, now_ms: i64) {
        let grace = std::time::Duration::from_millis(self.history_ms as u64);
        let orphans = match &mut self.predictions {
            Some(predictions) => predictions.resume(open, grace, now_ms),
            None => resolve_orphans(open, now_ms),
        };
        self.actions.extend(orphans);
    }

    /// The ticket actions decided since the last call.
    pub fn take_actions(&mut self) -> Vec<TicketAction> {
        std::mem::take(&mut self.actions)
    }

    /// Takes a batch; `labels_of` gives the labels of ids not seen before (`None` for
    /// one already evicted, whose samples are then ignored). Returns the steps evaluated.
    pub fn samples(
        &mut self,
        samples: &[AcceptedSample],
        labels_of: impl FnOnce(&[SeriesId]) -> Vec<Option<Labels>>,
    ) -> Result<usize, EvalError> {
        // One lookup per sample; samples of ids new to the pipeline wait for their labels.
        let mut latest = i64::MIN;
        let mut unknown: Vec<SeriesId> = Vec::new();
        for sample in samples {
            match self.selected.get(sample.series) {
                Seen::Kept(index) => latest = latest.max(self.push(index, sample)),
                Seen::Skipped => {}
                Seen::Unknown => unknown.push(sample.series),
            }
        }
        if !unknown.is_empty() {
            unknown.sort_unstable();
            unknown.dedup();
            for (id, labels) in unknown.iter().zip(labels_of(&unknown)) {
                if let Some(labels) = labels {
                    let index = self.selects(&labels).then(|| self.store.series(&labels));
                    if let Some(evicted) = self.selected.insert(*id, index) {
                        self.store.clear(evicted);
                    }
                }
            }
            for sample in samples {
                if unknown.binary_search(&sample.series).is_ok()
                    && let Seen::Kept(index) = self.selected.get(sample.series)
                {
                    latest = latest.max(self.push(index, sample));
                }
            }
        }
        if latest == i64::MIN {
            return Ok(0);
        }
        self.advance_to(latest)
    }

    /// Stores one sample; returns its timestamp.
    fn push(&mut self, index: SeriesIndex, sample: &AcceptedSample) -> i64 {
        let point = Point {
            t: sample.timestamp_ms,
            v: sample.value,
        };
        self.store.push(index, point);
        sample.timestamp_ms
    }

    /// Forgets evicted series' samples. Their labels stay in the store, so that a series
    /// coming back gets its old place.
    pub fn evicted(&mut self, ids: &[SeriesId]) {
        for id in ids {
            if let Some(index) = self.selected.remove(*id) {
                self.store.clear(index);
            }
        }
    }

    fn selects(&self, labels: &Labels) -> bool {
        self.selectors.iter().any(|matchers| {
            matchers
                .iter()
                .all(|m| m.is_match(labels.get(&m.name).unwrap_or("")))
        })
    }

    fn advance_to(&mut self, latest_ms: i64) -> Result<usize, EvalError> {
        let step = self.step_ms;
        // Saturating: a sample's timestamp may be anything an i64 holds.
        let on_step = |t_ms: i64| t_ms.div_euclid(step).saturating_mul(step);
        let mut next = *self.next_step_ms.get_or_insert(on_step(latest_ms));
        // Evaluate a step once a sample a whole step later has arrived.
        let last_ready = on_step(latest_ms.saturating_sub(step));
        if last_ready < next {
            return Ok(0);
        }
        next = next.max(last_ready.saturating_sub((MAX_CATCH_UP_STEPS - 1) * step));
        let mut evaluated = 0;
        while next <= last_ready {
            self.store.trim(next.saturating_sub(self.history_ms));
            self.engine.step(next, &self.store)?;
            if let Some(predictions) = &mut self.predictions {
                predictions.step(next, &self.engine, &self.store, &mut self.actions);
            }
            evaluated += 1;
            next += step;
        }
        self.next_step_ms = Some(next);
        Ok(evaluated)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::promql::METRIC_NAME;

    fn pipeline() -> Pipeline {
        Pipeline::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/node-exporter.yml"))
            .unwrap()
    }

    fn disk_labels(name: &str, instance: &str) -> Labels {
        Labels::new([
            (METRIC_NAME, name),
            ("instance", instance),
            ("mountpoint", "/data"),
        ])
    }

    #[test]
    fn steps_follow_the_samples_and_wait_one_step() {
        let mut live = LiveSignals::new(pipeline(), None);
        // Two series: avail and size of one filesystem; ids as the registry gives them.
        let ids: Vec<SeriesId> = (0..2u32).map(SeriesId::for_tests).collect();
        let labels = [
            disk_labels("node_filesystem_avail_bytes", "a"),
            disk_labels("node_filesystem_size_bytes", "a"),
        ];
        let mut asked = 0;
        let mut steps = 0;
        for scrape in 0..10i64 {
            let t = 30_000 + scrape * 15_000;
            let batch: Vec<AcceptedSample> = ids
                .iter()
                .zip([500.0 - scrape as f64, 1000.0])
                .map(|(&series, value)| AcceptedSample {
                    series,
                    timestamp_ms: t,
                    value,
                })
                .collect();
            steps += live
                .samples(&batch, |unknown| {
                    asked += unknown.len();
                    unknown
                        .iter()
                        .map(|id| Some(labels[ids.iter().position(|i| i == id).unwrap()].clone()))
                        .collect()
                })
                .unwrap();
        }
        assert_eq!(asked, 2, "labels are asked for once per series");
        // A series no signal selects is not kept.
        let other = SeriesId::for_tests(7);
        live.samples(
            &[AcceptedSample {
                series: other,
                timestamp_ms: 170_000,
                value: 1.0,
            }],
            |_| vec![Some(Labels::new([(METRIC_NAME, "go_goroutines")]))],
        )
        .unwrap();
        assert_eq!(live.store.len(), 2, "go_goroutines is not stored");
        // Samples at 30 s ... 165 s: steps 30 s ... 150 s are ready (one step behind).
        assert_eq!(steps, 9);
        let (states, _) = live.engine().footprint();
        assert!(states >= 1, "the disk entity has features");

        live.evicted(&ids);
        let after = live.samples(
            &[AcceptedSample {
                series: ids[0],
                timestamp_ms: 400_000,
                value: 1.0,
            }],
            |unknown| unknown.iter().map(|_| None).collect(),
        );
        assert_eq!(after, Ok(0), "samples of an evicted id are ignored");
    }

    #[test]
    fn with_predictions_only_the_scored_signals_are_evaluated_and_kept() {
        let metrics = crate::telemetry::Metrics::register(&mut Default::default());
        let predictions = LivePredictions::new(&pipeline(), None, None, metrics).unwrap();
        let mut scored = LiveSignals::new(pipeline(), Some(predictions));
        let mut every = LiveSignals::new(pipeline(), None);
        // The load of one host: `load1_per_cpu` reads it, and no target does.
        let (load, cpu) = (SeriesId::for_tests(0), SeriesId::for_tests(1));
        let labels = [
            Labels::new([(METRIC_NAME, "node_load1"), ("instance", "a")]),
            Labels::new([
                (METRIC_NAME, "node_cpu_seconds_total"),
                ("instance", "a"),
                ("cpu", "0"),
                ("mode", "idle"),
            ]),
        ];
        for live in [&mut scored, &mut every] {
            for scrape in 0..5i64 {
                let t = 30_000 + scrape * 15_000;
                let batch = [(load, 0.5), (cpu, 100.0 + scrape as f64)].map(|(series, value)| {
                    AcceptedSample {
                        series,
                        timestamp_ms: t,
                        value,
                    }
                });
                live.samples(&batch, |unknown| {
                    let label = |id: &SeriesId| Some(labels[usize::from(*id == cpu)].clone());
                    unknown.iter().map(label).collect()
                })
                .unwrap();
            }
        }
        let signals = |live: &LiveSignals| -> Vec<String> {
            let mut names = Vec::new();
            live.engine()
                .for_each(|_, signal, _, _| names.push(signal.name.clone()));
            names.dedup();
            names
        };
        assert!(signals(&every).contains(&"load1_per_cpu".to_owned()));
        assert!(!signals(&scored).contains(&"load1_per_cpu".to_owned()));
        assert_eq!(every.store.len(), 2);
        assert_eq!(
            scored.store.len(),
            1,
            "the CPU series (HostHighCpuLoad reads it) is kept, node_load1 is not"
        );
    }

    #[test]
    fn a_sample_at_the_edge_of_time_does_not_stop_the_steps() {
        let load = SeriesId::for_tests(0);
        let labels = Labels::new([(METRIC_NAME, "node_load1"), ("instance", "a")]);
        for edge in [i64::MIN, i64::MIN + 1, -1] {
            let mut live = LiveSignals::new(pipeline(), None);
            let mut steps = 0;
            for t in std::iter::once(edge).chain((0..5).map(|k| 30_000 + k * 15_000)) {
                let sample = AcceptedSample {
                    series: load,
                    timestamp_ms: t,
                    value: 0.5,
                };
                steps += live
                    .samples(&[sample], |unknown| {
                        unknown.iter().map(|_| Some(labels.clone())).collect()
                    })
                    .unwrap();
            }
            // At most MAX_CATCH_UP_STEPS to catch up from the edge, then one per scrape.
            assert!(steps >= 4, "{edge}: {steps} steps");
            assert_eq!(live.next_step_ms, Some(90_000), "{edge}");
        }
    }
}
