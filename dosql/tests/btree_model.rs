//! Model-based tests of the B-tree and pager against `std::collections::BTreeMap`,
//! plus space reuse and cursor stability (damage and lazy loading are in
//! `btree_damage.rs`).
//!
//! Page size 1024 with keys up to ~100 bytes and values up to 5 KB gives
//! deep trees, overflow chains and frequent splits and merges from short
//! operation sequences.

mod btree_common;

use std::collections::BTreeMap;
use std::ops::Bound;

use btree_common::*;
use dosql::btree::{Cursor, TreeKind};
use proptest::prelude::*;

const KEYS: u16 = 1500;

#[derive(Clone, Debug)]
enum Step {
    Next,
    Prev,
    Seek(u16),
    Insert(u16, u8, u16),
    Delete(u16),
    CheckpointReopen,
}

#[derive(Clone, Debug)]
enum Op {
    Insert {
        tree: usize,
        key: u16,
        size: u8,
        seed: u16,
    },
    Delete {
        tree: usize,
        key: u16,
    },
    Get {
        tree: usize,
        key: u16,
    },
    Bulk {
        tree: usize,
        start: u16,
        count: u16,
        size: u8,
    },
    BulkDelete {
        tree: usize,
        start: u16,
        count: u16,
    },
    Scan {
        tree: usize,
        lower: Bound<u16>,
        upper: Bound<u16>,
        steps: Vec<Step>,
    },
    CheckpointReopen,
    /// Drop the pager without a checkpoint: the store still holds the last
    /// checkpoint, and so must the reopened trees.
    Crash,
}

fn bound() -> impl Strategy<Value = Bound<u16>> {
    prop_oneof![
        Just(Bound::Unbounded),
        (0..KEYS).prop_map(Bound::Included),
        (0..KEYS).prop_map(Bound::Excluded)
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => Just(Step::Next),
        4 => Just(Step::Prev),
        1 => (0..KEYS).prop_map(Step::Seek),
        1 => (0..KEYS, any::<u8>(), any::<u16>()).prop_map(|(k, s, v)| Step::Insert(k, s, v)),
        1 => (0..KEYS).prop_map(Step::Delete),
        1 => Just(Step::CheckpointReopen),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..3usize, 0..KEYS, any::<u8>(), any::<u16>()).prop_map(|(tree, key, size, seed)| Op::Insert { tree, key, size, seed }),
        5 => (0..3usize, 0..KEYS).prop_map(|(tree, key)| Op::Delete { tree, key }),
        3 => (0..3usize, 0..KEYS).prop_map(|(tree, key)| Op::Get { tree, key }),
        3 => (0..3usize, 0..KEYS, 1..1000u16, any::<u8>()).prop_map(|(tree, start, count, size)| Op::Bulk { tree, start, count, size }),
        2 => (0..3usize, 0..KEYS, 1..400u16).prop_map(|(tree, start, count)| Op::BulkDelete { tree, start, count }),
        4 => (0..3usize, bound(), bound(), prop::collection::vec(step(), 1..60))
            .prop_map(|(tree, lower, upper, steps)| Op::Scan { tree, lower, upper, steps }),
        1 => Just(Op::CheckpointReopen),
        1 => Just(Op::Crash),
    ]
}

fn map_bound(b: &Bound<u16>) -> Bound<Vec<u8>> {
    match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(k) => Bound::Included(key_of(*k)),
        Bound::Excluded(k) => Bound::Excluded(key_of(*k)),
    }
}

