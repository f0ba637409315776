//! One lake table's columns: the union of the SQL schemas of every shard
//! that has the table, with stable column ids.
//!
//! ```text
//!   shard a: t(id INTEGER PRIMARY KEY, name TEXT)        columns a -> [2, 3]
//!   shard b: t(id INTEGER PRIMARY KEY, name TEXT, x REAL) columns b -> [2, 3, 4]
//!   lake t:  1 _shard  2 id  3 name  4 x                  (ids never reused)
//! ```
//!
//! Rules (docs/lake-state.md, "Schemas"):
//! * Columns match across shards by name, case-insensitively (SQLite's
//!   rule). A column keeps the declared type and key flag of its first
//!   definition; a shard that declares another type has its values coerced
//!   by the writer (lossy values become NULL and are counted).
//! * `_shard` (id 1) is always there and part of the key. Rowid tables
//!   without an INTEGER PRIMARY KEY get a `_rowid` column carrying the rowid.
//!   A SQL column whose name collides with these is stored as `<name>_sql`.
//! * A RENAME COLUMN renames the lake column (keeping its id, so Iceberg
//!   keeps the field id) when no other shard uses the old name; otherwise
//!   the renaming shard's column maps by its new name.
//! * A column no shard uses any more is dropped; its id is never reused. A
//!   later column of the same name is a new column.
//! * Rows are mapped to column ids with the schema their event carries, at
//!   receive time, so later schema changes never reinterpret them.
//!
//! Invariants: ids are unique and below `next_id`; at most one live column
//! per lowercase name; every id in a shard's mapping is a live column.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use shared_types::Value;

use super::wire::{RowEvent, TableSchema};
use crate::error::{Error, Result};

/// The column holding the shard name of every row.
pub const SHARD_COLUMN: &str = "_shard";
/// The column holding the rowid of rows of rowid tables without an
/// INTEGER PRIMARY KEY.
pub const ROWID_COLUMN: &str = "_rowid";
const SHARD_ID: u32 = 1;

/// One column of a lake table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LakeColumn {
    pub id: u32,
    pub name: String,
    /// The SQL declared type of its first definition.
    pub decl_type: String,
    /// Part of the row identity (key) in its first definition.
    pub key: bool,
    pub dropped: bool,
    /// Its name in the Iceberg table as of the last flush, if it is there.
    pub iceberg_name: Option<String>,
}

/// How one shard's SQL table maps onto the lake table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardSchema {
    /// The lake column id of each SQL column, in SQL column order.
    pub columns: Vec<u32>,
    /// Rows carry their rowid in `_rowid` (rowid table, no alias column).
    pub rowid: bool,
}

/// A lake table's columns and the shard mappings onto them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LakeSchema {
    pub columns: Vec<LakeColumn>,
    pub next_id: u32,
    pub shards: BTreeMap<String, ShardSchema>,
    /// Bumped by every change of `columns`.
    pub version: u64,
}

impl Default for LakeSchema {
    fn default() -> Self {
        LakeSchema {
            columns: vec![LakeColumn {
                id: SHARD_ID,
                name: SHARD_COLUMN.into(),
                decl_type: "TEXT".into(),
                key: true,
                dropped: false,
                iceberg_name: None,
            }],
            next_id: SHARD_ID + 1,
            shards: BTreeMap::new(),
            version: 1,
        }
    }
}

/// A column's name in the lake: reserved names get a suffix.
fn lake_name(sql: &str) -> String {
    if sql.eq_ignore_ascii_case(SHARD_COLUMN) || sql.eq_ignore_ascii_case(ROWID_COLUMN) {
        format!("{sql}_sql")
    } else {
        sql.to_owned()
    }
}

impl LakeSchema {
    /// The live column called `name` (case-insensitive).
    fn live(&self, name: &str) -> Option<&LakeColumn> {
        self.columns
            .iter()
            .find(|c| !c.dropped && c.name.eq_ignore_ascii_case(name))
    }

