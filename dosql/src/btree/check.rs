//! Integrity check of a whole tree, also used to list its pages.
//!
//! The walk visits every page once, carrying the key range its parent
//! allows (`[lower, upper)`), and verifies:
//! * every page is a node of the tree's kind, or an overflow page in a
//!   chain of exactly the length its value implies;
//! * no page is reached twice (no cycles, no sharing);
//! * all leaves are at the same depth; non-root pages and interior pages
//!   hold at least one key;
//! * keys are strictly increasing within a page and inside the range;
//! * each page passes the full structural validation of
//!   [`node::validate`] (cells in bounds and disjoint, exact space
//!   accounting), whether or not it was validated when loaded.

use rustc_hash::FxHashSet;

use super::node;
use super::{overflow, BTree, MAX_DEPTH};
use crate::corruption;
use crate::error::Result;
use crate::pager::Pager;
use crate::store::PageId;

/// Shape and size of a tree, as measured by [`BTree::check`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TreeStats {
    /// Keys stored.
    pub keys: u64,
    /// All pages of the tree: leaf, interior and overflow.
    pub pages: u64,
    /// Leaf pages (the root when it is a leaf).
    pub leaf_pages: u64,
    /// Interior pages.
    pub interior_pages: u64,
    /// Pages of overflow chains.
    pub overflow_pages: u64,
    /// Levels from the root to the leaves (1 when the root is a leaf).
    pub depth: u32,
    /// Used fraction of the usable bytes of leaf and interior pages.
    pub fill: f64,
}

struct Visit {
    id: PageId,
    depth: u32,
    lower: Option<Vec<u8>>,
    upper: Option<Vec<u8>>,
}

pub(super) fn check(tree: &BTree, pager: &mut Pager) -> Result<TreeStats> {
    walk(tree, pager, None)
}

/// Every page of the tree, after checking it.
pub(super) fn collect_pages(tree: &BTree, pager: &mut Pager) -> Result<Vec<PageId>> {
    let mut pages = Vec::new();
    walk(tree, pager, Some(&mut pages))?;
    Ok(pages)
}

