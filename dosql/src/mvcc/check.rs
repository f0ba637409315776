//! Whole-database integrity check.
//!
//! Checks every B-tree (catalog, version store, GC index, user trees) with
//! [`BTree::check`], decodes every stored stamp, matches the catalog rows
//! against the in-memory catalog, and accounts for every page:
//!
//! ```text
//!   pages of all trees + pages on the free list == pager page count
//! ```
//!
//! so a leaked page (freed by nobody, owned by nobody) is reported.

use std::ops::Bound;

use super::codec::{decode_catalog, decode_gc_key, decode_stamp};
use super::Engine;
use crate::btree::{BTree, Cursor, TreeStats};
use crate::corruption;
use crate::error::Result;
use crate::wal::TreeId;

/// What [`Engine::check_integrity`] measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    /// Committed user trees (dropped trees awaiting GC included).
    pub trees: u64,
    /// Live keys in user trees (tombstones excluded).
    pub keys: u64,
    pub tombstones: u64,
    pub versions: u64,
    /// Pages owned by trees.
    pub pages: u64,
    pub free_pages: u64,
}

impl Engine {
    /// Verifies the structure of every tree and the page accounting; any
    /// inconsistency is `Corruption`. Reads every page: for tests and
    /// maintenance, not for hot paths.
    pub fn check_integrity(&mut self) -> Result<IntegrityReport> {
        self.healthy()?;
        let Engine {
            pager,
            catalog,
            versions,
            ..
        } = self;
        let mut report = IntegrityReport::default();
        let mut pages = 0;

        let stats = catalog.btree().check(pager)?;
        pages += stats.pages;
        let mut rows = 0u64;
        let mut cursor = Cursor::new(catalog.btree(), Bound::Unbounded, Bound::Unbounded);
        while let Some((key, value)) = cursor.next(pager)? {
            let entry = decode_catalog(&key, &value)?;
            let info = catalog
                .get(entry.id)
                .ok_or_else(|| corruption!("catalog row {} not loaded", entry.id))?;
            if info.btree.root() != entry.root
                || info.name != entry.name
                || info.dropped_ts.is_some() != entry.dropped
            {
                return Err(corruption!(
                    "catalog row {} disagrees with the loaded catalog",
                    entry.id
                ));
            }
            rows += 1;
        }
        let trees: Vec<(u64, BTree)> = catalog.iter().map(|(id, info)| (id, info.btree)).collect();
        if rows != trees.len() as u64 {
            return Err(corruption!(
                "{rows} catalog rows for {} loaded trees",
                trees.len()
            ));
        }

        for (id, btree) in trees {
            pages += btree.check(pager)?.pages;
            let mut cursor = Cursor::new(btree, Bound::Unbounded, Bound::Unbounded);
            while let Some((key, raw)) = cursor.next(pager)? {
                let (stamp, _) = decode_stamp(&raw)
                    .map_err(|e| corruption!("tree {id}, key of {} bytes: {e}", key.len()))?;
                if stamp.tombstone {
                    report.tombstones += 1;
                } else {
                    report.keys += 1;
                }
            }
            report.trees += 1;
        }

        let [store, gc] = versions.btrees();
        let stats = store.check(pager)?;
        if stats.keys != versions.entries() {
            return Err(corruption!(
                "version store holds {} entries, expected {}",
                stats.keys,
                versions.entries()
            ));
        }
        report.versions = stats.keys;
        pages += stats.pages;
        let stats = gc.check(pager)?;
        if stats.keys != versions.pending() {
            return Err(corruption!(
                "GC index holds {} entries, expected {}",
                stats.keys,
                versions.pending()
            ));
        }
        pages += stats.pages;
        let mut cursor = Cursor::new(gc, Bound::Unbounded, Bound::Unbounded);
        while let Some((key, _)) = cursor.next(pager)? {
            decode_gc_key(&key)?;
        }

        report.pages = pages;
        report.free_pages = pager.free_pages()?.len() as u64;
        if pages + report.free_pages != pager.page_count() {
            return Err(corruption!(
                "{pages} pages in trees + {} free != {} pages: pages leaked or shared",
                report.free_pages,
                pager.page_count()
            ));
        }
        Ok(report)
    }

    /// Shape and fill of the committed B-tree of `tree` (checked on the
    /// way, so it reads every page): to see how well pages are used.
    pub fn tree_stats(&mut self, tree: TreeId) -> Result<TreeStats> {
        self.healthy()?;
        let btree = self
            .catalog
            .get(tree)
            .ok_or_else(|| crate::invalid!("no tree {tree}"))?
            .btree;
        btree.check(&mut self.pager)
    }

    /// Pages of the database (as of the in-memory state, checkpointed or
    /// not) and how many of them are on the free list, waiting for reuse.
    pub fn page_counts(&self) -> (u64, u64) {
        (self.pager.page_count(), self.pager.free_count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::mvcc::{EngineConfig, TreeKind};
    use crate::store::{MemLogStore, MemPageStore};

    #[test]
    fn reports_contents_and_detects_a_leaked_page() {
        let mut e = Engine::open(
            Box::new(MemPageStore::new(1024).unwrap()),
            Box::new(MemLogStore::new()),
            EngineConfig::default(),
        )
        .unwrap();
        let t = e.begin().unwrap();
        let tree = e.create_tree(t, "t", TreeKind::Table).unwrap();
        for i in 0..300u32 {
            e.put(t, tree, &i.to_be_bytes(), &[1; 50]).unwrap();
        }
        e.commit(t).unwrap();
        let reader = e.begin_read_only().unwrap();
        let t = e.begin().unwrap();
        e.delete(t, tree, &7u32.to_be_bytes()).unwrap();
        e.put(t, tree, &8u32.to_be_bytes(), b"new").unwrap();
        e.commit(t).unwrap();
        let report = e.check_integrity().unwrap();
        assert_eq!(
            (
                report.trees,
                report.keys,
                report.tombstones,
                report.versions
            ),
            (1, 299, 1, 2)
        );
        assert!(report.pages > 3);
        e.commit(reader).unwrap();
        // A page that no tree owns and the free list does not hold.
        e.pager.allocate().unwrap();
        assert!(matches!(e.check_integrity(), Err(Error::Corruption(_))));
    }
}
