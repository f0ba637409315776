//! The frame table: which pages are in memory, and which to evict.
//!
//! ```text
//!   map: PageId -> Entry { slot, buf: Rc<PageCell> }     (a PageTable: one probe per access)
//!   frames[slot]: { id, dirty, ring_pos }                (bookkeeping)
//!   ring: clean occupied slots, swept by the clock hand
//! ```
//!
//! Invariants:
//! * A slot is *occupied* when `frames[slot].id != 0`; then
//!   `map[id].slot == slot`. The buffer lives only in the map entry (and in
//!   handles given out), so a cache hit touches the hash bucket and the
//!   page cell, not the frame. Removed buffers are dropped, except a few
//!   kept in `spare` for reuse.
//! * `ring` holds exactly the occupied, clean slots; each knows its position
//!   (`ring_pos`) so that it leaves the ring in O(1) when it becomes dirty.
//!   Dirty pages are never evicted (they reach the store only through an
//!   atomic checkpoint batch), so keeping them out of the ring keeps every
//!   eviction O(1) amortised even when most of the cache is dirty.
//! * A buffer whose `Rc` has other owners is *pinned* (someone holds a page
//!   handle) and is skipped by eviction.
//! * Eviction happens only when the occupied count reaches the budget, and
//!   never takes the clean pages below a floor of an eighth of the budget:
//!   when dirty pages alone fill the budget (a large transaction between
//!   checkpoints), the hot interior pages of the trees must stay cached or
//!   every access would re-read them. Hence always
//!   `occupied <= max(budget, dirty + budget / 8) <= budget + dirty`
//!   (plus pinned pages): the cache exceeds its budget only by dirty pages.
//! * A page's owner may keep words derived from its bytes beside it (the
//!   B-tree's key heads: 4 bytes a cell, 5 to 20 % of a typical leaf,
//!   outside the budget). Every write to the bytes goes
//!   through `PageCell::data_mut`, which drops them first, so they are
//!   never stale.

use std::cell::{Cell, Ref, RefCell, RefMut};
use std::rc::Rc;

use super::table::PageTable;
use crate::store::PageId;

/// A cached page, shared between the cache and the handles given out.
pub(super) struct PageCell {
    /// Private so that every write goes through [`PageCell::data_mut`],
    /// which drops what was derived from the old bytes.
    data: RefCell<Box<[u8]>>,
    /// Set by the page's owner once it has validated the page's structure;
    /// cleared whenever the page is (re)loaded from the store.
    pub checked: Cell<bool>,
    /// The clock's "recently used" bit.
    referenced: Cell<bool>,
    /// Words the page's owner derived from `data` (a B-tree keeps a search
    /// index of its keys here). Invariant: empty, or derived from the
    /// current bytes: emptied by every mutable borrow of `data`.
    derived: RefCell<Vec<u32>>,
    /// Reads since `data` last changed (saturating): owners derive only
    /// for pages read more often than they change.
    reads: Cell<u32>,
}

impl PageCell {
    fn new(page_size: usize) -> PageCell {
        PageCell {
            data: RefCell::new(vec![0u8; page_size].into()),
            checked: Cell::new(false),
            referenced: Cell::new(false),
            derived: RefCell::new(Vec::new()),
            reads: Cell::new(0),
        }
    }

    /// The page bytes.
    #[inline]
    pub fn data(&self) -> Ref<'_, Box<[u8]>> {
        self.data.borrow()
    }

    /// The page bytes for writing: what was derived from them is dropped
    /// first. Panics if the page or its derived words are borrowed.
    #[inline]
    pub fn data_mut(&self) -> RefMut<'_, Box<[u8]>> {
        self.forget_derived();
        self.data.borrow_mut()
    }

    /// [`PageCell::data_mut`] that fails instead of panicking.
    pub fn try_data_mut(&self) -> Option<RefMut<'_, Box<[u8]>>> {
        let data = self.data.try_borrow_mut().ok()?;
        self.forget_derived();
        Some(data)
    }

    #[inline]
    fn forget_derived(&self) {
        self.reads.set(0);
        self.derived.borrow_mut().clear();
    }

    /// The derived words; empty when there are none.
    #[inline]
    pub fn derived(&self) -> Ref<'_, [u32]> {
        Ref::map(self.derived.borrow(), |d| &d[..])
    }

    /// Replaces the derived words with what `f` writes into the (emptied)
    /// vector, from the current bytes.
    pub fn derive<E>(&self, f: impl FnOnce(&mut Vec<u32>) -> Result<(), E>) -> Result<(), E> {
        let mut derived = self.derived.borrow_mut();
        derived.clear();
        let done = f(&mut derived);
        if done.is_err() {
            derived.clear();
        }
        done
    }

    /// Counts one read of the bytes as they are; returns the count.
    #[inline]
    pub fn count_read(&self) -> u32 {
        let n = self.reads.get().saturating_add(1);
        self.reads.set(n);
        n
    }
}

pub(super) type Buf = Rc<PageCell>;

