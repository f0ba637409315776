//! Ending transactions: validation, apply, logging, GC and checkpoints.
//!
//! ```text
//!   commit(txn)
//!     validate ──conflict──> Err(Conflict), txn rolled back
//!       │ ok
//!     apply write set to B-trees (tree id, then key order); save overwritten
//!       │ versions if other snapshots are open; encode each change (with
//!       │ its before image) straight into the WAL record being built
//!     WAL append (one record) ── sync (Full) | flush (Normal) | - (Off, deferred)
//!       │                        any failure from here up: poisoned
//!     GC (bounded batch) ── checkpoint if over thresholds
//! ```
//!
//! First committer wins: a transaction conflicts when some key it writes
//! has a main-tree stamp newer than its snapshot. Because deletes leave
//! tombstones while other snapshots are open, every commit after the
//! snapshot that touched the key is visible this way. Trees whose last
//! commit is not newer than the snapshot are skipped without a lookup.

use super::codec::{decode_stamp, encode_main, strip_stamp, Meta, MAX_TS};
use super::txn::Txn;
use super::{CommitInfo, Engine, SyncMode};
use crate::btree::{BTree, InsertHint, TreeKind};
use crate::error::{Error, Result};
use crate::invalid;
use crate::store::Lsn;
use crate::wal::{ChangeRef, Timestamp, TxnId};

/// Garbage-collection entries processed after every transaction, at least.
const GC_BATCH: u64 = 256;

impl Engine {
    /// Commits `txn`; durable per the configured [`SyncMode`] on return.
    /// `Conflict` means another transaction won and this one was rolled
    /// back: retry it from the start.
    pub fn commit(&mut self, txn: TxnId) -> Result<CommitInfo> {
        self.finish(txn, false)
    }

    /// Commits `txn` (applied, visible and logged) without making it
    /// durable: one later [`Engine::sync`] makes every deferred commit
    /// durable at once (group commit).
    pub fn commit_deferred(&mut self, txn: TxnId) -> Result<CommitInfo> {
        self.finish(txn, true)
    }

    /// Makes every commit so far durable with one log sync; returns the
    /// durable LSN.
    pub fn sync(&mut self) -> Result<Lsn> {
        self.healthy()?;
        self.guarded(|e| e.wal.sync())?;
        Ok(self.wal.durable_lsn())
    }

    /// Discards `txn` and everything it wrote.
    pub fn rollback(&mut self, txn: TxnId) -> Result<()> {
        self.healthy()?;
        let t = self.take(txn)?;
        self.counters.rollbacks += 1;
        drop(t);
        self.housekeeping(GC_BATCH);
        Ok(())
    }

    /// Removes an open transaction from the table and releases its snapshot.
    fn take(&mut self, txn: TxnId) -> Result<Txn> {
        let t = self
            .txns
            .remove(&txn)
            .ok_or_else(|| invalid!("transaction {txn} is not open"))?;
        self.snapshots.remove(t.snapshot);
        Ok(t)
    }

    fn finish(&mut self, id: TxnId, deferred: bool) -> Result<CommitInfo> {
        self.healthy()?;
        let txn = self.take(id)?;
        if txn.read_only || txn.writes.is_empty() {
            self.counters.commits += 1;
            self.housekeeping(GC_BATCH);
            return Ok(CommitInfo {
                lsn: self.wal.last_lsn(),
                commit_ts: txn.snapshot,
            });
        }
        if let Err(e) = self.validate(&txn) {
            if matches!(e, Error::Conflict(_)) {
                self.counters.conflicts += 1;
            }
            self.counters.rollbacks += 1;
            self.housekeeping(GC_BATCH);
            return Err(e);
        }
        if self.last_ts >= MAX_TS {
            self.counters.rollbacks += 1;
            return Err(Error::LimitExceeded(
                "commit timestamps are exhausted".into(),
            ));
        }
        let ts = self.last_ts + 1;
        let (lsn, queued) = self.guarded(|e| e.apply_and_log(id, txn, ts, deferred))?;
        self.counters.commits += 1;
        self.housekeeping(GC_BATCH + 2 * queued);
        Ok(CommitInfo { lsn, commit_ts: ts })
    }

