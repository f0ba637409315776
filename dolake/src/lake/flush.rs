//! Flushing a table's buffer into its Iceberg table, in two steps.
//!
//! ```text
//!   prepare_flush(table, now, entropy)          reads only; changes nothing
//!     buffer entries of the table (every shard, LSN order)
//!       -> net effect against the row index (resolve.rs)
//!       -> Iceberg writer: create (first flush), alter (schema changed),
//!          flush (appends + position deletes, per-shard LSNs in the summary)
//!     -> FlushPlan { objects, consumed (shard -> last LSN), index changes, .. }
//!   host puts plan.objects in order (metadata file last)
//!   complete_flush(plan)                        one engine transaction
//!     refuse if the table's generation moved (another flush completed)
//!     delete buffer entries (table, shard, lsn <= consumed[shard])
//!     row index: appended rows -> their (file, position); gone rows removed
//!     Iceberg state, table state (generation + 1, LSNs, counters)
//! ```
//!
//! Entries received while the objects are being put have higher LSNs than
//! the plan consumed for their shard (a shard's LSNs only grow past its
//! high-water mark), so completing removes exactly what the plan wrote.
//! A crash (or error) between the puts and `complete_flush` leaves the
//! objects as orphans that no metadata references; the entries are still
//! buffered and the next flush writes them again under new names.

use std::collections::BTreeMap;

use dosql::mvcc::{Engine, TxnId};
use shared_types::Value;

use super::keys;
use super::resolve::{resolve, NetEffect};
use super::schema::LakeSchema;
use super::state::{self, Entry, LakeTable};
use super::Lake;
use crate::error::{Error, Result};
use crate::iceberg::TableMetadata;
use crate::sqltypes::SqlColumn;
use crate::table::{Flush, PutObject, RowPosition, TableState as IcebergTable};

/// A flush computed but not yet applied: put `objects`, then pass the plan
/// to [`Lake::complete_flush`].
#[derive(Debug)]
pub struct FlushPlan {
    pub table: String,
    /// The objects to put, in order (the metadata file last).
    pub objects: Vec<PutObject>,
    /// The table's metadata file once the objects are in place.
    pub metadata_location: String,
    /// Rows appended and row positions deleted.
    pub appended: u64,
    pub deleted: u64,
    generation: u64,
    /// Per shard, the last LSN of the buffer entries the plan consumed.
    consumed: BTreeMap<String, u64>,
    /// Per shard, the LSN up to which the snapshot includes its changes:
    /// its high-water mark at prepare time (every change at or below it
    /// was in the buffer the plan read).
    lsns: BTreeMap<String, u64>,
    schema: LakeSchema,
    iceberg: IcebergTable,
    /// Row index changes: a new position, or `None` to remove the entry.
    index: Vec<(Vec<u8>, Option<RowPosition>)>,
}

/// What a completed flush committed, for the host to publish in the
/// catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct Flushed {
    pub table: String,
    pub metadata_location: String,
    /// The metadata file's JSON.
    pub metadata_json: Vec<u8>,
    pub appended: u64,
    pub deleted: u64,
}

/// What a completing flush hands its publish hook: the table's new
/// metadata and the location it replaces.
#[derive(Debug)]
pub struct Publish<'a> {
    pub table: &'a str,
    pub metadata_location: &'a str,
    pub metadata: &'a TableMetadata,
    /// `None` on the table's first flush.
    pub previous_location: Option<&'a str>,
}

/// 16 random bytes, made distinct per step of one flush.
fn nonce(entropy: [u8; 16], step: u8) -> [u8; 16] {
    let mut n = entropy;
    n[15] ^= step;
    n
}

