//! Double-ended cursors over a key range, robust to concurrent changes.
//!
//! A cursor's state is two *logical* bounds that shrink toward each other:
//!
//! ```text
//!   lower ......[front ->   remaining keys   <- back]...... upper
//!   next() returns the first key past `front`, then front = Excluded(key)
//!   prev() returns the last key before `back`,  then back  = Excluded(key)
//! ```
//!
//! so `next` never passes `back` and `prev` never passes `front`: when the
//! ends meet both return `None`. Because the bounds are keys, not page
//! positions, the cursor stays correct whatever happens to the tree
//! between calls (splits, merges, other trees' changes, checkpoints).
//!
//! For speed each end also caches a *physical* position (the path from the
//! root to the cell it returned last, and a handle on that leaf), tagged
//! with the pager's modification count. While no page has changed, a step
//! is a move within the leaf (no cache lookup) or to the neighbouring leaf
//! along the cached path; after any change the end re-seeks from the root
//! using its logical bound. The leaf handle pins that one page in the
//! cache while the cursor lives.
//!
//! [`Cursor::next_with`] lends the entry to a closure instead of copying it
//! out, so a caller that keeps only part of a value copies only that.

use std::ops::Bound;

use super::{overflow, BTree, MAX_DEPTH};
use crate::corruption;
use crate::error::Result;
use crate::pager::{PageRef, Pager};
use crate::store::PageId;

/// A double-ended iterator over the keys of a [`BTree`] within a range.
pub struct Cursor {
    tree: BTree,
    lower: Bound<Vec<u8>>,
    front: Bound<Vec<u8>>,
    back: Bound<Vec<u8>>,
    front_pos: Position,
    back_pos: Position,
    /// Values that spill to overflow pages are assembled here.
    scratch: Vec<u8>,
}

/// Scratch capacity kept after a large value was assembled.
const KEEP_SCRATCH: usize = 64 << 10;

/// A cached physical position; meaningful only while `stamp` equals the
/// pager's modification count.
#[derive(Default)]
struct Position {
    stamp: Option<u64>,
    /// Interior pages from the root, with the child index taken.
    path: Vec<(PageId, usize)>,
    leaf: PageId,
    /// The page of `leaf`, while `stamp` holds.
    page: Option<PageRef>,
    idx: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Forward,
    Backward,
}

impl Cursor {
    /// A cursor over the keys of `tree` within `(lower, upper)`.
    pub fn new(tree: BTree, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> Cursor {
        Cursor {
            tree,
            front: lower.clone(),
            lower,
            back: upper,
            front_pos: Position::default(),
            back_pos: Position::default(),
            scratch: Vec::new(),
        }
    }

    /// The next entry in ascending order, or `None` when the ends meet.
    pub fn next(&mut self, pager: &mut Pager) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.step(pager, Dir::Forward, |k, v| Ok((k.to_vec(), v.to_vec())))
    }

