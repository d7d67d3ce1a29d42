//! The `file` sink: one JSON line per action (the [`TicketAction`] as serde writes
//! it), appended and fsync'd; `serve`'s default, so that tickets show with no
//! configuration at all.
//!
//! In: actions. Out: lines in the file. A crash between the write and the outbox's
//! record of it makes the dispatcher deliver the action again after the restart; the
//! keys in the file's tail, read at open, let that repeat be skipped (the sink writes
//! one action at a time, so at most the last line can be such a repeat).

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::sink::{Attempt, Sink};
use crate::tickets::TicketAction;

/// How much of the file's end is read at open for keys already written.
const TAIL_BYTES: u64 = 64 * 1024;

pub struct FileSink {
    name: String,
    path: PathBuf,
    /// The file, and the keys found in its tail at open. A std mutex: it is held only
    /// inside `spawn_blocking`, never across an await.
    state: Arc<Mutex<(std::fs::File, HashSet<String>)>>,
}

impl FileSink {
    pub fn open(name: &str, path: &Path) -> std::io::Result<FileSink> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let length = file.metadata()?.len();
        file.seek(SeekFrom::Start(length.saturating_sub(TAIL_BYTES)))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)?;
        if tail.last().is_some_and(|&byte| byte != b'\n') {
            // A line cut short by a crash: end it, so that the next line stands alone.
            file.write_all(b"\n")?;
        }
        let written = String::from_utf8_lossy(&tail)
            .lines()
            .filter_map(|line| serde_json::from_str::<TicketAction>(line).ok())
            .map(|action| action.idempotency_key)
            .collect();
        Ok(FileSink {
            name: name.to_owned(),
            path: path.to_owned(),
            state: Arc::new(Mutex::new((file, written))),
        })
    }
}

impl Sink for FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn concurrency(&self) -> usize {
        1
    }

    async fn deliver(&self, action: &TicketAction) -> Attempt {
        let mut line = serde_json::to_vec(action).expect("an action is JSON");
        line.push(b'\n');
        let key = action.idempotency_key.clone();
        let state = Arc::clone(&self.state);
        let written = tokio::task::spawn_blocking(move || {
            let mut state = state.lock().expect("no panic while holding the file");
            let (file, written) = &mut *state;
            if written.contains(&key) {
                return Ok(());
            }
            file.write_all(&line)?;
            file.sync_data()
        })
        .await
        .expect("the write does not panic");
        match written {
            Ok(()) => Attempt::Delivered,
            Err(e) => Attempt::Retry(format!("{}: {e}", self.path.display())),
        }
    }
}
