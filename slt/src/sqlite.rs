//! The reference backend: SQLite (bundled, through rusqlite).
//!
//! It exists to validate the runner itself: every record of the corpus
//! passes on SQLite, so any failure on this backend is a runner bug. Each
//! engine is a private in-memory database, so a fresh engine per file is
//! a fresh, empty database.
//!
//! The SQL text may hold several statements (the reference driver ran
//! statements with `sqlite3_exec`): they run in order, and the rows of the
//! last statement that has result columns are returned. A failure while
//! stepping through rows stops there and is reported in
//! [`QueryOutput::error`] with the rows produced so far.

use rusqlite::types::ValueRef;
use rusqlite::{Batch, Connection};

use crate::engine::{Engine, QueryOutput, Value};

/// SQLite in memory.
pub struct SqliteEngine {
    conn: Connection,
}

impl SqliteEngine {
    /// Opens an empty in-memory database.
    pub fn open() -> Result<SqliteEngine, String> {
        let conn = Connection::open_in_memory().map_err(|e| e.to_string())?;
        Ok(SqliteEngine { conn })
    }
}

impl Engine for SqliteEngine {
    fn run(&mut self, sql: &str) -> Result<Option<QueryOutput>, String> {
        let mut batch = Batch::new(&self.conn, sql);
        let mut output = None;
        while let Some(mut stmt) = batch.next().map_err(|e| e.to_string())? {
            let columns = stmt.column_count();
            if columns == 0 {
                stmt.raw_execute().map_err(|e| e.to_string())?;
                continue;
            }
            let mut rows = Vec::new();
            let mut error = None;
            let mut cursor = stmt.raw_query();
            loop {
                match cursor.next() {
                    Ok(Some(row)) => {
                        let mut values = Vec::with_capacity(columns);
                        for i in 0..columns {
                            values.push(convert(row.get_ref(i).map_err(|e| e.to_string())?));
                        }
                        rows.push(values);
                    }
                    Ok(None) => break,
                    Err(err) => {
                        error = Some(err.to_string());
                        break;
                    }
                }
            }
            let stopped = error.is_some();
            output = Some(QueryOutput {
                columns,
                rows,
                error,
            });
            if stopped {
                break;
            }
        }
        Ok(output)
    }
}

