//! Offsets wait for the ticket actions their records decided. A record's offset is
//! committed only once the recorder has stored every action the worker had sent when
//! the record was processed. A worker that dies between deciding an action and storing
//! it has not committed its record, so the partition's next owner (or the worker,
//! restarted) decides the action again, with the same idempotency key, which sinks
//! deduplicate, instead of nobody ever taking it.
//!
//! In: the count of actions sent to the recorder (`Ledger::sent_one`, by the worker),
//! the count it stored (by the recorder, through the shared counter), and at each
//! housekeeping the offsets processed so far. Out: the offsets that may be committed
//! (`Gate::ready`), and for a revocation or a shutdown, a bounded wait for the recorder
//! to catch up (`Ledger::wait_stored`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Actions sent to the recorder and stored by it.
pub(super) struct Ledger {
    sent: AtomicU64,
    /// Incremented by the recorder once a batch is stored (or filtered out).
    stored: Arc<AtomicU64>,
}

/// How often a wait for the recorder looks again.
const WAIT_POLL: Duration = Duration::from_millis(5);

impl Ledger {
    pub(super) fn new(stored: Arc<AtomicU64>) -> Ledger {
        Ledger {
            sent: AtomicU64::new(0),
            stored,
        }
    }

    pub(super) fn sent_one(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// (sent, stored), stored read after sent: never more than what it stands for.
    fn counts(&self) -> (u64, u64) {
        let sent = self.sent.load(Ordering::Relaxed);
        (sent, self.stored.load(Ordering::Acquire))
    }

    /// Waits until every action sent so far is stored, at most `limit`; whether it was.
    pub(super) fn wait_stored(&self, limit: Duration) -> bool {
        let sent = self.sent.load(Ordering::Relaxed);
        let until = Instant::now() + limit;
        loop {
            if self.stored.load(Ordering::Acquire) >= sent {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(WAIT_POLL);
        }
    }
}

/// Processed offsets held back until their actions are stored.
#[derive(Debug, Default)]
pub(super) struct Gate {
    /// Offsets processed when this many actions had been sent.
    waiting: Option<(BTreeMap<i32, i64>, u64)>,
}

impl Gate {
    /// The offsets to commit now, given those processed so far: all of them when every
    /// action sent is stored; otherwise those of an earlier call whose actions are all
    /// stored by now, if any (the latest are held until a later call).
    pub(super) fn ready(
        &mut self,
        processed: &BTreeMap<i32, i64>,
        ledger: &Ledger,
    ) -> Option<BTreeMap<i32, i64>> {
        let (sent, stored) = ledger.counts();
        if stored >= sent {
            self.waiting = None;
            return Some(processed.clone());
        }
        let ready = match self.waiting.take() {
            Some((offsets, needs)) if stored >= needs => Some(offsets),
            still => {
                self.waiting = still;
                None
            }
        };
        self.waiting
            .get_or_insert_with(|| (processed.clone(), sent));
        ready
    }

    /// A partition assigned or revoked: an offset held for it from before is not
    /// committed (it may belong to another worker now).
    pub(super) fn forget(&mut self, partition: i32) {
        if let Some((offsets, _)) = &mut self.waiting {
            offsets.remove(&partition);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(pairs: &[(i32, i64)]) -> BTreeMap<i32, i64> {
        pairs.iter().copied().collect()
    }

    fn ledger(sent: u64) -> (Ledger, Arc<AtomicU64>) {
        let stored = Arc::new(AtomicU64::new(0));
        let ledger = Ledger::new(Arc::clone(&stored));
        for _ in 0..sent {
            ledger.sent_one();
        }
        (ledger, stored)
    }

    #[test]
    fn offsets_commit_at_once_when_every_action_is_stored() {
        let (ledger, stored) = ledger(3);
        stored.store(3, Ordering::Release);
        let mut gate = Gate::default();
        let processed = offsets(&[(0, 10), (1, 7)]);
        assert_eq!(gate.ready(&processed, &ledger), Some(processed));
    }

    /// Actions not yet stored hold the offsets processed with them; once stored, those
    /// offsets commit, not later ones whose actions are still on their way.
    #[test]
    fn offsets_wait_for_the_actions_sent_before_them() {
        let (ledger, stored) = ledger(2);
        let mut gate = Gate::default();
        assert_eq!(gate.ready(&offsets(&[(0, 10)]), &ledger), None);
        ledger.sent_one();
        stored.store(2, Ordering::Release);
        assert_eq!(
            gate.ready(&offsets(&[(0, 15)]), &ledger),
            Some(offsets(&[(0, 10)]))
        );
        assert_eq!(gate.ready(&offsets(&[(0, 16)]), &ledger), None);
        stored.store(3, Ordering::Release);
        assert_eq!(
            gate.ready(&offsets(&[(0, 17)]), &ledger),
            Some(offsets(&[(0, 17)]))
        );
    }

    /// A recorder that stopped (its store failed) stores nothing more: nothing after its
    /// last stored action is ever committed.
    #[test]
    fn a_stopped_recorder_holds_every_later_offset() {
        let (ledger, _stored) = ledger(1);
        let mut gate = Gate::default();
        for next in 1..5 {
            assert_eq!(gate.ready(&offsets(&[(0, next)]), &ledger), None);
        }
        assert!(!ledger.wait_stored(Duration::from_millis(20)));
    }

    #[test]
    fn a_partition_that_changed_hands_is_not_committed_from_before() {
        let (ledger, stored) = ledger(1);
        let mut gate = Gate::default();
        assert_eq!(gate.ready(&offsets(&[(0, 10), (1, 4)]), &ledger), None);
        gate.forget(1);
        ledger.sent_one();
        stored.store(1, Ordering::Release);
        assert_eq!(
            gate.ready(&offsets(&[(0, 12)]), &ledger),
            Some(offsets(&[(0, 10)]))
        );
    }

    #[test]
    fn a_wait_ends_when_the_recorder_catches_up() {
        let (ledger, stored) = ledger(2);
        let recorder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            stored.store(2, Ordering::Release);
        });
        assert!(ledger.wait_stored(Duration::from_secs(10)));
        recorder.join().unwrap();
    }
}
