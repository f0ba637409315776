//! The pager: a bounded page cache over a [`PageStore`], with per-page
//! checksums, a persistent free list and atomic checkpoints.
//!
//! ```text
//!   B-tree ── read(id) / write(id) / allocate() / free(id) ──┐
//!                                                            v
//!   ┌──────────────── Pager ─────────────────────────────────────┐
//!   │ cache: clean pages (evictable, clock)  dirty pages (pinned  │
//!   │        until the next checkpoint)      in memory)           │
//!   │ free list head, page count, user meta (persisted in meta)   │
//!   └─────── read_page (lazily, on a miss)   write_batch (checkpoint)
//!                                     v
//!                                PageStore
//! ```
//!
//! Invariants:
//! * Page `id` is valid when `1 <= id <= page_count`; every valid page is
//!   either in use by some owner (a B-tree) or on the free list.
//! * The store only ever holds the state of the last checkpoint: dirty
//!   pages leave memory only through [`Pager::checkpoint`], one atomic batch
//!   with the meta, so a crash always finds a consistent snapshot. Hence a
//!   page freed and reused between two checkpoints needs no special care.
//! * Bytes 0..4 of every page are a CRC32 over the page id and bytes 4.. of
//!   the page. It is computed when the page is written to the store and
//!   verified when read back; in memory it is stale and ignored. Including
//!   the id catches a page written to the wrong place. Byte 4 of every page
//!   is its *kind* (1 = free-list trunk, others belong to the page's owner).
//! * The cache exceeds its byte budget only by dirty or pinned pages:
//!   `cached <= budget + dirty` (a few clean pages are kept even when dirty
//!   pages fill the budget, see `cache.rs`). A page is pinned while a
//!   [`PageRef`] or [`PageMut`] handle to it lives; this lets a B-tree
//!   split hold a parent and its children at once. Handles are for the
//!   duration of one operation: a page freed while a handle is held is
//!   reported as corruption if the free list hands it out again.
//! * Opening reads only the meta; pages are read on first access.
//!
//! Every mutation ([`Pager::write`], [`Pager::allocate`], [`Pager::free`])
//! bumps [`Pager::modification_count`], which cursors use to detect that
//! their cached position may be stale.

mod cache;
mod freelist;
mod meta;
mod table;

use std::cell::{Ref, RefMut};
use std::sync::atomic::{AtomicU64, Ordering};

use cache::{Buf, Cache};
pub use freelist::KIND_FREE_TRUNK;
use meta::MetaState;
pub use meta::{FORMAT_VERSION, MAX_USER_META};

use crate::corruption;
use crate::error::{Error, Result};
use crate::store::{validate_page_size, PageId, PageStore};

/// Bytes at the start of every page owned by the pager (the CRC32).
pub const CHECKSUM_SIZE: usize = 4;
/// Offset of the page-kind byte, by convention the same for every page kind.
pub const KIND_OFFSET: usize = 4;

/// Pager settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PagerConfig {
    /// Memory budget of the page cache. Dirty pages may exceed it until the
    /// next checkpoint.
    pub cache_bytes: u64,
}

impl Default for PagerConfig {
    fn default() -> Self {
        PagerConfig {
            cache_bytes: 64 << 20,
        }
    }
}

/// Counters since the pager was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PagerStats {
    /// Pages read from the store.
    pub store_reads: u64,
    /// Page accesses served from the cache.
    pub cache_hits: u64,
    /// Page accesses that had to read the store.
    pub cache_misses: u64,
    /// Clean pages dropped to make room.
    pub evictions: u64,
    /// Checkpoint batches written.
    pub batches_written: u64,
    /// Pages written by all checkpoints.
    pub pages_written: u64,
}

/// A read handle on a cached page; pins the page while it lives.
pub struct PageRef {
    buf: Buf,
}

