//! Free-list trunk pages: the persistent list of reusable page ids.
//!
//! As in SQLite, free pages form a chain of *trunk* pages, each listing up
//! to `capacity` other free page ids (the *leaves*). Only the head trunk is
//! touched by `free` and `allocate`, so both are O(1) and the list scales to
//! any number of pages while the meta holds just the head id and a count.
//!
//! ```text
//!  meta.free_head -> trunk A ---next---> trunk B ---next---> 0
//!                    [ids: 17, 9, 42]    [ids: 5, 6, ... full]
//! ```
//!
//! Trunk layout (little-endian):
//!
//! ```text
//! offset  size  field
//!      0     4  CRC32 (written by the pager at checkpoint)
//!      4     1  page kind = 1 (free-list trunk)
//!      5     3  zero
//!      8     8  next trunk page id (0 = last)
//!     16     4  number of leaf ids N
//!     20     4  zero
//!     24   8*N  leaf page ids
//! ```
//!
//! Leaf pages carry no content: a freed page is never written again until
//! it is reused, and a reused page is handed out zeroed without a read.
//!
//! This module holds the trunk format and the pager's `allocate`, `free`
//! and `free_pages`.

use super::{PageMut, Pager};
use crate::corruption;
use crate::error::Result;
use crate::store::PageId;

/// Page-kind byte of a free-list trunk page.
pub const KIND_FREE_TRUNK: u8 = 1;

const KIND: usize = 4;
const NEXT: usize = 8;
const COUNT: usize = 16;
const IDS: usize = 24;

/// Leaf ids one trunk page holds.
pub fn capacity(page_size: usize) -> usize {
    (page_size - IDS) / 8
}

/// Turns a zeroed page into an empty trunk pointing at `next`.
pub fn init(page: &mut [u8], next: PageId) {
    page[KIND] = KIND_FREE_TRUNK;
    page[NEXT..NEXT + 8].copy_from_slice(&next.to_le_bytes());
    page[COUNT..COUNT + 4].copy_from_slice(&0u32.to_le_bytes());
}

/// Checks the header of trunk page `id` and returns `(next, count)`.
pub fn header(page: &[u8], id: PageId, page_count: u64) -> Result<(PageId, usize)> {
    if page[KIND] != KIND_FREE_TRUNK {
        return Err(corruption!(
            "page {id} is on the free list but is not a trunk page (kind {})",
            page[KIND]
        ));
    }
    let next = u64::from_le_bytes(page[NEXT..NEXT + 8].try_into().expect("8 bytes"));
    let count = u32::from_le_bytes(page[COUNT..COUNT + 4].try_into().expect("4 bytes")) as usize;
    if next > page_count || next == id || count > capacity(page.len()) {
        return Err(corruption!(
            "free-list trunk page {id} has a bad header (next {next}, count {count})"
        ));
    }
    Ok((next, count))
}

/// The `i`-th leaf id of a trunk whose header was checked.
pub fn leaf(page: &[u8], i: usize) -> PageId {
    let at = IDS + 8 * i;
    u64::from_le_bytes(page[at..at + 8].try_into().expect("8 bytes"))
}

/// Sets the leaf count of a trunk.
pub fn set_count(page: &mut [u8], count: usize) {
    page[COUNT..COUNT + 4].copy_from_slice(&(count as u32).to_le_bytes());
}

/// Stores `id` as the `i`-th leaf (`i < capacity`).
pub fn set_leaf(page: &mut [u8], i: usize, id: PageId) {
    let at = IDS + 8 * i;
    page[at..at + 8].copy_from_slice(&id.to_le_bytes());
}

/// Allocation and the free list.
impl Pager {
    /// A fresh zeroed page, reusing a free page before growing the store.
    pub fn allocate(&mut self) -> Result<(PageId, PageMut)> {
        let id = if self.state.free_head != 0 {
            self.pop_free()?
        } else {
            self.state.page_count += 1;
            self.state.page_count
        };
        self.mods += 1;
        let page = self.install_fresh(id)?;
        Ok((id, page))
    }

