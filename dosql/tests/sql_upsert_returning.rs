//! RETURNING, upsert (ON CONFLICT ... DO NOTHING / DO UPDATE) and the
//! conflict resolution algorithms, each checked against real SQLite.

mod sql_diff;

use sql_diff::Both;

fn setup() -> Both {
    let mut d = Both::new();
    d.script(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INT DEFAULT 7, r REAL);
         INSERT INTO t VALUES (1, 'a', 1, 1.5), (2, 'b', 2, NULL)",
    );
    d
}

#[test]
fn returning_on_insert_update_delete() {
    let mut d = setup();
    d.check(
        "INSERT INTO t(name, r) VALUES ('c', '2.5'), ('d', 3) RETURNING *",
        &["3|c|7|2.5", "4|d|7|3.0"],
    );
    d.check(
        "INSERT INTO t(name) VALUES ('e') RETURNING id * 10 AS x, upper(name), rowid, typeof(r)",
        &["50|E|5|null"],
    );
    d.check(
        "UPDATE t SET n = n + 100 WHERE id IN (1, 3) RETURNING id, n, (SELECT count(*) FROM t)",
        &["1|101|5", "3|107|5"],
    );
    d.check(
        "DELETE FROM t WHERE id > 3 RETURNING name, id",
        &["d|4", "e|5"],
    );
    d.check("UPDATE t SET n = 0 WHERE 0 RETURNING *", &[]);
    d.check(
        "REPLACE INTO t VALUES (1, 'z', 0, 0) RETURNING *",
        &["1|z|0|0.0"],
    );
    d.check(
        "SELECT * FROM t",
        &["1|z|0|0.0", "2|b|2|NULL", "3|c|107|2.5"],
    );
    // Column names follow the expression text or alias.
    let r =
        d.db.execute(
            &mut d.s,
            "DELETE FROM t WHERE id = 2 RETURNING id AS k, name",
            &[],
        )
        .unwrap();
    assert_eq!(r[0].columns, ["k", "name"]);
    assert_eq!(r[0].rows_affected, 1);
    d.lite.execute("DELETE FROM t WHERE id = 2", []).unwrap();
    // Errors: unknown columns and aggregates.
    d.fails("INSERT INTO t(name) VALUES ('q') RETURNING nope");
    d.fails("DELETE FROM t RETURNING count(*)");
    d.check("SELECT count(*) FROM t", &["2"]);
}

#[test]
fn failing_statement_returns_nothing_and_changes_nothing() {
    let mut d = setup();
    d.fails("INSERT INTO t(name) VALUES ('x'), ('a') RETURNING id");
    d.check("SELECT count(*) FROM t", &["2"]);
    d.same("BEGIN");
    d.fails("UPDATE t SET name = 'b' WHERE id = 1 RETURNING *");
    d.check("INSERT INTO t(name) VALUES ('y') RETURNING id", &["3"]);
    d.same("COMMIT");
    d.check("SELECT id, name FROM t", &["1|a", "2|b", "3|y"]);
}

