//! The change stream on the wire: committed transactions of one database
//! (a *shard*) as JSON, for DoLake and for subscribers.
//!
//! ```text
//!   ChangeBatch {version, txns: [ChangeTxn], next_lsn, last_lsn}
//!     ChangeTxn {shard, lsn, txn, commit_ts, commit_time_ms, events}
//!       {"type":"schema", table, change, column?, previous?, schema}
//!       {"type":"row",    table, op, key, before?, after?}
//! ```
//!
//! Invariants (the engine side is `dosql::sql::cdc`):
//! * One `ChangeTxn` is one committed transaction, whole: its boundaries
//!   are the transaction's. `(shard, lsn)` identifies it: a consumer that
//!   saw it already may drop it (at-least-once delivery, exactly-once by
//!   dedup). LSNs grow within a shard, with gaps for transactions that
//!   changed nothing visible.
//! * Within a transaction, schema events come first, then row events. Row
//!   images hold one value per column of the schema in effect: `after` the
//!   schema after the transaction, `before` the schema before it.
//! * Values use the exact encoding of [`crate::value::Value`].
//!
//! Field by field: `docs/cdc.md`, format version [`CDC_FORMAT_VERSION`].

use serde::{Deserialize, Serialize};

use crate::value::Value;

/// Version of this format, carried by every [`ChangeBatch`].
pub const CDC_FORMAT_VERSION: u32 = 1;

/// What a row event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowOp {
    Insert,
    Update,
    Delete,
}

/// What a schema event did to its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaChange {
    Create,
    AddColumn,
    RenameColumn,
    DropColumn,
    RenameTable,
    /// Any other change of the definition; `schema` is the result.
    Alter,
    Drop,
}

/// One column of a table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSchema {
    pub name: String,
    /// The declared type as written; may be empty.
    pub decl_type: String,
    pub not_null: bool,
    /// 1-based position in the PRIMARY KEY; absent if not part of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pk: Option<u32>,
    /// The literal DEFAULT, which rows written before the column was added
    /// read; absent when there is none, it is NULL, or an expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// A table's definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<ColumnSchema>,
    pub without_rowid: bool,
    /// Index of the INTEGER PRIMARY KEY column, which is the rowid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rowid_alias: Option<u32>,
    /// The CREATE TABLE statement.
    pub sql: String,
}

/// A table created, altered or dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaEvent {
    /// The table's name after the change (for `drop`, the name dropped).
    pub table: String,
    pub change: SchemaChange,
    /// The column added, dropped, or renamed (its new name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The old table name (`rename_table`) or column name (`rename_column`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// The definition after the change (for `drop`, the one dropped).
    pub schema: TableSchema,
}

/// A row inserted, updated or deleted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowEvent {
    pub table: String,
    pub op: RowOp,
    /// `[rowid]` for rowid tables; the PRIMARY KEY values in key order for
    /// WITHOUT ROWID tables.
    pub key: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Vec<Value>>,
}

/// One event of a transaction, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChangeEvent {
    Schema(SchemaEvent),
    Row(RowEvent),
}

/// Every change of one committed transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeTxn {
    /// The database the transaction committed in.
    pub shard: String,
    pub lsn: u64,
    pub txn: u64,
    /// The engine's logical commit timestamp (grows with `lsn`).
    pub commit_ts: u64,
    /// Wall-clock commit time, Unix milliseconds.
    pub commit_time_ms: u64,
    pub events: Vec<ChangeEvent>,
}

/// A bounded run of transactions of one shard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeBatch {
    /// [`CDC_FORMAT_VERSION`].
    pub version: u32,
    pub txns: Vec<ChangeTxn>,
    /// The schema in effect just before the batch of every table whose
    /// first event in it is a row event: what a consumer that starts late
    /// (after the table's CREATE) needs to decode its rows. Omitted when
    /// empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<TableSchema>,
    /// Continue reading here; every LSN below was examined.
    pub next_lsn: u64,
    /// The shard's last LSN when the batch was read.
    pub last_lsn: u64,
}

