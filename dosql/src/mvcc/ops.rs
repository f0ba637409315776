//! Operations inside a transaction: begin, reads, writes, catalog changes
//! and savepoints.
//!
//! Reads merge the transaction's own writes over its snapshot:
//!
//! ```text
//!   get(k):  write set has k?  ── yes ──> its value (or None for a delete)
//!                │ no
//!            main tree value with ts <= snapshot? ── yes ──> it
//!                │ newer (or tombstone newer)
//!            version store: first version overwritten after the snapshot
//! ```
//!
//! Writes only touch the write set; they are checked here (key length,
//! value size, empty values in index trees) so that a commit never fails
//! on bad input after it started changing B-trees.

use std::ops::Bound;

use super::catalog::Catalog;
use super::codec::{decode_stamp, strip_stamp};
use super::cursor::TxnCursor;
use super::txn::Txn;
use super::versions::VersionStore;
use super::writeset::{PendingCreate, WriteSet};
use super::{Engine, MAX_TREE_NAME};
use crate::btree::{BTree, Cursor, TreeKind, MAX_VALUE_LEN};
use crate::error::{Error, Result};
use crate::invalid;
use crate::pager::Pager;
use crate::wal::{Timestamp, TreeId, TxnId};

/// Where a transaction's view of a tree comes from.
#[derive(Clone, Copy)]
pub(super) enum Target {
    /// A committed tree: its B-tree under the snapshot, then the write set.
    Main(BTree),
    /// A tree this transaction created: only the write set.
    Pending,
}

/// Resolves `tree` as transaction `txn` sees it.
pub(super) fn target(catalog: &Catalog, txn: &Txn, tree: TreeId) -> Result<(Target, TreeKind)> {
    if let Some(create) = txn.writes.created_by_id(tree) {
        return Ok((Target::Pending, create.kind));
    }
    if !txn.writes.is_dropped(tree) {
        if let Some(info) = catalog.get(tree).filter(|i| i.visible_at(txn.snapshot)) {
            return Ok((Target::Main(info.btree), info.kind));
        }
    }
    Err(invalid!("unknown tree {tree}"))
}

pub(super) fn open_txn(txns: &rustc_hash::FxHashMap<TxnId, Txn>, txn: TxnId) -> Result<&Txn> {
    txns.get(&txn)
        .ok_or_else(|| invalid!("transaction {txn} is not open"))
}

/// [`open_txn`] for changing the transaction.
pub(super) fn open_txn_mut(
    txns: &mut rustc_hash::FxHashMap<TxnId, Txn>,
    txn: TxnId,
) -> Result<&mut Txn> {
    txns.get_mut(&txn)
        .ok_or_else(|| invalid!("transaction {txn} is not open"))
}

/// What a snapshot sees of a main-tree row, decided while the row is still
/// in its page, so that the caller's closure reads the value in place.
enum Seen<R, K> {
    /// The value is visible: the closure ran and returned `R`.
    Done(R),
    /// A tombstone the snapshot sees: the key is absent.
    Absent,
    /// Written after the snapshot: the version store has what it sees (`K`
    /// carries the key where the caller no longer has it).
    Newer(K),
}

/// Turns a stored main-tree value into what `snapshot` sees of `key`.
pub(super) fn resolve(
    pager: &mut Pager,
    versions: &mut VersionStore,
    tree: TreeId,
    key: &[u8],
    raw: Vec<u8>,
    snapshot: Timestamp,
) -> Result<Option<Vec<u8>>> {
    let (stamp, value) = strip_stamp(raw)?;
    if stamp.ts <= snapshot {
        return Ok(value);
    }
    versions.lookup(pager, tree, key, snapshot)
}

impl Engine {
    /// Starts a read-write transaction at a snapshot of the last commit.
    pub fn begin(&mut self) -> Result<TxnId> {
        self.start(false)
    }

    /// Starts a transaction that may only read; it never conflicts.
    pub fn begin_read_only(&mut self) -> Result<TxnId> {
        self.start(true)
    }

    fn start(&mut self, read_only: bool) -> Result<TxnId> {
        self.healthy()?;
        let id = self.next_txn;
        self.next_txn += 1;
        let snapshot = self.last_ts;
        self.snapshots.add(snapshot);
        let writes = WriteSet::new(self.config.max_txn_bytes);
        self.txns.insert(
            id,
            Txn {
                snapshot,
                read_only,
                writes,
            },
        );
        Ok(id)
    }

    fn writable(&mut self, txn: TxnId) -> Result<&mut Txn> {
        self.healthy()?;
        let t = open_txn_mut(&mut self.txns, txn)?;
        if t.read_only {
            return Err(invalid!("transaction {txn} is read-only"));
        }
        Ok(t)
    }

