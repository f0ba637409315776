//! The change stream as DoLake receives it.
//!
//! The state machine consumes DoSQL's change types: a [`ChangeBatch`] of
//! committed transactions ([`ChangeTxn`]), each a list of schema and row
//! events. They are re-exported from one place so that the rest of the
//! module names them once; the only representation-specific code is
//! [`value`], which turns an event's SQL value into the lake's value type
//! (the one the Iceberg writer takes).

pub use dosql::sql::cdc::{
    ChangeBatch, ChangeEvent, ChangeTxn, ColumnSchema, RowEvent, RowOp, SchemaChange, SchemaEvent,
    TableSchema,
};

use shared_types::Value;

/// An event value as the lake stores and writes it.
pub fn value(v: &dosql::sql::Value) -> Value {
    use dosql::sql::Value as V;
    match v {
        V::Null => Value::Null,
        V::Integer(i) => Value::Integer(*i),
        V::Real(f) => Value::Real(*f),
        V::Text(t) => Value::Text(t.clone()),
        V::Blob(b) => Value::Blob(b.clone()),
    }
}

/// [`value`] of each value.
pub fn values(vs: &[dosql::sql::Value]) -> Vec<Value> {
    vs.iter().map(value).collect()
}
