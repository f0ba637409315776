//! Golden tests of the SQL pipeline: SQL in, expected rows out.

mod golden_common;

use dosql::sql::{Session, Value};
use dosql::Error;
use golden_common::{open, show, Db};

fn setup() -> Db {
    let mut d = open();
    d.exec(
        "CREATE TABLE t1(a INTEGER PRIMARY KEY, b TEXT, c REAL);
         INSERT INTO t1 VALUES (1, 'one', 1.5), (2, 'two', NULL), (3, 'three', 3.0);
         CREATE TABLE t2(a INTEGER, d TEXT COLLATE NOCASE);
         INSERT INTO t2 VALUES (1, 'x'), (1, 'y'), (3, 'Z'), (4, 'w');",
    );
    d
}

#[test]
fn select_expressions_and_null_logic() {
    let mut d = open();
    assert_eq!(
        d.rows("SELECT 1 + 2 * 3, 7 / 2, 7 % 3, 'a' || 'b', -(-4)"),
        ["7|3|1|ab|4"]
    );
    assert_eq!(
        d.rows("SELECT NULL AND 0, NULL OR 1, NOT NULL, NULL = NULL"),
        ["0|1|NULL|NULL"]
    );
    assert_eq!(
        d.rows("SELECT 2 BETWEEN 1 AND 3, 5 NOT BETWEEN 1 AND 3, 3 IN (1, NULL), 3 IN (3, NULL)"),
        ["1|1|NULL|1"]
    );
    assert_eq!(
        d.rows("SELECT CASE 2 WHEN 1 THEN 'a' WHEN 2 THEN 'b' END, CASE WHEN 0 THEN 1 ELSE 9 END"),
        ["b|9"]
    );
    assert_eq!(
        d.rows("SELECT CAST('12abc' AS INTEGER), CAST(3 AS TEXT), typeof(CAST(1 AS REAL))"),
        ["12|3|real"]
    );
    assert_eq!(
        d.rows("SELECT 'abc' LIKE 'A%', 'abc' GLOB 'A*', NULL IS NULL, 1 IS NOT NULL"),
        ["1|0|1|1"]
    );
    assert_eq!(
        d.rows("SELECT coalesce(NULL, 2), abs(-3), x'4142'"),
        ["2|3|x[41, 42]"]
    );
}

#[test]
fn comparisons_apply_column_affinity() {
    let mut d = open();
    d.exec("CREATE TABLE t(i INTEGER, t TEXT, n); INSERT INTO t VALUES (10, '10', '10')");
    // INTEGER column vs text literal: numeric affinity on the literal.
    assert_eq!(d.rows("SELECT count(*) FROM t WHERE i = '10'"), ["1"]);
    // TEXT column vs integer literal: text affinity on the literal.
    assert_eq!(d.rows("SELECT count(*) FROM t WHERE t = 10"), ["1"]);
    // No affinity on either side: text never equals an integer.
    assert_eq!(d.rows("SELECT count(*) FROM t WHERE n = 10"), ["0"]);
    assert_eq!(
        d.rows("SELECT typeof(i), typeof(t), typeof(n) FROM t"),
        ["integer|text|text"]
    );
    // Collation from the column declaration.
    let mut d = setup();
    assert_eq!(d.rows("SELECT a FROM t2 WHERE d = 'z'"), ["3"]);
    assert_eq!(
        d.rows("SELECT count(*) FROM t2 WHERE d = 'Z' COLLATE BINARY"),
        ["1"]
    );
}

#[test]
fn joins() {
    let mut d = setup();
    assert_eq!(
        d.rows("SELECT t1.a, d FROM t1 JOIN t2 ON t1.a = t2.a ORDER BY d"),
        ["1|x", "1|y", "3|Z"]
    );
    assert_eq!(
        d.rows("SELECT t1.a, d FROM t1 LEFT JOIN t2 ON t1.a = t2.a ORDER BY t1.a, d"),
        ["1|x", "1|y", "2|NULL", "3|Z"]
    );
    assert_eq!(
        d.rows("SELECT a, b, d FROM t1 JOIN t2 USING (a) ORDER BY d"),
        ["1|one|x", "1|one|y", "3|three|Z"]
    );
    assert_eq!(
        d.rows("SELECT * FROM t1 NATURAL JOIN t2 WHERE d = 'z'"),
        ["3|three|3.0|Z"]
    );
    assert_eq!(d.rows("SELECT count(*) FROM t1, t2"), ["12"]);
    assert_eq!(
        d.rows(
            "SELECT x.a, y.b FROM t1 AS x, (SELECT a, b FROM t1 WHERE a > 1) AS y WHERE x.a = y.a"
        ),
        ["2|two", "3|three"]
    );
}

