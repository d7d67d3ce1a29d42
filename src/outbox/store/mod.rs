//! The durable outbox: ticket actions written to disk before anyone is told of them.
//!
//! In: actions to append, and each sink's news (delivered, dead-lettered, the remote id
//! of a ticket it created). Out: per sink, the actions still owed, in append order; the
//! dead letters; the tickets open after the last action appended (written in the same
//! transaction as the action, so that a restart carries each on exactly). A redb database at `<data_dir>/outbox.redb`; every call is one
//! transaction, committed (fsync'd) before it returns, so a crash, `kill -9` included,
//! loses nothing that a call reported done.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};

use crate::tickets::{OpenTicket, TicketAction};

/// Sequence number → the action, as JSON; removed once no sink owes it.
const ACTIONS: TableDefinition<u64, &str> = TableDefinition::new("actions");
/// Sequence number → how many sinks still owe it.
const OWED: TableDefinition<u64, u32> = TableDefinition::new("owed");
/// (sink, sequence number) for every action a sink has yet to deliver.
const PENDING: TableDefinition<(&str, u64), ()> = TableDefinition::new("pending");
/// (sink, sequence number) → the dead letter, as JSON.
const DEAD: TableDefinition<(&str, u64), &str> = TableDefinition::new("dead_letters");
/// (sink, key) → a value the sink keeps across restarts (the webhook: a ticket's URL).
const REMOTE: TableDefinition<(&str, &str), &str> = TableDefinition::new("remote");
/// Fingerprint → the [`OpenTicket`], as JSON, while its ticket is open.
const OPEN: TableDefinition<&str, &str> = TableDefinition::new("open_tickets");
/// `next_seq` → the next sequence number (never reused, even once actions are removed).
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

#[derive(Debug, thiserror::Error)]
#[error("outbox {path}: {source}")]
pub struct StoreError {
    pub path: PathBuf,
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// An action a sink refused for good, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub sink: String,
    pub seq: u64,
    pub reason: String,
    pub action: TicketAction,
}

/// What a sink owes, as [`Store::next_owed`] reads it.
#[derive(Debug, Default)]
pub struct Owed {
    /// (sequence number, action), oldest first.
    pub heads: Vec<(u64, TicketAction)>,
    /// Every action the sink owes, the heads included.
    pub count: usize,
}

/// How a sink finished with an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    Delivered,
    /// Refused for good: the action moves to the dead letters, with the reason.
    Refused(String),
}

