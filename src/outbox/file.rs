//! The `file` sink: one JSON line per action (the [`TicketAction`] as serde writes
//! it), appended and fsync'd; `serve`'s default, so that tickets show with no
//! configuration at all.
//!
//! In: actions. Out: lines in the file. Concurrent deliveries share fsyncs: a line is
//! delivered once an fsync that began after its write has ended, so a burst of actions
//! (a catch-up after an outage) pays a few fsyncs rather than one each. A crash between
//! the write and the outbox's record of it makes the dispatcher deliver the action
//! again after the restart; the keys in the file's tail, read at open, let that repeat
//! be skipped (at most the last [`CONCURRENCY`] lines can be such repeats).

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::sink::{Attempt, Sink};
use crate::tickets::TicketAction;

/// How much of the file's end is read at open for keys already written.
const TAIL_BYTES: u64 = 64 * 1024;
/// Deliveries in flight at once, each a line of a kilobyte or so: their lines fit in
/// [`TAIL_BYTES`].
const CONCURRENCY: usize = 16;

pub struct FileSink {
    name: String,
    path: PathBuf,
    /// Std mutexes: held only inside `spawn_blocking`, never across an await.
    appender: Arc<Mutex<Appender>>,
    /// How many lines the last fsync covered, and a handle on the file to fsync
    /// without stopping writes meanwhile.
    synced: Arc<Mutex<(u64, std::fs::File)>>,
}

/// The file's writing end.
struct Appender {
    file: std::fs::File,
    /// The keys found in the file's tail at open.
    written_before: HashSet<String>,
    /// Lines written since open.
    lines: u64,
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
        let written_before = String::from_utf8_lossy(&tail)
            .lines()
            .filter_map(|line| serde_json::from_str::<TicketAction>(line).ok())
            .map(|action| action.idempotency_key)
            .collect();
        let sync_handle = file.try_clone()?;
        Ok(FileSink {
            name: name.to_owned(),
            path: path.to_owned(),
            appender: Arc::new(Mutex::new(Appender {
                file,
                written_before,
                lines: 0,
            })),
            synced: Arc::new(Mutex::new((0, sync_handle))),
        })
    }
}

impl Sink for FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn concurrency(&self) -> usize {
        CONCURRENCY
    }

    async fn deliver(&self, action: &TicketAction) -> Attempt {
        let mut line = serde_json::to_vec(action).expect("an action is JSON");
        line.push(b'\n');
        let key = action.idempotency_key.clone();
        let (appender, synced) = (Arc::clone(&self.appender), Arc::clone(&self.synced));
        let written = tokio::task::spawn_blocking(move || {
            let mine = {
                let mut appender = appender.lock().expect("no panic while writing");
                if appender.written_before.contains(&key) {
                    return Ok(());
                }
                appender.file.write_all(&line)?;
                appender.lines += 1;
                appender.lines
            };
            let mut synced = synced.lock().expect("no panic while syncing");
            if synced.0 < mine {
                // Every line written by now is covered by this fsync.
                let covered = appender.lock().expect("no panic while writing").lines;
                synced.1.sync_data()?;
                synced.0 = covered;
            }
            Ok::<(), std::io::Error>(())
        })
        .await
        .expect("the write does not panic");
        match written {
            Ok(()) => Attempt::Delivered,
            Err(e) => Attempt::Retry(format!("{}: {e}", self.path.display())),
        }
    }
}
