//! The B-tree and pager against damaged stores (flipped bits, nonsense under
//! valid checksums) and the lazy-loading guarantee of the pager.

mod btree_common;

use std::collections::BTreeMap;
use std::ops::Bound;

use btree_common::*;
use dosql::btree::{BTree, Cursor};
use dosql::pager::{seal_page, Pager, PagerConfig};
use dosql::store::{MemPageStore, PageId, PageStore};
use dosql::Error;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// A populated store: 3 trees with `n` keys each, checkpointed.
fn populated(n: u16) -> (MemPageStore, Vec<PageId>, Model) {
    let mut db = Db::new();
    let mut model: Model = vec![BTreeMap::new(); 3];
    for i in 0..n {
        for (t, tree) in db.trees.iter().enumerate() {
            let v = value_of(KINDS[t], (i % 5) as u8, i);
            tree.insert(&mut db.pager, &key_of(i), &v).unwrap();
            model[t].insert(key_of(i), v);
        }
    }
    db.checkpoint();
    let roots = db.trees.iter().map(|t| t.root()).collect();
    (db.store, roots, model)
}

/// Runs every kind of access against a possibly damaged store. Nothing may
/// panic, and whatever a read returns successfully must be correct unless
/// `trust_reads` is false (damage under a valid checksum can be plausible).
fn probe(store: &MemPageStore, roots: &[PageId], model: &Model, trust_reads: bool) -> usize {
    let mut errors = 0;
    let mut pager = match Pager::open(Box::new(store.clone()), PagerConfig { cache_bytes: CACHE }) {
        Ok(pager) => pager,
        Err(_) => return 1,
    };
    for (t, &root) in roots.iter().enumerate() {
        let tree = match BTree::open(&mut pager, root) {
            Ok(tree) => tree,
            Err(e) => {
                assert!(matches!(e, Error::Corruption(_)), "{e}");
                errors += 1;
                continue;
            }
        };
        for (k, v) in &model[t] {
            match tree.get(&mut pager, k) {
                Ok(got) if trust_reads => assert_eq!(got.as_ref(), Some(v)),
                Ok(_) => {}
                Err(e) => {
                    assert!(matches!(e, Error::Corruption(_)), "{e}");
                    errors += 1;
                }
            }
        }
        for forward in [true, false] {
            let mut c = Cursor::new(tree, Bound::Unbounded, Bound::Unbounded);
            for _ in 0..=model[t].len() {
                let step = if forward {
                    c.next(&mut pager)
                } else {
                    c.prev(&mut pager)
                };
                match step {
                    Ok(Some((k, v))) if trust_reads => assert_eq!(model[t].get(&k), Some(&v)),
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
        }
        if tree.check(&mut pager).is_err() {
            errors += 1;
        }
        // Writes must fail cleanly too.
        for k in model[t].keys().step_by(7) {
            if tree.delete(&mut pager, k).is_err() {
                errors += 1;
            }
            let value = value_of(tree.kind(), 4, 1);
            if tree.insert(&mut pager, k, &value).is_err() {
                errors += 1;
            }
        }
    }
    errors
}

#[test]
fn flipped_bytes_are_detected() {
    let (store, roots, model) = populated(400);
    assert_eq!(probe(&store, &roots, &model, true), 0);
    let mut rng = SmallRng::seed_from_u64(7);
    let meta = store.clone().read_meta().unwrap().unwrap();
    let pages = store.page_count() as PageId;
    for id in 1..=pages {
        let damaged = store.clone();
        let mut page = vec![0u8; PAGE as usize];
        assert!(damaged.clone().read_page(id, &mut page).unwrap());
        let at = rng.gen_range(0..PAGE as usize);
        page[at] ^= 1 << rng.gen_range(0..8);
        // Write into a copy of the store so each page is damaged alone.
        let mut copy = MemPageStore::new(PAGE).unwrap();
        let mut all = Vec::new();
        for other in 1..=pages {
            let mut buf = vec![0u8; PAGE as usize];
            damaged.clone().read_page(other, &mut buf).unwrap();
            all.push((other, if other == id { page.clone() } else { buf }));
        }
        let batch: Vec<(PageId, &[u8])> = all.iter().map(|(i, b)| (*i, b.as_slice())).collect();
        copy.write_batch(&batch, &meta).unwrap();
        let mut pager =
            Pager::open(Box::new(copy.clone()), PagerConfig { cache_bytes: CACHE }).unwrap();
        match pager.read(id) {
            Err(Error::Corruption(msg)) => assert!(msg.contains(&format!("page {id}")), "{msg}"),
            other => panic!("page {id}: {:?}", other.map(|_| ())),
        }
        assert!(
            probe(&copy, &roots, &model, true) > 0,
            "damage to page {id} went unnoticed"
        );
    }
}

/// Overwrites page `id` of `store` with `page`, resealed so its checksum is valid.
fn plant(store: &mut MemPageStore, id: PageId, page: &mut [u8]) {
    seal_page(id, page);
    let meta = store.read_meta().unwrap().unwrap();
    store.write_batch(&[(id, page)], &meta).unwrap();
}

#[test]
fn nonsense_under_a_valid_checksum_is_an_error_not_a_panic() {
    let (store, roots, model) = populated(300);
    let pages = store.page_count() as PageId;
    // A leaf of the first tree with its cell offsets replaced by nonsense.
    let mut pager = Pager::open(Box::new(store.clone()), PagerConfig::default()).unwrap();
    let tree = BTree::open(&mut pager, roots[0]).unwrap();
    let first_key = model[0].keys().next().unwrap().clone();
    drop(pager);
    // Follow the leftmost children down (docs/format.md §3 layout).
    let mut leaf_id = roots[0];
    let mut page = vec![0u8; PAGE as usize];
    loop {
        store.clone().read_page(leaf_id, &mut page).unwrap();
        if page[4] == 2 {
            break;
        }
        assert_eq!(page[4], 3, "table interior page");
        let off = u16::from_le_bytes([page[24], page[25]]) as usize;
        leaf_id = PageId::from_le_bytes(page[off..off + 8].try_into().unwrap());
    }
    let count = u16::from_le_bytes([page[6], page[7]]) as usize;
    for nonsense in [[0xff, 0xff], [0x05, 0x00], [0xff, 0x03], [0x18, 0x00]] {
        let mut bad = page.clone();
        for slot in 0..count {
            bad[24 + 2 * slot..26 + 2 * slot].copy_from_slice(&nonsense);
        }
        let mut damaged = store.clone();
        let original = page.clone();
        plant(&mut damaged, leaf_id, &mut bad);
        let mut pager = Pager::open(Box::new(damaged.clone()), PagerConfig::default()).unwrap();
        assert!(
            matches!(tree.check(&mut pager), Err(Error::Corruption(_))),
            "{nonsense:?}"
        );
        assert!(
            matches!(tree.get(&mut pager, &first_key), Err(Error::Corruption(_))),
            "{nonsense:?}"
        );
        assert!(probe(&damaged, &roots, &model, false) > 0);
        plant(&mut damaged, leaf_id, &mut original.clone());
    }

    // Random damage to headers and slot arrays of every page, resealed.
    let mut rng = SmallRng::seed_from_u64(11);
    for round in 0..300 {
        let mut damaged = MemPageStore::new(PAGE).unwrap();
        let meta = store.clone().read_meta().unwrap().unwrap();
        let mut all = Vec::new();
        for id in 1..=pages {
            let mut buf = vec![0u8; PAGE as usize];
            store.clone().read_page(id, &mut buf).unwrap();
            all.push((id, buf));
        }
        let victim = rng.gen_range(1..=pages);
        let buf = &mut all[victim as usize - 1].1;
        for _ in 0..rng.gen_range(1..4) {
            let at = if rng.gen_bool(0.7) {
                rng.gen_range(4..64)
            } else {
                rng.gen_range(4..PAGE as usize)
            };
            buf[at] = rng.gen();
        }
        seal_page(victim, buf);
        let batch: Vec<(PageId, &[u8])> = all.iter().map(|(i, b)| (*i, b.as_slice())).collect();
        damaged.write_batch(&batch, &meta).unwrap();
        let _ = round;
        probe(&damaged, &roots, &model, false);
    }
}

#[test]
fn opening_reads_only_the_meta_and_get_reads_one_path() {
    let mut db = Db::new();
    for i in 0..20_000u32 {
        db.trees[0]
            .insert(&mut db.pager, &i.to_be_bytes(), &[i as u8; 40])
            .unwrap();
    }
    let stats = db.trees[0].check(&mut db.pager).unwrap();
    assert!(stats.pages > 1000 && stats.depth >= 3, "{stats:?}");
    db.checkpoint();
    let store = db.store.clone();
    drop(db);
    let mut pager = Pager::open(Box::new(store), PagerConfig { cache_bytes: CACHE }).unwrap();
    assert_eq!(pager.stats().store_reads, 0, "open reads no page");
    let root = PageId::from_le_bytes(pager.user_meta().unwrap()[..8].try_into().unwrap());
    let tree = BTree::open(&mut pager, root).unwrap();
    assert_eq!(
        pager.stats().store_reads,
        1,
        "open of a tree reads its root"
    );
    assert_eq!(
        tree.get(&mut pager, &12_345u32.to_be_bytes()).unwrap(),
        Some(vec![12_345u32 as u8; 40])
    );
    assert_eq!(
        pager.stats().store_reads,
        stats.depth as u64,
        "one read per level below the root, root cached"
    );
    // A second lookup in another part of the tree shares the cached root.
    tree.get(&mut pager, &3u32.to_be_bytes()).unwrap();
    assert!(pager.stats().store_reads < 2 * stats.depth as u64);
}