    fn check_key(&self, key: &[u8]) -> Result<()> {
        if key.len() > self.max_key {
            return Err(Error::LimitExceeded(format!(
                "key of {} bytes exceeds the maximum of {}",
                key.len(),
                self.max_key
            )));
        }
        Ok(())
    }

    /// The tree called `name` as the transaction sees it.
    pub fn tree(&mut self, txn: TxnId, name: &str) -> Result<Option<TreeId>> {
        self.healthy()?;
        let t = open_txn(&self.txns, txn)?;
        if let Some(create) = t.writes.created(name) {
            return Ok(Some(create.id));
        }
        Ok(self
            .catalog
            .lookup(name, t.snapshot)
            .filter(|id| !t.writes.is_dropped(*id)))
    }

    /// Creates a tree, visible to others once the transaction commits.
    pub fn create_tree(&mut self, txn: TxnId, name: &str, kind: TreeKind) -> Result<TreeId> {
        if name.is_empty() || name.len() > MAX_TREE_NAME {
            return Err(invalid!("tree name must have 1 to {MAX_TREE_NAME} bytes"));
        }
        self.writable(txn)?;
        if self.tree(txn, name)?.is_some() {
            return Err(invalid!("tree {name:?} already exists"));
        }
        let id = self.next_tree;
        let t = self.txns.get_mut(&txn).expect("checked open");
        t.writes.create(PendingCreate {
            id,
            name: name.to_owned(),
            kind,
        })?;
        self.next_tree += 1;
        Ok(id)
    }

    /// Drops the tree called `name` and everything in it, at commit.
    pub fn drop_tree(&mut self, txn: TxnId, name: &str) -> Result<()> {
        self.writable(txn)?;
        let id = self
            .tree(txn, name)?
            .ok_or_else(|| invalid!("unknown tree {name:?}"))?;
        self.txns
            .get_mut(&txn)
            .expect("checked open")
            .writes
            .drop_tree(id)
    }

    /// The value of `key` as the transaction sees it.
    pub fn get(&mut self, txn: TxnId, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_with(txn, tree, key, <[u8]>::to_vec)
    }

