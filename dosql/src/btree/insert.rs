//! Insertion: in place when the leaf has room, else split upward.
//!
//! ```text
//!  1. descend, recording the path          root ─ ... ─ leaf
//!  2. write the cell into the leaf in place (compacting if fragmented)
//!  3. leaf full: split it, then insert (left, separator, right) into the
//!     parent; a full parent splits in turn, up to the root
//!  4. root full: its content moves to a new child, the root becomes an
//!     interior page above it, and the split continues one level down
//! ```
//!
//! Split bias: when the new cell lands at the end of a page on the right
//! edge of the tree, the page is left as it is and the new page starts
//! with just the new cell (for an interior page: its last key), so
//! ascending bulk loads fill pages almost completely.
//!
//! Almost: an append to a table leaf moves on to a new page once the leaf
//! would have less than `1 / APPEND_RESERVE` of its usable bytes free.
//! Table cells grow in place (the MVCC stamp in every value is a varint of
//! the commit timestamp, 1 byte at load time, 3 bytes from timestamp 8192
//! on), and a leaf filled to the last byte splits in two half-empty pages
//! on the first growth: measured on 1M rows of 100 bytes at 4 KiB pages,
//! 100,000 random updates split 10,600 of 27,800 leaves and took the tree
//! from 99.9 % to 72 % fill (+42 MiB). InnoDB reserves 1/16 of a page for
//! the same reason; 1/32 covers three bytes of growth per cell down to
//! ~100-byte cells.

use super::cell::{self, leaf_layout};
use super::node::{self, Node, NodeKind, SLOT_SIZE};
use super::split::{self, Cells};
use super::{overflow, read_value, BTree, Level, Path, MAX_DEPTH};
use crate::corruption;
use crate::error::Result;
use crate::pager::Pager;
use crate::store::PageId;

/// Ascending appends leave `usable / APPEND_RESERVE` bytes of a table leaf
/// free for in-place growth (see the module docs).
pub(super) const APPEND_RESERVE: usize = 32;

/// Where the previous insert through it landed: the path to the leaf, the
/// leaf's exclusive upper key bound and the key inserted. A larger key below
/// the bound belongs in the same leaf, so an ascending batch descends from
/// the root once per leaf instead of once per key.
///
/// The hint is trusted only while the pager's modification count is the one
/// it recorded (no page of any tree changed in between) and for the tree
/// that recorded it; an insert that split a page leaves it unset.
#[derive(Default)]
pub struct InsertHint {
    state: Option<Hinted>,
}

struct Hinted {
    root: PageId,
    mods: u64,
    path: Path,
    last_key: Vec<u8>,
    upper: Option<Vec<u8>>,
}

/// Inserts or overwrites `key` (arguments already validated).
pub(super) fn insert(
    tree: &BTree,
    pager: &mut Pager,
    key: &[u8],
    value: &[u8],
) -> Result<Option<Vec<u8>>> {
    let mut path = tree.descend(pager, key)?;
    Ok(insert_at(tree, pager, &mut path, key, value)?.0)
}

/// [`insert`] through a hint (arguments already validated).
pub(super) fn insert_hinted(
    tree: &BTree,
    pager: &mut Pager,
    key: &[u8],
    value: &[u8],
    hint: &mut InsertHint,
) -> Result<Option<Vec<u8>>> {
    let mods = pager.modification_count();
    let fits = |h: &Hinted| {
        h.root == tree.root
            && h.mods == mods
            && key > h.last_key.as_slice()
            && h.upper.as_deref().is_none_or(|upper| key < upper)
    };
    let mut state = match hint.state.take() {
        Some(h) if fits(&h) => h,
        reused => {
            // Keep the allocations of a stale hint.
            let mut h = reused.unwrap_or_else(|| Hinted {
                root: tree.root,
                mods,
                path: Path::new(),
                last_key: Vec::new(),
                upper: None,
            });
            tree.descend_into(pager, key, &mut h.path, Some(&mut h.upper))?;
            h
        }
    };
    let (old, split) = insert_at(tree, pager, &mut state.path, key, value)?;
    if !split {
        state.root = tree.root;
        state.mods = pager.modification_count();
        state.last_key.clear();
        state.last_key.extend_from_slice(key);
        hint.state = Some(state);
    }
    Ok(old)
}

