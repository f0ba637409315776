//! Slotted B-tree pages: header, slot array and cells.
//!
//! ```text
//!  0    4    5    6      8          12         16           24
//!  +----+----+----+------+----------+----------+------------+-------------+
//!  |crc |kind| 0  |count |content   |frag bytes|right child | slots u16...|
//!  +----+----+----+------+----------+----------+------------+-------------+
//!  |   ... free gap ...     | cells (packed toward the end of the page) |
//!  +------------------------+-------------------------------------------+
//!                           ^ content                                   ^ page size
//! ```
//!
//! * `kind`: 2 table leaf, 3 table interior, 4 index leaf, 5 index interior.
//! * The slot array holds one u16 cell offset per cell, in key order, so a
//!   binary search touches only the probed cells.
//! * `content` (u32, since an empty 64 KiB page has content = 65536) is the
//!   lowest cell offset; `frag` counts bytes of dead cells inside the
//!   content area. Invariant: `sum(cell sizes) + frag == page size - content`.
//! * `right child` is the rightmost child of an interior page (0 in leaves).
//!   An interior page with n keys has n + 1 children: child i (the child of
//!   cell i) holds keys in `[key(i-1), key(i))`, the right child keys
//!   `>= key(n-1)`.
//!
//! Cells are encoded as described in `cell.rs`. Every length read from a
//! page is bounds-checked: bad bytes give `Error::Corruption`, never a
//! panic. A page loaded from the store is validated in full once
//! ([`validate`]) before it is used, so binary searches run on sorted keys.

use std::cmp::Ordering;

use super::cell::{get_len, leaf_layout, LeafCell};
use crate::corruption;
use crate::error::Result;
use crate::store::PageId;

pub(super) const HEADER: usize = 24;
const KIND: usize = 4;
const COUNT: usize = 6;
const CONTENT: usize = 8;
const FRAG: usize = 12;
const RIGHT: usize = 16;
const SLOT: usize = 2;
/// Bytes of one slot-array entry.
pub(super) const SLOT_SIZE: usize = SLOT;

/// Page-kind byte of an overflow page.
pub(super) const KIND_OVERFLOW: u8 = 6;
/// Header of an overflow page: checksum, kind, padding, next page id.
pub(super) const OVERFLOW_HEADER: usize = 16;
/// Largest value a table tree stores.
pub const MAX_VALUE_LEN: usize = 1 << 30;

/// The four kinds of B-tree node pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NodeKind {
    TableLeaf = 2,
    TableInterior = 3,
    IndexLeaf = 4,
    IndexInterior = 5,
}

impl NodeKind {
    pub(super) fn from_byte(b: u8) -> Option<NodeKind> {
        match b {
            2 => Some(NodeKind::TableLeaf),
            3 => Some(NodeKind::TableInterior),
            4 => Some(NodeKind::IndexLeaf),
            5 => Some(NodeKind::IndexInterior),
            _ => None,
        }
    }

    pub(super) fn is_leaf(self) -> bool {
        matches!(self, NodeKind::TableLeaf | NodeKind::IndexLeaf)
    }

    pub(super) fn is_table(self) -> bool {
        matches!(self, NodeKind::TableLeaf | NodeKind::TableInterior)
    }

    pub(super) fn leaf(table: bool) -> NodeKind {
        if table {
            NodeKind::TableLeaf
        } else {
            NodeKind::IndexLeaf
        }
    }

    pub(super) fn interior(table: bool) -> NodeKind {
        if table {
            NodeKind::TableInterior
        } else {
            NodeKind::IndexInterior
        }
    }
}

/// Usable bytes of a node page (after the header).
pub(super) fn usable(page_size: usize) -> usize {
    page_size - HEADER
}

/// Largest cell, slot included: a quarter of the usable page, so that a
/// split of a full page plus one cell always yields two fitting halves.
pub(super) fn max_cell(page_size: usize) -> usize {
    usable(page_size) / 4
}

/// Longest key for `page_size`: the biggest leaf cell with an overflow
/// pointer and an empty local prefix, or interior cell, still fits.
pub fn max_key_len(page_size: usize) -> usize {
    // slot + varint(key_len) <= 3 + varint(value_len) <= 5 + overflow id.
    max_cell(page_size) - SLOT - 3 - 5 - 8
}

/// A checked read-only view of a node page.
#[derive(Clone, Copy)]
pub(super) struct Node<'a> {
    pub id: PageId,
    pub p: &'a [u8],
    pub kind: NodeKind,
    pub count: usize,
}