/// Which events a read returns; empty lists mean all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeFilter {
    /// Table names, case-insensitive, as named at the event's LSN.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    /// Row operations; schema events pass with their table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<RowOp>,
}

/// A replication slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotInfo {
    pub name: String,
    /// Every transaction up to this LSN is processed.
    pub acked_lsn: u64,
    /// The slot fell behind the retention cap: its position is lost.
    pub lagging: bool,
    /// WAL records after `acked_lsn`.
    pub retained_records: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ChangeBatch {
        ChangeBatch {
            version: CDC_FORMAT_VERSION,
            txns: vec![ChangeTxn {
                shard: "db1".into(),
                lsn: 7,
                txn: 12,
                commit_ts: 5,
                commit_time_ms: 1_700_000_000_000,
                events: vec![
                    ChangeEvent::Schema(SchemaEvent {
                        table: "t".into(),
                        change: SchemaChange::AddColumn,
                        column: Some("c".into()),
                        previous: None,
                        schema: TableSchema {
                            name: "t".into(),
                            columns: vec![
                                ColumnSchema {
                                    name: "id".into(),
                                    decl_type: "INTEGER".into(),
                                    not_null: false,
                                    pk: Some(1),
                                    default: None,
                                },
                                ColumnSchema {
                                    name: "c".into(),
                                    decl_type: String::new(),
                                    not_null: false,
                                    pk: None,
                                    default: Some(Value::Integer(5)),
                                },
                            ],
                            without_rowid: false,
                            rowid_alias: Some(0),
                            sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, c DEFAULT 5)".into(),
                        },
                    }),
                    ChangeEvent::Row(RowEvent {
                        table: "t".into(),
                        op: RowOp::Update,
                        key: vec![Value::Integer(1)],
                        before: Some(vec![Value::Integer(1), Value::Integer(5)]),
                        after: Some(vec![Value::Integer(1), Value::Blob(vec![1])]),
                    }),
                ],
            }],
            schemas: vec![],
            next_lsn: 8,
            last_lsn: 9,
        }
    }

    #[test]
    fn json_is_exact_and_round_trips() {
        let batch = sample();
        let json = serde_json::to_string(&batch).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"version":1,"txns":[{"shard":"db1","lsn":7,"txn":12,"commit_ts":5,"#,
                r#""commit_time_ms":1700000000000,"events":[{"type":"schema","table":"t","#,
                r#""change":"add_column","column":"c","schema":{"name":"t","columns":["#,
                r#"{"name":"id","decl_type":"INTEGER","not_null":false,"pk":1},"#,
                r#"{"name":"c","decl_type":"","not_null":false,"default":5}],"#,
                r#""without_rowid":false,"rowid_alias":0,"#,
                r#""sql":"CREATE TABLE t (id INTEGER PRIMARY KEY, c DEFAULT 5)"}},"#,
                r#"{"type":"row","table":"t","op":"update","key":[1],"before":[1,5],"#,
                r#""after":[1,{"blob":"AQ=="}]}]}],"next_lsn":8,"last_lsn":9}"#
            )
        );
        let back: ChangeBatch = serde_json::from_str(&json).unwrap();
        assert_eq!(back, batch);
    }

    #[test]
    fn filters_default_to_everything_and_refuse_unknown_fields() {
        let f: ChangeFilter = serde_json::from_str("{}").unwrap();
        assert_eq!(f, ChangeFilter::default());
        let f: ChangeFilter =
            serde_json::from_str(r#"{"tables":["a"],"ops":["insert","delete"]}"#).unwrap();
        assert_eq!(f.ops, vec![RowOp::Insert, RowOp::Delete]);
        assert!(serde_json::from_str::<ChangeFilter>(r#"{"table":["a"]}"#).is_err());
        assert!(serde_json::from_str::<ChangeFilter>(r#"{"ops":["upsert"]}"#).is_err());
    }
}
