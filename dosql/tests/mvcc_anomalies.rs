//! The classic isolation anomalies under snapshot isolation: dirty reads,
//! non-repeatable reads, phantoms and lost updates are prevented; write
//! skew is allowed (snapshot isolation is not serializable).

use std::ops::Bound;

use dosql::mvcc::{Engine, EngineConfig, TreeId, TreeKind};
use dosql::store::{MemLogStore, MemPageStore};
use dosql::Error;

fn setup(rows: &[(&str, &str)]) -> (Engine, TreeId) {
    let mut e = Engine::open(
        Box::new(MemPageStore::new(4096).unwrap()),
        Box::new(MemLogStore::new()),
        EngineConfig::default(),
    )
    .unwrap();
    let t = e.begin().unwrap();
    let tree = e.create_tree(t, "t", TreeKind::Table).unwrap();
    for (k, v) in rows {
        e.put(t, tree, k.as_bytes(), v.as_bytes()).unwrap();
    }
    e.commit(t).unwrap();
    (e, tree)
}

fn get(e: &mut Engine, txn: u64, tree: TreeId, key: &str) -> Option<String> {
    e.get(txn, tree, key.as_bytes())
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap())
}

fn keys(e: &mut Engine, txn: u64, tree: TreeId, lower: &str, upper: &str) -> Vec<String> {
    e.scan(
        txn,
        tree,
        Bound::Included(lower.as_bytes()),
        Bound::Excluded(upper.as_bytes()),
        usize::MAX,
    )
    .unwrap()
    .into_iter()
    .map(|(k, _)| String::from_utf8(k).unwrap())
    .collect()
}

#[test]
fn no_dirty_reads() {
    let (mut e, tree) = setup(&[("x", "1")]);
    let writer = e.begin().unwrap();
    e.put(writer, tree, b"x", b"2").unwrap();
    e.put(writer, tree, b"new", b"n").unwrap();
    e.delete(writer, tree, b"x").unwrap();
    e.put(writer, tree, b"x", b"3").unwrap();
    let reader = e.begin().unwrap();
    assert_eq!(get(&mut e, reader, tree, "x").as_deref(), Some("1"));
    assert_eq!(get(&mut e, reader, tree, "new"), None);
    assert_eq!(keys(&mut e, reader, tree, "", "~"), ["x"]);
    e.rollback(writer).unwrap();
    assert_eq!(get(&mut e, reader, tree, "x").as_deref(), Some("1"));
    e.commit(reader).unwrap();
    let after = e.begin_read_only().unwrap();
    assert_eq!(
        get(&mut e, after, tree, "x").as_deref(),
        Some("1"),
        "rolled back writes never appear"
    );
}

#[test]
fn no_non_repeatable_reads() {
    let (mut e, tree) = setup(&[("x", "1"), ("y", "1")]);
    let reader = e.begin().unwrap();
    assert_eq!(get(&mut e, reader, tree, "x").as_deref(), Some("1"));
    for round in 2..5 {
        let w = e.begin().unwrap();
        e.put(w, tree, b"x", round.to_string().as_bytes()).unwrap();
        e.delete(w, tree, b"y").unwrap();
        e.commit(w).unwrap();
        assert_eq!(get(&mut e, reader, tree, "x").as_deref(), Some("1"));
        assert_eq!(get(&mut e, reader, tree, "y").as_deref(), Some("1"));
    }
    e.commit(reader).unwrap();
    let fresh = e.begin_read_only().unwrap();
    assert_eq!(get(&mut e, fresh, tree, "x").as_deref(), Some("4"));
    assert_eq!(get(&mut e, fresh, tree, "y"), None);
}