impl Lake {
    /// Computes the flush of `table` at `now_ms` with host randomness
    /// `entropy`; `None` when the table has nothing to flush.
    pub fn prepare_flush(
        &mut self,
        table: &str,
        now_ms: u64,
        entropy: [u8; 16],
    ) -> Result<Option<FlushPlan>> {
        let state = self
            .tables
            .get(table)
            .ok_or_else(|| Error::NotFound(format!("lake table {table:?}")))?
            .clone();
        if !state.has_work() {
            return Ok(None);
        }
        let trees = self.trees;
        let engine = &mut self.engine;
        let txn = engine.begin_read_only().map_err(state::db)?;
        let read = (|| {
            let mut consumed = BTreeMap::new();
            let mut entries = Vec::new();
            for (k, v) in state::with_prefix(engine, txn, trees.buffer, &keys::prefix(table, None))?
            {
                let (shard, lsn) = keys::decode_buffer_key(&k)?;
                consumed.insert(shard.clone(), lsn);
                entries.push((shard, Entry::decode(&v)?));
            }
            // Both lookups read the same engine, one at a time.
            let shared = std::cell::RefCell::new(&mut *engine);
            let net = resolve(
                table,
                entries,
                |key| {
                    shared
                        .borrow_mut()
                        .get(txn, trees.rows, key)
                        .map_err(state::db)?
                        .map(|v| state::decode_position(&v))
                        .transpose()
                },
                |shard| {
                    let prefix = keys::prefix(table, Some(shard));
                    state::with_prefix(&mut shared.borrow_mut(), txn, trees.rows, &prefix)?
                        .into_iter()
                        .map(|(k, v)| Ok((k, state::decode_position(&v)?)))
                        .collect()
                },
            )?;
            let iceberg = engine
                .get(txn, trees.iceberg, &keys::name_key(table))
                .map_err(state::db)?
                .map(|raw| {
                    serde_json::from_slice::<IcebergTable>(&raw)
                        .map_err(|e| Error::Corrupt(format!("lake Iceberg state: {e}")))
                })
                .transpose()?;
            Ok::<_, Error>((consumed, net, iceberg))
        })();
        let _ = engine.rollback(txn);
        let (consumed, net, iceberg) = read?;
        let lsns = consumed
            .keys()
            .chain(state.schema.shards.keys())
            .filter_map(|s| Some((s.clone(), *self.shards.get(s)?)))
            .collect();
        self.write_plan(table, &state, consumed, lsns, net, iceberg, now_ms, entropy)
            .map(Some)
    }

    /// Drives the Iceberg writer for a resolved flush.
    #[allow(clippy::too_many_arguments)]
    fn write_plan(
        &self,
        table: &str,
        state: &LakeTable,
        consumed: BTreeMap<String, u64>,
        lsns: BTreeMap<String, u64>,
        net: NetEffect,
        iceberg: Option<IcebergTable>,
        now_ms: u64,
        entropy: [u8; 16],
    ) -> Result<FlushPlan> {
        let now = i64::try_from(now_ms)
            .map_err(|_| Error::InvalidInput(format!("time {now_ms} ms is out of range")))?;
        let schema = &state.schema;
        let columns: Vec<SqlColumn> = schema
            .live_columns()
            .map(|c| SqlColumn::new(&c.name, &c.decl_type, c.key))
            .collect();
        let mut objects = Vec::new();
        let iceberg = match iceberg {
            Some(t) => t,
            None => {
                let key = format!("{}/{table}", self.config.namespace);
                let c = IcebergTable::create(
                    &self.config.warehouse,
                    &key,
                    &columns,
                    now,
                    nonce(entropy, 1),
                )?;
                objects.extend(c.objects);
                c.state
            }
        };
        let altered = iceberg.alter(&columns, &schema.renames(), now, nonce(entropy, 2))?;
        objects.extend(altered.objects);
        let mut iceberg = altered.state;
        let rows: Vec<Vec<Value>> = net
            .puts
            .iter()
            .map(|(_, shard, cells)| schema.row(shard, cells))
            .collect();
        let deletes: Vec<RowPosition> = net.deletes.iter().cloned().collect();
        let (appended, deleted) = (rows.len() as u64, deletes.len() as u64);
        let mut index: Vec<(Vec<u8>, Option<RowPosition>)> =
            net.unindex.into_iter().map(|k| (k, None)).collect();
        if !rows.is_empty() || !deletes.is_empty() {
            let snapshot_id =
                (i64::from_le_bytes(entropy[..8].try_into().expect("8 bytes")) & i64::MAX).max(1);
            let flushed = iceberg.flush(Flush {
                rows,
                deletes,
                shard_lsns: lsns.iter().map(|(s, l)| (s.clone(), *l)).collect(),
                snapshot_id,
                timestamp_ms: now,
                nonce: nonce(entropy, 3),
            })?;
            objects.extend(flushed.objects);
            iceberg = flushed.state;
            if flushed.positions.len() != net.puts.len() {
                return Err(Error::Corrupt(format!(
                    "the writer placed {} of {} rows",
                    flushed.positions.len(),
                    net.puts.len()
                )));
            }
            for ((key, _, _), p) in net.puts.into_iter().zip(flushed.positions) {
                index.push((key, Some(p)));
            }
        }
        Ok(FlushPlan {
            table: table.to_owned(),
            metadata_location: iceberg.metadata_location.clone(),
            objects,
            appended,
            deleted,
            generation: state.generation,
            consumed,
            lsns,
            schema: schema.clone(),
            iceberg,
            index,
        })
    }