impl PageRef {
    /// The page bytes. Panics if the page is mutably borrowed elsewhere.
    #[inline]
    pub fn borrow(&self) -> Ref<'_, [u8]> {
        Ref::map(self.buf.data(), |b| &**b)
    }

    /// The owner's "structure validated" flag: false for a page just read
    /// from the store, true for a page created by [`Pager::allocate`]. An
    /// owner validates a page's structure once per load and then sets it,
    /// so damage under a valid checksum is caught before the page is used.
    #[inline]
    pub fn is_checked(&self) -> bool {
        self.buf.checked.get()
    }

    /// Records that the owner validated this page.
    pub fn set_checked(&self) {
        self.buf.checked.set(true);
    }

    /// Words the owner derived from the page's current bytes (see
    /// [`PageRef::derive`]); empty when there are none. Any write to the
    /// page drops them, so they are never stale.
    #[inline]
    pub fn derived(&self) -> Ref<'_, [u32]> {
        self.buf.derived()
    }

    /// Derives words from the page's bytes (which the caller reads through
    /// [`PageRef::borrow`]): `f` fills the emptied vector (left empty if `f`
    /// fails). For an index over the bytes that makes reads cheaper; it
    /// costs memory beside the page until the next write.
    pub fn derive<E>(
        &self,
        f: impl FnOnce(&mut Vec<u32>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.buf.derive(f)
    }

    /// Counts a read of the page since its bytes last changed and returns
    /// the count: an owner derives only for pages read more than written.
    #[inline]
    pub fn count_read(&self) -> u32 {
        self.buf.count_read()
    }
}

/// A write handle on a cached page that the pager has marked dirty; pins
/// the page while it lives.
pub struct PageMut {
    buf: Buf,
}

impl PageMut {
    /// The page bytes.
    #[inline]
    pub fn borrow(&self) -> Ref<'_, [u8]> {
        Ref::map(self.buf.data(), |b| &**b)
    }

    /// The page bytes, mutably. Panics if the page is borrowed elsewhere.
    #[inline]
    pub fn borrow_mut(&self) -> RefMut<'_, [u8]> {
        RefMut::map(self.buf.data_mut(), |b| &mut **b)
    }

    /// See [`PageRef::is_checked`].
    #[inline]
    pub fn is_checked(&self) -> bool {
        self.buf.checked.get()
    }

    /// See [`PageRef::set_checked`].
    pub fn set_checked(&self) {
        self.buf.checked.set(true);
    }
}

/// The checksum stored in bytes 0..4 of page `id`.
pub fn page_checksum(id: PageId, page: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&id.to_le_bytes());
    hasher.update(&page[CHECKSUM_SIZE..]);
    hasher.finalize()
}

/// Writes the checksum of page `id` into its first bytes, as a checkpoint
/// does before the page goes to the store.
pub fn seal_page(id: PageId, page: &mut [u8]) {
    let crc = page_checksum(id, page);
    page[..CHECKSUM_SIZE].copy_from_slice(&crc.to_le_bytes());
}

/// Each pager's modification count starts at a distinct multiple of 2^40,
/// so that a count remembered from one pager never matches another's.
static INSTANCES: AtomicU64 = AtomicU64::new(1);

/// The page cache and allocator over one [`PageStore`].
pub struct Pager {
    store: Box<dyn PageStore>,
    page_size: usize,
    config: PagerConfig,
    cache: Cache,
    state: MetaState,
    user_meta: Option<Vec<u8>>,
    stats: PagerStats,
    mods: u64,
}

impl Pager {
    /// Opens the pager over `store`, reading only its meta.
    pub fn open(mut store: Box<dyn PageStore>, config: PagerConfig) -> Result<Pager> {
        let page_size = store.page_size();
        validate_page_size(page_size)?;
        let (state, user_meta) = match store.read_meta()? {
            None => (MetaState::default(), None),
            Some(blob) => {
                let (state, user) = meta::decode(page_size, &blob)?;
                (state, Some(user))
            }
        };
        let budget =
            (config.cache_bytes / u64::from(page_size)).clamp(1, usize::MAX as u64) as usize;
        Ok(Pager {
            store,
            page_size: page_size as usize,
            config,
            cache: Cache::new(page_size as usize, budget),
            state,
            user_meta,
            stats: PagerStats::default(),
            mods: INSTANCES.fetch_add(1, Ordering::Relaxed) << 40,
        })
    }

