//! Change data capture: the WAL decoded into per-transaction change events,
//! and durable replication slots that hold the WAL back for consumers.
//!
//! ```text
//!   WAL Record {lsn, txn, commit_ts, wall_time_ms, changes}
//!     │ decode.rs: catalog ("sqlite_schema") changes -> SchemaEvent
//!     │            table trees ("t:<name>")           -> RowEvent
//!     │            index trees, "cdc:*" trees         -> nothing
//!     ▼
//!   ChangeTxn {lsn, txn, commit_ts, commit_time_ms, events: [schema..., rows...]}
//!     │ api.rs: read a bounded, filtered batch after an LSN or a slot
//!     ▼
//!   ChangeBatch {txns, next_lsn, last_lsn}
//! ```
//!
//! Invariants:
//! * One committed write transaction is one WAL record, so a `ChangeTxn` is
//!   exactly one transaction: its boundaries are the record's. A record with
//!   no user-visible change (an index built, a slot acknowledged) yields no
//!   `ChangeTxn`, but a batch's `next_lsn` still moves past it.
//! * A record holds the *net* effect of its transaction per key, in tree
//!   order, not statement order. So a transaction's schema events come
//!   first (drops, renames, creates, alters), then its row events; an
//!   `after` image is decoded with the schema after the transaction, a
//!   `before` image with the schema before it. Rows of a table created or
//!   renamed in the transaction are inserts (a rename moves the table's
//!   storage, so every row of the renamed table follows as an insert).
//! * Rows are decoded with the schema in effect at their LSN: the schema at
//!   the start LSN is the current catalog with the catalog's before images
//!   of every later record undone (catalog.rs). Tree ids resolve to names
//!   through the tree directory ("cdc:trees"), which every schema-changing
//!   commit extends, so trees dropped since still resolve.
//! * Slot state lives in the internal tree "cdc:slots" (slots.rs), written
//!   in transactions of its own, so it is exactly as durable as data. The
//!   WAL low-water mark follows the slowest slot that is not lagging.
//!
//! The wire form of these types (JSON) is in `shared_types::cdc` and
//! `docs/cdc.md`; this module mirrors it without serde.

mod api;
mod catalog;
mod decode;
mod slots;

pub use slots::{SlotInfo, DEFAULT_RETENTION_CAP, MAX_SLOT_NAME};

pub(crate) use catalog::register_trees;
pub(crate) use slots::Cdc;

use crate::sql::rows;
use crate::sql::schema::Table;
use crate::sql::value::{apply_affinity, Value};
use crate::store::Lsn;

/// What a row event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowOp {
    Insert,
    Update,
    Delete,
}

/// What a schema event did to a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaChange {
    Create,
    AddColumn,
    RenameColumn,
    DropColumn,
    RenameTable,
    /// Any other change of the definition (several ALTERs in one
    /// transaction): the event's schema is the result.
    Alter,
    Drop,
}

/// One column of a [`TableSchema`].
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnSchema {
    pub name: String,
    /// The declared type as written (may be empty).
    pub decl_type: String,
    pub not_null: bool,
    /// 1-based position in the PRIMARY KEY, if the column is part of it.
    pub pk: Option<u32>,
    /// A literal DEFAULT (with the column's affinity): what rows written
    /// before the column was added read. `None` for none, NULL (what such
    /// rows read anyway) or an expression.
    pub default: Option<Value>,
}

/// A table's definition as change consumers need it.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<ColumnSchema>,
    pub without_rowid: bool,
    /// The INTEGER PRIMARY KEY column that is the rowid, if any.
    pub rowid_alias: Option<u32>,
    /// The CREATE TABLE text.
    pub sql: String,
}

impl TableSchema {
    pub(crate) fn of(table: &Table) -> TableSchema {
        let pk = |c: usize| {
            table
                .primary_key
                .iter()
                .position(|&p| p == c)
                .map(|p| p as u32 + 1)
        };
        TableSchema {
            name: table.name.clone(),
            columns: table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| ColumnSchema {
                    name: c.name.clone(),
                    decl_type: c.decl_type.clone(),
                    not_null: c.not_null,
                    pk: pk(i),
                    default: c
                        .default
                        .as_ref()
                        .and_then(rows::literal_value)
                        .map(|v| apply_affinity(v, c.affinity))
                        .filter(|v| *v != Value::Null),
                })
                .collect(),
            without_rowid: table.without_rowid,
            rowid_alias: table.rowid_alias.map(|a| a as u32),
            sql: table.sql.clone(),
        }
    }
}

/// A table created, altered or dropped.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaEvent {
    /// The table's name after the change (for `Drop`, the dropped name).
    pub table: String,
    pub change: SchemaChange,
    /// The column added, dropped or renamed (its new name).
    pub column: Option<String>,
    /// The previous table name (`RenameTable`) or column name
    /// (`RenameColumn`).
    pub previous: Option<String>,
    /// The definition after the change (for `Drop`, the one dropped).
    pub schema: TableSchema,
}

/// A row inserted, updated or deleted.
#[derive(Clone, Debug, PartialEq)]
pub struct RowEvent {
    pub table: String,
    pub op: RowOp,
    /// `[rowid]` for rowid tables (an INTEGER PRIMARY KEY column holds the
    /// same value in the images); the PRIMARY KEY values in key order for
    /// WITHOUT ROWID tables.
    pub key: Vec<Value>,
    /// The row before (update, delete), one value per column of the schema
    /// before the transaction.
    pub before: Option<Vec<Value>>,
    /// The row after (insert, update), one value per column of the schema
    /// after the transaction.
    pub after: Option<Vec<Value>>,
}

