//! Receiving change batches: exactly once under redelivery, durability
//! across restarts, backpressure, validation and the flush policy.

mod lake_common;

use dolake::lake::{FlushPolicy, Lake, LakeConfig, Reply};
use dolake::Error;
use lake_common::*;

fn rows(lake: &Lake, table: &str) -> u64 {
    lake.stats()
        .tables
        .get(table)
        .map_or(0, |t| t.buffered_rows)
}

#[test]
fn redelivered_overlapping_and_old_batches_take_effect_once() {
    let mut shard = Shard::new("tenant-1");
    let mut lake = lake(LakeConfig::default());
    shard.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    shard.exec("INSERT INTO t VALUES (1, 'a'), (2, 'b')");
    let start = shard.next;
    let first = shard.batch();
    let lsn = ack(&mut lake, "tenant-1", &first, 10);
    assert_eq!(lsn, first.next_lsn - 1);
    assert_eq!(rows(&lake, "t"), 2);
    let bytes = lake.stats().buffered_bytes;
    // The same batch again: acked, nothing added.
    assert_eq!(ack(&mut lake, "tenant-1", &first, 11), lsn);
    assert_eq!((rows(&lake, "t"), lake.stats().buffered_bytes), (2, bytes));
    // A batch overlapping the first: only the new transaction counts.
    shard.exec("UPDATE t SET v = 'c' WHERE id = 1");
    let overlap = shard.read_from(start, usize::MAX);
    assert!(overlap.txns.len() >= 3);
    let lsn2 = ack(&mut lake, "tenant-1", &overlap, 12);
    assert!(lsn2 > lsn);
    assert_eq!(rows(&lake, "t"), 3);
    // An older batch again: acked at its own position, nothing changes.
    assert_eq!(ack(&mut lake, "tenant-1", &first, 13), lsn);
    assert_eq!(rows(&lake, "t"), 3);
    assert_eq!(lake.shard_lsn("tenant-1"), Some(lsn2));
    // Another shard's identical LSNs are not duplicates.
    let mut other = Shard::new("tenant-2");
    other.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    other.exec("INSERT INTO t VALUES (1, 'x')");
    let b = other.batch();
    ack(&mut lake, "tenant-2", &b, 14);
    assert_eq!(rows(&lake, "t"), 4);
    assert_eq!(lake.stats().shards.len(), 2);
}

#[test]
fn buffered_events_and_positions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut shard = Shard::new("s1");
    shard.exec("CREATE TABLE t(k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID");
    shard.exec("INSERT INTO t VALUES ('a', 1), ('b', 2), ('c', 3)");
    let batch = shard.batch();
    let (lsn, stats) = {
        let mut lake = Lake::open(dir_engine(dir.path()), LakeConfig::default()).unwrap();
        let lsn = ack(&mut lake, "s1", &batch, 100);
        let stats = lake.stats();
        drop(lake.into_engine());
        (lsn, stats)
    };
    let mut lake = Lake::open(dir_engine(dir.path()), LakeConfig::default()).unwrap();
    assert_eq!(lake.stats(), stats);
    assert_eq!(lake.shard_lsn("s1"), Some(lsn));
    assert_eq!(rows(&lake, "t"), 3);
    // The shard resends after its own restart: deduplicated.
    assert_eq!(ack(&mut lake, "s1", &batch, 200), lsn);
    assert_eq!(lake.stats(), stats);
    // The age clock kept the original receive time.
    assert_eq!(
        lake.next_flush_at(),
        Some(100 + FlushPolicy::default().max_age_ms)
    );
}

#[test]
fn a_full_buffer_nacks_without_storing_and_oversized_batches_are_errors() {
    let config = LakeConfig {
        max_buffer_bytes: 2_000,
        retry_after_ms: 250,
        ..LakeConfig::default()
    };
    let mut shard = Shard::new("s");
    let mut lake = lake(config);
    shard.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    ack(&mut lake, "s", &shard.batch(), 0);
    let mut nacked = None;
    for i in 0..100 {
        shard.exec(&format!(
            "INSERT INTO t VALUES ({i}, '{}')",
            "x".repeat(100)
        ));
        let batch = shard.batch();
        let before = (lake.stats().tables, lake.shard_lsn("s"));
        match lake.receive("s", &batch, 1).unwrap() {
            Reply::Ack { .. } => {}
            Reply::Nack {
                retry_after_ms,
                reason,
            } => {
                assert_eq!(retry_after_ms, 250);
                assert!(reason.contains("buffer full"), "{reason}");
                assert_eq!((lake.stats().tables, lake.shard_lsn("s")), before);
                nacked = Some(i);
                break;
            }
            other => panic!("{other:?}"),
        }
        assert!(lake.stats().buffered_bytes <= 2_000);
    }
    let nacked = nacked.expect("the buffer filled up");
    assert_eq!(lake.stats().nacks, 1);
    assert_eq!(rows(&lake, "t"), nacked);
    // Under pressure every table with work is due now.
    assert_eq!(lake.due_flushes(1), ["t"]);
    // One transaction larger than the whole buffer can never fit.
    shard.exec(&format!(
        "INSERT INTO t VALUES (1000, '{}')",
        "y".repeat(5_000)
    ));
    let from = shard.next;
    let huge = shard.read_from(from, usize::MAX);
    assert!(matches!(lake.receive("s", &huge, 2), Err(Error::Limit(_))));
}

