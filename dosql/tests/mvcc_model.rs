//! Property test of the MVCC engine against a model built on `BTreeMap`.
//!
//! Random interleavings of several transactions (begin, get, put, delete,
//! scans and double-ended cursors, savepoints, commit, rollback) with
//! checkpoints and reopens in between. Every transaction checks its reads
//! against the model snapshot it began with plus its own writes; a commit
//! must fail with `Conflict` exactly when a transaction that committed after
//! its snapshot wrote one of its keys (first committer wins), and must
//! succeed otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use dosql::mvcc::{Engine, EngineConfig, SyncMode, TreeKind, TxnId};
use dosql::store::{MemLogStore, MemPageStore};
use dosql::Error;
use proptest::prelude::*;

const SLOTS: usize = 4;
const TREES: usize = 2;

type Key = (usize, Vec<u8>);
type State = BTreeMap<Key, Vec<u8>>;
type Writes = BTreeMap<Key, Option<Vec<u8>>>;

#[derive(Clone, Debug)]
enum Op {
    Begin {
        slot: usize,
        read_only: bool,
    },
    Get {
        slot: usize,
        tree: usize,
        key: Vec<u8>,
    },
    Put {
        slot: usize,
        tree: usize,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        slot: usize,
        tree: usize,
        key: Vec<u8>,
    },
    Scan {
        slot: usize,
        tree: usize,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        limit: usize,
    },
    /// A cursor walked from both ends: `true` = next, `false` = prev.
    Walk {
        slot: usize,
        tree: usize,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        steps: Vec<bool>,
    },
    Savepoint {
        slot: usize,
    },
    RollbackTo {
        slot: usize,
        which: usize,
    },
    Release {
        slot: usize,
        which: usize,
    },
    Commit {
        slot: usize,
    },
    Rollback {
        slot: usize,
    },
    Checkpoint,
    Reopen {
        crash: bool,
    },
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    // Few distinct keys, so that transactions collide; lengths vary so that
    // some keys are prefixes of others.
    prop::collection::vec(0u8..4, 0..3)
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 0..16),
        1 => (any::<u8>(), 500usize..3000).prop_map(|(b, n)| vec![b; n]),
    ]
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        Just(Bound::Unbounded),
        key().prop_map(Bound::Included),
        key().prop_map(Bound::Excluded),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..SLOTS;
    let tree = 0..TREES;
    prop_oneof![
        4 => (slot.clone(), prop::bool::weighted(0.5)).prop_map(|(slot, read_only)| Op::Begin { slot, read_only }),
        10 => (slot.clone(), tree.clone(), key()).prop_map(|(slot, tree, key)| Op::Get { slot, tree, key }),
        24 => (slot.clone(), tree.clone(), key(), value())
            .prop_map(|(slot, tree, key, value)| Op::Put { slot, tree, key, value }),
        8 => (slot.clone(), tree.clone(), key()).prop_map(|(slot, tree, key)| Op::Delete { slot, tree, key }),
        5 => (slot.clone(), tree.clone(), bound(), bound(), 0usize..6)
            .prop_map(|(slot, tree, lower, upper, limit)| Op::Scan { slot, tree, lower, upper, limit }),
        3 => (slot.clone(), tree.clone(), bound(), bound(), prop::collection::vec(any::<bool>(), 0..12))
            .prop_map(|(slot, tree, lower, upper, steps)| Op::Walk { slot, tree, lower, upper, steps }),
        3 => slot.clone().prop_map(|slot| Op::Savepoint { slot }),
        2 => (slot.clone(), 0usize..3).prop_map(|(slot, which)| Op::RollbackTo { slot, which }),
        2 => (slot.clone(), 0usize..3).prop_map(|(slot, which)| Op::Release { slot, which }),
        12 => slot.clone().prop_map(|slot| Op::Commit { slot }),
        2 => slot.prop_map(|slot| Op::Rollback { slot }),
        2 => Just(Op::Checkpoint),
        1 => any::<bool>().prop_map(|crash| Op::Reopen { crash }),
    ]
}

struct ModelTxn {
    id: TxnId,
    read_only: bool,
    /// Number of model commits when the transaction began.
    begin: usize,
    snapshot: State,
    writes: Writes,
    savepoints: Vec<(u32, Writes)>,
}

impl ModelTxn {
    fn read(&self, k: &Key) -> Option<Vec<u8>> {
        match self.writes.get(k) {
            Some(w) => w.clone(),
            None => self.snapshot.get(k).cloned(),
        }
    }

    /// What the transaction sees of `tree` within the bounds, ascending.
    fn view(
        &self,
        tree: usize,
        lower: &Bound<Vec<u8>>,
        upper: &Bound<Vec<u8>>,
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for ((t, k), v) in &self.snapshot {
            if *t == tree {
                merged.insert(k.clone(), Some(v.clone()));
            }
        }
        for ((t, k), v) in &self.writes {
            if *t == tree {
                merged.insert(k.clone(), v.clone());
            }
        }
        merged
            .into_iter()
            .filter(|(k, _)| in_bounds(k, lower, upper))
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect()
    }
}