impl<'a> Node<'a> {
    /// Checks the header of page `id`.
    #[inline]
    pub fn new(id: PageId, p: &'a [u8]) -> Result<Node<'a>> {
        let kind = NodeKind::from_byte(p[KIND])
            .ok_or_else(|| corruption!("page {id} is not a B-tree page (kind {})", p[KIND]))?;
        let count = u16_at(p, COUNT) as usize;
        let content = u32_at(p, CONTENT) as usize;
        let frag = u32_at(p, FRAG) as usize;
        if HEADER + SLOT * count > content || content > p.len() || frag > p.len() - content {
            return Err(corruption!(
                "page {id} has a bad header (count {count}, content {content}, frag {frag})"
            ));
        }
        Ok(Node { id, p, kind, count })
    }

    #[inline]
    pub fn is_leaf(&self) -> bool {
        self.kind.is_leaf()
    }

    pub fn content(&self) -> usize {
        u32_at(self.p, CONTENT) as usize
    }

    pub fn frag(&self) -> usize {
        u32_at(self.p, FRAG) as usize
    }

    pub fn right(&self) -> PageId {
        u64_at(self.p, RIGHT)
    }

    /// Bytes taken by slots and live cells.
    pub fn used(&self) -> usize {
        SLOT * self.count + self.p.len() - self.content() - self.frag()
    }

    /// Bytes an insertion may use: the gap plus the fragments.
    pub fn free(&self) -> usize {
        usable(self.p.len()) - self.used()
    }

    /// Offset of cell `i` (`i < count`).
    #[inline]
    pub fn offset(&self, i: usize) -> Result<usize> {
        debug_assert!(i < self.count);
        let off = u16_at(self.p, HEADER + SLOT * i) as usize;
        if off < HEADER + SLOT * self.count {
            return Err(corruption!(
                "page {} slot {i} points into the header",
                self.id
            ));
        }
        Ok(off)
    }

    /// The key of cell `i`.
    #[inline]
    pub fn key(&self, i: usize) -> Result<&'a [u8]> {
        let mut at = self.offset(i)?;
        if !self.is_leaf() {
            at += 8;
        }
        let bad = || corruption!("page {} cell {i} has a bad key", self.id);
        let (len, n) = get_len(self.p, at).ok_or_else(bad)?;
        self.p.get(at + n..at + n + len).ok_or_else(bad)
    }

    /// Position of the first key `>= key`, and whether it equals `key`.
    #[inline]
    pub fn search(&self, key: &[u8]) -> Result<(usize, bool)> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match compare(self.key(mid)?, key) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok((mid, true)),
            }
        }
        Ok((lo, false))
    }

    /// Child `c` of an interior page, `c <= count` (`count` = right child).
    #[inline]
    pub fn child(&self, c: usize) -> Result<PageId> {
        let id = if c == self.count {
            self.right()
        } else {
            let at = self.offset(c)?;
            let bytes = self
                .p
                .get(at..at + 8)
                .ok_or_else(|| corruption!("page {} cell {c} is cut off", self.id))?;
            u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
        };
        if id == 0 {
            return Err(corruption!("page {} child {c} is page 0", self.id));
        }
        Ok(id)
    }

    /// Size in bytes of cell `i` (without its slot).
    pub fn cell_size(&self, i: usize) -> Result<usize> {
        let at = self.offset(i)?;
        let bad = || corruption!("page {} cell {i} is malformed", self.id);
        let size = match self.kind {
            NodeKind::TableInterior | NodeKind::IndexInterior => {
                let (len, n) = get_len(self.p, at + 8).ok_or_else(bad)?;
                8 + n + len
            }
            NodeKind::IndexLeaf => {
                let (len, n) = get_len(self.p, at).ok_or_else(bad)?;
                n + len
            }
            NodeKind::TableLeaf => {
                let (key_len, n) = get_len(self.p, at).ok_or_else(bad)?;
                let (value_len, _) = get_len(self.p, at + n + key_len).ok_or_else(bad)?;
                if key_len > max_key_len(self.p.len()) || value_len > MAX_VALUE_LEN {
                    return Err(bad());
                }
                leaf_layout(self.p.len(), true, key_len, value_len).size
            }
        };
        if at + size > self.p.len() {
            return Err(bad());
        }
        Ok(size)
    }

    /// The bytes of cell `i`.
    pub fn cell(&self, i: usize) -> Result<&'a [u8]> {
        let at = self.offset(i)?;
        Ok(&self.p[at..at + self.cell_size(i)?])
    }

    /// Decodes table leaf cell `i`.
    pub fn leaf_cell(&self, i: usize) -> Result<LeafCell<'a>> {
        debug_assert_eq!(self.kind, NodeKind::TableLeaf);
        let cell = self.cell(i)?;
        let (key_len, n) = get_len(cell, 0).expect("checked by cell_size");
        let (value_len, m) = get_len(cell, n + key_len).expect("checked by cell_size");
        let layout = leaf_layout(self.p.len(), true, key_len, value_len);
        let start = n + key_len + m;
        let local = &cell[start..start + layout.local];
        let overflow = if layout.overflow {
            let id = u64_at(cell, start + layout.local);
            if id == 0 {
                return Err(corruption!(
                    "page {} cell {i} has a null overflow page",
                    self.id
                ));
            }
            id
        } else {
            0
        };
        Ok(LeafCell {
            value_len,
            local,
            overflow,
        })
    }

    /// The first overflow page of cell `i`, 0 if none (any node kind).
    pub fn overflow_of(&self, i: usize) -> Result<PageId> {
        if self.kind != NodeKind::TableLeaf {
            return Ok(0);
        }
        Ok(self.leaf_cell(i)?.overflow)
    }
}

