//! Key heads: an in-memory search index beside a cached node page.
//!
//! A binary search over the slot array touches a different cell, so a
//! different cache line, at every probe: on a 4 KiB page that is most of
//! the cost of a lookup. Keys of one page share a prefix (all of them lie
//! between the page's first and last key), so for a page read often we keep
//! beside it, in the pager's derived words ([`PageRef::derived`]):
//!
//! ```text
//!   words: [ n | count | interior ][ head(0) .. head(count-1) ][ prefix bytes, 4 a word ]
//!          [ child ids ]                                        (interior pages)
//!   n = the keys' common prefix length, head(i) = key(i)[n .. n+4] as a
//!   big-endian u32, zero-padded
//! ```
//!
//! A search compares the probed key's prefix once, then binary-searches
//! the heads (a few contiguous cache lines), and reads a cell only when a
//! head ties; a descent through an interior page takes the child id from
//! the words too, so it touches the page itself only on a tie. Sound because for keys that share the `n`-byte prefix a
//! strict head order is the key order: at the first differing byte of the
//! heads either both keys have a byte there (so they differ there) or the
//! shorter key ended, padded with 0, which sorts first as the shorter key
//! does. Equal heads decide nothing and fall back to the full compare.
//!
//! Nothing here is stored: the words are derived from a validated page and
//! the pager drops them at any write to it, so they never describe other
//! bytes than the page's. They cost 4 bytes a cell beside a cached page,
//! and 8 more a child on interior pages (about 1 page in 100): 5 to 20 %
//! of a leaf for typical rows and index entries, a third for the smallest
//! cells. Only pages read [`INDEX_AFTER_READS`] times since their last
//! write have them.

use std::cmp::Ordering;

use super::node::{compare, Node};
use super::BTree;
use crate::error::Result;
use crate::pager::PageRef;
use crate::store::PageId;

/// Longest prefix kept: past it heads start inside the prefix, which is
/// still sound (a shorter prefix is a prefix too), only less selective.
const MAX_PREFIX: usize = 32;

/// A page is indexed once it was read this many times since its last
/// write: pages written about as often as read (a leaf under a bulk load)
/// would rebuild the index for nothing.
pub(super) const INDEX_AFTER_READS: u32 = 2;

/// The head of `key` after an `n`-byte prefix.
#[inline]
fn head(key: &[u8], n: usize) -> u32 {
    let mut b = [0u8; 4];
    let tail = key.get(n..).unwrap_or(&[]);
    let len = tail.len().min(4);
    b[..len].copy_from_slice(&tail[..len]);
    u32::from_be_bytes(b)
}

/// Bits of the first word: prefix length, cell count, interior flag.
const PREFIX_BITS: u32 = 0xFF;
const COUNT_SHIFT: u32 = 8;
const INTERIOR: u32 = 1 << 31;

/// The layout of one page's words.
struct Layout {
    /// Prefix length.
    n: usize,
    count: usize,
    interior: bool,
}

impl Layout {
    #[inline]
    fn of(words: &[u32]) -> Layout {
        let w = words[0];
        Layout {
            n: (w & PREFIX_BITS) as usize,
            count: ((w & !INTERIOR) >> COUNT_SHIFT) as usize,
            interior: w & INTERIOR != 0,
        }
    }

    /// Index of the first prefix word; the child ids follow the prefix.
    #[inline]
    fn prefix_at(&self) -> usize {
        1 + self.count
    }

    #[inline]
    fn children_at(&self) -> usize {
        self.prefix_at() + self.n.div_ceil(4)
    }
}

