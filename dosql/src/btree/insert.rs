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

use super::cell::{self, leaf_layout};
use super::node::{self, Node, NodeKind};
use super::split::{self, Cells};
use super::{overflow, read_value, BTree, Level, Path, MAX_DEPTH};
use crate::corruption;
use crate::error::Result;
use crate::pager::Pager;
use crate::store::PageId;

/// Inserts or overwrites `key` (arguments already validated).
pub(super) fn insert(
    tree: &BTree,
    pager: &mut Pager,
    key: &[u8],
    value: &[u8],
) -> Result<Option<Vec<u8>>> {
    let page_size = pager.page_size();
    let table = tree.is_table();
    let mut path = tree.descend(pager, key)?;
    let leaf_id = path.leaf().id;

    let page = tree.load(pager, leaf_id)?;
    let (idx, found) = Node::new(leaf_id, &page.borrow())?.search(key)?;
    let mut old = None;
    let mut old_chain = (0, 0);
    if found {
        if !table {
            return Ok(Some(Vec::new()));
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
            return Ok(old);
        }
        node::remove(&mut p, idx)?;
    }
    if let Some(off) = node::reserve(&mut p, idx, layout.size)? {
        write_cell(&mut p[off..off + layout.size]);
        return Ok(old);
    }
    drop(p);
    drop(page);
    let mut cell = vec![0u8; layout.size];
    write_cell(&mut cell);
    path.levels[path.len - 1].idx = idx;
    split_leaf(tree, pager, &mut path, &cell)?;
    Ok(old)
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
    use crate::btree::{max_key_len, TreeKind};
    use crate::pager::PagerConfig;
    use crate::store::MemPageStore;

    fn pager() -> Pager {
        Pager::open(
            Box::new(MemPageStore::new(1024).unwrap()),
            PagerConfig::default(),
        )
        .unwrap()
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
