//! Triggers, checked against real SQLite: BEFORE / AFTER / INSTEAD OF,
//! WHEN, UPDATE OF, RAISE, cascades, recursion, FK actions, upsert,
//! REPLACE, changes(), savepoints.

mod sql_diff;

use sql_diff::Both;

/// Runs statements separated by blank-line-free `;;` markers: trigger
/// bodies hold `;`, so each statement here ends with `;;`.
fn run(d: &mut Both, sql: &str) {
    for stmt in sql.split(";;").map(str::trim).filter(|s| !s.is_empty()) {
        d.same(stmt);
    }
}

fn audit() -> Both {
    let mut d = Both::new();
    run(
        &mut d,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, qty INT);;
         CREATE TABLE log(seq INTEGER PRIMARY KEY, what TEXT);;
         CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN
           INSERT INTO log(what) VALUES ('ins ' || new.id || ' ' || new.name || ' ' || typeof(new.qty));
         END;;
         CREATE TRIGGER t_upd AFTER UPDATE ON t BEGIN
           INSERT INTO log(what) VALUES ('upd ' || old.id || ' ' || old.qty || '->' || new.qty);
         END;;
         CREATE TRIGGER t_del BEFORE DELETE ON t BEGIN
           INSERT INTO log(what) VALUES ('del ' || old.id);
         END;;",
    );
    d
}

#[test]
fn audit_log_records_every_row() {
    let mut d = audit();
    run(
        &mut d,
        "INSERT INTO t(name, qty) VALUES ('a', '1'), ('b', 2.0), ('c', 'x');;
         UPDATE t SET qty = qty + 1 WHERE id < 3;;
         DELETE FROM t WHERE id = 2;;",
    );
    d.check(
        "SELECT seq, what FROM log ORDER BY seq",
        &[
            "1|ins 1 a integer",
            "2|ins 2 b integer",
            "3|ins 3 c text",
            "4|upd 1 1->2",
            "5|upd 2 2->3",
            "6|del 2",
        ],
    );
    d.check("SELECT * FROM t ORDER BY id", &["1|a|2", "3|c|x"]);
}

#[test]
fn changes_do_not_count_trigger_writes() {
    let mut d = audit();
    run(
        &mut d,
        "INSERT INTO t(name, qty) VALUES ('a', 1), ('b', 2);;
         SELECT changes(), total_changes(), last_insert_rowid();;
         UPDATE t SET qty = 5;;
         SELECT changes(), last_insert_rowid();;
         DELETE FROM t;;
         SELECT changes(), total_changes();;",
    );
}

#[test]
fn before_insert_sees_unassigned_rowid_and_affinity() {
    let mut d = Both::new();
    run(
        &mut d,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b REAL DEFAULT 7);;
         CREATE TABLE w(r INTEGER PRIMARY KEY, a);;
         CREATE TABLE log(x);;
         CREATE TRIGGER bi BEFORE INSERT ON t BEGIN
           INSERT INTO log VALUES (new.id || ',' || new.rowid || ',' || quote(new.a) || ',' || quote(new.b));
         END;;
         CREATE TRIGGER wi BEFORE INSERT ON w BEGIN
           INSERT INTO log VALUES ('w ' || new.rowid || ' ' || new.r);
         END;;
         INSERT INTO t(a) VALUES (1);;
         INSERT INTO t VALUES (10, 2, '3');;
         INSERT INTO w(a) VALUES ('q');;
         INSERT INTO w VALUES (5, 'q');;
         SELECT * FROM log;;",
    );
}

#[test]
fn when_clauses_and_update_of_columns() {
    let mut d = Both::new();
    run(
        &mut d,
        "CREATE TABLE t(a, b, c);;
         CREATE TABLE log(x);;
         CREATE TRIGGER big AFTER INSERT ON t WHEN new.a > 10 BEGIN
           INSERT INTO log VALUES ('big ' || new.a);
         END;;
         CREATE TRIGGER ofb AFTER UPDATE OF b ON t BEGIN
           INSERT INTO log VALUES ('b ' || old.b || '->' || new.b);
         END;;
         CREATE TRIGGER ofac AFTER UPDATE OF a, c ON t WHEN old.a <> new.a BEGIN
           INSERT INTO log VALUES ('a ' || old.a || '->' || new.a);
         END;;
         INSERT INTO t VALUES (5, 1, 1), (50, 2, 2);;
         UPDATE t SET b = b * 10;;
         UPDATE t SET c = 9;;
         UPDATE t SET a = a + 1, c = 0 WHERE a = 5;;
         SELECT x FROM log ORDER BY rowid;;",
    );
    d.check("SELECT count(*) FROM log", &["4"]);
}