#[test]
fn grouping_ordering_and_limits() {
    let mut d = setup();
    assert_eq!(
        d.rows("SELECT a, count(*) FROM t2 GROUP BY a"),
        ["1|2", "3|1", "4|1"]
    );
    assert_eq!(
        d.rows("SELECT a, count(*) AS n FROM t2 GROUP BY a HAVING n > 1"),
        ["1|2"]
    );
    assert_eq!(
        d.rows("SELECT count(*), sum(a), max(d) FROM t2 WHERE a > 100"),
        ["0|NULL|NULL"]
    );
    assert_eq!(
        d.rows("SELECT DISTINCT a FROM t2 ORDER BY a DESC"),
        ["4", "3", "1"]
    );
    assert_eq!(
        d.rows("SELECT a FROM t2 ORDER BY 1 LIMIT 2 OFFSET 1"),
        ["1", "3"]
    );
    assert_eq!(
        d.rows("SELECT c FROM t1 ORDER BY c NULLS LAST"),
        ["1.5", "3.0", "NULL"]
    );
    assert_eq!(d.rows("SELECT b AS x FROM t1 ORDER BY x LIMIT 1"), ["one"]);
    assert_eq!(
        d.rows("SELECT d FROM t2 ORDER BY d COLLATE NOCASE DESC"),
        ["Z", "y", "x", "w"]
    );
}

#[test]
fn compound_and_ctes() {
    let mut d = setup();
    assert_eq!(
        d.rows("SELECT a FROM t1 UNION SELECT a FROM t2"),
        ["1", "2", "3", "4"]
    );
    assert_eq!(
        d.rows("SELECT a FROM t1 UNION ALL SELECT a FROM t2 ORDER BY 1 DESC LIMIT 2"),
        ["4", "3"]
    );
    assert_eq!(
        d.rows("SELECT a FROM t1 INTERSECT SELECT a FROM t2"),
        ["1", "3"]
    );
    assert_eq!(d.rows("SELECT a FROM t1 EXCEPT SELECT a FROM t2"), ["2"]);
    assert_eq!(
        d.rows("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5) SELECT sum(x) FROM n"),
        ["15"]
    );
    assert_eq!(
        d.rows("WITH big AS (SELECT a FROM t1 WHERE a > 1) SELECT count(*) FROM big"),
        ["2"]
    );
    assert_eq!(d.rows("VALUES (1, 'a'), (2, 'b')"), ["1|a", "2|b"]);
}

#[test]
fn subqueries() {
    let mut d = setup();
    assert_eq!(
        d.rows("SELECT a FROM t1 WHERE a IN (SELECT a FROM t2)"),
        ["1", "3"]
    );
    assert_eq!(
        d.rows("SELECT a FROM t1 WHERE NOT EXISTS (SELECT 1 FROM t2 WHERE t2.a = t1.a)"),
        ["2"]
    );
    assert_eq!(
        d.rows("SELECT a, (SELECT count(*) FROM t2 WHERE t2.a = t1.a) FROM t1"),
        ["1|2", "2|0", "3|1"]
    );
    assert_eq!(d.rows("SELECT (SELECT max(a) FROM t2)"), ["4"]);
}

#[test]
fn views() {
    let mut d = setup();
    d.exec("CREATE VIEW v AS SELECT a, b FROM t1 WHERE a >= 2");
    assert_eq!(d.rows("SELECT b FROM v ORDER BY a"), ["two", "three"]);
    assert!(matches!(
        d.err("CREATE VIEW v AS SELECT 1"),
        Error::InvalidInput(_)
    ));
    assert!(matches!(
        d.err("INSERT INTO v VALUES (1, 2)"),
        Error::InvalidInput(_)
    ));
    d.exec("DROP VIEW v");
    assert!(matches!(d.err("SELECT * FROM v"), Error::NotFound(_)));
    d.exec("DROP VIEW IF EXISTS v");
}