    /// Size of every page in bytes.
    #[inline]
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// A read handle on page `id`, loading it from the store on a miss.
    #[inline]
    pub fn read(&mut self, id: PageId) -> Result<PageRef> {
        let (_, buf) = self.fetch(id)?;
        Ok(PageRef { buf })
    }

    /// A write handle on page `id`: the page becomes dirty.
    pub fn write(&mut self, id: PageId) -> Result<PageMut> {
        let (slot, buf) = self.fetch(id)?;
        self.cache.mark_dirty(slot);
        self.mods += 1;
        Ok(PageMut { buf })
    }

    /// Writes every dirty page and the meta (with `user_meta` embedded) as
    /// one atomic batch. On success every page is clean and the cache
    /// shrinks back to its budget; on failure nothing changes.
    pub fn checkpoint(&mut self, user_meta: &[u8]) -> Result<()> {
        let mut blob = Vec::new();
        meta::encode(self.page_size as u32, &self.state, user_meta, &mut blob)?;
        let mut dirty = self.cache.dirty_pages();
        dirty.sort_unstable_by_key(|(id, _, _)| *id);
        for (id, _, buf) in &dirty {
            let mut page = buf.try_data_mut().ok_or_else(|| {
                Error::InvalidInput(format!("page {id} is borrowed during a checkpoint"))
            })?;
            seal_page(*id, &mut page);
        }
        let guards: Vec<Ref<'_, Box<[u8]>>> = dirty.iter().map(|(_, _, b)| b.data()).collect();
        let batch: Vec<(PageId, &[u8])> = dirty
            .iter()
            .zip(&guards)
            .map(|((id, _, _), g)| (*id, &***g))
            .collect();
        self.store.write_batch(&batch, &blob)?;
        drop(batch);
        drop(guards);
        self.stats.batches_written += 1;
        self.stats.pages_written += dirty.len() as u64;
        self.cache
            .mark_clean(dirty.iter().map(|(_, slot, _)| *slot));
        drop(dirty);
        self.user_meta = Some(user_meta.to_vec());
        self.cache.shrink_to_budget();
        Ok(())
    }

    /// The `user_meta` of the last checkpoint; `None` for a new store.
    pub fn user_meta(&self) -> Option<&[u8]> {
        self.user_meta.as_deref()
    }

    /// Counters since open.
    pub fn stats(&self) -> PagerStats {
        PagerStats {
            evictions: self.cache.evictions,
            ..self.stats
        }
    }

    /// Bytes of dirty pages waiting for a checkpoint.
    pub fn dirty_bytes(&self) -> u64 {
        (self.cache.dirty() * self.page_size) as u64
    }

    /// Bytes of pages held in the cache.
    pub fn cached_bytes(&self) -> u64 {
        (self.cache.occupied() * self.page_size) as u64
    }

    /// True when the cache holds more than its budget, which only dirty or
    /// pinned pages can cause: time to checkpoint.
    pub fn over_budget(&self) -> bool {
        self.cached_bytes() > self.config.cache_bytes
    }

    /// Page high-water mark: ids `1..=page_count()` exist (in use or free).
    pub fn page_count(&self) -> u64 {
        self.state.page_count
    }

    /// Number of pages on the free list.
    pub fn free_count(&self) -> u64 {
        self.state.free_count
    }

    /// Changes with every page mutation; equal values mean no page changed
    /// (values are also distinct between pager instances).
    #[inline]
    pub fn modification_count(&self) -> u64 {
        self.mods
    }

    /// The cache slot and buffer of page `id`, loading it on a miss.
    #[inline]
    fn fetch(&mut self, id: PageId) -> Result<(u32, Buf)> {
        if let Some(entry) = self.cache.lookup(id) {
            self.stats.cache_hits += 1;
            return Ok((entry.slot, entry.buf.clone()));
        }
        self.load(id)
    }

