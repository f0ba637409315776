//! The schema at any retained LSN, and tree ids resolved to names.
//!
//! ```text
//!   current catalog ──undo before images of records >= from, newest first──>
//!   catalog at (from - 1) ──apply each record's catalog changes──> ...
//!
//!   engine tree "cdc:trees"   key: u64 BE tree id   value: tree name (UTF-8)
//! ```
//!
//! A [`CatalogState`] holds the table entries of the catalog tree
//! ("sqlite_schema"), parsed, by catalog key. Only table entries matter to
//! change capture: indexes, views and triggers change no row.
//!
//! The WAL names trees by id, and a `DropTree` change carries the id only.
//! The tree directory maps every table tree id ever created to its name:
//! each commit that changes the schema registers its tables' trees in the
//! same transaction ([`register_trees`]), and entries are never removed, so
//! a tree dropped long ago still resolves. Tree names are `t:<folded table
//! name>` (schema.rs), which is how a row change finds its table in the
//! catalog state of its LSN. Invariant: at any LSN at most one live tree
//! bears a name, and a row change only touches live trees.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::corruption;
use crate::error::Result;
use crate::keycode::{self, Direction, KeyValue};
use crate::mvcc::{Engine, TreeId, TreeKind, TxnId};
use crate::sql::parse;
use crate::sql::record::decode_row;
use crate::sql::schema::{table_from_ast, Schema, Table, CATALOG_TREE};
use crate::sql::value::Value;
use crate::store::Lsn;

/// Name of the tree directory.
pub const TREES_TREE: &str = "cdc:trees";

/// Prefix of table tree names.
const TABLE_TREE_PREFIX: &str = "t:";

/// Tree id -> tree name.
pub type TreeNames = FxHashMap<TreeId, String>;

/// The table entries of the catalog at one LSN.
#[derive(Clone, Debug, Default)]
pub struct CatalogState {
    tables: BTreeMap<Vec<u8>, Arc<Table>>,
}

/// The catalog key of the table stored in tree `tree`, if it is a table
/// tree.
pub fn key_of_tree(tree: &str) -> Option<Vec<u8>> {
    let folded = tree.strip_prefix(TABLE_TREE_PREFIX)?;
    let mut key = Vec::with_capacity(folded.len() + 2);
    keycode::encode_column(&KeyValue::Text(folded.into()), Direction::Asc, &mut key);
    Some(key)
}

/// The table a catalog row describes; `None` for indexes, views and
/// triggers.
fn table_of_entry(value: &[u8]) -> Result<Option<Table>> {
    let row = decode_row(value, 4)?;
    let (Value::Text(kind), Value::Text(sql)) = (&row[0], &row[3]) else {
        return Err(corruption!("catalog row without type or SQL text"));
    };
    if kind != "table" {
        return Ok(None);
    }
    match parse::parse_one(sql) {
        Ok(sqlparser::ast::Statement::CreateTable(create)) => {
            Ok(Some(table_from_ast(&create, sql.clone())?))
        }
        _ => Err(corruption!("catalog table entry does not parse: {sql:?}")),
    }
}

impl CatalogState {
    /// Sets the entry under catalog key `key` to the catalog row `value`
    /// (`None`: absent).
    pub fn set(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        match value.map(table_of_entry).transpose()?.flatten() {
            Some(table) => {
                self.tables.insert(key.to_vec(), Arc::new(table));
            }
            None => {
                self.tables.remove(key);
            }
        }
        Ok(())
    }

    /// The table under catalog key `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Arc<Table>> {
        self.tables.get(key)
    }

    /// The table named `name` (SQL names compare case-insensitively).
    pub fn by_name(&self, name: &str) -> Option<&Arc<Table>> {
        self.tables
            .values()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// The table stored in the tree named `tree`.
    pub fn by_tree(&self, tree: &str) -> Option<&Arc<Table>> {
        let table = self.tables.get(&key_of_tree(tree)?)?;
        (table.tree == tree).then_some(table)
    }

    /// Number of tables.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.tables.len()
    }
}