/// A cached page: its frame slot and its buffer.
pub(super) struct Entry {
    pub slot: u32,
    pub buf: Buf,
}

/// At most this many buffers are kept for reuse.
const MAX_SPARE: usize = 8;
const NOT_IN_RING: u32 = u32::MAX;

struct Frame {
    id: PageId,
    dirty: bool,
    ring_pos: u32,
}

pub(super) struct Cache {
    page_size: usize,
    budget_pages: usize,
    frames: Vec<Frame>,
    map: PageTable<Entry>,
    empty: Vec<u32>,
    ring: Vec<u32>,
    hand: usize,
    dirty: usize,
    spare: Vec<Buf>,
    pub(super) evictions: u64,
}

impl Cache {
    pub(super) fn new(page_size: usize, budget_pages: usize) -> Cache {
        Cache {
            page_size,
            budget_pages,
            frames: Vec::new(),
            map: PageTable::new(),
            empty: Vec::new(),
            ring: Vec::new(),
            hand: 0,
            dirty: 0,
            spare: Vec::new(),
            evictions: 0,
        }
    }

    /// Number of pages held.
    pub(super) fn occupied(&self) -> usize {
        self.map.len()
    }

    /// Number of dirty pages held.
    pub(super) fn dirty(&self) -> usize {
        self.dirty
    }

    /// The entry of page `id`, marking it recently used.
    #[inline]
    pub(super) fn lookup(&self, id: PageId) -> Option<&Entry> {
        let entry = self.map.get(id)?;
        entry.buf.referenced.set(true);
        Some(entry)
    }

    pub(super) fn mark_dirty(&mut self, slot: u32) {
        let frame = &mut self.frames[slot as usize];
        if !frame.dirty {
            frame.dirty = true;
            self.dirty += 1;
            self.ring_remove(slot);
        }
    }

    /// Makes room for page `id` (evicting a clean page when at budget) and
    /// returns its entry. The buffer holds stale bytes: the caller fills it.
    pub(super) fn insert(&mut self, id: PageId, dirty: bool) -> &Entry {
        debug_assert!(!self.map.contains_key(id), "page {id} cached twice");
        let clean = self.occupied() - self.dirty;
        let victim = match self.occupied() >= self.budget_pages && clean > self.clean_floor() {
            true => self.evict_one(),
            false => None,
        };
        let (slot, buf) = match victim {
            Some(victim) => victim,
            None => (self.empty_slot(), self.new_buf()),
        };
        buf.referenced.set(true);
        let frame = &mut self.frames[slot as usize];
        frame.id = id;
        frame.dirty = dirty;
        if dirty {
            self.dirty += 1;
        } else {
            self.ring_push(slot);
        }
        self.map.insert(id, Entry { slot, buf })
    }

    /// Clean pages kept even when dirty pages fill the budget.
    fn clean_floor(&self) -> usize {
        self.budget_pages / 8
    }

    /// Drops page `id` from the cache whatever its state (the page was
    /// freed, or failed to load).
    pub(super) fn remove(&mut self, id: PageId) {
        let Some(entry) = self.map.remove(id) else {
            return;
        };
        let frame = &mut self.frames[entry.slot as usize];
        if frame.dirty {
            self.dirty -= 1;
        } else {
            self.ring_remove(entry.slot);
        }
        self.release(entry);
    }

    /// Every dirty page: id, slot and buffer.
    pub(super) fn dirty_pages(&self) -> Vec<(PageId, u32, Buf)> {
        let mut pages = Vec::with_capacity(self.dirty);
        for frame in &self.frames {
            if frame.id != 0 && frame.dirty {
                let entry = self.map.get(frame.id).expect("occupied frames are cached");
                pages.push((frame.id, entry.slot, entry.buf.clone()));
            }
        }
        pages
    }

    /// Marks the given dirty slots clean (they reached the store).
    pub(super) fn mark_clean(&mut self, slots: impl Iterator<Item = u32>) {
        for slot in slots {
            let frame = &mut self.frames[slot as usize];
            debug_assert!(frame.dirty);
            frame.dirty = false;
            self.dirty -= 1;
            self.ring_push(slot);
        }
    }

    /// Evicts clean, unpinned pages until the cache is within budget or
    /// nothing more can go.
    pub(super) fn shrink_to_budget(&mut self) {
        while self.occupied() > self.budget_pages {
            let Some((slot, buf)) = self.evict_one() else {
                break;
            };
            self.release(Entry { slot, buf });
        }
    }

    fn release(&mut self, entry: Entry) {
        self.frames[entry.slot as usize].id = 0;
        self.frames[entry.slot as usize].dirty = false;
        if Rc::strong_count(&entry.buf) == 1 && self.spare.len() < MAX_SPARE {
            self.spare.push(entry.buf);
        }
        self.empty.push(entry.slot);
    }

    fn empty_slot(&mut self) -> u32 {
        match self.empty.pop() {
            Some(slot) => slot,
            None => {
                self.frames.push(Frame {
                    id: 0,
                    dirty: false,
                    ring_pos: NOT_IN_RING,
                });
                (self.frames.len() - 1) as u32
            }
        }
    }