#[test]
fn newest_trigger_fires_first() {
    let mut d = Both::new();
    run(
        &mut d,
        "CREATE TABLE t(a);; CREATE TABLE log(x);;
         CREATE TRIGGER zz AFTER INSERT ON t BEGIN INSERT INTO log VALUES ('zz'); END;;
         CREATE TRIGGER aa AFTER INSERT ON t BEGIN INSERT INTO log VALUES ('aa'); END;;
         CREATE TRIGGER mm AFTER INSERT ON t BEGIN INSERT INTO log VALUES ('mm'); END;;
         INSERT INTO t VALUES (1);;
         SELECT group_concat(x) FROM log;;",
    );
}

#[test]
fn before_triggers_modify_other_tables_and_the_row() {
    let mut d = Both::new();
    run(
        &mut d,
        "CREATE TABLE stock(item TEXT PRIMARY KEY, n INT);;
         CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT, n INT);;
         INSERT INTO stock VALUES ('x', 10), ('y', 1);;
         CREATE TRIGGER take BEFORE INSERT ON orders BEGIN
           SELECT RAISE(ABORT, 'out of stock') WHERE (SELECT n FROM stock WHERE item = new.item) < new.n;
           UPDATE stock SET n = n - new.n WHERE item = new.item;
         END;;
         INSERT INTO orders(item, n) VALUES ('x', 3);;
         INSERT INTO orders(item, n) VALUES ('y', 2);;
         INSERT INTO orders(item, n) VALUES ('x', 3), ('y', 5);;
         SELECT * FROM stock ORDER BY item;;
         SELECT * FROM orders;;
         CREATE TABLE t(id INTEGER PRIMARY KEY, v);;
         INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');;
         CREATE TRIGGER bu BEFORE UPDATE ON t BEGIN
           UPDATE t SET v = 'touched' WHERE id = old.id + 1;
           DELETE FROM t WHERE id = 3 AND old.id = 1;
         END;;
         UPDATE t SET id = id + 10;;
         SELECT * FROM t ORDER BY id;;
         CREATE TRIGGER bd BEFORE DELETE ON t BEGIN DELETE FROM t WHERE id = 12; END;;
         DELETE FROM t;;
         SELECT changes();;
         SELECT * FROM t;;",
    );
}

#[test]
fn raise_variants() {
    let mut d = Both::new();
    run(
        &mut d,
        "CREATE TABLE t(a);; CREATE TABLE log(x);;
         CREATE TRIGGER ig BEFORE INSERT ON t WHEN new.a < 0 BEGIN
           INSERT INTO log VALUES ('skipped ' || new.a);
           SELECT RAISE(IGNORE);
           INSERT INTO log VALUES ('never');
         END;;
         INSERT INTO t VALUES (1), (-1), (2), (-2);;
         SELECT changes();;
         SELECT * FROM t;; SELECT * FROM log;;
         CREATE TRIGGER ab BEFORE INSERT ON t WHEN new.a = 100 BEGIN
           INSERT INTO log VALUES ('before abort');
           SELECT RAISE(ABORT, 'no hundreds');
         END;;
         INSERT INTO t VALUES (3), (100), (4);;
         SELECT * FROM t;; SELECT * FROM log;;
         CREATE TRIGGER fl BEFORE INSERT ON t WHEN new.a = 200 BEGIN
           INSERT INTO log VALUES ('before fail');
           SELECT RAISE(FAIL, 'no two hundreds');
         END;;
         INSERT INTO t VALUES (5), (200), (6);;
         SELECT * FROM t;; SELECT * FROM log;;
         BEGIN;;
         INSERT INTO t VALUES (7);;
         CREATE TRIGGER rb AFTER INSERT ON t WHEN new.a = 300 BEGIN
           SELECT RAISE(ROLLBACK, 'rolled back');
         END;;
         INSERT INTO t VALUES (300);;
         SELECT * FROM t;;",
    );
    // ROLLBACK ended the transaction.
    d.fails("COMMIT");
    // The AFTER trigger's IGNORE keeps the row, which was already written.
    run(
        &mut d,
        "CREATE TRIGGER aig AFTER UPDATE ON t BEGIN SELECT RAISE(IGNORE); INSERT INTO log VALUES ('x'); END;;
         UPDATE t SET a = a * 10 WHERE a > 0;;
         SELECT changes();;
         SELECT * FROM t ORDER BY a;;",
    );
    d.fails("SELECT RAISE(ABORT, 'outside')");
    d.fails("CREATE TRIGGER bad BEFORE INSERT ON t BEGIN SELECT RAISE(ABORT, 'x' || new.a); END");
}

