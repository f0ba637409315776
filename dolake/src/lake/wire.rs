//! The change stream as DoLake receives it: the wire types of
//! `shared_types::cdc` (docs/cdc.md), exactly what a shard sends over the
//! link (`shared_types::lake`), so that no conversion sits between the
//! socket and the state machine.
//!
//! They are re-exported from one place so that the rest of the module
//! names them once; [`value`] is the only representation-specific code
//! (events carry `shared_types::Value`, which is also the value type the
//! Iceberg writer takes).

pub use shared_types::cdc::{
    ChangeBatch, ChangeEvent, ChangeTxn, ColumnSchema, RowEvent, RowOp, SchemaChange, SchemaEvent,
    TableSchema, CDC_FORMAT_VERSION,
};

use shared_types::Value;

/// An event value as the lake stores and writes it.
pub fn value(v: &Value) -> Value {
    v.clone()
}

/// [`value`] of each value.
pub fn values(vs: &[Value]) -> Vec<Value> {
    vs.to_vec()
}
