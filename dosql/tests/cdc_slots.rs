//! Replication slots: validation, acknowledgement, durability across
//! restarts, WAL retention across checkpoints, and the retention cap.

mod cdc_common;

use cdc_common::*;
use dosql::error::Error;
use dosql::sql::cdc::{ChangeFilter, ReadLimits, RowOp};
use dosql::sql::{Database, Session};

fn read_slot(db: &mut Database, name: &str) -> dosql::error::Result<dosql::sql::cdc::ChangeBatch> {
    db.read_slot(name, ReadLimits::default(), &ChangeFilter::default())
}

#[test]
fn slots_are_created_listed_acknowledged_and_dropped() {
    let mut db = Database::open_memory().unwrap();
    let mut s = Session::new();
    exec(&mut db, &mut s, "CREATE TABLE t(a); INSERT INTO t VALUES (1)");
    let slot = db.create_slot("lake").unwrap();
    assert_eq!((slot.acked_lsn, slot.lagging), (last_lsn(&mut db) - 1, false));
    for bad in ["", "Lake", "a-b", &"x".repeat(65)] {
        assert!(matches!(db.create_slot(bad), Err(Error::InvalidInput(_))), "{bad:?}");
    }
    assert!(matches!(db.create_slot("lake"), Err(Error::InvalidInput(_))));
    assert!(matches!(db.drop_slot("nope"), Err(Error::NotFound(_))));
    assert!(matches!(read_slot(&mut db, "nope"), Err(Error::NotFound(_))));
    // Only what was committed after the slot's creation is read.
    exec(&mut db, &mut s, "INSERT INTO t VALUES (2)");
    let batch = read_slot(&mut db, "lake").unwrap();
    assert_eq!(batch.txns.len(), 1);
    assert_eq!(rows(&batch.txns[0])[0].after, Some(vec![i(2)]));
    // Reading does not move the slot; acknowledging does.
    assert_eq!(read_slot(&mut db, "lake").unwrap(), {
        let mut again = batch.clone();
        again.last_lsn = last_lsn(&mut db);
        again
    });
    db.ack_slot("lake", batch.next_lsn - 1).unwrap();
    assert_eq!(db.slot("lake").unwrap().acked_lsn, batch.next_lsn - 1);
    assert!(read_slot(&mut db, "lake").unwrap().txns.is_empty());
    db.ack_slot("lake", batch.next_lsn - 1).unwrap();
    assert!(matches!(db.ack_slot("lake", 1), Err(Error::InvalidInput(_))), "backwards");
    let beyond = last_lsn(&mut db) + 1;
    assert!(matches!(db.ack_slot("lake", beyond), Err(Error::InvalidInput(_))));
    db.create_slot("other").unwrap();
    let names: Vec<_> = db.slots().into_iter().map(|s| s.name).collect();
    assert_eq!(names, vec!["lake", "other"]);
    db.drop_slot("lake").unwrap();
    assert_eq!(db.slots().len(), 1);
    // Slot bookkeeping is no change event.
    let all = read_all(&mut db, batch.next_lsn);
    assert!(all.is_empty(), "{all:?}");
}

