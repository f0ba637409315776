//! The private, uncommitted changes of one transaction.
//!
//! Uncommitted writes never touch a B-tree: they live here until commit, so
//! other transactions cannot see them and rollback is just dropping the set.
//!
//! ```text
//!   maps:     tree -> ordered map key -> Some(value) | None (delete)
//!   creates:  trees created by this txn (ids allocated, no pages yet)
//!   drops:    committed trees dropped by this txn
//!   undo:     [entry, entry, ... ]      one entry per change while a
//!                 ^mark(sp1)  ^mark(sp2) savepoint is open
//! ```
//!
//! Invariants:
//! * A savepoint is the undo log length when it was taken; `rollback_to`
//!   pops and inverts entries down to that mark. With no savepoint open the
//!   undo log is empty: nothing could ever read it, and bulk loads skip the
//!   copy.
//! * `bytes` is the memory charged to the transaction: every live entry and
//!   every undo entry, each with a fixed overhead. It never exceeds the
//!   limit; a write that would exceed it fails with `LimitExceeded` and
//!   changes nothing.
//! * A tree is in at most one of `creates` and `drops`; writes to a dropped
//!   tree are discarded with it (and restored if the drop is undone).

use rustc_hash::FxHashMap;

use crate::btree::TreeKind;
use crate::error::{Error, Result};
use crate::invalid;
use crate::wal::TreeId;

pub(crate) use super::writemap::{Key, WriteMap};

/// Bookkeeping charged per entry on top of its bytes (map node share, Vec
/// headers), so that many tiny writes are not free.
const ENTRY_OVERHEAD: u64 = 64;

fn entry_bytes(key: &[u8], value: Option<&[u8]>) -> u64 {
    key.len() as u64 + value.map_or(0, |v| v.len() as u64) + ENTRY_OVERHEAD
}

/// Checks a new charge against the transaction's limit.
fn admit(limit: u64, next: u64) -> Result<u64> {
    if next > limit {
        return Err(Error::LimitExceeded(format!(
            "transaction needs {next} bytes, more than max_txn_bytes = {limit}"
        )));
    }
    Ok(next)
}

fn map_bytes(map: &WriteMap) -> u64 {
    map.iter().map(|(k, v)| entry_bytes(k, v)).sum()
}

/// A tree created by an uncommitted transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PendingCreate {
    pub id: TreeId,
    pub name: String,
    pub kind: TreeKind,
}

enum Undo {
    /// Restore the entry of `key` to `prev` (`None`: there was no entry).
    Write {
        tree: TreeId,
        key: Key,
        prev: Option<Option<Key>>,
    },
    /// Forget a tree created after the mark.
    Create { id: TreeId },
    /// Un-drop a committed tree, restoring its discarded writes.
    Drop {
        id: TreeId,
        writes: Option<WriteMap>,
    },
    /// Un-drop a tree this transaction had created.
    DropCreated {
        pos: usize,
        create: PendingCreate,
        writes: Option<WriteMap>,
    },
}

impl Undo {
    fn bytes(&self) -> u64 {
        match self {
            Undo::Write { key, prev, .. } => {
                entry_bytes(key, prev.as_ref().and_then(|p| p.as_deref()))
            }
            Undo::Create { .. } | Undo::Drop { .. } | Undo::DropCreated { .. } => ENTRY_OVERHEAD,
        }
    }
}

/// What a transaction has changed but not committed.
pub(crate) struct WriteSet {
    maps: FxHashMap<TreeId, WriteMap>,
    creates: Vec<PendingCreate>,
    drops: Vec<TreeId>,
    undo: Vec<Undo>,
    /// Open savepoints, oldest first: (id, undo length when taken).
    savepoints: Vec<(u32, usize)>,
    next_savepoint: u32,
    bytes: u64,
    limit: u64,
}

/// The parts a commit consumes.
pub(crate) struct WriteParts {
    pub maps: FxHashMap<TreeId, WriteMap>,
    pub creates: Vec<PendingCreate>,
    pub drops: Vec<TreeId>,
}

impl WriteSet {
    pub fn new(limit: u64) -> Self {
        WriteSet {
            maps: FxHashMap::default(),
            creates: Vec::new(),
            drops: Vec::new(),
            undo: Vec::new(),
            savepoints: Vec::new(),
            next_savepoint: 1,
            bytes: 0,
            limit,
        }
    }

    /// True when committing would change nothing.
    pub fn is_empty(&self) -> bool {
        self.creates.is_empty() && self.drops.is_empty() && self.maps.values().all(|m| m.is_empty())
    }

