//! The lake state machine: change batches from DoSQL shards in, durable
//! per-table buffers, flushes to Iceberg tables out.
//!
//! ```text
//!   shard ──batch──> receive ──one engine txn──> lake:buffer, lake:shards ──> Ack{lsn}
//!                       │ over the byte cap: Nack{retry_after}, nothing stored
//!   alarm(next_flush_at) ─> due_flushes(now) ─> prepare_flush(table)
//!        ──> FlushPlan{objects} ──host puts objects──> complete_flush(plan)
//!        ──one engine txn──> buffer entries removed, row index, table state
//! ```
//!
//! The lake is sans-IO and synchronous: the host (the Durable Object glue)
//! owns the sockets, the object store and the clock; time arrives as Unix
//! milliseconds and randomness as parameters. Its durable state is a
//! [`dosql::mvcc::Engine`] the host opens (in memory or on a directory in
//! tests, on the Durable Object's storage in production) and hands over.
//!
//! Invariants:
//! * A batch is acknowledged only after its entries and the shard's
//!   high-water LSN committed in one engine transaction; transactions at or
//!   below the mark are skipped. So redelivery (at least once) has its
//!   effect exactly once, across restarts of either side.
//! * A flush changes nothing until `complete_flush`, which commits the
//!   removal of exactly the entries the plan consumed, the row index and
//!   the table state in one transaction. A crash before it leaves only
//!   orphan objects; the next flush redoes the work under new names.
//! * The in-memory mirrors (`shards`, `tables`) equal the stored state
//!   after every call that returned.
//!
//! The stored layout is in `state.rs` and docs/lake-state.md.

mod flush;
mod inbox;
mod keys;
mod policy;
mod receive;
mod resolve;
mod schema;
mod state;
pub mod wire;

pub use flush::{FlushPlan, Flushed, Publish};
pub use inbox::Part;
pub use policy::FlushPolicy;
pub use schema::{LakeColumn, LakeSchema, ShardSchema, ROWID_COLUMN, SHARD_COLUMN};
pub use state::{LakeTable, FORMAT_VERSION};

use std::collections::BTreeMap;

use dosql::mvcc::Engine;

use crate::error::Result;
use state::Trees;

/// Settings of a [`Lake`].
#[derive(Clone, Debug, PartialEq)]
pub struct LakeConfig {
    /// The Iceberg namespace of every table.
    pub namespace: String,
    /// Where tables live: a table's location is `{warehouse}/{namespace}/{table}`.
    pub warehouse: String,
    pub policy: FlushPolicy,
    /// The buffer's byte cap (encoded entries): receives beyond it are
    /// refused with a nack.
    pub max_buffer_bytes: u64,
    /// What a nack tells the shard to wait before resending.
    pub retry_after_ms: u64,
    /// The largest transaction sent in parts, in encoded bytes: it is held
    /// in memory whole (about three times this) when its last part comes.
    pub max_txn_bytes: u64,
}

impl Default for LakeConfig {
    fn default() -> Self {
        LakeConfig {
            namespace: "dosql".into(),
            warehouse: "lake".into(),
            policy: FlushPolicy::default(),
            max_buffer_bytes: 64 << 20,
            retry_after_ms: 1_000,
            max_txn_bytes: 16 << 20,
        }
    }
}

/// The answer to a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Everything up to `lsn` is durable in the lake.
    Ack { shard: String, lsn: u64 },
    /// Of `shard`'s transaction `lsn` in parts, the first `received` bytes
    /// are durable: the shard sends the part at that offset next.
    Progress {
        shard: String,
        lsn: u64,
        received: u64,
    },
    /// Nothing was stored; resend the batch after `retry_after_ms`.
    Nack { retry_after_ms: u64, reason: String },
}

/// Buffer and flush figures of one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableStats {
    pub buffered_rows: u64,
    pub buffered_bytes: u64,
    pub flushes: u64,
    /// Per shard, the last LSN the Iceberg table includes.
    pub lsns: BTreeMap<String, u64>,
    pub metadata_location: Option<String>,
}