    fn new_buf(&mut self) -> Buf {
        self.spare
            .pop()
            .unwrap_or_else(|| Rc::new(PageCell::new(self.page_size)))
    }

    /// Clock sweep over the clean pages: a referenced page gets a second
    /// chance, a pinned one is skipped. The victim leaves the map and the
    /// ring; its slot and (now unshared) buffer are returned for reuse.
    fn evict_one(&mut self) -> Option<(u32, Buf)> {
        let mut steps = 2 * self.ring.len() + 1;
        while steps > 0 && !self.ring.is_empty() {
            steps -= 1;
            if self.hand >= self.ring.len() {
                self.hand = 0;
            }
            let slot = self.ring[self.hand];
            let id = self.frames[slot as usize].id;
            let buf = &self.map.get(id).expect("ring pages are cached").buf;
            if Rc::strong_count(buf) > 1 {
                self.hand += 1;
            } else if buf.referenced.get() {
                buf.referenced.set(false);
                self.hand += 1;
            } else {
                let entry = self.map.remove(id).expect("ring pages are cached");
                self.frames[slot as usize].id = 0;
                // swap_remove puts an unvisited slot under the hand.
                self.ring_remove(slot);
                self.evictions += 1;
                return Some((slot, entry.buf));
            }
        }
        None
    }

    fn ring_push(&mut self, slot: u32) {
        self.frames[slot as usize].ring_pos = self.ring.len() as u32;
        self.ring.push(slot);
    }

    fn ring_remove(&mut self, slot: u32) {
        let pos = self.frames[slot as usize].ring_pos;
        debug_assert_ne!(pos, NOT_IN_RING);
        self.frames[slot as usize].ring_pos = NOT_IN_RING;
        self.ring.swap_remove(pos as usize);
        if let Some(&moved) = self.ring.get(pos as usize) {
            self.frames[moved as usize].ring_pos = pos;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_clean_unpinned_pages_only() {
        let mut cache = Cache::new(16, 2);
        let pin = cache.insert(1, false).buf.clone();
        cache.insert(2, true);
        // At budget; 1 is pinned and 2 is dirty: nothing can go, so grow.
        cache.insert(3, false);
        assert_eq!(cache.occupied(), 3);
        assert_eq!(cache.evictions, 0);
        drop(pin);
        // Now 1 or 3 (clean, unpinned) can be evicted.
        cache.insert(4, false);
        assert_eq!(cache.occupied(), 3);
        assert_eq!(cache.evictions, 1);
        assert!(cache.lookup(2).is_some(), "dirty page stays");
        let two = cache.lookup(2).unwrap().slot;
        cache.mark_clean([two].into_iter());
        cache.shrink_to_budget();
        assert_eq!(cache.occupied(), 2);
    }

    #[test]
    fn clean_pages_keep_a_floor_when_dirty_pages_fill_the_budget() {
        let mut cache = Cache::new(16, 16);
        for id in 1..=16 {
            cache.insert(id, false);
        }
        for id in 100..120 {
            cache.insert(id, true);
        }
        // 20 dirty pages exceed the budget; 2 (16 / 8) clean pages remain.
        assert_eq!(cache.occupied(), 22);
        for id in 200..210 {
            cache.insert(id, false);
        }
        assert_eq!(cache.occupied(), 23, "the floor is reached, then kept");
        assert!(cache.occupied() <= 16 + cache.dirty());
    }

    #[test]
    fn second_chance_keeps_hot_pages() {
        let mut cache = Cache::new(16, 3);
        for id in 1..=3 {
            cache.insert(id, false);
        }
        // First sweep clears every reference bit and evicts one page.
        cache.insert(4, false);
        let survivors: Vec<PageId> = (1..=3).filter(|id| cache.map.contains_key(*id)).collect();
        assert_eq!(survivors.len(), 2);
        let hot = survivors[0];
        for _ in 0..4 {
            cache.lookup(hot);
            cache.insert(100 + cache.evictions, false);
            assert!(cache.map.contains_key(hot), "recently used page survives");
        }
    }

    #[test]
    fn remove_and_dirty_tracking() {
        let mut cache = Cache::new(16, 8);
        let a = cache.insert(1, false).slot;
        cache.insert(2, false);
        cache.mark_dirty(a);
        assert_eq!(cache.dirty(), 1);
        let dirty: Vec<(PageId, u32)> = cache
            .dirty_pages()
            .into_iter()
            .map(|(id, slot, _)| (id, slot))
            .collect();
        assert_eq!(dirty, vec![(1, a)]);
        cache.remove(1);
        cache.remove(2);
        cache.remove(3);
        assert_eq!(cache.dirty(), 0);
        assert_eq!(cache.occupied(), 0);
        assert!(cache.ring.is_empty());
        // Slots are reused.
        cache.insert(5, true);
        assert_eq!(cache.frames.len(), 2);
    }
}