/// Inserts or overwrites `key` in the leaf at the end of `path`; also
/// returns whether a page split (which makes `path` stale).
fn insert_at(
    tree: &BTree,
    pager: &mut Pager,
    path: &mut Path,
    key: &[u8],
    value: &[u8],
) -> Result<(Option<Vec<u8>>, bool)> {
    let page_size = pager.page_size();
    let table = tree.is_table();
    let leaf_id = path.leaf().id;

    let page = tree.load(pager, leaf_id)?;
    let (idx, found) = tree.search_to_write(&page, &Node::new(leaf_id, &page.borrow())?, key)?;
    let mut old = None;
    let mut old_chain = (0, 0);
    if found {
        if !table {
            return Ok((Some(Vec::new()), false));
        }
        let p = page.borrow();
        let node = Node::new(leaf_id, &p)?;
        let cell = node.leaf_cell(idx)?;
        old_chain = (cell.overflow, cell.value_len - cell.local.len());
        old = Some(read_value(pager, &node, idx)?);
    }
    drop(page);
    if old_chain.0 != 0 {
        overflow::free_chain(pager, old_chain.0, old_chain.1)?;
    }

    let layout = leaf_layout(page_size, table, key.len(), value.len());
    let (local, first) = match layout.overflow {
        true => (
            &value[..layout.local],
            overflow::write_chain(pager, &value[layout.local..])?,
        ),
        false => (value, 0),
    };
    let write_cell = |dst: &mut [u8]| match table {
        true => cell::write_leaf_cell(dst, key, value.len(), local, first),
        false => cell::write_index_cell(dst, key),
    };

    let page = tree.load_mut(pager, leaf_id)?;
    let mut p = page.borrow_mut();
    if found {
        let node = Node::new(leaf_id, &p)?;
        let (off, size) = (node.offset(idx)?, node.cell_size(idx)?);
        if size == layout.size {
            write_cell(&mut p[off..off + size]);
            return Ok((old, false));
        }
        node::remove(&mut p, idx)?;
    }
    let node = Node::new(leaf_id, &p)?;
    let appending = table && !found && path.leaf().edge && idx == node.count && idx > 0;
    let room = match appending {
        true => node.free() >= layout.size + SLOT_SIZE + node::usable(page_size) / APPEND_RESERVE,
        false => true,
    };
    if room {
        if let Some(off) = node::reserve(&mut p, idx, layout.size)? {
            write_cell(&mut p[off..off + layout.size]);
            return Ok((old, false));
        }
    }
    drop(p);
    drop(page);
    let mut cell = vec![0u8; layout.size];
    write_cell(&mut cell);
    path.levels[path.len - 1].idx = idx;
    split_leaf(tree, pager, path, &cell)?;
    Ok((old, true))
}

/// Splits the full leaf at the end of `path` to make room for `cell` at
/// the leaf's recorded position.
fn split_leaf(tree: &BTree, pager: &mut Pager, path: &mut Path, cell: &[u8]) -> Result<()> {
    if path.len == 1 {
        grow_root(tree, pager, path)?;
    }
    let level = path.len - 1;
    let Level { id, idx, edge } = path.levels[level];
    let kind = NodeKind::leaf(tree.is_table());
    let usable = node::usable(pager.page_size());
    // Holding the page before allocating makes a damaged free list that
    // offers this very page fail instead of aliasing it.
    let page = tree.load_mut(pager, id)?;
    let (right_id, right) = pager.allocate()?;
    let mut p = page.borrow_mut();
    let mut rp = right.borrow_mut();
    let node = Node::new(id, &p)?;
    let n = node.count;
    if n == 0 {
        return Err(corruption!("leaf {id} is full without cells"));
    }
    let sep = if idx == n && edge {
        node::init(&mut rp, kind);
        node::push(&mut rp, cell)?;
        node::separator(node.key(n - 1)?, cell::cell_key(cell, false)?).to_vec()
    } else {
        let mut cells = Cells::default();
        cells.push_node(&node)?;
        cells.insert(idx, cell);
        let s = split::leaf_split_point(&cells, usable)?;
        let sep = node::separator(
            cell::cell_key(cells.get(s - 1), false)?,
            cell::cell_key(cells.get(s), false)?,
        );
        let sep = sep.to_vec();
        split::rebuild(&mut p, kind, &cells, 0..s, 0)?;
        split::rebuild(&mut rp, kind, &cells, s..cells.len(), 0)?;
        sep
    };
    drop((p, rp));
    propagate(tree, pager, path, level - 1, sep, right_id)
}

