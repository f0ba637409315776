//! Values and names as SQL text, exactly.
//!
//! ```text
//!   NULL            NULL
//!   INTEGER         -9223372036854775808        (all 64 bits, no rounding)
//!   REAL            1.0   0.1   1e+300   1e999 / -1e999 for ±Infinity
//!   TEXT            'it''s'
//!   BLOB            X'00FF'
//!   identifier      "we""ird"   (plain names stay bare)
//! ```
//!
//! Invariant: parsing [`sql_literal`]'s output gives back the same value,
//! bit for bit for reals (Rust prints the shortest text that round-trips).
//! This is what makes `.dump` exact.

use std::fmt::Write as _;

use shared_types::Value;

/// A value as a SQL literal.
pub fn sql_literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => real_literal(*r),
        Value::Text(t) => format!("'{}'", t.replace('\'', "''")),
        Value::Blob(b) => {
            let mut s = String::with_capacity(3 + 2 * b.len());
            s.push_str("X'");
            for byte in b {
                write!(s, "{byte:02X}").expect("writing to a String");
            }
            s.push('\'');
            s
        }
    }
}

/// A real as SQL text that reads back as the same real (never as an
/// integer: an integral value keeps its `.0`).
pub fn real_literal(r: f64) -> String {
    if r.is_nan() {
        // SQLite never stores NaN; it becomes NULL.
        return "NULL".into();
    }
    if r.is_infinite() {
        return if r > 0.0 { "1e999" } else { "-1e999" }.into();
    }
    // `{:?}` is Rust's shortest round-trip form: "1.0", "0.1", "1e300".
    let s = format!("{r:?}");
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// A value for display in a table: like a literal, but text unquoted and
/// reals as SQLite prints them.
pub fn display(v: &Value) -> String {
    match v {
        Value::Text(t) => t.clone(),
        Value::Real(r) if r.is_infinite() => if *r > 0.0 { "Inf" } else { "-Inf" }.into(),
        other => sql_literal(other),
    }
}

/// An identifier, quoted only when it must be (not a plain name, or a
/// keyword that could be mistaken for syntax).
pub fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !is_keyword(name);
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Keywords that cannot stand bare as a table or column name. Quoting too
/// much is harmless, so the list errs on the side of inclusion.
fn is_keyword(name: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "ABORT",
        "ACTION",
        "ADD",
        "AFTER",
        "ALL",
        "ALTER",
        "ANALYZE",
        "AND",
        "AS",
        "ASC",
        "ATTACH",
        "AUTOINCREMENT",
        "BEFORE",
        "BEGIN",
        "BETWEEN",
        "BY",
        "CASCADE",
        "CASE",
        "CAST",
        "CHECK",
        "COLLATE",
        "COLUMN",
        "COMMIT",
        "CONFLICT",
        "CONSTRAINT",
        "CREATE",
        "CROSS",
        "CURRENT",
        "CURRENT_DATE",
        "CURRENT_TIME",
        "CURRENT_TIMESTAMP",
        "DATABASE",
        "DEFAULT",
        "DEFERRABLE",
        "DEFERRED",
        "DELETE",
        "DESC",
        "DETACH",
        "DISTINCT",
        "DO",
        "DROP",
        "EACH",
        "ELSE",
        "END",
        "ESCAPE",
        "EXCEPT",
        "EXCLUSIVE",
        "EXISTS",
        "EXPLAIN",
        "FAIL",
        "FILTER",
        "FOR",
        "FOREIGN",
        "FROM",
        "FULL",
        "GLOB",
        "GROUP",
        "HAVING",
        "IF",
        "IGNORE",
        "IMMEDIATE",
        "IN",
        "INDEX",
        "INDEXED",
        "INITIALLY",
        "INNER",
        "INSERT",
        "INSTEAD",
        "INTERSECT",
        "INTO",
        "IS",
        "ISNULL",
        "JOIN",
        "KEY",
        "LEFT",
        "LIKE",
        "LIMIT",
        "MATCH",
        "NATURAL",
        "NO",
        "NOT",
        "NOTHING",
        "NOTNULL",
        "NULL",
        "OF",
        "OFFSET",
        "ON",
        "OR",
        "ORDER",
        "OUTER",
        "OVER",
        "PLAN",
        "PRAGMA",
        "PRIMARY",
        "QUERY",
        "RAISE",
        "RECURSIVE",
        "REFERENCES",
        "REGEXP",
        "REINDEX",
        "RELEASE",
        "RENAME",
        "REPLACE",
        "RESTRICT",
        "RETURNING",
        "RIGHT",
        "ROLLBACK",
        "ROW",
        "ROWID",
        "SAVEPOINT",
        "SELECT",
        "SET",
        "TABLE",
        "TEMP",
        "TEMPORARY",
        "THEN",
        "TO",
        "TRANSACTION",
        "TRIGGER",
        "UNION",
        "UNIQUE",
        "UPDATE",
        "USING",
        "VACUUM",
        "VALUES",
        "VIEW",
        "VIRTUAL",
        "WHEN",
        "WHERE",
        "WINDOW",
        "WITH",
        "WITHOUT",
    ];
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_exact() {
        let cases = [
            (Value::Null, "NULL"),
            (Value::Integer(i64::MIN), "-9223372036854775808"),
            (Value::Integer(i64::MAX), "9223372036854775807"),
            (Value::Real(1.0), "1.0"),
            (Value::Real(-0.0), "-0.0"),
            (Value::Real(0.1), "0.1"),
            (Value::Real(1e300), "1e300"),
            (Value::Real(1.5e-7), "1.5e-7"),
            (Value::Real(f64::INFINITY), "1e999"),
            (Value::Real(f64::NEG_INFINITY), "-1e999"),
            (Value::Text("it's".into()), "'it''s'"),
            (Value::Text("a\nb".into()), "'a\nb'"),
            (Value::Blob(vec![0, 0xab, 0xff]), "X'00ABFF'"),
            (Value::Blob(vec![]), "X''"),
        ];
        for (v, want) in cases {
            assert_eq!(sql_literal(&v), want, "{v:?}");
        }
    }

    #[test]
    fn reals_round_trip_through_their_text() {
        for r in [
            0.1,
            1.0 / 3.0,
            123456789.125,
            5e-324,
            f64::MAX,
            -2.5e15,
            9007199254740993.0,
        ] {
            let text = real_literal(r);
            assert_eq!(
                text.parse::<f64>().unwrap().to_bits(),
                r.to_bits(),
                "{text}"
            );
        }
    }

    #[test]
    fn identifiers_are_quoted_when_needed() {
        assert_eq!(ident("users"), "users");
        assert_eq!(ident("_t2"), "_t2");
        assert_eq!(ident("order"), "\"order\"");
        assert_eq!(ident("two words"), "\"two words\"");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(ident("1st"), "\"1st\"");
        assert_eq!(ident(""), "\"\"");
    }

    #[test]
    fn display_is_unquoted() {
        assert_eq!(display(&Value::Text("a'b".into())), "a'b");
        assert_eq!(display(&Value::Real(2.0)), "2.0");
        assert_eq!(display(&Value::Blob(vec![1])), "X'01'");
    }
}
