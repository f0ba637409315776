//! Cell encodings of B-tree pages and where large values go.
//!
//! ```text
//!  table leaf:  varint key_len | key | varint value_len | local value [| u64 first overflow page]
//!  index leaf:  varint key_len | key
//!  interior:    u64 child | varint key_len | key
//! ```
//!
//! `varint` is unsigned LEB128. A table leaf value is stored whole when the
//! cell (with its slot) fits in a quarter of the usable page; otherwise the
//! cell keeps a prefix whose length is a pure function of (page size, key
//! length, value length), so it is never stored, and the rest goes to an
//! overflow chain.

use super::node::{max_cell, usable, MAX_VALUE_LEN, OVERFLOW_HEADER, SLOT_SIZE};
use crate::corruption;
use crate::error::Result;
use crate::store::PageId;
use crate::varint;

/// Where a table leaf cell's value lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LeafLayout {
    /// Cell bytes (without the slot).
    pub size: usize,
    /// Value bytes stored in the cell.
    pub local: usize,
    /// Whether the rest of the value is in an overflow chain.
    pub overflow: bool,
}

/// The layout of a leaf cell; `table` false means an index cell (no value).
pub(super) fn leaf_layout(
    page_size: usize,
    table: bool,
    key_len: usize,
    value_len: usize,
) -> LeafLayout {
    let head = varint::len(key_len as u64) + key_len;
    if !table {
        return LeafLayout {
            size: head,
            local: 0,
            overflow: false,
        };
    }
    let head = head + varint::len(value_len as u64);
    let max_cell = max_cell(page_size);
    if SLOT_SIZE + head + value_len <= max_cell {
        return LeafLayout {
            size: head + value_len,
            local: value_len,
            overflow: false,
        };
    }
    // As in SQLite: keep at least `min_local` locally, and more when that
    // makes the overflow part fill its last page exactly.
    let max_local = max_cell - SLOT_SIZE - head - 8;
    let min_local = max_local.min(usable(page_size) / 16);
    let chunk = page_size - OVERFLOW_HEADER;
    let surplus = min_local + (value_len - min_local) % chunk;
    let local = if surplus <= max_local {
        surplus
    } else {
        min_local
    };
    LeafLayout {
        size: head + local + 8,
        local,
        overflow: true,
    }
}

/// Size of an interior cell holding `key`.
#[cfg(test)]
pub(super) fn interior_cell_size(key_len: usize) -> usize {
    8 + varint::len(key_len as u64) + key_len
}

/// Decodes a varint length at `at`; `None` when it is truncated, not in
/// shortest form, or above [`MAX_VALUE_LEN`] (no key or value is longer).
/// The bound keeps `offset + length` within a 32-bit `usize` on wasm32.
#[inline]
pub(super) fn get_len(p: &[u8], at: usize) -> Option<(usize, usize)> {
    let (v, n) = varint::read(p, at)?;
    if v > MAX_VALUE_LEN as u64 {
        return None;
    }
    Some((v as usize, n))
}

/// Writes a table leaf cell; `local` is the value prefix kept in the cell.
pub(super) fn write_leaf_cell(
    dst: &mut [u8],
    key: &[u8],
    value_len: usize,
    local: &[u8],
    overflow: PageId,
) {
    let mut at = varint::write(dst, key.len() as u64);
    dst[at..at + key.len()].copy_from_slice(key);
    at += key.len();
    at += varint::write(&mut dst[at..], value_len as u64);
    dst[at..at + local.len()].copy_from_slice(local);
    at += local.len();
    if overflow != 0 {
        dst[at..at + 8].copy_from_slice(&overflow.to_le_bytes());
    }
}

/// Writes an index leaf cell.
pub(super) fn write_index_cell(dst: &mut [u8], key: &[u8]) {
    let at = varint::write(dst, key.len() as u64);
    dst[at..at + key.len()].copy_from_slice(key);
}

/// Appends an interior cell to `out`.
pub(super) fn push_interior_cell(out: &mut Vec<u8>, child: PageId, key: &[u8]) {
    out.extend_from_slice(&child.to_le_bytes());
    varint::push(out, key.len() as u64);
    out.extend_from_slice(key);
}

/// The key inside a cell's bytes (as copied out of a page).
pub(super) fn cell_key(cell: &[u8], interior: bool) -> Result<&[u8]> {
    let at = if interior { 8 } else { 0 };
    let (len, n) = get_len(cell, at).ok_or_else(|| corruption!("bad cell key length"))?;
    cell.get(at + n..at + n + len)
        .ok_or_else(|| corruption!("cell key runs past its cell"))
}

/// The child id of an interior cell's bytes.
pub(super) fn cell_child(cell: &[u8]) -> PageId {
    u64::from_le_bytes(cell[..8].try_into().expect("interior cell has a child"))
}

/// A decoded table leaf cell.
pub(super) struct LeafCell<'a> {
    pub value_len: usize,
    pub local: &'a [u8],
    /// First overflow page, 0 when the value is all local.
    pub overflow: PageId,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::node::max_key_len;
    use crate::btree::MAX_VALUE_LEN;

    #[test]
    fn lengths_round_trip_up_to_the_largest_value() {
        for v in [0u64, 1, 127, 128, 16383, 16384, MAX_VALUE_LEN as u64] {
            let mut buf = [0u8; 10];
            let n = varint::write(&mut buf, v);
            assert_eq!(get_len(&buf, 0), Some((v as usize, n)));
        }
        assert_eq!(get_len(&[0x80, 0x80], 0), None);
        assert_eq!(get_len(&[0xff; 6], 0), None, "over-long varint");
        assert_eq!(get_len(&[0x80, 0x00], 0), None, "non-canonical");
        let mut big = [0u8; 10];
        varint::write(&mut big, MAX_VALUE_LEN as u64 + 1);
        assert_eq!(get_len(&big, 0), None, "longer than any value");
    }

    #[test]
    fn leaf_layout_spills_big_values() {
        let small = leaf_layout(1024, true, 8, 100);
        assert_eq!(
            small,
            LeafLayout {
                size: 1 + 8 + 1 + 100,
                local: 100,
                overflow: false
            }
        );
        let big = leaf_layout(1024, true, 8, 10_000);
        assert!(big.overflow);
        assert!(big.size + SLOT_SIZE <= max_cell(1024));
        // Either the minimum is kept locally or the rest fills whole pages.
        let rest = 10_000 - big.local;
        let chunk = 1024 - OVERFLOW_HEADER;
        assert!(big.local >= usable(1024) / 16 || rest / chunk * chunk == rest);
        let longest = leaf_layout(1024, true, max_key_len(1024), MAX_VALUE_LEN);
        assert!(longest.size + SLOT_SIZE <= max_cell(1024));
        for ps in [1024usize, 4096, 65536] {
            assert!(interior_cell_size(max_key_len(ps)) + SLOT_SIZE <= max_cell(ps));
            assert!(
                leaf_layout(ps, true, max_key_len(ps), 1 << 20).size + SLOT_SIZE <= max_cell(ps)
            );
        }
    }
}