    fn validate(&mut self, txn: &Txn) -> Result<()> {
        let snapshot = txn.snapshot;
        let Engine { catalog, pager, .. } = self;
        let parts = txn.writes.pending_catalog();
        for create in parts.0 {
            if let Some(id) = catalog.live(&create.name) {
                if !txn.writes.is_dropped(id) {
                    return Err(Error::Conflict(format!(
                        "tree {:?} was created concurrently",
                        create.name
                    )));
                }
            }
        }
        for &id in parts.1 {
            match catalog.get(id) {
                Some(info) if info.dropped_ts.is_none() && info.last_commit_ts <= snapshot => {}
                _ => {
                    return Err(Error::Conflict(format!(
                        "tree {id} was changed concurrently"
                    )))
                }
            }
        }
        for (tree, writes) in txn.writes.written_trees() {
            if txn.writes.created_by_id(tree).is_some() {
                continue;
            }
            let info = match catalog.get(tree) {
                Some(info) if info.dropped_ts.is_none() => info,
                _ => {
                    return Err(Error::Conflict(format!(
                        "tree {tree} was dropped concurrently"
                    )))
                }
            };
            if info.last_commit_ts <= snapshot {
                continue;
            }
            for (key, _) in writes.iter() {
                if let Some(raw) = info.btree.get(pager, key)? {
                    let (stamp, _) = strip_stamp(raw)?;
                    if stamp.ts > snapshot {
                        return Err(Error::Conflict(format!(
                            "tree {:?}: a key written by this transaction was committed concurrently",
                            info.name
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies a validated write set at `ts` and logs it. Returns the LSN
    /// and how many GC entries the commit queued.
    fn apply_and_log(
        &mut self,
        id: TxnId,
        txn: Txn,
        ts: Timestamp,
        deferred: bool,
    ) -> Result<(Lsn, u64)> {
        // Other open snapshots are all older than `ts`: they may need what
        // this commit overwrites.
        let keep = self.snapshots.len() > 0;
        let queued_before = self.versions.pending();
        // The write set's memory charge (keys, values, 64 bytes per entry)
        // is a close estimate of the encoded changes, before images aside.
        let record_bound = usize::try_from(txn.writes.bytes()).unwrap_or(usize::MAX);
        let parts = txn.writes.into_parts();
        let Engine {
            pager,
            catalog,
            versions,
            buf,
            wal,
            ..
        } = self;
        // Each change is encoded into the WAL record as it is applied, from
        // borrowed bytes: a bulk load never holds its rows a second time.
        wal.start_record();
        wal.reserve(record_bound);
        for tree in parts.drops {
            wal.push_change(ChangeRef::DropTree { tree });
            if keep {
                catalog.mark_dropped(pager, tree, ts)?;
            } else {
                catalog.remove(pager, tree)?.destroy(pager)?;
            }
        }
        for create in parts.creates {
            let btree = BTree::create(pager, TreeKind::Table)?;
            catalog.add(pager, create.id, &create.name, create.kind, btree, ts)?;
            wal.push_change(ChangeRef::CreateTree {
                tree: create.id,
                name: &create.name,
                index: create.kind == TreeKind::Index,
            });
        }
        let mut maps: Vec<_> = parts
            .maps
            .into_iter()
            .filter(|(_, m)| !m.is_empty())
            .collect();
        maps.sort_unstable_by_key(|(tree, _)| *tree);
        for (tree, writes) in maps {
            let info = catalog.get_mut(tree).expect("validated tree is registered");
            info.last_commit_ts = ts;
            let btree = info.btree;
            // Keys come in order: consecutive ones mostly share a leaf.
            let mut hint = InsertHint::default();
            for (key, value) in writes.into_sorted() {
                match value {
                    Some(after) => {
                        encode_main(buf, ts, Some(&after));
                        let old = btree.insert_hinted(pager, &key, buf, &mut hint)?;
                        let mut before = None;
                        if let Some(old) = &old {
                            let (stamp, n) = decode_stamp(old)?;
                            if !stamp.tombstone {
                                if keep {
                                    versions.save(pager, tree, &key, ts, old, false)?;
                                }
                                before = Some(&old[n..]);
                            }
                        }
                        wal.push_change(ChangeRef::Put {
                            tree,
                            key: &key,
                            before,
                            after: &after,
                        });
                    }
                    None if keep => {
                        encode_main(buf, ts, None);
                        let old = btree.insert_hinted(pager, &key, buf, &mut hint)?;
                        let live = match &old {
                            Some(old) => Some(decode_stamp(old)?)
                                .filter(|(stamp, _)| !stamp.tombstone)
                                .map(|(_, n)| n),
                            None => None,
                        };
                        match (live, &old) {
                            (Some(n), Some(old)) => {
                                versions.save(pager, tree, &key, ts, old, true)?;
                                wal.push_change(ChangeRef::Delete {
                                    tree,
                                    key: &key,
                                    before: Some(&old[n..]),
                                });
                            }
                            // Only conflict detection needs this tombstone.
                            _ => versions.mark_tombstone(pager, tree, &key, ts)?,
                        }
                    }
                    None => {
                        if let Some(old) = btree.delete(pager, &key)? {
                            let (stamp, n) = decode_stamp(&old)?;
                            if !stamp.tombstone {
                                wal.push_change(ChangeRef::Delete {
                                    tree,
                                    key: &key,
                                    before: Some(&old[n..]),
                                });
                            }
                        }
                    }
                }
            }
        }
        self.last_ts = ts;
        let queued = self.versions.pending() - queued_before;
        if self.wal.pending_changes() == 0 {
            return Ok((self.wal.last_lsn(), queued));
        }
        let lsn = self.wal.append_record(id, ts, (self.config.clock)())?;
        if !deferred {
            match self.config.sync {
                SyncMode::Full => self.wal.sync()?,
                SyncMode::Normal => self.wal.flush()?,
                SyncMode::Off => {}
            }
        }
        Ok((lsn, queued))
    }

    /// Garbage collection and automatic checkpoints after a transaction
    /// ends. The transaction's outcome is already decided, so a failure
    /// here only poisons the engine for later calls.
    fn housekeeping(&mut self, budget: u64) {
        let _ = self.guarded(|e| {
            e.collect_garbage(budget)?;
            let since = e.wal.bytes_appended() - e.wal_bytes_at_checkpoint;
            let limit = e.config.checkpoint_bytes;
            if e.pager.over_budget() || e.pager.dirty_bytes() >= limit || since >= limit {
                e.checkpoint()?;
            }
            Ok(())
        });
    }

    /// Frees what no open snapshot can see: dropped trees, then up to
    /// `budget` old versions and tombstones.
    fn collect_garbage(&mut self, budget: u64) -> Result<()> {
        let horizon = self.snapshots.oldest();
        let Engine {
            pager,
            catalog,
            versions,
            ..
        } = self;
        let due: Vec<_> = catalog
            .pending_drops()
            .filter(|(_, dropped)| horizon.is_none_or(|h| *dropped <= h))
            .map(|(id, _)| id)
            .collect();
        for id in due {
            catalog.remove(pager, id)?.destroy(pager)?;
        }
        versions.collect(pager, catalog, horizon, budget)?;
        Ok(())
    }

    /// Writes every change so far to the page store in one atomic batch and
    /// lets the WAL forget what the pages now hold (down to the low-water
    /// mark).
    pub fn checkpoint(&mut self) -> Result<()> {
        self.healthy()?;
        self.guarded(|e| {
            if e.wal.durable_lsn() < e.wal.last_lsn() {
                e.wal.sync()?;
            }
            let lsn = e.wal.last_lsn();
            let (versions_root, gc_root) = e.versions.roots();
            let meta = Meta {
                checkpoint_lsn: lsn,
                last_ts: e.last_ts,
                next_txn: e.next_txn,
                next_tree: e.next_tree,
                catalog_root: e.catalog.root(),
                versions_root,
                gc_root,
            };
            e.pager.checkpoint(&meta.encode())?;
            e.checkpoint_lsn = lsn;
            e.wal_bytes_at_checkpoint = e.wal.bytes_appended();
            e.counters.checkpoints += 1;
            let keep_from = e.low_water.map_or(lsn + 1, |mark| mark.min(lsn + 1));
            e.wal.truncate_before(keep_from)
        })
    }
}