/// Writes the index of `node` into `out` (emptied by the caller):
///
/// ```text
///   [ n | count << 8 | interior << 31 ][ head(i) x count ][ prefix, 4 bytes a word ]
///   [ child(c) as (low, high) x (count + 1) ]   interior pages only
/// ```
///
/// With the child ids here a descent through an indexed interior page
/// reads neither its header nor its cells, unless heads tie.
pub(super) fn build(node: &Node<'_>, out: &mut Vec<u32>) -> Result<()> {
    let n = match node.count {
        0 => 0,
        c => {
            let (first, last) = (node.key(0)?, node.key(c - 1)?);
            let common = first.iter().zip(last).take_while(|(a, b)| a == b).count();
            common.min(MAX_PREFIX)
        }
    };
    let interior = !node.is_leaf();
    let children = if interior { 2 * (node.count + 1) } else { 0 };
    out.reserve(1 + node.count + n.div_ceil(4) + children);
    let flag = if interior { INTERIOR } else { 0 };
    out.push(n as u32 | (node.count as u32) << COUNT_SHIFT | flag);
    for i in 0..node.count {
        out.push(head(node.key(i)?, n));
    }
    if n > 0 {
        let prefix = &node.key(0)?[..n];
        out.extend(prefix.chunks(4).map(|c| head(c, 0)));
    }
    if interior {
        for c in 0..=node.count {
            let id = node.child(c)?;
            out.extend([id as u32, (id >> 32) as u32]);
        }
    }
    Ok(())
}

/// [`Node::search`] through the index `words` of `node`: the same answer.
#[inline]
pub(super) fn search(node: &Node<'_>, words: &[u32], key: &[u8]) -> Result<(usize, bool)> {
    debug_assert_eq!(Layout::of(words).count, node.count, "stale key heads");
    position(words, key, |i| node.key(i))
}

/// For an indexed interior page, the child whose range holds `key`, as
/// its index and page id; `None` for a leaf. `key_at` reads key `i` from
/// the page, needed only when heads tie.
#[inline]
pub(super) fn route<'a>(
    words: &[u32],
    key: &[u8],
    key_at: impl FnMut(usize) -> Result<&'a [u8]>,
) -> Result<Option<(usize, PageId)>> {
    let layout = Layout::of(words);
    if !layout.interior {
        return Ok(None);
    }
    let (i, eq) = position(words, key, key_at)?;
    // Child i holds the keys below key i: an equal key goes right.
    let c = if eq { i + 1 } else { i };
    let at = layout.children_at() + 2 * c;
    let id = u64::from(words[at]) | u64::from(words[at + 1]) << 32;
    Ok(Some((c, id)))
}

/// Position of the first key `>= key` among the page's keys, and whether
/// it equals `key`.
#[inline]
fn position<'a>(
    words: &[u32],
    key: &[u8],
    mut key_at: impl FnMut(usize) -> Result<&'a [u8]>,
) -> Result<(usize, bool)> {
    let layout = Layout::of(words);
    let (n, count) = (layout.n, layout.count);
    if n > 0 {
        let mut prefix = [0u8; MAX_PREFIX];
        let words = &words[layout.prefix_at()..layout.children_at()];
        for (bytes, w) in prefix.chunks_mut(4).zip(words) {
            bytes.copy_from_slice(&w.to_be_bytes());
        }
        let m = key.len().min(n);
        match key[..m].cmp(&prefix[..m]) {
            Ordering::Less => return Ok((0, false)),
            Ordering::Greater => return Ok((count, false)),
            // A proper prefix of the page's prefix: shorter, so first.
            Ordering::Equal if m < n => return Ok((0, false)),
            Ordering::Equal => {}
        }
    }
    let target = head(key, n);
    let heads = &words[1..1 + count];
    let (mut lo, mut hi) = (0, count);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let order = match heads[mid].cmp(&target) {
            Ordering::Equal => compare(key_at(mid)?, key),
            other => other,
        };
        match order {
            Ordering::Less => lo = mid + 1,
            Ordering::Greater => hi = mid,
            Ordering::Equal => return Ok((mid, true)),
        }
    }
    Ok((lo, false))
}

