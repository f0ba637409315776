//! Shared harness of the differential SQL tests: the same SQL in DoSQL
//! and in real SQLite (rusqlite, bundled), results compared exactly.

#![allow(dead_code)]

use dosql::sql::{Database, Session, Value};
use rusqlite::types::ValueRef;

pub struct Pair {
    pub db: Database,
    pub s: Session,
    pub lite: rusqlite::Connection,
}

pub fn from_sql(r: ValueRef) -> Value {
    match r {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// SQLite 3.46 appends " in <statement> at offset N" to some messages.
fn strip_context(msg: &str) -> &str {
    [
        "SELECT", "INSERT", "UPDATE", "DELETE", "ALTER", "CREATE", "WITH",
    ]
    .iter()
    .filter_map(|kw| msg.find(&format!(" in {kw} ")))
    .min()
    .map_or(msg, |i| &msg[..i])
}

pub fn same(a: &[Vec<Value>], b: &[Vec<Value>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.len() == y.len()
                && x.iter().zip(y).all(|(p, q)| match (p, q) {
                    (Value::Real(p), Value::Real(q)) => p == q,
                    _ => p == q,
                })
        })
}

impl Pair {
    pub fn new(setup: &str) -> Pair {
        let mut p = Pair {
            db: Database::open_memory().unwrap(),
            s: Session::new(),
            lite: rusqlite::Connection::open_in_memory().unwrap(),
        };
        p.db.execute(&mut p.s, setup, &[]).unwrap();
        p.lite.execute_batch(setup).unwrap();
        p
    }

    pub fn sqlite(&self, sql: &str) -> Result<Vec<Vec<Value>>, String> {
        let mut stmt = self.lite.prepare(sql).map_err(|e| e.to_string())?;
        let n = stmt.column_count();
        let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| e.to_string())? {
            out.push((0..n).map(|i| from_sql(r.get_ref(i).unwrap())).collect());
        }
        Ok(out)
    }

    pub fn dosql(&mut self, sql: &str) -> Result<Vec<Vec<Value>>, String> {
        let results = self
            .db
            .execute(&mut self.s, sql, &[])
            .map_err(|e| e.to_string())?;
        Ok(results.last().map(|r| r.rows.clone()).unwrap_or_default())
    }

    /// Runs a script in both engines; both must accept it.
    pub fn exec_both(&mut self, sql: &str) {
        self.db
            .execute(&mut self.s, sql, &[])
            .unwrap_or_else(|e| panic!("dosql: {sql}: {e}"));
        self.lite
            .execute_batch(sql)
            .unwrap_or_else(|e| panic!("sqlite: {sql}: {e}"));
    }

    /// The mismatch, if any, between the two engines on `sql`.
    pub fn diff(&mut self, sql: &str) -> Option<String> {
        let want = self.sqlite(sql);
        let got = self.dosql(sql);
        match (&want, &got) {
            (Ok(w), Ok(g)) if same(w, g) => None,
            // SQLite 3.46 appends " in <sql> at offset N".
            (Err(w), Err(g)) if g.contains(strip_context(w)) => None,
            _ => Some(format!("{sql}\n  sqlite: {want:?}\n  dosql:  {got:?}")),
        }
    }

    pub fn check_all(&mut self, queries: &[&str]) {
        let failures: Vec<String> = queries.iter().filter_map(|q| self.diff(q)).collect();
        assert!(
            failures.is_empty(),
            "{} of {} queries differ:\n{}",
            failures.len(),
            queries.len(),
            failures.join("\n")
        );
    }
}