fn run(ops: &[Op]) {
    let mut db = Db::new();
    let mut model: Model = vec![BTreeMap::new(); 3];
    let mut checkpointed = model.clone();
    for op in ops {
        match op {
            Op::Insert {
                tree,
                key,
                size,
                seed,
            } => {
                let (k, v) = (key_of(*key), value_of(KINDS[*tree], *size, *seed));
                let old = db.trees[*tree].insert(&mut db.pager, &k, &v).unwrap();
                assert_eq!(old, model[*tree].insert(k, v));
            }
            Op::Delete { tree, key } => {
                let k = key_of(*key);
                assert_eq!(
                    db.trees[*tree].delete(&mut db.pager, &k).unwrap(),
                    model[*tree].remove(&k)
                );
            }
            Op::Get { tree, key } => {
                let k = key_of(*key);
                assert_eq!(
                    db.trees[*tree].get(&mut db.pager, &k).unwrap().as_ref(),
                    model[*tree].get(&k)
                );
            }
            Op::Bulk {
                tree,
                start,
                count,
                size,
            } => {
                // Ascending in key order (not key number), as a bulk load is.
                let mut keys: Vec<Vec<u8>> =
                    (*start..start.saturating_add(*count)).map(key_of).collect();
                keys.sort();
                for (i, k) in keys.into_iter().enumerate() {
                    let v = value_of(KINDS[*tree], *size, i as u16);
                    let old = db.trees[*tree].insert(&mut db.pager, &k, &v).unwrap();
                    assert_eq!(old, model[*tree].insert(k, v));
                }
            }
            Op::BulkDelete { tree, start, count } => {
                for key in *start..start.saturating_add(*count) {
                    let k = key_of(key);
                    assert_eq!(
                        db.trees[*tree].delete(&mut db.pager, &k).unwrap(),
                        model[*tree].remove(&k)
                    );
                }
            }
            Op::Scan {
                tree,
                lower,
                upper,
                steps,
            } => {
                let (lower, upper) = (map_bound(lower), map_bound(upper));
                let t = db.trees[*tree];
                let mut cursor = Cursor::new(t, lower.clone(), upper.clone());
                let mut expect = ModelCursor {
                    lower: lower.clone(),
                    front: lower,
                    back: upper,
                };
                for step in steps {
                    match step {
                        Step::Next => assert_eq!(
                            cursor.next(&mut db.pager).unwrap(),
                            expect.next(&model[*tree])
                        ),
                        Step::Prev => assert_eq!(
                            cursor.prev(&mut db.pager).unwrap(),
                            expect.prev(&model[*tree])
                        ),
                        Step::Seek(k) => {
                            cursor.seek(&key_of(*k));
                            expect.seek(&key_of(*k));
                        }
                        Step::Insert(k, size, seed) => {
                            let (k, v) = (key_of(*k), value_of(t.kind(), *size, *seed));
                            t.insert(&mut db.pager, &k, &v).unwrap();
                            model[*tree].insert(k, v);
                        }
                        Step::Delete(k) => {
                            let k = key_of(*k);
                            t.delete(&mut db.pager, &k).unwrap();
                            model[*tree].remove(&k);
                        }
                        Step::CheckpointReopen => {
                            // The cursor carries on with a new pager.
                            db.checkpoint();
                            checkpointed = model.clone();
                            db.reopen();
                        }
                    }
                }
            }
            Op::CheckpointReopen => {
                db.checkpoint();
                checkpointed = model.clone();
                db.reopen();
            }
            Op::Crash => {
                db.reopen();
                model = checkpointed.clone();
            }
        }
    }
    db.verify(&model);
    db.checkpoint();
    db.reopen();
    db.verify(&model);
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn btree_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        run(&ops);
    }
}

#[test]
fn deep_trees_with_every_operation() {
    // A fixed long sequence on top of the random ones, to be sure the trees
    // reach depth 4 or more with merges at every level.
    let mut ops = vec![Op::Bulk {
        tree: 0,
        start: 0,
        count: KEYS,
        size: 1,
    }];
    ops.push(Op::Bulk {
        tree: 2,
        start: 0,
        count: KEYS,
        size: 0,
    });
    ops.push(Op::CheckpointReopen);
    for i in (0..KEYS).step_by(3) {
        ops.push(Op::Insert {
            tree: 0,
            key: i,
            size: 4,
            seed: i,
        });
    }
    ops.push(Op::BulkDelete {
        tree: 0,
        start: 100,
        count: 500,
    });
    ops.push(Op::Scan {
        tree: 0,
        lower: Bound::Unbounded,
        upper: Bound::Unbounded,
        steps: (0..300)
            .map(|i| if i % 3 == 0 { Step::Prev } else { Step::Next })
            .collect(),
    });
    ops.push(Op::BulkDelete {
        tree: 2,
        start: 0,
        count: KEYS,
    });
    ops.push(Op::Crash);
    ops.push(Op::BulkDelete {
        tree: 0,
        start: 0,
        count: KEYS,
    });
    run(&ops);

    // Long keys sharing a long prefix: long separators, low fan-out.
    let mut db = Db::new();
    let tree = db.trees[2];
    let deep = |i: u32| {
        let mut k = vec![b'z'; 60];
        k.extend_from_slice(&i.to_be_bytes());
        k
    };
    let n = 6000u32;
    for i in 0..n {
        tree.insert(&mut db.pager, &deep((i * 7919) % n), b"")
            .unwrap();
    }
    let stats = tree.check(&mut db.pager).unwrap();
    assert!(stats.depth >= 4, "{stats:?}");
    db.checkpoint();
    db.reopen();
    for (done, i) in (0..n).rev().enumerate() {
        assert_eq!(
            tree.delete(&mut db.pager, &deep((i * 7919) % n)).unwrap(),
            Some(Vec::new())
        );
        if done % 600 == 0 {
            assert_eq!(
                tree.check(&mut db.pager).unwrap().keys,
                (n - 1 - done as u32) as u64
            );
        }
    }
    assert_eq!(tree.check(&mut db.pager).unwrap().pages, 1);
}