pub struct Store {
    db: Database,
    path: PathBuf,
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

impl Store {
    /// Opens (or creates) `<dir>/outbox.redb`, creating `dir` if missing. A corrupt
    /// file, or one another process holds open, is an error naming the path.
    pub fn open(dir: &Path) -> std::result::Result<Store, StoreError> {
        let path = dir.join("outbox.redb");
        let fail = |source: Box<dyn std::error::Error + Send + Sync>| StoreError {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| fail(e.into()))?;
        let db = Database::create(&path).map_err(|e| fail(e.into()))?;
        let store = Store { db, path };
        store.write(|tx| {
            tx.open_table(ACTIONS)?;
            tx.open_table(OWED)?;
            tx.open_table(PENDING)?;
            tx.open_table(DEAD)?;
            tx.open_table(REMOTE)?;
            tx.open_table(OPEN)?;
            tx.open_table(META)?;
            Ok(())
        })?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores `action` as owed to every one of `sinks`, and its ticket's open state;
    /// durable when it returns.
    pub fn append(
        &self,
        action: &TicketAction,
        sinks: &[String],
    ) -> std::result::Result<u64, StoreError> {
        let seqs = self.append_all(std::slice::from_ref(action), sinks)?;
        Ok(seqs[0])
    }

    /// Stores `actions`, in order, as [`Store::append`] does each, in one transaction:
    /// one fsync for all of them (a step that decides many actions at once, as after an
    /// outage, pays one). Their sequence numbers, in order.
    pub fn append_all(
        &self,
        actions: &[TicketAction],
        sinks: &[String],
    ) -> std::result::Result<Vec<u64>, StoreError> {
        let texts: Vec<String> = actions
            .iter()
            .map(|action| serde_json::to_string(action).expect("an action is JSON"))
            .collect();
        self.write(|tx| {
            let mut meta = tx.open_table(META)?;
            let mut stored = tx.open_table(ACTIONS)?;
            let mut owed = tx.open_table(OWED)?;
            let mut pending = tx.open_table(PENDING)?;
            let mut open = tx.open_table(OPEN)?;
            let mut seqs = Vec::with_capacity(actions.len());
            for (action, json) in actions.iter().zip(&texts) {
                let seq = meta.get("next_seq")?.map_or(1, |v| v.value());
                meta.insert("next_seq", seq + 1)?;
                stored.insert(seq, json.as_str())?;
                owed.insert(seq, sinks.len() as u32)?;
                for sink in sinks {
                    pending.insert((sink.as_str(), seq), ())?;
                }
                let fingerprint = action.ticket.fingerprint.as_str();
                let before: Option<OpenTicket> = match open.get(fingerprint)? {
                    Some(json) => Some(serde_json::from_str(json.value())?),
                    None => None,
                };
                match OpenTicket::after(before, action) {
                    Some(after) => {
                        open.insert(fingerprint, serde_json::to_string(&after)?.as_str())?;
                    }
                    None => {
                        open.remove(fingerprint)?;
                    }
                }
                seqs.push(seq);
            }
            Ok(seqs)
        })
    }

    /// Every ticket open after the last action appended, by fingerprint.
    pub fn open_tickets(&self) -> std::result::Result<Vec<OpenTicket>, StoreError> {
        self.read_all(OPEN)
    }

    /// What `sink` should deliver next: the oldest action it owes of each ticket whose
    /// fingerprint is not `busy`, oldest first, at most `want` of them; and how many
    /// actions it owes in all. Actions are read and parsed only until `want` heads are
    /// found: a backlog behind them costs a count of keys per call, not a parse of
    /// every action (the dispatcher calls this at every wake and after every delivery).
    pub fn next_owed(
        &self,
        sink: &str,
        busy: &HashSet<String>,
        want: usize,
    ) -> std::result::Result<Owed, StoreError> {
        self.read(|db| {
            let tx = db.begin_read()?;
            let pending = tx.open_table(PENDING)?;
            let actions = tx.open_table(ACTIONS)?;
            let mut owed = Owed::default();
            let mut chosen = HashSet::new();
            for entry in pending.range((sink, 0)..=(sink, u64::MAX))? {
                let seq = entry?.0.value().1;
                owed.count += 1;
                if owed.heads.len() == want {
                    continue;
                }
                let json = actions
                    .get(seq)?
                    .ok_or_else(|| format!("action {seq} is pending for {sink} but missing"))?;
                let action: TicketAction = serde_json::from_str(json.value())?;
                let fingerprint = &action.ticket.fingerprint;
                if !busy.contains(fingerprint) && chosen.insert(fingerprint.clone()) {
                    owed.heads.push((seq, action));
                }
            }
            Ok(owed)
        })
    }

    pub fn pending_count(&self, sink: &str) -> std::result::Result<usize, StoreError> {
        self.read(|db| {
            let tx = db.begin_read()?;
            let pending = tx.open_table(PENDING)?;
            Ok(pending.range((sink, 0)..=(sink, u64::MAX))?.count())
        })
    }

    /// How many actions some sink has yet to deliver (the outbox's backlog).
    pub fn undelivered(&self) -> std::result::Result<u64, StoreError> {
        self.read(|db| Ok(db.begin_read()?.open_table(OWED)?.len()?))
    }

    /// Records how `sink` finished with each of `settled`, in one transaction: one fsync
    /// for all of them (a dispatcher settles what finished while it was busy at once).
    /// An action `sink` no longer owes is passed over, so a repeat changes nothing.
    pub fn settle_all(
        &self,
        sink: &str,
        settled: &[(u64, Settlement)],
    ) -> std::result::Result<(), StoreError> {
        self.write(|tx| {
            for (seq, settlement) in settled {
                if tx.open_table(PENDING)?.get((sink, *seq))?.is_none() {
                    continue; // settled before: a repeat (a commit that reported an error)
                }
                if let Settlement::Refused(reason) = settlement {
                    dead_letter(tx, *seq, sink, reason)?;
                }
                settle(tx, *seq, sink)?;
            }
            Ok(())
        })
    }

    /// Every dead letter, by sink and sequence number.
    pub fn dead_letters(&self) -> std::result::Result<Vec<DeadLetter>, StoreError> {
        self.read_all(DEAD)
    }

    pub fn remember(
        &self,
        sink: &str,
        key: &str,
        value: &str,
    ) -> std::result::Result<(), StoreError> {
        self.write(|tx| {
            tx.open_table(REMOTE)?.insert((sink, key), value)?;
            Ok(())
        })
    }

    /// Remembers (`Some`) or forgets (`None`) each key's value for `sink`, in one
    /// transaction.
    pub fn keep(
        &self,
        sink: &str,
        entries: &[(String, Option<String>)],
    ) -> std::result::Result<(), StoreError> {
        self.write(|tx| {
            let mut remote = tx.open_table(REMOTE)?;
            for (key, value) in entries {
                match value {
                    Some(value) => remote.insert((sink, key.as_str()), value.as_str())?,
                    None => remote.remove((sink, key.as_str()))?,
                };
            }
            Ok(())
        })
    }

    pub fn forget(&self, sink: &str, key: &str) -> std::result::Result<(), StoreError> {
        self.write(|tx| {
            tx.open_table(REMOTE)?.remove((sink, key))?;
            Ok(())
        })
    }

    /// Every (key, value) a sink remembers.
    pub fn recall_all(&self, sink: &str) -> std::result::Result<Vec<(String, String)>, StoreError> {
        self.read(|db| {
            let tx = db.begin_read()?;
            let remote = tx.open_table(REMOTE)?;
            let mut found = Vec::new();
            for entry in remote.range((sink, "")..)? {
                let (key, value) = entry?;
                let (owner, key) = key.value();
                if owner != sink {
                    break;
                }
                found.push((key.to_owned(), value.value().to_owned()));
            }
            Ok(found)
        })
    }

    pub fn recall(&self, sink: &str, key: &str) -> std::result::Result<Option<String>, StoreError> {
        self.read(|db| {
            let tx = db.begin_read()?;
            let remote = tx.open_table(REMOTE)?;
            Ok(remote.get((sink, key))?.map(|v| v.value().to_owned()))
        })
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<T>,
    ) -> std::result::Result<T, StoreError> {
        let run = || -> Result<T> {
            let tx = self.db.begin_write()?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        };
        run().map_err(|source| self.error(source))
    }

    /// Every value of `table`, parsed from its JSON, in key order.
    fn read_all<K: redb::Key + 'static, T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<K, &str>,
    ) -> std::result::Result<Vec<T>, StoreError> {
        self.read(|db| {
            let tx = db.begin_read()?;
            let mut values = Vec::new();
            for entry in tx.open_table(table)?.iter()? {
                values.push(serde_json::from_str(entry?.1.value())?);
            }
            Ok(values)
        })
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T>,
    ) -> std::result::Result<T, StoreError> {
        f(&self.db).map_err(|source| self.error(source))
    }

