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
        self.read(|db| {
            let tx = db.begin_read()?;
            let open = tx.open_table(OPEN)?;
            let mut tickets = Vec::new();
            for entry in open.iter()? {
                tickets.push(serde_json::from_str(entry?.1.value())?);
            }
            Ok(tickets)
        })
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
        self.read(|db| {
            let tx = db.begin_read()?;
            let dead = tx.open_table(DEAD)?;
            let mut letters = Vec::new();
            for entry in dead.iter()? {
                letters.push(serde_json::from_str(entry?.1.value())?);
            }
            Ok(letters)
        })
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
mod tests {
    use super::*;
    use crate::outbox::template::example_action;

    fn sinks() -> Vec<String> {
        vec!["file".to_owned(), "desk".to_owned()]
    }

    #[test]
    fn appended_actions_stay_pending_per_sink_until_settled_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let action = example_action();
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.append(&action, &sinks()).unwrap(), 1);
            assert_eq!(store.append(&action, &sinks()).unwrap(), 2);
            store
                .settle_all("file", &[(1, Settlement::Delivered)])
                .unwrap();
            store
                .remember("desk", "k", "https://desk/tickets/42/")
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let seqs = |sink| -> Vec<u64> {
            let owed = store.next_owed(sink, &HashSet::new(), 1).unwrap();
            assert_eq!(owed.count, store.pending_count(sink).unwrap());
            owed.heads.into_iter().map(|(s, _)| s).collect()
        };
        assert_eq!(seqs("file"), [2]);
        assert_eq!(seqs("desk"), [1]);
        assert_eq!(store.pending_count("desk").unwrap(), 2);
        let owed = store.next_owed("desk", &HashSet::new(), 1).unwrap();
        assert_eq!(owed.heads[0].1, action);
        assert_eq!(
            store.recall("desk", "k").unwrap().as_deref(),
            Some("https://desk/tickets/42/")
        );
        assert_eq!(store.recall("file", "k").unwrap(), None);

        let refused = Settlement::Refused("status 400: bad title".to_owned());
        store.settle_all("desk", &[(1, refused)]).unwrap();
        store
            .settle_all("desk", &[(1, Settlement::Delivered)])
            .unwrap(); // a repeat changes nothing
        assert_eq!(seqs("desk"), [2]);
        assert_eq!(store.pending_count("desk").unwrap(), 1);
        assert_eq!(
            store.undelivered().unwrap(),
            1,
            "action 2, still owed to both"
        );
        drop(store);

        let store = Store::open(dir.path()).unwrap();
        let letters = store.dead_letters().unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!(
            (
                letters[0].sink.as_str(),
                letters[0].seq,
                letters[0].reason.as_str()
            ),
            ("desk", 1, "status 400: bad title")
        );
        assert_eq!(letters[0].action, action);
        // Action 1 is owed to no sink any more: removed, and its number never reused.
        assert_eq!(store.append(&action, &sinks()).unwrap(), 3);
    }

    #[test]
    fn open_tickets_follow_the_actions_across_reopening() {
        use crate::model::Outcome;
        use crate::tickets::ActionKind;
        let dir = tempfile::tempdir().unwrap();
        let ticket = example_action().ticket;
        let action = |kind, at_ms, n| TicketAction::new(kind, at_ms, ticket.clone(), n);
        let reopened = || Store::open(dir.path()).unwrap().open_tickets().unwrap();
        Store::open(dir.path())
            .unwrap()
            .append(&action(ActionKind::Open, 1_000, 1), &sinks())
            .unwrap();
        let open = reopened();
        assert_eq!(open.len(), 1);
        assert_eq!(
            (open[0].actions, open[0].last_action_ms, open[0].confirmed),
            (1, 1_000, false)
        );
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .append(&action(ActionKind::Update, 2_000, 2), &sinks())
                .unwrap();
            store
                .append(&action(ActionKind::Confirm, 3_000, 3), &sinks())
                .unwrap();
        }
        let open = reopened();
        assert_eq!(
            (open[0].actions, open[0].last_action_ms, open[0].confirmed),
            (3, 3_000, true)
        );
        assert_eq!(open[0].ticket, ticket);
        let resolve = ActionKind::Resolve {
            outcome: Outcome::Materialised,
        };
        Store::open(dir.path())
            .unwrap()
            .append(&action(resolve, 4_000, 4), &sinks())
            .unwrap();
        assert!(reopened().is_empty());
    }

    #[test]
    fn a_corrupt_store_is_an_error_naming_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.redb");
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let error = Store::open(dir.path())
            .err()
            .expect("a corrupt file is refused");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("outbox {}: ", path.display())),
            "{message}"
        );
    }

    /// An action of the given ticket, otherwise the example.
    fn action_of(fingerprint: &str) -> TicketAction {
        let mut action = example_action();
        action.ticket.fingerprint = fingerprint.to_owned();
        action
    }

    #[test]
    fn settle_all_records_deliveries_and_refusals_of_one_sink_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut action = example_action();
        let mut appended = Vec::new();
        for fingerprint in ["a", "b", "c"] {
            action.ticket.fingerprint = fingerprint.to_owned();
            appended.push(action.clone());
        }
        assert_eq!(store.append_all(&appended, &sinks()).unwrap(), [1, 2, 3]);
        let refused = Settlement::Refused("status 422".to_owned());
        let settled = [
            (1, Settlement::Delivered),
            (3, refused),
            (1, Settlement::Delivered),
        ];
        store.settle_all("desk", &settled).unwrap();
        assert_eq!(
            store.pending_count("desk").unwrap(),
            1,
            "action 2 is still owed"
        );
        let letters = store.dead_letters().unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!(
            (letters[0].seq, letters[0].reason.as_str()),
            (3, "status 422")
        );
        assert_eq!(letters[0].action.ticket.fingerprint, "c");
        assert_eq!(
            store.undelivered().unwrap(),
            3,
            "the file sink owes all three"
        );
        let delivered: Vec<(u64, Settlement)> =
            (1..=3).map(|seq| (seq, Settlement::Delivered)).collect();
        store.settle_all("file", &delivered).unwrap();
        assert_eq!(
            store.undelivered().unwrap(),
            1,
            "action 2, still owed to desk"
        );
        // A repeat of a commit that reported an error but was kept: action 3 is gone.
        let refused = Settlement::Refused("status 422".to_owned());
        store.settle_all("desk", &[(3, refused)]).unwrap();
        assert_eq!(store.dead_letters().unwrap().len(), 1);
    }

    #[test]
    fn next_owed_is_the_oldest_action_of_each_idle_ticket_and_stops_at_what_is_wanted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let sinks = ["desk".to_owned()];
        for fingerprint in ["a", "a", "b", "c", "b", "d"] {
            store.append(&action_of(fingerprint), &sinks).unwrap();
        }
        let next = |busy: &[&str], want| {
            let busy = busy.iter().map(|f| (*f).to_owned()).collect();
            let owed = store.next_owed("desk", &busy, want).unwrap();
            let heads: Vec<(u64, String)> = owed
                .heads
                .into_iter()
                .map(|(seq, action)| (seq, action.ticket.fingerprint))
                .collect();
            (heads, owed.count)
        };
        let ticket = |seq, fingerprint: &str| (seq, fingerprint.to_owned());
        assert_eq!(
            next(&[], 10),
            (
                vec![
                    ticket(1, "a"),
                    ticket(3, "b"),
                    ticket(4, "c"),
                    ticket(6, "d")
                ],
                6
            ),
            "one per ticket, the oldest, in order"
        );
        assert_eq!(
            next(&["a", "c"], 10),
            (vec![ticket(3, "b"), ticket(6, "d")], 6),
            "a ticket in delivery waits: its later actions are not heads"
        );
        assert_eq!(next(&["a"], 1), (vec![ticket(3, "b")], 6));
        assert_eq!(next(&[], 0), (vec![], 6), "nothing wanted: only the count");
        store
            .settle_all("desk", &[(1, Settlement::Delivered)])
            .unwrap();
        assert_eq!(
            next(&[], 1),
            (vec![ticket(2, "a")], 5),
            "the next of a comes up"
        );
    }

    #[test]
    fn actions_appended_together_are_stored_as_if_one_by_one() {
        let (together, one_by_one) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let actions: Vec<TicketAction> = ["a", "b", "a"].map(action_of).to_vec();
        let at_once = Store::open(together.path()).unwrap();
        assert_eq!(at_once.append_all(&actions, &sinks()).unwrap(), [1, 2, 3]);
        let each = Store::open(one_by_one.path()).unwrap();
        for action in &actions {
            each.append(action, &sinks()).unwrap();
        }
        for store in [&at_once, &each] {
            assert_eq!(store.pending_count("desk").unwrap(), 3);
            assert!(store.append_all(&[], &sinks()).unwrap().is_empty());
        }
        let open = |store: &Store| {
            let mut tickets = store.open_tickets().unwrap();
            tickets.sort_by(|x, y| x.ticket.fingerprint.cmp(&y.ticket.fingerprint));
            tickets
        };
        assert_eq!(open(&at_once), open(&each));
        assert_eq!(at_once.append(&actions[1], &sinks()).unwrap(), 4);
    }
}
