//! Change events decoded from the WAL: every operation on every kind of
//! table, transaction boundaries, and schema changes decoded in order.

mod cdc_common;

use cdc_common::*;
use dosql::sql::cdc::{ChangeFilter, ReadLimits, RowOp, SchemaChange};
use dosql::sql::{Database, Session, Value};

/// A database whose WAL a slot holds from the start.
fn db() -> (Database, Session) {
    let mut db = Database::open_memory().unwrap();
    db.create_slot("keep").unwrap();
    (db, Session::new())
}

#[test]
fn rowid_table_insert_update_delete() {
    let (mut db, mut s) = db();
    exec(&mut db, &mut s, "CREATE TABLE t(a, b TEXT NOT NULL)");
    exec(&mut db, &mut s, "INSERT INTO t VALUES (1, 'x'), (2, 'y')");
    exec(&mut db, &mut s, "UPDATE t SET b = 'z' WHERE a = 2");
    exec(&mut db, &mut s, "DELETE FROM t WHERE a = 1");
    let txns = read_all(&mut db, 0);
    assert_eq!(txns.len(), 4);
    let create = schemas(&txns[0]);
    assert_eq!(create.len(), 1);
    assert_eq!(create[0].change, SchemaChange::Create);
    let schema = &create[0].schema;
    assert_eq!(
        (
            schema.name.as_str(),
            schema.without_rowid,
            schema.rowid_alias
        ),
        ("t", false, None)
    );
    assert_eq!(schema.columns[1].name, "b");
    assert_eq!(schema.columns[1].decl_type, "TEXT");
    assert!(schema.columns[1].not_null);
    let ins = rows(&txns[1]);
    assert_eq!(ins.len(), 2);
    assert_eq!((ins[0].op, &ins[0].key), (RowOp::Insert, &vec![i(1)]));
    assert_eq!(ins[0].after, Some(vec![i(1), t("x")]));
    assert_eq!(ins[0].before, None);
    let upd = rows(&txns[2]);
    assert_eq!(upd.len(), 1);
    assert_eq!((upd[0].op, &upd[0].key), (RowOp::Update, &vec![i(2)]));
    assert_eq!(upd[0].before, Some(vec![i(2), t("y")]));
    assert_eq!(upd[0].after, Some(vec![i(2), t("z")]));
    let del = rows(&txns[3]);
    assert_eq!((del[0].op, &del[0].key), (RowOp::Delete, &vec![i(1)]));
    assert_eq!(del[0].before, Some(vec![i(1), t("x")]));
    assert_eq!(del[0].after, None);
    // LSNs increase and transaction ids and times are carried over.
    assert!(txns
        .windows(2)
        .all(|w| w[0].lsn < w[1].lsn && w[0].commit_ts < w[1].commit_ts));
    assert!(txns.iter().all(|t| t.commit_time_ms > 0));
}

#[test]
fn integer_primary_key_is_the_rowid_and_appears_in_the_image() {
    let (mut db, mut s) = db();
    exec(&mut db, &mut s, "CREATE TABLE p(id INTEGER PRIMARY KEY, v)");
    exec(
        &mut db,
        &mut s,
        "INSERT INTO p VALUES (10, 'x'); INSERT INTO p(v) VALUES ('y')",
    );
    exec(&mut db, &mut s, "UPDATE p SET id = 20 WHERE id = 10");
    let txns = read_all(&mut db, 0);
    let schema = &schemas(&txns[0])[0].schema;
    assert_eq!(schema.rowid_alias, Some(0));
    assert_eq!(schema.columns[0].pk, Some(1));
    assert_eq!(rows(&txns[1])[0].key, vec![i(10)]);
    assert_eq!(rows(&txns[1])[0].after, Some(vec![i(10), t("x")]));
    assert_eq!(rows(&txns[2])[0].after, Some(vec![i(11), t("y")]));
    // Changing the rowid moves the row: a delete and an insert.
    let moved = rows(&txns[3]);
    let ops: Vec<_> = moved.iter().map(|r| (r.op, r.key.clone())).collect();
    assert_eq!(
        ops,
        vec![(RowOp::Delete, vec![i(10)]), (RowOp::Insert, vec![i(20)])]
    );
    assert_eq!(moved[1].after, Some(vec![i(20), t("x")]));
}

