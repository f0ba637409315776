//! Shared harness of the `sql_value_diff*` tests: evaluates a case in real
//! SQLite (bundled with rusqlite, operands bound as parameters so no
//! literal parsing is involved) and compares it with DoSQL's result.
//!
//! Result type and value must match exactly (reals by `==`); errors must
//! match as errors. All mismatches of a test are collected and reported
//! together.

#![allow(dead_code)]

use dosql::sql::func::{self, FuncContext};
use dosql::sql::value::Value;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;

pub struct Diff {
    pub conn: Connection,
    pub cases: usize,
    pub failures: Vec<String>,
}

pub fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Integer(i) => SqlValue::Integer(*i),
        Value::Real(r) => SqlValue::Real(*r),
        Value::Text(t) => SqlValue::Text(t.clone()),
        Value::Blob(b) => SqlValue::Blob(b.clone()),
    }
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

pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Real(x), Value::Real(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => a == b,
    }
}

impl Diff {
    pub fn new() -> Diff {
        Diff {
            conn: Connection::open_in_memory().expect("open SQLite"),
            cases: 0,
            failures: Vec::new(),
        }
    }

    pub fn sqlite(&self, sql: &str, args: &[Value]) -> Result<Value, String> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| e.to_string())?;
        let params: Vec<SqlValue> = args.iter().map(to_sql).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(|e| e.to_string())?;
        let row = rows.next().map_err(|e| e.to_string())?.ok_or("no row")?;
        Ok(from_sql(row.get_ref(0).map_err(|e| e.to_string())?))
    }

    pub fn check(&mut self, sql: &str, args: &[Value], ours: Result<Value, String>) {
        self.cases += 1;
        let theirs = self.sqlite(sql, args);
        let ok = match (&theirs, &ours) {
            (Ok(a), Ok(b)) => same(a, b),
            (Err(_), Err(_)) => true,
            _ => false,
        };
        if !ok {
            self.failures
                .push(format!("{sql} {args:?}: sqlite {theirs:?}, dosql {ours:?}"));
        }
    }

    pub fn call(&mut self, name: &str, args: &[Value]) {
        let ours = match func::scalar(name, args.len()) {
            Some(f) => f(args, &mut FuncContext::at(NOW_MS, 1)).map_err(|e| e.to_string()),
            None => Err("no such function".into()),
        };
        // SQLite reads the real clock for 'now': give it the same instant
        // as text, which denotes the same time value.
        let mut theirs: Vec<Value> = args
            .iter()
            .map(|a| {
                if matches!(a, Value::Text(s) if s.eq_ignore_ascii_case("now")) {
                    t(NOW_TEXT)
                } else {
                    a.clone()
                }
            })
            .collect();
        if args.is_empty() && ["date", "time", "datetime", "unixepoch", "julianday"].contains(&name)
        {
            theirs.push(t(NOW_TEXT));
        }
        let params: Vec<String> = (1..=theirs.len()).map(|i| format!("?{i}")).collect();
        let sql = format!("SELECT {name}({})", params.join(", "));
        self.check(&sql, &theirs, ours);
    }

    pub fn finish(self, what: &str) {
        let n = self.failures.len();
        for f in self.failures.iter().take(60) {
            let cut: String = f.chars().take(400).collect();
            eprintln!("MISMATCH {cut}");
        }
        assert_eq!(
            n, 0,
            "{what}: {n} of {} cases differ from SQLite",
            self.cases
        );
        eprintln!("{what}: {} cases agree with SQLite", self.cases);
    }
}

/// 2024-02-29 13:45:30.250 UTC, the 'now' of date tests.
pub const NOW_MS: u64 = 1_709_214_330_250;
pub const NOW_TEXT: &str = "2024-02-29 13:45:30.250";

pub fn t(s: &str) -> Value {
    Value::Text(s.into())
}

pub fn values() -> Vec<Value> {
    let mut v = vec![Value::Null];
    for i in [
        0,
        1,
        -1,
        2,
        3,
        7,
        -7,
        10,
        255,
        i64::MAX,
        i64::MIN,
        i64::MAX - 1,
        i64::MIN + 1,
        1 << 53,
        (1 << 53) + 1,
        4503599627370497,
        1_000_000_007,
    ] {
        v.push(Value::Integer(i));
    }
    for r in [
        0.0,
        -0.0,
        0.5,
        -0.5,
        1.5,
        -2.5,
        2.675,
        0.1,
        1e-7,
        1e15,
        1e16,
        1e20,
        -1e20,
        123456789012345678.0,
        9.223372036854776e18,
        -9.3e18,
        1e308,
        4503599627370497.0,
        3.0,
        1.0 / 3.0,
        2.5e-300,
        100.0,
        1e14,
        999999999999999.9,
        0.30000000000000004,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        v.push(Value::Real(r));
    }
    for s in [
        "",
        "abc",
        "ABC",
        "12",
        "  12abc",
        "1e5",
        "0x10",
        "-",
        "+",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "1.5",
        " 3 ",
        "12.0",
        ".5",
        "5.",
        ".",
        "é",
        "1e400",
        "-0",
        "1e",
        "1e+",
        "00012",
        "3.0e2x",
        "\t7\n",
        "1.5e3 ",
        "2.0",
        "99999999999999999999",
        "-1.25e-3",
    ] {
        v.push(t(s));
    }
    for b in [&b""[..], b"12", b"\x00\xff", b"1.5", b"abc"] {
        v.push(Value::Blob(b.to_vec()));
    }
    v
}
