//! The cache of bound statements (sql/prepared.rs): a repeated text runs
//! its cached plan, and nothing stale is ever served.

use dosql::sql::{Database, Session, Value};

fn rows(db: &mut Database, s: &mut Session, sql: &str, params: &[Value]) -> Vec<Vec<Value>> {
    db.execute(s, sql, params).unwrap().pop().unwrap().rows
}

#[test]
fn repeated_statements_reuse_their_plan_with_fresh_parameters() {
    let mut db = Database::open_memory().unwrap();
    let mut s = Session::new();
    db.execute(
        &mut s,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)",
        &[],
    )
    .unwrap();
    for i in 0..3 {
        let v = Value::Text(format!("v{i}"));
        db.execute(
            &mut s,
            "INSERT INTO t VALUES (?1, ?2)",
            &[Value::Integer(i), v],
        )
        .unwrap();
    }
    let (hits_before, _) = db.plan_cache_stats();
    for i in 0..3 {
        let got = rows(
            &mut db,
            &mut s,
            "SELECT v FROM t WHERE id = ?1",
            &[Value::Integer(i)],
        );
        assert_eq!(got, vec![vec![Value::Text(format!("v{i}"))]]);
    }
    // The second and third SELECT run the cached plan.
    assert_eq!(db.plan_cache_stats().0 - hits_before, 2);
}

#[test]
fn a_schema_change_invalidates_cached_plans() {
    let mut db = Database::open_memory().unwrap();
    let mut s = Session::new();
    db.execute(&mut s, "CREATE TABLE t(a); INSERT INTO t VALUES (1)", &[])
        .unwrap();
    assert_eq!(
        rows(&mut db, &mut s, "SELECT * FROM t", &[]),
        vec![vec![Value::Integer(1)]]
    );
    db.execute(&mut s, "ALTER TABLE t ADD COLUMN b DEFAULT 7", &[])
        .unwrap();
    assert_eq!(
        rows(&mut db, &mut s, "SELECT * FROM t", &[]),
        vec![vec![Value::Integer(1), Value::Integer(7)]]
    );
    // Inside a transaction that changes the schema, too.
    db.execute(&mut s, "BEGIN; DROP TABLE t; CREATE TABLE t(x, y, z)", &[])
        .unwrap();
    db.execute(&mut s, "INSERT INTO t VALUES (1, 2, 3)", &[])
        .unwrap();
    assert_eq!(rows(&mut db, &mut s, "SELECT * FROM t", &[]).len(), 1);
    assert_eq!(rows(&mut db, &mut s, "SELECT * FROM t", &[])[0].len(), 3);
    db.execute(&mut s, "ROLLBACK", &[]).unwrap();
    assert_eq!(rows(&mut db, &mut s, "SELECT * FROM t", &[])[0].len(), 2);
}

#[test]
fn session_values_and_subqueries_are_never_stale() {
    let mut db = Database::open_memory().unwrap();
    let mut s = Session::new();
    db.execute(&mut s, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)", &[])
        .unwrap();
    for i in 1..=3 {
        db.execute(&mut s, "INSERT INTO t VALUES (?1, 0)", &[Value::Integer(i)])
            .unwrap();
        assert_eq!(
            rows(&mut db, &mut s, "SELECT last_insert_rowid()", &[]),
            vec![vec![Value::Integer(i)]]
        );
        assert_eq!(
            rows(&mut db, &mut s, "SELECT (SELECT count(*) FROM t)", &[]),
            vec![vec![Value::Integer(i)]]
        );
    }
}