#[test]
fn bad_input_is_a_typed_error_and_stores_nothing() {
    let mut lake = lake(LakeConfig::default());
    let mut shard = Shard::new("s");
    shard.exec("CREATE TABLE t(a)");
    let batch = shard.batch();
    for bad in ["", "a/b", "über", &"x".repeat(65)] {
        assert!(
            matches!(lake.receive(bad, &batch, 0), Err(Error::InvalidInput(_))),
            "{bad:?}"
        );
    }
    // Rows of a table whose CREATE TABLE the lake never saw, and whose
    // schema the batch does not carry either.
    shard.exec("INSERT INTO t VALUES (1)");
    let mut rows_only = shard.batch();
    assert_eq!(rows_only.schemas.len(), 1);
    rows_only.schemas.clear();
    assert!(matches!(
        lake.receive("s", &rows_only, 0),
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(lake.shard_lsn("s"), None);
    assert!(lake.stats().tables.is_empty());
    // LSNs out of order.
    let mut shuffled = batch.clone();
    shuffled.txns.extend(batch.txns.clone());
    assert!(matches!(
        lake.receive("s", &shuffled, 0),
        Err(Error::InvalidInput(_))
    ));
    // With the CREATE first, both batches go through.
    ack(&mut lake, "s", &batch, 0);
    ack(&mut lake, "s", &rows_only, 0);
    assert_eq!(lake.stats().tables["t"].buffered_rows, 1);
}

#[test]
fn flushes_fall_due_by_rows_bytes_and_age() {
    let policy = FlushPolicy {
        max_rows: 5,
        max_bytes: 4_000,
        max_age_ms: 1_000,
    };
    let mut lake = lake(LakeConfig {
        policy,
        ..LakeConfig::default()
    });
    assert_eq!(lake.next_flush_at(), None);
    let mut shard = Shard::new("s");
    shard.exec("CREATE TABLE a(x); CREATE TABLE b(x); CREATE TABLE c(x)");
    ack(&mut lake, "s", &shard.batch(), 1_000);
    // New tables are work (their Iceberg tables must be created), by age.
    assert_eq!(lake.next_flush_at(), Some(2_000));
    assert!(lake.due_flushes(1_999).is_empty());
    assert_eq!(lake.due_flushes(2_000), ["a", "b", "c"]);
    // Rows: five rows make `a` due at once (at its oldest receive time).
    shard.exec("INSERT INTO a VALUES (1),(2),(3),(4),(5)");
    // Bytes: one big row makes `b` due.
    shard.exec(&format!("INSERT INTO b VALUES ('{}')", "z".repeat(4_000)));
    ack(&mut lake, "s", &shard.batch(), 1_500);
    assert_eq!(lake.next_flush_at(), Some(1_000));
    let due = lake.due_flushes(1_500);
    assert_eq!(due, ["b", "a"], "largest buffer first");
}

#[test]
fn a_stream_that_starts_after_a_create_table_is_decoded_with_the_batch_schemas() {
    let mut shard = Shard::new("late");
    shard.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    shard.exec("INSERT INTO t VALUES (1, 'before')");
    // The lake's stream starts here: the CREATE is not in it.
    shard.next = shard.db.engine().stats().last_lsn + 1;
    shard.exec("INSERT INTO t VALUES (2, 'after')");
    shard.exec("UPDATE t SET v = 'again' WHERE id = 2");
    let batch = shard.batch();
    assert_eq!(batch.schemas.len(), 1);
    let mut lake = lake(LakeConfig::default());
    let lsn = ack(&mut lake, "late", &batch, 10);
    assert_eq!(lsn, batch.next_lsn - 1);
    let table = lake.table("t").expect("the batch's schema introduced t");
    assert_eq!(table.buffered_rows, 2);
    assert!(table.schema.has_shard("late"));
}
