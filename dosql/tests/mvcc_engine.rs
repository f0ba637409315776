//! Engine behaviour: catalog transactions, savepoints, errors, group
//! commit, WAL retention, readers that never block writers, bounded memory
//! under a long reader, and recovery on files.

use std::ops::Bound;

use dosql::mvcc::{Change, Engine, EngineConfig, SyncMode, TreeKind};
use dosql::store::{MemLogStore, MemPageStore};
use dosql::Error;

struct Db {
    pages: MemPageStore,
    log: MemLogStore,
    config: EngineConfig,
}

impl Db {
    fn new(config: EngineConfig) -> Db {
        Db {
            pages: MemPageStore::new(1024).unwrap(),
            log: MemLogStore::new(),
            config,
        }
    }

    fn open(&self) -> Engine {
        Engine::open(
            Box::new(self.pages.clone()),
            Box::new(self.log.clone()),
            self.config,
        )
        .unwrap()
    }
}

fn config() -> EngineConfig {
    EngineConfig {
        cache_bytes: 256 << 10,
        checkpoint_bytes: 128 << 10,
        ..EngineConfig::default()
    }
}

fn all(engine: &mut Engine, txn: u64, tree: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    engine
        .scan(txn, tree, Bound::Unbounded, Bound::Unbounded, usize::MAX)
        .unwrap()
}

fn kv(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
    (k.as_bytes().to_vec(), v.as_bytes().to_vec())
}

#[test]
fn create_put_commit_reopen() {
    let db = Db::new(config());
    let mut e = db.open();
    let t = e.begin().unwrap();
    let tree = e.create_tree(t, "users", TreeKind::Table).unwrap();
    e.put(t, tree, b"alice", b"1").unwrap();
    e.put(t, tree, b"bob", b"2").unwrap();
    assert_eq!(
        e.get(t, tree, b"alice").unwrap().as_deref(),
        Some(&b"1"[..])
    );
    let other = e.begin().unwrap();
    assert_eq!(
        e.tree(other, "users").unwrap(),
        None,
        "uncommitted trees are private"
    );
    let info = e.commit(t).unwrap();
    assert_eq!(info.commit_ts, 1);
    assert_eq!(
        e.tree(other, "users").unwrap(),
        None,
        "created after the snapshot"
    );
    e.rollback(other).unwrap();
    drop(e);
    let mut e = db.open();
    let r = e.begin_read_only().unwrap();
    let tree = e.tree(r, "users").unwrap().unwrap();
    assert_eq!(all(&mut e, r, tree), vec![kv("alice", "1"), kv("bob", "2")]);
    e.commit(r).unwrap();
    e.check_integrity().unwrap();
}

