//! Interned label strings, reference-counted so that strings of evicted series go away.
//!
//! Label names and many values (`job`, `instance`, metric names) repeat across thousands
//! of series; a series stores only 4-byte ids into this table, which keeps the memory per
//! active series small.

use std::hash::BuildHasher;

use hashbrown::HashTable;

#[derive(Default)]
pub struct SymbolTable {
    texts: Vec<Box<str>>,
    /// How many series labels use each id; 0 means the id is on the free list.
    uses: Vec<u32>,
    free: Vec<u32>,
    /// Ids, found by the hash of their text.
    index: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
}

impl SymbolTable {
    pub fn text(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }

    /// The id of `text`, if a series uses it.
    pub fn find(&self, text: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(text.as_bytes());
        let texts = &self.texts;
        (self.index.find(hash, |&id| &*texts[id as usize] == text)).copied()
    }

    /// The id of `text`, adding one use of it.
    pub fn acquire(&mut self, text: &str) -> u32 {
        if let Some(id) = self.find(text) {
            self.uses[id as usize] += 1;
            return id;
        }
        let hash = self.hasher.hash_one(text.as_bytes());
        let id = match self.free.pop() {
            Some(id) => {
                self.texts[id as usize] = text.into();
                self.uses[id as usize] = 1;
                id
            }
            None => {
                self.texts.push(text.into());
                self.uses.push(1);
                (self.texts.len() - 1) as u32
            }
        };
        let (texts, hasher) = (&self.texts, &self.hasher);
        self.index.insert_unique(hash, id, |&id| {
            hasher.hash_one(texts[id as usize].as_bytes())
        });
        id
    }

    /// Gives back one use of `id`; the string is freed with its last use.
    pub fn release(&mut self, id: u32) {
        let uses = &mut self.uses[id as usize];
        *uses -= 1;
        if *uses > 0 {
            return;
        }
        let hash = self.hasher.hash_one(self.texts[id as usize].as_bytes());
        if let Ok(entry) = self.index.find_entry(hash, |&other| other == id) {
            entry.remove();
        }
        self.texts[id as usize] = Box::from("");
        self.free.push(id);
    }

    /// Strings currently held.
    pub fn len(&self) -> usize {
        self.texts.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once_and_frees_with_the_last_use() {
        let mut table = SymbolTable::default();
        let job = table.acquire("job");
        assert_eq!(table.acquire("job"), job);
        let node = table.acquire("node");
        assert_eq!(table.len(), 2);
        table.release(job);
        assert_eq!(table.text(job), "job");
        table.release(job);
        assert_eq!(table.len(), 1);
        // The freed id is reused for a new string, and the old string is not found.
        let reused = table.acquire("instance");
        assert_eq!(reused, job);
        assert_eq!(table.text(reused), "instance");
        assert_eq!(table.text(node), "node");
        assert_ne!(table.acquire("job"), job);
    }
}
