//! The change stream as DoLake receives it: the wire types of
//! `shared_types::cdc` (docs/cdc.md), exactly what a shard sends over the
//! link (`shared_types::lake`), so that no conversion sits between the
//! socket and the state machine. Re-exported from one place so that the
//! rest of the module names them once; their values are
//! `shared_types::Value`, the value type the Iceberg writer takes.

pub use shared_types::cdc::{
    ChangeBatch, ChangeEvent, ChangeTxn, ColumnSchema, RowEvent, RowOp, SchemaChange, SchemaEvent,
    TableSchema, CDC_FORMAT_VERSION,
};