#[test]
fn typed_errors_never_panic() {
    let db = Db::new(config());
    let mut e = db.open();
    assert!(matches!(e.get(99, 1, b"k"), Err(Error::InvalidInput(_))));
    assert!(matches!(e.commit(99), Err(Error::InvalidInput(_))));
    let t = e.begin().unwrap();
    let tree = e.create_tree(t, "t", TreeKind::Table).unwrap();
    let idx = e.create_tree(t, "i", TreeKind::Index).unwrap();
    assert!(matches!(
        e.create_tree(t, "t", TreeKind::Table),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        e.create_tree(t, "", TreeKind::Table),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        e.put(t, 12345, b"k", b"v"),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        e.put(t, idx, b"k", b"v"),
        Err(Error::InvalidInput(_))
    ));
    e.put(t, idx, b"k", b"").unwrap();
    let long = vec![7u8; e.max_key_len() + 1];
    assert!(matches!(
        e.put(t, tree, &long, b"v"),
        Err(Error::LimitExceeded(_))
    ));
    e.put(t, tree, &long[1..], b"v").unwrap();
    assert!(matches!(
        e.drop_tree(t, "nope"),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(e.rollback_to(t, 5), Err(Error::InvalidInput(_))));
    assert!(matches!(e.release(t, 5), Err(Error::InvalidInput(_))));
    e.commit(t).unwrap();
    assert!(
        matches!(e.put(t, tree, b"k", b"v"), Err(Error::InvalidInput(_))),
        "finished txn"
    );
    assert!(matches!(e.rollback(t), Err(Error::InvalidInput(_))));
    let r = e.begin_read_only().unwrap();
    assert!(matches!(
        e.put(r, tree, b"k", b"v"),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        e.delete(r, tree, b"k"),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        e.create_tree(r, "x", TreeKind::Table),
        Err(Error::InvalidInput(_))
    ));
    // Inverted ranges are empty, not a panic.
    assert!(e
        .scan(r, tree, Bound::Included(b"z"), Bound::Included(b"a"), 10)
        .unwrap()
        .is_empty());
    assert!(e
        .scan(r, tree, Bound::Excluded(b"k"), Bound::Excluded(b"k"), 10)
        .unwrap()
        .is_empty());
    e.commit(r).unwrap();
    let small = Db::new(EngineConfig {
        max_txn_bytes: 4096,
        ..config()
    });
    let mut e = small.open();
    let t = e.begin().unwrap();
    let tree = e.create_tree(t, "t", TreeKind::Table).unwrap();
    e.put(t, tree, b"a", &[1; 1000]).unwrap();
    assert!(matches!(
        e.put(t, tree, b"b", &[1; 4000]),
        Err(Error::LimitExceeded(_))
    ));
    e.put(t, tree, b"c", &[1; 1000]).unwrap();
    e.commit(t).unwrap();
}

#[test]
fn savepoints_undo_writes_and_catalog_changes() {
    let db = Db::new(config());
    let mut e = db.open();
    let t = e.begin().unwrap();
    let a = e.create_tree(t, "a", TreeKind::Table).unwrap();
    e.put(t, a, b"1", b"one").unwrap();
    e.commit(t).unwrap();

    let t = e.begin().unwrap();
    e.put(t, a, b"2", b"two").unwrap();
    let sp = e.savepoint(t).unwrap();
    e.put(t, a, b"1", b"uno").unwrap();
    e.delete(t, a, b"2").unwrap();
    let b = e.create_tree(t, "b", TreeKind::Table).unwrap();
    e.put(t, b, b"x", b"y").unwrap();
    e.drop_tree(t, "a").unwrap();
    assert_eq!(e.tree(t, "a").unwrap(), None);
    assert!(matches!(e.get(t, a, b"1"), Err(Error::InvalidInput(_))));
    let inner = e.savepoint(t).unwrap();
    e.drop_tree(t, "b").unwrap();
    e.rollback_to(t, inner).unwrap();
    assert_eq!(
        e.get(t, b, b"x").unwrap().as_deref(),
        Some(&b"y"[..]),
        "drop of a created tree undone"
    );
    e.rollback_to(t, sp).unwrap();
    assert_eq!(e.tree(t, "a").unwrap(), Some(a));
    assert_eq!(e.tree(t, "b").unwrap(), None);
    assert_eq!(all(&mut e, t, a), vec![kv("1", "one"), kv("2", "two")]);
    e.put(t, a, b"3", b"three").unwrap();
    e.release(t, sp).unwrap();
    e.commit(t).unwrap();

    let r = e.begin_read_only().unwrap();
    assert_eq!(
        all(&mut e, r, a),
        vec![kv("1", "one"), kv("2", "two"), kv("3", "three")]
    );
    assert_eq!(e.tree(r, "b").unwrap(), None);
    e.commit(r).unwrap();
}

#[test]
fn drop_and_recreate_a_tree_while_a_reader_holds_it() {
    let db = Db::new(config());
    let mut e = db.open();
    let t = e.begin().unwrap();
    let old = e.create_tree(t, "t", TreeKind::Table).unwrap();
    e.put(t, old, b"k", b"old").unwrap();
    e.commit(t).unwrap();
    let reader = e.begin_read_only().unwrap();
    let t = e.begin().unwrap();
    e.drop_tree(t, "t").unwrap();
    let new = e.create_tree(t, "t", TreeKind::Index).unwrap();
    e.put(t, new, b"n", b"").unwrap();
    e.commit(t).unwrap();
    // The reader still sees the old tree under the old name.
    assert_eq!(e.tree(reader, "t").unwrap(), Some(old));
    assert_eq!(
        e.get(reader, old, b"k").unwrap().as_deref(),
        Some(&b"old"[..])
    );
    let fresh = e.begin_read_only().unwrap();
    assert_eq!(e.tree(fresh, "t").unwrap(), Some(new));
    assert!(matches!(
        e.get(fresh, old, b"k"),
        Err(Error::InvalidInput(_))
    ));
    e.check_integrity().unwrap();
    e.commit(reader).unwrap();
    e.commit(fresh).unwrap();
    // The old tree's pages are freed once no snapshot needs them.
    e.check_integrity().unwrap();
    drop(e);
    let mut e = db.open();
    let r = e.begin_read_only().unwrap();
    assert_eq!(all(&mut e, r, new), vec![kv("n", "")]);
    e.commit(r).unwrap();
    e.check_integrity().unwrap();
}

#[test]
fn concurrent_catalog_changes_conflict() {
    let db = Db::new(config());
    let mut e = db.open();
    let t1 = e.begin().unwrap();
    let t2 = e.begin().unwrap();
    e.create_tree(t1, "same", TreeKind::Table).unwrap();
    e.create_tree(t2, "same", TreeKind::Table).unwrap();
    e.commit(t1).unwrap();
    assert!(matches!(e.commit(t2), Err(Error::Conflict(_))));

    let t1 = e.begin().unwrap();
    let t2 = e.begin().unwrap();
    let same = e.tree(t1, "same").unwrap().unwrap();
    e.put(t2, same, b"k", b"v").unwrap();
    e.drop_tree(t1, "same").unwrap();
    e.commit(t2).unwrap();
    assert!(
        matches!(e.commit(t1), Err(Error::Conflict(_))),
        "drop loses to a concurrent write"
    );

    let t1 = e.begin().unwrap();
    let t2 = e.begin().unwrap();
    e.drop_tree(t1, "same").unwrap();
    e.put(t2, same, b"k2", b"v").unwrap();
    e.commit(t1).unwrap();
    assert!(
        matches!(e.commit(t2), Err(Error::Conflict(_))),
        "write loses to a concurrent drop"
    );
    assert_eq!(e.stats().conflicts, 3);
}

#[test]
fn group_commit_syncs_once() {
    let db = Db::new(config());
    let mut e = db.open();
    let t = e.begin().unwrap();
    let tree = e.create_tree(t, "t", TreeKind::Table).unwrap();
    e.commit(t).unwrap();
    let before = db.log.sync_count();
    let mut last = 0;
    for i in 0..10u8 {
        let t = e.begin().unwrap();
        e.put(t, tree, &[i], b"v").unwrap();
        last = e.commit_deferred(t).unwrap().lsn;
    }
    assert_eq!(db.log.sync_count(), before, "deferred commits do not sync");
    let visible = e.begin_read_only().unwrap();
    assert_eq!(
        all(&mut e, visible, tree).len(),
        10,
        "deferred commits are visible"
    );
    e.commit(visible).unwrap();
    assert_eq!(e.sync().unwrap(), last);
    assert_eq!(db.log.sync_count(), before + 1);
    // After a crash every synced deferred commit is there.
    drop(e);
    db.log.crash();
    let mut e = db.open();
    let r = e.begin_read_only().unwrap();
    assert_eq!(all(&mut e, r, tree).len(), 10);
    e.commit(r).unwrap();
}

#[test]
fn full_sync_makes_each_commit_durable() {
    let db = Db::new(config());
    let mut e = db.open();
    let t = e.begin().unwrap();
    let tree = e.create_tree(t, "t", TreeKind::Table).unwrap();
    e.commit(t).unwrap();
    let t = e.begin().unwrap();
    e.put(t, tree, b"k", b"v").unwrap();
    let lsn = e.commit(t).unwrap().lsn;
    assert_eq!(e.stats().durable_lsn, lsn);
    drop(e);
    db.log.crash();
    let mut e = db.open();
    let r = e.begin_read_only().unwrap();
    assert_eq!(e.get(r, tree, b"k").unwrap().as_deref(), Some(&b"v"[..]));
    e.commit(r).unwrap();
}

#[test]
fn normal_sync_flushes_and_syncs_at_checkpoint() {
    let db = Db::new(EngineConfig {
        sync: SyncMode::Normal,
        ..config()
    });
    let mut e = db.open();
    let t = e.begin().unwrap();
    let tree = e.create_tree(t, "t", TreeKind::Table).unwrap();
    e.put(t, tree, b"k", b"v").unwrap();
    let lsn = e.commit(t).unwrap().lsn;
    assert!(
        e.stats().durable_lsn < lsn,
        "NORMAL does not sync at commit"
    );
    e.checkpoint().unwrap();
    assert_eq!(e.stats().durable_lsn, lsn);
    assert_eq!(e.stats().checkpoint_lsn, lsn);
}

fn wal_lsns(e: &mut Engine, from: u64) -> Vec<u64> {
    let mut lsns = Vec::new();
    e.read_wal(from, &mut |r| {
        lsns.push(r.lsn);
        Ok(true)
    })
    .unwrap();
    lsns
}

#[test]
fn low_water_mark_retains_wal_across_checkpoints() {
    let db = Db::new(config());
    let mut e = db.open();
    let t = e.begin().unwrap();
    let tree = e.create_tree(t, "t", TreeKind::Table).unwrap();
    let first = e.commit(t).unwrap().lsn;
    e.set_wal_low_water_mark(Some(first));
    let mut lsns = vec![first];
    for i in 0..5u8 {
        let t = e.begin().unwrap();
        e.put(t, tree, &[i], &[i]).unwrap();
        lsns.push(e.commit(t).unwrap().lsn);
        e.checkpoint().unwrap();
    }
    assert_eq!(
        wal_lsns(&mut e, 0),
        lsns,
        "records at and after the mark are kept"
    );
    let mut changes = Vec::new();
    e.read_wal(lsns[2], &mut |r| {
        changes.extend(r.changes);
        Ok(false)
    })
    .unwrap();
    assert_eq!(
        changes,
        vec![Change::Put {
            tree,
            key: vec![1],
            before: None,
            after: vec![1]
        }]
    );
    e.set_wal_low_water_mark(Some(lsns[3]));
    e.checkpoint().unwrap();
    assert_eq!(
        wal_lsns(&mut e, 0),
        lsns[3..].to_vec(),
        "raising the mark lets older records go"
    );
    e.set_wal_low_water_mark(None);
    e.checkpoint().unwrap();
    // Without a mark a checkpoint lets every record go; LSNs still continue.
    assert_eq!(wal_lsns(&mut e, 0), Vec::<u64>::new());
    drop(e);
    let mut e = db.open();
    let t = e.begin().unwrap();
    e.put(t, tree, b"after", b"reopen").unwrap();
    assert_eq!(
        e.commit(t).unwrap().lsn,
        lsns.last().unwrap() + 1,
        "LSNs continue"
    );
}

#[test]
fn readers_never_block_writers() {
    let db = Db::new(config());
    let mut e = db.open();
    let t = e.begin().unwrap();
    let tree = e.create_tree(t, "t", TreeKind::Table).unwrap();
    for i in 0..50u32 {
        e.put(t, tree, &i.to_be_bytes(), b"v0").unwrap();
    }
    e.commit(t).unwrap();
    let reader = e.begin_read_only().unwrap();
    let mut cursor = e
        .cursor(reader, tree, Bound::Unbounded, Bound::Unbounded)
        .unwrap();
    let mut seen = Vec::new();
    for round in 1..=50u32 {
        // Writers commit updates, deletes and inserts while the reader reads.
        let w = e.begin().unwrap();
        e.put(
            w,
            tree,
            &(round - 1).to_be_bytes(),
            format!("v{round}").as_bytes(),
        )
        .unwrap();
        e.delete(w, tree, &((round * 7) % 50).to_be_bytes())
            .unwrap();
        e.put(w, tree, &(1000 + round).to_be_bytes(), b"new")
            .unwrap();
        e.commit(w).unwrap();
        if let Some((k, v)) = cursor.next(&mut e).unwrap() {
            assert_eq!(v, b"v0");
            seen.push(k);
        }
    }
    assert!(cursor.next(&mut e).unwrap().is_none());
    let expected: Vec<Vec<u8>> = (0..50u32).map(|i| i.to_be_bytes().to_vec()).collect();
    assert_eq!(seen, expected, "the reader's snapshot never moved");
    assert!(e.stats().versions > 0);
    e.commit(reader).unwrap();
    // Once the reader is gone, a few transactions collect every version.
    for _ in 0..4 {
        let t = e.begin().unwrap();
        e.commit(t).unwrap();
    }
    assert_eq!(e.stats().versions, 0);
    assert_eq!(e.stats().gc_pending, 0);
    e.check_integrity().unwrap();
}

#[test]
fn long_reader_keeps_memory_bounded() {
    let cache = 256 << 10;
    let db = Db::new(EngineConfig {
        cache_bytes: cache,
        checkpoint_bytes: 64 << 10,
        sync: SyncMode::Off,
        ..config()
    });
    let mut e = db.open();
    let t = e.begin().unwrap();
    let tree = e.create_tree(t, "t", TreeKind::Table).unwrap();
    let keys = 2000u32;
    for i in 0..keys {
        e.put(t, tree, &i.to_be_bytes(), &0u32.to_le_bytes())
            .unwrap();
    }
    e.commit(t).unwrap();
    let reader = e.begin_read_only().unwrap();
    let mut max_cached = 0;
    let updates = 100_000u32;
    for n in 1..=updates / 10 {
        let t = e.begin().unwrap();
        for j in 0..10 {
            let key = (n * 10 + j) % keys;
            e.put(t, tree, &key.to_be_bytes(), &n.to_le_bytes())
                .unwrap();
        }
        e.commit(t).unwrap();
        max_cached = max_cached.max(e.stats().cached_bytes);
    }
    let stats = e.stats();
    assert_eq!(stats.versions, u64::from(updates));
    // Dirty pages of one commit may exceed the budget briefly; never more.
    assert!(
        max_cached <= cache + (64 << 10),
        "cache grew to {max_cached} bytes"
    );
    for probe in [0u32, 1, 999, 1999] {
        let got = e.get(reader, tree, &probe.to_be_bytes()).unwrap();
        assert_eq!(
            got,
            Some(0u32.to_le_bytes().to_vec()),
            "the reader still sees its snapshot"
        );
    }
    assert_eq!(all(&mut e, reader, tree).len(), keys as usize);
    e.commit(reader).unwrap();
    e.check_integrity().unwrap();
}

#[cfg(not(target_family = "wasm"))]
#[test]
fn recovery_on_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EngineConfig {
        sync: SyncMode::Full,
        ..EngineConfig::default()
    };
    {
        let mut e = Engine::open_dir(dir.path(), 4096, cfg).unwrap();
        let t = e.begin().unwrap();
        let tree = e.create_tree(t, "kv", TreeKind::Table).unwrap();
        for i in 0..1000u32 {
            e.put(t, tree, &i.to_be_bytes(), &[i as u8; 100]).unwrap();
        }
        e.commit(t).unwrap();
        let t = e.begin().unwrap();
        e.delete(t, tree, &5u32.to_be_bytes()).unwrap();
        e.commit(t).unwrap();
        // Dropped without a checkpoint: only the WAL has the data.
        assert_eq!(e.stats().checkpoints, 1, "only the creation checkpoint");
    }
    let mut e = Engine::open_dir(dir.path(), 4096, cfg).unwrap();
    let r = e.begin_read_only().unwrap();
    let tree = e.tree(r, "kv").unwrap().unwrap();
    let rows = all(&mut e, r, tree);
    assert_eq!(rows.len(), 999);
    assert_eq!(
        e.get(r, tree, &7u32.to_be_bytes()).unwrap(),
        Some(vec![7; 100])
    );
    assert_eq!(e.get(r, tree, &5u32.to_be_bytes()).unwrap(), None);
    e.commit(r).unwrap();
    e.checkpoint().unwrap();
    e.check_integrity().unwrap();
    drop(e);
    let mut e = Engine::open_dir(dir.path(), 4096, cfg).unwrap();
    let r = e.begin_read_only().unwrap();
    let tree = e.tree(r, "kv").unwrap().unwrap();
    assert_eq!(all(&mut e, r, tree).len(), 999);
}

