//! The schema and the rows survive closing and reopening a database.

use dosql::sql::{Database, Session, Value};

fn count(db: &mut Database, s: &mut Session, sql: &str) -> i64 {
    match db.execute(s, sql, &[]).unwrap()[0].rows[0][0] {
        Value::Integer(i) => i,
        ref other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn schema_and_rows_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut db = Database::open_dir(dir.path()).unwrap();
        let mut s = Session::new();
        db.execute(
            &mut s,
            "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT UNIQUE, c);
             CREATE INDEX tc ON t(c);
             CREATE VIEW v AS SELECT b FROM t WHERE c > 1;
             INSERT INTO t VALUES (1, 'x', 1), (2, 'y', 2), (3, 'z', 3);
             CREATE TABLE gone(x); DROP TABLE gone;",
            &[],
        )
        .unwrap();
    }
    let mut db = Database::open_dir(dir.path()).unwrap();
    let mut s = Session::new();
    assert_eq!(count(&mut db, &mut s, "SELECT count(*) FROM t"), 3);
    assert_eq!(count(&mut db, &mut s, "SELECT count(*) FROM v"), 2);
    assert_eq!(count(&mut db, &mut s, "SELECT a FROM t WHERE c = 3"), 3);
    assert!(db.execute(&mut s, "SELECT * FROM gone", &[]).is_err());
    // The reloaded UNIQUE index still enforces.
    assert!(db
        .execute(&mut s, "INSERT INTO t VALUES (4, 'x', 4)", &[])
        .is_err());
    // New rowids continue after the stored ones.
    let r = db
        .execute(&mut s, "INSERT INTO t(b) VALUES ('w')", &[])
        .unwrap();
    assert_eq!(r[0].last_insert_rowid, 4);
    let plan = db
        .execute(
            &mut s,
            "EXPLAIN QUERY PLAN SELECT * FROM t WHERE c = 1",
            &[],
        )
        .unwrap();
    assert!(matches!(&plan[0].rows[0][3], Value::Text(t) if t.contains("USING INDEX tc")));
}

#[test]
fn triggers_survive_reopen_in_creation_order() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut db = Database::open_dir(dir.path()).unwrap();
        let mut s = Session::new();
        db.execute(
            &mut s,
            "CREATE TABLE t(a); CREATE TABLE log(x);
             CREATE TRIGGER zz AFTER INSERT ON t BEGIN INSERT INTO log VALUES ('zz' || new.a); END;
             CREATE TRIGGER aa AFTER INSERT ON t WHEN new.a > 1 BEGIN INSERT INTO log VALUES ('aa' || new.a); END;
             CREATE TRIGGER t AFTER DELETE ON t BEGIN INSERT INTO log VALUES ('del'); END;
             CREATE TRIGGER gone AFTER INSERT ON t BEGIN INSERT INTO log VALUES ('gone'); END;
             DROP TRIGGER gone;",
            &[],
        )
        .unwrap();
    }
    let mut db = Database::open_dir(dir.path()).unwrap();
    let mut s = Session::new();
    db.execute(&mut s, "INSERT INTO t VALUES (2); DELETE FROM t", &[])
        .unwrap();
    let r = db
        .execute(&mut s, "SELECT group_concat(x) FROM log", &[])
        .unwrap();
    // Newest first, as before the reopen; the dropped trigger stays gone.
    assert_eq!(r[0].rows[0][0], Value::Text("aa2,zz2,del".into()));
    db.execute(
        &mut s,
        "DROP TABLE t; CREATE TABLE t(a); INSERT INTO t VALUES (1)",
        &[],
    )
    .unwrap();
    drop(db);
    let mut db = Database::open_dir(dir.path()).unwrap();
    assert_eq!(count(&mut db, &mut s, "SELECT count(*) FROM log"), 3);
    assert!(db
        .execute(
            &mut s,
            "CREATE TRIGGER zz AFTER INSERT ON t BEGIN SELECT 1; END",
            &[]
        )
        .is_ok());
}

#[test]
fn table_constraint_conflict_clauses_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut db = Database::open_dir(dir.path()).unwrap();
        let mut s = Session::new();
        db.execute(
            &mut s,
            "CREATE TABLE t(a, b, UNIQUE (a) ON CONFLICT REPLACE); INSERT INTO t VALUES (1, 'x')",
            &[],
        )
        .unwrap();
    }
    let mut db = Database::open_dir(dir.path()).unwrap();
    let mut s = Session::new();
    db.execute(&mut s, "INSERT INTO t VALUES (1, 'y')", &[])
        .unwrap();
    assert_eq!(count(&mut db, &mut s, "SELECT count(*) FROM t"), 1);
}
