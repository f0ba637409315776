//! One WAL record to one change transaction.
//!
//! ```text
//!   record.changes (drops, creates, then writes by tree id and key)
//!     CreateTree / DropTree     -> names learned; which trees are new or gone
//!     catalog Put / Delete      -> CatalogState before -> after; schema events
//!     "t:<table>" Put / Delete  -> row events (before image: schema before,
//!                                  after image: schema after the record)
//!     anything else             -> ignored (indexes, "cdc:*" trees)
//! ```
//!
//! Schema events are classified from the net catalog change of the record:
//! an entry that appears is a create, one that disappears a drop, and a
//! drop paired with a create of the same shape (columns, key) whose tree is
//! new is a rename. An entry whose table tree was replaced within the record
//! is a drop and a create; any other changed entry is an alter, named after
//! its column difference (one added at the end, one dropped, one renamed)
//! or `Alter` when it is none of these. A changed entry whose
//! [`TableSchema`] is unchanged (an FK reference rewritten by a rename
//! elsewhere) yields no event.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::catalog::{key_of_tree, CatalogState, TreeNames};
use super::{ChangeEvent, ChangeTxn, RowEvent, RowOp, SchemaChange, SchemaEvent, TableSchema};
use crate::corruption;
use crate::error::Result;
use crate::keycode;
use crate::mvcc::{Change, Record, TreeId};
use crate::sql::rows;
use crate::sql::schema::{fold, Table};
use crate::sql::value::Value;

/// One change of the catalog tree: its key and its images.
pub struct CatalogChange<'a> {
    pub key: &'a [u8],
    pub before: Option<&'a [u8]>,
    pub after: Option<&'a [u8]>,
}

/// Records the names of the trees `record` creates.
pub fn learn_names(record: &Record, names: &mut TreeNames) {
    for change in &record.changes {
        if let Change::CreateTree { tree, name, .. } = change {
            names.insert(*tree, name.clone());
        }
    }
}

/// The changes `record` makes to the catalog tree `catalog`, in order.
pub fn catalog_changes(record: &Record, catalog: Option<TreeId>) -> Vec<CatalogChange<'_>> {
    let Some(catalog) = catalog else {
        return Vec::new();
    };
    record
        .changes
        .iter()
        .filter_map(|change| match change {
            Change::Put {
                tree,
                key,
                before,
                after,
            } if *tree == catalog => Some(CatalogChange {
                key,
                before: before.as_deref(),
                after: Some(after),
            }),
            Change::Delete { tree, key, before } if *tree == catalog => Some(CatalogChange {
                key,
                before: before.as_deref(),
                after: None,
            }),
            _ => None,
        })
        .collect()
}

/// Turns `state` from the catalog after `record` into the catalog before it.
pub fn undo(state: &mut CatalogState, record: &Record, catalog: Option<TreeId>) -> Result<()> {
    for change in catalog_changes(record, catalog).iter().rev() {
        state.set(change.key, change.before)?;
    }
    Ok(())
}

/// Decodes `record`, moving `state` from the catalog before it to the
/// catalog after it. `None` when the record changed nothing user-visible.
pub fn decode_record(
    record: &Record,
    catalog: Option<TreeId>,
    state: &mut CatalogState,
    names: &mut TreeNames,
) -> Result<Option<ChangeTxn>> {
    learn_names(record, names);
    let mut created = HashSet::new();
    let mut dropped = HashSet::new();
    for change in &record.changes {
        match change {
            Change::CreateTree { name, .. } => {
                created.insert(name.as_str());
            }
            Change::DropTree { tree } => {
                if let Some(name) = names.get(tree) {
                    dropped.insert(name.clone());
                }
            }
            _ => {}
        }
    }
    // The tables of changed catalog keys as they were before the record.
    let mut before: BTreeMap<Vec<u8>, Option<Arc<Table>>> = BTreeMap::new();
    for change in catalog_changes(record, catalog) {
        before
            .entry(change.key.to_vec())
            .or_insert_with(|| state.get(change.key).cloned());
        state.set(change.key, change.after)?;
    }
    let mut events = schema_events(&before, state, &created);
    for change in &record.changes {
        if let Some(event) = row_event(change, names, &before, state)? {
            events.push(ChangeEvent::Row(event));
        }
    }
    if events.is_empty() {
        return Ok(None);
    }
    Ok(Some(ChangeTxn {
        lsn: record.lsn,
        txn: record.txn,
        commit_ts: record.commit_ts,
        commit_time_ms: record.wall_time_ms,
        events,
    }))
}

fn event(
    table: &Table,
    change: SchemaChange,
    column: Option<&str>,
    previous: Option<&str>,
) -> ChangeEvent {
    ChangeEvent::Schema(SchemaEvent {
        table: table.name.clone(),
        change,
        column: column.map(str::to_string),
        previous: previous.map(str::to_string),
        schema: TableSchema::of(table),
    })
}

/// Same columns (names, types, NOT NULL) and the same key.
fn same_shape(a: &Table, b: &Table) -> bool {
    TableSchema {
        name: String::new(),
        sql: String::new(),
        ..TableSchema::of(a)
    } == TableSchema {
        name: String::new(),
        sql: String::new(),
        ..TableSchema::of(b)
    }
}