/// The child at `path[level + 1]` was split into itself and `right` with
/// separator `sep`: insert the separator into `path[level]` at the child's
/// position and point the next child slot at `right`, splitting upward as
/// needed.
pub(super) fn propagate(
    tree: &BTree,
    pager: &mut Pager,
    path: &mut Path,
    mut level: usize,
    mut sep: Vec<u8>,
    mut right: PageId,
) -> Result<()> {
    let kind = NodeKind::interior(tree.is_table());
    let usable = node::usable(pager.page_size());
    let mut cell = Vec::new();
    loop {
        let left = path.levels[level + 1].id;
        cell.clear();
        cell::push_interior_cell(&mut cell, left, &sep);
        let Level { id, idx, .. } = path.levels[level];
        {
            let page = tree.load_mut(pager, id)?;
            let mut p = page.borrow_mut();
            if let Some(off) = node::reserve(&mut p, idx, cell.len())? {
                p[off..off + cell.len()].copy_from_slice(&cell);
                return node::set_child(&mut p, right, idx + 1);
            }
        }
        if level == 0 {
            grow_root(tree, pager, path)?;
            level = 1;
        }
        let Level { id, idx, edge } = path.levels[level];
        let page = tree.load_mut(pager, id)?;
        let (new_id, new_page) = pager.allocate()?;
        let mut p = page.borrow_mut();
        let node = Node::new(id, &p)?;
        let n = node.count;
        let mut cells = Cells::default();
        cells.push_node(&node)?;
        cells.insert(idx, &cell);
        let mut right_child = node.right();
        if idx + 1 < cells.len() {
            cells.set_child(idx + 1, right);
        } else {
            right_child = right;
        }
        let m = match idx == n && edge && n >= 2 {
            true => cells.len() - 2,
            false => split::interior_split_point(&cells, usable)?,
        };
        sep.clear();
        sep.extend_from_slice(cell::cell_key(cells.get(m), true)?);
        split::rebuild(&mut p, kind, &cells, 0..m, cell::cell_child(cells.get(m)))?;
        split::rebuild(
            &mut new_page.borrow_mut(),
            kind,
            &cells,
            m + 1..cells.len(),
            right_child,
        )?;
        right = new_id;
        level -= 1;
    }
}