    /// Memory charged to the transaction.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The pending write of `key`: `Some(None)` is a pending delete.
    pub fn get(&self, tree: TreeId, key: &[u8]) -> Option<Option<&[u8]>> {
        self.maps.get(&tree)?.get(key).map(|v| v.as_deref())
    }

    /// Puts the writes of `tree` in order for ordered reads
    /// ([`WriteMap::order`]).
    pub fn order(&mut self, tree: TreeId) {
        if let Some(map) = self.maps.get_mut(&tree) {
            map.order();
        }
    }

    pub fn map(&self, tree: TreeId) -> Option<&WriteMap> {
        self.maps.get(&tree).filter(|m| !m.is_empty())
    }

    /// Trees with pending writes, to validate at commit.
    pub fn written_trees(&self) -> impl Iterator<Item = (TreeId, &WriteMap)> + '_ {
        self.maps
            .iter()
            .filter(|(_, m)| !m.is_empty())
            .map(|(t, m)| (*t, m))
    }

    fn charge(&mut self, add: u64) -> Result<()> {
        self.bytes = admit(self.limit, self.bytes + add)?;
        Ok(())
    }

    /// Records a put (`Some`) or delete (`None`) of `key`.
    pub fn write(&mut self, tree: TreeId, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let logging = !self.savepoints.is_empty();
        let map = self.maps.entry(tree).or_default();
        // Write first and undo on refusal: one search on the common path.
        let prev = map.insert(key, value.map(Key::new));
        let old = prev.as_ref().map_or(0, |p| entry_bytes(key, p.as_deref()));
        let undo = match (&prev, logging) {
            (_, false) => 0,
            (Some(p), true) => entry_bytes(key, p.as_deref()),
            (None, true) => entry_bytes(key, None),
        };
        match admit(
            self.limit,
            self.bytes + entry_bytes(key, value) + undo - old,
        ) {
            Ok(next) => {
                self.bytes = next;
                if logging {
                    self.undo.push(Undo::Write {
                        tree,
                        key: Key::new(key),
                        prev,
                    });
                }
                Ok(())
            }
            Err(e) => {
                match prev {
                    Some(p) => map.insert(key, p),
                    None => map.remove(key),
                };
                Err(e)
            }
        }
    }

    /// The tree of this name created by the transaction, if any.
    pub fn created(&self, name: &str) -> Option<&PendingCreate> {
        self.creates.iter().find(|c| c.name == name)
    }

    pub fn created_by_id(&self, id: TreeId) -> Option<&PendingCreate> {
        self.creates.iter().find(|c| c.id == id)
    }

    /// Trees created and committed trees dropped, for validation.
    pub fn pending_catalog(&self) -> (&[PendingCreate], &[TreeId]) {
        (&self.creates, &self.drops)
    }

    /// True when the transaction dropped the committed tree `id`.
    pub fn is_dropped(&self, id: TreeId) -> bool {
        self.drops.contains(&id)
    }

    pub fn create(&mut self, create: PendingCreate) -> Result<()> {
        self.charge(ENTRY_OVERHEAD + create.name.len() as u64)?;
        if !self.savepoints.is_empty() {
            self.charge(ENTRY_OVERHEAD)?;
            self.undo.push(Undo::Create { id: create.id });
        }
        self.creates.push(create);
        Ok(())
    }

    /// Drops tree `id`: forgets it if this transaction created it, else
    /// records the drop of a committed tree. Its pending writes go too.
    pub fn drop_tree(&mut self, id: TreeId) -> Result<()> {
        let logging = !self.savepoints.is_empty();
        if logging {
            self.charge(ENTRY_OVERHEAD)?;
        }
        let writes = self.maps.remove(&id);
        let freed = writes.as_ref().map_or(0, map_bytes);
        // Kept writes stay charged while an undo entry holds them.
        if !logging {
            self.bytes -= freed;
        }
        if let Some(pos) = self.creates.iter().position(|c| c.id == id) {
            let create = self.creates.remove(pos);
            if logging {
                self.undo.push(Undo::DropCreated {
                    pos,
                    create,
                    writes,
                });
            } else {
                self.bytes -= ENTRY_OVERHEAD + create.name.len() as u64;
            }
        } else {
            self.drops.push(id);
            if logging {
                self.undo.push(Undo::Drop { id, writes });
            }
        }
        Ok(())
    }

    /// Opens a savepoint and returns its id.
    pub fn savepoint(&mut self) -> u32 {
        let id = self.next_savepoint;
        self.next_savepoint += 1;
        self.savepoints.push((id, self.undo.len()));
        id
    }

    fn position(&self, id: u32) -> Result<usize> {
        self.savepoints
            .iter()
            .position(|(sp, _)| *sp == id)
            .ok_or_else(|| invalid!("no open savepoint {id}"))
    }

    /// Undoes every change made since savepoint `id`, which stays open;
    /// savepoints taken after it are closed.
    pub fn rollback_to(&mut self, id: u32) -> Result<()> {
        let pos = self.position(id)?;
        let mark = self.savepoints[pos].1;
        self.savepoints.truncate(pos + 1);
        while self.undo.len() > mark {
            let undo = self.undo.pop().expect("undo log longer than mark");
            self.bytes -= undo.bytes();
            self.invert(undo);
        }
        Ok(())
    }

    /// Closes savepoint `id` and every later one, keeping their changes.
    pub fn release(&mut self, id: u32) -> Result<()> {
        let pos = self.position(id)?;
        self.savepoints.truncate(pos);
        if self.savepoints.is_empty() {
            // No mark can reach these entries any more.
            for undo in self.undo.drain(..) {
                self.bytes -= undo.bytes();
                match undo {
                    Undo::Drop {
                        writes: Some(w), ..
                    }
                    | Undo::DropCreated {
                        writes: Some(w), ..
                    } => {
                        self.bytes -= map_bytes(&w);
                    }
                    Undo::DropCreated { create, .. } => {
                        self.bytes -= ENTRY_OVERHEAD + create.name.len() as u64;
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn invert(&mut self, undo: Undo) {
        match undo {
            Undo::Write { tree, key, prev } => {
                let map = self.maps.entry(tree).or_default();
                let restored = prev.as_ref().map_or(0, |p| entry_bytes(&key, p.as_deref()));
                let current = match prev {
                    Some(prev) => map.insert(&key, prev),
                    None => map.remove(&key),
                }
                .expect("an undone write has an entry");
                self.bytes = self.bytes - entry_bytes(&key, current.as_deref()) + restored;
            }
            Undo::Create { id } => {
                let pos = self
                    .creates
                    .iter()
                    .position(|c| c.id == id)
                    .expect("undone create exists");
                let create = self.creates.remove(pos);
                self.bytes -= ENTRY_OVERHEAD + create.name.len() as u64;
                // Writes made after the create were undone before it.
                let writes = self.maps.remove(&id);
                debug_assert!(writes.is_none_or(|w| w.is_empty()));
            }
            Undo::Drop { id, writes } => {
                let pos = self
                    .drops
                    .iter()
                    .position(|d| *d == id)
                    .expect("undone drop exists");
                self.drops.remove(pos);
                if let Some(w) = writes {
                    self.maps.insert(id, w);
                }
            }
            Undo::DropCreated {
                pos,
                create,
                writes,
            } => {
                let id = create.id;
                self.creates.insert(pos, create);
                if let Some(w) = writes {
                    self.maps.insert(id, w);
                }
            }
        }
    }

    /// Consumes the set for commit.
    pub fn into_parts(self) -> WriteParts {
        WriteParts {
            maps: self.maps,
            creates: self.creates,
            drops: self.drops,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(ws: &WriteSet, tree: TreeId) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let mut all: Vec<_> = ws
            .map(tree)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        all.sort();
        all
    }

    /// The charge recomputed from scratch, to check the incremental one.
    fn recount(ws: &WriteSet) -> u64 {
        let live: u64 = ws.maps.values().map(map_bytes).sum();
        let creates: u64 = ws
            .creates
            .iter()
            .map(|c| ENTRY_OVERHEAD + c.name.len() as u64)
            .sum();
        let undo: u64 = ws
            .undo
            .iter()
            .map(|u| {
                u.bytes()
                    + match u {
                        Undo::Drop {
                            writes: Some(w), ..
                        } => map_bytes(w),
                        Undo::DropCreated { writes, create, .. } => {
                            writes.as_ref().map_or(0, map_bytes)
                                + ENTRY_OVERHEAD
                                + create.name.len() as u64
                        }
                        _ => 0,
                    }
            })
            .sum();
        live + creates + undo
    }

    #[test]
    fn writes_overwrite_and_delete() {
        let mut ws = WriteSet::new(u64::MAX);
        assert!(ws.is_empty());
        ws.write(1, b"a", Some(b"1")).unwrap();
        ws.write(1, b"a", Some(b"2")).unwrap();
        ws.write(1, b"b", None).unwrap();
        assert_eq!(ws.get(1, b"a"), Some(Some(&b"2"[..])));
        assert_eq!(ws.get(1, b"b"), Some(None));
        assert_eq!(ws.get(1, b"c"), None);
        assert_eq!(ws.get(2, b"a"), None);
        assert!(!ws.is_empty());
        assert_eq!(ws.bytes(), recount(&ws));
    }

    #[test]
    fn rollback_to_restores_entries_and_keeps_the_savepoint() {
        let mut ws = WriteSet::new(u64::MAX);
        ws.write(1, b"a", Some(b"1")).unwrap();
        let before = entries(&ws, 1);
        let sp = ws.savepoint();
        ws.write(1, b"a", Some(b"2")).unwrap();
        ws.write(1, b"b", Some(b"3")).unwrap();
        ws.write(1, b"a", None).unwrap();
        let inner = ws.savepoint();
        ws.write(1, b"c", Some(b"4")).unwrap();
        assert_eq!(ws.bytes(), recount(&ws));
        ws.rollback_to(sp).unwrap();
        assert_eq!(entries(&ws, 1), before);
        assert_eq!(ws.bytes(), recount(&ws));
        assert!(
            ws.rollback_to(inner).is_err(),
            "later savepoints are closed"
        );
        ws.write(1, b"z", Some(b"9")).unwrap();
        ws.rollback_to(sp).unwrap();
        assert_eq!(entries(&ws, 1), before, "the savepoint stays usable");
        ws.release(sp).unwrap();
        assert!(ws.rollback_to(sp).is_err());
        assert!(ws.undo.is_empty());
        assert_eq!(ws.bytes(), recount(&ws));
    }

    #[test]
    fn release_keeps_changes_of_nested_savepoints() {
        let mut ws = WriteSet::new(u64::MAX);
        let outer = ws.savepoint();
        ws.write(1, b"a", Some(b"1")).unwrap();
        let inner = ws.savepoint();
        ws.write(1, b"b", Some(b"2")).unwrap();
        ws.release(inner).unwrap();
        assert_eq!(entries(&ws, 1).len(), 2);
        ws.rollback_to(outer).unwrap();
        assert!(
            entries(&ws, 1).is_empty(),
            "released changes still undo with the outer one"
        );
        assert!(ws.release(99).is_err());
    }

    #[test]
    fn creates_and_drops_undo() {
        let mut ws = WriteSet::new(u64::MAX);
        let t = PendingCreate {
            id: 10,
            name: "t".into(),
            kind: TreeKind::Table,
        };
        ws.create(t.clone()).unwrap();
        ws.write(10, b"k", Some(b"v")).unwrap();
        ws.write(3, b"k", Some(b"v")).unwrap();
        let sp = ws.savepoint();
        ws.drop_tree(10).unwrap();
        ws.drop_tree(3).unwrap();
        assert!(ws.created("t").is_none());
        assert!(ws.is_dropped(3));
        assert!(ws.map(3).is_none());
        let u = PendingCreate {
            id: 11,
            name: "t".into(),
            kind: TreeKind::Index,
        };
        ws.create(u).unwrap();
        ws.write(11, b"x", Some(b"")).unwrap();
        assert_eq!(ws.bytes(), recount(&ws));
        ws.rollback_to(sp).unwrap();
        assert_eq!(ws.created("t"), Some(&t));
        assert!(ws.created_by_id(11).is_none());
        assert!(ws.map(11).is_none());
        assert!(!ws.is_dropped(3));
        assert_eq!(entries(&ws, 10), vec![(b"k".to_vec(), Some(b"v".to_vec()))]);
        assert_eq!(entries(&ws, 3), vec![(b"k".to_vec(), Some(b"v".to_vec()))]);
        assert_eq!(ws.bytes(), recount(&ws));
        ws.release(sp).unwrap();
        ws.drop_tree(10).unwrap();
        assert_eq!(ws.bytes(), recount(&ws));
        let parts = ws.into_parts();
        assert!(parts.creates.is_empty());
        assert!(parts.drops.is_empty());
        assert_eq!(parts.maps.len(), 1);
    }

    #[test]
    fn limit_rejects_without_changing_anything() {
        let mut ws = WriteSet::new(200);
        ws.write(1, b"a", Some(&[0; 50])).unwrap();
        let used = ws.bytes();
        let err = ws.write(1, b"b", Some(&[0; 100])).unwrap_err();
        assert!(matches!(err, Error::LimitExceeded(_)));
        let err = ws.write(1, b"a", Some(&[0; 150])).unwrap_err();
        assert!(matches!(err, Error::LimitExceeded(_)));
        assert_eq!(ws.bytes(), used);
        assert_eq!(ws.get(1, b"a"), Some(Some(&[0u8; 50][..])));
        assert_eq!(ws.get(1, b"b"), None);
        // Shrinking an entry is always allowed.
        ws.write(1, b"a", Some(b"x")).unwrap();
        assert!(ws.bytes() < used);
    }
}
