//! ALTER TABLE compared with real SQLite (rusqlite, bundled): the same
//! statements in both engines, then the same queries must give the same
//! rows, and refused changes the same errors. Also: changes survive
//! closing and reopening the database.

mod sql_pair;

use dosql::sql::{Database, Session, Value};
use sql_pair::Pair;

const SETUP: &str = "
    CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INTEGER UNIQUE, c REAL CHECK (c >= 0));
    CREATE INDEX ta ON t(a);
    CREATE VIEW v AS SELECT id, a FROM t WHERE a > 'b';
    INSERT INTO t VALUES (1, 'a', 10, 1.5), (2, 'c', 20, 0), (3, 'd', NULL, 2);
";

#[test]
fn add_column_reads_defaults_for_old_rows() {
    let mut p = Pair::new(SETUP);
    p.exec_both(
        "ALTER TABLE t ADD COLUMN d INTEGER DEFAULT 7;
         ALTER TABLE t ADD e TEXT NOT NULL DEFAULT 'x';
         ALTER TABLE t ADD COLUMN f;
         ALTER TABLE t ADD COLUMN g REAL DEFAULT -2;
         ALTER TABLE t ADD COLUMN h TEXT DEFAULT 12 CHECK (h <> 'no');
         ALTER TABLE t ADD COLUMN r INTEGER REFERENCES t(id);
         ALTER TABLE t ADD COLUMN k BLOB DEFAULT x'0102';
         INSERT INTO t(id, a, d) VALUES (4, 'e', NULL);
         UPDATE t SET f = id * 2 WHERE id = 1;",
    );
    p.check_all(&[
        "SELECT * FROM t ORDER BY id",
        "SELECT id, typeof(d), typeof(g), typeof(h) FROM t ORDER BY id",
        "SELECT count(*) FROM t WHERE d = 7",
        "SELECT * FROM v ORDER BY id",
        "INSERT INTO t(id, a, h) VALUES (5, 'z', 'no')",
        // SQLite's restrictions.
        "ALTER TABLE t ADD COLUMN p INTEGER PRIMARY KEY",
        "ALTER TABLE t ADD COLUMN u UNIQUE",
        "ALTER TABLE t ADD COLUMN n NOT NULL",
        "ALTER TABLE t ADD COLUMN n NOT NULL DEFAULT NULL",
        "ALTER TABLE t ADD COLUMN q DEFAULT (1 + 1)",
        "ALTER TABLE t ADD COLUMN q DEFAULT CURRENT_TIME",
        "ALTER TABLE t ADD COLUMN a",
        "ALTER TABLE nosuch ADD COLUMN z",
    ]);
}

#[test]
fn rename_column_updates_indexes_views_and_checks() {
    let mut p = Pair::new(SETUP);
    p.exec_both("ALTER TABLE t RENAME COLUMN a TO name; ALTER TABLE t RENAME c TO cost;");
    p.check_all(&[
        "SELECT * FROM t ORDER BY id",
        "SELECT * FROM v ORDER BY id",
        "SELECT id FROM t WHERE name = 'c'",
        "INSERT INTO t VALUES (9, 'q', 90, -1)",
        "SELECT a FROM t",
        "ALTER TABLE t RENAME COLUMN nosuch TO z",
        "ALTER TABLE t RENAME COLUMN b TO name",
    ]);
    p.exec_both("INSERT INTO t VALUES (4, 'e', 40, 4)");
    p.check_all(&["SELECT id, name, cost FROM t WHERE name >= 'd' ORDER BY name"]);
}

#[test]
fn rename_table_moves_rows_indexes_and_views() {
    let mut p = Pair::new(SETUP);
    p.exec_both("ALTER TABLE t RENAME TO u;");
    p.check_all(&[
        "SELECT * FROM u ORDER BY id",
        "SELECT * FROM v ORDER BY id",
        "SELECT id FROM u WHERE a = 'd'",
        "SELECT * FROM t",
        // The UNIQUE index moved with the table and still enforces.
        "INSERT INTO u VALUES (5, 'z', 10, 1)",
        "ALTER TABLE u RENAME TO v",
        "ALTER TABLE nosuch RENAME TO w",
    ]);
    p.exec_both("INSERT INTO u VALUES (6, 'y', 60, 6); CREATE TABLE t(x);");
    p.check_all(&["SELECT count(*) FROM u", "SELECT count(*) FROM t"]);
}

#[test]
fn drop_column_rewrites_rows_under_sqlite_rules() {
    let mut p = Pair::new(SETUP);
    p.exec_both("ALTER TABLE t ADD COLUMN d DEFAULT 5; ALTER TABLE t DROP COLUMN d;");
    p.check_all(&[
        "SELECT * FROM t ORDER BY id",
        "ALTER TABLE t DROP COLUMN id",
        "ALTER TABLE t DROP COLUMN b",
        "ALTER TABLE t DROP COLUMN a",
        "ALTER TABLE t DROP COLUMN c",
        "ALTER TABLE t DROP COLUMN nosuch",
    ]);
    p.exec_both(
        "CREATE TABLE w(x, y, z); INSERT INTO w VALUES (1, 2, 3), (4, 5, 6);
         ALTER TABLE w DROP COLUMN y;
         INSERT INTO w VALUES (7, 8);",
    );
    p.check_all(&["SELECT * FROM w ORDER BY x", "ALTER TABLE w DROP COLUMN y"]);
    p.exec_both("CREATE TABLE one(x); ");
    p.check_all(&["ALTER TABLE one DROP COLUMN x"]);
}

#[test]
fn alter_table_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut db = Database::open_dir(dir.path()).unwrap();
        let mut s = Session::new();
        db.execute(&mut s, SETUP, &[]).unwrap();
        db.execute(
            &mut s,
            "ALTER TABLE t ADD COLUMN d INTEGER DEFAULT 7;
             ALTER TABLE t RENAME COLUMN a TO name;
             ALTER TABLE t RENAME TO u;
             ALTER TABLE u DROP COLUMN c;",
            &[],
        )
        .unwrap();
    }
    let mut db = Database::open_dir(dir.path()).unwrap();
    let mut s = Session::new();
    let rows = db
        .execute(&mut s, "SELECT id, name, b, d FROM u WHERE name = 'c'", &[])
        .unwrap();
    assert_eq!(
        rows[0].rows,
        [vec![
            Value::Integer(2),
            Value::Text("c".into()),
            Value::Integer(20),
            Value::Integer(7)
        ]]
    );
    let rows = db.execute(&mut s, "SELECT count(*) FROM v", &[]).unwrap();
    assert_eq!(rows[0].rows, [vec![Value::Integer(2)]]);
    assert!(db.execute(&mut s, "SELECT * FROM t", &[]).is_err());
}