/// One event of a change transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum ChangeEvent {
    Schema(SchemaEvent),
    Row(RowEvent),
}

impl ChangeEvent {
    /// The table the event is about.
    pub fn table(&self) -> &str {
        match self {
            ChangeEvent::Schema(s) => &s.table,
            ChangeEvent::Row(r) => &r.table,
        }
    }
}

/// Every change of one committed transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeTxn {
    pub lsn: Lsn,
    pub txn: u64,
    /// The engine's logical commit timestamp.
    pub commit_ts: u64,
    /// Wall-clock commit time, Unix milliseconds.
    pub commit_time_ms: u64,
    pub events: Vec<ChangeEvent>,
}

/// Which events a read returns. Empty lists mean "all".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChangeFilter {
    /// Table names (case-insensitive) as named at the event's LSN. A
    /// rename passes when its old or new name does.
    pub tables: Vec<String>,
    /// Row operations; schema events pass whenever their table does.
    pub ops: Vec<RowOp>,
}

impl ChangeFilter {
    fn table_passes(&self, name: &str) -> bool {
        self.tables.is_empty() || self.tables.iter().any(|t| t.eq_ignore_ascii_case(name))
    }

    /// True when `event` passes the filter.
    pub fn passes(&self, event: &ChangeEvent) -> bool {
        match event {
            ChangeEvent::Schema(s) => {
                self.table_passes(&s.table)
                    || s.change == SchemaChange::RenameTable
                        && s.previous.as_deref().is_some_and(|p| self.table_passes(p))
            }
            ChangeEvent::Row(r) => {
                self.table_passes(&r.table) && (self.ops.is_empty() || self.ops.contains(&r.op))
            }
        }
    }
}

/// Bounds of one read. At least one transaction is returned when any
/// exists, however large.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    pub max_txns: usize,
    /// Bound on [`ChangeTxn`] sizes as estimated by `estimated_size`.
    pub max_bytes: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_txns: 1000,
            max_bytes: 4 << 20,
        }
    }
}

/// The result of one read.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeBatch {
    pub txns: Vec<ChangeTxn>,
    /// The schema in effect just before the batch of every table with row
    /// events in it and no schema event before them: what a consumer that
    /// joins the stream late needs to decode those rows.
    pub schemas: Vec<TableSchema>,
    /// Where the next read continues: every LSN below it was examined
    /// (acknowledge `next_lsn - 1` once the batch is processed).
    pub next_lsn: Lsn,
    /// The database's last LSN when the batch was read.
    pub last_lsn: Lsn,
}

/// A size estimate of `txn` in bytes, close to its JSON encoding's.
pub fn estimated_size(txn: &ChangeTxn) -> usize {
    let values = |v: &[Value]| {
        v.iter()
            .map(|x| match x {
                Value::Text(t) => t.len() + 4,
                Value::Blob(b) => b.len() * 4 / 3 + 12,
                _ => 8,
            })
            .sum::<usize>()
    };
    64 + txn
        .events
        .iter()
        .map(|e| match e {
            ChangeEvent::Schema(s) => 128 + s.schema.sql.len() + 48 * s.schema.columns.len(),
            ChangeEvent::Row(r) => {
                48 + r.table.len()
                    + values(&r.key)
                    + r.before.as_deref().map_or(0, values)
                    + r.after.as_deref().map_or(0, values)
            }
        })
        .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(table: &str, op: RowOp, text: &str) -> ChangeEvent {
        ChangeEvent::Row(RowEvent {
            table: table.into(),
            op,
            key: vec![Value::Integer(1)],
            before: None,
            after: Some(vec![Value::Text(text.into())]),
        })
    }

    fn schema(table: &str, change: SchemaChange, previous: Option<&str>) -> ChangeEvent {
        ChangeEvent::Schema(SchemaEvent {
            table: table.into(),
            change,
            column: None,
            previous: previous.map(str::to_string),
            schema: TableSchema {
                name: table.into(),
                columns: vec![],
                without_rowid: false,
                rowid_alias: None,
                sql: String::new(),
            },
        })
    }

    #[test]
    fn filters_match_tables_case_insensitively_and_ops_of_rows_only() {
        let all = ChangeFilter::default();
        let f = ChangeFilter {
            tables: vec!["Orders".into()],
            ops: vec![RowOp::Delete],
        };
        for (event, passes) in [
            (row("orders", RowOp::Delete, ""), true),
            (row("orders", RowOp::Insert, ""), false),
            (row("other", RowOp::Delete, ""), false),
            (schema("ORDERS", SchemaChange::Create, None), true),
            (
                schema("renamed", SchemaChange::RenameTable, Some("orders")),
                true,
            ),
            (schema("renamed", SchemaChange::Drop, None), false),
        ] {
            assert_eq!(f.passes(&event), passes, "{event:?}");
            assert!(all.passes(&event));
        }
    }

    #[test]
    fn size_estimates_grow_with_payload() {
        let txn = |text: &str| ChangeTxn {
            lsn: 1,
            txn: 1,
            commit_ts: 1,
            commit_time_ms: 0,
            events: vec![row("t", RowOp::Insert, text)],
        };
        let small = estimated_size(&txn("a"));
        let large = estimated_size(&txn(&"a".repeat(1000)));
        assert!(small > 64 && large >= small + 999, "{small} {large}");
    }
}
