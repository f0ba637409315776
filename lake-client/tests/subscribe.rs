//! The change stream through lake-client against a real dosql-server:
//! filtered by table and operation, and continued right after what a lake
//! snapshot includes (`after_snapshot`).

use std::collections::BTreeMap;
use std::time::Duration;

use dosql_testkit::{Server, TOKEN};
use lake_client::{
    after_snapshot, subscribe, ChangeEvent, ChangeStream, ChangeTxn, Operation, RowOp,
    SnapshotInfo, Subscription,
};
use sql_client::{Client, Value};

async fn next(stream: &mut ChangeStream) -> ChangeTxn {
    tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("a transaction within 20 s")
        .expect("read")
}

/// (table, op, key) of every row event.
fn rows(txn: &ChangeTxn) -> Vec<(String, RowOp, Vec<Value>)> {
    txn.events
        .iter()
        .filter_map(|e| match e {
            ChangeEvent::Row(r) => Some((r.table.clone(), r.op, r.key.clone())),
            ChangeEvent::Schema(_) => None,
        })
        .collect()
}

/// A snapshot summary as DoLake writes it: it includes `app` up to `lsn`.
fn snapshot_through(lsn: u64) -> SnapshotInfo {
    SnapshotInfo {
        snapshot_id: 1,
        parent_snapshot_id: None,
        sequence_number: 1,
        timestamp_ms: 0,
        operation: Operation::Append,
        summary: BTreeMap::from([("dolake.lsn.app".into(), lsn.to_string())]),
        shard_lsns: BTreeMap::from([("app".into(), lsn)]),
        schema_id: None,
        current: true,
    }
}

#[tokio::test]
async fn the_stream_is_filtered_and_continues_after_a_snapshot() {
    let server = Server::start();
    let db = Client::connect(&server.url("app"), TOKEN).await.unwrap();
    db.exec_script(
        "CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT);
         CREATE TABLE audit(id INTEGER PRIMARY KEY, note TEXT);",
    )
    .await
    .unwrap();
    for sql in [
        "INSERT INTO orders(item) VALUES ('pen')",
        "INSERT INTO orders(item) VALUES ('ink')",
        "INSERT INTO audit(note) VALUES ('not orders')",
        "UPDATE orders SET item = 'nib' WHERE id = 1",
        "DELETE FROM audit WHERE id = 1",
        "DELETE FROM orders WHERE id = 2",
    ] {
        db.execute(sql, ()).await.unwrap();
    }
    let poll =
        |s: Subscription| s.poll_interval(Duration::from_millis(10), Duration::from_millis(100));

    // Every change of orders, from the start: its CREATE (schema events
    // pass with their table), then the row changes.
    let mut all = subscribe(&db, poll(Subscription::from_lsn(0).tables(["orders"])));
    let create = next(&mut all).await;
    assert!(rows(&create).is_empty());
    assert!(matches!(&create.events[0], ChangeEvent::Schema(s) if s.table == "orders"));
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let txn = next(&mut all).await;
        assert_eq!(txn.shard, "app");
        seen.push((txn.lsn, rows(&txn)));
    }
    let ops: Vec<Vec<(String, RowOp, Vec<Value>)>> = seen.iter().map(|(_, r)| r.clone()).collect();
    let one = |op, id| vec![("orders".to_string(), op, vec![Value::Integer(id)])];
    assert_eq!(
        ops,
        [
            one(RowOp::Insert, 1),
            one(RowOp::Insert, 2),
            one(RowOp::Update, 1),
            one(RowOp::Delete, 2)
        ]
    );

    // A lake snapshot that includes the first insert: the stream after it
    // starts with the second, and with an operation filter only updates
    // and deletes of orders pass.
    let first_lsn = seen[0].0;
    let after = after_snapshot(&snapshot_through(first_lsn), "app").unwrap();
    let mut tail = subscribe(&db, poll(after.clone().tables(["orders"])));
    let t = next(&mut tail).await;
    assert_eq!((t.lsn, rows(&t)), (seen[1].0, one(RowOp::Insert, 2)));

    let mut changed = subscribe(
        &db,
        poll(
            after
                .tables(["orders"])
                .operations([RowOp::Update, RowOp::Delete]),
        ),
    );
    let u = next(&mut changed).await;
    assert_eq!((u.lsn, rows(&u)), (seen[2].0, one(RowOp::Update, 1)));
    let d = next(&mut changed).await;
    assert_eq!((d.lsn, rows(&d)), (seen[3].0, one(RowOp::Delete, 2)));

    // Nothing else is pending; a new change arrives on the open stream.
    db.execute("DELETE FROM orders WHERE id = 1", ())
        .await
        .unwrap();
    let late = next(&mut changed).await;
    assert!(late.lsn > d.lsn);
    assert_eq!(rows(&late), one(RowOp::Delete, 1));
}
