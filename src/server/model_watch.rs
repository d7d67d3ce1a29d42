//! Model reloads: on SIGHUP, or when the model file changes, the model is loaded,
//! checked against the pipeline and given the policies the false-ticket budgets pick
//! before it reaches the pipeline task; a file that does not load or does not match is
//! refused with an error, and the model in use keeps scoring.
//!
//! In: the model's path, the pipeline, the budgets, SIGHUP. Out: checked models on a
//! channel to the pipeline task; `harbinger_model_reloads_total{result}`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{error, info};

use crate::model::{BudgetChoice, Budgets, Model};
use crate::pipeline::Pipeline;
use crate::telemetry::{Metrics, ReloadLabels};

/// How often the model file's modification time is looked at.
pub const POLL: Duration = Duration::from_secs(5);

fn modified(path: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Runs until the pipeline task stops listening.
pub async fn watch(
    path: PathBuf,
    pipeline: Pipeline,
    budgets: Budgets,
    models: mpsc::UnboundedSender<Model>,
    metrics: Metrics,
) {
    let mut hangups = signal(SignalKind::hangup())
        .map_err(|e| error!(error = %e, "cannot listen for SIGHUP; the model reloads on file change only"))
        .ok();
    let mut seen = modified(&path);
    let mut poll = tokio::time::interval(POLL);
    loop {
        let cause = tokio::select! {
            Some(_) = async { hangups.as_mut()?.recv().await } => "SIGHUP",
            _ = poll.tick() => {
                let now = modified(&path);
                if now == seen {
                    continue;
                }
                seen = now;
                "file change"
            }
        };
        let loaded = Model::load(&path).and_then(|mut model| {
            model.check(&pipeline)?;
            let choices = model.spend(&budgets);
            Ok((model, choices))
        });
        let result = match loaded {
            Ok((model, choices)) => {
                info!(model = %path.display(), cause, "model reloaded");
                choices.iter().for_each(BudgetChoice::log);
                if models.send(model).is_err() {
                    return;
                }
                "success"
            }
            Err(e) => {
                error!(model = %path.display(), cause, error = %e, "model reload refused; the current model keeps scoring");
                "failure"
            }
        };
        metrics
            .model_reloads
            .get_or_create(&ReloadLabels { result })
            .inc();
    }
}
