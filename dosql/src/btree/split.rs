//! Rebuilding nodes from a list of cells: the common core of splits,
//! merges and redistribution.
//!
//! A structural change copies the cells involved (from one or two pages,
//! plus a new cell or a separator pulled down from the parent) into a
//! [`Cells`] list, picks where to cut it, and rewrites the pages from the
//! list. This costs a page-sized copy, but happens once per split or
//! merge, not per insert or delete.
//!
//! ```text
//!   leaf split:      [c0 .. c(s-1)] | [cs .. cn]         separator = shortest key in (c(s-1), cs]
//!   interior split:  [c0 .. c(m-1)] + right = child(cm) | key(cm) goes up | [c(m+1) ..] + old right
//! ```

use std::ops::Range;

use super::node::{self, Node, NodeKind, SLOT_SIZE};
use crate::corruption;
use crate::error::Result;
use crate::store::PageId;

/// Cells copied out of pages, in key order.
#[derive(Default)]
pub(super) struct Cells {
    buf: Vec<u8>,
    spans: Vec<Range<usize>>,
}

impl Cells {
    /// Appends every cell of `node`.
    pub fn push_node(&mut self, node: &Node<'_>) -> Result<()> {
        for i in 0..node.count {
            self.push(node.cell(i)?);
        }
        Ok(())
    }

    pub fn push(&mut self, cell: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(cell);
        self.spans.push(start..self.buf.len());
    }

    /// Inserts `cell` at position `i`.
    pub fn insert(&mut self, i: usize, cell: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(cell);
        self.spans.insert(i, start..self.buf.len());
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn get(&self, i: usize) -> &[u8] {
        &self.buf[self.spans[i].clone()]
    }

    /// Points interior cell `i` at child `id`.
    pub fn set_child(&mut self, i: usize, id: PageId) {
        let start = self.spans[i].start;
        node::set_u64(&mut self.buf, start, id);
    }

    /// Bytes the cells of `range` take in a page, slots included.
    pub fn weight(&self, range: Range<usize>) -> usize {
        self.spans[range].iter().map(|s| s.len() + SLOT_SIZE).sum()
    }
}

/// Rewrites `p` as a node of `kind` holding `cells[range]`.
pub(super) fn rebuild(
    p: &mut [u8],
    kind: NodeKind,
    cells: &Cells,
    range: Range<usize>,
    right: PageId,
) -> Result<()> {
    node::init(p, kind);
    node::set_right(p, right);
    for i in range {
        node::push(p, cells.get(i))?;
    }
    Ok(())
}

/// Where to cut a list of leaf cells: the number going left, so that both
/// halves fit in `usable` bytes and are as even as possible. Cells from
/// valid pages always have such a cut; damaged ones may not.
pub(super) fn leaf_split_point(cells: &Cells, usable: usize) -> Result<usize> {
    let n = cells.len();
    let total = cells.weight(0..n);
    let mut left = 0;
    let mut best = (usize::MAX, 1);
    for s in 1..n {
        left += cells.get(s - 1).len() + SLOT_SIZE;
        let right = total - left;
        if left <= usable && right <= usable && left.max(right) < best.0 {
            best = (left.max(right), s);
        }
    }
    if best.0 == usize::MAX {
        return Err(corruption!("no way to split {n} cells of {total} bytes"));
    }
    Ok(best.1)
}

/// Which interior cell goes up: cells before it stay left, cells after it
/// go right, and both halves fit and keep at least one key.
pub(super) fn interior_split_point(cells: &Cells, usable: usize) -> Result<usize> {
    let n = cells.len();
    if n < 3 {
        return Err(corruption!("an interior split needs 3 cells, not {n}"));
    }
    let total = cells.weight(0..n);
    let mut left = 0;
    let mut best = (usize::MAX, 1);
    for m in 1..n - 1 {
        left += cells.get(m - 1).len() + SLOT_SIZE;
        let right = total - left - cells.get(m).len() - SLOT_SIZE;
        if left <= usable && right <= usable && left.max(right) < best.0 {
            best = (left.max(right), m);
        }
    }
    if best.0 == usize::MAX {
        return Err(corruption!(
            "no way to split {n} interior cells of {total} bytes"
        ));
    }
    Ok(best.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::cell;

    fn cells(sizes: &[usize]) -> Cells {
        let mut cells = Cells::default();
        for &size in sizes {
            cells.push(&vec![0u8; size]);
        }
        cells
    }

    #[test]
    fn split_points_balance_bytes() {
        let c = cells(&[98; 10]);
        assert_eq!(leaf_split_point(&c, 1000).unwrap(), 5);
        // Either middle cell going up leaves halves of 500 and 400 bytes.
        assert!(matches!(interior_split_point(&c, 1000).unwrap(), 4 | 5));
        // One big cell at the start: the cut moves right of it.
        let c = cells(&[248, 10, 10, 10, 10, 10, 10, 248]);
        let s = leaf_split_point(&c, 1000).unwrap();
        assert!(c.weight(0..s) <= 1000 && c.weight(s..8) <= 1000);
        assert_eq!(s, 4);
        // Cells too big for two pages cannot be split.
        let c = cells(&[600; 4]);
        assert!(leaf_split_point(&c, 1000).is_err());
        assert!(interior_split_point(&cells(&[10, 10]), 1000).is_err());
    }

    #[test]
    fn rebuild_and_set_child() {
        let mut c = Cells::default();
        for (child, key) in [(7u64, b"a"), (8, b"b"), (9, b"c")] {
            let mut cell = Vec::new();
            cell::push_interior_cell(&mut cell, child, key);
            c.push(&cell);
        }
        c.set_child(1, 42);
        c.insert(0, &{
            let mut cell = Vec::new();
            cell::push_interior_cell(&mut cell, 6, b"0");
            cell
        });
        let mut p = vec![0u8; 1024];
        rebuild(&mut p, NodeKind::TableInterior, &c, 1..4, 99).unwrap();
        let n = Node::new(1, &p).unwrap();
        assert_eq!(n.count, 3);
        assert_eq!(
            (
                n.child(0).unwrap(),
                n.child(1).unwrap(),
                n.child(3).unwrap()
            ),
            (7, 42, 99)
        );
        assert_eq!(n.key(2).unwrap(), b"c");
    }
}
