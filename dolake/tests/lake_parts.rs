//! A transaction too large for one link frame, received in parts: nothing
//! of it is buffered before the last part, parts resend and restart safely,
//! and bad parts are typed errors.

mod lake_common;

use dolake::lake::wire::ChangeBatch;
use dolake::lake::{Lake, LakeConfig, Part, Reply};
use dolake::Error;
use lake_common::*;
use shared_types::lake::payload_crc;

fn rows(lake: &Lake, table: &str) -> u64 {
    lake.stats()
        .tables
        .get(table)
        .map_or(0, |t| t.buffered_rows)
}

/// A shard with table `t` known to the lake, and one more transaction of
/// `n` rows (about 300 bytes each) encoded as one batch: the payload parts
/// cut.
fn big_transaction(lake: &mut Lake, n: u32) -> (Shard, ChangeBatch, String) {
    let mut shard = Shard::new("s1");
    shard.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB, q TEXT)");
    ack(lake, "s1", &shard.batch(), 1);
    shard.exec(&format!(
        "INSERT INTO t WITH RECURSIVE n(i) AS \
         (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
         SELECT i, randomblob(100), 'quote \" and ünïcödé ' || i FROM n"
    ));
    let batch = shard.batch();
    assert_eq!(batch.txns.len(), 1);
    let payload = serde_json::to_string(&batch).unwrap();
    (shard, batch, payload)
}

/// The part of `payload` at `[offset, offset + len)`, moved back to a
/// character boundary as a shard cuts it.
fn part(batch: &ChangeBatch, payload: &str, offset: usize, len: usize) -> (u64, String) {
    let mut end = (offset + len).min(payload.len());
    while !payload.is_char_boundary(end) {
        end -= 1;
    }
    (batch.txns[0].lsn, payload[offset..end].to_owned())
}

fn send(lake: &mut Lake, payload: &str, lsn: u64, offset: usize, data: &str) -> Reply {
    let p = Part {
        lsn,
        offset: offset as u64,
        total: payload.len() as u64,
        crc: payload_crc(payload.as_bytes()),
        data,
    };
    lake.receive_part("s1", p, 5).unwrap()
}

fn progress(lsn: u64, received: usize) -> Reply {
    Reply::Progress {
        shard: "s1".into(),
        lsn,
        received: received as u64,
    }
}

#[test]
fn parts_are_held_apart_until_the_last_and_then_received_whole() {
    let mut lake = lake(LakeConfig::default());
    let (_shard, batch, payload) = big_transaction(&mut lake, 3_000);
    let high = lake.shard_lsn("s1");
    let mut offset = 0;
    let mut replies = 0;
    loop {
        let (lsn, data) = part(&batch, &payload, offset, 100_000);
        let reply = send(&mut lake, &payload, lsn, offset, &data);
        offset += data.len();
        replies += 1;
        if offset == payload.len() {
            let covers = batch.next_lsn - 1;
            assert_eq!(
                reply,
                Reply::Ack {
                    shard: "s1".into(),
                    lsn: covers
                }
            );
            assert_eq!(lake.shard_lsn("s1"), Some(covers));
            break;
        }
        assert_eq!(reply, progress(lsn, offset));
        // Nothing of the transaction is in the buffer yet.
        assert_eq!((rows(&lake, "t"), lake.shard_lsn("s1")), (0, high));
    }
    assert!(replies > 5, "{replies} parts");
    assert_eq!(rows(&lake, "t"), 3_000);
    // Every part again: the transaction is whole here, acked, not stored.
    let bytes = lake.stats().buffered_bytes;
    let (lsn, data) = part(&batch, &payload, 0, 100_000);
    assert!(matches!(
        send(&mut lake, &payload, lsn, 0, &data),
        Reply::Ack { lsn: l, .. } if l == lsn
    ));
    assert_eq!(
        (rows(&lake, "t"), lake.stats().buffered_bytes),
        (3_000, bytes)
    );
}

#[test]
fn resent_early_and_late_parts_get_the_lakes_offset() {
    let mut lake = lake(LakeConfig::default());
    let (_shard, batch, payload) = big_transaction(&mut lake, 1_000);
    let (lsn, first) = part(&batch, &payload, 0, 50_000);
    assert_eq!(
        send(&mut lake, &payload, lsn, 0, &first),
        progress(lsn, first.len())
    );
    // The same part again (its reply was lost): nothing stored twice.
    assert_eq!(
        send(&mut lake, &payload, lsn, 0, &first),
        progress(lsn, first.len())
    );
    // A part beyond what the lake holds: it says where to continue.
    let (_, later) = part(&batch, &payload, first.len() + 10, 50_000);
    assert_eq!(
        send(&mut lake, &payload, lsn, first.len() + 10, &later),
        progress(lsn, first.len())
    );
    // Another encoding of the transaction (the shard restarted and read it
    // again): at offset 0 it starts over, elsewhere the lake asks for 0.
    let other = payload.replacen("\"version\":1", "\"version\":1 ", 1);
    let (_, mid) = part(&batch, &other, 100, 50_000);
    assert_eq!(send(&mut lake, &other, lsn, 100, &mid), progress(lsn, 0));
    let mut offset = 0;
    let reply = loop {
        let (_, data) = part(&batch, &other, offset, 200_000);
        let reply = send(&mut lake, &other, lsn, offset, &data);
        offset += data.len();
        if offset == other.len() {
            break reply;
        }
    };
    assert!(matches!(reply, Reply::Ack { .. }));
    assert_eq!(rows(&lake, "t"), 1_000);
}

