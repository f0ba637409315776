//! The catalog: which trees exist, under which names, at which timestamps.
//!
//! ```text
//!   catalog B-tree (persistent)            in memory (rebuilt at open)
//!   id BE -> kind, flags, root, name  -->  trees: id -> TreeInfo
//!                                          names: name -> id (live trees)
//!                                          pending_drops: [id]
//! ```
//!
//! Invariants:
//! * Every committed tree has one catalog row and one `TreeInfo`; `names`
//!   maps each name to its one live (not dropped) tree.
//! * A tree dropped while an older snapshot may still read it keeps its
//!   pages, its `TreeInfo` (with `dropped_ts`) and its row (flagged
//!   dropped) until garbage collection destroys it; at open, flagged rows
//!   are destroyed at once because no snapshot survives a restart.
//! * Creation and drop timestamps decide visibility: a snapshot `s` sees a
//!   tree when `created_ts <= s < dropped_ts`.
//!
//! The catalog is keyed by id rather than by name so that a dropped tree
//! awaiting GC and a new tree of the same name can coexist.

use std::collections::Bound;

use rustc_hash::FxHashMap;

use super::codec::{catalog_key, decode_catalog, encode_catalog, CatalogEntry};
use crate::btree::{BTree, Cursor, TreeKind};
use crate::corruption;
use crate::error::Result;
use crate::pager::Pager;
use crate::store::PageId;
use crate::wal::{Timestamp, TreeId};

/// A committed tree.
pub(crate) struct TreeInfo {
    pub name: String,
    /// The kind the user asked for. Every user tree is stored as a table
    /// B-tree because each value carries an MVCC stamp; index trees only
    /// enforce that user values are empty.
    pub kind: TreeKind,
    pub btree: BTree,
    pub created_ts: Timestamp,
    pub dropped_ts: Option<Timestamp>,
    /// The last commit that wrote to the tree: validation skips trees that
    /// no commit touched since a transaction's snapshot.
    pub last_commit_ts: Timestamp,
}

impl TreeInfo {
    pub fn visible_at(&self, snapshot: Timestamp) -> bool {
        self.created_ts <= snapshot && self.dropped_ts.is_none_or(|d| d > snapshot)
    }
}

pub(crate) struct Catalog {
    tree: BTree,
    trees: FxHashMap<TreeId, TreeInfo>,
    names: FxHashMap<String, TreeId>,
    pending_drops: Vec<TreeId>,
    buf: Vec<u8>,
}

impl Catalog {
    pub fn create(pager: &mut Pager) -> Result<Catalog> {
        Ok(Catalog {
            tree: BTree::create(pager, TreeKind::Table)?,
            trees: FxHashMap::default(),
            names: FxHashMap::default(),
            pending_drops: Vec::new(),
            buf: Vec::new(),
        })
    }

    /// Loads the catalog at `root`. Rows flagged dropped are returned, not
    /// loaded: the caller destroys their trees and calls [`Catalog::forget`].
    pub fn load(pager: &mut Pager, root: PageId) -> Result<(Catalog, Vec<CatalogEntry>)> {
        let tree = BTree::open(pager, root)?;
        let mut catalog = Catalog {
            tree,
            trees: FxHashMap::default(),
            names: FxHashMap::default(),
            pending_drops: Vec::new(),
            buf: Vec::new(),
        };
        let mut dropped = Vec::new();
        let mut cursor = Cursor::new(tree, Bound::Unbounded, Bound::Unbounded);
        while let Some((key, value)) = cursor.next(pager)? {
            let entry = decode_catalog(&key, &value)?;
            if entry.dropped {
                dropped.push(entry);
                continue;
            }
            if catalog.names.insert(entry.name.clone(), entry.id).is_some() {
                return Err(corruption!("catalog names tree {:?} twice", entry.name));
            }
            let btree = BTree::open(pager, entry.root)?;
            catalog.trees.insert(
                entry.id,
                TreeInfo {
                    name: entry.name,
                    kind: entry.kind,
                    btree,
                    created_ts: 0,
                    dropped_ts: None,
                    last_commit_ts: 0,
                },
            );
        }
        Ok((catalog, dropped))
    }