#[test]
fn dml_and_indexes() {
    let mut d = setup();
    d.exec("CREATE INDEX t2a ON t2(a)");
    d.exec("UPDATE t2 SET a = a + 10 WHERE d = 'x'");
    assert_eq!(d.rows("SELECT d FROM t2 WHERE a = 11"), ["x"]);
    assert_eq!(
        d.rows("SELECT d FROM t2 WHERE a BETWEEN 3 AND 4 ORDER BY d"),
        ["w", "Z"]
    );
    d.exec("DELETE FROM t2 WHERE a > 3");
    assert_eq!(d.rows("SELECT a, d FROM t2"), ["1|y", "3|Z"]);
    assert_eq!(d.rows("SELECT count(*) FROM t2 WHERE a = 11"), ["0"]);
    let r =
        d.db.execute(&mut d.s, "INSERT INTO t1(b) VALUES ('four'), ('five')", &[])
            .unwrap();
    assert_eq!((r[0].rows_affected, r[0].last_insert_rowid), (2, 5));
    assert_eq!(d.rows("SELECT last_insert_rowid()"), ["5"]);
    d.exec(
        "CREATE TABLE dv(a INTEGER DEFAULT 7, b TEXT DEFAULT 'x'); INSERT INTO dv DEFAULT VALUES",
    );
    assert_eq!(d.rows("SELECT * FROM dv"), ["7|x"]);
    d.exec("INSERT INTO dv SELECT a + 1, b || 'y' FROM dv");
    assert_eq!(d.rows("SELECT * FROM dv ORDER BY a"), ["7|x", "8|xy"]);
    d.exec("INSERT OR REPLACE INTO t1 VALUES (1, 'uno', 0)");
    assert_eq!(d.rows("SELECT b FROM t1 WHERE a = 1"), ["uno"]);
    d.exec("INSERT OR IGNORE INTO t1 VALUES (1, 'ignored', 0)");
    assert_eq!(d.rows("SELECT b FROM t1 WHERE rowid = 1"), ["uno"]);
}

#[test]
fn constraints_name_what_failed_and_leave_no_partial_effect() {
    let mut d = open();
    d.exec(
        "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT NOT NULL, c UNIQUE, d CHECK (d > 0));
         INSERT INTO t VALUES (1, 'x', 1, 1)",
    );
    let msg = |e: Error| match e {
        Error::Constraint(m) => m,
        other => panic!("expected a constraint error, got {other}"),
    };
    assert_eq!(
        msg(d.err("INSERT INTO t VALUES (2, NULL, 2, 1)")),
        "NOT NULL constraint failed: t.b"
    );
    assert_eq!(
        msg(d.err("INSERT INTO t VALUES (2, 'y', 1, 1)")),
        "UNIQUE constraint failed: t.c"
    );
    assert_eq!(
        msg(d.err("INSERT INTO t VALUES (1, 'y', 2, 1)")),
        "UNIQUE constraint failed: t.a"
    );
    assert!(
        msg(d.err("INSERT INTO t VALUES (2, 'y', 2, 0)")).starts_with("CHECK constraint failed")
    );
    // The second row fails: the first must not stay behind.
    d.err("INSERT INTO t VALUES (5, 'ok', 5, 5), (6, NULL, 6, 6)");
    assert_eq!(d.rows("SELECT count(*) FROM t"), ["1"]);
    // NULLs are distinct in UNIQUE columns.
    d.exec("INSERT INTO t VALUES (7, 'n', NULL, 1), (8, 'n', NULL, 1)");
    assert!(matches!(
        d.err("UPDATE t SET c = 1 WHERE a = 7"),
        Error::Constraint(_)
    ));
    assert!(matches!(d.err("SELECT nosuch FROM t"), Error::NotFound(m) if m.contains("nosuch")));
    assert!(matches!(d.err("SELECT * FROM nosuch"), Error::NotFound(m) if m.contains("nosuch")));
    assert!(matches!(d.err("SELEC 1"), Error::Syntax(m) if m.contains("Line: 1")));
}

#[test]
fn transactions_and_savepoints() {
    let mut d = open();
    d.exec("CREATE TABLE t(a)");
    d.exec("BEGIN; INSERT INTO t VALUES (1); SAVEPOINT s1; INSERT INTO t VALUES (2)");
    assert!(d.s.in_transaction());
    d.exec("ROLLBACK TO s1");
    assert_eq!(d.rows("SELECT a FROM t"), ["1"]);
    // A failing statement inside a transaction leaves the transaction open.
    d.err("INSERT INTO nosuch VALUES (1)");
    d.exec("RELEASE s1; COMMIT");
    assert!(!d.s.in_transaction());
    assert_eq!(d.rows("SELECT a FROM t"), ["1"]);
    d.exec("BEGIN; CREATE TABLE u(x); INSERT INTO t VALUES (3); ROLLBACK");
    assert_eq!(d.rows("SELECT count(*) FROM t"), ["1"]);
    assert!(matches!(d.err("SELECT * FROM u"), Error::NotFound(_)));
    assert!(d.db.execute(&mut d.s, "COMMIT", &[]).is_err());
    // Another session sees only committed data.
    let mut other = Session::new();
    d.exec("BEGIN; INSERT INTO t VALUES (9)");
    let r =
        d.db.execute(&mut other, "SELECT count(*) FROM t", &[])
            .unwrap();
    assert!(matches!(r[0].rows[0][0], Value::Integer(1)));
    d.exec("COMMIT");
    let r =
        d.db.execute(&mut other, "SELECT count(*) FROM t", &[])
            .unwrap();
    assert!(matches!(r[0].rows[0][0], Value::Integer(2)));
}