    #[cold]
    fn load(&mut self, id: PageId) -> Result<(u32, Buf)> {
        self.check_id(id)?;
        self.stats.cache_misses += 1;
        self.stats.store_reads += 1;
        let entry = self.cache.insert(id, false);
        let (slot, buf) = (entry.slot, entry.buf.clone());
        buf.checked.set(false);
        let loaded = {
            let mut page = buf.data_mut();
            match self.store.read_page(id, &mut page) {
                Ok(true) => verify(id, &page),
                Ok(false) => Err(corruption!("page {id} is missing from the store")),
                Err(e) => Err(e),
            }
        };
        if let Err(e) = loaded {
            drop(buf);
            self.cache.remove(id);
            return Err(e);
        }
        Ok((slot, buf))
    }

    fn check_id(&self, id: PageId) -> Result<()> {
        if id == 0 || id > self.state.page_count {
            return Err(corruption!(
                "page id {id} is outside 1..={}",
                self.state.page_count
            ));
        }
        Ok(())
    }

    /// Caches page `id` as a dirty zeroed page without reading the store.
    /// A page someone still holds a handle to cannot be free: handing it
    /// out would alias it, so a damaged free list is reported instead.
    fn install_fresh(&mut self, id: PageId) -> Result<PageMut> {
        let buf = match self.cache.lookup(id) {
            Some(entry) => {
                if std::rc::Rc::strong_count(&entry.buf) > 1 {
                    return Err(corruption!(
                        "page {id} is on the free list but still in use"
                    ));
                }
                let (slot, buf) = (entry.slot, entry.buf.clone());
                self.cache.mark_dirty(slot);
                buf
            }
            None => self.cache.insert(id, true).buf.clone(),
        };
        buf.data_mut().fill(0);
        buf.checked.set(true);
        Ok(PageMut { buf })
    }
}