    /// [`Engine::get`] without the copy: calls `f` with the value as the
    /// transaction sees it (in place in its page unless it overflows or
    /// comes from the version store) and returns what `f` returns; `None`,
    /// without calling `f`, when the key is absent.
    pub fn get_with<R>(
        &mut self,
        txn: TxnId,
        tree: TreeId,
        key: &[u8],
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>> {
        self.healthy()?;
        self.check_key(key)?;
        let Engine {
            txns,
            catalog,
            pager,
            versions,
            ..
        } = self;
        let t = open_txn(txns, txn)?;
        let (target, _) = target(catalog, t, tree)?;
        if let Some(own) = t.writes.get(tree, key) {
            return Ok(own.map(f));
        }
        let Target::Main(btree) = target else {
            return Ok(None);
        };
        let mut f = Some(f);
        let seen = btree.get_with(pager, key, |raw| {
            let (stamp, n) = decode_stamp(raw)?;
            Ok(if stamp.ts > t.snapshot {
                Seen::Newer(())
            } else if stamp.tombstone {
                Seen::Absent
            } else {
                let f = f.take().expect("the closure runs once");
                Seen::Done(f(&raw[n..]))
            })
        })?;
        match seen {
            None | Some(Seen::Absent) => Ok(None),
            Some(Seen::Done(r)) => Ok(Some(r)),
            Some(Seen::Newer(())) => {
                let old = versions.lookup(pager, tree, key, t.snapshot)?;
                Ok(old.map(|v| f.take().expect("not called before")(&v)))
            }
        }
    }

    /// Sets `key` to `value` in the transaction.
    pub fn put(&mut self, txn: TxnId, tree: TreeId, key: &[u8], value: &[u8]) -> Result<()> {
        self.check_key(key)?;
        if value.len() > MAX_VALUE_LEN {
            return Err(Error::LimitExceeded(format!(
                "value of {} bytes exceeds 1 GiB",
                value.len()
            )));
        }
        self.healthy()?;
        // One lookup of the transaction: this is the bulk-load path.
        let Engine { txns, catalog, .. } = self;
        let t = txns
            .get_mut(&txn)
            .ok_or_else(|| invalid!("transaction {txn} is not open"))?;
        if t.read_only {
            return Err(invalid!("transaction {txn} is read-only"));
        }
        let (_, kind) = target(catalog, t, tree)?;
        if kind == TreeKind::Index && !value.is_empty() {
            return Err(invalid!(
                "index tree {tree} takes keys only, got a {}-byte value",
                value.len()
            ));
        }
        t.writes.write(tree, key, Some(value))
    }

    /// Deletes `key` in the transaction; true if the transaction saw it.
    pub fn delete(&mut self, txn: TxnId, tree: TreeId, key: &[u8]) -> Result<bool> {
        self.writable(txn)?;
        let existed = self.get(txn, tree, key)?.is_some();
        self.txns
            .get_mut(&txn)
            .expect("checked open")
            .writes
            .write(tree, key, None)?;
        Ok(existed)
    }

    /// Up to `limit` key/value pairs with keys in the range, ascending, as
    /// the transaction sees them.
    pub fn scan(
        &mut self,
        txn: TxnId,
        tree: TreeId,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::with_capacity(limit.min(1024));
        self.scan_with(txn, tree, lower, upper, limit, |key, value| {
            out.push((key.to_vec(), value.to_vec()));
            Ok(())
        })?;
        Ok(out)
    }

    /// [`Engine::scan`] without the copies: calls `f` with each of up to
    /// `limit` rows, ascending, in place in its page where it can (values
    /// that overflow, come from the version store or from the transaction's
    /// own writes are lent from a buffer). Returns the number of rows
    /// visited; an error from `f` ends the scan with that error.
    pub fn scan_with(
        &mut self,
        txn: TxnId,
        tree: TreeId,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        limit: usize,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<usize> {
        self.healthy()?;
        let Engine {
            txns,
            catalog,
            pager,
            versions,
            ..
        } = self;
        let t = open_txn(txns, txn)?;
        let (target, _) = target(catalog, t, tree)?;
        let mut visited = 0;
        if let (Target::Main(btree), None) = (target, t.writes.map(tree)) {
            // Nothing of the transaction's own to merge: read the tree alone.
            let lower = lower.map(<[u8]>::to_vec);
            let mut cursor = Cursor::new(btree, lower, upper.map(<[u8]>::to_vec));
            while visited < limit {
                let row = cursor.next_with(pager, |key, raw| {
                    let (stamp, n) = decode_stamp(raw)?;
                    if stamp.ts > t.snapshot {
                        return Ok(Seen::Newer(key.to_vec()));
                    }
                    if stamp.tombstone {
                        return Ok(Seen::Absent);
                    }
                    f(key, &raw[n..]).map(Seen::Done)
                })?;
                match row {
                    None => break,
                    Some(Seen::Done(())) => visited += 1,
                    Some(Seen::Absent) => {}
                    Some(Seen::Newer(key)) => {
                        if let Some(value) = versions.lookup(pager, tree, &key, t.snapshot)? {
                            f(&key, &value)?;
                            visited += 1;
                        }
                    }
                }
            }
            return Ok(visited);
        }
        let mut cursor = self.cursor(
            txn,
            tree,
            lower.map(<[u8]>::to_vec),
            upper.map(<[u8]>::to_vec),
        )?;
        while visited < limit {
            match cursor.next(self)? {
                Some((key, value)) => f(&key, &value)?,
                None => break,
            }
            visited += 1;
        }
        Ok(visited)
    }

    /// A streaming, double-ended cursor over the range as the transaction
    /// sees it, including writes the transaction makes while it is open.
    pub fn cursor(
        &mut self,
        txn: TxnId,
        tree: TreeId,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
    ) -> Result<TxnCursor> {
        self.healthy()?;
        let t = open_txn(&self.txns, txn)?;
        let (target, _) = target(&self.catalog, t, tree)?;
        let main = match target {
            Target::Main(btree) => Some(btree),
            Target::Pending => None,
        };
        Ok(TxnCursor::new(txn, tree, main, lower, upper))
    }

    /// Memory the transaction's uncommitted writes use, as charged against
    /// `max_txn_bytes`.
    pub fn txn_bytes(&self, txn: TxnId) -> Result<u64> {
        Ok(open_txn(&self.txns, txn)?.writes.bytes())
    }

    /// Opens a savepoint in the transaction and returns its id.
    pub fn savepoint(&mut self, txn: TxnId) -> Result<u32> {
        self.healthy()?;
        let t = self
            .txns
            .get_mut(&txn)
            .ok_or_else(|| invalid!("transaction {txn} is not open"))?;
        Ok(t.writes.savepoint())
    }

    /// Undoes the transaction's changes since `savepoint`, which stays open.
    pub fn rollback_to(&mut self, txn: TxnId, savepoint: u32) -> Result<()> {
        self.healthy()?;
        let t = self
            .txns
            .get_mut(&txn)
            .ok_or_else(|| invalid!("transaction {txn} is not open"))?;
        t.writes.rollback_to(savepoint)
    }

    /// Closes `savepoint` (and later ones), keeping their changes.
    pub fn release(&mut self, txn: TxnId, savepoint: u32) -> Result<()> {
        self.healthy()?;
        let t = self
            .txns
            .get_mut(&txn)
            .ok_or_else(|| invalid!("transaction {txn} is not open"))?;
        t.writes.release(savepoint)
    }
}
