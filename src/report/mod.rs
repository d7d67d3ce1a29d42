//! The evaluation report of `train` and `backtest --report`: a Markdown summary and an
//! HTML page with SVG plots, written into a directory.
//!
//! In: a [`Report`] (per target: the figures of harbinger and of both baselines on the
//! same held-out data, the policy front, the precision–recall curve, and one timeline
//! per episode and per false ticket). Out: `DIR/report.md` and `DIR/report.html`.
//!
//! - `markdown` and `html` render the two files; both take the table rows and the
//!   verdict from `methods` and their numbers' text from `format`;
//! - `plots` (lead times, precision–recall) and `timeline` build the plots, all with the
//!   one small SVG plotter in `svg`.
//!
//! A real page to look at: `models/report/report.html`, the default model's evaluation.
//!
//! `nab` writes the NAB check's page (`harbinger nab --report`), with the same plotter.

pub(crate) mod format;
mod html;
mod markdown;
mod methods;
mod nab;
mod plots;
mod svg;
mod timeline;

#[cfg(test)]
mod tests;

use std::io;
use std::path::Path;

use serde::Serialize;

pub use nab::{NabPage, NabSeries, write_nab};

use crate::evaluation::reliability::Reliability;
use crate::evaluation::{Figures, Gains};
use crate::model::{FrontPoint, Policy};

/// Creates `dir` (and its parents) and writes `report.md` and `report.html` into it.
pub fn write(report: &Report, dir: &Path) -> io::Result<()> {
    let named = |path: &Path, e: io::Error| {
        io::Error::new(e.kind(), format!("writing {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| named(dir, e))?;
    for (name, text) in [
        ("report.md", markdown::render(report)),
        ("report.html", html::render(report)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| named(&path, e))?;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was evaluated, e.g. "held-out hosts of lab-dev (4-fold by entity)".
    pub title: String,
    /// Command line or note on how the data was split.
    pub notes: Vec<String>,
    pub targets: Vec<TargetReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub alert: String,
    /// e.g. "(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes < 10".
    pub rule: String,
    pub threshold: f64,
    /// How far ahead the target was predicted: the H tickets are judged by.
    pub horizon_seconds: f64,
    /// The rule's `for`: a ticket is true when the alert fires within the horizon and
    /// this after it opened.
    pub hold_seconds: f64,
    pub entities: usize,
    pub entity_days: f64,
    pub harbinger: Figures,
    /// The rule itself: a ticket when it fires (lead time 0).
    pub rule_baseline: Figures,
    /// `predict_linear(signal[W], horizon)` crossing the threshold.
    pub predict_linear: Figures,
    pub predict_linear_window_seconds: f64,
    pub predict_linear_hold_seconds: f64,
    /// harbinger over `predict_linear`, with entities resampled in pairs.
    pub gains: Gains,
    /// What the model's probability comes from (`TargetModel::scored_by`).
    pub scored_by: String,
    /// The policy the model opens tickets by, marked in the front.
    pub policy: Policy,
    /// Every candidate policy no other beat on these entities (see `model::front`).
    pub front: Vec<FrontPoint>,
    /// Precision and recall of single steps when the probability is thresholded, at
    /// each level: (level, precision, recall).
    pub pr_curve: Vec<(f64, f64, f64)>,
    /// harbinger's probability at each step against whether the alert fired within the
    /// horizon.
    pub reliability: Reliability,
    /// The same for the `predict_linear` rule, read as 1 where it holds and 0 elsewhere.
    pub predict_linear_reliability: Reliability,
    pub timelines: Vec<Timeline>,
}

/// One entity's course around an episode (or a false ticket).
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    /// e.g. `{instance="host8",mountpoint="/srv/data"}`.
    pub entity: String,
    /// Why it is shown: "episode", "false ticket", "missed episode".
    pub kind: String,
    pub times_unix: Vec<f64>,
    /// The signal's value at each time (NaN: none).
    pub level: Vec<f64>,
    /// The calibrated probability at each time (NaN: no classifier).
    pub probability: Vec<f64>,
    /// When harbinger's tickets opened and closed (close None: still open at the end).
    pub tickets: Vec<(f64, Option<f64>)>,
    /// When the predict_linear baseline's tickets opened.
    pub baseline_tickets: Vec<f64>,
    /// The rule's episodes: (pending start, firing onset if it fired, end).
    pub alerts: Vec<(f64, Option<f64>, f64)>,
}
