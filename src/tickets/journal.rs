//! The built-in ticket sink: every ticket action as one JSON line, appended to
//! `<data_dir>/tickets.jsonl` and flushed to disk as it is written, so that `serve` with
//! no configuration shows its tickets.
//!
//! In: ticket actions from the pipeline, over a channel. Out: the file. The task ends
//! when every sender is gone (after the pipeline's drain at shutdown).

use std::io::Write;
use std::path::PathBuf;

use tokio::sync::mpsc;
use tracing::warn;

use super::TicketAction;

pub async fn write(path: PathBuf, mut actions: mpsc::UnboundedReceiver<TicketAction>) {
    while let Some(action) = actions.recv().await {
        let target = path.clone();
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&target)?;
            let mut line = serde_json::to_vec(&action).map_err(std::io::Error::other)?;
            line.push(b'\n');
            file.write_all(&line)?;
            file.sync_data()
        })
        .await;
        if let Ok(Err(error)) | Err(error) = written.map_err(std::io::Error::other) {
            warn!(%error, path = %path.display(), "writing a ticket action failed");
        }
    }
}
