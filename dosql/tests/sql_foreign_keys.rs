//! FOREIGN KEY constraints under PRAGMA foreign_keys, checked against
//! real SQLite.

mod sql_diff;

use sql_diff::Both;

fn setup() -> Both {
    let mut d = Both::new();
    d.script(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE p(id INTEGER PRIMARY KEY, code TEXT UNIQUE);
         CREATE TABLE c(x INTEGER PRIMARY KEY, pid INT REFERENCES p(id) ON DELETE CASCADE ON UPDATE CASCADE, pcode TEXT REFERENCES p(code) ON DELETE SET NULL ON UPDATE RESTRICT);
         INSERT INTO p VALUES (1, 'a'), (2, 'b'), (3, 'c');
         INSERT INTO c VALUES (10, 1, 'a'), (11, 1, 'b'), (12, 2, NULL), (13, NULL, 'c')",
    );
    d
}

#[test]
fn pragma_is_off_by_default_and_per_session() {
    let mut d = Both::new();
    d.check("PRAGMA foreign_keys", &["0"]);
    d.script(
        "CREATE TABLE p(id INTEGER PRIMARY KEY);
         CREATE TABLE c(pid REFERENCES p);
         INSERT INTO c VALUES (5)",
    );
    d.same("PRAGMA foreign_keys = on");
    d.check("PRAGMA foreign_keys", &["1"]);
    d.fails("INSERT INTO c VALUES (6)");
    d.same("PRAGMA foreign_keys = 0");
    d.check("PRAGMA foreign_keys", &["0"]);
    d.same("INSERT INTO c VALUES (6)");
    // Inside a transaction the pragma does nothing (as documented for
    // SQLite; DoSQL only).
    d.dosql("BEGIN").unwrap();
    d.dosql("PRAGMA foreign_keys = YES").unwrap();
    assert_eq!(d.dosql("PRAGMA foreign_keys").unwrap(), ["0"]);
    d.dosql("COMMIT").unwrap();
    assert!(d.dosql("PRAGMA foreign_keys = maybe").is_err());
}

#[test]
fn references_to_non_keys_are_a_mismatch() {
    let mut d = Both::new();
    d.script(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE p(a, b, PRIMARY KEY(a, b));
         CREATE TABLE c3(k REFERENCES p(a) ON DELETE RESTRICT);
         CREATE TABLE c4(k REFERENCES nowhere(a))",
    );
    let e = d.fails("INSERT INTO c3 VALUES (1)");
    assert!(e.contains("foreign key mismatch"), "{e}");
    d.fails("INSERT INTO c4 VALUES (1)");
    d.same("INSERT INTO c4 VALUES (NULL)");
}

#[test]
fn child_rows_need_a_parent() {
    let mut d = setup();
    let e = d.fails("INSERT INTO c VALUES (20, 9, NULL)");
    assert!(
        e.contains("constraint violation: FOREIGN KEY constraint failed"),
        "{e}"
    );
    d.fails("INSERT INTO c VALUES (20, 1, 'zz')");
    d.fails("UPDATE c SET pid = 7 WHERE x = 12");
    d.same("INSERT INTO c VALUES (20, '2', NULL)");
    d.same("UPDATE c SET pid = 3 WHERE x = 12");
    // A statement may create the parent after the child (checked at its end).
    d.script(
        "CREATE TABLE tree(id INTEGER PRIMARY KEY, up INT REFERENCES tree(id));
         INSERT INTO tree VALUES (2, 1), (1, NULL)",
    );
    d.fails("INSERT INTO tree VALUES (3, 4), (5, 3)");
    d.check("SELECT * FROM tree ORDER BY id", &["1|NULL", "2|1"]);
}

#[test]
fn parent_actions() {
    let mut d = setup();
    d.check("DELETE FROM p WHERE id = 1 RETURNING id", &["1"]);
    d.check("SELECT * FROM c ORDER BY x", &["12|2|NULL", "13|NULL|c"]);
    d.same("UPDATE p SET id = 20 WHERE id = 2");
    d.check("SELECT * FROM c ORDER BY x", &["12|20|NULL", "13|NULL|c"]);
    // ON UPDATE RESTRICT on code.
    d.fails("UPDATE p SET code = 'z' WHERE id = 3");
    // ON DELETE SET NULL on code.
    d.same("DELETE FROM p WHERE id = 3");
    d.check(
        "SELECT * FROM c ORDER BY x",
        &["12|20|NULL", "13|NULL|NULL"],
    );
    d.check("SELECT * FROM p", &["20|b"]);
}