#[test]
fn without_rowid_composite_keys_come_from_the_row() {
    let (mut db, mut s) = db();
    exec(
        &mut db,
        &mut s,
        "CREATE TABLE w(a TEXT COLLATE NOCASE, b INT, c, PRIMARY KEY (b, a)) WITHOUT ROWID",
    );
    exec(&mut db, &mut s, "INSERT INTO w VALUES ('Ab', 1, 'x')");
    exec(&mut db, &mut s, "UPDATE w SET c = 'y'");
    exec(&mut db, &mut s, "DELETE FROM w");
    let txns = read_all(&mut db, 0);
    let schema = &schemas(&txns[0])[0].schema;
    assert!(schema.without_rowid);
    let pks: Vec<_> = schema.columns.iter().map(|c| c.pk).collect();
    assert_eq!(pks, vec![Some(2), Some(1), None]);
    // The key is the PRIMARY KEY in key order, unfolded by the collation.
    let ins = rows(&txns[1])[0];
    assert_eq!(ins.key, vec![i(1), t("Ab")]);
    assert_eq!(ins.after, Some(vec![t("Ab"), i(1), t("x")]));
    let upd = rows(&txns[2])[0];
    assert_eq!((upd.op, &upd.key), (RowOp::Update, &vec![i(1), t("Ab")]));
    assert_eq!(upd.before, Some(vec![t("Ab"), i(1), t("x")]));
    assert_eq!(upd.after, Some(vec![t("Ab"), i(1), t("y")]));
    let del = rows(&txns[3])[0];
    assert_eq!((del.op, &del.key), (RowOp::Delete, &vec![i(1), t("Ab")]));
}

#[test]
fn upsert_and_replace_are_updates_and_deletes() {
    let (mut db, mut s) = db();
    exec(
        &mut db,
        &mut s,
        "CREATE TABLE u(id INTEGER PRIMARY KEY, name TEXT UNIQUE, n)",
    );
    exec(
        &mut db,
        &mut s,
        "INSERT INTO u VALUES (1, 'a', 0), (2, 'b', 0)",
    );
    let from = last_lsn(&mut db) + 1;
    exec(
        &mut db,
        &mut s,
        "INSERT INTO u VALUES (1, 'a', 5) ON CONFLICT(id) DO UPDATE SET n = n + 1",
    );
    // REPLACE over id 1 and name 'b': row 2 is deleted, row 1 replaced.
    exec(&mut db, &mut s, "REPLACE INTO u VALUES (1, 'b', 9)");
    let txns = read_all(&mut db, from);
    assert_eq!(txns.len(), 2);
    let upsert = rows(&txns[0]);
    assert_eq!(upsert.len(), 1);
    assert_eq!(upsert[0].op, RowOp::Update);
    assert_eq!(upsert[0].after, Some(vec![i(1), t("a"), i(1)]));
    let replace: Vec<_> = rows(&txns[1])
        .iter()
        .map(|r| (r.op, r.key.clone(), r.after.clone()))
        .collect();
    assert_eq!(
        replace,
        vec![
            (RowOp::Update, vec![i(1)], Some(vec![i(1), t("b"), i(9)])),
            (RowOp::Delete, vec![i(2)], None),
        ]
    );
}