    /// Returns page `id` to the free list. Its content is discarded; it must
    /// no longer be referenced by its owner.
    pub fn free(&mut self, id: PageId) -> Result<()> {
        self.check_id(id)?;
        let head = self.state.free_head;
        if id == head {
            return Err(corruption!("page {id} freed twice"));
        }
        self.mods += 1;
        self.cache.remove(id);
        if head != 0 {
            let (slot, buf) = self.fetch(head)?;
            let mut page = buf.data_mut();
            let (_, count) = header(&page, head, self.state.page_count)?;
            if count < capacity(self.page_size) {
                self.cache.mark_dirty(slot);
                set_leaf(&mut page, count, id);
                set_count(&mut page, count + 1);
                self.state.free_count += 1;
                return Ok(());
            }
        }
        // The head trunk is full (or there is none): the freed page itself
        // becomes the new head trunk.
        let page = self.install_fresh(id)?;
        init(&mut page.borrow_mut(), head);
        self.state.free_head = id;
        self.state.free_count += 1;
        Ok(())
    }

    /// Every page id on the free list (trunks included), walking the list;
    /// for integrity checks. Fails with `Corruption` if the list is
    /// malformed or its length disagrees with the meta.
    pub fn free_pages(&mut self) -> Result<Vec<PageId>> {
        let mut ids = Vec::new();
        let mut trunk = self.state.free_head;
        while trunk != 0 {
            if ids.len() as u64 >= self.state.free_count {
                return Err(corruption!(
                    "free list is longer than its count {}",
                    self.state.free_count
                ));
            }
            ids.push(trunk);
            let page = self.read(trunk)?;
            let page = page.borrow();
            let (next, count) = header(&page, trunk, self.state.page_count)?;
            for i in 0..count {
                let id = leaf(&page, i);
                self.check_id(id)?;
                ids.push(id);
            }
            trunk = next;
        }
        if ids.len() as u64 != self.state.free_count {
            return Err(corruption!(
                "free list holds {} pages, meta says {}",
                ids.len(),
                self.state.free_count
            ));
        }
        Ok(ids)
    }