    fn error(&self, source: Box<dyn std::error::Error + Send + Sync>) -> StoreError {
        StoreError {
            path: self.path.clone(),
            source,
        }
    }
}

/// Runs a store call (a disk write with fsync) off the async workers.
pub async fn on_blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> T + Send + 'static,
) -> T {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .expect("the store does not panic")
}

/// Files action `seq` among `sink`'s dead letters, with `reason`.
fn dead_letter(tx: &WriteTransaction, seq: u64, sink: &str, reason: &str) -> Result<()> {
    let json = tx
        .open_table(ACTIONS)?
        .get(seq)?
        .ok_or_else(|| format!("action {seq} is missing"))?
        .value()
        .to_owned();
    let letter = DeadLetter {
        sink: sink.to_owned(),
        seq,
        reason: reason.to_owned(),
        action: serde_json::from_str(&json)?,
    };
    let letter = serde_json::to_string(&letter)?;
    tx.open_table(DEAD)?.insert((sink, seq), letter.as_str())?;
    Ok(())
}

/// `sink` no longer owes action `seq`; the action goes once no sink owes it.
fn settle(tx: &WriteTransaction, seq: u64, sink: &str) -> Result<()> {
    if tx.open_table(PENDING)?.remove((sink, seq))?.is_none() {
        return Ok(()); // settled before: a repeat after a crash
    }
    let mut owed = tx.open_table(OWED)?;
    let left = owed.get(seq)?.map_or(0, |v| v.value()).saturating_sub(1);
    if left == 0 {
        owed.remove(seq)?;
        tx.open_table(ACTIONS)?.remove(seq)?;
    } else {
        owed.insert(seq, left)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
