//! The change capture API of [`Database`]: slots and bounded reads.
//!
//! ```text
//!   read_changes(from, limits, filter)
//!     catalog at from-1:  the resume point of the last read, if it is `from`;
//!                         else the current catalog with the catalog changes
//!                         of records >= from undone, newest first
//!     scan records >= from: decode (decode.rs), filter, stop at the limits
//!     -> ChangeBatch { txns, next_lsn, last_lsn }
//! ```
//!
//! A read never changes anything; a slot moves only by [`Database::ack_slot`].
//! A position is *lost* when the WAL no longer holds the record at it:
//! reading it is a `LimitExceeded` error, as is reading a lagging slot.

use super::catalog::{load_current, register_trees, CatalogState, TreeNames};
use super::decode::{decode_record, undo};
use super::slots::{validate_name, Cdc, SlotState};
use super::{
    estimated_size, ChangeBatch, ChangeEvent, ChangeFilter, ChangeTxn, ReadLimits, SlotInfo,
    TableSchema,
};
use crate::error::{Error, Result};
use crate::invalid;
use crate::mvcc::{Change, Record, TreeId};
use crate::sql::schema::{Schema, CATALOG_TREE};
use crate::sql::Database;
use crate::store::Lsn;

impl Cdc {
    /// Registers the table trees of a database older than the tree
    /// directory; no write when every tree is registered already.
    pub(crate) fn register_existing(
        engine: &mut crate::mvcc::Engine,
        schema: &Schema,
    ) -> Result<()> {
        if schema.tables.is_empty() {
            return Ok(());
        }
        let txn = engine.begin()?;
        if let Err(e) = register_trees(engine, txn, schema) {
            let _ = engine.rollback(txn);
            return Err(e);
        }
        engine.commit(txn).map(|_| ())
    }
}

fn lost(from: Lsn, found: Option<Lsn>) -> Error {
    Error::LimitExceeded(match found {
        Some(first) => {
            format!("change stream position {from} is lost: the WAL now starts at LSN {first}")
        }
        None => format!("change stream position {from} is lost: the WAL no longer holds it"),
    })
}

fn catalog_id(names: &TreeNames) -> Option<TreeId> {
    names
        .iter()
        .find(|(_, name)| name.as_str() == CATALOG_TREE)
        .map(|(id, _)| *id)
}

impl Database {
    fn last_lsn(&self) -> Lsn {
        self.engine.stats().last_lsn
    }

    /// Creates replication slot `name` positioned at the current last LSN:
    /// its first read returns the transactions committed after this call.
    pub fn create_slot(&mut self, name: &str) -> Result<SlotInfo> {
        validate_name(name)?;
        if self.cdc.slots.contains_key(name) {
            return Err(invalid!("replication slot {name} already exists"));
        }
        let state = SlotState {
            acked: self.last_lsn(),
            lagging: false,
        };
        self.cdc.persist(&mut self.engine, name, Some(state))?;
        self.slot(name)
    }

    /// Removes replication slot `name`; the WAL it held back is released
    /// at the next checkpoint.
    pub fn drop_slot(&mut self, name: &str) -> Result<()> {
        self.cdc.get(name)?;
        self.cdc.persist(&mut self.engine, name, None)
    }

    /// Every replication slot, by name.
    pub fn slots(&self) -> Vec<SlotInfo> {
        self.cdc.info(self.last_lsn())
    }

    /// Replication slot `name`.
    pub fn slot(&self, name: &str) -> Result<SlotInfo> {
        self.cdc.get(name)?;
        Ok(self
            .cdc
            .info(self.last_lsn())
            .into_iter()
            .find(|s| s.name == name)
            .expect("the slot exists"))
    }

    /// Records that slot `name`'s consumer processed every transaction up
    /// to `lsn`. Acknowledging the same LSN again does nothing; going back
    /// or past the last LSN is an error.
    pub fn ack_slot(&mut self, name: &str, lsn: Lsn) -> Result<()> {
        let state = self.usable_slot(name)?;
        if lsn < state.acked {
            return Err(invalid!(
                "replication slot {name} is acknowledged up to LSN {}: {lsn} goes back",
                state.acked
            ));
        }
        let last = self.last_lsn();
        if lsn > last {
            return Err(invalid!(
                "cannot acknowledge LSN {lsn}: the last LSN is {last}"
            ));
        }
        if lsn == state.acked {
            return Ok(());
        }
        let acked = SlotState {
            acked: lsn,
            ..state
        };
        self.cdc.persist(&mut self.engine, name, Some(acked))
    }

    /// Sets how many WAL records a slot may fall behind before it is marked
    /// lagging (default [`super::DEFAULT_RETENTION_CAP`]), and applies it.
    pub fn set_slot_retention_cap(&mut self, records: u64) -> Result<()> {
        if records == 0 {
            return Err(invalid!("the slot retention cap must be positive"));
        }
        self.cdc.cap = records;
        let last = self.last_lsn();
        self.cdc.enforce_cap(&mut self.engine, last)
    }

    /// Called after every commit: marks slots past the cap as lagging. The
    /// commit already succeeded; a failure here poisons the engine, which
    /// reports itself on the next call.
    pub(in crate::sql) fn cdc_after_commit(&mut self) {
        if !self.cdc.slots.is_empty() {
            let last = self.last_lsn();
            let _ = self.cdc.enforce_cap(&mut self.engine, last);
        }
    }

    fn usable_slot(&self, name: &str) -> Result<SlotState> {
        let state = self.cdc.get(name)?;
        if state.lagging {
            return Err(Error::LimitExceeded(format!(
                "replication slot {name} is lagging: it fell more than {} WAL records behind \
                 and its position after LSN {} is lost; drop and create it again",
                self.cdc.cap, state.acked
            )));
        }
        Ok(state)
    }

