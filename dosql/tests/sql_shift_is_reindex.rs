//! Golden tests of SQLite syntax the parser dialect adds on top of
//! sqlparser's: the shift operators, `IS` / `IS NOT` with any operand, and
//! REINDEX (which must really rebuild index trees, not just parse).

mod golden_common;

use std::ops::Bound;

use dosql::Error;
use golden_common::{open, Db};

impl Db {
    /// Removes every entry of index `name`'s tree behind the SQL layer's
    /// back, as a damaged index would look.
    fn wipe_index(&mut self, name: &str) {
        let tree = self
            .db
            .schema()
            .tables
            .values()
            .flat_map(|t| &t.indexes)
            .find(|i| i.name.eq_ignore_ascii_case(name))
            .expect("index exists")
            .tree
            .clone();
        let engine = self.db.engine();
        let txn = engine.begin().unwrap();
        let id = engine.tree(txn, &tree).unwrap().expect("tree exists");
        let keys = engine
            .scan(txn, id, Bound::Unbounded, Bound::Unbounded, usize::MAX)
            .unwrap();
        assert!(!keys.is_empty());
        for (k, _) in keys {
            engine.delete(txn, id, &k).unwrap();
        }
        engine.commit(txn).unwrap();
    }
}

#[test]
fn shift_operators_follow_sqlite() {
    let mut d = open();
    assert_eq!(
        d.rows("SELECT 1 << 4, 256 >> 4, -8 >> 1, 1 << 64, 8 << -2, NULL << 1, '3' << 1"),
        ["16|16|-4|0|2|NULL|6"]
    );
    // One precedence level with & and |, evaluated left to right, tighter
    // than comparison and looser than + and -.
    assert_eq!(
        d.rows("SELECT 1 | 2 << 3, 6 & 3 << 1, 1 << 1 + 1, 1 << 2 = 4, 3 >> 1 | 4"),
        ["24|4|4|1|5"]
    );
    d.exec("CREATE TABLE t(a INTEGER, b INTEGER); INSERT INTO t VALUES (1, 3), (5, 1)");
    assert_eq!(
        d.rows("SELECT a << b, a >> b FROM t WHERE a << b > 8 ORDER BY a"),
        ["10|2"]
    );
}

#[test]
fn is_and_is_not_compare_any_operands() {
    let mut d = open();
    assert_eq!(
        d.rows("SELECT 1 IS 1, 1 IS 2, NULL IS NULL, 1 IS NULL, NULL IS 1"),
        ["1|0|1|0|0"]
    );
    assert_eq!(
        d.rows("SELECT 1 IS NOT 1, 1 IS NOT 2, NULL IS NOT NULL, NULL IS NOT 1"),
        ["0|1|0|1"]
    );
    // The right operand is a full expression above IS's level; AND is below.
    assert_eq!(
        d.rows("SELECT 3 IS 1 + 2, 2 IS NOT 1 + 1 AND 1, 1 IS 1 AND 0"),
        ["1|0|0"]
    );
    d.exec("CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 1), (NULL, NULL), (1, NULL)");
    assert_eq!(d.rows("SELECT count(*) FROM t WHERE a IS b"), ["2"]);
    assert_eq!(d.rows("SELECT count(*) FROM t WHERE a IS NOT b"), ["1"]);
    // The fixed forms sqlparser already knows keep their meaning.
    assert_eq!(d.rows("SELECT count(*) FROM t WHERE b IS NOT NULL"), ["1"]);
    assert_eq!(
        d.rows("SELECT count(*) FROM t WHERE a IS NOT DISTINCT FROM b"),
        ["2"]
    );
}

fn indexed_table() -> Db {
    let mut d = open();
    d.exec(
        "CREATE TABLE t(a INTEGER, b TEXT COLLATE NOCASE);
         CREATE INDEX ta ON t(a);
         CREATE INDEX tb ON t(b);
         INSERT INTO t VALUES (1, 'x'), (2, 'Y'), (3, 'z');",
    );
    d
}

#[test]
fn reindex_by_index_name_rebuilds_it() {
    let mut d = indexed_table();
    d.wipe_index("ta");
    // The planner uses the index, so a wiped index hides the row...
    assert!(d.rows("SELECT b FROM t WHERE a = 2").is_empty());
    d.exec("REINDEX ta");
    assert_eq!(d.rows("SELECT b FROM t WHERE a = 2"), ["Y"]);
    d.wipe_index("ta");
    d.exec("REINDEX main.ta");
    assert_eq!(
        d.rows("SELECT b FROM t WHERE a >= 2 ORDER BY a"),
        ["Y", "z"]
    );
}

#[test]
fn reindex_by_table_collation_or_nothing() {
    let mut d = indexed_table();
    d.wipe_index("ta");
    d.wipe_index("tb");
    d.exec("REINDEX t");
    assert_eq!(d.rows("SELECT b FROM t WHERE a = 3"), ["z"]);
    assert_eq!(d.rows("SELECT a FROM t WHERE b = 'y'"), ["2"]);

    // A collation name rebuilds only the indexes using that collation.
    d.wipe_index("ta");
    d.wipe_index("tb");
    d.exec("REINDEX nocase");
    assert_eq!(d.rows("SELECT a FROM t WHERE b = 'X'"), ["1"]);
    assert!(d.rows("SELECT b FROM t WHERE a = 3").is_empty());
    d.exec("REINDEX binary");
    assert_eq!(d.rows("SELECT b FROM t WHERE a = 3"), ["z"]);

    d.wipe_index("ta");
    d.wipe_index("tb");
    d.exec("REINDEX");
    assert_eq!(d.rows("SELECT b FROM t WHERE a = 1"), ["x"]);
    assert_eq!(d.rows("SELECT a FROM t WHERE b = 'Z'"), ["3"]);
}

#[test]
fn reindex_refuses_unknown_names_and_follows_transactions() {
    let mut d = indexed_table();
    assert!(matches!(d.err("REINDEX nothere"), Error::NotFound(_)));
    assert!(matches!(d.err("REINDEX other.ta"), Error::NotFound(_)));
    assert!(matches!(d.err("VACUUM REINDEX t"), Error::Syntax(_)));
    // Rolled back with its transaction: the wiped index stays wiped.
    d.wipe_index("ta");
    d.exec("BEGIN; REINDEX ta; ROLLBACK");
    assert!(d.rows("SELECT b FROM t WHERE a = 2").is_empty());
    d.exec("BEGIN; REINDEX ta; COMMIT");
    assert_eq!(d.rows("SELECT b FROM t WHERE a = 2"), ["Y"]);
}
