//! The page table: page id -> cache entry, in chunks of consecutive ids.
//!
//! ```text
//!   chunks: FxHashMap<id / 32, Box<[Option<T>; 32]>>      (a few KiB, stays in cache)
//!   get(id) = chunks[id / 32][id % 32]
//! ```
//!
//! A hash table with one bucket per cached page is as large as the cache
//! has pages, so under a B-tree descent that streams through megabytes of
//! pages its buckets fall out of the CPU cache and each lookup misses. Here
//! the hashed part has one entry per 32 consecutive ids and the entries
//! themselves are packed, so the lookups of a query touch a few hot lines.
//!
//! Invariants: a chunk is present exactly when it holds an entry (`used` >
//! 0), and `len` is the number of entries. Ids are any `u64`: a chunk is
//! allocated only for an id being inserted, so a large id costs one chunk,
//! never a table sized by the id.

use rustc_hash::FxHashMap;

use crate::store::PageId;

/// Ids per chunk.
const CHUNK: usize = 32;

struct Chunk<T> {
    slots: [Option<T>; CHUNK],
    used: u32,
}

pub(super) struct PageTable<T> {
    chunks: FxHashMap<u64, Box<Chunk<T>>>,
    len: usize,
}

#[inline]
fn split(id: PageId) -> (u64, usize) {
    (id / CHUNK as u64, (id % CHUNK as u64) as usize)
}

impl<T> PageTable<T> {
    pub(super) fn new() -> PageTable<T> {
        PageTable {
            chunks: FxHashMap::default(),
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(super) fn get(&self, id: PageId) -> Option<&T> {
        let (chunk, slot) = split(id);
        self.chunks.get(&chunk)?.slots[slot].as_ref()
    }

    pub(super) fn contains_key(&self, id: PageId) -> bool {
        self.get(id).is_some()
    }

    /// Stores `value` under `id` (which must be absent) and returns it.
    pub(super) fn insert(&mut self, id: PageId, value: T) -> &T {
        let (chunk, slot) = split(id);
        let chunk = self.chunks.entry(chunk).or_insert_with(|| {
            Box::new(Chunk {
                slots: std::array::from_fn(|_| None),
                used: 0,
            })
        });
        debug_assert!(chunk.slots[slot].is_none(), "page {id} inserted twice");
        if chunk.slots[slot].is_none() {
            chunk.used += 1;
            self.len += 1;
        }
        chunk.slots[slot].insert(value)
    }

    pub(super) fn remove(&mut self, id: PageId) -> Option<T> {
        let (key, slot) = split(id);
        let chunk = self.chunks.get_mut(&key)?;
        let value = chunk.slots[slot].take()?;
        chunk.used -= 1;
        self.len -= 1;
        if chunk.used == 0 {
            self.chunks.remove(&key);
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn behaves_like_a_map_and_frees_empty_chunks() {
        let mut table = PageTable::new();
        let mut model = BTreeMap::new();
        let mut state = 7u64;
        for step in 0..20_000u64 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            // Mostly dense small ids, some far apart, some at the extremes.
            let id = match state >> 61 {
                0 => u64::MAX - (state >> 40) % 3,
                1 => (state >> 20) % 1_000_000_007,
                _ => (state >> 33) % 300,
            };
            match model.remove(&id) {
                Some(old) => assert_eq!(table.remove(id), Some(old), "step {step}"),
                None => {
                    assert_eq!(*table.insert(id, step), step);
                    model.insert(id, step);
                }
            }
            assert_eq!(table.get(id), model.get(&id));
            assert_eq!(table.len(), model.len());
        }
        for (id, value) in &model {
            assert_eq!(table.get(*id), Some(value));
            assert!(table.contains_key(*id));
        }
        let ids: Vec<u64> = model.keys().copied().collect();
        for id in ids {
            assert_eq!(table.remove(id), model.remove(&id));
            assert_eq!(table.remove(id), None);
        }
        assert_eq!(table.len(), 0);
        assert!(table.chunks.is_empty(), "empty chunks are freed");
    }
}