    /// Reads the changes after slot `name`'s acknowledged LSN.
    pub fn read_slot(
        &mut self,
        name: &str,
        limits: ReadLimits,
        filter: &ChangeFilter,
    ) -> Result<ChangeBatch> {
        let state = self.usable_slot(name)?;
        self.read_changes(state.acked + 1, limits, filter)
    }

    /// Reads the committed transactions with LSN `>= from` (0 reads from
    /// the start), at most `limits` of them, keeping the events that pass
    /// `filter`. Transactions left without events are omitted; `next_lsn`
    /// moves past them anyway.
    pub fn read_changes(
        &mut self,
        from: Lsn,
        limits: ReadLimits,
        filter: &ChangeFilter,
    ) -> Result<ChangeBatch> {
        if limits.max_txns == 0 || limits.max_bytes == 0 {
            return Err(invalid!("max_txns and max_bytes must be positive"));
        }
        let from = from.max(1);
        let last_lsn = self.last_lsn();
        if from > last_lsn + 1 {
            return Err(invalid!(
                "cannot read from LSN {from}: the last LSN is {last_lsn}"
            ));
        }
        let (mut state, mut names) = match self.cdc.resume.take() {
            Some((lsn, state, names)) if lsn == from => (state, names),
            _ => self.catalog_before(from)?,
        };
        let before = state.clone();
        let mut catalog = catalog_id(&names);
        let mut txns = Vec::new();
        let mut bytes = 0;
        let mut next = from;
        let mut first = None;
        self.engine.read_wal(from, &mut |record| {
            if first.is_none() {
                first = Some(record.lsn);
                if record.lsn != from {
                    return Ok(false);
                }
            }
            if txns.len() >= limits.max_txns {
                return Ok(false);
            }
            if catalog.is_none() {
                catalog = created_catalog(&record);
            }
            if let Some(mut txn) = decode_record(&record, catalog, &mut state, &mut names)? {
                txn.events.retain(|e| filter.passes(e));
                if !txn.events.is_empty() {
                    let size = estimated_size(&txn);
                    if !txns.is_empty() && bytes + size > limits.max_bytes {
                        undo(&mut state, &record, catalog)?;
                        return Ok(false);
                    }
                    bytes += size;
                    txns.push(txn);
                }
            }
            next = record.lsn + 1;
            Ok(true)
        })?;
        match first {
            Some(lsn) if lsn != from => return Err(lost(from, Some(lsn))),
            None if from <= last_lsn => return Err(lost(from, None)),
            _ => {}
        }
        self.cdc.resume = Some((next, state, names));
        let schemas = schemas_before(&before, &txns);
        Ok(ChangeBatch {
            schemas,
            txns,
            next_lsn: next,
            last_lsn,
        })
    }

    /// The catalog and tree names as they were just before LSN `from`.
    fn catalog_before(&mut self, from: Lsn) -> Result<(CatalogState, TreeNames)> {
        let (mut state, mut names, _) = load_current(&mut self.engine)?;
        // The catalog tree is never dropped: if it exists, it is known now.
        let catalog = catalog_id(&names);
        let mut later: Vec<Record> = Vec::new();
        self.engine.read_wal(from, &mut |mut record| {
            for change in &record.changes {
                if let Change::CreateTree { tree, name, .. } = change {
                    names.insert(*tree, name.clone());
                }
            }
            // Only the catalog's changes are needed to go back.
            record.changes.retain(|c| match c {
                Change::Put { tree, .. } | Change::Delete { tree, .. } => Some(*tree) == catalog,
                _ => false,
            });
            if !record.changes.is_empty() {
                later.push(record);
            }
            Ok(true)
        })?;
        for record in later.iter().rev() {
            undo(&mut state, record, catalog)?;
        }
        Ok((state, names))
    }
}

/// The schemas, as `before` holds them, of the tables whose first event in
/// `txns` is a row event (in order of first appearance).
fn schemas_before(before: &CatalogState, txns: &[ChangeTxn]) -> Vec<TableSchema> {
    let mut seen = std::collections::BTreeSet::new();
    let mut schemas = Vec::new();
    for event in txns.iter().flat_map(|t| &t.events) {
        let table = event.table();
        if !seen.insert(table.to_owned()) {
            continue;
        }
        if let ChangeEvent::Row(_) = event {
            if let Some(t) = before.by_name(table) {
                schemas.push(TableSchema::of(t));
            }
        }
    }
    schemas
}

/// The catalog tree's id, if `record` creates it.
fn created_catalog(record: &Record) -> Option<TreeId> {
    record.changes.iter().find_map(|c| match c {
        Change::CreateTree { tree, name, .. } if name == CATALOG_TREE => Some(*tree),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_positions_are_limit_errors_naming_the_position() {
        let e = lost(5, Some(9));
        assert!(matches!(&e, Error::LimitExceeded(m) if m.contains('5') && m.contains('9')));
        assert!(matches!(lost(5, None), Error::LimitExceeded(_)));
    }

    #[test]
    fn the_catalog_tree_is_found_by_name() {
        let mut names = TreeNames::default();
        names.insert(3, "t:a".into());
        assert_eq!(catalog_id(&names), None);
        names.insert(1, CATALOG_TREE.into());
        assert_eq!(catalog_id(&names), Some(1));
        let record = Record {
            lsn: 1,
            txn: 1,
            commit_ts: 1,
            wall_time_ms: 0,
            changes: vec![Change::CreateTree {
                tree: 7,
                name: CATALOG_TREE.into(),
                index: false,
            }],
        };
        assert_eq!(created_catalog(&record), Some(7));
    }
}
