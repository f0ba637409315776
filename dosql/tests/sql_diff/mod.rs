//! Differential harness for SQL scripts: every statement runs on DoSQL
//! and on real SQLite (rusqlite, bundled), and both must agree on the
//! rows returned, or both fail with the same SQLite message.

#![allow(dead_code)]

use dosql::sql::{Database, Session, Value};

/// A DoSQL database and an SQLite connection fed the same statements.
pub struct Both {
    pub db: Database,
    pub s: Session,
    pub lite: rusqlite::Connection,
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

fn show_lite(v: rusqlite::types::ValueRef) -> String {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(r) => format!("{r:?}"),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Blob(b) => format!("x{b:02x?}"),
    }
}

type Outcome = Result<Vec<String>, String>;

impl Both {
    pub fn new() -> Both {
        let lite = rusqlite::Connection::open_in_memory().unwrap();
        // The bundled build turns foreign keys on by default; SQLite's
        // own default (and DoSQL's) is off.
        lite.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        Both {
            db: Database::open_memory().unwrap(),
            s: Session::new(),
            lite,
        }
    }

    /// The outcome of one statement on DoSQL: rows joined by '|', or the
    /// error message.
    pub fn dosql(&mut self, sql: &str) -> Outcome {
        match self.db.execute(&mut self.s, sql, &[]) {
            Ok(results) => Ok(results
                .last()
                .map(|r| {
                    r.rows
                        .iter()
                        .map(|row| row.iter().map(show).collect::<Vec<_>>().join("|"))
                        .collect()
                })
                .unwrap_or_default()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The outcome of one statement on SQLite.
    pub fn sqlite(&mut self, sql: &str) -> Outcome {
        let run = || -> rusqlite::Result<Vec<String>> {
            let mut stmt = self.lite.prepare(sql)?;
            let n = stmt.column_count();
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let vals: Vec<String> = (0..n)
                    .map(|i| show_lite(row.get_ref(i).expect("column in range")))
                    .collect();
                out.push(vals.join("|"));
            }
            Ok(out)
        };
        run().map_err(|e| e.to_string())
    }

    /// Runs one statement on both and asserts they agree; returns the rows.
    pub fn same(&mut self, sql: &str) -> Vec<String> {
        let ours = self.dosql(sql);
        self.compare(sql, ours).unwrap_or_default()
    }

    /// Runs `sql` on SQLite and asserts it agrees with DoSQL's `ours`.
    fn compare(&mut self, sql: &str, ours: Outcome) -> Outcome {
        let theirs = self.sqlite(sql);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "rows differ for {sql}"),
            // SQLite may append " in <statement> at offset N".
            (Err(a), Err(b)) => assert!(
                a.contains(b.split(" in ").next().unwrap_or_default()),
                "errors differ for {sql}: ours {a:?}, SQLite {b:?}"
            ),
            _ => panic!("{sql}: ours {ours:?}, SQLite {theirs:?}"),
        }
        ours
    }

    /// Runs a script of statements separated by ';' (no ';' inside
    /// literals or trigger bodies) on both.
    pub fn script(&mut self, sql: &str) {
        for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            self.same(stmt);
        }
    }

    /// Asserts that both fail on `sql`; returns DoSQL's error.
    pub fn fails(&mut self, sql: &str) -> String {
        let ours = self.dosql(sql);
        assert!(ours.is_err(), "{sql} should fail, got {ours:?}");
        self.compare(sql, ours)
            .expect_err("checked to be an error above")
    }

    /// Asserts that `query` returns the same rows on both and that they
    /// are `expected`.
    pub fn check(&mut self, query: &str, expected: &[&str]) {
        let rows = self.same(query);
        assert_eq!(rows, expected, "{query}");
    }
}
