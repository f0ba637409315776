//! Deletion and rebalancing.
//!
//! After a cell is removed, a page that is less than a third full is
//! combined with a sibling (the left one when it exists):
//!
//! ```text
//!  parent  [ .. sep .. ]           merge (everything fits one page):
//!          /         \               left <- left + (sep, interior only) + right
//!      left           right          free right, drop sep from the parent,
//!                                    continue with the parent
//!                                  redistribute (it does not fit):
//!                                    re-cut left + right evenly, replace sep
//!                                    (a longer sep may split the parent)
//! ```
//!
//! A root left with no keys and a single child takes over the child's
//! content (the root page id never changes). Every non-root page keeps at
//! least one key: an empty page always fits into its sibling.

use super::cell;
use super::insert::propagate;
use super::node::{self, Node};
use super::split::{self, Cells};
use super::{overflow, read_value, BTree, Path, MAX_DEPTH};
use crate::corruption;
use crate::error::Result;
use crate::pager::Pager;

/// Removes `key` and returns its value.
pub(super) fn delete(tree: &BTree, pager: &mut Pager, key: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut path = tree.descend(pager, key)?;
    let leaf_id = path.leaf().id;
    let page = tree.load(pager, leaf_id)?;
    let (idx, value, chain) = {
        let p = page.borrow();
        let node = Node::new(leaf_id, &p)?;
        let (idx, found) = node.search(key)?;
        if !found {
            return Ok(None);
        }
        if tree.is_table() {
            let cell = node.leaf_cell(idx)?;
            let chain = (cell.overflow, cell.value_len - cell.local.len());
            (idx, read_value(pager, &node, idx)?, chain)
        } else {
            (idx, Vec::new(), (0, 0))
        }
    };
    drop(page);
    if chain.0 != 0 {
        overflow::free_chain(pager, chain.0, chain.1)?;
    }
    node::remove(&mut tree.load_mut(pager, leaf_id)?.borrow_mut(), idx)?;
    rebalance(tree, pager, &mut path)?;
    Ok(Some(value))
}

/// Restores the fill invariants from the leaf of `path` upward.
fn rebalance(tree: &BTree, pager: &mut Pager, path: &mut Path) -> Result<()> {
    let usable = node::usable(pager.page_size());
    let mut level = path.len - 1;
    while level > 0 {
        let id = path.levels[level].id;
        if tree.node(id, &tree.load(pager, id)?.borrow())?.used() >= usable / 3 {
            return Ok(());
        }
        let parent = path.levels[level - 1];
        let (left, right, sep_idx, sep) = {
            let page = tree.load(pager, parent.id)?;
            let p = page.borrow();
            let node = tree.node(parent.id, &p)?;
            if node.count == 0 {
                return Err(corruption!("interior page {} has no keys", parent.id));
            }
            let (left, right, sep_idx) = match parent.idx {
                0 => (id, node.child(1)?, 0),
                c => (node.child(c - 1)?, id, c - 1),
            };
            if left == right {
                return Err(corruption!("page {} lists child {left} twice", parent.id));
            }
            (left, right, sep_idx, node.key(sep_idx)?.to_vec())
        };
        let (lpage, rpage) = (tree.load_mut(pager, left)?, tree.load_mut(pager, right)?);
        let (mut lp, mut rp) = (lpage.borrow_mut(), rpage.borrow_mut());
        let (ln, rn) = (tree.node(left, &lp)?, tree.node(right, &rp)?);
        if ln.kind != rn.kind {
            return Err(corruption!(
                "sibling pages {left} and {right} differ in kind"
            ));
        }
        let (kind, leaf, right_right) = (ln.kind, ln.is_leaf(), rn.right());
        let mut cells = Cells::default();
        cells.push_node(&ln)?;
        if !leaf {
            let mut cell = Vec::new();
            cell::push_interior_cell(&mut cell, ln.right(), &sep);
            cells.push(&cell);
        }
        cells.push_node(&rn)?;
        let n = cells.len();

        if cells.weight(0..n) <= usable {
            split::rebuild(&mut lp, kind, &cells, 0..n, right_right)?;
            drop((lp, rp));
            drop((lpage, rpage));
            pager.free(right)?;
            let page = tree.load_mut(pager, parent.id)?;
            let mut p = page.borrow_mut();
            node::remove(&mut p, sep_idx)?;
            node::set_child(&mut p, left, sep_idx)?;
            level -= 1;
            continue;
        }

        let new_sep = if leaf {
            let s = split::leaf_split_point(&cells, usable)?;
            split::rebuild(&mut lp, kind, &cells, 0..s, 0)?;
            split::rebuild(&mut rp, kind, &cells, s..n, 0)?;
            node::separator(
                cell::cell_key(cells.get(s - 1), false)?,
                cell::cell_key(cells.get(s), false)?,
            )
            .to_vec()
        } else {
            let m = split::interior_split_point(&cells, usable)?;
            split::rebuild(&mut lp, kind, &cells, 0..m, cell::cell_child(cells.get(m)))?;
            split::rebuild(&mut rp, kind, &cells, m + 1..n, right_right)?;
            cell::cell_key(cells.get(m), true)?.to_vec()
        };
        drop((lp, rp));
        drop((lpage, rpage));
        node::remove(&mut tree.load_mut(pager, parent.id)?.borrow_mut(), sep_idx)?;
        path.levels[level - 1].idx = sep_idx;
        path.levels[level].id = left;
        return propagate(tree, pager, path, level - 1, new_sep, right);
    }
    collapse_root(tree, pager)
}

