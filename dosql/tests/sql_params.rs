//! Parameter binding compared with SQLite: positional, numbered and named
//! parameters bind to the same values in both, wherever they appear in the
//! statement (the engine numbers them in textual order, like SQLite).

use dosql::sql::{Database, Session, Value};

fn dosql_row(db: &mut Database, sql: &str, params: &[Value]) -> Vec<Value> {
    let mut s = Session::new();
    let mut r = db.execute(&mut s, sql, params).unwrap();
    r.pop().unwrap().rows.remove(0)
}

fn sqlite_row(sql: &str, params: &[i64]) -> Vec<Value> {
    let c = rusqlite::Connection::open_in_memory().unwrap();
    c.execute_batch("CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 2), (3, 4);")
        .unwrap();
    let mut stmt = c.prepare(sql).unwrap();
    let n = stmt.column_count();
    let p: Vec<&dyn rusqlite::ToSql> = params.iter().map(|p| p as &dyn rusqlite::ToSql).collect();
    stmt.query_row(p.as_slice(), |row| {
        Ok((0..n)
            .map(|i| match row.get::<_, rusqlite::types::Value>(i).unwrap() {
                rusqlite::types::Value::Integer(i) => Value::Integer(i),
                rusqlite::types::Value::Null => Value::Null,
                other => panic!("unexpected {other:?}"),
            })
            .collect())
    })
    .unwrap()
}

#[test]
fn parameters_bind_like_sqlite() {
    let mut db = Database::open_memory().unwrap();
    let mut s = Session::new();
    db.execute(
        &mut s,
        "CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 2), (3, 4)",
        &[],
    )
    .unwrap();
    let params = [10, 20, 3, 40, 50, 60];
    for sql in [
        "SELECT ?, ? FROM t WHERE a = ?",
        "SELECT ?2, ?, ? FROM t WHERE a = ?3",
        "SELECT :x, ?, :x, @y FROM t WHERE a = ?3 ORDER BY ?",
        "SELECT b, ? FROM t WHERE a = ?3 LIMIT ?",
        "SELECT (SELECT ?), ? FROM t WHERE a IN (?, 3) GROUP BY a HAVING ? > 0",
        "SELECT ?4, ? FROM t WHERE a = ?3",
    ] {
        let values: Vec<Value> = params.iter().map(|&p| Value::Integer(p)).collect();
        let names = db.parameter_names(sql).unwrap();
        let count = names[0].len();
        let got = dosql_row(&mut db, sql, &values[..count]);
        assert_eq!(got, sqlite_row(sql, &params[..count]), "{sql}");
    }
}

#[test]
fn parameter_names_follow_sqlite() {
    let mut db = Database::open_memory().unwrap();
    let names = db
        .parameter_names("SELECT :x, ?, :x, @y; SELECT $z")
        .unwrap();
    assert_eq!(
        names,
        vec![
            vec![Some(":x".to_string()), None, Some("@y".to_string())],
            vec![Some("$z".to_string())]
        ]
    );
    let c = rusqlite::Connection::open_in_memory().unwrap();
    let stmt = c.prepare("SELECT :x, ?, :x, @y").unwrap();
    assert_eq!(stmt.parameter_count(), 3);
    assert_eq!(stmt.parameter_name(1), Some(":x"));
    assert_eq!(stmt.parameter_name(2), None);
    assert_eq!(stmt.parameter_name(3), Some("@y"));
}