/// Full structural check of node page `id` of a table (`table`) or index
/// tree, done once each time the page is loaded from the store: header,
/// every cell inside the content area and not overlapping another, exact
/// space accounting (`sum(cells) + frag == page size - content`), and
/// strictly ascending keys, so that later binary searches are sound.
pub(super) fn validate(id: PageId, p: &[u8], table: bool) -> Result<Node<'_>> {
    let node = Node::new(id, p)?;
    if node.kind.is_table() != table {
        return Err(corruption!("page {id} belongs to another kind of tree"));
    }
    let mut cells = Vec::with_capacity(node.count);
    let mut prev: Option<&[u8]> = None;
    for i in 0..node.count {
        cells.push((node.offset(i)?, node.cell_size(i)?));
        let key = node.key(i)?;
        if prev.is_some_and(|p| compare(p, key) != Ordering::Less) {
            return Err(corruption!(
                "page {id} keys {} and {i} are out of order",
                i - 1
            ));
        }
        prev = Some(key);
    }
    // Cells appended in key order lie in descending offsets: a reversal
    // sorts them without a sort.
    if cells.windows(2).all(|w| w[0].0 > w[1].0) {
        cells.reverse();
    } else {
        cells.sort_unstable();
    }
    let mut end = node.content();
    let mut total = 0;
    for (off, size) in cells {
        if off < end {
            return Err(corruption!(
                "page {id} has overlapping cells or a cell before its content area"
            ));
        }
        end = off + size;
        total += size;
    }
    if total + node.frag() != p.len() - node.content() {
        return Err(corruption!("page {id} space accounting is off"));
    }
    Ok(node)
}

/// `memcmp` order of two keys. Most comparisons in a search are decided by
/// the first 8 bytes, compared here as one big-endian word without the
/// call into `memcmp`. An integer key (tag and 8 bytes) that ties there,
/// as neighbouring rowids in a leaf do, is decided by its ninth byte, also
/// without the call.
#[inline]
pub(super) fn compare(a: &[u8], b: &[u8]) -> Ordering {
    if let (Some((x, ra)), Some((y, rb))) = (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        let (x, y) = (u64::from_be_bytes(*x), u64::from_be_bytes(*y));
        if x != y {
            return x.cmp(&y);
        }
        if let ([p], [q]) = (ra, rb) {
            return p.cmp(q);
        }
        return ra.cmp(rb);
    }
    a.cmp(b)
}

/// Makes `p` an empty node of `kind`.
pub(super) fn init(p: &mut [u8], kind: NodeKind) {
    p[KIND] = kind as u8;
    p[KIND + 1] = 0;
    set_u16(p, COUNT, 0);
    set_u32(p, CONTENT, p.len() as u32);
    set_u32(p, FRAG, 0);
    set_u64(p, RIGHT, 0);
}

pub(super) fn set_right(p: &mut [u8], id: PageId) {
    set_u64(p, RIGHT, id);
}

/// Points child `c` of an interior page (`c == count`: the right child) at `id`.
pub(super) fn set_child(p: &mut [u8], id: PageId, c: usize) -> Result<()> {
    let node = Node::new(0, p)?;
    if c == node.count {
        set_right(p, id);
    } else {
        let at = node.offset(c)?;
        node.cell_size(c)?;
        set_u64(p, at, id);
    }
    Ok(())
}

