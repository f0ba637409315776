//! The DoSQL backend: a fresh in-memory [`dosql::sql::Database`] per file.
//!
//! The SQL text may hold several statements; they run in order in one
//! session, and the rows of the last statement that returns result
//! columns are the query's output (as with the SQLite backend). A
//! statement that fails is `Err`, whatever ran before it, except a
//! single query that binds and then fails while running, which reports
//! the error in [`QueryOutput::error`].

use dosql::sql::{Database, Session, Value as DbValue};

use crate::engine::{Engine, QueryOutput, Value};

/// DoSQL in memory.
pub struct DosqlEngine {
    db: Database,
    session: Session,
}

impl DosqlEngine {
    /// Opens an empty in-memory database.
    pub fn open() -> Result<DosqlEngine, String> {
        let db = Database::open_memory().map_err(|e| e.to_string())?;
        Ok(DosqlEngine {
            db,
            session: Session::new(),
        })
    }
}

fn convert(value: DbValue) -> Value {
    match value {
        DbValue::Null => Value::Null,
        DbValue::Integer(i) => Value::Integer(i),
        DbValue::Real(r) => Value::Real(r),
        DbValue::Text(t) => Value::Text(t),
        DbValue::Blob(b) => Value::Blob(b),
    }
}

impl Engine for DosqlEngine {
    fn run(&mut self, sql: &str) -> Result<Option<QueryOutput>, String> {
        let results = match self.db.execute(&mut self.session, sql, &[]) {
            Ok(results) => results,
            Err(err) => {
                // A single query that binds but fails while running (say,
                // an integer overflow in sum()) failed after it was
                // prepared: the reference driver kept the rows produced
                // before the error, and DoSQL produced none.
                return match self.db.describe(&self.session, sql).as_deref() {
                    Ok([columns]) if !columns.is_empty() => Ok(Some(QueryOutput {
                        columns: columns.len(),
                        rows: Vec::new(),
                        error: Some(err.to_string()),
                    })),
                    _ => Err(err.to_string()),
                };
            }
        };
        Ok(results
            .into_iter()
            .rfind(|r| !r.columns.is_empty())
            .map(|r| QueryOutput {
                columns: r.columns.len(),
                rows: r
                    .rows
                    .into_iter()
                    .map(|row| row.into_iter().map(convert).collect())
                    .collect(),
                error: None,
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_and_queries() {
        let mut e = DosqlEngine::open().unwrap();
        assert_eq!(e.run("CREATE TABLE t(a INTEGER, b TEXT)").unwrap(), None);
        e.run("INSERT INTO t VALUES (1, 'x'), (2, NULL)").unwrap();
        let out = e.run("SELECT a, b FROM t ORDER BY a").unwrap().unwrap();
        assert_eq!(out.columns, 2);
        assert_eq!(
            out.rows,
            vec![
                vec![Value::Integer(1), Value::Text("x".into())],
                vec![Value::Integer(2), Value::Null]
            ]
        );
        assert!(e.run("SELECT nosuch FROM t").is_err());
    }
}