#[test]
fn upsert_do_nothing_and_do_update() {
    let mut d = setup();
    d.check(
        "INSERT INTO t(id, name) VALUES (1, 'x') ON CONFLICT DO NOTHING RETURNING *",
        &[],
    );
    d.check(
        "INSERT INTO t(id, name) VALUES (9, 'a') ON CONFLICT(name) DO NOTHING RETURNING *",
        &[],
    );
    d.check("SELECT changes()", &["0"]);
    d.check(
        "INSERT INTO t(id, name, n) VALUES (1, 'q', 50) ON CONFLICT(id) DO UPDATE SET n = t.n + excluded.n, r = excluded.id RETURNING *",
        &["1|a|51|1.0"],
    );
    d.check("SELECT changes()", &["1"]);
    d.check(
        "INSERT INTO t(name, n) VALUES ('b', 5), ('c', 6), ('b', 100) ON CONFLICT(name) DO UPDATE SET n = n + excluded.n RETURNING id, name, n",
        &["2|b|7", "3|c|6", "2|b|107"],
    );
    d.check("SELECT changes(), last_insert_rowid()", &["3|3"]);
    // WHERE on DO UPDATE: rows it rejects are left alone.
    d.check(
        "INSERT INTO t(name, n) VALUES ('a', 1), ('b', 1), ('new', 1) ON CONFLICT(name) DO UPDATE SET n = 0 WHERE excluded.name = 'b' AND t.n > 100 RETURNING name, n",
        &["b|0", "new|1"],
    );
    // A conflict on a constraint that is not the target still fails.
    d.fails("INSERT INTO t(id, name) VALUES (1, 'zz') ON CONFLICT(name) DO NOTHING");
    // The update itself may conflict: ABORT.
    d.fails("INSERT INTO t(id, name) VALUES (1, 'x') ON CONFLICT(id) DO UPDATE SET name = 'b'");
    d.fails("INSERT INTO t(name) VALUES ('a') ON CONFLICT(n) DO NOTHING");
    d.fails("INSERT INTO t(name) VALUES ('a') ON CONFLICT(name) DO UPDATE SET nope = 1");
    d.check(
        "SELECT * FROM t ORDER BY id",
        &["1|a|51|1.0", "2|b|0|NULL", "3|c|6|NULL", "4|new|1|NULL"],
    );
    // Upsert from a SELECT, and the rowid as a target.
    d.script(
        "CREATE TABLE src(k, v);
         INSERT INTO src VALUES ('a', 1000), ('z', 1)",
    );
    d.check(
        "INSERT INTO t(name, n) SELECT k, v FROM src WHERE true ON CONFLICT(name) DO UPDATE SET n = excluded.n RETURNING name, n",
        &["a|1000", "z|1"],
    );
    d.check(
        "INSERT INTO t(rowid, name) VALUES (2, 'w') ON CONFLICT(rowid) DO UPDATE SET name = excluded.name || '!' RETURNING *",
        &["2|w!|0|NULL"],
    );
}

#[test]
fn upsert_on_composite_and_without_rowid_keys() {
    let mut d = Both::new();
    d.script(
        "CREATE TABLE kv(a TEXT, b INT, v, PRIMARY KEY(a, b)) WITHOUT ROWID;
         CREATE TABLE c(x, y, z, UNIQUE(y, x));
         INSERT INTO kv VALUES ('k', 1, 'one');
         INSERT INTO c VALUES (1, 2, 3)",
    );
    d.check(
        "INSERT INTO kv VALUES ('k', '1', 'uno') ON CONFLICT(b, a) DO UPDATE SET v = v || '/' || excluded.v RETURNING *",
        &["k|1|one/uno"],
    );
    d.check(
        "INSERT INTO c VALUES (1, 2, 9) ON CONFLICT(x, y) DO UPDATE SET z = excluded.z * 2 RETURNING *",
        &["1|2|18"],
    );
    d.fails("INSERT INTO c VALUES (1, 2, 9) ON CONFLICT(x) DO NOTHING");
}

#[test]
fn conflict_algorithms_follow_sqlite() {
    let mut d = Both::new();
    d.script(
        "CREATE TABLE u(a INTEGER PRIMARY KEY, b UNIQUE, c NOT NULL DEFAULT 'dflt', CHECK (a < 100));
         INSERT INTO u VALUES (1, 'x', 'c1'), (2, 'y', 'c2')",
    );
    d.check(
        "INSERT OR IGNORE INTO u VALUES (3, 'x', 'c'), (4, 'z', 'c') RETURNING a",
        &["4"],
    );
    d.check(
        "INSERT OR IGNORE INTO u VALUES (5, 'n', NULL), (200, 'big', 'c') RETURNING a",
        &[],
    );
    d.check(
        "INSERT OR REPLACE INTO u VALUES (6, 'y', NULL) RETURNING *",
        &["6|y|dflt"],
    );
    d.check("SELECT * FROM u", &["1|x|c1", "4|z|c", "6|y|dflt"]);
    d.fails("INSERT OR REPLACE INTO u VALUES (300, 'q', 'c')");
    d.check(
        "REPLACE INTO u VALUES (1, 'z', 'r') RETURNING *",
        &["1|z|r"],
    );
    d.check("SELECT * FROM u", &["1|z|r", "6|y|dflt"]);
    d.check("UPDATE OR IGNORE u SET b = 'y' RETURNING *", &["6|y|dflt"]);
    d.check(
        "UPDATE OR REPLACE u SET b = 'y' WHERE a = 1 RETURNING *",
        &["1|y|r"],
    );
    d.check("SELECT * FROM u", &["1|y|r"]);
    // FAIL keeps the rows written before the failing one; ABORT does not.
    d.script("INSERT INTO u VALUES (10, 'p', 'c')");
    d.fails("INSERT OR FAIL INTO u VALUES (20, 'q', 'c'), (21, 'p', 'c'), (22, 'r', 'c')");
    d.fails("INSERT OR ABORT INTO u VALUES (30, 'q2', 'c'), (31, 'p', 'c')");
    d.check("SELECT a FROM u ORDER BY a", &["1", "10", "20"]);
    // ROLLBACK ends the transaction; FAIL inside one keeps earlier rows.
    d.same("BEGIN");
    d.same("INSERT INTO u VALUES (40, 's', 'c')");
    d.fails("INSERT OR FAIL INTO u VALUES (41, 't', 'c'), (42, 'p', 'c')");
    d.check("SELECT a FROM u WHERE a > 30 ORDER BY a", &["40", "41"]);
    d.fails("INSERT OR ROLLBACK INTO u VALUES (43, 'p', 'c')");
    assert!(!d.s.in_transaction());
    d.fails("COMMIT");
    d.check("SELECT a FROM u ORDER BY a", &["1", "10", "20"]);
}