#[test]
fn instead_of_triggers_make_views_writable() {
    let mut d = Both::new();
    run(
        &mut d,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, a, b);;
         CREATE VIEW v AS SELECT id, a, a * 2 AS twice FROM t;;
         CREATE TABLE log(x);;",
    );
    d.fails("INSERT INTO v(a) VALUES (1)");
    d.fails("CREATE TRIGGER bad BEFORE INSERT ON v BEGIN SELECT 1; END");
    d.fails("CREATE TRIGGER bad INSTEAD OF INSERT ON t BEGIN SELECT 1; END");
    run(
        &mut d,
        "CREATE TRIGGER vi INSTEAD OF INSERT ON v BEGIN
           INSERT INTO t(a, b) VALUES (new.a, coalesce(new.twice, 'none'));
         END;;
         CREATE TRIGGER vu INSTEAD OF UPDATE OF a ON v BEGIN
           UPDATE t SET a = new.a WHERE id = old.id;
           INSERT INTO log VALUES (old.a || '->' || new.a || ' ' || old.twice || '->' || new.twice);
         END;;
         CREATE TRIGGER vd INSTEAD OF DELETE ON v WHEN old.a > 1 BEGIN
           DELETE FROM t WHERE id = old.id;
         END;;
         INSERT INTO v(a) VALUES (1), (2), (3);;
         SELECT changes();;
         INSERT INTO v(a, twice) SELECT 4, 8;;
         SELECT * FROM t ORDER BY id;;
         UPDATE v SET a = a + 10 WHERE a >= 3;;
         SELECT changes();;
         UPDATE v SET twice = 0;;
         SELECT * FROM v ORDER BY id;; SELECT * FROM log;;
         DELETE FROM v;;
         SELECT * FROM t ORDER BY id;;",
    );
    d.fails("INSERT INTO v(nope) VALUES (1)");
    d.fails("UPDATE v SET nope = 1");
    // Dropping the view drops its triggers: a new view of the same name
    // has none.
    run(
        &mut d,
        "DROP VIEW v;;
         CREATE VIEW v AS SELECT id, a, a * 2 AS twice FROM t;;",
    );
    d.fails("INSERT INTO v(a) VALUES (1)");
}

#[test]
fn triggers_cascade_but_do_not_recurse() {
    let mut d = Both::new();
    run(
        &mut d,
        "CREATE TABLE a(x);; CREATE TABLE b(x);; CREATE TABLE c(x);;
         CREATE TRIGGER ab AFTER INSERT ON a BEGIN INSERT INTO b VALUES (new.x + 1); END;;
         CREATE TRIGGER bc AFTER INSERT ON b BEGIN INSERT INTO c VALUES (new.x + 1); END;;
         CREATE TRIGGER ca AFTER INSERT ON c BEGIN INSERT INTO a VALUES (new.x + 1); END;;
         INSERT INTO a VALUES (1);;
         SELECT * FROM a;; SELECT * FROM b;; SELECT * FROM c;;
         CREATE TABLE n(v);;
         CREATE TRIGGER self AFTER INSERT ON n WHEN new.v < 5 BEGIN INSERT INTO n VALUES (new.v + 1); END;;
         INSERT INTO n VALUES (1);;
         SELECT * FROM n;;",
    );
}

#[test]
fn old_and_new_only_where_they_exist() {
    let mut d = Both::new();
    run(
        &mut d,
        "CREATE TABLE t(a);; CREATE TABLE l(x);;
         CREATE TRIGGER d AFTER DELETE ON t BEGIN INSERT INTO l VALUES (new.a); END;;
         CREATE TRIGGER i AFTER INSERT ON t BEGIN INSERT INTO l VALUES (old.a); END;;",
    );
    d.fails("INSERT INTO t VALUES (1)");
    run(&mut d, "DROP TRIGGER i;; INSERT INTO t VALUES (1);;");
    d.fails("DELETE FROM t");
    run(&mut d, "SELECT * FROM t;; SELECT * FROM l;;");
    // Bodies are bound when they run: a missing table fails then.
    run(
        &mut d,
        "DROP TRIGGER d;;
         CREATE TRIGGER m AFTER INSERT ON t BEGIN INSERT INTO nope VALUES (1); END;;",
    );
    d.fails("INSERT INTO t VALUES (2)");
    d.fails("CREATE TRIGGER m AFTER INSERT ON t BEGIN SELECT 1; END");
    run(
        &mut d,
        "CREATE TRIGGER IF NOT EXISTS m AFTER INSERT ON t BEGIN SELECT 1; END;;
         DROP TRIGGER m;; DROP TRIGGER IF EXISTS m;;",
    );
    d.fails("DROP TRIGGER m");
    d.fails("CREATE TRIGGER x AFTER INSERT ON nope BEGIN SELECT 1; END");
    d.fails("CREATE TRIGGER x AFTER INSERT ON t BEGIN INSERT INTO main.l VALUES (1); END");
    d.fails("CREATE TRIGGER x AFTER INSERT ON t BEGIN INSERT INTO l VALUES (1) RETURNING *; END");
    // A table and a trigger may share a name.
    run(
        &mut d,
        "CREATE TRIGGER l AFTER INSERT ON t BEGIN INSERT INTO l VALUES ('l'); END;;
         INSERT INTO t VALUES (3);;
         SELECT * FROM l;;
         DROP TABLE t;;
         CREATE TABLE t(a);;
         INSERT INTO t VALUES (4);;
         SELECT * FROM l;;",
    );
}