#[test]
fn no_action_restrict_and_set_default() {
    let mut d = Both::new();
    d.script(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE p(a, b, PRIMARY KEY(a, b));
         CREATE TABLE c1(x, y, FOREIGN KEY (x, y) REFERENCES p(a, b));
         CREATE TABLE c2(x DEFAULT 0, y DEFAULT 0, FOREIGN KEY (y, x) REFERENCES p(b, a) ON DELETE SET DEFAULT ON UPDATE SET NULL);
         INSERT INTO p VALUES (1, 1), (2, 2), (0, 0);
         INSERT INTO c1 VALUES (1, 1), (1, NULL);
         INSERT INTO c2 VALUES (2, 2)",
    );
    d.fails("DELETE FROM p WHERE a = 1");
    d.fails("INSERT INTO c1 VALUES (1, 2)");
    d.same("DELETE FROM p WHERE a = 2");
    d.check("SELECT * FROM c2", &["0|0"]);
    d.same("UPDATE p SET a = 5 WHERE a = 0");
    d.check("SELECT * FROM c2", &["NULL|NULL"]);
    d.same("DELETE FROM p WHERE a = 0 OR a = 5");
    d.same("DELETE FROM c1");
    d.same("DELETE FROM p WHERE a = 1");
    d.check("SELECT count(*) FROM p", &["0"]);
}

#[test]
fn cascades_chain_and_failures_leave_no_trace() {
    let mut d = Both::new();
    d.script(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE a(id INTEGER PRIMARY KEY);
         CREATE TABLE b(id INTEGER PRIMARY KEY, aid REFERENCES a ON DELETE CASCADE);
         CREATE TABLE c(id INTEGER PRIMARY KEY, bid REFERENCES b ON DELETE CASCADE);
         CREATE TABLE d(cid REFERENCES c);
         INSERT INTO a VALUES (1), (2);
         INSERT INTO b VALUES (10, 1), (20, 2);
         INSERT INTO c VALUES (100, 10), (200, 20);
         INSERT INTO d VALUES (200)",
    );
    d.same("DELETE FROM a WHERE id = 1");
    d.check(
        "SELECT (SELECT count(*) FROM b), (SELECT count(*) FROM c)",
        &["1|1"],
    );
    // The cascade reaches a NO ACTION reference: the whole delete fails.
    d.fails("DELETE FROM a");
    d.check(
        "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b), (SELECT count(*) FROM c)",
        &["1|1|1"],
    );
    // REPLACE deletes the old parent row: its children cascade.
    d.same("REPLACE INTO b VALUES (20, 2)");
    d.check("SELECT count(*) FROM c", &["1"]);
}

#[test]
fn deferred_constraints_are_checked_at_commit() {
    let mut d = Both::new();
    d.script(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE p(id INTEGER PRIMARY KEY);
         CREATE TABLE c(pid REFERENCES p DEFERRABLE INITIALLY DEFERRED)",
    );
    d.fails("INSERT INTO c VALUES (1)");
    d.same("BEGIN");
    d.same("INSERT INTO c VALUES (1)");
    d.fails("COMMIT");
    assert!(d.s.in_transaction());
    d.same("INSERT INTO p VALUES (1)");
    d.same("COMMIT");
    d.check("SELECT * FROM c", &["1"]);
    d.same("BEGIN");
    d.same("DELETE FROM p");
    d.fails("COMMIT");
    d.same("ROLLBACK");
    d.check("SELECT count(*) FROM p", &["1"]);
}

#[test]
fn constraints_survive_reopen() {
    use dosql::sql::{Database, Session};
    let dir = tempfile::tempdir().unwrap();
    {
        let mut db = Database::open_dir(dir.path()).unwrap();
        let mut s = Session::new();
        db.execute(
            &mut s,
            "CREATE TABLE p(id INTEGER PRIMARY KEY);
             CREATE TABLE c(pid REFERENCES p ON DELETE CASCADE);
             INSERT INTO p VALUES (1); INSERT INTO c VALUES (1)",
            &[],
        )
        .unwrap();
    }
    let mut db = Database::open_dir(dir.path()).unwrap();
    let mut s = Session::new();
    db.execute(&mut s, "PRAGMA foreign_keys = ON", &[]).unwrap();
    assert!(db.execute(&mut s, "INSERT INTO c VALUES (2)", &[]).is_err());
    db.execute(&mut s, "DELETE FROM p", &[]).unwrap();
    let r = db.execute(&mut s, "SELECT count(*) FROM c", &[]).unwrap();
    assert_eq!(r[0].rows, vec![vec![dosql::sql::Value::Integer(0)]]);
}