/// Total bytes of the files in `dir`.
#[cfg(not(target_family = "wasm"))]
fn bytes_in(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

#[cfg(not(target_family = "wasm"))]
#[test]
fn a_checkpoint_leaves_no_wal_records_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EngineConfig {
        sync: SyncMode::Normal,
        ..EngineConfig::default()
    };
    let mut e = Engine::open_dir(dir.path(), 4096, cfg).unwrap();
    let t = e.begin().unwrap();
    let tree = e.create_tree(t, "kv", TreeKind::Table).unwrap();
    for i in 0..5000u32 {
        e.put(t, tree, &i.to_be_bytes(), &[i as u8; 100]).unwrap();
    }
    let lsn = e.commit(t).unwrap().lsn;
    assert!(bytes_in(&dir.path().join("wal")) > 500_000);
    e.checkpoint().unwrap();
    // Only the header of an empty segment that names the next LSN.
    assert_eq!(bytes_in(&dir.path().join("wal")), 24);
    assert!(wal_lsns(&mut e, 0).is_empty());
    drop(e);
    let mut e = Engine::open_dir(dir.path(), 4096, cfg).unwrap();
    assert_eq!(e.stats().last_lsn, lsn, "the last LSN survives");
    let t = e.begin().unwrap();
    e.put(t, tree, b"next", b"commit").unwrap();
    assert_eq!(e.commit(t).unwrap().lsn, lsn + 1, "LSNs continue");
    drop(e);
    let mut e = Engine::open_dir(dir.path(), 4096, cfg).unwrap();
    let r = e.begin_read_only().unwrap();
    assert_eq!(
        all(&mut e, r, tree).len(),
        5001,
        "replayed after the gap-free restart"
    );
    e.commit(r).unwrap();
    e.check_integrity().unwrap();
}