#[test]
fn upsert_replace_and_fk_actions_fire_triggers() {
    let mut d = Both::new();
    run(
        &mut d,
        "PRAGMA foreign_keys = ON;;
         CREATE TABLE t(k TEXT PRIMARY KEY, n INT);;
         CREATE TABLE log(x);;
         CREATE TRIGGER ti AFTER INSERT ON t BEGIN INSERT INTO log VALUES ('ins ' || new.k); END;;
         CREATE TRIGGER tu AFTER UPDATE ON t BEGIN INSERT INTO log VALUES ('upd ' || new.k || ' ' || new.n); END;;
         CREATE TRIGGER td AFTER DELETE ON t BEGIN INSERT INTO log VALUES ('del ' || old.k); END;;
         INSERT INTO t VALUES ('a', 1), ('b', 1);;
         INSERT INTO t VALUES ('a', 5), ('c', 1) ON CONFLICT(k) DO UPDATE SET n = n + excluded.n;;
         SELECT changes();;
         INSERT OR REPLACE INTO t VALUES ('b', 9);;
         SELECT * FROM log;;
         CREATE TABLE p(id INTEGER PRIMARY KEY);;
         CREATE TABLE c(id INTEGER PRIMARY KEY, pid REFERENCES p ON DELETE CASCADE ON UPDATE SET NULL);;
         CREATE TRIGGER cd AFTER DELETE ON c BEGIN INSERT INTO log VALUES ('child del ' || old.id); END;;
         CREATE TRIGGER cu AFTER UPDATE OF pid ON c BEGIN INSERT INTO log VALUES ('child upd ' || old.id || ' ' || quote(new.pid)); END;;
         INSERT INTO p VALUES (1), (2);;
         INSERT INTO c VALUES (10, 1), (11, 1), (12, 2);;
         DELETE FROM p WHERE id = 1;;
         UPDATE p SET id = 3 WHERE id = 2;;
         SELECT changes();;
         SELECT * FROM c;;
         SELECT * FROM log;;",
    );
}

#[test]
fn failing_triggers_leave_no_partial_effect_and_savepoints_undo_them() {
    let mut d = audit();
    run(
        &mut d,
        "CREATE TRIGGER guard BEFORE INSERT ON t WHEN new.qty < 0 BEGIN
           SELECT RAISE(ABORT, 'negative');
         END;;
         BEGIN;;
         INSERT INTO t(name, qty) VALUES ('a', 1);;
         SAVEPOINT s1;;
         INSERT INTO t(name, qty) VALUES ('b', 2);;
         UPDATE t SET qty = 0;;
         ROLLBACK TO s1;;
         SELECT * FROM log;;",
    );
    d.fails("INSERT INTO t(name, qty) VALUES ('c', 3), ('d', -1)");
    run(
        &mut d,
        "SELECT * FROM t;; SELECT * FROM log;;
         RELEASE s1;; COMMIT;;
         SELECT * FROM t;; SELECT * FROM log;;",
    );
    // A failure in a cascaded trigger undoes the whole statement.
    run(
        &mut d,
        "CREATE TABLE deep(x);;
         CREATE TRIGGER deep_fail AFTER INSERT ON log WHEN new.what LIKE 'upd%' BEGIN
           INSERT INTO deep VALUES (1);
           SELECT RAISE(ABORT, 'deep failure');
         END;;",
    );
    d.fails("UPDATE t SET qty = 7");
    run(
        &mut d,
        "SELECT * FROM t;; SELECT * FROM log;; SELECT * FROM deep;;",
    );
}
