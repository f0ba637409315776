//! Overflow chains: the part of a large value that does not fit its cell.
//!
//! ```text
//!  leaf cell [key | value_len | local prefix | first] -> page A -> page B -> 0
//!  overflow page: 0 crc u32 | 4 kind u8 = 6 | 5 zero[3] | 8 next u64 | 16 data ...
//! ```
//!
//! The chain length is implied by the value length (`ceil(rest / (page
//! size - 16))` pages), so every walk is bounded and a chain that is too
//! short, too long, or passes through a non-overflow page is corruption.

use super::node::{u64_at, KIND_OVERFLOW, OVERFLOW_HEADER};
use crate::corruption;
use crate::error::Result;
use crate::pager::{PageMut, Pager, KIND_OFFSET};
use crate::store::PageId;

const NEXT: usize = 8;

/// Bytes of value data per overflow page.
pub(super) fn chunk(page_size: usize) -> usize {
    page_size - OVERFLOW_HEADER
}

/// Number of pages a chain holding `len` bytes uses.
pub(super) fn pages_for(page_size: usize, len: usize) -> usize {
    len.div_ceil(chunk(page_size))
}

/// Writes `data` (non-empty) to a new chain and returns its first page.
pub(super) fn write_chain(pager: &mut Pager, data: &[u8]) -> Result<PageId> {
    let mut first = 0;
    let mut prev: Option<PageMut> = None;
    for piece in data.chunks(chunk(pager.page_size())) {
        let (id, page) = pager.allocate()?;
        {
            let mut p = page.borrow_mut();
            p[KIND_OFFSET] = KIND_OVERFLOW;
            p[OVERFLOW_HEADER..OVERFLOW_HEADER + piece.len()].copy_from_slice(piece);
        }
        match prev {
            Some(prev) => prev.borrow_mut()[NEXT..NEXT + 8].copy_from_slice(&id.to_le_bytes()),
            None => first = id,
        }
        prev = Some(page);
    }
    Ok(first)
}

/// Appends the `len` bytes of the chain starting at `first` to `out`.
pub(super) fn read_chain(
    pager: &mut Pager,
    first: PageId,
    len: usize,
    out: &mut Vec<u8>,
) -> Result<()> {
    out.reserve(len.min(1 << 24));
    let chunk = chunk(pager.page_size());
    walk(pager, first, len, |p, remaining| {
        let take = remaining.min(chunk);
        out.extend_from_slice(&p[OVERFLOW_HEADER..OVERFLOW_HEADER + take]);
    })
}

/// The pages of the chain starting at `first` holding `len` bytes.
pub(super) fn chain_pages(
    pager: &mut Pager,
    first: PageId,
    len: usize,
    out: &mut Vec<PageId>,
) -> Result<()> {
    let mut id = first;
    walk(pager, first, len, |p, _| {
        out.push(id);
        id = u64_at(p, NEXT);
    })
}

/// Frees the chain starting at `first` holding `len` bytes.
pub(super) fn free_chain(pager: &mut Pager, first: PageId, len: usize) -> Result<()> {
    let mut pages = Vec::with_capacity(pages_for(pager.page_size(), len));
    chain_pages(pager, first, len, &mut pages)?;
    for id in pages {
        pager.free(id)?;
    }
    Ok(())
}

/// Visits each page of a chain with the bytes still to read at that page.
fn walk(
    pager: &mut Pager,
    first: PageId,
    len: usize,
    mut visit: impl FnMut(&[u8], usize),
) -> Result<()> {
    let chunk = chunk(pager.page_size());
    let mut id = first;
    let mut remaining = len;
    while remaining > 0 {
        if id == 0 {
            return Err(corruption!(
                "overflow chain from page {first} ends {remaining} bytes early"
            ));
        }
        let page = pager.read(id)?;
        let p = page.borrow();
        if p[KIND_OFFSET] != KIND_OVERFLOW {
            return Err(corruption!(
                "page {id} in the overflow chain from {first} is not an overflow page"
            ));
        }
        visit(&p, remaining);
        remaining -= remaining.min(chunk);
        id = u64_at(&p, NEXT);
    }
    if id != 0 {
        return Err(corruption!(
            "overflow chain from page {first} is longer than its value"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::testutil::mem_pager;
    use crate::error::Error;

    fn pager() -> Pager {
        mem_pager(1024)
    }

    #[test]
    fn chains_round_trip_and_free() {
        let mut pager = pager();
        for len in [1usize, 1007, 1008, 1009, 5000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let first = write_chain(&mut pager, &data).unwrap();
            let mut back = b"pre".to_vec();
            read_chain(&mut pager, first, len, &mut back).unwrap();
            assert_eq!(&back[3..], &data[..]);
            let mut pages = Vec::new();
            chain_pages(&mut pager, first, len, &mut pages).unwrap();
            assert_eq!(pages.len(), pages_for(1024, len));
            let free = pager.free_count();
            free_chain(&mut pager, first, len).unwrap();
            assert_eq!(pager.free_count(), free + pages.len() as u64);
        }
    }

    #[test]
    fn wrong_lengths_are_corruption() {
        let mut pager = pager();
        let first = write_chain(&mut pager, &[9u8; 3000]).unwrap();
        assert!(matches!(
            read_chain(&mut pager, first, 4000, &mut Vec::new()),
            Err(Error::Corruption(_))
        ));
        assert!(matches!(
            read_chain(&mut pager, first, 1000, &mut Vec::new()),
            Err(Error::Corruption(_))
        ));
        let (other, _) = pager.allocate().unwrap();
        assert!(matches!(
            read_chain(&mut pager, other, 10, &mut Vec::new()),
            Err(Error::Corruption(_))
        ));
    }
}