/// The committed catalog, the tree names known now, and the last LSN, read
/// in one snapshot.
pub fn load_current(engine: &mut Engine) -> Result<(CatalogState, TreeNames, Lsn)> {
    let txn = engine.begin_read_only()?;
    let result = load_in(engine, txn);
    engine.rollback(txn)?;
    let (state, names) = result?;
    Ok((state, names, engine.stats().last_lsn))
}

fn load_in(engine: &mut Engine, txn: TxnId) -> Result<(CatalogState, TreeNames)> {
    let mut state = CatalogState::default();
    let mut names = TreeNames::default();
    if let Some(catalog) = engine.tree(txn, CATALOG_TREE)? {
        names.insert(catalog, CATALOG_TREE.into());
        let mut cursor = engine.cursor(txn, catalog, Bound::Unbounded, Bound::Unbounded)?;
        while let Some((key, value)) = cursor.next(engine)? {
            state.set(&key, Some(&value))?;
        }
    }
    if let Some(dir) = engine.tree(txn, TREES_TREE)? {
        let mut cursor = engine.cursor(txn, dir, Bound::Unbounded, Bound::Unbounded)?;
        while let Some((key, value)) = cursor.next(engine)? {
            let name = String::from_utf8(value)
                .map_err(|_| corruption!("tree directory name is not UTF-8"))?;
            names.insert(keycode::decode_u64(&key)?, name);
        }
    }
    // Live trees resolve by name even if a database older than the
    // directory never registered them.
    let trees: Vec<String> = state.tables.values().map(|t| t.tree.clone()).collect();
    for tree in trees {
        if let Some(id) = engine.tree(txn, &tree)? {
            names.insert(id, tree);
        }
    }
    Ok((state, names))
}

/// Registers the trees of `schema`'s tables (and the catalog tree) in the
/// tree directory within `txn`, unless already there. Called by every
/// commit that changed the schema, before it commits.
pub fn register_trees(engine: &mut Engine, txn: TxnId, schema: &Schema) -> Result<()> {
    let mut trees: Vec<&str> = schema.tables.values().map(|t| t.tree.as_str()).collect();
    trees.push(CATALOG_TREE);
    let mut dir = engine.tree(txn, TREES_TREE)?;
    let mut key = Vec::with_capacity(8);
    for name in trees {
        let Some(id) = engine.tree(txn, name)? else {
            continue;
        };
        key.clear();
        keycode::encode_u64(id, &mut key);
        let dir = match dir {
            Some(dir) => dir,
            None => *dir.insert(engine.create_tree(txn, TREES_TREE, TreeKind::Table)?),
        };
        if engine.get(txn, dir, &key)?.is_none() {
            engine.put(txn, dir, &key, name.as_bytes())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::record::encode_row;

    fn entry(kind: &str, name: &str, sql: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let row = [
            Value::Text(kind.into()),
            Value::Text(name.into()),
            Value::Text(name.into()),
            Value::Text(sql.into()),
        ];
        encode_row(&row, &mut out);
        out
    }

    #[test]
    fn tables_resolve_by_tree_name_and_other_entries_are_ignored() {
        let mut state = CatalogState::default();
        let key = key_of_tree("t:people").unwrap();
        state
            .set(
                &key,
                Some(&entry("table", "People", "CREATE TABLE People (a, b)")),
            )
            .unwrap();
        let t = state.by_tree("t:people").unwrap();
        assert_eq!((t.name.as_str(), t.columns.len()), ("People", 2));
        assert!(state.by_tree("t:other").is_none());
        assert!(key_of_tree("i:idx").is_none());
        let idx = key_of_tree("t:idx").unwrap();
        state
            .set(
                &idx,
                Some(&entry("index", "idx", "CREATE INDEX idx ON People (a)")),
            )
            .unwrap();
        assert_eq!(state.len(), 1);
        state.set(&key, None).unwrap();
        assert_eq!(state.len(), 0);
    }

    #[test]
    fn malformed_entries_are_corruption() {
        let mut state = CatalogState::default();
        let err = state
            .set(
                b"k",
                Some(&entry("table", "x", "CREATE VIEW x AS SELECT 1")),
            )
            .unwrap_err();
        assert!(matches!(err, crate::error::Error::Corruption(_)), "{err}");
        assert!(state.set(b"k", Some(&[0x05, 0xff])).is_err());
    }
}