    /// The next entry in descending order, or `None` when the ends meet.
    pub fn prev(&mut self, pager: &mut Pager) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.step(pager, Dir::Backward, |k, v| Ok((k.to_vec(), v.to_vec())))
    }

    /// Like [`Cursor::next`], but calls `f` with the key and the whole value
    /// (empty in an index tree) in place and returns what it returns. When
    /// `f` fails the cursor does not move.
    pub fn next_with<T>(
        &mut self,
        pager: &mut Pager,
        f: impl FnOnce(&[u8], &[u8]) -> Result<T>,
    ) -> Result<Option<T>> {
        self.step(pager, Dir::Forward, f)
    }

    /// Repositions the front end: the next [`Cursor::next`] returns the
    /// first key `>= key` that is still within the range and before the
    /// back end. A `key` below the range restarts at its lower end; a `key`
    /// past the back end leaves both ends exhausted until the next seek.
    pub fn seek(&mut self, key: &[u8]) {
        let within = match &self.lower {
            Bound::Unbounded => true,
            Bound::Included(l) => key >= l.as_slice(),
            Bound::Excluded(l) => key > l.as_slice(),
        };
        self.front = if within {
            Bound::Included(key.to_vec())
        } else {
            self.lower.clone()
        };
        self.front_pos.stamp = None;
    }

    /// The leaf holding the key `next` returned last.
    #[cfg(test)]
    pub(super) fn front_leaf(&self) -> PageId {
        self.front_pos.leaf
    }

    fn step<T>(
        &mut self,
        pager: &mut Pager,
        dir: Dir,
        f: impl FnOnce(&[u8], &[u8]) -> Result<T>,
    ) -> Result<Option<T>> {
        let stamp = pager.modification_count();
        let tree = self.tree;
        let scratch = &mut self.scratch;
        let (pos, from, limit) = match dir {
            Dir::Forward => (&mut self.front_pos, &mut self.front, &self.back),
            Dir::Backward => (&mut self.back_pos, &mut self.back, &self.front),
        };
        let found = if pos.stamp == Some(stamp) {
            advance(&tree, pager, pos, dir)?
        } else {
            seek(&tree, pager, pos, from, dir)?
        };
        pos.stamp = None;
        pos.page = None;
        let Some(page) = found else { return Ok(None) };
        let p = page.borrow();
        let node = tree.node(pos.leaf, &p)?;
        let key = node.key(pos.idx)?;
        let inside = match (dir, limit) {
            (_, Bound::Unbounded) => true,
            (Dir::Forward, Bound::Included(b)) => key <= b.as_slice(),
            (Dir::Forward, Bound::Excluded(b)) => key < b.as_slice(),
            (Dir::Backward, Bound::Included(b)) => key >= b.as_slice(),
            (Dir::Backward, Bound::Excluded(b)) => key > b.as_slice(),
        };
        if !inside {
            return Ok(None);
        }
        let out = if tree.is_table() {
            let cell = node.leaf_cell(pos.idx)?;
            if cell.overflow == 0 {
                f(key, cell.local)?
            } else {
                scratch.clear();
                scratch.extend_from_slice(cell.local);
                let rest = cell.value_len - cell.local.len();
                overflow::read_chain(pager, cell.overflow, rest, scratch)?;
                let out = f(key, scratch)?;
                if scratch.capacity() > KEEP_SCRATCH {
                    *scratch = Vec::new();
                }
                out
            }
        } else {
            f(key, &[])?
        };
        let mut last = match std::mem::replace(from, Bound::Unbounded) {
            Bound::Included(v) | Bound::Excluded(v) => v,
            Bound::Unbounded => Vec::new(),
        };
        last.clear();
        last.extend_from_slice(key);
        *from = Bound::Excluded(last);
        pos.stamp = Some(stamp);
        drop(p);
        pos.page = Some(page);
        Ok(Some(out))
    }
}

/// Positions `pos` on the first key past `from` in direction `dir` and
/// returns its leaf; `None` when there is no such key.
fn seek(
    tree: &BTree,
    pager: &mut Pager,
    pos: &mut Position,
    from: &Bound<Vec<u8>>,
    dir: Dir,
) -> Result<Option<PageRef>> {
    pos.path.clear();
    let mut id = tree.root;
    loop {
        if pos.path.len() == MAX_DEPTH {
            return Err(corruption!("{tree} is deeper than {MAX_DEPTH} levels"));
        }
        let page = tree.load(pager, id)?;
        let p = page.borrow();
        if let Bound::Included(k) = from {
            if let Some((c, child)) = tree.route(&page, id, &p, k)? {
                pos.path.push((id, c));
                id = child;
                continue;
            }
        }
        let node = tree.node(id, &p)?;
        if node.is_leaf() {
            // `at`: number of cells before the first candidate going forward.
            let at = match from {
                Bound::Unbounded if dir == Dir::Forward => 0,
                Bound::Unbounded => node.count,
                Bound::Included(k) => match (tree.search(&page, &node, k)?, dir) {
                    ((i, true), Dir::Backward) => i + 1,
                    ((i, _), _) => i,
                },
                Bound::Excluded(k) => match (tree.search(&page, &node, k)?, dir) {
                    ((i, true), Dir::Forward) => i + 1,
                    ((i, _), _) => i,
                },
            };
            pos.leaf = id;
            let idx = match dir {
                Dir::Forward if at < node.count => at,
                Dir::Backward if at > 0 => at - 1,
                _ => {
                    drop(p);
                    return next_leaf(tree, pager, pos, dir);
                }
            };
            pos.idx = idx;
            drop(p);
            return Ok(Some(page));
        }
        let c = match from {
            Bound::Unbounded if dir == Dir::Forward => 0,
            Bound::Unbounded => node.count,
            Bound::Excluded(k) if dir == Dir::Backward => tree.search(&page, &node, k)?.0,
            Bound::Included(k) | Bound::Excluded(k) => tree.child_index(&page, &node, k)?,
        };
        pos.path.push((id, c));
        id = node.child(c)?;
    }
}