fn schema_events(
    before: &BTreeMap<Vec<u8>, Option<Arc<Table>>>,
    state: &CatalogState,
    created: &HashSet<&str>,
) -> Vec<ChangeEvent> {
    let mut drops = Vec::new();
    let mut creates = Vec::new();
    let mut alters = Vec::new();
    for (key, old) in before {
        match (old, state.get(key)) {
            (None, None) => {}
            (None, Some(new)) => creates.push(new.clone()),
            (Some(old), None) => drops.push(old.clone()),
            (Some(old), Some(new)) if created.contains(new.tree.as_str()) => {
                drops.push(old.clone());
                creates.push(new.clone());
            }
            (Some(old), Some(new)) => alters.push((old.clone(), new.clone())),
        }
    }
    let mut renames = Vec::new();
    drops.retain(|old| {
        let pair = creates.iter().position(|new: &Arc<Table>| {
            fold(&new.name) != fold(&old.name)
                && created.contains(new.tree.as_str())
                && same_shape(old, new)
        });
        match pair {
            Some(p) => {
                renames.push((old.clone(), creates.remove(p)));
                false
            }
            None => true,
        }
    });
    let mut events = Vec::new();
    for old in &drops {
        events.push(event(old, SchemaChange::Drop, None, None));
    }
    for (old, new) in &renames {
        events.push(event(new, SchemaChange::RenameTable, None, Some(&old.name)));
    }
    for new in &creates {
        events.push(event(new, SchemaChange::Create, None, None));
    }
    for (old, new) in &alters {
        if TableSchema::of(old).columns == TableSchema::of(new).columns
            && old.without_rowid == new.without_rowid
        {
            continue;
        }
        let (change, column, previous) = classify_alter(old, new);
        events.push(event(new, change, column, previous));
    }
    events
}

/// Names an ALTER by its column difference.
fn classify_alter<'a>(
    old: &'a Table,
    new: &'a Table,
) -> (SchemaChange, Option<&'a str>, Option<&'a str>) {
    let (a, b) = (TableSchema::of(old).columns, TableSchema::of(new).columns);
    if b.len() == a.len() + 1 && b[..a.len()] == a[..] {
        return (SchemaChange::AddColumn, Some(&new.columns[a.len()].name), None);
    }
    if a.len() == b.len() + 1 {
        // The PK positions of the other columns do not move: a key column
        // cannot be dropped.
        if let Some(i) = (0..a.len()).find(|&i| a[..i] == b[..i] && a[i + 1..] == b[i..]) {
            return (SchemaChange::DropColumn, Some(&old.columns[i].name), None);
        }
    }
    if a.len() == b.len() {
        let differing: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
        if let [i] = differing[..] {
            if a[i].name != b[i].name && (&a[i].decl_type, a[i].not_null, a[i].pk) == (&b[i].decl_type, b[i].not_null, b[i].pk) {
                return (
                    SchemaChange::RenameColumn,
                    Some(&new.columns[i].name),
                    Some(&old.columns[i].name),
                );
            }
        }
    }
    (SchemaChange::Alter, None, None)
}

/// The stored row as one value per column of `table`.
fn image(table: &Table, key: &[u8], value: &[u8]) -> Result<Vec<Value>> {
    let mut row = rows::decode(table, key, value)?;
    row.truncate(table.columns.len());
    Ok(row)
}

fn row_event(
    change: &Change,
    names: &TreeNames,
    before_tables: &BTreeMap<Vec<u8>, Option<Arc<Table>>>,
    state: &CatalogState,
) -> Result<Option<RowEvent>> {
    let (tree, key, before, after) = match change {
        Change::Put {
            tree,
            key,
            before,
            after,
        } => (*tree, key, before.as_deref(), Some(after.as_slice())),
        Change::Delete { tree, key, before } => (*tree, key, before.as_deref(), None),
        _ => return Ok(None),
    };
    let Some(name) = names.get(&tree) else {
        return Ok(None);
    };
    let Some(catalog_key) = key_of_tree(name) else {
        return Ok(None);
    };
    let after_table = state.by_tree(name);
    let before_table = match before_tables.get(&catalog_key) {
        Some(old) => old.as_ref().filter(|t| t.tree == *name),
        None => after_table,
    };
    let op = match (before, after) {
        (None, Some(_)) => RowOp::Insert,
        (Some(_), Some(_)) => RowOp::Update,
        (Some(_), None) => RowOp::Delete,
        (None, None) => return Ok(None),
    };
    let missing = || corruption!("row change in tree {name} matches no table at its LSN");
    let before_row = match before {
        Some(b) => Some(image(before_table.ok_or_else(missing)?, key, b)?),
        None => None,
    };
    let after_row = match after {
        Some(a) => Some(image(after_table.ok_or_else(missing)?, key, a)?),
        None => None,
    };
    let (table, row) = match (&after_row, &before_row) {
        (Some(row), _) => (after_table.ok_or_else(missing)?, row),
        (None, Some(row)) => (before_table.ok_or_else(missing)?, row),
        (None, None) => return Ok(None),
    };
    let key = if table.without_rowid {
        table.primary_key.iter().map(|&c| row[c].clone()).collect()
    } else {
        vec![Value::Integer(keycode::decode_i64(key)?)]
    };
    Ok(Some(RowEvent {
        table: table.name.clone(),
        op,
        key,
        before: before_row,
        after: after_row,
    }))
}
