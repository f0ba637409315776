//! Crash recovery at every write point.
//!
//! A fixed workload (puts, deletes, tree creation and drop, overflow-sized
//! values, a long reader so that versions and tombstones reach
//! checkpoints, and checkpoints forced by a small cache and threshold) runs
//! once to count its write points. Then, for every point `n`, it runs again
//! with a crash injected at `n`: the stores fail from that point on, the
//! engine is dropped, unsynced log records are discarded, and the database
//! is reopened. It must equal the state after some prefix of the attempted
//! commits, a prefix that includes every commit that returned `Ok` (under
//! `SyncMode::Full`), and every B-tree must pass its integrity check.

use std::collections::BTreeMap;
use std::ops::Bound;

use dosql::mvcc::{Engine, EngineConfig, SyncMode, TreeKind};
use dosql::store::{FaultInjector, FaultLogStore, FaultPageStore, MemLogStore, MemPageStore};
use dosql::Result;

/// Tree name -> contents.
type State = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

fn config() -> EngineConfig {
    EngineConfig {
        cache_bytes: 16 << 10,
        checkpoint_bytes: 12 << 10,
        sync: SyncMode::Full,
        ..Default::default()
    }
}

/// What the workload reached before it stopped.
struct Progress {
    /// `states[i]`: the database after the first `i` commits.
    states: Vec<State>,
    /// Commits that returned `Ok`.
    acknowledged: usize,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            states: vec![State::new()],
            acknowledged: 0,
        }
    }
}

fn value(i: u32, round: u32) -> Vec<u8> {
    if i % 7 == 3 {
        // Overflow-sized with 1 KiB pages.
        vec![(i + round) as u8; 3000 + i as usize]
    } else {
        format!("v{i}-{round}").into_bytes()
    }
}