#[test]
fn a_transaction_is_one_change_transaction_and_rollbacks_produce_nothing() {
    let (mut db, mut s) = db();
    exec(&mut db, &mut s, "CREATE TABLE a(x); CREATE TABLE b(y)");
    let from = last_lsn(&mut db) + 1;
    exec(
        &mut db,
        &mut s,
        "BEGIN; INSERT INTO a VALUES (1); INSERT INTO b VALUES (2); UPDATE a SET x = 3; COMMIT",
    );
    exec(&mut db, &mut s, "BEGIN; INSERT INTO a VALUES (7); ROLLBACK");
    assert!(db
        .execute(&mut s, "INSERT INTO a VALUES (1), (2, 3)", &[])
        .is_err());
    let txns = read_all(&mut db, from);
    assert_eq!(txns.len(), 1, "{txns:?}");
    // The net effect: the row inserted and then updated is one insert.
    let events: Vec<_> = rows(&txns[0])
        .iter()
        .map(|r| (r.table.clone(), r.op, r.after.clone()))
        .collect();
    assert_eq!(
        events,
        vec![
            ("a".to_string(), RowOp::Insert, Some(vec![i(3)])),
            ("b".to_string(), RowOp::Insert, Some(vec![i(2)])),
        ]
    );
    // A transaction that changes no table row (an index) yields nothing,
    // but the position moves past it.
    exec(&mut db, &mut s, "CREATE INDEX ax ON a(x)");
    let batch = read(&mut db, from, &ChangeFilter::default());
    assert_eq!(batch.txns.len(), 1);
    assert_eq!(batch.next_lsn, last_lsn(&mut db) + 1);
    assert_eq!(batch.last_lsn, last_lsn(&mut db));
}

#[test]
fn rows_decode_with_the_schema_in_effect_at_their_lsn() {
    let (mut db, mut s) = db();
    exec(&mut db, &mut s, "CREATE TABLE t(a, b)");
    exec(&mut db, &mut s, "INSERT INTO t VALUES (1, 2)");
    exec(
        &mut db,
        &mut s,
        "ALTER TABLE t ADD COLUMN c INTEGER DEFAULT 5",
    );
    exec(&mut db, &mut s, "INSERT INTO t VALUES (3, 4, 6)");
    exec(&mut db, &mut s, "UPDATE t SET a = 10 WHERE a = 1");
    exec(&mut db, &mut s, "ALTER TABLE t RENAME COLUMN b TO bee");
    exec(&mut db, &mut s, "ALTER TABLE t DROP COLUMN a");
    exec(&mut db, &mut s, "INSERT INTO t VALUES (7, 8)");
    let txns = read_all(&mut db, 0);
    assert_eq!(
        rows(&txns[1])[0].after,
        Some(vec![i(1), i(2)]),
        "old column count"
    );
    let add = schemas(&txns[2])[0];
    assert_eq!(
        (add.change, add.column.as_deref()),
        (SchemaChange::AddColumn, Some("c"))
    );
    assert_eq!(add.schema.columns[2].default, Some(i(5)));
    assert!(rows(&txns[2]).is_empty(), "ADD COLUMN rewrites no row");
    assert_eq!(rows(&txns[3])[0].after, Some(vec![i(3), i(4), i(6)]));
    // The old, shorter row reads the DEFAULT of the added column.
    let upd = rows(&txns[4])[0];
    assert_eq!(upd.before, Some(vec![i(1), i(2), i(5)]));
    assert_eq!(upd.after, Some(vec![i(10), i(2), i(5)]));
    let ren = schemas(&txns[5])[0];
    assert_eq!(
        (ren.change, ren.column.as_deref(), ren.previous.as_deref()),
        (SchemaChange::RenameColumn, Some("bee"), Some("b"))
    );
    // DROP COLUMN rewrites every row: before with three columns, after two.
    let drop = &txns[6];
    let ev = schemas(drop)[0];
    assert_eq!(
        (ev.change, ev.column.as_deref()),
        (SchemaChange::DropColumn, Some("a"))
    );
    let rewritten = rows(drop);
    assert_eq!(rewritten.len(), 2);
    assert_eq!(rewritten[0].before, Some(vec![i(10), i(2), i(5)]));
    assert_eq!(rewritten[0].after, Some(vec![i(2), i(5)]));
    assert_eq!(rows(&txns[7])[0].after, Some(vec![i(7), i(8)]));
    // Reading from the middle reconstructs the schema of that LSN.
    let middle = read_all(&mut db, txns[1].lsn);
    assert_eq!(middle, txns[1..].to_vec());
    let late = read_all(&mut db, txns[4].lsn);
    assert_eq!(late, txns[4..].to_vec());
}