fn walk(tree: &BTree, pager: &mut Pager, mut pages: Option<&mut Vec<PageId>>) -> Result<TreeStats> {
    let page_size = pager.page_size();
    let mut stats = TreeStats::default();
    let mut seen = FxHashSet::default();
    let mut leaf_depth = None;
    let mut used = 0u64;
    let mut stack = vec![Visit {
        id: tree.root,
        depth: 1,
        lower: None,
        upper: None,
    }];
    let mut chain = Vec::new();
    while let Some(visit) = stack.pop() {
        let id = visit.id;
        if !seen.insert(id) {
            return Err(corruption!("page {id} is reached twice in {tree}"));
        }
        if visit.depth as usize > MAX_DEPTH {
            return Err(corruption!("{tree} is deeper than {MAX_DEPTH} levels"));
        }
        let page = pager.read(id)?;
        let p = page.borrow();
        let node = node::validate(id, &p, tree.is_table())?;
        used += node.used() as u64;
        let mut prev: Option<&[u8]> = visit.lower.as_deref();
        for i in 0..node.count {
            let key = node.key(i)?;
            let in_order = match prev {
                None => true,
                Some(prev) if i == 0 => prev <= key,
                Some(prev) => prev < key,
            };
            if !in_order || visit.upper.as_deref().is_some_and(|upper| key >= upper) {
                return Err(corruption!(
                    "page {id} key {i} is out of order or outside its parent's range"
                ));
            }
            prev = Some(key);
        }
        if node.is_leaf() {
            stats.leaf_pages += 1;
            stats.keys += node.count as u64;
            if *leaf_depth.get_or_insert(visit.depth) != visit.depth {
                return Err(corruption!(
                    "leaf {id} is at depth {}, other leaves are not",
                    visit.depth
                ));
            }
            if node.count == 0 && id != tree.root {
                return Err(corruption!("non-root leaf {id} is empty"));
            }
            for i in 0..node.count {
                let first = node.overflow_of(i)?;
                if first == 0 {
                    continue;
                }
                let cell = node.leaf_cell(i)?;
                chain.clear();
                overflow::chain_pages(pager, first, cell.value_len - cell.local.len(), &mut chain)?;
                for &ovfl in &chain {
                    if !seen.insert(ovfl) {
                        return Err(corruption!(
                            "overflow page {ovfl} is reached twice in {tree}"
                        ));
                    }
                }
                stats.overflow_pages += chain.len() as u64;
                if let Some(pages) = pages.as_deref_mut() {
                    pages.extend_from_slice(&chain);
                }
            }
        } else {
            stats.interior_pages += 1;
            if node.count == 0 {
                return Err(corruption!("interior page {id} has no keys"));
            }
            for c in (0..=node.count).rev() {
                let lower = if c == 0 {
                    visit.lower.clone()
                } else {
                    Some(node.key(c - 1)?.to_vec())
                };
                let upper = if c == node.count {
                    visit.upper.clone()
                } else {
                    Some(node.key(c)?.to_vec())
                };
                stack.push(Visit {
                    id: node.child(c)?,
                    depth: visit.depth + 1,
                    lower,
                    upper,
                });
            }
        }
        if let Some(pages) = pages.as_deref_mut() {
            pages.push(id);
        }
    }
    stats.depth = leaf_depth.unwrap_or(1);
    stats.pages = stats.leaf_pages + stats.interior_pages + stats.overflow_pages;
    let nodes = stats.leaf_pages + stats.interior_pages;
    stats.fill = used as f64 / (nodes * node::usable(page_size) as u64) as f64;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::testutil::mem_pager;
    use crate::btree::TreeKind;
    use crate::error::Error;

    fn two_level_tree(pager: &mut Pager) -> BTree {
        let tree = BTree::create(pager, TreeKind::Table).unwrap();
        for i in 0..100u32 {
            tree.insert(pager, &i.to_be_bytes(), &[3u8; 30]).unwrap();
        }
        assert_eq!(tree.check(pager).unwrap().depth, 2);
        tree
    }

    fn pager() -> Pager {
        mem_pager(1024)
    }

    #[test]
    fn counts_pages_and_keys() {
        let mut pager = pager();
        let tree = two_level_tree(&mut pager);
        tree.insert(&mut pager, b"big", &[1u8; 3000]).unwrap();
        let stats = tree.check(&mut pager).unwrap();
        assert_eq!(stats.keys, 101);
        assert_eq!(stats.interior_pages, 1);
        assert_eq!(stats.overflow_pages, 3);
        assert_eq!(stats.pages, stats.leaf_pages + 4);
        assert!(stats.fill > 0.4 && stats.fill <= 1.0, "{stats:?}");
        let mut pages = collect_pages(&tree, &mut pager).unwrap();
        pages.sort();
        pages.dedup();
        assert_eq!(pages.len() as u64, stats.pages);
    }

    #[test]
    fn a_separator_out_of_bounds_is_found() {
        let mut pager = pager();
        let tree = two_level_tree(&mut pager);
        // Raise the root's first separator above the keys of its right
        // neighbour: still a well-formed page, but the ranges are wrong.
        let root = pager.write(tree.root).unwrap();
        {
            let mut p = root.borrow_mut();
            let off = node::Node::new(tree.root, &p).unwrap().offset(0).unwrap();
            // Interior cell: child u64, key length varint (1 byte), key.
            p[off + 9] = 0xff;
        }
        drop(root);
        assert!(matches!(tree.check(&mut pager), Err(Error::Corruption(_))));
    }

    #[test]
    fn a_page_reached_twice_is_found() {
        let mut pager = pager();
        let tree = two_level_tree(&mut pager);
        let root = pager.write(tree.root).unwrap();
        {
            let mut p = root.borrow_mut();
            let first = node::Node::new(tree.root, &p).unwrap().child(0).unwrap();
            node::set_right(&mut p, first);
        }
        drop(root);
        assert!(matches!(tree.check(&mut pager), Err(Error::Corruption(_))));
        assert!(matches!(
            tree.destroy(&mut pager),
            Err(Error::Corruption(_))
        ));
        assert_eq!(pager.free_count(), 0, "a damaged tree is not freed at all");
    }
}
