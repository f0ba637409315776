//! The WAL over the file log store: durability across reopen, process
//! crashes (drop without flush), injected write failures and retention.

use dosql::store::{FaultInjector, FaultLogStore, FileLogOptions, FileLogStore};
use dosql::wal::{Change, Record, Wal};
use dosql::Error;

fn changes(n: u64, value_len: usize) -> Vec<Change> {
    (0..n)
        .map(|i| Change::Put {
            tree: 1 + i % 3,
            key: i.to_be_bytes().to_vec(),
            before: (i % 2 == 0).then(|| vec![1; 3]),
            after: vec![i as u8; value_len],
        })
        .collect()
}

fn records(wal: &mut Wal, from: u64) -> Vec<Record> {
    let mut out = Vec::new();
    wal.replay(from, &mut |r| {
        out.push(r);
        Ok(())
    })
    .unwrap();
    out
}

fn open(dir: &std::path::Path, segment_size: u64) -> Wal {
    Wal::open(Box::new(
        FileLogStore::open_with(dir, FileLogOptions { segment_size }).unwrap(),
    ))
    .unwrap()
}

#[test]
fn records_survive_reopen_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = open(dir.path(), 1 << 20);
    let mut appended = Vec::new();
    for txn in 1..=50u64 {
        let c = changes(txn % 7, 40);
        let lsn = wal
            .append(txn, txn + 100, 1_700_000_000_000 + txn, &c)
            .unwrap();
        appended.push(Record {
            lsn,
            txn,
            commit_ts: txn + 100,
            wall_time_ms: 1_700_000_000_000 + txn,
            changes: c,
        });
    }
    // A bulk commit far larger than the write buffer.
    let bulk = changes(20_000, 100);
    let lsn = wal.append(51, 151, 0, &bulk).unwrap();
    appended.push(Record {
        lsn,
        txn: 51,
        commit_ts: 151,
        wall_time_ms: 0,
        changes: bulk,
    });
    assert_eq!(
        records(&mut wal, 0),
        appended,
        "unsynced records are replayed too"
    );
    wal.sync().unwrap();
    assert_eq!(wal.durable_lsn(), 51);
    drop(wal);
    let mut wal = open(dir.path(), 1 << 20);
    assert_eq!(wal.last_lsn(), 51);
    assert_eq!(records(&mut wal, 0), appended);
    assert_eq!(records(&mut wal, 40), appended[39..].to_vec());
}

#[test]
fn flushed_records_survive_a_process_crash_and_buffered_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = open(dir.path(), 1 << 20);
    wal.append(1, 1, 0, &changes(2, 10)).unwrap();
    wal.sync().unwrap();
    wal.append(2, 2, 0, &changes(2, 10)).unwrap();
    wal.flush().unwrap();
    wal.append(3, 3, 0, &changes(2, 10)).unwrap();
    drop(wal); // the process dies: the buffer is lost, the OS keeps the rest
    let mut wal = open(dir.path(), 1 << 20);
    let txns: Vec<u64> = records(&mut wal, 0).iter().map(|r| r.txn).collect();
    assert_eq!(txns, vec![1, 2]);
    assert_eq!(
        wal.append(4, 4, 0, &[]).unwrap(),
        3,
        "the lost LSN is reused"
    );
}

#[test]
fn injected_failures_leave_a_prefix_that_holds_every_synced_record() {
    // The workload: 12 commits; sync after every third, flush after others.
    fn workload(wal: &mut Wal, synced: &mut u64) -> Result<(), Error> {
        for txn in 1..=12u64 {
            wal.append(txn, txn, 0, &changes(txn % 4, 30))?;
            if txn % 3 == 0 {
                wal.sync()?;
                *synced = txn;
            } else {
                wal.flush()?;
            }
        }
        Ok(())
    }
    let counting = FaultInjector::new();
    let dir = tempfile::tempdir().unwrap();
    let log = FaultLogStore::new(
        FileLogStore::open_with(dir.path(), FileLogOptions { segment_size: 300 }).unwrap(),
        counting.clone(),
    );
    let mut wal = Wal::open(Box::new(log)).unwrap();
    workload(&mut wal, &mut 0).unwrap();
    let points = counting.points();
    assert_eq!(points, 24);
    for crash_at in 1..=points {
        let dir = tempfile::tempdir().unwrap();
        let injector = FaultInjector::new();
        injector.crash_at(crash_at);
        let inner =
            FileLogStore::open_with(dir.path(), FileLogOptions { segment_size: 300 }).unwrap();
        let mut wal = Wal::open(Box::new(FaultLogStore::new(inner, injector.clone()))).unwrap();
        let mut synced = 0;
        assert!(workload(&mut wal, &mut synced).is_err());
        drop(wal);
        let mut wal = open(dir.path(), 300);
        let txns: Vec<u64> = records(&mut wal, 0).iter().map(|r| r.txn).collect();
        assert_eq!(
            txns,
            (1..=txns.len() as u64).collect::<Vec<_>>(),
            "a prefix, crash at {crash_at}"
        );
        assert!(
            txns.len() as u64 >= synced,
            "synced records kept, crash at {crash_at}"
        );
    }
}

#[test]
fn truncation_keeps_the_lsn_sequence_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = open(dir.path(), 200);
    for txn in 1..=30u64 {
        wal.append(txn, txn, 0, &changes(1, 50)).unwrap();
    }
    wal.sync().unwrap();
    wal.truncate_before(25).unwrap();
    let kept = records(&mut wal, 0);
    assert!(
        kept.first().unwrap().lsn <= 25 && kept.first().unwrap().lsn > 1,
        "whole segments dropped"
    );
    assert_eq!(kept.last().unwrap().lsn, 30);
    wal.truncate_before(u64::MAX).unwrap();
    drop(wal);
    let mut wal = open(dir.path(), 200);
    assert_eq!(wal.last_lsn(), 30);
    assert_eq!(wal.append(31, 31, 0, &[]).unwrap(), 31);
    let store = FileLogStore::open(dir.path()).unwrap();
    assert!(store.segments().len() <= 2);
}
