//! The storage-level interface both engines are driven through.
//!
//! Each method is a whole timed unit (a bulk load, a run of lookups, a run
//! of update transactions), not a single operation: that lets each side
//! keep its own fastest form across the loop (SQLite keeps one prepared
//! statement bound and stepped; DoSQL keeps one transaction and tree id)
//! and keeps dynamic dispatch out of the per-row path. The per-row work the
//! harness adds (the `check`/`visit` callback) is identical for both.
//!
//! ```text
//!   workloads (timing, checks)  --KvStore-->  DosqlKv  -> dosql::mvcc::Engine
//!                                        \->  SqliteKv -> rusqlite (bundled)
//! ```
//!
//! Contract shared by the implementations:
//! * keys are `u64` in `0..2^63`; DoSQL stores them as 8 big-endian bytes,
//!   SQLite as `INTEGER PRIMARY KEY`, so both orders are numeric;
//! * `load` and each update transaction end in a real commit, at the same
//!   durability (WAL written to the OS, not fsynced: SQLite
//!   `synchronous=NORMAL`, DoSQL `SyncMode::Normal`);
//! * reads of one call happen inside one read transaction.

pub mod dosql_kv;
pub mod sqlite_kv;

use std::path::Path;

use crate::data::{Updates, Values};

/// Any failure of an engine or of the harness itself.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Result of the harness.
pub type Result<T, E = BoxError> = std::result::Result<T, E>;

/// Which engine a store drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    /// `dosql::mvcc::Engine`.
    Dosql,
    /// SQLite through rusqlite.
    Sqlite,
}

impl EngineKind {
    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Dosql => "DoSQL",
            EngineKind::Sqlite => "SQLite",
        }
    }
}

/// How to open a store.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// Page-cache budget in bytes.
    pub cache_bytes: u64,
    /// Page size in bytes.
    pub page_size: u32,
}

/// A key/value table in one engine, driven in whole workloads.
pub trait KvStore {
    /// The engine behind this store.
    fn kind(&self) -> EngineKind;

    /// Inserts `values.get(j)` under `keys[j]` for every `j`, in that
    /// order, in one transaction, and commits.
    fn load(&mut self, keys: &[u64], values: &Values) -> Result<()>;

    /// Looks up every key of `keys` inside one read transaction, calling
    /// `check` with the key and the value found (or `None`).
    fn get_many(&mut self, keys: &[u64], check: &mut dyn FnMut(u64, Option<&[u8]>)) -> Result<()>;

    /// For each start key, reads up to `len` rows with key `>= start` in key
    /// order, all inside one read transaction, calling `visit` with the
    /// index of the scan, the key and the value of every row.
    fn scan_many(
        &mut self,
        starts: &[u64],
        len: usize,
        visit: &mut dyn FnMut(usize, u64, &[u8]),
    ) -> Result<()>;

    /// Applies `updates` (each key exists) in transactions of
    /// `updates.per_txn` rows, each committed.
    fn update(&mut self, updates: &Updates) -> Result<()>;

    /// Moves committed changes from the WAL into the main database.
    fn checkpoint(&mut self) -> Result<()>;

    /// Calls `visit` with every row in key order (verification; untimed).
    fn for_each_row(&mut self, visit: &mut dyn FnMut(u64, &[u8])) -> Result<()>;

    /// Bytes the database occupies on disk right now (all files).
    fn disk_bytes(&self) -> u64;

    /// The engine's own statistics, printable, if it keeps any (untimed:
    /// may read the whole database).
    fn stats(&mut self) -> Option<String>;
}

/// Opens a fresh, empty store of `kind` in the empty directory `dir`.
pub fn open(kind: EngineKind, dir: &Path, opts: StoreOptions) -> Result<Box<dyn KvStore>> {
    Ok(match kind {
        EngineKind::Dosql => Box::new(dosql_kv::DosqlKv::create(dir, opts)?),
        EngineKind::Sqlite => Box::new(sqlite_kv::SqliteKv::create(dir, opts)?),
    })
}

/// Total size of the regular files under `dir`, recursively.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