#[test]
fn get_with_and_scan_with_lend_what_the_snapshot_sees() {
    let db = Db::new(config());
    let mut e = db.open();
    let t = e.begin().unwrap();
    let tree = e.create_tree(t, "t", TreeKind::Table).unwrap();
    for k in ["a", "b", "c", "d"] {
        e.put(t, tree, k.as_bytes(), k.repeat(3).as_bytes())
            .unwrap();
    }
    e.put(t, tree, b"big", &[9; 5000]).unwrap();
    e.commit(t).unwrap();
    let reader = e.begin_read_only().unwrap();
    // Later commits: an overwrite, a delete, an insert.
    let t = e.begin().unwrap();
    e.put(t, tree, b"b", b"new").unwrap();
    e.delete(t, tree, b"c").unwrap();
    e.put(t, tree, b"e", b"eee").unwrap();
    e.commit(t).unwrap();

    let len = |e: &mut Engine, txn, key: &[u8]| e.get_with(txn, tree, key, |v| v.len()).unwrap();
    assert_eq!(
        len(&mut e, reader, b"b"),
        Some(3),
        "old version, from the version store"
    );
    assert_eq!(
        len(&mut e, reader, b"c"),
        Some(3),
        "deleted after the snapshot"
    );
    assert_eq!(
        len(&mut e, reader, b"e"),
        None,
        "inserted after the snapshot"
    );
    assert_eq!(len(&mut e, reader, b"big"), Some(5000), "overflowing value");
    let rows = |e: &mut Engine, txn, limit| {
        let mut rows = Vec::new();
        let n = e
            .scan_with(
                txn,
                tree,
                Bound::Unbounded,
                Bound::Unbounded,
                limit,
                |k, v| {
                    rows.push((String::from_utf8(k.to_vec()).unwrap(), v.len()));
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(n, rows.len());
        rows
    };
    let expected = |list: &[(&str, usize)]| -> Vec<(String, usize)> {
        list.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    };
    assert_eq!(
        rows(&mut e, reader, usize::MAX),
        expected(&[("a", 3), ("b", 3), ("big", 5000), ("c", 3), ("d", 3)])
    );
    assert_eq!(rows(&mut e, reader, 2), expected(&[("a", 3), ("b", 3)]));
    // A writer sees its own writes merged in.
    let w = e.begin().unwrap();
    e.put(w, tree, b"a", b"mine!").unwrap();
    e.delete(w, tree, b"d").unwrap();
    assert_eq!(len(&mut e, w, b"a"), Some(5));
    assert_eq!(len(&mut e, w, b"d"), None);
    assert_eq!(
        rows(&mut e, w, usize::MAX),
        expected(&[("a", 5), ("b", 3), ("big", 5000), ("e", 3)])
    );
    // An error from the closure ends the scan with it.
    let failed = e.scan_with(w, tree, Bound::Unbounded, Bound::Unbounded, 10, |_, _| {
        Err(Error::InvalidInput("stop".into()))
    });
    assert!(matches!(failed, Err(Error::InvalidInput(_))));
    e.rollback(w).unwrap();
    e.commit(reader).unwrap();
}