#[test]
fn slots_survive_restart_and_hold_the_wal_across_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let acked;
    {
        let mut db = Database::open_dir(dir.path()).unwrap();
        let mut s = Session::new();
        db.create_slot("lake").unwrap();
        exec(&mut db, &mut s, "CREATE TABLE t(a INTEGER PRIMARY KEY, b)");
        exec(&mut db, &mut s, "INSERT INTO t VALUES (1, 'one')");
        let first = read_slot(&mut db, "lake").unwrap();
        acked = first.txns[0].lsn;
        db.ack_slot("lake", acked).unwrap();
        for n in 2..=50 {
            exec(&mut db, &mut s, &format!("INSERT INTO t VALUES ({n}, 'x')"));
            if n % 10 == 0 {
                db.engine().checkpoint().unwrap();
            }
        }
        db.engine().checkpoint().unwrap();
    }
    let mut db = Database::open_dir(dir.path()).unwrap();
    let mut s = Session::new();
    let slot = db.slot("lake").unwrap();
    assert_eq!((slot.acked_lsn, slot.lagging), (acked, false));
    assert!(slot.retained_records >= 50);
    // Everything after the acknowledged LSN is still there, decoded with
    // the schema, although checkpoints ran in between.
    let batch = read_slot(&mut db, "lake").unwrap();
    let keys: Vec<_> = batch.txns.iter().flat_map(|t| rows(t)).map(|r| r.key.clone()).collect();
    assert_eq!(keys, (1..=50).map(|n| vec![i(n)]).collect::<Vec<_>>());
    db.ack_slot("lake", batch.next_lsn - 1).unwrap();
    exec(&mut db, &mut s, "INSERT INTO t VALUES (51, 'y')");
    db.engine().checkpoint().unwrap();
    // Without a slot, a checkpoint lets the WAL go: an old position is lost.
    db.drop_slot("lake").unwrap();
    exec(&mut db, &mut s, "INSERT INTO t VALUES (52, 'z')");
    db.engine().checkpoint().unwrap();
    let lost = db.read_changes(1, ReadLimits::default(), &ChangeFilter::default());
    assert!(matches!(lost, Err(Error::LimitExceeded(_))), "{lost:?}");
}

#[test]
fn a_slot_past_the_cap_is_marked_lagging_and_the_database_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut db = Database::open_dir(dir.path()).unwrap();
        let mut s = Session::new();
        exec(&mut db, &mut s, "CREATE TABLE t(a)");
        db.create_slot("slow").unwrap();
        db.create_slot("fast").unwrap();
        db.set_slot_retention_cap(10).unwrap();
        assert!(db.set_slot_retention_cap(0).is_err());
        for n in 0..20 {
            exec(&mut db, &mut s, &format!("INSERT INTO t VALUES ({n})"));
            let fast = db.read_slot("fast", ReadLimits::default(), &ChangeFilter::default()).unwrap();
            db.ack_slot("fast", fast.next_lsn - 1).unwrap();
        }
        let slow = db.slot("slow").unwrap();
        assert!(slow.lagging, "{slow:?}");
        assert!(!db.slot("fast").unwrap().lagging);
        let err = read_slot(&mut db, "slow").unwrap_err();
        assert!(matches!(&err, Error::LimitExceeded(m) if m.contains("lagging")), "{err}");
        let last = last_lsn(&mut db);
        assert!(db.ack_slot("slow", last).is_err());
        exec(&mut db, &mut s, "INSERT INTO t VALUES (99)");
        let fast = read_slot(&mut db, "fast").unwrap();
        assert_eq!(rows(&fast.txns[0])[0].op, RowOp::Insert);
    }
    let mut db = Database::open_dir(dir.path()).unwrap();
    assert!(db.slot("slow").unwrap().lagging, "lagging is durable");
    assert!(!db.slot("fast").unwrap().lagging);
    // A new slot of the same name starts afresh.
    db.drop_slot("slow").unwrap();
    db.create_slot("slow").unwrap();
    assert!(read_slot(&mut db, "slow").unwrap().txns.is_empty());
}

#[test]
fn a_lagging_slot_no_longer_holds_the_wal_back() {
    // The memory log store truncates exactly where it is told.
    let mut db = Database::open_memory().unwrap();
    let mut s = Session::new();
    exec(&mut db, &mut s, "CREATE TABLE t(a)");
    db.create_slot("slow").unwrap();
    let start = db.slot("slow").unwrap().acked_lsn + 1;
    for n in 0..5 {
        exec(&mut db, &mut s, &format!("INSERT INTO t VALUES ({n})"));
    }
    db.engine().checkpoint().unwrap();
    assert_eq!(read_all(&mut db, start).len(), 5, "held back by the slot");
    db.set_slot_retention_cap(3).unwrap();
    assert!(db.slot("slow").unwrap().lagging);
    exec(&mut db, &mut s, "INSERT INTO t VALUES (5)");
    db.engine().checkpoint().unwrap();
    let lost = db.read_changes(start, ReadLimits::default(), &ChangeFilter::default());
    assert!(matches!(lost, Err(Error::LimitExceeded(_))), "{lost:?}");
    let mut s2 = Session::new();
    exec(&mut db, &mut s2, "INSERT INTO t VALUES (6)");
}