/// Opens a slot at position `i` for a cell of `size` bytes and returns the
/// cell's offset, compacting the page if the space is fragmented; `None`
/// when the page has no room.
pub(super) fn reserve(p: &mut [u8], i: usize, size: usize) -> Result<Option<usize>> {
    let node = Node::new(0, p)?;
    let count = node.count;
    debug_assert!(i <= count);
    if node.free() < size + SLOT {
        return Ok(None);
    }
    let mut content = node.content();
    if content - (HEADER + SLOT * count) < size + SLOT {
        defragment(p)?;
        content = u32_at(p, CONTENT) as usize;
    }
    let off = content - size;
    let slots = HEADER + SLOT * i;
    p.copy_within(slots..HEADER + SLOT * count, slots + SLOT);
    set_u16(p, slots, off as u16);
    set_u16(p, COUNT, (count + 1) as u16);
    set_u32(p, CONTENT, off as u32);
    Ok(Some(off))
}

/// Removes cell `i`; its bytes become free space.
pub(super) fn remove(p: &mut [u8], i: usize) -> Result<()> {
    let node = Node::new(0, p)?;
    let (count, off, size) = (node.count, node.offset(i)?, node.cell_size(i)?);
    let (content, frag) = (node.content(), node.frag());
    let slots = HEADER + SLOT * i;
    p.copy_within(slots + SLOT..HEADER + SLOT * count, slots);
    set_u16(p, COUNT, (count - 1) as u16);
    if off == content {
        set_u32(p, CONTENT, (off + size) as u32);
    } else {
        set_u32(p, FRAG, (frag + size) as u32);
    }
    Ok(())
}

/// Appends `cell` as the last cell.
pub(super) fn push(p: &mut [u8], cell: &[u8]) -> Result<()> {
    let count = Node::new(0, p)?.count;
    let off =
        reserve(p, count, cell.len())?.ok_or_else(|| corruption!("cells do not fit in a page"))?;
    p[off..off + cell.len()].copy_from_slice(cell);
    Ok(())
}

/// Packs all cells against the end of the page, removing fragments, in
/// place: cells are moved in decreasing offset order, so each only moves
/// toward the end and never over a cell not yet moved.
pub(super) fn defragment(p: &mut [u8]) -> Result<()> {
    let node = Node::new(0, p)?;
    let mut cells = Vec::with_capacity(node.count);
    for i in 0..node.count {
        cells.push((node.offset(i)?, node.cell_size(i)?, i));
    }
    cells.sort_unstable_by_key(|c| std::cmp::Reverse(c.0));
    let mut end = p.len();
    for (off, size, i) in cells {
        if off + size > end {
            return Err(corruption!("page has overlapping cells"));
        }
        end -= size;
        p.copy_within(off..off + size, end);
        set_u16(p, HEADER + SLOT * i, end as u16);
    }
    set_u32(p, CONTENT, end as u32);
    set_u32(p, FRAG, 0);
    Ok(())
}

/// The shortest `s` with `left < s <= right` (given `left < right`): a
/// prefix of `right`, so separators stay short.
pub(super) fn separator<'k>(left: &[u8], right: &'k [u8]) -> &'k [u8] {
    let common = left.iter().zip(right).take_while(|(a, b)| a == b).count();
    &right[..(common + 1).min(right.len())]
}

fn u16_at(p: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([p[at], p[at + 1]])
}

fn u32_at(p: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(p[at..at + 4].try_into().expect("4 bytes"))
}

pub(super) fn u64_at(p: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(p[at..at + 8].try_into().expect("8 bytes"))
}

