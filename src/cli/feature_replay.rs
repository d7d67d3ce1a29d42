//! `features`' replay over every core: the export's series split into parts that replay
//! apart (`Pipeline::replay_parts`), each part through its own engine on its own
//! thread, and each step's rows handed on in the order one replay gives them (signals
//! in pipeline order, each signal's entities sorted), so that the table is the same
//! whatever the number of cores.
//!
//! In: a pipeline, the parts' series, the steps. Out: `each_step(t_ms, rows)` called on
//! this thread once per step, in time order; the engines' footprint at the end. A part
//! runs at most [`STEPS_AHEAD`] steps ahead of the writer.

use std::ops::Range;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::anyhow;
use harbinger::dataset::SeriesData;
use harbinger::pipeline::{Pipeline, SignalEngine};
use harbinger::promql::{Labels, Steps, replay_series};

/// Steps a part may compute before the writer has taken them.
const STEPS_AHEAD: usize = 8;

/// One entity's feature row at a step.
pub struct Row<'a> {
    /// The signal's index in the pipeline.
    pub signal: usize,
    pub entity: &'a Labels,
    pub values: &'a [f64],
}

/// One part's rows at one step, in the engine's order.
struct StepRows {
    t_ms: i64,
    rows: Vec<PartRow>,
    /// Every row's values, one after the other.
    values: Vec<f64>,
}

struct PartRow {
    signal: usize,
    entity: Labels,
    values: Range<usize>,
}

/// Replays `parts` (each a set of series that replays apart) and calls `each_step` with
/// every step's rows in one replay's order; returns the engines' summed footprint
/// (signal-entity states, feature bytes).
pub fn replay_in_parts(
    pipeline: &Pipeline,
    parts: &[Vec<&SeriesData>],
    steps: Steps,
    mut each_step: impl FnMut(i64, &mut dyn Iterator<Item = Row>) -> anyhow::Result<()>,
) -> anyhow::Result<(usize, usize)> {
    std::thread::scope(|scope| {
        let mut receivers = Vec::with_capacity(parts.len());
        let mut replays = Vec::with_capacity(parts.len());
        for series in parts {
            let (sender, receiver) = sync_channel(STEPS_AHEAD);
            replays.push(scope.spawn(move || replay_part(pipeline, series, steps, sender)));
            receivers.push(receiver);
        }
        let merged = merge_steps(&receivers, steps, &mut each_step);
        // Whatever happened, the parts stop at their next send; a part's panic is
        // raised here, before an error it caused downstream.
        drop(receivers);
        let mut footprint = (0, 0);
        for replay in replays {
            let (states, bytes) = replay
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            footprint = (footprint.0 + states, footprint.1 + bytes);
        }
        merged.map(|()| footprint)
    })
}

/// Takes every step from every part and hands on its rows merged; an error of a part
/// or of `each_step` stops it.
fn merge_steps(
    receivers: &[Receiver<anyhow::Result<StepRows>>],
    steps: Steps,
    each_step: &mut impl FnMut(i64, &mut dyn Iterator<Item = Row>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for _ in 0..steps.count() {
        let mut batches = Vec::with_capacity(receivers.len());
        for receiver in receivers {
            let batch = receiver
                .recv()
                .map_err(|_| anyhow!("a replay stopped early"))??;
            batches.push(batch);
        }
        let t_ms = batches.first().map_or(0, |b| b.t_ms);
        debug_assert!(
            batches.iter().all(|b| b.t_ms == t_ms),
            "parts step together"
        );
        let mut next = vec![0; batches.len()];
        let mut merged = std::iter::from_fn(|| {
            // The parts' entities are disjoint and each part's rows are in order: the
            // smallest head among the parts is the next row.
            let (part, row) = (0..batches.len())
                .filter_map(|p| batches[p].rows.get(next[p]).map(|row| (p, row)))
                .min_by(|(_, a), (_, b)| (a.signal, &a.entity).cmp(&(b.signal, &b.entity)))?;
            next[part] += 1;
            Some(Row {
                signal: row.signal,
                entity: &row.entity,
                values: &batches[part].values[row.values.clone()],
            })
        });
        each_step(t_ms, &mut merged)?;
    }
    Ok(())
}

/// Replays one part, sending each step's rows; returns its engine's footprint.
fn replay_part(
    pipeline: &Pipeline,
    series: &[&SeriesData],
    steps: Steps,
    sender: SyncSender<anyhow::Result<StepRows>>,
) -> (usize, usize) {
    let mut engine = SignalEngine::new(pipeline.clone());
    let history_ms = engine.history_ms();
    let replayed = replay_series(series.iter().copied(), steps, history_ms, |t_ms, store| {
        engine.step(t_ms, store)?;
        let mut step = StepRows {
            t_ms,
            rows: Vec::new(),
            values: Vec::new(),
        };
        engine.for_each(|signal, _, entity, features| {
            let from = step.values.len();
            features.write(&mut step.values);
            step.rows.push(PartRow {
                signal,
                entity: entity.clone(),
                values: from..step.values.len(),
            });
        });
        sender
            .send(Ok(step))
            .map_err(|_| anyhow!("the table's writer stopped"))
    });
    if let Err(error) = replayed {
        // The writer may be gone already; then it has its own error to report.
        let _ = sender.send(Err(error));
    }
    engine.footprint()
}