    pub fn root(&self) -> PageId {
        self.tree.root()
    }

    /// The catalog's own B-tree, for integrity checks.
    pub fn btree(&self) -> BTree {
        self.tree
    }

    pub fn get(&self, id: TreeId) -> Option<&TreeInfo> {
        self.trees.get(&id)
    }

    pub fn get_mut(&mut self, id: TreeId) -> Option<&mut TreeInfo> {
        self.trees.get_mut(&id)
    }

    /// Every committed tree, dropped ones awaiting GC included.
    pub fn iter(&self) -> impl Iterator<Item = (TreeId, &TreeInfo)> + '_ {
        self.trees.iter().map(|(id, info)| (*id, info))
    }

    /// The live tree called `name`, whatever its creation time.
    pub fn live(&self, name: &str) -> Option<TreeId> {
        self.names.get(name).copied()
    }

    /// The tree called `name` that a snapshot sees.
    pub fn lookup(&self, name: &str, snapshot: Timestamp) -> Option<TreeId> {
        if let Some(&id) = self.names.get(name) {
            if self.trees[&id].visible_at(snapshot) {
                return Some(id);
            }
        }
        // Rare: a snapshot older than a drop still sees the dropped tree.
        self.pending_drops.iter().copied().find(|id| {
            let info = &self.trees[id];
            info.name == name && info.visible_at(snapshot)
        })
    }

    /// Trees dropped while older snapshots could read them, with drop times.
    pub fn pending_drops(&self) -> impl Iterator<Item = (TreeId, Timestamp)> + '_ {
        self.pending_drops.iter().map(|id| {
            (
                *id,
                self.trees[id].dropped_ts.expect("pending drop has a time"),
            )
        })
    }

    /// Registers a committed tree and writes its catalog row.
    pub fn add(
        &mut self,
        pager: &mut Pager,
        id: TreeId,
        name: &str,
        kind: TreeKind,
        btree: BTree,
        ts: Timestamp,
    ) -> Result<()> {
        let entry = CatalogEntry {
            id,
            kind,
            dropped: false,
            root: btree.root(),
            name: name.to_owned(),
        };
        encode_catalog(&entry, &mut self.buf);
        self.tree.insert(pager, &catalog_key(id), &self.buf)?;
        let previous = self.names.insert(name.to_owned(), id);
        assert!(previous.is_none(), "tree name {name:?} registered twice");
        let info = TreeInfo {
            name: name.to_owned(),
            kind,
            btree,
            created_ts: ts,
            dropped_ts: None,
            last_commit_ts: ts,
        };
        self.trees.insert(id, info);
        Ok(())
    }

    /// Marks a tree dropped at `ts` while older snapshots may still read
    /// it; its name becomes free.
    pub fn mark_dropped(&mut self, pager: &mut Pager, id: TreeId, ts: Timestamp) -> Result<()> {
        let info = self.trees.get_mut(&id).expect("dropped tree is registered");
        let entry = CatalogEntry {
            id,
            kind: info.kind,
            dropped: true,
            root: info.btree.root(),
            name: info.name.clone(),
        };
        info.dropped_ts = Some(ts);
        info.last_commit_ts = ts;
        self.names.remove(&entry.name);
        self.pending_drops.push(id);
        encode_catalog(&entry, &mut self.buf);
        self.tree.insert(pager, &catalog_key(id), &self.buf)?;
        Ok(())
    }

    /// Removes a tree's row and registration (its pages are the caller's);
    /// returns its B-tree.
    pub fn remove(&mut self, pager: &mut Pager, id: TreeId) -> Result<BTree> {
        let info = self.trees.remove(&id).expect("removed tree is registered");
        if info.dropped_ts.is_some() {
            self.pending_drops.retain(|d| *d != id);
        } else {
            self.names.remove(&info.name);
        }
        self.forget(pager, id)?;
        Ok(info.btree)
    }

    /// Deletes the catalog row of `id` (used for rows flagged dropped).
    pub fn forget(&mut self, pager: &mut Pager, id: TreeId) -> Result<()> {
        self.tree.delete(pager, &catalog_key(id))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pager::PagerConfig;
    use crate::store::MemPageStore;

    fn pager(store: &MemPageStore) -> Pager {
        Pager::open(
            Box::new(store.clone()),
            PagerConfig {
                cache_bytes: 1 << 20,
            },
        )
        .unwrap()
    }

    #[test]
    fn visibility_follows_creation_and_drop_times() {
        let store = MemPageStore::new(1024).unwrap();
        let mut p = pager(&store);
        let mut c = Catalog::create(&mut p).unwrap();
        let a = BTree::create(&mut p, TreeKind::Table).unwrap();
        c.add(&mut p, 1, "t", TreeKind::Table, a, 5).unwrap();
        assert_eq!(c.lookup("t", 4), None);
        assert_eq!(c.lookup("t", 5), Some(1));
        c.mark_dropped(&mut p, 1, 8).unwrap();
        assert_eq!(c.live("t"), None);
        let b = BTree::create(&mut p, TreeKind::Table).unwrap();
        c.add(&mut p, 2, "t", TreeKind::Index, b, 9).unwrap();
        // Three snapshots, three answers for the same name.
        assert_eq!(c.lookup("t", 4), None);
        assert_eq!(c.lookup("t", 7), Some(1));
        assert_eq!(c.lookup("t", 8), None);
        assert_eq!(c.lookup("t", 9), Some(2));
        assert_eq!(c.pending_drops().collect::<Vec<_>>(), vec![(1, 8)]);
        assert_eq!(c.remove(&mut p, 1).unwrap(), a);
        assert_eq!(c.pending_drops().count(), 0);
        assert_eq!(c.lookup("t", 7), None);
    }

    #[test]
    fn load_round_trips_and_returns_dropped_rows() {
        let store = MemPageStore::new(1024).unwrap();
        let mut p = pager(&store);
        let mut c = Catalog::create(&mut p).unwrap();
        for (id, name) in [(3, "x"), (4, "y"), (7, "z")] {
            let t = BTree::create(&mut p, TreeKind::Table).unwrap();
            c.add(&mut p, id, name, TreeKind::Table, t, 1).unwrap();
        }
        c.mark_dropped(&mut p, 4, 2).unwrap();
        let root = c.root();
        p.checkpoint(b"").unwrap();
        drop(p);
        let mut p = pager(&store);
        let (loaded, dropped) = Catalog::load(&mut p, root).unwrap();
        assert_eq!(dropped.len(), 1);
        assert_eq!(
            (dropped[0].id, dropped[0].name.as_str(), dropped[0].dropped),
            (4, "y", true)
        );
        let mut ids: Vec<_> = loaded
            .iter()
            .map(|(id, info)| (id, info.name.clone()))
            .collect();
        ids.sort();
        assert_eq!(ids, vec![(3, "x".to_string()), (7, "z".to_string())]);
        assert_eq!(
            loaded.lookup("z", 0),
            Some(7),
            "no snapshot predates a restart"
        );
    }

    #[test]
    fn duplicate_names_in_stored_rows_are_corruption() {
        let store = MemPageStore::new(1024).unwrap();
        let mut p = pager(&store);
        let c = Catalog::create(&mut p).unwrap();
        let t = BTree::create(&mut p, TreeKind::Table).unwrap();
        let mut buf = Vec::new();
        for id in [1, 2] {
            let entry = CatalogEntry {
                id,
                kind: TreeKind::Table,
                dropped: false,
                root: t.root(),
                name: "dup".into(),
            };
            encode_catalog(&entry, &mut buf);
            c.btree().insert(&mut p, &catalog_key(id), &buf).unwrap();
        }
        let err = Catalog::load(&mut p, c.root())
            .err()
            .expect("duplicate names rejected");
        assert!(matches!(err, crate::error::Error::Corruption(_)));
    }
}
