//! Change capture requests: replication slots and change batches, converted
//! between the engine's types (`dosql::sql::cdc`) and the wire's
//! (`shared_types::cdc`, docs/cdc.md).
//!
//! ```text
//!   create_slot / drop_slot / list_slots / ack_slot   -> Database slot calls
//!   read_changes {slot | from_lsn, filter, max_*}     -> Database::read_*
//!                                                        -> ChangeBatch (wire)
//! ```
//!
//! The engine knows nothing of shards: the service stamps its shard name
//! on every transaction it ships.

use dosql::sql::cdc as engine;
use dosql::sql::Database;
use shared_types::cdc as wire;
use shared_types::limits::MAX_RESULT_BYTES;
use shared_types::{Response, WireError};

use crate::bind::{invalid, to_wire, wire_error};

/// Transactions a read returns when the request names no bound.
pub const DEFAULT_MAX_TXNS: u32 = 1000;

fn op_to_wire(op: engine::RowOp) -> wire::RowOp {
    match op {
        engine::RowOp::Insert => wire::RowOp::Insert,
        engine::RowOp::Update => wire::RowOp::Update,
        engine::RowOp::Delete => wire::RowOp::Delete,
    }
}

fn op_to_engine(op: wire::RowOp) -> engine::RowOp {
    match op {
        wire::RowOp::Insert => engine::RowOp::Insert,
        wire::RowOp::Update => engine::RowOp::Update,
        wire::RowOp::Delete => engine::RowOp::Delete,
    }
}

fn change_to_wire(c: engine::SchemaChange) -> wire::SchemaChange {
    use engine::SchemaChange as E;
    use wire::SchemaChange as W;
    match c {
        E::Create => W::Create,
        E::AddColumn => W::AddColumn,
        E::RenameColumn => W::RenameColumn,
        E::DropColumn => W::DropColumn,
        E::RenameTable => W::RenameTable,
        E::Alter => W::Alter,
        E::Drop => W::Drop,
    }
}

fn values(v: Vec<dosql::sql::Value>) -> Vec<shared_types::Value> {
    v.into_iter().map(to_wire).collect()
}

fn schema_to_wire(s: engine::TableSchema) -> wire::TableSchema {
    wire::TableSchema {
        name: s.name,
        columns: s
            .columns
            .into_iter()
            .map(|c| wire::ColumnSchema {
                name: c.name,
                decl_type: c.decl_type,
                not_null: c.not_null,
                pk: c.pk,
                default: c.default.map(to_wire),
            })
            .collect(),
        without_rowid: s.without_rowid,
        rowid_alias: s.rowid_alias,
        sql: s.sql,
    }
}

fn event_to_wire(e: engine::ChangeEvent) -> wire::ChangeEvent {
    match e {
        engine::ChangeEvent::Schema(s) => wire::ChangeEvent::Schema(wire::SchemaEvent {
            table: s.table,
            change: change_to_wire(s.change),
            column: s.column,
            previous: s.previous,
            schema: schema_to_wire(s.schema),
        }),
        engine::ChangeEvent::Row(r) => wire::ChangeEvent::Row(wire::RowEvent {
            table: r.table,
            op: op_to_wire(r.op),
            key: values(r.key),
            before: r.before.map(values),
            after: r.after.map(values),
        }),
    }
}

/// The wire form of an engine batch, every transaction stamped `shard`.
pub fn batch_to_wire(batch: engine::ChangeBatch, shard: &str) -> wire::ChangeBatch {
    wire::ChangeBatch {
        version: wire::CDC_FORMAT_VERSION,
        txns: batch
            .txns
            .into_iter()
            .map(|t| wire::ChangeTxn {
                shard: shard.to_string(),
                lsn: t.lsn,
                txn: t.txn,
                commit_ts: t.commit_ts,
                commit_time_ms: t.commit_time_ms,
                events: t.events.into_iter().map(event_to_wire).collect(),
            })
            .collect(),
        schemas: batch.schemas.into_iter().map(schema_to_wire).collect(),
        next_lsn: batch.next_lsn,
        last_lsn: batch.last_lsn,
    }
}

/// The engine form of a wire filter.
pub fn filter_to_engine(filter: wire::ChangeFilter) -> engine::ChangeFilter {
    engine::ChangeFilter {
        tables: filter.tables,
        ops: filter.ops.into_iter().map(op_to_engine).collect(),
    }
}

fn slot_to_wire(s: engine::SlotInfo) -> wire::SlotInfo {
    wire::SlotInfo {
        name: s.name,
        acked_lsn: s.acked_lsn,
        lagging: s.lagging,
        retained_records: s.retained_records,
    }
}

pub fn create_slot(db: &mut Database, slot: &str) -> Result<Response, WireError> {
    let info = db.create_slot(slot).map_err(|e| wire_error(&e))?;
    Ok(Response::Slot(slot_to_wire(info)))
}

pub fn list_slots(db: &Database) -> Response {
    Response::Slots {
        slots: db.slots().into_iter().map(slot_to_wire).collect(),
    }
}

/// The parts of a `read_changes` request.
pub struct ReadRequest {
    pub slot: Option<String>,
    pub from_lsn: Option<u64>,
    pub filter: Option<wire::ChangeFilter>,
    pub max_txns: Option<u32>,
    pub max_bytes: Option<u64>,
}

pub fn read_changes(db: &mut Database, shard: &str, r: ReadRequest) -> Result<Response, WireError> {
    let limits = engine::ReadLimits {
        max_txns: r.max_txns.unwrap_or(DEFAULT_MAX_TXNS) as usize,
        // The estimate is of the JSON size; the result limit caps it.
        max_bytes: r.max_bytes.map_or(MAX_RESULT_BYTES, |b| {
            b.min(MAX_RESULT_BYTES as u64) as usize
        }),
    };
    let filter = filter_to_engine(r.filter.unwrap_or_default());
    let batch = match (r.slot, r.from_lsn) {
        (Some(slot), None) => db.read_slot(&slot, limits, &filter),
        (None, Some(from)) => db.read_changes(from, limits, &filter),
        _ => {
            return Err(invalid(
                "read_changes takes exactly one of slot and from_lsn",
            ))
        }
    }
    .map_err(|e| wire_error(&e))?;
    Ok(Response::Changes(batch_to_wire(batch, shard)))
}
