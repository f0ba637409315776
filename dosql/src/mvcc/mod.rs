//! The transactional storage engine: snapshot-isolated transactions over the
//! pager, B-trees and WAL.
//!
//! ```text
//!   Engine
//!   ├─ txns: TxnId -> Txn { snapshot, WriteSet }    uncommitted, in memory
//!   ├─ catalog (B-tree)   tree id -> name, kind, root
//!   ├─ user trees (B-trees)  key -> varint(commit_ts, tombstone) ++ value
//!   ├─ version store (B-tree) + GC index (B-tree)    old versions for old snapshots
//!   ├─ Pager   one page cache and one atomic checkpoint for all trees
//!   └─ Wal     one redo record per commit (before and after images)
//! ```
//!
//! # Transactions and isolation
//! The engine is single-threaded and synchronous; transactions are handles
//! ([`TxnId`]) so that many can be open and interleaved. Commit timestamps
//! are a logical counter; a transaction's snapshot is the last commit
//! timestamp when it began, and it reads exactly the commits at or before
//! its snapshot, plus its own writes. Uncommitted writes live only in the
//! transaction's write set (`writeset.rs`), never in a B-tree.
//!
//! The isolation level is **snapshot isolation**, not serializable. It
//! prevents dirty reads, non-repeatable reads, phantoms (a snapshot does not
//! move) and lost updates (first committer wins: a commit fails with
//! [`Error::Conflict`] if another transaction committed a write to one of
//! its keys after its snapshot). It allows **write skew**: two transactions
//! that each read what the other writes, but write disjoint keys, both
//! commit. Example: invariant "x + y >= 0" with x = y = 50; T1 reads both and
//! sets x = -40, T2 reads both and sets y = -40; both commit and the
//! invariant breaks. A caller that needs serializability must materialise
//! the conflict (write the keys it read).
//!
//! # Versions
//! Each user tree's B-tree holds the newest committed version of each key,
//! stamped with its commit timestamp. When a commit replaces a version while
//! other snapshots are open, the old version goes to the version store
//! (`versions.rs`; in the same pager, so bounded by the cache, not memory)
//! and deletes leave tombstones; garbage collection removes both once no
//! snapshot can see them. `versions.rs` states the lookup rule.
//!
//! # Commit
//! validate (first committer wins; trees untouched since the snapshot are
//! skipped) -> apply the write set to the B-trees in key order, collecting
//! before images -> append one WAL record -> sync or flush per [`SyncMode`]
//! -> garbage-collect -> checkpoint when over thresholds. A failure while
//! applying or logging leaves memory ahead of the log: the engine is then
//! *poisoned* and every later call fails with an `Io` error until it is
//! reopened, which recovers. Any store failure poisons the same way. A
//! failure after the commit was applied and logged (GC, automatic
//! checkpoint) poisons the engine, but the commit itself still reports
//! success: under [`SyncMode::Full`] it is already durable.
//!
//! # Checkpoint and recovery
//! Checkpoints happen only between commits, so the pages always capture
//! the state after some LSN: sync the WAL, write every dirty page plus the
//! meta (checkpoint LSN, counters, roots) in one atomic batch, then
//! truncate the WAL before `min(checkpoint LSN + 1, low-water mark)`.
//! [`Engine::open`] loads the checkpoint, purges the version store (no
//! snapshot survives a restart) and replays the after images of every WAL
//! record newer than the checkpoint.
//!
//! Departures from the first design, each for a reason:
//! * Deletes leave tombstones while other snapshots are open, so scans and
//!   conflict checks read only the main tree (an absent key is absent for
//!   every snapshot) instead of merging an ordered scan of the version store.
//! * The catalog is keyed by tree id, not name: a dropped tree that old
//!   snapshots still read and a new tree of the same name coexist.
//! * User trees of kind [`TreeKind::Index`] are stored as table B-trees
//!   (each value carries the MVCC stamp); the engine enforces empty values.

mod catalog;
mod check;
mod codec;
mod commit;
mod config;
mod cursor;
mod open;
mod ops;
mod txn;
mod versions;
mod writemap;
mod writeset;

