//! B+trees of byte-string keys in memcmp order, stored in pager pages.
//!
//! ```text
//!                  root (page id fixed for the tree's life)
//!                 [ k3 | k7 ]  + right child
//!                /     |      \
//!     [k1 k2] leaf  [k3 k5] leaf  [k7 k8 k9] leaf ── overflow chains for
//!                                                    large values
//! ```
//!
//! * *Table* trees map keys to values (any size up to 1 GiB: big values
//!   spill to overflow chains); *index* trees hold keys only.
//! * All leaves are at the same depth; interior pages hold separator keys
//!   (shortest prefixes that separate two neighbouring leaves) and child
//!   ids. Every non-root page holds at least one key.
//! * The root page id never changes: a root split moves the root's content
//!   to a new child and makes the root its parent; when the root is left
//!   with a single child, the child's content moves back up.
//! * Inserts and updates modify pages in place; a full page splits. When
//!   the insert is at the end of the rightmost leaf (appending ascending
//!   keys), the split leaves the old page full and starts a new one, so a
//!   bulk load of sorted keys fills pages nearly completely (as SQLite's
//!   "quick balance").
//! * A delete that leaves a page under a third full merges it with a
//!   sibling when both fit in one page, or else redistributes their cells.
//!   Freed pages go to the pager's free list.
//!
//! A [`BTree`] is a `Copy` handle (root id and kind); every operation takes
//! the [`Pager`], so several trees share one pager and one cache.
//!
//! Errors: bad input is refused before anything changes. Damaged pages
//! (`Corruption`) or a failing store (`Io`) met in the middle of a change
//! can leave the in-memory pages of a tree half-changed; the caller must
//! then not checkpoint, but drop the pager and reopen from the store, which
//! still holds the last checkpoint (the transaction layer poisons itself
//! for this reason).

mod cell;
mod check;
mod cursor;
mod delete;
mod heads;
mod insert;
mod node;
mod overflow;
mod split;
#[cfg(test)]
mod testutil;

use std::fmt;

pub use check::TreeStats;
pub use cursor::Cursor;
pub use insert::InsertHint;
pub use node::{max_key_len, MAX_VALUE_LEN};
use node::{Node, NodeKind};

use crate::corruption;
use crate::error::{Error, Result};
use crate::pager::{PageMut, PageRef, Pager};
use crate::store::PageId;

/// What a tree stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeKind {
    /// Key/value pairs.
    Table,
    /// Keys only: values must be empty and take no space.
    Index,
}

/// A handle on one B+tree in a pager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BTree {
    root: PageId,
    kind: TreeKind,
}

/// Deepest tree accepted; a legitimate tree (every interior page has two or
/// more children) never comes close, so deeper means a cycle: corruption.
pub(crate) const MAX_DEPTH: usize = 40;

/// One step of a root-to-leaf descent.
#[derive(Clone, Copy, Default)]
struct Level {
    id: PageId,
    /// Child index taken (interior pages) or cell position (leaf).
    idx: usize,
    /// The page is on the right edge of the tree.
    edge: bool,
}

/// The pages from the root to a leaf.
struct Path {
    levels: [Level; MAX_DEPTH],
    len: usize,
}

impl Path {
    fn new() -> Path {
        Path {
            levels: [Level::default(); MAX_DEPTH],
            len: 0,
        }
    }

    fn leaf(&self) -> Level {
        self.levels[self.len - 1]
    }
}

impl BTree {
    /// Creates an empty tree in a new page.
    pub fn create(pager: &mut Pager, kind: TreeKind) -> Result<BTree> {
        let (root, page) = pager.allocate()?;
        node::init(
            &mut page.borrow_mut(),
            NodeKind::leaf(kind == TreeKind::Table),
        );
        Ok(BTree { root, kind })
    }

    /// Opens the tree rooted at `root`, checking that it is a B-tree page.
    pub fn open(pager: &mut Pager, root: PageId) -> Result<BTree> {
        let page = pager.read(root)?;
        let kind = match Node::new(root, &page.borrow())?.kind.is_table() {
            true => TreeKind::Table,
            false => TreeKind::Index,
        };
        let tree = BTree { root, kind };
        tree.load(pager, root)?;
        Ok(tree)
    }

    /// The root page id, stable for the tree's whole life.
    pub fn root(&self) -> PageId {
        self.root
    }

    /// Whether the tree holds values.
    pub fn kind(&self) -> TreeKind {
        self.kind
    }

    fn is_table(&self) -> bool {
        self.kind == TreeKind::Table
    }