#[test]
fn column_on_conflict_clauses_follow_sqlite() {
    let mut d = Both::new();
    d.script(
        "CREATE TABLE k(a INTEGER PRIMARY KEY ON CONFLICT REPLACE, b UNIQUE ON CONFLICT IGNORE, c NOT NULL ON CONFLICT REPLACE DEFAULT 'd', e NOT NULL ON CONFLICT IGNORE DEFAULT 1);
         INSERT INTO k VALUES (1, 'x', 'c', 1), (2, 'y', 'c', 1)",
    );
    d.check(
        "INSERT INTO k VALUES (1, 'n', NULL, 2) RETURNING *",
        &["1|n|d|2"],
    );
    d.check("INSERT INTO k VALUES (3, 'y', 'c', 1) RETURNING *", &[]);
    d.check("INSERT INTO k VALUES (4, 'w', 'c', NULL) RETURNING *", &[]);
    // The statement's OR clause wins over the column's.
    d.fails("INSERT OR ABORT INTO k VALUES (5, 'y', 'c', 1)");
    d.check("UPDATE k SET b = 'y' WHERE a = 1 RETURNING *", &[]);
    d.check("SELECT * FROM k", &["1|n|d|2", "2|y|c|1"]);
    d.script("CREATE TABLE f(a UNIQUE ON CONFLICT FAIL)");
    d.fails("INSERT INTO f VALUES (1), (2), (1), (3)");
    d.check("SELECT a FROM f", &["1", "2"]);
}

#[test]
fn table_constraints_carry_on_conflict_clauses() {
    let mut d = Both::new();
    d.script(
        "CREATE TABLE t(a, b, c, CONSTRAINT x UNIQUE (a, b) ON CONFLICT REPLACE, PRIMARY KEY (c) ON CONFLICT IGNORE);
         CREATE TABLE r(id INTEGER, v, PRIMARY KEY (id) ON CONFLICT REPLACE, UNIQUE (v COLLATE NOCASE) ON conflict fail);
         CREATE TABLE plain(a, b, UNIQUE (a), FOREIGN KEY (b) REFERENCES t(c) ON DELETE CASCADE);
         INSERT INTO t VALUES (1, 1, 1);
         INSERT INTO t VALUES (1, 1, 2);
         INSERT INTO t VALUES (5, 5, 2);
         SELECT * FROM t;
         INSERT INTO r VALUES (1, 'a'), (2, 'b');
         INSERT INTO r VALUES (1, 'c');
         SELECT * FROM r ORDER BY id",
    );
    d.fails("INSERT INTO r VALUES (3, 'x'), (4, 'B')");
    d.check("SELECT * FROM r ORDER BY id", &["1|c", "2|b", "3|x"]);
    d.fails("INSERT INTO plain VALUES (1, 1), (1, 2)");
    // The statement's OR clause overrides the constraint's.
    d.fails("INSERT OR ABORT INTO t VALUES (9, 9, 2)");
    d.fails("CREATE TABLE bad(a, UNIQUE (a) ON CONFLICT maybe)");
    d.check("SELECT count(*) FROM t", &["1"]);
}