#[test]
fn no_phantoms_in_scans() {
    let (mut e, tree) = setup(&[("a1", ""), ("a3", ""), ("a5", ""), ("b1", "")]);
    let reader = e.begin().unwrap();
    assert_eq!(keys(&mut e, reader, tree, "a", "b"), ["a1", "a3", "a5"]);
    let w = e.begin().unwrap();
    e.put(w, tree, b"a2", b"").unwrap();
    e.put(w, tree, b"a4", b"").unwrap();
    e.delete(w, tree, b"a3").unwrap();
    e.commit(w).unwrap();
    assert_eq!(
        keys(&mut e, reader, tree, "a", "b"),
        ["a1", "a3", "a5"],
        "no phantom appears or vanishes"
    );
    // Also in a cursor that was open while the commit happened, both ways.
    let mut c = e
        .cursor(
            reader,
            tree,
            Bound::Included(b"a".to_vec()),
            Bound::Excluded(b"b".to_vec()),
        )
        .unwrap();
    assert_eq!(c.next(&mut e).unwrap().unwrap().0, b"a1");
    let w = e.begin().unwrap();
    e.put(w, tree, b"a0", b"").unwrap();
    e.put(w, tree, b"a6", b"").unwrap();
    e.delete(w, tree, b"a5").unwrap();
    e.commit(w).unwrap();
    assert_eq!(c.prev(&mut e).unwrap().unwrap().0, b"a5");
    assert_eq!(c.next(&mut e).unwrap().unwrap().0, b"a3");
    assert_eq!(c.next(&mut e).unwrap(), None);
    assert_eq!(c.prev(&mut e).unwrap(), None);
    e.commit(reader).unwrap();
    let fresh = e.begin_read_only().unwrap();
    assert_eq!(
        keys(&mut e, fresh, tree, "a", "b"),
        ["a0", "a1", "a2", "a4", "a6"]
    );
}

#[test]
fn no_lost_updates() {
    let (mut e, tree) = setup(&[("counter", "10")]);
    let t1 = e.begin().unwrap();
    let t2 = e.begin().unwrap();
    // Both read-modify-write the counter from the same snapshot.
    for t in [t1, t2] {
        let n: u32 = get(&mut e, t, tree, "counter").unwrap().parse().unwrap();
        e.put(t, tree, b"counter", (n + 1).to_string().as_bytes())
            .unwrap();
    }
    e.commit(t1).unwrap();
    let err = e.commit(t2).unwrap_err();
    assert!(matches!(err, Error::Conflict(_)) && err.is_retryable());
    // The loser was rolled back; its retry sees the winner's update.
    assert!(matches!(e.commit(t2), Err(Error::InvalidInput(_))));
    let retry = e.begin().unwrap();
    let n: u32 = get(&mut e, retry, tree, "counter")
        .unwrap()
        .parse()
        .unwrap();
    e.put(retry, tree, b"counter", (n + 1).to_string().as_bytes())
        .unwrap();
    e.commit(retry).unwrap();
    let r = e.begin_read_only().unwrap();
    assert_eq!(get(&mut e, r, tree, "counter").as_deref(), Some("12"));
}

#[test]
fn lost_update_through_delete_and_reinsert_is_detected() {
    let (mut e, tree) = setup(&[("k", "v")]);
    let t1 = e.begin().unwrap();
    let t2 = e.begin().unwrap();
    e.delete(t1, tree, b"k").unwrap();
    e.commit(t1).unwrap();
    e.put(t2, tree, b"k", b"mine").unwrap();
    assert!(
        matches!(e.commit(t2), Err(Error::Conflict(_))),
        "a concurrent delete is a write"
    );
    // A key created and deleted by others after the snapshot also conflicts.
    let t3 = e.begin().unwrap();
    for v in [&b"x"[..], b""] {
        let w = e.begin().unwrap();
        if v.is_empty() {
            e.delete(w, tree, b"fresh").unwrap();
        } else {
            e.put(w, tree, b"fresh", v).unwrap();
        }
        e.commit(w).unwrap();
    }
    assert_eq!(get(&mut e, t3, tree, "fresh"), None);
    e.put(t3, tree, b"fresh", b"t3").unwrap();
    assert!(matches!(e.commit(t3), Err(Error::Conflict(_))));
}

/// Snapshot isolation allows write skew: documented in `dosql::mvcc`.
#[test]
fn write_skew_is_allowed() {
    // Invariant the application wants: at least one doctor on call.
    let (mut e, tree) = setup(&[("alice", "on"), ("bob", "on")]);
    let t1 = e.begin().unwrap();
    let t2 = e.begin().unwrap();
    for (t, me) in [(t1, "alice"), (t2, "bob")] {
        let on_call = keys(&mut e, t, tree, "", "~")
            .into_iter()
            .filter(|k| get(&mut e, t, tree, k).as_deref() == Some("on"))
            .count();
        assert_eq!(on_call, 2, "each sees both on call, so each may leave");
        e.put(t, tree, me.as_bytes(), b"off").unwrap();
    }
    // Disjoint write sets: both commit, and the invariant is broken.
    e.commit(t1).unwrap();
    e.commit(t2).unwrap();
    let r = e.begin_read_only().unwrap();
    assert_eq!(get(&mut e, r, tree, "alice").as_deref(), Some("off"));
    assert_eq!(get(&mut e, r, tree, "bob").as_deref(), Some("off"));
}