#[test]
fn rename_and_drop_table_are_events_and_dropped_tables_still_decode() {
    let (mut db, mut s) = db();
    exec(
        &mut db,
        &mut s,
        "CREATE TABLE old(k INTEGER PRIMARY KEY, v); CREATE INDEX ov ON old(v)",
    );
    exec(&mut db, &mut s, "INSERT INTO old VALUES (1, 'a'), (2, 'b')");
    exec(&mut db, &mut s, "ALTER TABLE old RENAME TO new");
    exec(&mut db, &mut s, "INSERT INTO new VALUES (3, 'c')");
    exec(&mut db, &mut s, "DROP TABLE new");
    exec(
        &mut db,
        &mut s,
        "CREATE TABLE x(a); INSERT INTO x VALUES (1)",
    );
    exec(
        &mut db,
        &mut s,
        "BEGIN; DROP TABLE x; CREATE TABLE x(a, b); INSERT INTO x VALUES (1, 2); COMMIT",
    );
    let txns = read_all(&mut db, 0);
    let rename = &txns[2];
    let ev = schemas(rename)[0];
    assert_eq!(
        (ev.change, ev.table.as_str(), ev.previous.as_deref()),
        (SchemaChange::RenameTable, "new", Some("old"))
    );
    // The rename moved the rows: all of them follow as inserts.
    let moved: Vec<_> = rows(rename)
        .iter()
        .map(|r| (r.table.clone(), r.op, r.key.clone()))
        .collect();
    assert_eq!(
        moved,
        vec![
            ("new".to_string(), RowOp::Insert, vec![i(1)]),
            ("new".to_string(), RowOp::Insert, vec![i(2)]),
        ]
    );
    assert_eq!(rows(&txns[3])[0].table, "new");
    let drop = schemas(&txns[4]);
    assert_eq!(
        (drop[0].change, drop[0].table.as_str()),
        (SchemaChange::Drop, "new")
    );
    assert!(rows(&txns[4]).is_empty());
    // CREATE INDEX (a transaction of its own) changed no row: no txn.
    assert_eq!(txns.len(), 8);
    assert_eq!(schemas(&txns[5])[0].change, SchemaChange::Create);
    assert_eq!(rows(&txns[6])[0].after, Some(vec![i(1)]));
    let replaced: Vec<_> = schemas(&txns[7])
        .iter()
        .map(|e| (e.change, e.schema.columns.len()))
        .collect();
    assert_eq!(
        replaced,
        vec![(SchemaChange::Drop, 1), (SchemaChange::Create, 2)]
    );
    assert_eq!(rows(&txns[7])[0].after, Some(vec![i(1), i(2)]));
    // The rows of the dropped tables decode from any start.
    assert_eq!(read_all(&mut db, txns[1].lsn), txns[1..].to_vec());
    assert_eq!(read_all(&mut db, txns[3].lsn), txns[3..].to_vec());
}

#[test]
fn filters_select_tables_and_operations() {
    let (mut db, mut s) = db();
    exec(&mut db, &mut s, "CREATE TABLE a(x); CREATE TABLE b(y)");
    exec(
        &mut db,
        &mut s,
        "INSERT INTO a VALUES (1); INSERT INTO b VALUES (1)",
    );
    exec(&mut db, &mut s, "UPDATE a SET x = 2; DELETE FROM b");
    let only_a = ChangeFilter {
        tables: vec!["A".into()],
        ops: vec![],
    };
    let txns = read(&mut db, 0, &only_a).txns;
    assert!(txns
        .iter()
        .flat_map(|t| &t.events)
        .all(|e| e.table() == "a"));
    // Each statement commits on its own: create, insert, update.
    assert_eq!(
        txns.iter().map(|t| t.events.len()).sum::<usize>(),
        3,
        "{txns:?}"
    );
    let deletes = ChangeFilter {
        tables: vec![],
        ops: vec![RowOp::Delete],
    };
    let txns = read(&mut db, 0, &deletes).txns;
    // Schema events pass with their table; rows only when deleted.
    let ops: Vec<_> = txns
        .iter()
        .flat_map(|t| rows(t))
        .map(|r| (r.table.clone(), r.op))
        .collect();
    assert_eq!(ops, vec![("b".to_string(), RowOp::Delete)]);
    assert_eq!(txns.iter().map(|t| schemas(t).len()).sum::<usize>(), 2);
}