/// How a tree searches its pages: through their heads where they have
/// them, building them for pages read often.
impl BTree {
    /// [`Node::search`] on `node`, the bytes of a page about to be written
    /// (an insert's leaf): through its heads if it has them, but it is not
    /// counted as a read, since building heads that the write drops at once
    /// is wasted (an UPDATE reads its row, then writes it at commit).
    #[inline]
    pub(super) fn search_to_write(
        &self,
        page: &PageRef,
        node: &Node<'_>,
        key: &[u8],
    ) -> Result<(usize, bool)> {
        let words = page.derived();
        if words.is_empty() {
            return node.search(key);
        }
        search(node, &words, key)
    }

    /// [`Node::search`] on `node`, the bytes of `page`: through the page's
    /// key heads when it has them (see `heads`), building them once the
    /// page has been read often enough since its last write.
    #[inline]
    pub(super) fn search(
        &self,
        page: &PageRef,
        node: &Node<'_>,
        key: &[u8],
    ) -> Result<(usize, bool)> {
        if page.derived().is_empty() && page.count_read() >= INDEX_AFTER_READS {
            page.derive(|out| build(node, out))?;
        }
        self.search_to_write(page, node, key)
    }

    /// For an interior page with key heads, the child (index and id) whose
    /// range holds `key`, found without reading the page unless heads tie;
    /// `None` for a leaf or a page without heads.
    #[inline]
    pub(super) fn route(
        &self,
        page: &PageRef,
        id: PageId,
        p: &[u8],
        key: &[u8],
    ) -> Result<Option<(usize, PageId)>> {
        let words = page.derived();
        if words.is_empty() {
            return Ok(None);
        }
        let mut node = None;
        route(&words, key, |i| {
            let node = match node {
                Some(node) => node,
                None => *node.insert(self.node(id, p)?),
            };
            node.key(i)
        })
    }

    /// Index of the child whose range holds `key` (interior pages): child
    /// `i` holds keys below key `i`, so a key equal to it goes right.
    #[inline]
    pub(super) fn child_index(&self, page: &PageRef, node: &Node<'_>, key: &[u8]) -> Result<usize> {
        let (i, eq) = self.search(page, node, key)?;
        Ok(if eq { i + 1 } else { i })
    }
}

#[cfg(test)]
mod tests {
    use super::super::cell::{leaf_layout, write_index_cell};
    use super::super::node::{init, reserve, NodeKind};
    use super::*;
    use crate::pager::PageRef;
    use proptest::prelude::*;

    fn page(keys: &[Vec<u8>]) -> Vec<u8> {
        let mut p = vec![0u8; 4096];
        init(&mut p, NodeKind::IndexLeaf);
        let mut sorted = keys.to_vec();
        sorted.sort();
        sorted.dedup();
        for (i, k) in sorted.iter().enumerate() {
            let size = leaf_layout(p.len(), false, k.len(), 0).size;
            let off = reserve(&mut p, i, size).unwrap().expect("the keys fit");
            write_index_cell(&mut p[off..], k);
        }
        p
    }

    fn agree(keys: &[Vec<u8>], probes: &[Vec<u8>]) {
        let p = page(keys);
        let node = Node::new(1, &p).unwrap();
        let mut words = Vec::new();
        build(&node, &mut words).unwrap();
        for probe in probes.iter().chain(keys) {
            assert_eq!(
                search(&node, &words, probe).unwrap(),
                node.search(probe).unwrap(),
                "probe {probe:?} in {keys:?}"
            );
        }
    }

    #[test]
    fn integer_keys_and_the_edges_of_the_prefix() {
        let key = |i: u64| {
            let mut k = vec![0x15];
            k.extend_from_slice(&i.to_be_bytes());
            k
        };
        let keys: Vec<Vec<u8>> = (1000..1040).map(key).collect();
        let mut probes: Vec<Vec<u8>> = (990..1050).map(key).collect();
        probes.extend([
            vec![],
            vec![0x15],
            vec![0x14, 0xFF],
            vec![0x16],
            key(0),
            key(u64::MAX),
        ]);
        // Shorter than the prefix but equal so far, and longer than a key.
        probes.push(key(1000)[..5].to_vec());
        probes.push([key(1003), vec![0]].concat());
        agree(&keys, &probes);
    }