/// One transaction of the workload applied to the model.
enum Step {
    Put(&'static str, u32, u32),
    Delete(&'static str, u32),
    Create(&'static str, TreeKind),
    Drop(&'static str),
}

fn transactions() -> Vec<Vec<Step>> {
    use Step::*;
    let mut txns = vec![vec![
        Create("a", TreeKind::Table),
        Create("idx", TreeKind::Index),
    ]];
    for round in 0..6u32 {
        let mut t = Vec::new();
        for i in 0..12u32 {
            let k = (i * 5 + round * 3) % 40;
            t.push(Put("a", k, round));
            if i % 4 == 0 {
                t.push(Put("idx", k, u32::MAX));
            }
        }
        t.push(Delete("a", (round * 11) % 40));
        txns.push(t);
        if round == 2 {
            txns.push(vec![
                Create("b", TreeKind::Table),
                Put("b", 1, 0),
                Put("b", 3, 0),
            ]);
        }
        if round == 4 {
            txns.push(vec![Drop("b")]);
            txns.push(vec![Create("b", TreeKind::Table), Put("b", 2, 9)]);
        }
    }
    for i in 0..10u32 {
        txns.push(vec![
            Put("a", 100 + i, 1),
            Delete("a", i * 4),
            Delete("idx", i * 5),
        ]);
    }
    txns
}

fn apply_model(state: &mut State, steps: &[Step]) {
    for step in steps {
        match step {
            Step::Put(tree, k, round) => {
                let v = if *round == u32::MAX {
                    Vec::new()
                } else {
                    value(*k, *round)
                };
                state
                    .get_mut(*tree)
                    .unwrap()
                    .insert(k.to_be_bytes().to_vec(), v);
            }
            Step::Delete(tree, k) => {
                state.get_mut(*tree).unwrap().remove(&k.to_be_bytes()[..]);
            }
            Step::Create(tree, _) => {
                state.insert(tree.to_string(), BTreeMap::new());
            }
            Step::Drop(tree) => {
                state.remove(*tree);
            }
        }
    }
}

fn run_txn(e: &mut Engine, steps: &[Step]) -> Result<()> {
    let t = e.begin()?;
    for step in steps {
        match step {
            Step::Put(tree, k, round) => {
                let id = e.tree(t, tree)?.expect("tree exists");
                let v = if *round == u32::MAX {
                    Vec::new()
                } else {
                    value(*k, *round)
                };
                e.put(t, id, &k.to_be_bytes(), &v)?;
            }
            Step::Delete(tree, k) => {
                let id = e.tree(t, tree)?.expect("tree exists");
                e.delete(t, id, &k.to_be_bytes())?;
            }
            Step::Create(tree, kind) => {
                e.create_tree(t, tree, *kind)?;
            }
            Step::Drop(tree) => e.drop_tree(t, tree)?,
        }
    }
    e.commit(t)?;
    Ok(())
}

/// Runs the workload until the first error; records progress as it goes.
fn workload(e: &mut Engine, progress: &mut Progress) -> Result<()> {
    let txns = transactions();
    let mut state = State::new();
    // A reader opened early and kept for a while makes commits save
    // versions and leave tombstones, which checkpoints then capture.
    let reader = e.begin_read_only()?;
    for (n, steps) in txns.iter().enumerate() {
        apply_model(&mut state, steps);
        progress.states.push(state.clone());
        run_txn(e, steps)?;
        progress.acknowledged = n + 1;
        if n == 12 {
            e.commit(reader)?;
        }
        if n % 9 == 4 {
            e.checkpoint()?;
        }
    }
    Ok(())
}

fn dump(e: &mut Engine) -> State {
    let r = e.begin_read_only().unwrap();
    let mut state = State::new();
    for name in ["a", "b", "idx"] {
        if let Some(tree) = e.tree(r, name).unwrap() {
            let rows = e
                .scan(r, tree, Bound::Unbounded, Bound::Unbounded, usize::MAX)
                .unwrap();
            state.insert(name.to_string(), rows.into_iter().collect());
        }
    }
    e.commit(r).unwrap();
    state
}

struct Stores {
    pages: MemPageStore,
    log: MemLogStore,
    injector: FaultInjector,
}

fn faulty_engine(stores: &Stores) -> Result<Engine> {
    Engine::open(
        Box::new(FaultPageStore::new(
            stores.pages.clone(),
            stores.injector.clone(),
        )),
        Box::new(FaultLogStore::new(
            stores.log.clone(),
            stores.injector.clone(),
        )),
        config(),
    )
}

fn new_stores() -> Stores {
    Stores {
        pages: MemPageStore::new(1024).unwrap(),
        log: MemLogStore::new(),
        injector: FaultInjector::new(),
    }
}

#[test]
fn crash_at_every_write_point_recovers_a_committed_prefix() {
    let stores = new_stores();
    let mut e = faulty_engine(&stores).unwrap();
    let mut progress = Progress::new();
    workload(&mut e, &mut progress).unwrap();
    let total = transactions().len();
    assert_eq!(progress.acknowledged, total);
    let final_state = dump(&mut e);
    assert_eq!(&final_state, progress.states.last().unwrap());
    assert!(
        e.stats().checkpoints > 5,
        "the workload must force checkpoints"
    );
    drop(e);
    let points = stores.injector.points();
    assert!(points > 40, "only {points} write points");

    let mut recovered_lengths = Vec::new();
    for n in 1..=points {
        let stores = new_stores();
        stores.injector.crash_at(n);
        let mut progress = Progress::new();
        let outcome = faulty_engine(&stores).and_then(|mut e| workload(&mut e, &mut progress));
        assert!(
            outcome.is_err(),
            "crash at point {n} of {points} went unnoticed"
        );
        stores.log.crash();
        let mut e = Engine::open(
            Box::new(stores.pages.clone()),
            Box::new(stores.log.clone()),
            config(),
        )
        .unwrap_or_else(|err| panic!("reopen after crash at point {n}: {err}"));
        let got = dump(&mut e);
        let matching =
            (progress.acknowledged..progress.states.len()).find(|&i| progress.states[i] == got);
        let Some(len) = matching else {
            panic!(
                "crash at point {n}: state matches no prefix in {}..{} ({:?})",
                progress.acknowledged,
                progress.states.len(),
                got.iter().map(|(k, v)| (k, v.len())).collect::<Vec<_>>()
            );
        };
        e.check_integrity()
            .unwrap_or_else(|err| panic!("crash at point {n}: {err}"));
        // The recovered database keeps working and survives another restart.
        let t = e.begin().unwrap();
        let tree = match e.tree(t, "after").unwrap() {
            Some(tree) => tree,
            None => e.create_tree(t, "after", TreeKind::Table).unwrap(),
        };
        e.put(t, tree, b"k", b"v").unwrap();
        e.commit(t).unwrap();
        drop(e);
        stores.log.crash();
        let mut e = Engine::open(
            Box::new(stores.pages.clone()),
            Box::new(stores.log.clone()),
            config(),
        )
        .unwrap();
        assert_eq!(dump(&mut e), got);
        let r = e.begin_read_only().unwrap();
        let tree = e.tree(r, "after").unwrap().unwrap();
        assert_eq!(e.get(r, tree, b"k").unwrap().as_deref(), Some(&b"v"[..]));
        e.commit(r).unwrap();
        e.check_integrity().unwrap();
        recovered_lengths.push(len);
    }
    // Crashes late in the workload recover (nearly) everything.
    assert!(recovered_lengths.iter().any(|&len| len + 1 >= total));
    assert!(recovered_lengths.contains(&0));
}

#[test]
fn a_storage_failure_poisons_until_reopen() {
    let stores = new_stores();
    let mut e = faulty_engine(&stores).unwrap();
    let t = e.begin().unwrap();
    let tree = e.create_tree(t, "t", TreeKind::Table).unwrap();
    e.put(t, tree, b"kept", b"1").unwrap();
    e.commit(t).unwrap();
    // The next write point (this commit's log append) fails.
    stores.injector.crash_at(stores.injector.points() + 1);
    let t = e.begin().unwrap();
    e.put(t, tree, b"lost", b"2").unwrap();
    assert!(matches!(e.commit(t), Err(dosql::Error::Io(_))));
    assert!(e.is_poisoned());
    for result in [e.begin().map(|_| ()), e.checkpoint(), e.sync().map(|_| ())] {
        assert!(matches!(result, Err(dosql::Error::Io(_))));
    }
    drop(e);
    stores.log.crash();
    let mut e = Engine::open(
        Box::new(stores.pages.clone()),
        Box::new(stores.log.clone()),
        config(),
    )
    .unwrap();
    assert!(!e.is_poisoned());
    let r = e.begin_read_only().unwrap();
    assert_eq!(e.get(r, tree, b"kept").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(e.get(r, tree, b"lost").unwrap(), None);
    e.commit(r).unwrap();
    e.check_integrity().unwrap();
}