/// Moves the root's content into a new child and makes the root an empty
/// interior page whose only child is that page; the path gains a level.
fn grow_root(tree: &BTree, pager: &mut Pager, path: &mut Path) -> Result<()> {
    if path.len == MAX_DEPTH {
        return Err(corruption!(
            "tree {} would grow past {MAX_DEPTH} levels",
            tree.root
        ));
    }
    let root = tree.load_mut(pager, tree.root)?;
    let (child_id, child) = pager.allocate()?;
    child.borrow_mut().copy_from_slice(&root.borrow());
    let mut p = root.borrow_mut();
    node::init(&mut p, NodeKind::interior(tree.is_table()));
    node::set_right(&mut p, child_id);
    path.levels.copy_within(0..path.len, 1);
    path.levels[0] = Level {
        id: tree.root,
        idx: 0,
        edge: true,
    };
    path.levels[1].id = child_id;
    path.len += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::testutil::mem_pager;
    use crate::btree::{max_key_len, TreeKind};

    fn pager() -> Pager {
        mem_pager(1024)
    }

    #[test]
    fn root_splits_keep_the_root_page() {
        let mut pager = pager();
        let tree = BTree::create(&mut pager, TreeKind::Index).unwrap();
        let max = max_key_len(1024);
        // Maximal keys: 4 per page, so every level splits quickly.
        let key = |i: u32| {
            let mut k = vec![b'k'; max - 4];
            k.extend_from_slice(&i.to_be_bytes());
            k
        };
        let mut depth = 1;
        for i in 0..200u32 {
            tree.insert(&mut pager, &key(i * 7 % 200), b"").unwrap();
            let stats = tree.check(&mut pager).unwrap();
            assert!(stats.depth >= depth);
            depth = stats.depth;
        }
        assert!(depth >= 4, "depth {depth}");
        assert_eq!(tree.root(), 1);
        for i in 0..200 {
            assert_eq!(tree.get(&mut pager, &key(i)).unwrap(), Some(Vec::new()));
        }
    }

    #[test]
    fn appends_at_the_right_edge_leave_full_pages() {
        let count_leaves = |keys: &mut dyn Iterator<Item = u32>| {
            let mut pager = pager();
            let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
            for i in keys {
                tree.insert(&mut pager, &i.to_be_bytes(), &[0u8; 40])
                    .unwrap();
            }
            tree.check(&mut pager).unwrap().leaf_pages
        };
        let ascending = count_leaves(&mut (0..3000));
        let descending = count_leaves(&mut (0..3000).rev());
        // 48-byte cells with their slots: 20 per 1000-byte leaf when full, ~10
        // after an even split.
        assert!(ascending <= 3000 / 20 + 1, "ascending: {ascending} leaves");
        assert!(
            descending > ascending * 3 / 2,
            "descending: {descending} leaves"
        );
    }

    #[test]
    fn appended_leaves_absorb_small_growth_without_splits() {
        let mut pager = mem_pager(4096);
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        for i in 0..5000u32 {
            tree.insert(&mut pager, &i.to_be_bytes(), &[1u8; 100])
                .unwrap();
        }
        let loaded = tree.check(&mut pager).unwrap();
        assert!(loaded.fill > 0.94, "{loaded:?}");
        // Every value grows by 3 bytes, as MVCC stamps do over time.
        for i in 0..5000u32 {
            tree.insert(&mut pager, &i.to_be_bytes(), &[2u8; 103])
                .unwrap();
        }
        let grown = tree.check(&mut pager).unwrap();
        assert_eq!(grown.leaf_pages, loaded.leaf_pages, "no leaf split");
        assert_eq!(grown.keys, 5000);
    }

    #[test]
    fn hinted_inserts_agree_with_a_model_in_any_order() {
        let mut pager = mem_pager(1024);
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        let other = BTree::create(&mut pager, TreeKind::Table).unwrap();
        let mut model = std::collections::BTreeMap::new();
        let mut hint = InsertHint::default();
        let mut x = 7u32;
        for round in 0..4000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            // Ascending runs, random keys, overwrites, big values, and
            // changes made without the hint (a delete, another tree).
            let k = match round % 7 {
                0..=3 => round,
                4 => (x >> 8) % 4000,
                _ => round.saturating_sub(3),
            };
            let value = vec![
                (k % 251) as u8;
                if x & 63 == 0 {
                    3000
                } else {
                    20 + (x % 60) as usize
                }
            ];
            let old = tree
                .insert_hinted(&mut pager, &k.to_be_bytes(), &value, &mut hint)
                .unwrap();
            assert_eq!(old, model.insert(k, value), "key {k}");
            if (x >> 6) & 15 == 0 {
                let gone = (x >> 4) % 4000;
                let old = tree.delete(&mut pager, &gone.to_be_bytes()).unwrap();
                assert_eq!(old, model.remove(&gone));
            }
            if (x >> 10) & 15 == 3 {
                other
                    .insert(&mut pager, &x.to_be_bytes(), &[1; 90])
                    .unwrap();
            }
        }
        // The other tree's root as hint owner: the hint is not reused there.
        other
            .insert_hinted(&mut pager, &u32::MAX.to_be_bytes(), b"o", &mut hint)
            .unwrap();
        assert_eq!(tree.check(&mut pager).unwrap().keys, model.len() as u64);
        for (k, v) in &model {
            assert_eq!(
                tree.get(&mut pager, &k.to_be_bytes()).unwrap().as_ref(),
                Some(v)
            );
        }
        assert_eq!(
            other.get(&mut pager, &u32::MAX.to_be_bytes()).unwrap(),
            Some(b"o".to_vec())
        );
    }

    #[test]
    fn hinted_ascending_inserts_skip_the_descent() {
        let page_loads = |hinted: bool| {
            let mut pager = mem_pager(1024);
            let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
            let mut hint = InsertHint::default();
            for i in 0..3000u32 {
                let key = i.to_be_bytes();
                match hinted {
                    true => tree.insert_hinted(&mut pager, &key, &[0; 40], &mut hint),
                    false => tree.insert(&mut pager, &key, &[0; 40]),
                }
                .unwrap();
            }
            assert!(tree.check(&mut pager).unwrap().depth >= 3);
            let stats = pager.stats();
            stats.cache_hits + stats.cache_misses
        };
        let (plain, hinted) = (page_loads(false), page_loads(true));
        assert!(hinted * 2 < plain, "hinted {hinted}, plain {plain}");
    }

    #[test]
    fn overwrites_move_cells_between_sizes() {
        let mut pager = pager();
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        for round in 0..6usize {
            for i in 0..300u32 {
                let len = (i as usize * 13 + round * 101) % 400;
                let old = tree
                    .insert(&mut pager, &i.to_be_bytes(), &vec![round as u8; len])
                    .unwrap();
                if round > 0 {
                    let prev = (i as usize * 13 + (round - 1) * 101) % 400;
                    assert_eq!(old, Some(vec![round as u8 - 1; prev]));
                }
            }
            assert_eq!(tree.check(&mut pager).unwrap().keys, 300);
        }
    }
}
