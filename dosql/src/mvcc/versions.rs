//! The version store: committed versions that open snapshots may still need.
//!
//! The main B-tree of a user tree holds only the newest committed version
//! of each key. When a commit overwrites or deletes a version while other
//! snapshots are open, the old main-tree value is copied here, keyed by the
//! commit that overwrote it:
//!
//! ```text
//!   key k:  v1 (ts 3) --overwritten at 7--> v2 (ts 7) --deleted at 9--> tombstone (ts 9)
//!
//!   main tree:      k -> [ts 9, tombstone]
//!   version store:  (t, k, 7) -> [ts 3] v1
//!                   (t, k, 9) -> [ts 7] v2
//!   GC index:       (7, t, k, VERSION)  (9, t, k, VERSION|TOMBSTONE)
//!
//!   a reader at snapshot s sees the main value if its ts <= s; otherwise
//!   the first version overwritten after s, if that version's ts <= s:
//!     s = 5 -> (t,k,7): v1     s = 8 -> (t,k,9): v2     s = 2 -> (t,k,7) has ts 3 > 2: absent
//! ```
//!
//! Invariants:
//! * For every open snapshot `s` and key `k`, the version visible at `s` is
//!   the main value if its ts <= s, else the version stored under the
//!   smallest overwriting ts > s if its own ts <= s, else none. This holds
//!   because a commit saves the version it overwrites whenever any other
//!   snapshot is open (all of which are older than the commit).
//! * Deletes become tombstones in the main tree while other snapshots are
//!   open, so a key absent from the main tree is absent for every snapshot:
//!   scans read only the main tree, and a write-write conflict is always
//!   visible as a main-tree stamp newer than the writer's snapshot.
//! * Every version and every tombstone has one GC index entry, keyed by
//!   the overwriting ts first. Once no open snapshot is older than that ts,
//!   GC deletes the version and purges the tombstone if it is still the
//!   main value. Both stores live in the pager, so old versions cost cache
//!   pages, not unbounded memory.
//! * Nothing here survives a restart: no snapshot does. Open purges every
//!   tombstone the GC index names and empties both trees.

use std::ops::Bound;

use super::catalog::Catalog;
use super::codec::{
    decode_gc_key, gc_key, strip_stamp, version_key, version_key_ts, version_prefix, GC_TOMBSTONE,
    GC_VERSION,
};
use crate::btree::{BTree, Cursor, TreeKind};
use crate::corruption;
use crate::error::Result;
use crate::pager::Pager;
use crate::store::PageId;
use crate::wal::{Timestamp, TreeId};

pub(crate) struct VersionStore {
    versions: BTree,
    gc: BTree,
    /// Entries in `versions`: zero lets readers skip lookups entirely.
    entries: u64,
    /// Entries in `gc`: zero lets commits skip garbage collection.
    pending: u64,
    /// A lower bound of the smallest ts in `gc` (0: unknown), so that GC
    /// skips the index while the oldest snapshot is older than all of it.
    first_due: Timestamp,
    buf: Vec<u8>,
}

impl VersionStore {
    pub fn create(pager: &mut Pager) -> Result<VersionStore> {
        Ok(VersionStore {
            versions: BTree::create(pager, TreeKind::Table)?,
            gc: BTree::create(pager, TreeKind::Index)?,
            entries: 0,
            pending: 0,
            first_due: 0,
            buf: Vec::new(),
        })
    }

    /// Opens the stores left by the last checkpoint, purges every tombstone
    /// they name from the (already loaded) catalog's trees and empties them.
    pub fn recover(
        pager: &mut Pager,
        catalog: &Catalog,
        versions_root: PageId,
        gc_root: PageId,
    ) -> Result<VersionStore> {
        let versions = BTree::open(pager, versions_root)?;
        let gc = BTree::open(pager, gc_root)?;
        let mut store = VersionStore {
            versions,
            gc,
            entries: 0,
            pending: u64::MAX,
            first_due: 0,
            buf: Vec::new(),
        };
        store.collect(pager, catalog, None, u64::MAX)?;
        store.pending = 0;
        let mut leftover = Cursor::new(store.versions, Bound::Unbounded, Bound::Unbounded);
        if leftover.next(pager)?.is_some() {
            // Versions without a GC entry cannot be reached by GC; start over.
            store.versions.destroy(pager)?;
            store.versions = BTree::create(pager, TreeKind::Table)?;
        }
        Ok(store)
    }

    /// Roots of the version store and of the GC index, for the meta.
    pub fn roots(&self) -> (PageId, PageId) {
        (self.versions.root(), self.gc.root())
    }