#[test]
fn many_parents_with_indexed_children() {
    let mut d = Both::new();
    d.script(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE p(id INTEGER PRIMARY KEY, code TEXT COLLATE NOCASE UNIQUE, a INT, b INT, UNIQUE(a, b));
         CREATE TABLE c1(id INTEGER PRIMARY KEY, pid INT REFERENCES p ON DELETE CASCADE);
         CREATE INDEX c1_pid ON c1(pid);
         CREATE TABLE c2(k TEXT COLLATE NOCASE, n INT, PRIMARY KEY(k, n), FOREIGN KEY(k) REFERENCES p(code) ON DELETE CASCADE ON UPDATE CASCADE) WITHOUT ROWID;
         CREATE TABLE c3(x, y, z, FOREIGN KEY(y, x) REFERENCES p(a, b) ON DELETE CASCADE);
         CREATE INDEX c3_xy ON c3(x, y, z);
         CREATE TABLE c4(pid INTEGER PRIMARY KEY REFERENCES p ON DELETE CASCADE);
         CREATE TABLE c5(pid INT REFERENCES p);
         CREATE INDEX c5_pid ON c5(pid COLLATE NOCASE)",
    );
    let mut sql = String::from("INSERT INTO p VALUES ");
    for i in 0..300 {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!("({i}, 'Code{i}', {}, {})", i % 17, i / 17));
    }
    d.same(&sql);
    for (table, row) in [
        ("c1(pid)", "{i}"),
        ("c2", "'code{i}', {j}"),
        ("c3", "{b}, {a}, {j}"),
        ("c5", "{i}"),
    ] {
        let mut sql = format!("INSERT INTO {table} VALUES ");
        for i in 0..300 {
            for j in 0..3 {
                if i + j > 0 {
                    sql.push(',');
                }
                let v = row
                    .replace("{i}", &i.to_string())
                    .replace("{j}", &j.to_string())
                    .replace("{a}", &(i % 17).to_string())
                    .replace("{b}", &(i / 17).to_string());
                sql.push_str(&format!("({v})"));
            }
        }
        d.same(&sql);
    }
    d.same("INSERT INTO c4 SELECT id FROM p WHERE id % 3 = 0");
    // c5 has no action: its parents cannot go, and an index in another
    // collation is not used to find them (the table is scanned).
    d.fails("DELETE FROM p WHERE id = 5");
    d.same("DELETE FROM c5 WHERE pid % 2 = 0");
    d.fails("DELETE FROM p WHERE id >= 0");
    d.same("DELETE FROM p WHERE id % 2 = 0");
    d.same("UPDATE p SET code = 'new' || id WHERE id % 5 = 1");
    // A WITHOUT ROWID key column cannot be set NULL.
    d.same(
        "CREATE TABLE c6(k TEXT PRIMARY KEY REFERENCES p(code) ON DELETE SET NULL) WITHOUT ROWID",
    );
    d.same("INSERT INTO c6 VALUES ('new1')");
    for q in [
        "SELECT count(*), sum(pid) FROM c1",
        "SELECT count(*), count(k), group_concat(k) FROM c2",
        "SELECT count(*), sum(x), sum(y) FROM c3",
        "SELECT count(*), sum(pid) FROM c4",
        "SELECT count(*) FROM p",
    ] {
        d.same(q);
    }
    d.same("DELETE FROM c5");
    d.fails("DELETE FROM p WHERE id = 1");
    d.same("DELETE FROM c6");
    d.same("DELETE FROM p");
    d.check(
        "SELECT (SELECT count(*) FROM c1) + (SELECT count(*) FROM c3) + (SELECT count(*) FROM c4), (SELECT count(k) FROM c2)",
        &["0|0"],
    );
}

#[test]
fn drop_table_of_a_parent_deletes_its_rows_first() {
    let mut d = Both::new();
    d.script(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE p(id INTEGER PRIMARY KEY);
         CREATE TABLE casc(pid REFERENCES p ON DELETE CASCADE);
         CREATE TABLE plain(pid REFERENCES p);
         CREATE TABLE late(pid REFERENCES p DEFERRABLE INITIALLY DEFERRED);
         INSERT INTO p VALUES (1), (2), (3);
         INSERT INTO casc VALUES (1), (2), (NULL);
         INSERT INTO plain VALUES (3)",
    );
    // A child without an action keeps the parent table.
    d.fails("DROP TABLE p");
    d.check("SELECT count(*) FROM p", &["3"]);
    d.check("SELECT count(*) FROM casc", &["3"]);
    d.script(
        "DELETE FROM plain;
         DROP TABLE p;
         SELECT count(*) FROM casc",
    );
    d.check("SELECT count(*) FROM casc", &["1"]);
    d.fails("INSERT INTO casc VALUES (1)");
    // Deferred constraints fail at COMMIT instead.
    d.script(
        "CREATE TABLE p(id INTEGER PRIMARY KEY);
         INSERT INTO p VALUES (7);
         INSERT INTO late VALUES (7);
         DELETE FROM casc;
         BEGIN;
         DROP TABLE p",
    );
    d.fails("COMMIT");
    d.script("ROLLBACK");
    d.check("SELECT * FROM p", &["7"]);
    d.script("DELETE FROM late; DROP TABLE p");
    // With foreign keys off, DROP TABLE deletes nothing else.
    d.script(
        "PRAGMA foreign_keys = OFF;
         CREATE TABLE p(id INTEGER PRIMARY KEY);
         INSERT INTO p VALUES (1);
         INSERT INTO casc VALUES (1);
         DROP TABLE p;
         SELECT * FROM casc",
    );
}
