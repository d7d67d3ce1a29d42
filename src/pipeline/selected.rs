//! What the live pipeline decided for each registry series id: whether a signal selects
//! the series, and where the store keeps it.
//!
//! In: decisions by id, once per series (its labels are looked at once). Out: the
//! decision of a sample's id, at every sample, by the id's slot: registry slots are
//! dense, so this is an array access, not a hash lookup, on the path every sample takes
//! (most of what node_exporter sends is skipped here). A slot holds one generation; an id
//! of another generation (the slot reused after an eviction) is unknown.

use crate::promql::SeriesIndex;
use crate::registry::SeriesId;

/// The decision for one id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not decided yet: its labels are needed.
    Unknown,
    /// No signal selects it: its samples are skipped.
    Skipped,
    /// Kept at this store index.
    Kept(SeriesIndex),
}

/// The decisions, by slot.
#[derive(Debug, Default)]
pub struct Selected {
    slots: Vec<Slot>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    generation: u32,
    /// A store index, or one of the two markers below.
    state: u32,
}

const VACANT: u32 = u32::MAX;
const SKIPPED: u32 = u32::MAX - 1;

impl Selected {
    pub fn get(&self, id: SeriesId) -> Seen {
        match self.slots.get(id.slot()) {
            Some(slot) if slot.generation == id.generation() => match slot.state {
                VACANT => Seen::Unknown,
                SKIPPED => Seen::Skipped,
                index => Seen::Kept(index as SeriesIndex),
            },
            _ => Seen::Unknown,
        }
    }

    /// Records the decision for `id`: kept at `index`, or skipped. Returns where the
    /// slot's previous series was kept, if its eviction has not arrived yet (the
    /// registry reuses a slot as soon as it evicts, and says so to the pipeline after):
    /// its samples are the caller's to forget.
    #[must_use]
    pub fn insert(&mut self, id: SeriesId, index: Option<SeriesIndex>) -> Option<SeriesIndex> {
        let state = match index {
            Some(index) => u32::try_from(index)
                .ok()
                .filter(|&i| i < SKIPPED)
                .expect("fewer than 4 billion series kept"),
            None => SKIPPED,
        };
        let at = id.slot();
        if at >= self.slots.len() {
            let vacant = Slot {
                generation: 0,
                state: VACANT,
            };
            self.slots.resize(at + 1, vacant);
        }
        let previous = std::mem::replace(
            &mut self.slots[at],
            Slot {
                generation: id.generation(),
                state,
            },
        );
        match previous.state {
            VACANT | SKIPPED => None,
            index if previous.generation != id.generation() => Some(index as SeriesIndex),
            _ => None,
        }
    }

    /// Forgets `id`; returns where it was kept, if it was.
    pub fn remove(&mut self, id: SeriesId) -> Option<SeriesIndex> {
        let seen = self.get(id);
        if seen != Seen::Unknown {
            self.slots[id.slot()].state = VACANT;
        }
        match seen {
            Seen::Kept(index) => Some(index),
            Seen::Unknown | Seen::Skipped => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_holds_for_its_generation_only() {
        let mut selected = Selected::default();
        let (kept, skipped) = (SeriesId::for_tests(5), SeriesId::for_tests(2));
        assert_eq!(selected.get(kept), Seen::Unknown);
        assert_eq!(selected.insert(kept, Some(7)), None);
        assert_eq!(selected.insert(skipped, None), None);
        assert_eq!(selected.get(kept), Seen::Kept(7));
        assert_eq!(selected.get(skipped), Seen::Skipped);
        assert_eq!(
            selected.get(SeriesId::for_tests(3)),
            Seen::Unknown,
            "a slot between"
        );
        let reused = SeriesId::for_tests_of_generation(5, 1);
        assert_eq!(
            selected.get(reused),
            Seen::Unknown,
            "the slot of a later series"
        );
        assert_eq!(selected.remove(reused), None);
        assert_eq!(
            selected.get(kept),
            Seen::Kept(7),
            "another generation's remove"
        );
        assert_eq!(selected.remove(kept), Some(7));
        assert_eq!(selected.get(kept), Seen::Unknown);
        assert_eq!(selected.remove(skipped), None);
        assert_eq!(selected.get(skipped), Seen::Unknown);
        // A slot reused before its eviction arrived: the old series' place comes back.
        assert_eq!(selected.insert(kept, Some(7)), None);
        assert_eq!(selected.insert(reused, Some(9)), Some(7));
        assert_eq!(
            selected.remove(kept),
            None,
            "its eviction, late, finds nothing"
        );
        assert_eq!(selected.get(reused), Seen::Kept(9));
    }
}