/// While the root is an interior page without keys, pulls its only child's
/// content up into it.
fn collapse_root(tree: &BTree, pager: &mut Pager) -> Result<()> {
    for _ in 0..MAX_DEPTH {
        let child = {
            let page = tree.load(pager, tree.root)?;
            let p = page.borrow();
            let node = tree.node(tree.root, &p)?;
            if node.is_leaf() || node.count > 0 {
                return Ok(());
            }
            node.right()
        };
        if child == tree.root {
            return Err(corruption!("root {child} is its own child"));
        }
        let from = tree.load(pager, child)?;
        tree.node(child, &from.borrow())?;
        tree.load_mut(pager, tree.root)?
            .borrow_mut()
            .copy_from_slice(&from.borrow());
        drop(from);
        pager.free(child)?;
    }
    Err(corruption!(
        "tree {} root chain is deeper than {MAX_DEPTH} levels",
        tree.root
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::testutil::mem_pager;
    use crate::btree::{Cursor, TreeKind};
    use std::ops::Bound;

    fn pager() -> Pager {
        mem_pager(1024)
    }

    fn leaf_sizes(tree: BTree, pager: &mut Pager) -> Vec<usize> {
        // Leaf sizes in key order, read through the pages.
        let mut sizes = Vec::new();
        let mut c = Cursor::new(tree, Bound::Unbounded, Bound::Unbounded);
        let mut last_leaf = 0;
        while c.next(pager).unwrap().is_some() {
            let leaf = c.front_leaf();
            if leaf != last_leaf {
                sizes.push(0);
                last_leaf = leaf;
            }
            *sizes.last_mut().unwrap() += 1;
        }
        sizes
    }

    #[test]
    fn merges_collapse_the_root() {
        let mut pager = pager();
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        for i in 0..400u32 {
            tree.insert(&mut pager, &i.to_be_bytes(), &[1u8; 30])
                .unwrap();
        }
        assert!(tree.check(&mut pager).unwrap().depth >= 2);
        for i in 0..395u32 {
            assert!(tree.delete(&mut pager, &i.to_be_bytes()).unwrap().is_some());
        }
        let stats = tree.check(&mut pager).unwrap();
        assert_eq!((stats.depth, stats.pages, stats.keys), (1, 1, 5));
        assert_eq!(pager.free_count() + 1, pager.page_count());
    }

    #[test]
    fn an_underfull_leaf_borrows_from_a_full_sibling() {
        let mut pager = pager();
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        // 212-byte cells: appended, 4 fill a leaf (856 of 1000 bytes).
        for i in 0..12u32 {
            tree.insert(&mut pager, &i.to_be_bytes(), &[2u8; 200])
                .unwrap();
        }
        assert_eq!(leaf_sizes(tree, &mut pager), vec![4, 4, 4]);
        // Emptying most of the middle leaf: 1 cell + 4 do not fit in one
        // page, so the cells are shared out instead of merged.
        for i in [4u32, 5, 6] {
            tree.delete(&mut pager, &i.to_be_bytes()).unwrap();
        }
        let sizes = leaf_sizes(tree, &mut pager);
        assert_eq!(sizes.len(), 3, "{sizes:?}");
        assert!(sizes.iter().all(|&n| n >= 2), "{sizes:?}");
        assert_eq!(tree.check(&mut pager).unwrap().keys, 9);
    }

    #[test]
    fn deleting_missing_keys_changes_nothing() {
        let mut pager = pager();
        let tree = BTree::create(&mut pager, TreeKind::Index).unwrap();
        tree.insert(&mut pager, b"a", b"").unwrap();
        let mods = pager.modification_count();
        assert_eq!(tree.delete(&mut pager, b"b").unwrap(), None);
        assert_eq!(pager.modification_count(), mods);
        assert_eq!(tree.delete(&mut pager, b"a").unwrap(), Some(Vec::new()));
        assert_eq!(tree.check(&mut pager).unwrap().keys, 0);
    }
}
