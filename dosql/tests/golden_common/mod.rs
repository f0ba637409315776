//! The harness the golden SQL tests share: a database in memory, a
//! session, and rows rendered one string per row (values joined by '|',
//! reals in Rust's shortest round-trip form, blobs as hex).
#![allow(dead_code)]

use dosql::sql::{Database, Session, Value};
use dosql::Error;

pub struct Db {
    pub db: Database,
    pub s: Session,
}

pub fn open() -> Db {
    Db {
        db: Database::open_memory().unwrap(),
        s: Session::new(),
    }
}

pub fn show(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => format!("{r:?}"),
        Value::Text(t) => t.clone(),
        Value::Blob(b) => format!("x{b:02x?}"),
    }
}

impl Db {
    pub fn exec(&mut self, sql: &str) {
        self.db
            .execute(&mut self.s, sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn err(&mut self, sql: &str) -> Error {
        match self.db.execute(&mut self.s, sql, &[]) {
            Ok(_) => panic!("{sql} should fail"),
            Err(e) => e,
        }
    }

    /// Rows of the last statement, one string per row, values joined by '|'.
    pub fn rows(&mut self, sql: &str) -> Vec<String> {
        let results = self
            .db
            .execute(&mut self.s, sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let last = results.last().expect("one statement");
        last.rows
            .iter()
            .map(|r| r.iter().map(show).collect::<Vec<_>>().join("|"))
            .collect()
    }
}
