//! Receiving a batch: dedup, backpressure, durable buffering, then the ack.
//!
//! ```text
//!   receive(shard, batch, now)
//!     validate shard name, LSN order         -> Err(InvalidInput)
//!     txns with lsn <= high-water(shard)     -> skipped (already durable)
//!     schema events -> table states (clones); row events -> entries
//!     entries > buffer cap                   -> Err(Limit)  (can never fit)
//!     buffer + entries > buffer cap          -> Nack { retry_after }  (nothing stored)
//!     one engine transaction: entries, table states, high-water
//!     -> Ack { lsn: batch's last LSN }
//! ```
//!
//! Exactly once: the high-water mark and the entries commit together, so a
//! redelivered transaction is either in the buffer (and at or below the
//! mark) or absent (and above it). The ack comes only after the commit.

use std::collections::BTreeMap;

use dosql::mvcc::{Engine, TxnId};

use super::inbox;
use super::keys;
use super::state::{self, Entry, LakeTable};
use super::wire::{self, ChangeBatch, ChangeEvent, RowOp, SchemaChange, SchemaEvent, TableSchema};
use super::{Lake, Reply};
use crate::error::{Error, Result};

/// A batch turned into what the lake stores.
struct Staged {
    /// (buffer key, encoded entry, table)
    entries: Vec<(Vec<u8>, Vec<u8>, String)>,
    tables: BTreeMap<String, LakeTable>,
    bytes: u64,
}

impl Lake {
    /// Receives one batch from `shard` at `now_ms`.
    pub fn receive(&mut self, shard: &str, batch: &ChangeBatch, now_ms: u64) -> Result<Reply> {
        if !shared_types::limits::valid_database_name(shard) {
            return Err(Error::InvalidInput(format!(
                "shard name {shard:?} is not 1 to 64 of [A-Za-z0-9_-]"
            )));
        }
        let ack = check_batch(shard, batch)?;
        let high = self.shards.get(shard).copied().unwrap_or(0);
        let fresh: Vec<_> = batch.txns.iter().filter(|t| t.lsn > high).collect();
        if fresh.is_empty() && ack <= high {
            return Ok(Reply::Ack {
                shard: shard.to_owned(),
                lsn: ack,
            });
        }
        let staged = self.stage(shard, &fresh, &batch.schemas, now_ms)?;
        if staged.bytes > self.config.max_buffer_bytes {
            return Err(Error::Limit(format!(
                "a batch of {} buffered bytes exceeds the lake's buffer of {} bytes: \
                 send smaller batches",
                staged.bytes, self.config.max_buffer_bytes
            )));
        }
        let total = self.buffered_bytes();
        if total + staged.bytes > self.config.max_buffer_bytes {
            self.nacks += 1;
            return Ok(Reply::Nack {
                retry_after_ms: self.config.retry_after_ms,
                reason: format!(
                    "buffer full: {total} of {} bytes buffered, batch needs {}",
                    self.config.max_buffer_bytes, staged.bytes
                ),
            });
        }
        let trees = self.trees;
        let high = high.max(ack);
        // Parts of a transaction that has now arrived whole are garbage.
        let stale = self.inbox.get(shard).is_some_and(|b| b.lsn <= high);
        state::in_txn(&mut self.engine, |engine, txn| {
            write(engine, txn, trees, &staged)?;
            state::put_shard(engine, txn, trees, shard, high)?;
            if stale {
                inbox::clear(engine, txn, trees, shard)?;
            }
            Ok(())
        })?;
        if stale {
            self.inbox.remove(shard);
        }
        self.shards.insert(shard.to_owned(), high);
        self.tables.extend(staged.tables);
        Ok(Reply::Ack {
            shard: shard.to_owned(),
            lsn: ack,
        })
    }

    /// Turns the fresh transactions into entries and new table states.
    /// `schemas` (the batch's) introduce tables this shard created before
    /// its stream reached the lake.
    fn stage(
        &self,
        shard: &str,
        txns: &[&wire::ChangeTxn],
        schemas: &[TableSchema],
        now_ms: u64,
    ) -> Result<Staged> {
        let mut staged = Staged {
            entries: Vec::new(),
            tables: BTreeMap::new(),
            bytes: 0,
        };
        let max_key = self.engine.max_key_len();
        for txn in txns {
            for (seq, event) in txn.events.iter().enumerate() {
                let seq = u32::try_from(seq).map_err(|_| {
                    Error::Limit(format!("transaction {} has over 2^32 events", txn.lsn))
                })?;
                let push = |table: &str, entry: Entry, staged: &mut Staged| {
                    let key = keys::buffer_key(table, shard, txn.lsn, seq);
                    let value = entry.encode();
                    let size = (key.len() + value.len()) as u64;
                    let t = self.table_mut(&mut staged.tables, table);
                    t.buffered_rows += 1;
                    t.buffered_bytes += size;
                    t.oldest_ms.get_or_insert(now_ms);
                    staged.bytes += size;
                    staged.entries.push((key, value, table.to_owned()));
                };
                match event {
                    ChangeEvent::Schema(s) => {
                        if let Some(gone) =
                            self.apply_schema(&mut staged.tables, shard, s, now_ms)?
                        {
                            push(&gone, Entry::DropShard { at_ms: now_ms }, &mut staged);
                        }
                    }
                    ChangeEvent::Row(r) => {
                        self.introduce(&mut staged.tables, shard, &r.table, schemas, now_ms)?;
                        let t = self.table_mut(&mut staged.tables, &r.table);
                        let cells = t.schema.cells(shard, r)?;
                        let key = r.key.clone();
                        let row_key = keys::row_key(&r.table, shard, &key);
                        if row_key.len() > max_key {
                            return Err(Error::Limit(format!(
                                "key of a row of {:?} is {} bytes encoded, over the lake's {max_key}",
                                r.table,
                                row_key.len()
                            )));
                        }
                        let entry = match r.op {
                            RowOp::Insert | RowOp::Update => Entry::Put {
                                key,
                                cells,
                                at_ms: now_ms,
                            },
                            RowOp::Delete => Entry::Delete { key, at_ms: now_ms },
                        };
                        push(&r.table, entry, &mut staged);
                    }
                }
            }
        }
        Ok(staged)
    }