#[test]
fn parameters_and_limits() {
    let mut d = setup();
    let r =
        d.db.execute(
            &mut d.s,
            "SELECT b FROM t1 WHERE a = ? OR a = ?3",
            &[Value::Integer(1), Value::Null, Value::Integer(3)],
        )
        .unwrap();
    assert_eq!(r[0].rows.len(), 2);
    let many = vec![Value::Null; 101];
    assert!(matches!(
        d.db.execute(&mut d.s, "SELECT 1", &many),
        Err(Error::LimitExceeded(_))
    ));
    let long = format!("SELECT '{}'", "x".repeat(dosql::sql::MAX_SQL_LEN));
    assert!(matches!(
        d.db.execute(&mut d.s, &long, &[]),
        Err(Error::LimitExceeded(_))
    ));
}

#[test]
fn statement_cache_parses_repeated_text_once() {
    let mut d = setup();
    let (h0, m0) = d.db.cache_stats();
    for _ in 0..5 {
        d.rows("SELECT a FROM t1 WHERE a = 1");
    }
    let (h1, m1) = d.db.cache_stats();
    assert_eq!((h1 - h0, m1 - m0), (4, 1));
}

#[test]
fn explain_query_plan_shows_access_paths() {
    let mut d = setup();
    d.exec("CREATE INDEX t2a ON t2(a)");
    let plan = |d: &mut Db, sql: &str| -> Vec<String> {
        let r =
            d.db.execute(&mut d.s, &format!("EXPLAIN QUERY PLAN {sql}"), &[])
                .unwrap();
        r[0].rows.iter().map(|row| show(&row[3])).collect()
    };
    assert_eq!(
        plan(&mut d, "SELECT * FROM t1 WHERE a = 2"),
        ["SEARCH t1 USING INTEGER PRIMARY KEY (rowid=?)"]
    );
    assert_eq!(
        plan(&mut d, "SELECT * FROM t2 WHERE a = 2"),
        ["SEARCH t2 USING INDEX t2a (a=?)"]
    );
    assert_eq!(
        plan(&mut d, "SELECT * FROM t2 WHERE a > 2"),
        ["SEARCH t2 USING INDEX t2a (a>?)"]
    );
    assert_eq!(plan(&mut d, "SELECT * FROM t1 WHERE b = 'x'"), ["SCAN t1"]);
    assert_eq!(
        plan(&mut d, "SELECT * FROM t2, t1 WHERE t1.a = t2.a"),
        ["SCAN t2", "SEARCH t1 USING INTEGER PRIMARY KEY (rowid=?)"]
    );
}

#[test]
fn without_rowid_tables_are_keyed_by_primary_key() {
    let mut d = open();
    d.exec("CREATE TABLE kv(k TEXT PRIMARY KEY, v) WITHOUT ROWID");
    d.exec("INSERT INTO kv VALUES ('b', 2), ('a', 1)");
    assert_eq!(d.rows("SELECT k, v FROM kv"), ["a|1", "b|2"]);
    assert!(matches!(
        d.err("INSERT INTO kv VALUES ('a', 3)"),
        Error::Constraint(_)
    ));
    assert!(matches!(
        d.err("INSERT INTO kv VALUES (NULL, 3)"),
        Error::Constraint(_)
    ));
    d.exec("UPDATE kv SET k = 'c' WHERE k = 'a'");
    assert_eq!(d.rows("SELECT k FROM kv"), ["b", "c"]);
    assert!(matches!(d.err("SELECT rowid FROM kv"), Error::NotFound(_)));
}

#[test]
fn in_table_and_describe() {
    let mut d = setup();
    d.exec("CREATE TABLE s(x); INSERT INTO s VALUES (1), (NULL)");
    assert_eq!(d.rows("SELECT 1 IN s, 2 IN s, 2 NOT IN s"), ["1|NULL|NULL"]);
    assert_eq!(
        d.rows("SELECT count(*) FROM t1 NOT INDEXED WHERE a IN s"),
        ["1"]
    );
    let cols =
        d.db.describe(&d.s, "SELECT a, b AS x FROM t1; DELETE FROM s")
            .unwrap();
    assert_eq!(cols, vec![vec!["a".to_string(), "x".to_string()], vec![]]);
    assert!(matches!(
        d.db.describe(&d.s, "SELECT nosuch FROM t1"),
        Err(Error::NotFound(_))
    ));
}