fn verify(id: PageId, page: &[u8]) -> Result<()> {
    let stored = u32::from_le_bytes(page[..CHECKSUM_SIZE].try_into().expect("4 bytes"));
    if stored != page_checksum(id, page) {
        return Err(corruption!("page {id} failed its checksum"));
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;
    use crate::store::MemPageStore;

    pub(super) const PS: usize = 1024;

    pub(super) fn open(store: &MemPageStore, cache_bytes: u64) -> Pager {
        Pager::open(Box::new(store.clone()), PagerConfig { cache_bytes }).unwrap()
    }

    /// Allocates `n` pages whose byte 100 holds the low byte of their id.
    pub(super) fn fill(pager: &mut Pager, n: usize) -> Vec<PageId> {
        (0..n)
            .map(|_| {
                let (id, page) = pager.allocate().unwrap();
                page.borrow_mut()[100] = id as u8;
                page.borrow_mut()[KIND_OFFSET] = 9;
                id
            })
            .collect()
    }

    /// A store whose writes fail while `fail` is set.
    struct FlakyStore {
        inner: MemPageStore,
        fail: Rc<Cell<bool>>,
    }

    impl PageStore for FlakyStore {
        fn page_size(&self) -> u32 {
            self.inner.page_size()
        }
        fn read_page(&mut self, id: PageId, buf: &mut [u8]) -> Result<bool> {
            self.inner.read_page(id, buf)
        }
        fn read_meta(&mut self) -> Result<Option<Vec<u8>>> {
            self.inner.read_meta()
        }
        fn write_batch(&mut self, pages: &[(PageId, &[u8])], meta: &[u8]) -> Result<()> {
            if self.fail.get() {
                return Err(Error::Io(std::io::Error::other("injected")));
            }
            self.inner.write_batch(pages, meta)
        }
    }

    #[test]
    fn pages_and_user_meta_survive_reopen() {
        let store = MemPageStore::new(PS as u32).unwrap();
        let mut pager = open(&store, 1 << 20);
        assert_eq!(pager.user_meta(), None);
        assert_eq!(pager.page_size(), PS);
        let ids = fill(&mut pager, 3);
        assert_eq!(ids, vec![1, 2, 3]);
        pager.checkpoint(b"catalog").unwrap();
        assert_eq!(pager.user_meta(), Some(&b"catalog"[..]));
        assert_eq!(pager.dirty_bytes(), 0);
        drop(pager);
        let mut pager = open(&store, 1 << 20);
        assert_eq!(pager.user_meta(), Some(&b"catalog"[..]));
        assert_eq!(pager.page_count(), 3);
        for id in ids {
            assert_eq!(pager.read(id).unwrap().borrow()[100], id as u8);
        }
        assert_eq!(store.batch_count(), 1);
        assert_eq!(pager.stats().batches_written, 0);
    }

    #[test]
    fn open_reads_no_pages_and_loads_lazily() {
        let store = MemPageStore::new(PS as u32).unwrap();
        let mut pager = open(&store, 1 << 20);
        fill(&mut pager, 500);
        pager.checkpoint(b"").unwrap();
        assert_eq!(pager.stats().pages_written, 500);
        drop(pager);
        let mut pager = open(&store, 1 << 20);
        assert_eq!(pager.stats().store_reads, 0);
        assert_eq!(pager.cached_bytes(), 0);
        assert_eq!(pager.read(321).unwrap().borrow()[100], 321u32 as u8);
        assert_eq!(pager.stats().store_reads, 1);
        pager.read(321).unwrap();
        let stats = pager.stats();
        assert_eq!(
            (stats.store_reads, stats.cache_misses, stats.cache_hits),
            (1, 1, 1)
        );
    }

    #[test]
    fn damaged_or_misplaced_pages_are_corruption() {
        let mut store = MemPageStore::new(PS as u32).unwrap();
        let mut pager = open(&store, 1 << 20);
        fill(&mut pager, 3);
        pager.checkpoint(b"").unwrap();
        drop(pager);
        let meta = store.read_meta().unwrap().unwrap();
        let mut page = vec![0u8; PS];
        store.read_page(2, &mut page).unwrap();
        // Page 2's valid image stored as page 3: the id in the CRC catches it.
        store.write_batch(&[(3, &page)], &meta).unwrap();
        page[500] ^= 1;
        store.write_batch(&[(2, &page)], &meta).unwrap();
        let mut pager = open(&store, 1 << 20);
        for id in [2, 3] {
            match pager.read(id) {
                Err(Error::Corruption(msg)) => {
                    assert!(msg.contains(&format!("page {id}")), "{msg}")
                }
                other => panic!("page {id}: {:?}", other.map(|_| ())),
            }
        }
        assert_eq!(pager.cached_bytes(), 0, "failed loads are not cached");
        assert!(pager.read(1).is_ok());
        for id in [0, 4] {
            assert!(matches!(pager.read(id), Err(Error::Corruption(_))));
        }
    }

    #[test]
    fn page_missing_from_store_is_corruption() {
        let mut store = MemPageStore::new(PS as u32).unwrap();
        let mut blob = Vec::new();
        let state = MetaState {
            page_count: 5,
            free_head: 0,
            free_count: 0,
        };
        meta::encode(PS as u32, &state, b"", &mut blob).unwrap();
        store.write_batch(&[], &blob).unwrap();
        let mut pager = open(&store, 1 << 20);
        assert!(matches!(pager.read(5), Err(Error::Corruption(_))));
    }

    #[test]
    fn clean_pages_are_evicted_within_budget() {
        let store = MemPageStore::new(PS as u32).unwrap();
        let mut pager = open(&store, 8 * PS as u64);
        fill(&mut pager, 100);
        pager.checkpoint(b"").unwrap();
        assert!(pager.cached_bytes() <= 8 * PS as u64);
        drop(pager);
        let mut pager = open(&store, 8 * PS as u64);
        for round in 0..2 {
            for id in 1..=100u64 {
                assert_eq!(
                    pager.read(id).unwrap().borrow()[100],
                    id as u8,
                    "round {round}"
                );
                assert!(pager.cached_bytes() <= 8 * PS as u64);
                assert!(!pager.over_budget());
            }
        }
        assert!(pager.stats().evictions >= 192);
    }

    #[test]
    fn dirty_pages_exceed_the_budget_until_checkpoint() {
        let store = MemPageStore::new(PS as u32).unwrap();
        let mut pager = open(&store, 4 * PS as u64);
        fill(&mut pager, 20);
        assert_eq!(pager.dirty_bytes(), 20 * PS as u64);
        assert_eq!(pager.cached_bytes(), 20 * PS as u64);
        assert!(pager.over_budget());
        pager.checkpoint(b"").unwrap();
        assert_eq!(pager.dirty_bytes(), 0);
        assert_eq!(pager.cached_bytes(), 4 * PS as u64);
        assert!(!pager.over_budget());
        // Writing a clean page dirties it again.
        pager.write(7).unwrap().borrow_mut()[200] = 1;
        assert_eq!(pager.dirty_bytes(), PS as u64);
    }

    #[test]
    fn pinned_pages_are_not_evicted() {
        let store = MemPageStore::new(PS as u32).unwrap();
        let mut pager = open(&store, 2 * PS as u64);
        fill(&mut pager, 50);
        pager.checkpoint(b"").unwrap();
        let pinned = pager.read(1).unwrap();
        for id in 2..=50 {
            pager.read(id).unwrap();
        }
        let hits = pager.stats().cache_hits;
        assert_eq!(pager.read(1).unwrap().borrow()[100], 1);
        assert_eq!(
            pager.stats().cache_hits,
            hits + 1,
            "pinned page stayed cached"
        );
        assert_eq!(pinned.borrow()[100], 1);
    }

    #[test]
    fn failed_checkpoint_keeps_everything_dirty() {
        let mem = MemPageStore::new(PS as u32).unwrap();
        let fail = Rc::new(Cell::new(false));
        let store = FlakyStore {
            inner: mem.clone(),
            fail: fail.clone(),
        };
        let mut pager = Pager::open(
            Box::new(store),
            PagerConfig {
                cache_bytes: 2 * PS as u64,
            },
        )
        .unwrap();
        fill(&mut pager, 10);
        pager.checkpoint(b"one").unwrap();
        for id in 1..=10 {
            pager.write(id).unwrap().borrow_mut()[100] = 0xAA;
        }
        pager.free(10).unwrap();
        fail.set(true);
        assert!(matches!(pager.checkpoint(b"two"), Err(Error::Io(_))));
        assert_eq!(
            pager.dirty_bytes(),
            10 * PS as u64,
            "9 pages and the new trunk stay dirty"
        );
        assert_eq!(pager.user_meta(), Some(&b"one"[..]));
        assert_eq!(pager.read(3).unwrap().borrow()[100], 0xAA);
        fail.set(false);
        pager.checkpoint(b"two").unwrap();
        drop(pager);
        let mut pager = open(&mem, 1 << 20);
        assert_eq!(pager.user_meta(), Some(&b"two"[..]));
        assert_eq!(pager.read(3).unwrap().borrow()[100], 0xAA);
        assert_eq!(pager.free_pages().unwrap(), vec![10]);
    }

    #[test]
    fn oversized_user_meta_changes_nothing() {
        let store = MemPageStore::new(PS as u32).unwrap();
        let mut pager = open(&store, 1 << 20);
        fill(&mut pager, 2);
        let big = vec![1u8; MAX_USER_META + 1];
        assert!(matches!(
            pager.checkpoint(&big),
            Err(Error::LimitExceeded(_))
        ));
        assert_eq!(pager.dirty_bytes(), 2 * PS as u64);
        assert_eq!(store.batch_count(), 0);
    }

    #[test]
    fn modification_count_moves_only_on_mutation() {
        let store = MemPageStore::new(PS as u32).unwrap();
        let mut pager = open(&store, 1 << 20);
        let m0 = pager.modification_count();
        fill(&mut pager, 2);
        let m1 = pager.modification_count();
        assert!(m1 > m0);
        pager.read(1).unwrap();
        pager.checkpoint(b"").unwrap();
        assert_eq!(pager.modification_count(), m1);
        pager.write(1).unwrap();
        assert!(pager.modification_count() > m1);
    }
}