    /// Page `id` of this tree for reading, validated in full the first
    /// time it is used after being loaded from the store.
    #[inline]
    fn load(&self, pager: &mut Pager, id: PageId) -> Result<PageRef> {
        let page = pager.read(id)?;
        if !page.is_checked() {
            node::validate(id, &page.borrow(), self.is_table())?;
            page.set_checked();
        }
        Ok(page)
    }

    /// Page `id` of this tree for writing (marked dirty), validated like
    /// [`BTree::load`].
    #[inline]
    fn load_mut(&self, pager: &mut Pager, id: PageId) -> Result<PageMut> {
        let page = pager.write(id)?;
        if !page.is_checked() {
            node::validate(id, &page.borrow(), self.is_table())?;
            page.set_checked();
        }
        Ok(page)
    }

    /// A checked view of page `id` as a node of this tree.
    #[inline]
    fn node<'a>(&self, id: PageId, p: &'a [u8]) -> Result<Node<'a>> {
        let node = Node::new(id, p)?;
        if node.kind.is_table() != self.is_table() {
            return Err(corruption!(
                "page {id} belongs to another kind of tree than root {}",
                self.root
            ));
        }
        Ok(node)
    }

    /// Calls `f` with the value stored under `key` (empty for an index
    /// tree), in place unless it spills to overflow pages, and returns what
    /// `f` returns; `None` when the key is absent.
    pub fn get_with<T>(
        &self,
        pager: &mut Pager,
        key: &[u8],
        f: impl FnOnce(&[u8]) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut id = self.root;
        for _ in 0..MAX_DEPTH {
            let page = self.load(pager, id)?;
            let p = page.borrow();
            if let Some((_, child)) = self.route(&page, id, &p, key)? {
                id = child;
                continue;
            }
            let node = self.node(id, &p)?;
            if !node.is_leaf() {
                id = node.child(self.child_index(&page, &node, key)?)?;
                continue;
            }
            let (i, found) = self.search(&page, &node, key)?;
            if !found {
                return Ok(None);
            }
            if !self.is_table() {
                return f(&[]).map(Some);
            }
            let cell = node.leaf_cell(i)?;
            if cell.overflow == 0 {
                return f(cell.local).map(Some);
            }
            return f(&read_value(pager, &node, i)?).map(Some);
        }
        Err(corruption!(
            "tree {} is deeper than {MAX_DEPTH} levels",
            self.root
        ))
    }

    /// The value stored under `key` (empty for an index tree).
    pub fn get(&self, pager: &mut Pager, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_with(pager, key, |value| Ok(value.to_vec()))
    }

    /// Stores `value` under `key`, returning the previous value.
    pub fn insert(&self, pager: &mut Pager, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_insert(pager, key, value)?;
        insert::insert(self, pager, key, value)
    }

    /// [`BTree::insert`] for batches of ascending keys: when `key` belongs
    /// in the leaf the previous insert through `hint` used, and no page
    /// changed since, the descent from the root is skipped. Any key order
    /// is correct; only ascending runs are faster.
    pub fn insert_hinted(
        &self,
        pager: &mut Pager,
        key: &[u8],
        value: &[u8],
        hint: &mut InsertHint,
    ) -> Result<Option<Vec<u8>>> {
        self.check_insert(pager, key, value)?;
        insert::insert_hinted(self, pager, key, value, hint)
    }

    /// Refuses an insert that breaks the tree's limits, before any change.
    fn check_insert(&self, pager: &Pager, key: &[u8], value: &[u8]) -> Result<()> {
        let max = max_key_len(pager.page_size());
        if key.len() > max {
            return Err(Error::LimitExceeded(format!(
                "key of {} bytes exceeds the maximum of {max}",
                key.len()
            )));
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(Error::LimitExceeded(format!(
                "value of {} bytes exceeds {MAX_VALUE_LEN}",
                value.len()
            )));
        }
        if !self.is_table() && !value.is_empty() {
            return Err(Error::InvalidInput(format!(
                "index tree {} stores keys only",
                self.root
            )));
        }
        Ok(())
    }

    /// Removes `key`, returning its value.
    pub fn delete(&self, pager: &mut Pager, key: &[u8]) -> Result<Option<Vec<u8>>> {
        delete::delete(self, pager, key)
    }

    /// Frees every page of the tree, overflow pages included. The pages are
    /// all collected (and checked) before the first is freed, so a damaged
    /// tree fails without freeing anything.
    pub fn destroy(self, pager: &mut Pager) -> Result<()> {
        let pages = check::collect_pages(&self, pager)?;
        for id in pages {
            pager.free(id)?;
        }
        Ok(())
    }

    /// Checks the whole tree: page kinds, key order, separator bounds,
    /// uniform depth, overflow chains, space accounting, and that no page
    /// is reached twice.
    pub fn check(&self, pager: &mut Pager) -> Result<TreeStats> {
        check::check(self, pager)
    }

    /// Root-to-leaf path for `key`; each interior level records the child
    /// taken.
    fn descend(&self, pager: &mut Pager, key: &[u8]) -> Result<Path> {
        let mut path = Path::new();
        self.descend_into(pager, key, &mut path, None)?;
        Ok(path)
    }

    /// [`BTree::descend`] into `path`. With `upper`, also sets it to the
    /// exclusive upper bound of the leaf's key range (the separator of the
    /// nearest ancestor not entered through its right child), or `None` on
    /// the right edge of the tree.
    fn descend_into(
        &self,
        pager: &mut Pager,
        key: &[u8],
        path: &mut Path,
        mut upper: Option<&mut Option<Vec<u8>>>,
    ) -> Result<()> {
        path.len = 0;
        if let Some(upper) = upper.as_deref_mut() {
            *upper = None;
        }
        let mut id = self.root;
        let mut edge = true;
        loop {
            if path.len == MAX_DEPTH {
                return Err(corruption!(
                    "tree {} is deeper than {MAX_DEPTH} levels",
                    self.root
                ));
            }
            let page = self.load(pager, id)?;
            let p = page.borrow();
            let node = self.node(id, &p)?;
            if node.is_leaf() {
                path.levels[path.len] = Level { id, idx: 0, edge };
                path.len += 1;
                return Ok(());
            }
            let c = self.child_index(&page, &node, key)?;
            if let Some(upper) = upper.as_deref_mut() {
                // Deeper separators are tighter: the last one set wins.
                if c < node.count {
                    let bound = upper.get_or_insert_with(Vec::new);
                    bound.clear();
                    bound.extend_from_slice(node.key(c)?);
                }
            }
            path.levels[path.len] = Level { id, idx: c, edge };
            path.len += 1;
            edge &= c == node.count;
            id = node.child(c)?;
        }
    }
}