/// SQLite's value as the runner's. Text that is not valid UTF-8 (SQLite
/// does not check) keeps its bytes as a blob, which formats identically.
fn convert(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => Value::Text(text.to_string()),
            Err(_) => Value::Blob(bytes.to_vec()),
        },
        ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{format_value, ColumnType};
    use crate::sqlnum;

    fn query(engine: &mut SqliteEngine, sql: &str) -> Vec<Vec<Value>> {
        engine.run(sql).unwrap().expect("a result set").rows
    }

    #[test]
    fn statements_queries_and_errors() {
        let mut engine = SqliteEngine::open().unwrap();
        assert_eq!(
            engine.run("CREATE TABLE t(a INTEGER, b TEXT, c REAL, d BLOB)"),
            Ok(None)
        );
        assert_eq!(
            engine.run("INSERT INTO t VALUES(1, 'x', 2.5, x'00ff'), (NULL, '', -0.5, NULL)"),
            Ok(None)
        );
        let rows = query(&mut engine, "SELECT a, b, c, d FROM t ORDER BY a");
        assert_eq!(
            rows,
            [
                vec![
                    Value::Null,
                    Value::Text(String::new()),
                    Value::Real(-0.5),
                    Value::Null
                ],
                vec![
                    Value::Integer(1),
                    Value::Text("x".into()),
                    Value::Real(2.5),
                    Value::Blob(vec![0, 0xff])
                ],
            ]
        );
        let empty = engine.run("SELECT a, b FROM t WHERE 0").unwrap().unwrap();
        assert_eq!((empty.columns, empty.rows.len()), (2, 0));
        assert!(engine.run("SELECT * FROM missing").is_err());
        assert!(engine.run("INSERT INTO").is_err());
    }

    #[test]
    fn errors_while_stepping_keep_the_rows_so_far() {
        let mut engine = SqliteEngine::open().unwrap();
        engine.run("CREATE TABLE t(x INTEGER)").unwrap();
        engine.run("INSERT INTO t VALUES(1<<63), (1<<63)").unwrap();
        let out = engine.run("SELECT sum(x) FROM t").unwrap().unwrap();
        assert_eq!((out.columns, out.rows.len()), (1, 0));
        assert_eq!(out.error.as_deref(), Some("integer overflow"));
        let fine = engine.run("SELECT count(*) FROM t").unwrap().unwrap();
        assert_eq!(
            (fine.rows, fine.error),
            (vec![vec![Value::Integer(2)]], None)
        );
    }

    #[test]
    fn several_statements_run_in_order() {
        let mut engine = SqliteEngine::open().unwrap();
        let out = engine
            .run("CREATE TABLE t(x); INSERT INTO t VALUES(7); SELECT x FROM t;")
            .unwrap()
            .unwrap();
        assert_eq!(out.rows, [vec![Value::Integer(7)]]);
    }

    #[test]
    fn fresh_engines_are_empty() {
        let mut first = SqliteEngine::open().unwrap();
        first.run("CREATE TABLE t(x)").unwrap();
        let mut second = SqliteEngine::open().unwrap();
        assert!(second.run("SELECT * FROM t").is_err());
    }

    #[test]
    fn invalid_utf8_text_keeps_its_bytes() {
        let mut engine = SqliteEngine::open().unwrap();
        let rows = query(&mut engine, "SELECT CAST(x'61ff62' AS TEXT)");
        assert_eq!(rows, [vec![Value::Blob(vec![0x61, 0xff, 0x62])]]);
        assert_eq!(format_value(&rows[0][0], ColumnType::Text), "a@b");
    }

    /// Doubles covering the formatting edge cases: halves at the third
    /// decimal, 15-16 significant digits, exponent switches, extremes.
    fn interesting_doubles() -> Vec<f64> {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            0.1,
            0.2,
            0.3,
            1.0 / 3.0,
            2.0 / 3.0,
            0.0005,
            0.0015,
            0.0025,
            1.0005,
            2.0005,
            1.2345,
            9.9995,
            99.9995,
            999.9995,
            0.00049999,
            1e-4,
            1e-5,
            1.5e-5,
            123456.789,
            1e14,
            1e15,
            1e16,
            1e17,
            1e20,
            1e21,
            1e100,
            1e-100,
            1e300,
            1e-300,
            12345678901234.567,
            1234567890123456.0,
            9007199254740993.0,
            123456789012345678.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            4.35,
            2.675,
            1.005,
            8.345,
            0.125,
            0.375,
            -0.0004,
            -0.0005,
            -2.5,
            99999999999999.99,
            0.999999999999999,
            0.9999999999999999,
        ];
        // A deterministic spread over many magnitudes (xorshift).
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mantissa = (state >> 11) as f64 / (1u64 << 53) as f64;
            let exponent = (state % 41) as i32 - 20;
            let sign = if state & 1 == 0 { 1.0 } else { -1.0 };
            values.push(sign * mantissa * 10f64.powi(exponent));
            values.push(((state >> 20) % 2_000_000) as f64 / 1000.0 - 1000.0);
        }
        values
    }

    /// The formatting of REAL values must match SQLite's own printf.
    #[test]
    fn real_formatting_matches_sqlite() {
        let engine = SqliteEngine::open().unwrap();
        let mut stmt = engine
            .conn
            .prepare("SELECT printf('%.3f', ?1), CAST(?1 AS TEXT), CAST(?1 AS INTEGER)")
            .unwrap();
        for value in interesting_doubles() {
            let (fixed, text, integer): (String, String, i64) = stmt
                .query_row([value], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .unwrap();
            assert_eq!(
                sqlnum::format_real_fixed3(value),
                fixed,
                "%.3f of {value:e}"
            );
            assert_eq!(sqlnum::format_real_text(value), text, "text of {value:e}");
            assert_eq!(sqlnum::real_to_i64(value), integer, "integer of {value:e}");
        }
    }

    /// Text to number conversions must match SQLite's CAST, which uses the
    /// same routines as sqlite3_column_int64/double.
    #[test]
    fn text_conversions_match_sqlite() {
        let engine = SqliteEngine::open().unwrap();
        let mut stmt = engine
            .conn
            .prepare("SELECT CAST(?1 AS INTEGER), CAST(?1 AS REAL)")
            .unwrap();
        let samples = [
            "",
            " ",
            "0",
            "-0",
            "+5",
            "42",
            " \t\n42 ",
            "-17abc",
            "1.9",
            "-1.9",
            "1e5",
            "1.5e3",
            ".5",
            "5.",
            "-.5",
            ".",
            "-",
            "+",
            "e5",
            "1e",
            "1e+",
            "2E-3",
            "abc",
            "0x1A",
            "inf",
            "nan",
            "00012",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999",
            "1e400",
            "-1e400",
            "1e-400",
            "123456789012345678901234567890",
            "3.14159265358979323846",
            "  -2.5e-3xyz",
            "1.5.5",
            "12 34",
            "\u{b}7",
            "\u{c}8",
        ];
        for text in samples {
            let (integer, real): (i64, f64) = stmt
                .query_row([text], |row| Ok((row.get(0)?, row.get(1)?)))
                .unwrap();
            assert_eq!(
                sqlnum::text_to_i64(text.as_bytes()),
                integer,
                "integer of {text:?}"
            );
            let ours = sqlnum::text_to_f64(text.as_bytes());
            assert_eq!(
                ours.to_bits(),
                real.to_bits(),
                "real of {text:?}: {ours:e} vs {real:e}"
            );
        }
    }
}
