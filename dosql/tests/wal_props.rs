//! Property tests of the WAL record encoding and of the WAL over the memory
//! log store.

use dosql::store::MemLogStore;
use dosql::wal::{decode_record, encode_record, Change, Record, Wal};
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// Ids that exercise every varint length.
fn id() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..200, any::<u64>(), (0u32..64).prop_map(|s| 1u64 << s)]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (id(), bytes(20), prop::option::of(bytes(40)), bytes(40)).prop_map(
            |(tree, key, before, after)| Change::Put {
                tree,
                key,
                before,
                after
            }
        ),
        (id(), bytes(20), prop::option::of(bytes(40)))
            .prop_map(|(tree, key, before)| Change::Delete { tree, key, before }),
        (id(), ".{0,12}", any::<bool>()).prop_map(|(tree, name, index)| Change::CreateTree {
            tree,
            name,
            index
        }),
        id().prop_map(|tree| Change::DropTree { tree }),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (
        id(),
        id(),
        id(),
        id(),
        prop::collection::vec(change(), 0..8),
    )
        .prop_map(|(lsn, txn, commit_ts, wall_time_ms, changes)| Record {
            lsn,
            txn,
            commit_ts,
            wall_time_ms,
            changes,
        })
}

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<Change>),
    Flush,
    Sync,
    /// Drop the WAL, lose unsynced records, reopen.
    Crash,
    /// Drop the WAL and reopen without losing anything.
    Reopen,
    Truncate(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(change(), 0..3).prop_map(Op::Append),
        1 => Just(Op::Flush),
        2 => Just(Op::Sync),
        1 => Just(Op::Crash),
        1 => Just(Op::Reopen),
        1 => (0u64..40).prop_map(Op::Truncate),
    ]
}

fn all_records(wal: &mut Wal, from: u64) -> Vec<Record> {
    let mut out = Vec::new();
    wal.replay(from, &mut |r| {
        out.push(r);
        Ok(())
    })
    .unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn records_round_trip(record in record()) {
        let mut buf = Vec::new();
        encode_record(&record, &mut buf);
        prop_assert_eq!(decode_record(record.lsn, &buf).unwrap(), record);
    }

    #[test]
    fn decoding_random_bytes_never_panics(bytes in bytes(64), lsn in any::<u64>()) {
        if let Ok(record) = decode_record(lsn, &bytes) {
            let mut again = Vec::new();
            encode_record(&record, &mut again);
            prop_assert_eq!(again, bytes);
        }
    }

    #[test]
    fn decoding_damaged_records_never_panics(record in record(), pos in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        let mut buf = Vec::new();
        encode_record(&record, &mut buf);
        let i = pos % buf.len();
        buf[i] = byte;
        buf.truncate(cut % (buf.len() + 1));
        if let Ok(decoded) = decode_record(record.lsn, &buf) {
            let mut again = Vec::new();
            encode_record(&decoded, &mut again);
            prop_assert_eq!(again, buf);
        }
    }

    /// Against a model: the log holds exactly the appended records minus the
    /// truncated ones, and a crash keeps exactly the synced prefix.
    #[test]
    fn wal_keeps_exactly_the_synced_prefix(ops in prop::collection::vec(op(), 1..60)) {
        let store = MemLogStore::new();
        let mut wal = Wal::open(Box::new(store.clone())).unwrap();
        let mut model: Vec<Record> = Vec::new();
        // The memory store's own durable mark: it survives reopens.
        let mut synced_lsn = 0;
        // The last LSN truncated away: the log's last LSN when it holds no
        // record, since LSNs never restart below it.
        let mut truncated = 0;
        let mut next_txn = 1;
        for op in ops {
            match op {
                Op::Append(changes) => {
                    let before = wal.last_lsn();
                    let lsn = wal.append(next_txn, next_txn * 2, 1000 + next_txn, &changes).unwrap();
                    prop_assert_eq!(lsn, before + 1);
                    model.push(Record { lsn, txn: next_txn, commit_ts: next_txn * 2, wall_time_ms: 1000 + next_txn, changes });
                    next_txn += 1;
                }
                Op::Flush => wal.flush().unwrap(),
                Op::Sync => {
                    wal.sync().unwrap();
                    synced_lsn = wal.last_lsn();
                    prop_assert_eq!(wal.durable_lsn(), synced_lsn);
                }
                Op::Crash => {
                    drop(wal);
                    store.crash();
                    model.retain(|r| r.lsn <= synced_lsn);
                    wal = Wal::open(Box::new(store.clone())).unwrap();
                    // LSNs continue after what survived (lost LSNs are
                    // reused), never below a synced one.
                    prop_assert_eq!(wal.last_lsn(), model.last().map_or(truncated, |r| r.lsn));
                    prop_assert!(wal.last_lsn() >= synced_lsn);
                    prop_assert_eq!(wal.durable_lsn(), 0);
                }
                Op::Reopen => {
                    drop(wal);
                    wal = Wal::open(Box::new(store.clone())).unwrap();
                    prop_assert_eq!(wal.last_lsn(), model.last().map_or(truncated, |r| r.lsn));
                }
                Op::Truncate(lsn) => {
                    // Only durable records go, possibly all of them.
                    let effective = lsn.min(wal.durable_lsn() + 1);
                    wal.truncate_before(lsn).unwrap();
                    if let Some(gone) = model.iter().filter(|r| r.lsn < effective).map(|r| r.lsn).max() {
                        truncated = gone;
                    }
                    model.retain(|r| r.lsn >= effective);
                }
            }
            prop_assert_eq!(all_records(&mut wal, 0), model.clone());
            prop_assert!(wal.durable_lsn() <= wal.last_lsn());
        }
        // Replay from any LSN gives the suffix.
        for from in 0..=wal.last_lsn() + 1 {
            let expected: Vec<Record> = model.iter().filter(|r| r.lsn >= from).cloned().collect();
            prop_assert_eq!(all_records(&mut wal, from), expected);
        }
    }
}
