//! Storage traits: the narrow waist between the engine and a platform.
//!
//! The engine never touches files or Durable Object storage directly. It sees
//! two stores, each with an exact contract:
//!
//! ```text
//!             engine (pager, WAL)
//!               |            |
//!        PageStore        LogStore
//!     (checkpointed     (append-only
//!      page images)      WAL records)
//!       /     |    \       /    |    \
//!   memory  file  Durable Object (issue 4)
//! ```
//!
//! # PageStore contract
//! * A store holds fixed-size pages addressed by [`PageId`] (`>= 1`; 0 is
//!   never a page) plus one small opaque *meta* blob.
//! * [`PageStore::write_batch`] is **atomic and durable**: when it returns
//!   `Ok`, every page and the meta of the batch are durable; if the process
//!   crashes or the call fails part-way, a later open sees either the whole
//!   batch or none of it. This maps directly onto a Durable Object, where
//!   writes made without an intervening `.await` commit as one transaction,
//!   and onto a file through a redo journal.
//! * Each page is written whole; a page never written reads as absent.
//! * A page is at most [`MAX_PAGE_SIZE`] bytes and the meta at most
//!   [`MAX_META_SIZE`], so that each fits one Durable Object row (2 MB cap).
//!
//! # LogStore contract
//! * Records are opaque byte strings keyed by a strictly increasing LSN.
//! * [`LogStore::append`] is **not durable** on return. [`LogStore::sync`]
//!   makes every record appended so far durable.
//! * After a crash the surviving records are a **prefix** (in LSN order) of
//!   those appended, and include every record appended before the last
//!   successful `sync`. A torn tail is detected and dropped by the store at
//!   open; damage before the tail is reported as [`Error::Corruption`].
//! * [`LogStore::truncate_before`] discards old records (retention). A store
//!   may keep more than asked (whole segments), never less; it may discard
//!   every record, but [`LogStore::last_lsn`] still reports the last LSN
//!   appended, also after a restart, so that LSNs never repeat.
//! * A record may be larger than one row of a blob store (one commit of a
//!   bulk load is one record): such a store splits it across rows written
//!   in the same atomic batch and reassembles it on `scan`.
//!
//! Neither trait requires `Send`: inside a Durable Object the stores hold
//! JavaScript handles. A native server owns the engine on one thread.

pub mod fault;
#[cfg(not(target_family = "wasm"))]
pub mod file;
pub mod frame;
pub mod memory;

pub use fault::{FaultInjector, FaultLogStore, FaultPageStore};
#[cfg(not(target_family = "wasm"))]
pub use file::{FileLogOptions, FileLogStore, FilePageStore};
pub use memory::{MemLogStore, MemPageStore};

use crate::error::{Error, Result};

/// Identifies a page within a [`PageStore`]. Page 0 is reserved as "none".
pub type PageId = u64;

/// Log sequence number: the position of a record in the write-ahead log.
pub type Lsn = u64;

/// Smallest supported page size in bytes.
pub const MIN_PAGE_SIZE: u32 = 1024;
/// Largest supported page size in bytes.
pub const MAX_PAGE_SIZE: u32 = 65536;
/// Page size of new databases unless the caller picks another.
///
/// Chosen by measurement (`dosql-bench --page-sizes 4096,8192,16384
/// --repeat 3`, 1M rows of 100 bytes, 64 MiB cache, file stores; see
/// `bench/README.md`): 4096 has the best worst case of the five workloads,
/// DoSQL/SQLite 0.84x against 0.79x at 8192 and 0.57x at 16384, all on
/// random point lookups. Larger pages win range scans a little and bulk
/// inserts not at all; they lose lookups and, at 16384, small update
/// transactions (1.41x / 1.34x / 0.73x), because each cache miss reads,
/// checksums and validates a whole page and each checkpoint writes whole
/// pages. Re-measure for the Durable Object store (issue 4), where a page
/// is a row read through a JavaScript call and larger pages may win.
pub const DEFAULT_PAGE_SIZE: u32 = 4096;

/// Largest meta blob a store must accept.
pub const MAX_META_SIZE: usize = 1 << 20;

/// Checks that `page_size` is a power of two within the supported range.
pub fn validate_page_size(page_size: u32) -> Result<()> {
    if !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(Error::InvalidInput(format!(
            "page size {page_size} must be a power of two between {MIN_PAGE_SIZE} and {MAX_PAGE_SIZE}"
        )));
    }
    Ok(())
}

/// A store of fixed-size pages plus one meta blob, written in atomic batches.
pub trait PageStore {
    /// The page size this store was created with. Fixed for its lifetime.
    fn page_size(&self) -> u32;

    /// Reads page `id` into `buf` (exactly `page_size` bytes). Returns
    /// `Ok(false)` and zero-fills `buf` if the page was never written.
    fn read_page(&mut self, id: PageId, buf: &mut [u8]) -> Result<bool>;

    /// The meta blob of the last committed batch, or `None` for a new store.
    fn read_meta(&mut self) -> Result<Option<Vec<u8>>>;

    /// Atomically and durably writes `pages` (each exactly `page_size`
    /// bytes, ids distinct) together with `meta`.
    fn write_batch(&mut self, pages: &[(PageId, &[u8])], meta: &[u8]) -> Result<()>;
}

/// An append-only store of records keyed by increasing LSN.
pub trait LogStore {
    /// Appends one record. `lsn` must exceed every LSN appended before.
    /// Not durable until [`LogStore::sync`].
    fn append(&mut self, lsn: Lsn, record: &[u8]) -> Result<()>;

    /// Hands every appended record to the operating system so that it
    /// survives a crash of the process but not of the machine; a no-op where
    /// no such distinction exists. This lets the engine offer SQLite's
    /// `synchronous=NORMAL`: write at commit, fsync at checkpoint.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// Makes every record appended so far durable.
    fn sync(&mut self) -> Result<()>;

    /// Calls `f` with each record whose LSN is `>= from`, in LSN order, until
    /// `f` returns `Ok(false)`. Sees appended records whether synced or not.
    fn scan(&mut self, from: Lsn, f: &mut dyn FnMut(Lsn, &[u8]) -> Result<bool>) -> Result<()>;

    /// Discards records with LSN `< before`. May keep some of them.
    fn truncate_before(&mut self, before: Lsn) -> Result<()>;

    /// The LSN of the last record appended (that survived a crash), even
    /// when truncation has discarded it; `None` for a log never appended to.
    fn last_lsn(&self) -> Option<Lsn>;
}

/// Validates the arguments of a [`PageStore::write_batch`] call; shared by
/// every implementation so that all reject the same misuse.
pub fn check_batch(page_size: u32, pages: &[(PageId, &[u8])], meta: &[u8]) -> Result<()> {
    if meta.len() > MAX_META_SIZE {
        return Err(Error::LimitExceeded(format!(
            "meta of {} bytes exceeds {MAX_META_SIZE}",
            meta.len()
        )));
    }
    for (id, data) in pages {
        if *id == 0 {
            return Err(Error::InvalidInput("page id 0 is reserved".into()));
        }
        if data.len() != page_size as usize {
            return Err(Error::InvalidInput(format!(
                "page {id} has {} bytes, expected {page_size}",
                data.len()
            )));
        }
    }
    Ok(())
}