#[test]
fn batches_respect_limits_and_chain_to_the_whole_stream() {
    let (mut db, mut s) = db();
    exec(&mut db, &mut s, "CREATE TABLE t(a, b)");
    for n in 0..20 {
        exec(
            &mut db,
            &mut s,
            &format!("INSERT INTO t VALUES ({n}, '{}')", "x".repeat(100)),
        );
    }
    let all = read_all(&mut db, 0);
    for limits in [
        ReadLimits {
            max_txns: 3,
            max_bytes: usize::MAX,
        },
        ReadLimits {
            max_txns: usize::MAX,
            max_bytes: 500,
        },
        ReadLimits {
            max_txns: 1,
            max_bytes: 1,
        },
    ] {
        let mut from = 0;
        let mut got = Vec::new();
        loop {
            let batch = db
                .read_changes(from, limits, &ChangeFilter::default())
                .unwrap();
            assert!(batch.txns.len() <= limits.max_txns);
            if batch.txns.is_empty() {
                assert_eq!(batch.next_lsn, last_lsn(&mut db) + 1);
                break;
            }
            from = batch.next_lsn;
            got.extend(batch.txns);
        }
        assert_eq!(got, all, "{limits:?}");
    }
    let bad = ReadLimits {
        max_txns: 0,
        max_bytes: 1,
    };
    assert!(db.read_changes(0, bad, &ChangeFilter::default()).is_err());
    let beyond = last_lsn(&mut db) + 2;
    assert!(db
        .read_changes(beyond, ReadLimits::default(), &ChangeFilter::default())
        .is_err());
    assert!(matches!(
        db.read_changes(beyond - 1, ReadLimits::default(), &ChangeFilter::default()),
        Ok(b) if b.txns.is_empty()
    ));
}

#[test]
fn values_of_every_type_round_trip() {
    let (mut db, mut s) = db();
    exec(&mut db, &mut s, "CREATE TABLE v(a, b, c, d, e)");
    db.execute(
        &mut s,
        "INSERT INTO v VALUES (NULL, ?1, ?2, ?3, ?4)",
        &[
            i(i64::MIN),
            Value::Real(1.5),
            t("é"),
            Value::Blob(vec![0, 255]),
        ],
    )
    .unwrap();
    let txns = read_all(&mut db, 0);
    assert_eq!(
        rows(&txns[1])[0].after,
        Some(vec![
            Value::Null,
            i(i64::MIN),
            Value::Real(1.5),
            t("é"),
            Value::Blob(vec![0, 255])
        ])
    );
}

#[test]
fn a_batch_carries_the_schemas_of_tables_created_before_it() {
    let (mut db, mut s) = db();
    exec(
        &mut db,
        &mut s,
        "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT)",
    );
    exec(
        &mut db,
        &mut s,
        "CREATE TABLE b(k TEXT PRIMARY KEY, n INT) WITHOUT ROWID",
    );
    let from = last_lsn(&mut db) + 1;
    exec(&mut db, &mut s, "INSERT INTO a VALUES (1, 'x')");
    exec(&mut db, &mut s, "ALTER TABLE a ADD COLUMN w");
    exec(&mut db, &mut s, "CREATE TABLE c(z)");
    exec(&mut db, &mut s, "INSERT INTO c VALUES (3)");
    exec(&mut db, &mut s, "INSERT INTO b VALUES ('k', 2)");

    let batch = read(&mut db, from, &ChangeFilter::default());
    // a and b had rows before any schema event of theirs in the batch; c
    // was created inside it. Each schema is the one in effect before the
    // batch (a without w), in order of first appearance.
    let names: Vec<&str> = batch.schemas.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let a: Vec<&str> = batch.schemas[0]
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(a, ["id", "v"]);
    assert!(batch.schemas[1].without_rowid);

    // From the start, every table is created inside the batch.
    assert!(read(&mut db, 1, &ChangeFilter::default())
        .schemas
        .is_empty());
}