    /// Takes one page off the free list: a leaf of the head trunk, or the
    /// head trunk itself once it is empty.
    fn pop_free(&mut self) -> Result<PageId> {
        let head = self.state.free_head;
        if self.state.free_count == 0 {
            return Err(corruption!("free list head {head} with a zero count"));
        }
        let (slot, buf) = self.fetch(head)?;
        let mut page = buf.data_mut();
        let (next, count) = header(&page, head, self.state.page_count)?;
        let id = if count > 0 {
            let id = leaf(&page, count - 1);
            if id == head {
                return Err(corruption!("free-list trunk {head} lists itself"));
            }
            self.check_id(id)?;
            self.cache.mark_dirty(slot);
            set_count(&mut page, count - 1);
            id
        } else {
            self.state.free_head = next;
            head
        };
        self.state.free_count -= 1;
        if (self.state.free_head == 0) != (self.state.free_count == 0) {
            return Err(corruption!(
                "free list ended with {} pages left",
                self.state.free_count
            ));
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::seal_page;
    use super::super::tests::{fill, open, PS};
    use super::*;
    use crate::error::Error;
    use crate::store::{MemPageStore, PageStore};

    #[test]
    fn trunk_round_trip_and_validation() {
        let mut page = vec![0u8; 1024];
        init(&mut page, 7);
        assert_eq!(header(&page, 3, 10).unwrap(), (7, 0));
        for i in 0..capacity(1024) {
            set_leaf(&mut page, i, 100 + i as u64);
        }
        set_count(&mut page, capacity(1024));
        assert_eq!(header(&page, 3, 10).unwrap(), (7, 125));
        assert_eq!(leaf(&page, 124), 224);
        set_count(&mut page, capacity(1024) + 1);
        assert!(matches!(header(&page, 3, 10), Err(Error::Corruption(_))));
        set_count(&mut page, 0);
        assert!(
            matches!(header(&page, 3, 6), Err(Error::Corruption(_))),
            "next beyond page count"
        );
        assert!(
            matches!(header(&page, 7, 10), Err(Error::Corruption(_))),
            "self loop"
        );
        page[KIND] = 2;
        assert!(matches!(header(&page, 3, 10), Err(Error::Corruption(_))));
    }

    #[test]
    fn free_pages_are_reused_and_survive_restart() {
        let store = MemPageStore::new(PS as u32).unwrap();
        let mut pager = open(&store, 1 << 20);
        let ids = fill(&mut pager, 10);
        for id in [3, 5, 7] {
            pager.free(id).unwrap();
        }
        assert_eq!(pager.free_count(), 3);
        let mut free = pager.free_pages().unwrap();
        free.sort();
        assert_eq!(free, vec![3, 5, 7]);
        let (again, page) = pager.allocate().unwrap();
        assert!([3, 5, 7].contains(&again));
        assert!(
            page.borrow().iter().all(|b| *b == 0),
            "reused pages come zeroed"
        );
        pager.checkpoint(b"").unwrap();
        drop(page);
        drop(pager);
        let mut pager = open(&store, 1 << 20);
        assert_eq!(pager.free_count(), 2);
        let mut reused: Vec<PageId> = (0..2).map(|_| pager.allocate().unwrap().0).collect();
        reused.push(again);
        reused.sort();
        assert_eq!(reused, vec![3, 5, 7]);
        assert_eq!(
            pager.allocate().unwrap().0,
            11,
            "grows once the list is empty"
        );
        assert_eq!(pager.page_count(), 11);
        assert_eq!(ids.len(), 10);
    }

    #[test]
    fn a_large_free_list_keeps_the_meta_small() {
        let store = MemPageStore::new(PS as u32).unwrap();
        let mut pager = open(&store, 1 << 20);
        let n = 30_000u64;
        for _ in 0..n {
            pager.allocate().unwrap();
        }
        pager.checkpoint(b"").unwrap();
        for id in 1..=n {
            pager.free(id).unwrap();
        }
        pager.checkpoint(b"").unwrap();
        let meta_len = MemPageStore::clone(&store)
            .read_meta()
            .unwrap()
            .unwrap()
            .len();
        assert_eq!(meta_len, 48);
        drop(pager);
        let mut pager = open(&store, 1 << 20);
        assert_eq!(pager.free_count(), n);
        assert_eq!(pager.free_pages().unwrap().len() as u64, n);
        let mut seen = vec![false; n as usize + 1];
        for _ in 0..n {
            let (id, _) = pager.allocate().unwrap();
            assert!(
                !std::mem::replace(&mut seen[id as usize], true),
                "page {id} handed out twice"
            );
        }
        assert_eq!(pager.page_count(), n);
        assert_eq!(pager.free_count(), 0);
        assert_eq!(pager.allocate().unwrap().0, n + 1);
    }

    #[test]
    fn bad_frees_and_bad_trunks_are_corruption() {
        let mut store = MemPageStore::new(PS as u32).unwrap();
        let mut pager = open(&store, 1 << 20);
        fill(&mut pager, 4);
        assert!(matches!(pager.free(0), Err(Error::Corruption(_))));
        assert!(matches!(pager.free(5), Err(Error::Corruption(_))));
        pager.free(4).unwrap();
        assert!(matches!(pager.free(4), Err(Error::Corruption(_))));
        pager.checkpoint(b"").unwrap();
        drop(pager);
        // A trunk page with a valid checksum but a nonsense count.
        let meta = store.read_meta().unwrap().unwrap();
        let mut page = vec![0u8; PS];
        store.read_page(4, &mut page).unwrap();
        set_count(&mut page, 100_000);
        seal_page(4, &mut page);
        store.write_batch(&[(4, &page)], &meta).unwrap();
        let mut pager = open(&store, 1 << 20);
        assert!(matches!(pager.allocate(), Err(Error::Corruption(_))));
        assert!(matches!(pager.free_pages(), Err(Error::Corruption(_))));
    }
}