/// Moves `pos` one cell in direction `dir` and returns its leaf.
fn advance(
    tree: &BTree,
    pager: &mut Pager,
    pos: &mut Position,
    dir: Dir,
) -> Result<Option<PageRef>> {
    let page = match pos.page.take() {
        Some(page) => page,
        None => tree.load(pager, pos.leaf)?,
    };
    let count = tree.node(pos.leaf, &page.borrow())?.count;
    match dir {
        Dir::Forward if pos.idx + 1 < count => pos.idx += 1,
        Dir::Backward if pos.idx > 0 && pos.idx <= count => pos.idx -= 1,
        _ => return next_leaf(tree, pager, pos, dir),
    }
    Ok(Some(page))
}

/// Moves `pos` to the nearest cell of the next leaf in direction `dir`
/// (skipping empty leaves) and returns that leaf; `None` at the end.
fn next_leaf(
    tree: &BTree,
    pager: &mut Pager,
    pos: &mut Position,
    dir: Dir,
) -> Result<Option<PageRef>> {
    while let Some((id, c)) = pos.path.pop() {
        let count = tree.node(id, &tree.load(pager, id)?.borrow())?.count;
        let c = match dir {
            Dir::Forward if c < count => c + 1,
            Dir::Backward if c > 0 && c <= count => c - 1,
            _ => continue,
        };
        pos.path.push((id, c));
        // Descend along the near edge of the new subtree.
        let mut child = tree.node(id, &tree.load(pager, id)?.borrow())?.child(c)?;
        loop {
            if pos.path.len() >= MAX_DEPTH {
                return Err(corruption!("{tree} is deeper than {MAX_DEPTH} levels"));
            }
            let page = tree.load(pager, child)?;
            let p = page.borrow();
            let node = tree.node(child, &p)?;
            if node.is_leaf() {
                if node.count > 0 {
                    pos.leaf = child;
                    pos.idx = if dir == Dir::Forward {
                        0
                    } else {
                        node.count - 1
                    };
                    drop(p);
                    return Ok(Some(page));
                }
                break;
            }
            let c = if dir == Dir::Forward { 0 } else { node.count };
            pos.path.push((child, c));
            child = node.child(c)?;
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::testutil::pager_on;
    use crate::btree::TreeKind;
    use crate::store::MemPageStore;

    fn pager(store: &MemPageStore) -> Pager {
        pager_on(store)
    }

    fn collect(c: &mut Cursor, pager: &mut Pager) -> Vec<Vec<u8>> {
        let mut keys = Vec::new();
        while let Some((k, _)) = c.next(pager).unwrap() {
            keys.push(k);
        }
        keys
    }

    #[test]
    fn empty_trees_and_empty_ranges() {
        let store = MemPageStore::new(1024).unwrap();
        let mut pager = pager(&store);
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        let mut c = Cursor::new(tree, Bound::Unbounded, Bound::Unbounded);
        assert_eq!(c.next(&mut pager).unwrap(), None);
        assert_eq!(c.prev(&mut pager).unwrap(), None);
        for i in 0..100u8 {
            tree.insert(&mut pager, &[i], &[i]).unwrap();
        }
        // Inverted and empty ranges yield nothing and do not panic.
        let ranges = [
            (Bound::Included(vec![50]), Bound::Included(vec![10])),
            (Bound::Excluded(vec![50]), Bound::Excluded(vec![50])),
            (Bound::Included(vec![50]), Bound::Excluded(vec![50])),
            (Bound::Excluded(vec![50]), Bound::Included(vec![50])),
        ];
        for (lower, upper) in ranges {
            let mut c = Cursor::new(tree, lower.clone(), upper.clone());
            assert_eq!(c.next(&mut pager).unwrap(), None, "{lower:?} {upper:?}");
            let mut c = Cursor::new(tree, lower, upper);
            assert_eq!(c.prev(&mut pager).unwrap(), None);
        }
        let mut c = Cursor::new(tree, Bound::Included(vec![50]), Bound::Included(vec![50]));
        assert_eq!(c.prev(&mut pager).unwrap(), Some((vec![50], vec![50])));
        assert_eq!(c.next(&mut pager).unwrap(), None);
    }

    #[test]
    fn index_cursors_return_empty_values() {
        let store = MemPageStore::new(1024).unwrap();
        let mut pager = pager(&store);
        let tree = BTree::create(&mut pager, TreeKind::Index).unwrap();
        for i in 0..500u32 {
            tree.insert(&mut pager, &i.to_be_bytes(), b"").unwrap();
        }
        let mut c = Cursor::new(
            tree,
            Bound::Excluded(10u32.to_be_bytes().to_vec()),
            Bound::Unbounded,
        );
        assert_eq!(
            c.next(&mut pager).unwrap(),
            Some((11u32.to_be_bytes().to_vec(), Vec::new()))
        );
        assert_eq!(
            c.prev(&mut pager).unwrap(),
            Some((499u32.to_be_bytes().to_vec(), Vec::new()))
        );
    }

    #[test]
    fn a_cursor_continues_on_a_reopened_pager() {
        let store = MemPageStore::new(1024).unwrap();
        let mut pager = pager(&store);
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        for i in 0..1000u32 {
            tree.insert(&mut pager, &i.to_be_bytes(), &[0u8; 20])
                .unwrap();
        }
        let mut c = Cursor::new(tree, Bound::Unbounded, Bound::Unbounded);
        for _ in 0..300 {
            c.next(&mut pager).unwrap();
        }
        pager.checkpoint(b"").unwrap();
        // Checkpoints change no page: the cached position stays valid.
        assert_eq!(c.next(&mut pager).unwrap().unwrap().0, 300u32.to_be_bytes());
        drop(pager);
        let mut pager = super::tests::pager(&store);
        let rest = collect(&mut c, &mut pager);
        assert_eq!(rest.len(), 699);
        assert_eq!(rest[0], 301u32.to_be_bytes());
    }

    #[test]
    fn next_with_lends_values_in_place_and_overflowing() {
        let store = MemPageStore::new(1024).unwrap();
        let mut pager = pager(&store);
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        let value = |i: u8| vec![i; if matches!(i % 3, 0) { 5000 } else { 30 }];
        for i in 0..60u8 {
            tree.insert(&mut pager, &[i], &value(i)).unwrap();
        }
        let mut c = Cursor::new(tree, Bound::Included(vec![10]), Bound::Excluded(vec![50]));
        // A failing closure leaves the cursor where it was.
        let failed = c.next_with(&mut pager, |_, _| -> Result<()> {
            Err(crate::corruption!("refused"))
        });
        assert!(failed.is_err());
        let mut seen = Vec::new();
        while let Some((k, len)) = c
            .next_with(&mut pager, |k, v| {
                assert_eq!(v, value(k[0]).as_slice());
                Ok((k[0], v.len()))
            })
            .unwrap()
        {
            seen.push((k, len));
            if k == 20 {
                // A change elsewhere in the tree: the cursor re-seeks.
                tree.insert(&mut pager, &[200], b"x").unwrap();
            }
        }
        let expected: Vec<(u8, usize)> = (10..50).map(|i| (i, value(i).len())).collect();
        assert_eq!(seen, expected);
    }
}
