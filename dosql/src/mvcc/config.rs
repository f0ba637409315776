//! Engine settings and the values the engine reports.

use crate::pager::PagerStats;
use crate::store::Lsn;
use crate::wal::Timestamp;

/// When a commit's WAL record reaches stable storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// The WAL is synced before `commit` returns: a commit that returned
    /// survives a machine crash.
    Full,
    /// Like SQLite's `synchronous=NORMAL`: the WAL is handed to the OS at
    /// commit (survives a process crash) and synced at each checkpoint.
    Normal,
    /// Neither: a crash may lose any commit since the last checkpoint. For
    /// tests and throwaway data only.
    Off,
}

/// Settings of an [`Engine`](super::Engine).
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// Page cache budget. Dirty pages may exceed it until the next
    /// checkpoint, which the engine starts as soon as a commit leaves the
    /// cache over budget.
    pub cache_bytes: u64,
    pub sync: SyncMode,
    /// A commit checkpoints when dirty pages, or WAL bytes written since the
    /// last checkpoint, exceed this.
    pub checkpoint_bytes: u64,
    /// Memory one transaction's uncommitted writes may use
    /// (`LimitExceeded` beyond).
    pub max_txn_bytes: u64,
    /// Wall time in Unix milliseconds, stamped on WAL records. The engine
    /// never reads a clock itself (`std::time` panics on wasm32).
    pub clock: fn() -> u64,
}

/// Unix time in milliseconds from the operating system.
#[cfg(not(target_family = "wasm"))]
pub fn system_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// On wasm32 there is no usable system clock: this returns 0, and the
/// Durable Object glue replaces it with one backed by `Date.now()`.
#[cfg(target_family = "wasm")]
pub fn system_clock() -> u64 {
    0
}

impl Default for EngineConfig {
    /// 64 MiB cache, [`SyncMode::Full`], checkpoints every 32 MiB, 512 MiB
    /// per transaction, [`system_clock`].
    fn default() -> Self {
        EngineConfig {
            cache_bytes: 64 << 20,
            sync: SyncMode::Full,
            checkpoint_bytes: 32 << 20,
            max_txn_bytes: 512 << 20,
            clock: system_clock,
        }
    }
}

/// What a successful commit reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    /// The WAL record of the commit; for a commit that changed nothing, the
    /// last LSN at the time (no record is written).
    pub lsn: Lsn,
    /// The commit's timestamp; for a commit that changed nothing, its
    /// snapshot.
    pub commit_ts: Timestamp,
}

/// Counters and levels of an engine since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub active_txns: u64,
    pub commits: u64,
    /// Commits refused by first-committer-wins validation.
    pub conflicts: u64,
    pub rollbacks: u64,
    pub checkpoints: u64,
    pub last_commit_ts: Timestamp,
    pub last_lsn: Lsn,
    pub durable_lsn: Lsn,
    pub checkpoint_lsn: Lsn,
    /// Old versions held for open snapshots.
    pub versions: u64,
    /// Garbage-collection work queued (versions and tombstones).
    pub gc_pending: u64,
    /// WAL body bytes appended since open.
    pub wal_bytes: u64,
    pub cached_bytes: u64,
    pub dirty_bytes: u64,
    pub pager: PagerStats,
}