#[test]
fn insert_delete_cycles_reuse_space() {
    let mut db = Db::new();
    let mut high_water = Vec::new();
    for _cycle in 0..6 {
        for i in 0..2000u16 {
            let size = if i % 50 == 0 { 4 } else { 1 };
            db.trees[0]
                .insert(
                    &mut db.pager,
                    &key_of(i),
                    &value_of(TreeKind::Table, size, i),
                )
                .unwrap();
            db.trees[2].insert(&mut db.pager, &key_of(i), b"").unwrap();
        }
        db.checkpoint();
        for i in 0..2000u16 {
            assert!(db.trees[0]
                .delete(&mut db.pager, &key_of(i))
                .unwrap()
                .is_some());
            assert!(db.trees[2]
                .delete(&mut db.pager, &key_of(i))
                .unwrap()
                .is_some());
        }
        db.checkpoint();
        db.reopen();
        high_water.push((db.pager.page_count(), db.store.page_count()));
        for tree in &db.trees {
            assert_eq!(tree.check(&mut db.pager).unwrap().pages, 1);
        }
    }
    // The same workload needs the same pages every cycle: nothing grows.
    assert!(
        high_water.iter().all(|h| *h == high_water[0]),
        "{high_water:?}"
    );
    assert_eq!(db.pager.free_count() + 3, db.pager.page_count());
}

#[test]
fn cursors_survive_splits_and_merges_between_steps() {
    let mut db = Db::new();
    let tree = db.trees[0];
    let key = |n: u32| format!("{n:08}").into_bytes();
    let mut model = BTreeMap::new();
    for i in 0..3000 {
        tree.insert(&mut db.pager, &key(i * 10), &[1u8; 60])
            .unwrap();
        model.insert(key(i * 10), vec![1u8; 60]);
    }
    let mut c = Cursor::new(tree, Bound::Unbounded, Bound::Unbounded);
    let mut m = ModelCursor {
        lower: Bound::Unbounded,
        front: Bound::Unbounded,
        back: Bound::Unbounded,
    };
    let mut front = 0u32;
    let mut back = 30_000u32;
    for step in 0..800 {
        let backward = step % 4 == 3;
        let got = if backward {
            c.prev(&mut db.pager).unwrap()
        } else {
            c.next(&mut db.pager).unwrap()
        };
        let want = if backward {
            m.prev(&model)
        } else {
            m.next(&model)
        };
        assert_eq!(got, want, "step {step}");
        let Some((k, _)) = got else { break };
        let n: u32 = std::str::from_utf8(&k).unwrap().parse().unwrap();
        if backward {
            back = n;
        } else {
            front = n;
        }
        // A burst right after the front splits the cursor's leaf; keys on
        // both sides of each end appear and vanish.
        for j in 1..=8 {
            tree.insert(&mut db.pager, &key(front + j), &[2u8; 60])
                .unwrap();
            model.insert(key(front + j), vec![2u8; 60]);
            tree.insert(&mut db.pager, &key(back.saturating_sub(j)), &[3u8; 60])
                .unwrap();
            model.insert(key(back.saturating_sub(j)), vec![3u8; 60]);
        }
        if step % 20 == 0 {
            // Delete a long run ahead of the front: pages merge under it.
            for j in 0..150 {
                let k = key(front + 20 + j * 3);
                tree.delete(&mut db.pager, &k).unwrap();
                model.remove(&k);
            }
            // And a run around the back end.
            for j in 0..60 {
                let k = key(back.saturating_sub(30) + j);
                tree.delete(&mut db.pager, &k).unwrap();
                model.remove(&k);
            }
        }
    }
    loop {
        let got = c.next(&mut db.pager).unwrap();
        assert_eq!(got, m.next(&model));
        if got.is_none() {
            break;
        }
    }
    assert_eq!(c.prev(&mut db.pager).unwrap(), None);
    let stats = tree.check(&mut db.pager).unwrap();
    assert_eq!(stats.keys, model.len() as u64);
}