    fn column_mut(&mut self, id: u32) -> &mut LakeColumn {
        self.columns
            .iter_mut()
            .find(|c| c.id == id)
            .expect("shard mappings name existing columns")
    }

    fn add(&mut self, name: &str, decl_type: &str, key: bool) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        self.columns.push(LakeColumn {
            id,
            name: name.to_owned(),
            decl_type: decl_type.to_owned(),
            key,
            dropped: false,
            iceberg_name: None,
        });
        id
    }

    /// The id of the live column `name`, created with `decl_type` if absent.
    fn id_for(&mut self, name: &str, decl_type: &str, key: bool) -> u32 {
        match self.live(name) {
            Some(c) => c.id,
            None => self.add(name, decl_type, key),
        }
    }

    fn used_by_others(&self, shard: &str, id: u32) -> bool {
        self.shards
            .iter()
            .any(|(s, m)| s != shard && m.columns.contains(&id))
    }

    /// Sets `shard`'s definition of the table to `schema`. `renamed` is the
    /// `(old, new)` SQL column name of a RENAME COLUMN event.
    pub fn set_shard(
        &mut self,
        shard: &str,
        schema: &TableSchema,
        renamed: Option<(&str, &str)>,
    ) -> Result<()> {
        if schema.columns.is_empty() {
            return Err(Error::InvalidInput(format!(
                "table {:?} from shard {shard} has no columns",
                schema.name
            )));
        }
        let mut names = BTreeSet::new();
        for c in &schema.columns {
            if !names.insert(c.name.to_ascii_lowercase()) {
                return Err(Error::InvalidInput(format!(
                    "table {:?} from shard {shard} has two columns named {:?}",
                    schema.name, c.name
                )));
            }
        }
        let before = self.columns.clone();
        let old = self.shards.get(shard).cloned();
        let mut ids = Vec::with_capacity(schema.columns.len());
        for c in &schema.columns {
            let name = lake_name(&c.name);
            let renamed_from = renamed
                .filter(|(_, new)| new.eq_ignore_ascii_case(&c.name))
                .and_then(|(from, _)| {
                    let from = lake_name(from);
                    old.as_ref()?.columns.iter().copied().find(|id| {
                        self.columns
                            .iter()
                            .any(|l| l.id == *id && l.name.eq_ignore_ascii_case(&from))
                    })
                })
                .filter(|id| !self.used_by_others(shard, *id) && self.live(&name).is_none());
            let id = match renamed_from {
                Some(id) => {
                    self.column_mut(id).name = name;
                    id
                }
                None => self.id_for(&name, &c.decl_type, c.pk.is_some()),
            };
            ids.push(id);
        }
        let rowid = !schema.without_rowid && schema.rowid_alias.is_none();
        if rowid {
            self.id_for(ROWID_COLUMN, "INTEGER", true);
        }
        self.shards.insert(
            shard.to_owned(),
            ShardSchema {
                columns: ids,
                rowid,
            },
        );
        self.drop_unused();
        if self.columns != before {
            self.version += 1;
        }
        Ok(())
    }

    /// Forgets `shard`'s definition (DROP TABLE, or the old name of a
    /// RENAME TABLE).
    pub fn remove_shard(&mut self, shard: &str) {
        let before = self.columns.clone();
        self.shards.remove(shard);
        self.drop_unused();
        if self.columns != before {
            self.version += 1;
        }
    }

    /// Drops the columns no shard maps to, unless no shard is left (the
    /// table keeps its last columns then: Iceberg needs some).
    fn drop_unused(&mut self) {
        if self.shards.is_empty() {
            return;
        }
        let mut used: BTreeSet<u32> = self
            .shards
            .values()
            .flat_map(|s| s.columns.iter().copied())
            .collect();
        used.insert(SHARD_ID);
        if self.shards.values().any(|s| s.rowid) {
            if let Some(c) = self.live(ROWID_COLUMN) {
                used.insert(c.id);
            }
        }
        for c in &mut self.columns {
            if !used.contains(&c.id) {
                c.dropped = true;
            }
        }
    }

    /// True when `shard` has the table.
    pub fn has_shard(&self, shard: &str) -> bool {
        self.shards.contains_key(shard)
    }

    /// The row's after image as `(column id, value)` cells, decoded with the
    /// shard's schema in effect (the one its event was encoded with).
    pub fn cells(&self, shard: &str, event: &RowEvent) -> Result<Vec<(u32, Value)>> {
        let Some(map) = self.shards.get(shard) else {
            return Err(Error::InvalidInput(format!(
                "row of table {:?} from shard {shard}, which has not created it \
                 (the change stream must include its CREATE TABLE)",
                event.table
            )));
        };
        let Some(after) = &event.after else {
            return Ok(Vec::new());
        };
        if after.len() != map.columns.len() {
            return Err(Error::InvalidInput(format!(
                "row of table {:?} from shard {shard} has {} values for {} columns",
                event.table,
                after.len(),
                map.columns.len()
            )));
        }
        let mut cells: Vec<(u32, Value)> = map
            .columns
            .iter()
            .copied()
            .zip(after.iter().cloned())
            .collect();
        if map.rowid {
            let id = self
                .live(ROWID_COLUMN)
                .expect("a rowid mapping keeps the _rowid column live")
                .id;
            let rowid = event.key.first().cloned().unwrap_or(Value::Null);
            cells.push((id, rowid));
        }
        Ok(cells)
    }

    /// The live columns, in id order (the Iceberg schema's column order).
    pub fn live_columns(&self) -> impl Iterator<Item = &LakeColumn> {
        self.columns.iter().filter(|c| !c.dropped)
    }

    /// Renames since the last flush: `(Iceberg name, current name)`.
    pub fn renames(&self) -> Vec<(String, String)> {
        self.live_columns()
            .filter_map(|c| match &c.iceberg_name {
                Some(old) if *old != c.name => Some((old.clone(), c.name.clone())),
                _ => None,
            })
            .collect()
    }

    /// A row over the live columns from `cells`; absent columns are NULL,
    /// and `_shard` is `shard`.
    pub fn row(&self, shard: &str, cells: &[(u32, Value)]) -> Vec<Value> {
        self.live_columns()
            .map(|c| {
                if c.id == SHARD_ID {
                    Value::Text(shard.to_owned())
                } else {
                    cells
                        .iter()
                        .find(|(id, _)| *id == c.id)
                        .map_or(Value::Null, |(_, v)| v.clone())
                }
            })
            .collect()
    }

    /// Records that the Iceberg table now has the columns as named in
    /// `flushed` (the schema a flush wrote).
    pub fn mark_flushed(&mut self, flushed: &LakeSchema) {
        for c in &mut self.columns {
            if let Some(f) = flushed.columns.iter().find(|f| f.id == c.id && !f.dropped) {
                c.iceberg_name = Some(f.name.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::wire::{ColumnSchema, RowOp};

    fn col(name: &str, ty: &str, pk: bool) -> ColumnSchema {
        ColumnSchema {
            name: name.into(),
            decl_type: ty.into(),
            not_null: false,
            pk: pk.then_some(1),
            default: None,
        }
    }

    fn table(cols: Vec<ColumnSchema>, alias: Option<u32>) -> TableSchema {
        TableSchema {
            name: "t".into(),
            columns: cols,
            without_rowid: false,
            rowid_alias: alias,
            sql: String::new(),
        }
    }

    fn names(s: &LakeSchema) -> Vec<(u32, String)> {
        s.live_columns().map(|c| (c.id, c.name.clone())).collect()
    }

    #[test]
    fn shards_union_by_name_and_keep_ids() {
        let mut s = LakeSchema::default();
        let a = table(
            vec![col("id", "INTEGER", true), col("name", "TEXT", false)],
            Some(0),
        );
        s.set_shard("a", &a, None).unwrap();
        let b = table(
            vec![
                col("ID", "INTEGER", true),
                col("name", "BLOB", false),
                col("x", "REAL", false),
            ],
            Some(0),
        );
        s.set_shard("b", &b, None).unwrap();
        assert_eq!(
            names(&s),
            [
                (1, "_shard".into()),
                (2, "id".into()),
                (3, "name".into()),
                (4, "x".into())
            ]
        );
        // The first definition's type wins.
        assert_eq!(s.columns[2].decl_type, "TEXT");
        assert_eq!(s.shards["b"].columns, [2, 3, 4]);
        // x goes when b drops the table; ids are not reused.
        s.remove_shard("b");
        assert_eq!(names(&s).len(), 3);
        s.set_shard(
            "a",
            &table(
                vec![col("id", "INTEGER", true), col("x", "", false)],
                Some(0),
            ),
            None,
        )
        .unwrap();
        assert_eq!(
            names(&s),
            [(1, "_shard".into()), (2, "id".into()), (5, "x".into())]
        );
    }

    #[test]
    fn renames_keep_the_id_unless_another_shard_uses_the_old_name() {
        let mut s = LakeSchema::default();
        let t0 = table(
            vec![col("id", "INTEGER", true), col("n", "TEXT", false)],
            Some(0),
        );
        s.set_shard("a", &t0, None).unwrap();
        s.columns[2].iceberg_name = Some("n".into());
        let t1 = table(
            vec![col("id", "INTEGER", true), col("full", "TEXT", false)],
            Some(0),
        );
        s.set_shard("a", &t1, Some(("n", "full"))).unwrap();
        assert_eq!(names(&s)[2], (3, "full".into()));
        assert_eq!(s.renames(), [("n".to_string(), "full".to_string())]);
        // Shard b still says "full"; a renames it again: b keeps the column.
        s.set_shard("b", &t1, None).unwrap();
        let t2 = table(
            vec![col("id", "INTEGER", true), col("g", "TEXT", false)],
            Some(0),
        );
        s.set_shard("a", &t2, Some(("full", "g"))).unwrap();
        assert_eq!(s.shards["a"].columns, [2, 4]);
        assert_eq!(s.shards["b"].columns, [2, 3]);
    }

    #[test]
    fn rowid_tables_get_a_rowid_column_and_cells_follow_the_event_schema() {
        let mut s = LakeSchema::default();
        let t = table(
            vec![col("v", "TEXT", false), col("_shard", "", false)],
            None,
        );
        s.set_shard("a", &t, None).unwrap();
        assert_eq!(
            names(&s),
            [
                (1, "_shard".into()),
                (2, "v".into()),
                (3, "_shard_sql".into()),
                (4, "_rowid".into())
            ]
        );
        let ev = RowEvent {
            table: "t".into(),
            op: RowOp::Insert,
            key: vec![shared_types::Value::Integer(7)],
            before: None,
            after: Some(vec![
                shared_types::Value::Text("x".into()),
                shared_types::Value::Null,
            ]),
        };
        let cells = s.cells("a", &ev).unwrap();
        assert_eq!(
            s.row("a", &cells),
            [
                Value::Text("a".into()),
                Value::Text("x".into()),
                Value::Null,
                Value::Integer(7)
            ]
        );
        assert!(matches!(s.cells("b", &ev), Err(Error::InvalidInput(_))));
        let short = RowEvent {
            after: Some(vec![shared_types::Value::Null]),
            ..ev
        };
        assert!(matches!(s.cells("a", &short), Err(Error::InvalidInput(_))));
        let dup = table(vec![col("v", "", false), col("V", "", false)], None);
        assert!(matches!(
            s.set_shard("a", &dup, None),
            Err(Error::InvalidInput(_))
        ));
    }
}