    /// Applies a plan whose objects are in place. Refused with
    /// [`Error::Conflict`] when another flush of the table completed since
    /// the plan was prepared (prepare again; the plan's objects are orphans).
    pub fn complete_flush(&mut self, plan: FlushPlan) -> Result<Flushed> {
        self.complete_flush_with(plan, |_, _, _| Ok(()))
    }

    /// [`Lake::complete_flush`], with `publish` run in the same engine
    /// transaction (the catalog records the new metadata there, so the lake
    /// and its catalog never disagree). An error from `publish` rolls the
    /// whole completion back.
    pub fn complete_flush_with(
        &mut self,
        plan: FlushPlan,
        publish: impl FnOnce(&mut Engine, TxnId, &Publish<'_>) -> Result<()>,
    ) -> Result<Flushed> {
        let table = plan.table.as_str();
        let mut next = self
            .tables
            .get(table)
            .ok_or_else(|| Error::NotFound(format!("lake table {table:?}")))?
            .clone();
        if next.generation != plan.generation {
            return Err(Error::Conflict(format!(
                "table {table:?} was flushed since this plan was prepared; prepare again"
            )));
        }
        let trees = self.trees;
        state::in_txn(&mut self.engine, |engine, txn| {
            for (shard, lsn) in &plan.consumed {
                let from = keys::prefix(table, Some(shard));
                let to = keys::buffer_key(table, shard, lsn + 1, 0);
                for (k, _) in state::range(engine, txn, trees.buffer, &from, &to)? {
                    engine.delete(txn, trees.buffer, &k).map_err(state::db)?;
                }
            }
            // What is left arrived while the objects were being put.
            let (mut rows, mut bytes, mut oldest) = (0, 0, None::<u64>);
            for (k, v) in state::with_prefix(engine, txn, trees.buffer, &keys::prefix(table, None))?
            {
                rows += 1;
                bytes += (k.len() + v.len()) as u64;
                let at = Entry::decode(&v)?.at_ms();
                oldest = Some(oldest.map_or(at, |o| o.min(at)));
            }
            for (key, pos) in &plan.index {
                match pos {
                    Some(p) => engine.put(txn, trees.rows, key, &state::encode_position(p)),
                    None => engine.delete(txn, trees.rows, key).map(|_| ()),
                }
                .map_err(state::db)?;
            }
            let iceberg = serde_json::to_vec(&plan.iceberg).expect("Iceberg states serialize");
            engine
                .put(txn, trees.iceberg, &keys::name_key(table), &iceberg)
                .map_err(state::db)?;
            next.generation += 1;
            next.flushes += 1;
            next.buffered_rows = rows;
            next.buffered_bytes = bytes;
            next.oldest_ms = oldest;
            next.lsns.extend(plan.lsns.clone());
            next.flushed_schema = plan.schema.version;
            if next.schema.version == plan.schema.version {
                next.schema_since_ms = None;
            }
            next.schema.mark_flushed(&plan.schema);
            let published = Publish {
                table,
                metadata_location: &plan.iceberg.metadata_location,
                metadata: &plan.iceberg.metadata,
                previous_location: next.metadata_location.as_deref(),
            };
            publish(engine, txn, &published)?;
            next.metadata_location = Some(plan.iceberg.metadata_location.clone());
            state::put_table(engine, txn, trees, table, &next)
        })?;
        self.tables.insert(plan.table.clone(), next);
        Ok(Flushed {
            metadata_json: plan.iceberg.metadata.to_json(),
            metadata_location: plan.iceberg.metadata_location,
            table: plan.table,
            appended: plan.appended,
            deleted: plan.deleted,
        })
    }
}
