//! The `file` sink: one JSON line per action (the [`TicketAction`] as serde writes
//! it), appended and fsync'd; `serve`'s default, so that tickets show with no
//! configuration at all.
//!
//! In: actions. Out: lines in the file. Concurrent deliveries share fsyncs: a line is
//! delivered once an fsync that began after its write has succeeded, so a burst of actions
//! (a catch-up after an outage) pays a few fsyncs rather than one each. A failed fsync
//! fails every line written before it, even when a later fsync succeeds: Linux reports
//! a lost write once, and marks its pages clean. A crash between the write and the
//! outbox's record of it makes the dispatcher deliver the action again after the
//! restart; the keys in the file's tail, read (and fsync'd) at open, let that repeat be
//! skipped. The actions that can be repeated are those in flight at the crash, at most
//! [`CONCURRENCY`], and the tail holds the last hundreds of lines.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::sink::{Attempt, Sink};
use crate::tickets::TicketAction;

/// How much of the file's end is read at open for keys already written: hundreds of
/// lines of a kilobyte or a few.
const TAIL_BYTES: u64 = 1024 * 1024;
/// Deliveries in flight at once.
const CONCURRENCY: usize = 16;

pub struct FileSink {
    name: String,
    path: PathBuf,
    /// Std mutexes: held only inside `spawn_blocking`, never across an await.
    appender: Arc<Mutex<Appender>>,
    synced: Arc<Mutex<Synced>>,
}

/// The file's fsyncing end.
struct Synced {
    /// A handle on the file, to fsync without stopping writes meanwhile.
    file: std::fs::File,
    ledger: Ledger,
}

/// What the fsyncs made durable, in lines written since open.
#[derive(Debug, Default)]
struct Ledger {
    /// The lines the last successful fsync covered.
    lines: u64,
    /// The lines written by the end of the last failed fsync: maybe lost, whatever
    /// fsync came after.
    failed_through: u64,
}

impl Ledger {
    /// Makes line `mine` durable: nothing to do when an fsync begun after it was written
    /// succeeded, an error when one that ended after it failed, else one `fsync` for
    /// every line `written` so far.
    fn make_durable(
        &mut self,
        mine: u64,
        written: impl Fn() -> u64,
        fsync: impl FnOnce() -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        if mine <= self.failed_through {
            return Err(std::io::Error::other(
                "an fsync failed after the line was written",
            ));
        }
        if mine <= self.lines {
            return Ok(());
        }
        let covered = written();
        if let Err(error) = fsync() {
            // Lines written while it ran may have been in the failed writeback.
            self.failed_through = written();
            return Err(error);
        }
        self.lines = covered;
        Ok(())
    }
}

/// The file's writing end.
struct Appender {
    file: std::fs::File,
    /// The keys found in the file's tail at open.
    written_before: HashSet<String>,
    /// Lines written since open.
    lines: u64,
}

impl Appender {
    /// Appends `line`; a write that fails part way (a full disk) is cut off again, so
    /// that the next line does not start inside it.
    /// (The length is read before each write rather than kept: a log rotation may have
    /// truncated the file meanwhile.)
    fn append(&mut self, line: &[u8]) -> std::io::Result<()> {
        let before = self.file.metadata()?.len();
        if let Err(error) = self.file.write_all(line) {
            self.file.set_len(before)?;
            return Err(error);
        }
        self.lines += 1;
        Ok(())
    }
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
        // A line the tail holds counts as delivered: make sure it is on disk.
        file.sync_data()?;
        let sync_handle = file.try_clone()?;
        Ok(FileSink {
            name: name.to_owned(),
            path: path.to_owned(),
            appender: Arc::new(Mutex::new(Appender {
                file,
                written_before,
                lines: 0,
            })),
            synced: Arc::new(Mutex::new(Synced {
                file: sync_handle,
                ledger: Ledger::default(),
            })),
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
                appender.append(&line)?;
                appender.lines
            };
            let mut synced = synced.lock().expect("no panic while syncing");
            let Synced { file, ledger } = &mut *synced;
            let written = || appender.lock().expect("no panic while writing").lines;
            ledger.make_durable(mine, written, || file.sync_data())
        })
        .await
        .expect("the write does not panic");
        match written {
            Ok(()) => Attempt::Delivered,
            Err(e) => Attempt::Retry(format!("{}: {e}", self.path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_line_is_durable_once_an_fsync_begun_after_it_succeeds_and_lost_with_a_failed_one() {
        let mut ledger = Ledger::default();
        let (written, fsyncs) = (Cell::new(0u64), Cell::new(0));
        let ok = || {
            fsyncs.set(fsyncs.get() + 1);
            Ok(())
        };
        // Lines 1 and 2 written, then line 1's delivery fsyncs for both.
        written.set(2);
        ledger.make_durable(1, || written.get(), ok).unwrap();
        ledger.make_durable(2, || written.get(), ok).unwrap();
        assert_eq!(fsyncs.get(), 1, "line 2 rode on line 1's fsync");
        // Line 3's fsync fails while line 4 is written; line 5 comes after.
        written.set(3);
        let failing = || {
            written.set(4);
            Err(std::io::Error::other("EIO"))
        };
        assert!(ledger.make_durable(3, || written.get(), failing).is_err());
        assert!(
            ledger.make_durable(4, || written.get(), ok).is_err(),
            "written while the failed fsync ran: maybe in its writeback"
        );
        written.set(5);
        ledger.make_durable(5, || written.get(), ok).unwrap();
        assert_eq!(fsyncs.get(), 2);
        assert!(
            ledger.make_durable(3, || written.get(), ok).is_err(),
            "a later fsync's success does not bring back a lost line"
        );
    }
}