    #[test]
    fn keys_that_tie_on_their_heads() {
        let keys: Vec<Vec<u8>> = [
            "user:0001:a",
            "user:0001:b",
            "user:0001",
            "user:00",
            "user:0002:zz",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let probes: Vec<Vec<u8>> = [
            "user:0001:",
            "user:0001:c",
            "user:",
            "user:000",
            "user:0003",
            "v",
            "",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        agree(&keys, &probes);
        agree(&[], &probes);
        agree(&keys[..1], &probes);
    }

    #[test]
    fn trees_index_pages_read_often_and_drop_the_index_at_a_write() {
        use super::super::testutil::mem_pager;
        use super::super::{BTree, TreeKind};
        let mut pager = mem_pager(1024);
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        let key = |i: u64| (i * 7919 % 4000).to_be_bytes();
        for i in 0..2000 {
            tree.insert(&mut pager, &key(i), &i.to_le_bytes()).unwrap();
        }
        let root = pager.read(tree.root).unwrap();
        // The invariant: an index, when there is one, is that of the bytes.
        let fresh = |page: &PageRef| {
            let mut words = Vec::new();
            build(&Node::new(tree.root, &page.borrow()).unwrap(), &mut words).unwrap();
            words
        };
        let mut dropped = 0;
        for round in 0..3u64 {
            // Reads build the index of the root (and of every hot page) ...
            for _ in 0..INDEX_AFTER_READS {
                for i in (0..4000).step_by(97) {
                    let got = tree.get(&mut pager, &key(i)).unwrap();
                    let want = (i < 2000 + 500 * round).then(|| i.to_le_bytes().to_vec());
                    assert_eq!(got, want, "round {round} key {i}");
                }
            }
            assert_eq!(
                &*root.derived(),
                &fresh(&root)[..],
                "round {round}: a hot root is indexed"
            );
            // The root is interior: routes agree with the page's own.
            let p = root.borrow();
            let node = Node::new(tree.root, &p).unwrap();
            assert!(!node.is_leaf());
            for probe in (0..4100).map(key) {
                let (i, eq) = node.search(&probe).unwrap();
                let c = if eq { i + 1 } else { i };
                let route = route(&root.derived(), &probe, |i| node.key(i)).unwrap();
                assert_eq!(route, Some((c, node.child(c).unwrap())), "round {round}");
            }
            drop(p);
            // ... writes to a page drop its index, reads build it again.
            for i in 2000 + 500 * round..2500 + 500 * round {
                tree.insert(&mut pager, &key(i), &i.to_le_bytes()).unwrap();
                let words = root.derived().to_vec();
                if words.is_empty() {
                    dropped += 1;
                } else {
                    assert_eq!(
                        words,
                        fresh(&root),
                        "round {round}: the root's index is current"
                    );
                }
            }
        }
        assert!(
            dropped > 0,
            "the root was written, so its index was dropped"
        );
        tree.check(&mut pager).unwrap();
    }

    proptest! {
        #[test]
        fn agrees_with_the_plain_search(
            prefix in proptest::collection::vec(any::<u8>(), 0..40),
            tails in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..7), 0..60),
            probes in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..48), 0..40),
        ) {
            let keys: Vec<Vec<u8>> = tails.iter().map(|t| [prefix.clone(), t.clone()].concat()).collect();
            let mut probes = probes;
            probes.extend(keys.iter().map(|k| k[..k.len() / 2].to_vec()));
            probes.extend(probes.clone().iter().map(|p| [prefix.clone(), p.clone()].concat()));
            agree(&keys, &probes);
        }
    }
}