fn set_u16(p: &mut [u8], at: usize, v: u16) {
    p[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn set_u32(p: &mut [u8], at: usize, v: u32) {
    p[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub(super) fn set_u64(p: &mut [u8], at: usize, v: u64) {
    p[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::cell::write_index_cell;
    use crate::error::Error;

    fn leaf_with(keys: &[&[u8]]) -> Vec<u8> {
        let mut p = vec![0u8; 1024];
        init(&mut p, NodeKind::IndexLeaf);
        for key in keys {
            let size = leaf_layout(1024, false, key.len(), 0).size;
            let i = Node::new(1, &p).unwrap().search(key).unwrap().0;
            let off = reserve(&mut p, i, size).unwrap().unwrap();
            write_index_cell(&mut p[off..], key);
        }
        p
    }

    fn keys(p: &[u8]) -> Vec<Vec<u8>> {
        let node = Node::new(1, p).unwrap();
        (0..node.count)
            .map(|i| node.key(i).unwrap().to_vec())
            .collect()
    }

    #[test]
    fn sorted_insert_search_remove_and_defragment() {
        let mut p = leaf_with(&[b"m", b"c", b"x", b"a"]);
        assert_eq!(
            keys(&p),
            vec![b"a".to_vec(), b"c".to_vec(), b"m".to_vec(), b"x".to_vec()]
        );
        let node = Node::new(1, &p).unwrap();
        assert_eq!(node.search(b"c").unwrap(), (1, true));
        assert_eq!(node.search(b"d").unwrap(), (2, false));
        assert_eq!(node.search(b"z").unwrap(), (4, false));
        let used = node.used();
        remove(&mut p, 1).unwrap();
        let node = Node::new(1, &p).unwrap();
        assert_eq!(node.frag(), 2, "a middle cell leaves a fragment");
        assert_eq!(node.used(), used - 4);
        defragment(&mut p).unwrap();
        let node = Node::new(1, &p).unwrap();
        assert_eq!(node.frag(), 0);
        assert_eq!(node.content(), 1024 - 6);
        assert_eq!(keys(&p), vec![b"a".to_vec(), b"m".to_vec(), b"x".to_vec()]);
    }

    #[test]
    fn reserve_compacts_fragmented_space_and_reports_full() {
        let mut p = vec![0u8; 1024];
        init(&mut p, NodeKind::IndexLeaf);
        let key = [7u8; 100];
        let mut n = 0;
        while let Some(off) = reserve(&mut p, n, 101).unwrap() {
            write_index_cell(&mut p[off..], &key);
            n += 1;
        }
        assert_eq!(n, 9, "1000 usable bytes hold nine 103-byte cells");
        remove(&mut p, 8).unwrap();
        remove(&mut p, 0).unwrap();
        // The first removal was at the content start, the second is a fragment.
        assert!(Node::new(1, &p).unwrap().frag() > 0);
        assert!(reserve(&mut p, 0, 101).unwrap().is_some());
        assert!(reserve(&mut p, 0, 101).unwrap().is_some());
        assert!(reserve(&mut p, 0, 101).unwrap().is_none());
    }

    #[test]
    fn separators_are_short_and_between() {
        assert_eq!(separator(b"apple", b"banana"), b"b");
        assert_eq!(separator(b"abc", b"abd"), b"abd");
        assert_eq!(separator(b"ab", b"abc"), b"abc");
        assert_eq!(separator(b"", b"a"), b"a");
    }

    #[test]
    fn bad_headers_and_cells_are_corruption() {
        let mut p = leaf_with(&[b"k"]);
        p[KIND] = 9;
        assert!(matches!(Node::new(1, &p), Err(Error::Corruption(_))));
        let mut p = leaf_with(&[b"k"]);
        set_u16(&mut p, COUNT, 500);
        assert!(matches!(Node::new(1, &p), Err(Error::Corruption(_))));
        let mut p = leaf_with(&[b"k"]);
        set_u16(&mut p, HEADER, 1023);
        set_u32(&mut p, CONTENT, 30);
        p[1023] = 50; // key length runs off the page
        let node = Node::new(1, &p).unwrap();
        assert!(matches!(node.key(0), Err(Error::Corruption(_))));
        assert!(matches!(node.cell_size(0), Err(Error::Corruption(_))));
        set_u16(&mut p, HEADER, 2);
        let node = Node::new(1, &p).unwrap();
        assert!(
            matches!(node.key(0), Err(Error::Corruption(_))),
            "slot into header"
        );
    }

    #[test]
    fn compare_is_memcmp_order() {
        // Keys that tie on their first 8 bytes, differ in length, or are
        // shorter than 8: every pair agrees with the slice order.
        let mut keys: Vec<Vec<u8>> = vec![vec![], vec![0], vec![0xFF]];
        for len in [1, 7, 8, 9, 10, 16, 17] {
            for last in [0u8, 1, 0x7F, 0xFF] {
                let mut k = vec![0x15, 0x80, 0, 0, 0, 0, 3, 9, 4, 2, 0, 8, 1, 5, 6, 7, 0];
                k.truncate(len);
                if let Some(b) = k.last_mut() {
                    *b = last;
                }
                keys.push(k);
            }
        }
        for a in &keys {
            for b in &keys {
                assert_eq!(compare(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }
}
