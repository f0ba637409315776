//! Streaming, double-ended cursors over a transaction's view of a tree.
//!
//! A cursor merges two ordered sources: the committed main tree resolved at
//! the snapshot (through a B-tree cursor) and the transaction's write set
//! (queried afresh at every step, so writes made while the cursor is open
//! are seen). Where both have a key, the write set wins; a pending delete
//! hides the key.
//!
//! ```text
//!   range:  lower ............................................. upper
//!   yielded: ====front]  ( keys still to come, either end )  [back=====
//!   main B-tree cursor:   peeked[front]            peeked[back]
//!   write set:            range (front, back) queried per step
//! ```
//!
//! Invariants:
//! * Every key yielded by `next` is greater than the previous one, every
//!   key yielded by `prev` smaller, and no key is yielded by both ends:
//!   candidates must lie strictly between `front` and `back`.
//! * A peeked main-tree entry has already been resolved at the snapshot.
//!   The snapshot never changes and later commits only add versions the
//!   snapshot cannot see, so a peeked entry stays valid while the tree
//!   changes underneath (the B-tree cursor re-seeks by itself).
//! * When the B-tree cursor's ends meet, the entry peeked by the other end
//!   is the only main-tree candidate left, so each end may take it over.

use std::ops::Bound;

use super::ops::{open_txn_mut, resolve, target};
use super::versions::VersionStore;
use super::writeset::WriteMap;
use super::Engine;
use crate::btree::{BTree, Cursor};
use crate::error::Result;
use crate::pager::Pager;
use crate::wal::{Timestamp, TreeId, TxnId};

type Pair = (Vec<u8>, Vec<u8>);

/// One end of a cursor.
#[derive(Default)]
struct End {
    /// The last key this end yielded.
    last: Option<Vec<u8>>,
    /// A visible main-tree entry taken from the B-tree cursor, not yet
    /// yielded.
    peeked: Option<Pair>,
    /// The B-tree cursor has nothing more at this end.
    done: bool,
}

impl End {
    /// Records the key just yielded, reusing the buffer.
    fn set_last(&mut self, key: &[u8]) {
        match &mut self.last {
            Some(last) => {
                last.clear();
                last.extend_from_slice(key);
            }
            None => self.last = Some(key.to_vec()),
        }
    }
}

/// A cursor over one tree as one transaction sees it; see
/// [`Engine::cursor`]. It fails with `InvalidInput` once the transaction
/// has ended.
pub struct TxnCursor {
    txn: TxnId,
    tree: TreeId,
    main: Option<Cursor>,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    front: End,
    back: End,
}

fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    b.as_ref().map(Vec::as_slice)
}

impl TxnCursor {
    pub(super) fn new(
        txn: TxnId,
        tree: TreeId,
        main: Option<BTree>,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
    ) -> TxnCursor {
        let main = main.map(|btree| Cursor::new(btree, lower.clone(), upper.clone()));
        TxnCursor {
            txn,
            tree,
            main,
            lower,
            upper,
            front: End::default(),
            back: End::default(),
        }
    }

    /// The next pair in ascending order, or `None` when the ends meet.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self, engine: &mut Engine) -> Result<Option<Pair>> {
        self.step(engine, true)
    }

    /// The next pair in descending order, or `None` when the ends meet.
    pub fn prev(&mut self, engine: &mut Engine) -> Result<Option<Pair>> {
        self.step(engine, false)
    }

    /// Strictly between what both ends have yielded.
    fn open_between(&self, key: &[u8]) -> bool {
        self.front.last.as_deref().is_none_or(|f| key > f)
            && self.back.last.as_deref().is_none_or(|b| key < b)
    }

    fn step(&mut self, engine: &mut Engine, forward: bool) -> Result<Option<Pair>> {
        engine.healthy()?;
        let Engine {
            txns,
            catalog,
            pager,
            versions,
            ..
        } = engine;
        let txn = open_txn_mut(txns, self.txn)?;
        // Writes of this tree made since the last step are put in order, so
        // that finding this end's next own write is a search.
        txn.writes.order(self.tree);
        let txn = &*txn;
        target(catalog, txn, self.tree)?;
        let writes = txn.writes.map(self.tree);
        loop {
            self.refill(pager, versions, txn.snapshot, forward)?;
            let own = writes.and_then(|w| self.own_candidate(w, forward));
            let main_key = self.end(forward).peeked.as_ref().map(|(k, _)| k.as_slice());
            let take_own = match (&own, main_key) {
                (None, None) => return Ok(None),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((k, _)), Some(m)) => {
                    if forward {
                        k.as_slice() <= m
                    } else {
                        k.as_slice() >= m
                    }
                }
            };
            if !take_own {
                let end = self.end_mut(forward);
                let pair = end.peeked.take().expect("main candidate exists");
                end.set_last(&pair.0);
                return Ok(Some(pair));
            }
            let (key, value) = own.expect("own candidate exists");
            let shadowed = main_key == Some(key.as_slice());
            let end = self.end_mut(forward);
            // The write set shadows the main tree's entry for the same key.
            if shadowed {
                end.peeked = None;
            }
            end.set_last(&key);
            if let Some(value) = value {
                return Ok(Some((key, value)));
            }
        }
    }

    /// Makes sure this end holds its next visible main-tree entry, if any.
    fn refill(
        &mut self,
        pager: &mut Pager,
        versions: &mut VersionStore,
        snapshot: Timestamp,
        forward: bool,
    ) -> Result<()> {
        loop {
            let end = self.end(forward);
            if let Some((k, _)) = &end.peeked {
                if self.open_between(k) {
                    return Ok(());
                }
                self.end_mut(forward).peeked = None;
                continue;
            }
            if !end.done {
                let next = match self.main.as_mut() {
                    Some(c) if forward => c.next(pager)?,
                    Some(c) => c.prev(pager)?,
                    None => None,
                };
                match next {
                    Some((k, raw)) => {
                        if let Some(v) = resolve(pager, versions, self.tree, &k, raw, snapshot)? {
                            self.end_mut(forward).peeked = Some((k, v));
                        }
                    }
                    None => self.end_mut(forward).done = true,
                }
                continue;
            }
            // The B-tree cursor's ends met: the other end's entry is the
            // last main-tree candidate.
            if let Some((k, v)) = self.end_mut(!forward).peeked.take() {
                if self.open_between(&k) {
                    self.end_mut(forward).peeked = Some((k, v));
                }
            }
            return Ok(());
        }
    }

    /// This end's next entry of the write set strictly between both ends.
    fn own_candidate(
        &self,
        writes: &WriteMap,
        forward: bool,
    ) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
        let lo = match &self.front.last {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => as_slice(&self.lower),
        };
        let hi = match &self.back.last {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => as_slice(&self.upper),
        };
        let (k, v) = writes.first_in(lo, hi, forward)?;
        Some((k.to_vec(), v.map(<[u8]>::to_vec)))
    }

    fn end(&self, forward: bool) -> &End {
        if forward {
            &self.front
        } else {
            &self.back
        }
    }

    fn end_mut(&mut self, forward: bool) -> &mut End {
        if forward {
            &mut self.front
        } else {
            &mut self.back
        }
    }
}