    pub fn btrees(&self) -> [BTree; 2] {
        [self.versions, self.gc]
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Saves the main-tree value `old` of `(tree, key)`, overwritten at
    /// `ts`; `tombstone` tells whether the overwrite left a tombstone.
    pub fn save(
        &mut self,
        pager: &mut Pager,
        tree: TreeId,
        key: &[u8],
        ts: Timestamp,
        old: &[u8],
        tombstone: bool,
    ) -> Result<()> {
        version_key(&mut self.buf, tree, key, ts);
        if self.versions.insert(pager, &self.buf, old)?.is_some() {
            panic!("two commits share timestamp {ts}");
        }
        self.entries += 1;
        let flags = GC_VERSION | if tombstone { GC_TOMBSTONE } else { 0 };
        self.index(pager, tree, key, ts, flags)
    }

    /// Records a tombstone written at `ts` over no live version.
    pub fn mark_tombstone(
        &mut self,
        pager: &mut Pager,
        tree: TreeId,
        key: &[u8],
        ts: Timestamp,
    ) -> Result<()> {
        self.index(pager, tree, key, ts, GC_TOMBSTONE)
    }

    fn index(
        &mut self,
        pager: &mut Pager,
        tree: TreeId,
        key: &[u8],
        ts: Timestamp,
        flags: u8,
    ) -> Result<()> {
        gc_key(&mut self.buf, ts, tree, flags, key);
        self.gc.insert(pager, &self.buf, &[])?;
        if self.pending == 0 {
            // Later entries come from later commits: this one is the oldest.
            self.first_due = ts;
        }
        self.pending += 1;
        Ok(())
    }

    /// The value of `(tree, key)` at `snapshot`, for a key whose main value
    /// is newer than the snapshot: `None` if the key did not exist then.
    pub fn lookup(
        &mut self,
        pager: &mut Pager,
        tree: TreeId,
        key: &[u8],
        snapshot: Timestamp,
    ) -> Result<Option<Vec<u8>>> {
        if self.entries == 0 {
            return Ok(None);
        }
        version_prefix(&mut self.buf, tree, key);
        let prefix_len = self.buf.len();
        let mut lower = self.buf.clone();
        lower.extend_from_slice(&(snapshot + 1).to_be_bytes());
        let mut upper = self.buf.clone();
        upper.extend_from_slice(&u64::MAX.to_be_bytes());
        let mut cursor = Cursor::new(
            self.versions,
            Bound::Included(lower),
            Bound::Included(upper),
        );
        let Some((stored, raw)) = cursor.next(pager)? else {
            return Ok(None);
        };
        if version_key_ts(&self.buf[..prefix_len], &stored)?.is_none() {
            return Err(corruption!(
                "version store key of {} bytes outside its prefix",
                stored.len()
            ));
        }
        let (stamp, value) = strip_stamp(raw)?;
        Ok(if stamp.ts <= snapshot { value } else { None })
    }

    /// Garbage-collects up to `budget` GC entries whose ts is at or below
    /// `horizon` (`None`: every entry), oldest first. Returns how many were
    /// processed.
    pub fn collect(
        &mut self,
        pager: &mut Pager,
        catalog: &Catalog,
        horizon: Option<Timestamp>,
        budget: u64,
    ) -> Result<u64> {
        if self.pending == 0 || horizon.is_some_and(|h| h < self.first_due) {
            return Ok(0);
        }
        let mut done = 0;
        let mut cursor = Cursor::new(self.gc, Bound::Unbounded, Bound::Unbounded);
        while done < budget {
            let Some((raw, _)) = cursor.next(pager)? else {
                break;
            };
            let entry = decode_gc_key(&raw)?;
            if horizon.is_some_and(|h| entry.ts > h) {
                self.first_due = entry.ts;
                break;
            }
            if entry.flags & GC_VERSION != 0 {
                version_key(&mut self.buf, entry.tree, entry.key, entry.ts);
                if self.versions.delete(pager, &self.buf)?.is_some() {
                    self.entries = self.entries.saturating_sub(1);
                }
            }
            if entry.flags & GC_TOMBSTONE != 0 {
                // A dropped and destroyed tree has nothing left to purge.
                if let Some(info) = catalog.get(entry.tree) {
                    if let Some(main) = info.btree.get(pager, entry.key)? {
                        let (stamp, _) = strip_stamp(main)?;
                        if stamp.tombstone && stamp.ts == entry.ts {
                            info.btree.delete(pager, entry.key)?;
                        }
                    }
                }
            }
            self.gc.delete(pager, &raw)?;
            self.pending -= 1;
            done += 1;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mvcc::codec::encode_main;
    use crate::pager::PagerConfig;
    use crate::store::MemPageStore;

    fn setup() -> (Pager, Catalog, VersionStore, BTree) {
        let store = MemPageStore::new(1024).unwrap();
        let mut p = Pager::open(
            Box::new(store),
            PagerConfig {
                cache_bytes: 1 << 20,
            },
        )
        .unwrap();
        let mut c = Catalog::create(&mut p).unwrap();
        let t = BTree::create(&mut p, TreeKind::Table).unwrap();
        c.add(&mut p, 1, "t", TreeKind::Table, t, 0).unwrap();
        let v = VersionStore::create(&mut p).unwrap();
        (p, c, v, t)
    }

    fn main_value(ts: Timestamp, value: Option<&[u8]>) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_main(&mut buf, ts, value);
        buf
    }

    #[test]
    fn lookup_finds_the_version_of_each_snapshot() {
        let (mut p, _c, mut v, _t) = setup();
        // k: "v1" from ts 3, overwritten at 7 by "v2", deleted at 9.
        v.save(&mut p, 1, b"k", 7, &main_value(3, Some(b"v1")), false)
            .unwrap();
        v.save(&mut p, 1, b"k", 9, &main_value(7, Some(b"v2")), true)
            .unwrap();
        // A key that is a prefix-extension of "k" must not interfere.
        v.save(
            &mut p,
            1,
            b"k\x00",
            8,
            &main_value(1, Some(b"other")),
            false,
        )
        .unwrap();
        let at = |v: &mut VersionStore, p: &mut Pager, s| v.lookup(p, 1, b"k", s).unwrap();
        assert_eq!(at(&mut v, &mut p, 2), None, "before the key existed");
        assert_eq!(at(&mut v, &mut p, 3).as_deref(), Some(&b"v1"[..]));
        assert_eq!(at(&mut v, &mut p, 6).as_deref(), Some(&b"v1"[..]));
        assert_eq!(at(&mut v, &mut p, 7).as_deref(), Some(&b"v2"[..]));
        assert_eq!(at(&mut v, &mut p, 8).as_deref(), Some(&b"v2"[..]));
        assert_eq!(
            at(&mut v, &mut p, 9),
            None,
            "no version overwritten after 9"
        );
        assert_eq!(v.lookup(&mut p, 2, b"k", 5).unwrap(), None, "other tree");
        assert_eq!((v.entries(), v.pending()), (3, 3));
    }

    #[test]
    fn collect_honours_the_horizon_and_purges_tombstones() {
        let (mut p, c, mut v, t) = setup();
        t.insert(&mut p, b"gone", &main_value(9, None)).unwrap();
        t.insert(&mut p, b"back", &main_value(12, Some(b"again")))
            .unwrap();
        v.save(&mut p, 1, b"gone", 9, &main_value(3, Some(b"old")), true)
            .unwrap();
        // "back" was deleted at 10 and re-put at 12: its tombstone is gone.
        v.mark_tombstone(&mut p, 1, b"back", 10).unwrap();
        v.save(&mut p, 1, b"x", 11, &main_value(2, Some(b"x")), false)
            .unwrap();
        assert_eq!(v.collect(&mut p, &c, Some(8), u64::MAX).unwrap(), 0);
        assert_eq!(
            v.collect(&mut p, &c, Some(10), 1).unwrap(),
            1,
            "budget respected"
        );
        assert_eq!(t.get(&mut p, b"gone").unwrap(), None, "tombstone purged");
        assert_eq!(v.collect(&mut p, &c, Some(10), u64::MAX).unwrap(), 1);
        assert!(
            t.get(&mut p, b"back").unwrap().is_some(),
            "a newer value stays"
        );
        assert_eq!((v.entries(), v.pending()), (1, 1));
        assert_eq!(v.collect(&mut p, &c, None, u64::MAX).unwrap(), 1);
        assert_eq!((v.entries(), v.pending()), (0, 0));
        let [store, gc] = v.btrees();
        assert_eq!(store.check(&mut p).unwrap().keys, 0);
        assert_eq!(gc.check(&mut p).unwrap().keys, 0);
    }

    #[test]
    fn recover_purges_and_empties_everything() {
        let (mut p, c, mut v, t) = setup();
        t.insert(&mut p, b"gone", &main_value(4, None)).unwrap();
        v.save(&mut p, 1, b"gone", 4, &main_value(1, Some(b"old")), true)
            .unwrap();
        v.save(&mut p, 1, b"kept", 5, &main_value(1, Some(b"old")), false)
            .unwrap();
        let (vr, gr) = v.roots();
        let v = VersionStore::recover(&mut p, &c, vr, gr).unwrap();
        assert_eq!((v.entries(), v.pending()), (0, 0));
        assert_eq!(t.get(&mut p, b"gone").unwrap(), None);
        let [store, gc] = v.btrees();
        assert_eq!(store.check(&mut p).unwrap().keys, 0);
        assert_eq!(gc.check(&mut p).unwrap().keys, 0);
    }
}
