//! The change stream through the client against a real `dosql-server`:
//! slots, filtered reads, a subscription that resumes from its slot.

use std::time::Duration;

use dosql_testkit::{Server, TOKEN};
use sql_client::cdc::{ChangeEvent, ChangeTxn, RowOp};
use sql_client::{Client, Error, ErrorCode, Subscription, Value};

/// A server whose databases do not ship to its lake: these tests count
/// slots and stream positions, which the lake's slot and its background
/// acknowledgements would change.
fn server() -> Server {
    Server::start_with(&["--no-ship"])
}

async fn client(server: &Server, name: &str) -> Client {
    Client::connect(&server.url(name), TOKEN)
        .await
        .expect("connect")
}

/// The (table, op, key) of every row event of `txn`.
fn rows(txn: &ChangeTxn) -> Vec<(String, RowOp, Vec<Value>)> {
    txn.events
        .iter()
        .filter_map(|e| match e {
            ChangeEvent::Row(r) => Some((r.table.clone(), r.op, r.key.clone())),
            ChangeEvent::Schema(_) => None,
        })
        .collect()
}

async fn next(stream: &mut sql_client::ChangeStream) -> ChangeTxn {
    tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("a transaction within 20 s")
        .expect("read")
}

#[tokio::test]
async fn a_subscription_delivers_filtered_transactions_and_resumes_from_its_slot() {
    let server = server();
    let db = client(&server, "shop").await;
    db.exec_script(
        "CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT);
         CREATE TABLE audit(id INTEGER PRIMARY KEY, note TEXT);",
    )
    .await
    .unwrap();
    let slot = db.create_slot("lake").await.unwrap();
    assert_eq!(slot.name, "lake");
    assert!(!slot.lagging);

    let mut stream = db.subscribe(
        Subscription::slot("lake")
            .tables(["orders"])
            .poll_interval(Duration::from_millis(10), Duration::from_millis(100)),
    );
    db.execute("INSERT INTO orders(item) VALUES ('pen')", ())
        .await
        .unwrap();
    db.execute(
        "INSERT INTO audit(note) VALUES ('skipped by the filter')",
        (),
    )
    .await
    .unwrap();
    db.execute("UPDATE orders SET item = 'ink' WHERE id = 1", ())
        .await
        .unwrap();

    let first = next(&mut stream).await;
    assert_eq!(first.shard, "shop");
    assert_eq!(
        rows(&first),
        [("orders".into(), RowOp::Insert, vec![Value::Integer(1)])]
    );
    // The audit insert is filtered out: the next one is the update.
    let second = next(&mut stream).await;
    assert_eq!(
        rows(&second),
        [("orders".into(), RowOp::Update, vec![Value::Integer(1)])]
    );
    assert!(second.lsn > first.lsn + 1);

    // Only the first is acknowledged: a new subscriber on the slot (a
    // restarted consumer) gets the second again, and nothing before it.
    stream.ack(first.lsn).await.unwrap();
    let slots = db.list_slots().await.unwrap();
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0].acked_lsn, first.lsn);
    let mut resumed = db.subscribe(Subscription::slot("lake").tables(["orders"]));
    let again = next(&mut resumed).await;
    assert_eq!(again, second);

    // A subscription waits for commits that come later.
    let later = tokio::spawn(async move {
        let txn = next(&mut resumed).await;
        rows(&txn)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    db.execute("DELETE FROM orders WHERE id = 1", ())
        .await
        .unwrap();
    assert_eq!(
        later.await.unwrap(),
        [("orders".into(), RowOp::Delete, vec![Value::Integer(1)])]
    );
}

#[tokio::test]
async fn reads_by_position_and_operation_filters() {
    let server = server();
    let db = client(&server, "pos").await;
    db.execute("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)", ())
        .await
        .unwrap();
    for i in 1..=3 {
        db.execute("INSERT INTO t VALUES (?, 'x')", (i,))
            .await
            .unwrap();
    }
    db.execute("DELETE FROM t WHERE k = 2", ()).await.unwrap();

    // From the oldest retained LSN: the CREATE comes first, as a schema event.
    let all = db.read_changes(0, Default::default()).await.unwrap();
    assert!(matches!(all.txns[0].events[0], ChangeEvent::Schema(_)));
    let row_txns: Vec<_> = all.txns.iter().filter(|t| !rows(t).is_empty()).collect();
    assert_eq!(row_txns.len(), 4);
    assert_eq!(all.next_lsn, all.last_lsn + 1);

    // Schema events pass an operation filter with their table: the CREATE
    // comes first, then only the delete.
    let mut deletes = db.subscribe(Subscription::from_lsn(0).operations([RowOp::Delete]));
    let create = next(&mut deletes).await;
    assert!(matches!(&create.events[..], [ChangeEvent::Schema(s)] if s.table == "t"));
    let txn = next(&mut deletes).await;
    assert_eq!(
        rows(&txn),
        [("t".into(), RowOp::Delete, vec![Value::Integer(2)])]
    );
    assert_eq!(deletes.position(), Some(all.next_lsn));
    // A stream by position has no slot to acknowledge.
    assert!(matches!(deletes.ack(txn.lsn).await, Err(Error::Invalid(_))));
}

#[tokio::test]
async fn slot_errors_are_typed() {
    let server = server();
    let db = client(&server, "errs").await;
    let err = db.ack_slot("missing", 1).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotFound));
    let err = db.create_slot("bad name!").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest));
    db.create_slot("s").await.unwrap();
    let err = db.create_slot("s").await.unwrap_err();
    assert!(err.code().is_some(), "{err}");
    db.drop_slot("s").await.unwrap();
    assert!(db.list_slots().await.unwrap().is_empty());
}