fn in_bounds(k: &[u8], lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    let above = match lower {
        Bound::Included(l) => k >= l.as_slice(),
        Bound::Excluded(l) => k > l.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match upper {
        Bound::Included(u) => k <= u.as_slice(),
        Bound::Excluded(u) => k < u.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

fn as_slices(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    b.as_ref().map(Vec::as_slice)
}

struct Harness {
    pages: MemPageStore,
    log: MemLogStore,
    engine: Engine,
    trees: Vec<u64>,
    committed: State,
    /// The keys each model commit wrote, in commit order.
    history: Vec<BTreeSet<Key>>,
    txns: Vec<Option<ModelTxn>>,
}

fn engine_config() -> EngineConfig {
    // A small cache and checkpoint threshold so that checkpoints, eviction
    // and version store pages happen within short sequences.
    EngineConfig {
        cache_bytes: 48 << 10,
        checkpoint_bytes: 24 << 10,
        sync: SyncMode::Full,
        ..Default::default()
    }
}

impl Harness {
    fn new() -> Harness {
        let pages = MemPageStore::new(1024).unwrap();
        let log = MemLogStore::new();
        let mut engine = Engine::open(
            Box::new(pages.clone()),
            Box::new(log.clone()),
            engine_config(),
        )
        .unwrap();
        let t = engine.begin().unwrap();
        let trees = (0..TREES)
            .map(|i| {
                engine
                    .create_tree(t, &format!("tree{i}"), TreeKind::Table)
                    .unwrap()
            })
            .collect();
        engine.commit(t).unwrap();
        Harness {
            pages,
            log,
            engine,
            trees,
            committed: State::new(),
            history: Vec::new(),
            txns: (0..SLOTS).map(|_| None).collect(),
        }
    }

    fn check_all(&mut self) {
        let r = self.engine.begin_read_only().unwrap();
        let mut state = State::new();
        for (i, tree) in self.trees.iter().enumerate() {
            for (k, v) in self
                .engine
                .scan(r, *tree, Bound::Unbounded, Bound::Unbounded, usize::MAX)
                .unwrap()
            {
                state.insert((i, k), v);
            }
        }
        self.engine.commit(r).unwrap();
        assert_eq!(
            state, self.committed,
            "committed state differs from the model"
        );
        self.engine.check_integrity().unwrap();
    }

    fn apply(&mut self, op: Op) {
        let trees = self.trees.clone();
        // Work on an idle slot starts a read-write transaction there.
        match &op {
            Op::Get { slot, .. }
            | Op::Put { slot, .. }
            | Op::Delete { slot, .. }
            | Op::Scan { slot, .. }
            | Op::Walk { slot, .. }
            | Op::Savepoint { slot } => self.apply(Op::Begin {
                slot: *slot,
                read_only: false,
            }),
            _ => {}
        }
        match op {
            Op::Begin { slot, read_only } => {
                if self.txns[slot].is_some() {
                    return;
                }
                let id = if read_only {
                    self.engine.begin_read_only()
                } else {
                    self.engine.begin()
                }
                .unwrap();
                self.txns[slot] = Some(ModelTxn {
                    id,
                    read_only,
                    begin: self.history.len(),
                    snapshot: self.committed.clone(),
                    writes: BTreeMap::new(),
                    savepoints: Vec::new(),
                });
            }
            Op::Get { slot, tree, key } => {
                let Some(t) = &self.txns[slot] else { return };
                let got = self.engine.get(t.id, trees[tree], &key).unwrap();
                assert_eq!(got, t.read(&(tree, key)), "get in slot {slot}");
            }
            Op::Put {
                slot,
                tree,
                key,
                value,
            } => {
                let Some(t) = &mut self.txns[slot] else {
                    return;
                };
                let result = self.engine.put(t.id, trees[tree], &key, &value);
                if t.read_only {
                    assert!(matches!(result, Err(Error::InvalidInput(_))));
                } else {
                    result.unwrap();
                    t.writes.insert((tree, key), Some(value));
                }
            }
            Op::Delete { slot, tree, key } => {
                let Some(t) = &mut self.txns[slot] else {
                    return;
                };
                let result = self.engine.delete(t.id, trees[tree], &key);
                if t.read_only {
                    assert!(matches!(result, Err(Error::InvalidInput(_))));
                } else {
                    let k = (tree, key);
                    assert_eq!(
                        result.unwrap(),
                        t.read(&k).is_some(),
                        "delete reports what it saw"
                    );
                    t.writes.insert(k, None);
                }
            }
            Op::Scan {
                slot,
                tree,
                lower,
                upper,
                limit,
            } => {
                let Some(t) = &self.txns[slot] else { return };
                let got = self
                    .engine
                    .scan(
                        t.id,
                        trees[tree],
                        as_slices(&lower),
                        as_slices(&upper),
                        limit,
                    )
                    .unwrap();
                let mut expected = t.view(tree, &lower, &upper);
                expected.truncate(limit);
                assert_eq!(got, expected, "scan in slot {slot}");
            }
            Op::Walk {
                slot,
                tree,
                lower,
                upper,
                steps,
            } => {
                let Some(t) = &self.txns[slot] else { return };
                let mut expected = std::collections::VecDeque::from(t.view(tree, &lower, &upper));
                let mut cursor = self.engine.cursor(t.id, trees[tree], lower, upper).unwrap();
                for forward in steps {
                    let (got, want) = if forward {
                        (cursor.next(&mut self.engine).unwrap(), expected.pop_front())
                    } else {
                        (cursor.prev(&mut self.engine).unwrap(), expected.pop_back())
                    };
                    assert_eq!(got, want, "cursor step (forward: {forward}) in slot {slot}");
                }
            }
            Op::Savepoint { slot } => {
                let Some(t) = &mut self.txns[slot] else {
                    return;
                };
                let sp = self.engine.savepoint(t.id).unwrap();
                t.savepoints.push((sp, t.writes.clone()));
            }
            Op::RollbackTo { slot, which } => {
                let Some(t) = &mut self.txns[slot] else {
                    return;
                };
                if which >= t.savepoints.len() {
                    return;
                }
                let (sp, writes) = t.savepoints[which].clone();
                self.engine.rollback_to(t.id, sp).unwrap();
                t.savepoints.truncate(which + 1);
                t.writes = writes;
            }
            Op::Release { slot, which } => {
                let Some(t) = &mut self.txns[slot] else {
                    return;
                };
                if which >= t.savepoints.len() {
                    return;
                }
                self.engine.release(t.id, t.savepoints[which].0).unwrap();
                t.savepoints.truncate(which);
            }
            Op::Commit { slot } => {
                let Some(t) = self.txns[slot].take() else {
                    return;
                };
                let conflict = !t.read_only
                    && self.history[t.begin..]
                        .iter()
                        .any(|written| t.writes.keys().any(|k| written.contains(k)));
                match self.engine.commit(t.id) {
                    Ok(_) => {
                        assert!(!conflict, "commit in slot {slot} should have conflicted");
                        if !t.writes.is_empty() {
                            for (k, v) in &t.writes {
                                match v {
                                    Some(v) => self.committed.insert(k.clone(), v.clone()),
                                    None => self.committed.remove(k),
                                };
                            }
                            self.history.push(t.writes.keys().cloned().collect());
                        }
                    }
                    Err(Error::Conflict(_)) => {
                        assert!(conflict, "unexpected conflict in slot {slot}")
                    }
                    Err(e) => panic!("commit failed: {e}"),
                }
            }
            Op::Rollback { slot } => {
                let Some(t) = self.txns[slot].take() else {
                    return;
                };
                self.engine.rollback(t.id).unwrap();
            }
            Op::Checkpoint => self.engine.checkpoint().unwrap(),
            Op::Reopen { crash } => {
                // Open transactions die with the process.
                for t in &mut self.txns {
                    *t = None;
                }
                if crash {
                    // SyncMode::Full: every commit is synced, nothing is lost.
                    self.log.crash();
                }
                // The old engine is dropped without any further call, as in a
                // process that died.
                self.engine = Engine::open(
                    Box::new(self.pages.clone()),
                    Box::new(self.log.clone()),
                    engine_config(),
                )
                .unwrap();
                self.check_all();
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_model(ops in prop::collection::vec(op(), 1..400)) {
        let mut h = Harness::new();
        for op in ops {
            h.apply(op);
        }
        // Finish every transaction, then compare the whole database.
        for slot in 0..SLOTS {
            h.apply(Op::Commit { slot });
        }
        h.check_all();
        h.apply(Op::Reopen { crash: true });
    }
}

#[test]
fn conflicting_writers_first_committer_wins() {
    let mut h = Harness::new();
    h.apply(Op::Begin {
        slot: 0,
        read_only: false,
    });
    h.apply(Op::Begin {
        slot: 1,
        read_only: false,
    });
    h.apply(Op::Put {
        slot: 0,
        tree: 0,
        key: vec![1],
        value: vec![1],
    });
    h.apply(Op::Put {
        slot: 1,
        tree: 0,
        key: vec![1],
        value: vec![2],
    });
    h.apply(Op::Commit { slot: 1 });
    h.apply(Op::Commit { slot: 0 });
    assert_eq!(h.engine.stats().conflicts, 1);
    h.check_all();
}
