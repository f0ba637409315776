//! Helpers shared by the B-tree integration tests: key and value
//! generators, the cursor model, and a pager with three trees.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ops::Bound;

use dosql::btree::{BTree, Cursor, TreeKind};
use dosql::pager::{Pager, PagerConfig};
use dosql::store::{MemPageStore, PageId};

pub const PAGE: u32 = 1024;
/// Small enough that clean pages are evicted all the time.
pub const CACHE: u64 = 24 * PAGE as u64;
pub const KINDS: [TreeKind; 3] = [TreeKind::Table, TreeKind::Table, TreeKind::Index];

pub type Model = Vec<BTreeMap<Vec<u8>, Vec<u8>>>;

/// Keys of three shapes: a long run of filler before a binary number (long
/// separators, so low fan-out and deep trees), chains of keys that are
/// prefixes of each other, and short text.
pub fn key_of(k: u16) -> Vec<u8> {
    match k % 3 {
        0 => {
            let mut v = vec![b'#'; (k as usize * 37) % 90];
            v.extend_from_slice(&k.to_be_bytes());
            v
        }
        1 => {
            let mut v = vec![b'p', (k / 40) as u8];
            v.resize(2 + (k % 40) as usize, b'x');
            v
        }
        _ => format!("key-{k:05}").into_bytes(),
    }
}

/// Values from empty to several overflow pages, straddling the inline limit.
pub fn value_of(kind: TreeKind, size: u8, seed: u16) -> Vec<u8> {
    if kind == TreeKind::Index {
        return Vec::new();
    }
    let len = match size % 5 {
        0 => seed as usize % 8,
        1 | 2 => 50 + seed as usize % 150,
        3 => 200 + seed as usize % 60,
        _ => 900 + (seed as usize * 13) % 4000,
    };
    (0..len).map(|i| (i as u16 ^ seed) as u8).collect()
}

pub fn satisfies_lower(key: &[u8], b: &Bound<Vec<u8>>) -> bool {
    match b {
        Bound::Unbounded => true,
        Bound::Included(l) => key >= l.as_slice(),
        Bound::Excluded(l) => key > l.as_slice(),
    }
}

pub fn satisfies_upper(key: &[u8], b: &Bound<Vec<u8>>) -> bool {
    match b {
        Bound::Unbounded => true,
        Bound::Included(u) => key <= u.as_slice(),
        Bound::Excluded(u) => key < u.as_slice(),
    }
}

/// The documented cursor semantics, over the model map.
pub struct ModelCursor {
    pub lower: Bound<Vec<u8>>,
    pub front: Bound<Vec<u8>>,
    pub back: Bound<Vec<u8>>,
}

impl ModelCursor {
    pub fn next(&mut self, map: &BTreeMap<Vec<u8>, Vec<u8>>) -> Option<(Vec<u8>, Vec<u8>)> {
        let (k, v) = map
            .range::<Vec<u8>, _>((self.front.clone(), Bound::Unbounded))
            .next()?;
        if !satisfies_upper(k, &self.back) {
            return None;
        }
        self.front = Bound::Excluded(k.clone());
        Some((k.clone(), v.clone()))
    }

    pub fn prev(&mut self, map: &BTreeMap<Vec<u8>, Vec<u8>>) -> Option<(Vec<u8>, Vec<u8>)> {
        let (k, v) = map
            .range::<Vec<u8>, _>((Bound::Unbounded, self.back.clone()))
            .next_back()?;
        if !satisfies_lower(k, &self.front) {
            return None;
        }
        self.back = Bound::Excluded(k.clone());
        Some((k.clone(), v.clone()))
    }

    pub fn seek(&mut self, key: &[u8]) {
        self.front = if satisfies_lower(key, &self.lower) {
            Bound::Included(key.to_vec())
        } else {
            self.lower.clone()
        };
    }
}

pub struct Db {
    pub store: MemPageStore,
    pub pager: Pager,
    pub trees: Vec<BTree>,
}

impl Db {
    pub fn new() -> Db {
        let store = MemPageStore::new(PAGE).unwrap();
        let mut pager =
            Pager::open(Box::new(store.clone()), PagerConfig { cache_bytes: CACHE }).unwrap();
        let trees = KINDS
            .iter()
            .map(|k| BTree::create(&mut pager, *k).unwrap())
            .collect();
        let mut db = Db {
            store,
            pager,
            trees,
        };
        db.checkpoint();
        db
    }

    pub fn checkpoint(&mut self) {
        let meta: Vec<u8> = self
            .trees
            .iter()
            .flat_map(|t| t.root().to_le_bytes())
            .collect();
        self.pager.checkpoint(&meta).unwrap();
    }

    /// Reopens from the store, as after a restart.
    pub fn reopen(&mut self) {
        let mut pager = Pager::open(
            Box::new(self.store.clone()),
            PagerConfig { cache_bytes: CACHE },
        )
        .unwrap();
        let meta = pager.user_meta().unwrap().to_vec();
        self.trees = meta
            .chunks(8)
            .map(|c| BTree::open(&mut pager, PageId::from_le_bytes(c.try_into().unwrap())).unwrap())
            .collect();
        self.pager = pager;
    }

    /// Checks every tree against the model and that every page is either in
    /// a tree or on the free list.
    pub fn verify(&mut self, model: &Model) {
        let mut pages = 0;
        for (tree, map) in self.trees.iter().zip(model) {
            let stats = tree.check(&mut self.pager).unwrap();
            assert_eq!(stats.keys, map.len() as u64);
            pages += stats.pages;
            let mut c = Cursor::new(*tree, Bound::Unbounded, Bound::Unbounded);
            for (k, v) in map {
                assert_eq!(
                    c.next(&mut self.pager).unwrap(),
                    Some((k.clone(), v.clone()))
                );
            }
            assert_eq!(c.next(&mut self.pager).unwrap(), None);
        }
        let free = self.pager.free_pages().unwrap().len() as u64;
        assert_eq!(
            pages + free,
            self.pager.page_count(),
            "pages leaked or shared"
        );
    }
}