/// What [`Lake::stats`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LakeStats {
    pub tables: BTreeMap<String, TableStats>,
    /// Per shard, the high-water LSN (durable in the lake).
    pub shards: BTreeMap<String, u64>,
    pub buffered_bytes: u64,
    /// Nacks since open.
    pub nacks: u64,
}

/// The lake state machine over its engine.
pub struct Lake {
    engine: Engine,
    config: LakeConfig,
    trees: Trees,
    /// Mirror of `lake:shards`.
    shards: BTreeMap<String, u64>,
    /// Mirror of `lake:tables`.
    tables: BTreeMap<String, LakeTable>,
    /// Mirror of `lake:inbox`: transactions arriving in parts.
    inbox: BTreeMap<String, inbox::Inbox>,
    nacks: u64,
}

impl Lake {
    /// Opens the lake kept in `engine` (creating its trees on first use).
    pub fn open(mut engine: Engine, config: LakeConfig) -> Result<Lake> {
        let trees = state::open_trees(&mut engine)?;
        let state::Loaded {
            shards,
            tables,
            inbox,
        } = state::load(&mut engine, trees)?;
        Ok(Lake {
            engine,
            config,
            trees,
            shards,
            tables,
            inbox,
            nacks: 0,
        })
    }

    /// The engine, for state kept beside the lake's (the catalog's trees).
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// Gives the engine back (to close or reopen it).
    pub fn into_engine(self) -> Engine {
        self.engine
    }

    pub fn config(&self) -> &LakeConfig {
        &self.config
    }

    /// The high-water LSN of `shard`: where its stream resumes (+1).
    pub fn shard_lsn(&self, shard: &str) -> Option<u64> {
        self.shards.get(shard).copied()
    }

    /// The state of `table`, if any shard created it.
    pub fn table(&self, table: &str) -> Option<&LakeTable> {
        self.tables.get(table)
    }

    fn buffered_bytes(&self) -> u64 {
        self.tables.values().map(|t| t.buffered_bytes).sum()
    }

    fn pressure(&self) -> bool {
        self.buffered_bytes() >= self.config.max_buffer_bytes / 2
    }

    /// When the host must call [`Lake::due_flushes`] next (its alarm); may
    /// be in the past. `None` when nothing is buffered.
    pub fn next_flush_at(&self) -> Option<u64> {
        let pressure = self.pressure();
        self.tables
            .values()
            .filter_map(|t| self.config.policy.due_at(t, pressure))
            .min()
    }

    /// The tables due for a flush at `now_ms`, largest buffer first.
    pub fn due_flushes(&self, now_ms: u64) -> Vec<String> {
        let pressure = self.pressure();
        let mut due: Vec<(&String, &LakeTable)> = self
            .tables
            .iter()
            .filter(|(_, t)| {
                self.config
                    .policy
                    .due_at(t, pressure)
                    .is_some_and(|at| at <= now_ms)
            })
            .collect();
        due.sort_by(|a, b| {
            b.1.buffered_bytes
                .cmp(&a.1.buffered_bytes)
                .then(a.0.cmp(b.0))
        });
        due.into_iter().map(|(name, _)| name.clone()).collect()
    }

    /// Buffer, flush and LSN figures.
    pub fn stats(&self) -> LakeStats {
        LakeStats {
            tables: self
                .tables
                .iter()
                .map(|(name, t)| {
                    let stats = TableStats {
                        buffered_rows: t.buffered_rows,
                        buffered_bytes: t.buffered_bytes,
                        flushes: t.flushes,
                        lsns: t.lsns.clone(),
                        metadata_location: t.metadata_location.clone(),
                    };
                    (name.clone(), stats)
                })
                .collect(),
            shards: self.shards.clone(),
            buffered_bytes: self.buffered_bytes(),
            nacks: self.nacks,
        }
    }
}