#[test]
fn a_transaction_in_parts_resumes_after_a_lake_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = Lake::open(dir_engine(dir.path()), LakeConfig::default()).unwrap();
    let (_shard, batch, payload) = big_transaction(&mut lake, 2_000);
    let (lsn, first) = part(&batch, &payload, 0, 150_000);
    send(&mut lake, &payload, lsn, 0, &first);
    drop(lake.into_engine());
    let mut lake = Lake::open(dir_engine(dir.path()), LakeConfig::default()).unwrap();
    // The shard lost the reply and restarts at 0: the lake remembers.
    assert_eq!(
        send(&mut lake, &payload, lsn, 0, &first),
        progress(lsn, first.len())
    );
    let mut offset = first.len();
    while offset < payload.len() {
        let (_, data) = part(&batch, &payload, offset, 150_000);
        send(&mut lake, &payload, lsn, offset, &data);
        offset += data.len();
    }
    assert_eq!(rows(&lake, "t"), 2_000);
    assert_eq!(lake.shard_lsn("s1"), Some(batch.next_lsn - 1));
    // The parts are gone with the inbox: a restart finds nothing pending.
    drop(lake.into_engine());
    let mut lake = Lake::open(dir_engine(dir.path()), LakeConfig::default()).unwrap();
    let (_, data) = part(&batch, &payload, 0, 150_000);
    assert!(matches!(
        send(&mut lake, &payload, lsn, 0, &data),
        Reply::Ack { .. }
    ));
    assert_eq!(rows(&lake, "t"), 2_000);
}

#[test]
fn bad_parts_are_typed_errors() {
    let config = LakeConfig {
        max_txn_bytes: 400_000,
        ..LakeConfig::default()
    };
    let mut lake = lake(config);
    let (_shard, batch, payload) = big_transaction(&mut lake, 1_000);
    let lsn = batch.txns[0].lsn;
    let crc = payload_crc(payload.as_bytes());
    let mut try_part = |offset: u64, total: u64, crc: u32, data: &str| {
        let p = Part {
            lsn,
            offset,
            total,
            crc,
            data,
        };
        lake.receive_part("s1", p, 5)
    };
    assert!(matches!(
        try_part(0, 100, crc, ""),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        try_part(95, 100, crc, "0123456789"),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        try_part(u64::MAX, 100, crc, "0"),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        try_part(0, 500_000, crc, "{"),
        Err(Error::Limit(m)) if m.contains("400000")
    ));
    // A payload whose CRC does not match its parts: refused at the last
    // part, and the parts are dropped (the next try starts over).
    let total = 200_000u64;
    let data = "x".repeat(100_000);
    assert!(matches!(
        try_part(0, total, 7, &data),
        Ok(Reply::Progress {
            received: 100_000,
            ..
        })
    ));
    assert!(matches!(
        try_part(100_000, total, 7, &data),
        Err(Error::InvalidInput(m)) if m.contains("CRC")
    ));
    assert!(matches!(
        try_part(100_000, total, 7, &data),
        Ok(Reply::Progress { received: 0, .. })
    ));
    // Well-formed parts that are not a batch of this transaction.
    let junk = "[1,2,3]";
    assert!(matches!(
        try_part(0, junk.len() as u64, payload_crc(junk.as_bytes()), junk),
        Err(Error::InvalidInput(m)) if m.contains("not a change batch")
    ));
    assert!(matches!(
        lake.receive_part(
            "bad shard",
            Part {
                lsn,
                offset: 0,
                total: 1,
                crc: 0,
                data: "x"
            },
            5
        ),
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(rows(&lake, "t"), 0);
}

#[test]
fn a_whole_transaction_that_finds_the_buffer_full_is_nacked_and_kept() {
    let config = LakeConfig {
        max_buffer_bytes: 1_500_000,
        ..LakeConfig::default()
    };
    let mut lake = lake(config);
    let (mut shard, batch, payload) = big_transaction(&mut lake, 3_000);
    let lsn = batch.txns[0].lsn;
    let mut offset = 0;
    let last = loop {
        let (_, data) = part(&batch, &payload, offset, 300_000);
        if offset + data.len() == payload.len() {
            break data;
        }
        send(&mut lake, &payload, lsn, offset, &data);
        offset += data.len();
    };
    // Meanwhile another table's batch (sent as a whole, by a second
    // shard) fills the buffer.
    let mut other = Shard::new("s2");
    other.exec("CREATE TABLE u(id INTEGER PRIMARY KEY, v BLOB)");
    other.exec(
        "INSERT INTO u WITH RECURSIVE n(i) AS \
         (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
         SELECT i, randomblob(400) FROM n",
    );
    ack(&mut lake, "s2", &other.batch(), 6);
    assert!(matches!(
        send(&mut lake, &payload, lsn, offset, &last),
        Reply::Nack { .. }
    ));
    assert_eq!(rows(&lake, "t"), 0);
    // The last part again, once a flush made room: the whole transaction.
    // (The objects' puts do not matter to the lake's state.)
    let plan = lake.prepare_flush("u", 7, [1; 16]).unwrap().unwrap();
    lake.complete_flush(plan).unwrap();
    assert!(matches!(
        send(&mut lake, &payload, lsn, offset, &last),
        Reply::Ack { .. }
    ));
    assert_eq!(rows(&lake, "t"), 3_000);
    shard.exec("DELETE FROM t");
}