pub use check::IntegrityReport;
pub use config::{system_clock, CommitInfo, EngineConfig, EngineStats, SyncMode};
pub use cursor::TxnCursor;

pub use crate::btree::{TreeKind, MAX_VALUE_LEN};
pub use crate::wal::{Change, Record, Timestamp, TreeId, TxnId};

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::pager::Pager;
use crate::store::Lsn;
use crate::wal::Wal;
use catalog::Catalog;
use txn::{Snapshots, Txn};
use versions::VersionStore;

/// Largest tree name in bytes.
pub const MAX_TREE_NAME: usize = 1024;

#[derive(Default)]
struct Counters {
    commits: u64,
    conflicts: u64,
    rollbacks: u64,
    checkpoints: u64,
}

/// A database: trees of byte-string keys under snapshot-isolated
/// transactions, durable through a WAL and periodic checkpoints.
pub struct Engine {
    pager: Pager,
    wal: Wal,
    config: EngineConfig,
    catalog: Catalog,
    versions: VersionStore,
    txns: FxHashMap<TxnId, Txn>,
    snapshots: Snapshots,
    next_txn: TxnId,
    last_ts: Timestamp,
    next_tree: TreeId,
    checkpoint_lsn: Lsn,
    wal_bytes_at_checkpoint: u64,
    low_water: Option<Lsn>,
    /// Why the engine refuses all work, after a failure that left memory
    /// and storage out of step.
    poisoned: Option<String>,
    counters: Counters,
    /// Longest user key: the B-tree limit minus the version key framing.
    max_key: usize,
    buf: Vec<u8>,
}

impl Engine {
    fn healthy(&self) -> Result<()> {
        match &self.poisoned {
            None => Ok(()),
            Some(why) => Err(Error::Io(std::io::Error::other(format!(
                "engine is poisoned after an earlier failure ({why}); reopen it to recover"
            )))),
        }
    }

    fn poison(&mut self, err: &Error) {
        if self.poisoned.is_none() {
            self.poisoned = Some(err.to_string());
        }
    }

    /// Runs a step that mutates storage; a failure poisons the engine.
    fn guarded<T>(&mut self, step: impl FnOnce(&mut Engine) -> Result<T>) -> Result<T> {
        let result = step(self);
        if let Err(e) = &result {
            self.poison(e);
        }
        result
    }

    /// True once a failure has poisoned the engine.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }

    /// Counters and levels since open.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            active_txns: self.txns.len() as u64,
            commits: self.counters.commits,
            conflicts: self.counters.conflicts,
            rollbacks: self.counters.rollbacks,
            checkpoints: self.counters.checkpoints,
            last_commit_ts: self.last_ts,
            last_lsn: self.wal.last_lsn(),
            durable_lsn: self.wal.durable_lsn(),
            checkpoint_lsn: self.checkpoint_lsn,
            versions: self.versions.entries(),
            gc_pending: self.versions.pending(),
            wal_bytes: self.wal.bytes_appended(),
            cached_bytes: self.pager.cached_bytes(),
            dirty_bytes: self.pager.dirty_bytes(),
            pager: self.pager.stats(),
        }
    }

    /// The longest key a tree accepts with this page size.
    pub fn max_key_len(&self) -> usize {
        self.max_key
    }

    /// Keeps WAL records with LSN `>= lsn` through later checkpoints (for
    /// replication slots and change data capture); `None` lets checkpoints
    /// discard everything they cover. Takes effect at the next checkpoint.
    pub fn set_wal_low_water_mark(&mut self, lsn: Option<Lsn>) {
        self.low_water = lsn;
    }

    /// Calls `f` with each WAL record with LSN `>= from` still retained,
    /// in order, until `f` returns `Ok(false)`.
    pub fn read_wal(&mut self, from: Lsn, f: &mut dyn FnMut(Record) -> Result<bool>) -> Result<()> {
        self.healthy()?;
        self.wal.scan(from, f)
    }
}
