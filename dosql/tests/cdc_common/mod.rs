//! Helpers shared by the change capture tests.
#![allow(dead_code)]

use dosql::sql::cdc::{ChangeBatch, ChangeEvent, ChangeFilter, ChangeTxn, ReadLimits, RowEvent, SchemaEvent};
use dosql::sql::{Database, Session, Value};

pub fn exec(db: &mut Database, s: &mut Session, sql: &str) {
    db.execute(s, sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

pub fn last_lsn(db: &mut Database) -> u64 {
    db.engine().stats().last_lsn
}

/// Every change transaction from `from` on, read in one batch.
pub fn read_all(db: &mut Database, from: u64) -> Vec<ChangeTxn> {
    read(db, from, &ChangeFilter::default()).txns
}

pub fn read(db: &mut Database, from: u64, filter: &ChangeFilter) -> ChangeBatch {
    let limits = ReadLimits {
        max_txns: usize::MAX,
        max_bytes: usize::MAX,
    };
    db.read_changes(from, limits, filter).unwrap()
}

pub fn rows(txn: &ChangeTxn) -> Vec<&RowEvent> {
    txn.events
        .iter()
        .filter_map(|e| match e {
            ChangeEvent::Row(r) => Some(r),
            _ => None,
        })
        .collect()
}

pub fn schemas(txn: &ChangeTxn) -> Vec<&SchemaEvent> {
    txn.events
        .iter()
        .filter_map(|e| match e {
            ChangeEvent::Schema(s) => Some(s),
            _ => None,
        })
        .collect()
}

pub fn i(v: i64) -> Value {
    Value::Integer(v)
}

pub fn t(v: &str) -> Value {
    Value::Text(v.into())
}