impl fmt::Display for BTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} tree at page {}", self.kind, self.root)
    }
}

/// The whole value of table leaf cell `i`, following its overflow chain.
fn read_value(pager: &mut Pager, node: &Node<'_>, i: usize) -> Result<Vec<u8>> {
    let cell = node.leaf_cell(i)?;
    let mut value = Vec::with_capacity(cell.local.len());
    value.extend_from_slice(cell.local);
    if cell.overflow != 0 {
        overflow::read_chain(
            pager,
            cell.overflow,
            cell.value_len - cell.local.len(),
            &mut value,
        )?;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::ops::Bound;

    use super::*;
    use crate::btree::testutil::mem_pager;
    use crate::pager::PagerConfig;
    use crate::store::MemPageStore;

    fn pager(page_size: u32) -> Pager {
        mem_pager(page_size)
    }

    fn key(i: u64) -> [u8; 8] {
        i.to_be_bytes()
    }

    /// A scrambled but repeatable order of 0..n.
    fn scrambled(n: u64) -> Vec<u64> {
        (0..n).map(|i| (i * 7919) % n).collect()
    }

    #[test]
    fn insert_get_overwrite_delete() {
        let mut pager = pager(1024);
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        assert_eq!(tree.insert(&mut pager, b"b", b"2").unwrap(), None);
        assert_eq!(tree.insert(&mut pager, b"a", b"1").unwrap(), None);
        assert_eq!(tree.insert(&mut pager, b"", b"empty key").unwrap(), None);
        assert_eq!(tree.get(&mut pager, b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(
            tree.get(&mut pager, b"").unwrap(),
            Some(b"empty key".to_vec())
        );
        assert_eq!(
            tree.insert(&mut pager, b"a", b"one").unwrap(),
            Some(b"1".to_vec())
        );
        assert_eq!(
            tree.insert(&mut pager, b"a", b"uno").unwrap(),
            Some(b"one".to_vec())
        );
        assert_eq!(tree.get(&mut pager, b"a").unwrap(), Some(b"uno".to_vec()));
        assert_eq!(
            tree.delete(&mut pager, b"a").unwrap(),
            Some(b"uno".to_vec())
        );
        assert_eq!(tree.delete(&mut pager, b"a").unwrap(), None);
        assert_eq!(tree.get(&mut pager, b"a").unwrap(), None);
        assert_eq!(tree.get(&mut pager, b"c").unwrap(), None);
        assert_eq!(tree.check(&mut pager).unwrap().keys, 2);
    }

    #[test]
    fn index_trees_hold_keys_only() {
        let mut pager = pager(1024);
        let tree = BTree::create(&mut pager, TreeKind::Index).unwrap();
        assert!(matches!(
            tree.insert(&mut pager, b"k", b"v"),
            Err(Error::InvalidInput(_))
        ));
        assert_eq!(tree.insert(&mut pager, b"k", b"").unwrap(), None);
        assert_eq!(
            tree.insert(&mut pager, b"k", b"").unwrap(),
            Some(Vec::new())
        );
        assert_eq!(tree.get(&mut pager, b"k").unwrap(), Some(Vec::new()));
        assert_eq!(tree.delete(&mut pager, b"k").unwrap(), Some(Vec::new()));
        assert_eq!(tree.get(&mut pager, b"k").unwrap(), None);
        for i in 0..2001 {
            tree.insert(&mut pager, &key(i), b"").unwrap();
        }
        let stats = tree.check(&mut pager).unwrap();
        assert_eq!(stats.keys, 2001);
        assert_eq!(stats.overflow_pages, 0);
        // 2001 appended keys of 9 bytes plus 2-byte slots: 22 KB in 1000-byte
        // leaves filled almost completely.
        assert!(stats.leaf_pages <= 24, "{stats:?}");
        assert_eq!(
            BTree::open(&mut pager, tree.root()).unwrap().kind(),
            TreeKind::Index
        );
    }

    #[test]
    fn key_and_value_limits() {
        let mut pager = pager(1024);
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        let max = max_key_len(1024);
        assert_eq!(max, 232);
        let long = vec![b'k'; max];
        tree.insert(&mut pager, &long, &[1u8; 5000]).unwrap();
        assert_eq!(tree.get(&mut pager, &long).unwrap(), Some(vec![1u8; 5000]));
        let too_long = vec![b'k'; max + 1];
        assert!(matches!(
            tree.insert(&mut pager, &too_long, b""),
            Err(Error::LimitExceeded(_))
        ));
        assert_eq!(tree.get(&mut pager, &too_long).unwrap(), None);
        tree.check(&mut pager).unwrap();
    }

    #[test]
    fn many_keys_in_scrambled_order_then_deleted() {
        let mut pager = pager(1024);
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        let n = 5000;
        for i in scrambled(n) {
            assert_eq!(
                tree.insert(&mut pager, &key(i), &i.to_le_bytes().repeat(3))
                    .unwrap(),
                None
            );
        }
        let stats = tree.check(&mut pager).unwrap();
        assert_eq!(stats.keys, n);
        assert!(stats.depth >= 3, "{stats:?}");
        for i in 0..n {
            assert_eq!(
                tree.get(&mut pager, &key(i)).unwrap(),
                Some(i.to_le_bytes().repeat(3))
            );
        }
        let root = tree.root();
        for (done, i) in scrambled(n).into_iter().rev().enumerate() {
            assert!(tree.delete(&mut pager, &key(i)).unwrap().is_some());
            if done % 500 == 0 {
                assert_eq!(tree.check(&mut pager).unwrap().keys, n - done as u64 - 1);
            }
        }
        let stats = tree.check(&mut pager).unwrap();
        assert_eq!((stats.keys, stats.pages, stats.depth), (0, 1, 1));
        assert_eq!(tree.root(), root);
        assert_eq!(
            pager.free_count() + 1,
            pager.page_count(),
            "every other page was freed"
        );
    }

    #[test]
    fn ascending_inserts_fill_pages() {
        let mut pager = pager(4096);
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        for i in 0..20_000 {
            tree.insert(&mut pager, &key(i), &[7u8; 100]).unwrap();
        }
        let stats = tree.check(&mut pager).unwrap();
        assert!(stats.fill > 0.95, "{stats:?}");
        let mut random = super::Pager::open(
            Box::new(MemPageStore::new(4096).unwrap()),
            PagerConfig::default(),
        )
        .unwrap();
        let other = BTree::create(&mut random, TreeKind::Table).unwrap();
        for i in scrambled(20_000) {
            other.insert(&mut random, &key(i), &[7u8; 100]).unwrap();
        }
        let stats = other.check(&mut random).unwrap();
        assert!(stats.fill > 0.6, "{stats:?}");
    }

    #[test]
    fn large_values_use_overflow_pages_and_free_them() {
        let mut pager = pager(1024);
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        tree.insert(&mut pager, b"big", &big).unwrap();
        tree.insert(&mut pager, b"small", b"x").unwrap();
        let stats = tree.check(&mut pager).unwrap();
        assert!(stats.overflow_pages >= 99, "{stats:?}");
        assert_eq!(tree.get(&mut pager, b"big").unwrap(), Some(big.clone()));
        let free_before = pager.free_count();
        // Overwrite with a smaller big value: the old chain is freed.
        let old = tree.insert(&mut pager, b"big", &big[..3000]).unwrap();
        assert_eq!(old, Some(big.clone()));
        assert_eq!(
            tree.get(&mut pager, b"big").unwrap(),
            Some(big[..3000].to_vec())
        );
        let stats = tree.check(&mut pager).unwrap();
        assert!(stats.overflow_pages <= 3, "{stats:?}");
        assert!(pager.free_count() > free_before + 90);
        assert_eq!(
            tree.delete(&mut pager, b"big").unwrap(),
            Some(big[..3000].to_vec())
        );
        assert_eq!(tree.check(&mut pager).unwrap().overflow_pages, 0);
        // Sizes straddling the inline limit round-trip.
        for len in 200..260 {
            let v = vec![len as u8; len];
            tree.insert(&mut pager, b"edge", &v).unwrap();
            assert_eq!(tree.get(&mut pager, b"edge").unwrap(), Some(v));
        }
        tree.check(&mut pager).unwrap();
    }

    #[test]
    fn destroy_frees_every_page() {
        let mut pager = pager(1024);
        let keep = BTree::create(&mut pager, TreeKind::Table).unwrap();
        keep.insert(&mut pager, b"k", b"v").unwrap();
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        for i in 0..3000 {
            let value = if i % 100 == 0 {
                vec![1u8; 3000]
            } else {
                vec![2u8; 20]
            };
            tree.insert(&mut pager, &key(i), &value).unwrap();
        }
        let pages = tree.check(&mut pager).unwrap().pages;
        let free = pager.free_count();
        tree.destroy(&mut pager).unwrap();
        assert_eq!(pager.free_count(), free + pages);
        assert_eq!(pager.free_count() + 1, pager.page_count());
        assert_eq!(keep.get(&mut pager, b"k").unwrap(), Some(b"v".to_vec()));
        // The freed pages are reused by the next tree.
        let again = BTree::create(&mut pager, TreeKind::Index).unwrap();
        for i in 0..3000 {
            again.insert(&mut pager, &key(i), b"").unwrap();
        }
        assert!(pager.page_count() == 1 + pages + 1 || pager.free_count() > 0);
        assert!(pager.page_count() <= pages + 2);
    }

    #[test]
    fn open_rejects_non_tree_pages() {
        let mut pager = pager(1024);
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        tree.insert(&mut pager, b"k", &[0u8; 2000]).unwrap();
        let (spare, _) = pager.allocate().unwrap();
        pager.free(spare).unwrap();
        assert!(matches!(
            BTree::open(&mut pager, spare),
            Err(Error::Corruption(_))
        ));
        assert!(
            matches!(
                BTree::open(&mut pager, tree.root() + 1),
                Err(Error::Corruption(_))
            ),
            "overflow page"
        );
        assert!(matches!(
            BTree::open(&mut pager, 999),
            Err(Error::Corruption(_))
        ));
        assert_eq!(BTree::open(&mut pager, tree.root()).unwrap(), tree);
    }

    #[test]
    fn largest_and_smallest_pages() {
        for page_size in [1024u32, 65536] {
            let mut pager = pager(page_size);
            let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
            let max = max_key_len(page_size as usize);
            for i in scrambled(6000) {
                let mut k = vec![b'k'; (i as usize * 31) % max];
                k.extend_from_slice(&key(i));
                k.truncate(max);
                let len = if i % 50 == 0 {
                    (i as usize * 97) % 70_000
                } else {
                    (i as usize * 7) % 300
                };
                let v = vec![i as u8; len];
                tree.insert(&mut pager, &k, &v).unwrap();
            }
            let stats = tree.check(&mut pager).unwrap();
            assert!(stats.keys > 5000, "{page_size}: {stats:?}");
            let mut c = Cursor::new(tree, Bound::Unbounded, Bound::Unbounded);
            let mut n = 0;
            while let Some((k, v)) = c.next(&mut pager).unwrap() {
                assert!(k.len() <= max);
                assert_eq!(tree.delete(&mut pager, &k).unwrap(), Some(v));
                n += 1;
            }
            assert_eq!(n, stats.keys);
            assert_eq!(tree.check(&mut pager).unwrap().pages, 1);
        }
    }

    #[test]
    fn pages_are_validated_once_per_load() {
        let store = MemPageStore::new(1024).unwrap();
        let mut pager = Pager::open(
            Box::new(store.clone()),
            PagerConfig {
                cache_bytes: 8 * 1024,
            },
        )
        .unwrap();
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        for i in 0..500 {
            tree.insert(&mut pager, &key(i), &[1u8; 30]).unwrap();
        }
        assert!(
            pager.read(tree.root()).unwrap().is_checked(),
            "pages made in memory need no check"
        );
        pager.checkpoint(&tree.root().to_le_bytes()).unwrap();
        let mut pager = Pager::open(
            Box::new(store),
            PagerConfig {
                cache_bytes: 8 * 1024,
            },
        )
        .unwrap();
        let root = pager.read(tree.root()).unwrap();
        assert!(
            !root.is_checked(),
            "a page read from the store is unchecked"
        );
        drop(root);
        let tree = BTree::open(&mut pager, tree.root()).unwrap();
        assert!(pager.read(tree.root()).unwrap().is_checked());
        for i in 0..500 {
            assert!(tree.get(&mut pager, &key(i)).unwrap().is_some());
        }
    }

    #[test]
    fn cursors_walk_both_ways_and_meet() {
        let mut pager = pager(1024);
        let tree = BTree::create(&mut pager, TreeKind::Table).unwrap();
        let mut model = BTreeMap::new();
        for i in scrambled(3000) {
            let k = key(i * 2);
            tree.insert(&mut pager, &k, &k[6..]).unwrap();
            model.insert(k.to_vec(), k[6..].to_vec());
        }
        let all: Vec<_> = model.clone().into_iter().collect();
        let mut c = Cursor::new(tree, Bound::Unbounded, Bound::Unbounded);
        let mut forward = Vec::new();
        while let Some(kv) = c.next(&mut pager).unwrap() {
            forward.push(kv);
        }
        assert_eq!(forward, all);
        let mut c = Cursor::new(tree, Bound::Unbounded, Bound::Unbounded);
        let mut backward = Vec::new();
        while let Some(kv) = c.prev(&mut pager).unwrap() {
            backward.push(kv);
        }
        backward.reverse();
        assert_eq!(backward, all);

        let (lo, hi) = (key(1001).to_vec(), key(2000).to_vec());
        let expect: Vec<_> = model
            .range((Bound::Excluded(lo.clone()), Bound::Included(hi.clone())))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut c = Cursor::new(tree, Bound::Excluded(lo), Bound::Included(hi));
        let (mut front, mut back) = (Vec::new(), Vec::new());
        loop {
            let a = c.next(&mut pager).unwrap();
            let b = c.prev(&mut pager).unwrap();
            if a.is_none() && b.is_none() {
                break;
            }
            front.extend(a);
            back.extend(b);
        }
        back.reverse();
        front.extend(back);
        assert_eq!(front, expect);
        assert_eq!(c.next(&mut pager).unwrap(), None);
        assert_eq!(c.prev(&mut pager).unwrap(), None);

        let mut c = Cursor::new(
            tree,
            Bound::Included(key(100).to_vec()),
            Bound::Excluded(key(110).to_vec()),
        );
        c.seek(&key(105));
        assert_eq!(c.next(&mut pager).unwrap().unwrap().0, key(106).to_vec());
        c.seek(&key(0));
        assert_eq!(c.next(&mut pager).unwrap().unwrap().0, key(100).to_vec());
        // Seeking the front past the back end exhausts both ends...
        c.seek(&key(500));
        assert_eq!(c.next(&mut pager).unwrap(), None);
        assert_eq!(c.prev(&mut pager).unwrap(), None);
        // ...until the front moves back.
        c.seek(&key(104));
        assert_eq!(c.prev(&mut pager).unwrap().unwrap().0, key(108).to_vec());
        assert_eq!(c.next(&mut pager).unwrap().unwrap().0, key(104).to_vec());
        assert_eq!(c.next(&mut pager).unwrap().unwrap().0, key(106).to_vec());
        assert_eq!(c.next(&mut pager).unwrap(), None);
    }
}