    /// Makes `table` known for `shard` from the batch's `schemas` if it is
    /// not yet (the shard's stream started after the table was created);
    /// without a schema the row is refused later, by `cells`.
    fn introduce(
        &self,
        staged: &mut BTreeMap<String, LakeTable>,
        shard: &str,
        table: &str,
        schemas: &[TableSchema],
        now_ms: u64,
    ) -> Result<()> {
        let known = staged
            .get(table)
            .or_else(|| self.tables.get(table))
            .is_some_and(|t| t.schema.has_shard(shard));
        if known {
            return Ok(());
        }
        match schemas.iter().find(|s| s.name == table) {
            Some(schema) => self.change(staged, table, now_ms, |t| {
                t.schema.set_shard(shard, schema, None)
            }),
            None => Ok(()),
        }
    }

    /// The staged state of `table`: staged already, else a copy of the
    /// current one, else a new table.
    fn table_mut<'a>(
        &self,
        staged: &'a mut BTreeMap<String, LakeTable>,
        table: &str,
    ) -> &'a mut LakeTable {
        staged.entry(table.to_owned()).or_insert_with(|| {
            self.tables
                .get(table)
                .cloned()
                .unwrap_or_else(LakeTable::new)
        })
    }

    /// Applies a schema event; returns the table whose rows from `shard`
    /// are gone (DROP TABLE, and the old name of RENAME TABLE).
    fn apply_schema(
        &self,
        staged: &mut BTreeMap<String, LakeTable>,
        shard: &str,
        event: &SchemaEvent,
        now_ms: u64,
    ) -> Result<Option<String>> {
        let gone = match event.change {
            SchemaChange::Drop => Some(event.table.clone()),
            SchemaChange::RenameTable => event.previous.clone(),
            _ => None,
        };
        let gone = match gone {
            Some(old)
                if staged
                    .get(&old)
                    .or_else(|| self.tables.get(&old))
                    .is_some_and(|t| t.schema.has_shard(shard)) =>
            {
                self.change(staged, &old, now_ms, |t| {
                    t.schema.remove_shard(shard);
                    Ok(())
                })?;
                Some(old)
            }
            _ => None,
        };
        if event.change == SchemaChange::Drop {
            return Ok(gone);
        }
        let renamed = match (event.change, &event.previous, &event.column) {
            (SchemaChange::RenameColumn, Some(old), Some(new)) => {
                Some((old.as_str(), new.as_str()))
            }
            _ => None,
        };
        self.change(staged, &event.table, now_ms, |t| {
            t.schema.set_shard(shard, &event.schema, renamed)
        })?;
        Ok(gone)
    }

    /// Applies `f` to the staged state of `table`, noting when its columns
    /// changed.
    fn change(
        &self,
        staged: &mut BTreeMap<String, LakeTable>,
        table: &str,
        now_ms: u64,
        f: impl FnOnce(&mut LakeTable) -> Result<()>,
    ) -> Result<()> {
        let t = self.table_mut(staged, table);
        let before = t.schema.version;
        f(t)?;
        if t.schema.version != before {
            t.schema_since_ms.get_or_insert(now_ms);
        }
        Ok(())
    }
}

/// Checks the batch's format version, that every transaction is `shard`'s
/// and that LSNs increase; returns the LSN to ack: the last one the batch
/// covers.
fn check_batch(shard: &str, batch: &ChangeBatch) -> Result<u64> {
    if batch.version != wire::CDC_FORMAT_VERSION {
        return Err(Error::InvalidInput(format!(
            "change batch format version {} is not the lake's {}",
            batch.version,
            wire::CDC_FORMAT_VERSION
        )));
    }
    let mut last = 0;
    for t in &batch.txns {
        if t.shard != shard {
            return Err(Error::InvalidInput(format!(
                "transaction at LSN {} is shard {:?}'s, not {shard:?}'s",
                t.lsn, t.shard
            )));
        }
        if t.lsn <= last || t.lsn > i64::MAX as u64 {
            return Err(Error::InvalidInput(format!(
                "batch LSNs must increase and stay below 2^63 (LSN {} after {last})",
                t.lsn
            )));
        }
        last = t.lsn;
    }
    let covered = batch.next_lsn.saturating_sub(1);
    if covered < last {
        return Err(Error::InvalidInput(format!(
            "batch next_lsn {} is not past its last transaction {last}",
            batch.next_lsn
        )));
    }
    Ok(covered)
}

/// Writes staged entries and table states in transaction `txn`.
fn write(engine: &mut Engine, txn: TxnId, trees: state::Trees, staged: &Staged) -> Result<()> {
    for (key, value, _) in &staged.entries {
        engine
            .put(txn, trees.buffer, key, value)
            .map_err(state::db)?;
    }
    for (name, t) in &staged.tables {
        state::put_table(engine, txn, trees, name, t)?;
    }
    Ok(())
}
