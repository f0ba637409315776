//! The pending writes of one transaction to one tree, ordered by key.
//!
//! Bulk loads usually write keys in ascending order (SQL rowids), so the
//! map keeps a sorted *run* that such writes append to in O(1); other new
//! keys (a random-order index load) are hashed, and put in order only when
//! something reads the tree in order:
//!
//! ```text
//!   run:   [k1 < k2 < k5 < k9]       appended while each key exceeds every key held
//!   loose: {k7, k3}  (hashed)        other new keys, in no order
//!   map:   {k4, k6}  (ordered)       loose keys moved by `order` (a cursor's step)
//!   logical view = run ∪ loose ∪ map, ordered by key; the commit sorts
//!   `loose` once and merges the three
//! ```
//!
//! Invariants: the run is strictly ascending; the run, the loose keys and
//! the map hold disjoint keys; `loose_max` is at least every loose key. A
//! write of a key larger than every key held appends to the run; any other
//! new key goes to `loose`.
//!
//! Keys of up to [`INLINE`] bytes (rowids, index entries of numbers and
//! short text) are held inline in [`Key`]: a random-order load into an
//! index searches the map without chasing a pointer per comparison, and
//! stores a key without allocating. Values are held the same way.

use std::collections::{hash_map, BTreeMap};
use std::iter::Peekable;
use std::ops::Bound;

use rustc_hash::FxHashMap;

/// A pending write: `Some(bytes)` for a put, `None` for a delete. Values
/// are held like keys (inline up to [`INLINE`] bytes), so index entries,
/// whose values are table keys, cost no allocation.
pub(crate) type Value = Option<Key>;

/// Longest key held inline.
const INLINE: usize = 30;

/// A key of the write map, ordered as its bytes.
#[derive(Clone)]
pub(crate) enum Key {
    Inline(u8, [u8; INLINE]),
    Heap(Box<[u8]>),
}

impl Key {
    pub fn new(key: &[u8]) -> Key {
        if key.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..key.len()].copy_from_slice(key);
            Key::Inline(key.len() as u8, bytes)
        } else {
            Key::Heap(key.into())
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            Key::Inline(len, bytes) => &bytes[..*len as usize],
            Key::Heap(bytes) => bytes,
        }
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    /// The byte order. Two inline keys are first compared on their first 16
    /// bytes as one integer, which decides most comparisons of a random
    /// index load without a call to `memcmp`: the zero padding of a shorter
    /// key sorts it first exactly when its bytes do, so a difference there
    /// is the byte order and only a tie needs the slices.
    #[inline]
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        if let (Key::Inline(_, a), Key::Inline(_, b)) = (self, other) {
            let head =
                |k: &[u8; INLINE]| u128::from_be_bytes(k[..16].try_into().expect("16 bytes"));
            let (x, y) = (head(a), head(b));
            if x != y {
                return x.cmp(&y);
            }
        }
        self.as_slice().cmp(other.as_slice())
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_slice().fmt(f)
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

/// Pending writes of one tree: `Some(value)` for a put, `None` for a delete.
#[derive(Default)]
pub(crate) struct WriteMap {
    run: Vec<(Key, Value)>,
    map: BTreeMap<Key, Value>,
    /// New keys in no order, until an ordered read needs them
    /// ([`WriteMap::order`]) or the commit sorts them once.
    loose: FxHashMap<Key, Value>,
    /// At least the largest key of `loose` (a removal may leave it larger,
    /// which only keeps keys out of the run).
    loose_max: Option<Key>,
}

/// True when `BTreeMap::range` accepts the bounds (it panics otherwise).
pub(crate) fn valid_range(lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> bool {
    match (lo, hi) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Excluded(a), Bound::Excluded(b)) => a < b,
        (Bound::Included(a), Bound::Included(b) | Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a <= b,
    }
}

fn above(key: &[u8], lo: Bound<&[u8]>) -> bool {
    match lo {
        Bound::Included(l) => key >= l,
        Bound::Excluded(l) => key > l,
        Bound::Unbounded => true,
    }
}

fn below(key: &[u8], hi: Bound<&[u8]>) -> bool {
    match hi {
        Bound::Included(h) => key <= h,
        Bound::Excluded(h) => key < h,
        Bound::Unbounded => true,
    }
}

type Entry<'a> = (&'a Key, &'a Value);

fn pair<'a>((k, v): Entry<'a>) -> (&'a [u8], Option<&'a [u8]>) {
    (k.as_slice(), v.as_deref())
}

/// The entry that comes first going `forward` (or backward).
fn first<'a>(a: Option<Entry<'a>>, b: Option<Entry<'a>>, forward: bool) -> Option<Entry<'a>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if (x.0 < y.0) == forward { x } else { y }),
        (x, None) | (None, x) => x,
    }
}

impl WriteMap {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.run.len() + self.map.len() + self.loose.len()
    }

    pub fn is_empty(&self) -> bool {
        self.run.is_empty() && self.map.is_empty() && self.loose.is_empty()
    }

    fn find_in_run(&self, key: &[u8]) -> Result<usize, usize> {
        self.run.binary_search_by(|(k, _)| k.as_slice().cmp(key))
    }

    /// True when `key` exceeds every key held, so it may join the run.
    fn beyond(&self, key: &[u8]) -> bool {
        let above = |last: Option<&Key>| last.is_none_or(|k| key > k.as_slice());
        above(self.run.last().map(|(k, _)| k))
            && above(self.map.last_key_value().map(|(k, _)| k))
            && above(self.loose_max.as_ref())
    }

    /// The pending write of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Value> {
        // A bulk load asks for the key it is about to append: past the
        // run's end, which one comparison shows without a search.
        let in_run_range = self.run.last().is_some_and(|(k, _)| key <= k.as_slice());
        if in_run_range {
            if let Ok(i) = self.find_in_run(key) {
                return Some(&self.run[i].1);
            }
        }
        if let Some(v) = self.loose.get(key) {
            return Some(v);
        }
        self.map.get(key)
    }

    /// Sets the write of `key`; returns the previous one, if any.
    pub fn insert(&mut self, key: &[u8], value: Value) -> Option<Value> {
        if self.beyond(key) {
            self.run.push((Key::new(key), value));
            return None;
        }
        if let Ok(i) = self.find_in_run(key) {
            return Some(std::mem::replace(&mut self.run[i].1, value));
        }
        if let Some(v) = self.map.get_mut(key) {
            return Some(std::mem::replace(v, value));
        }
        // Out of order, and in neither the run nor the map: hashed now (one
        // probe), sorted once when needed.
        let key = Key::new(key);
        if self.loose_max.as_ref().is_none_or(|max| key > *max) {
            self.loose_max = Some(key.clone());
        }
        match self.loose.entry(key) {
            hash_map::Entry::Occupied(mut e) => Some(e.insert(value)),
            hash_map::Entry::Vacant(e) => {
                e.insert(value);
                None
            }
        }
    }

    /// Forgets the write of `key`; returns it, if any.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        if let Ok(i) = self.find_in_run(key) {
            return Some(self.run.remove(i).1);
        }
        self.loose.remove(key).or_else(|| self.map.remove(key))
    }

    /// Every pending write, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> + '_ {
        let run = self.run.iter().map(|(k, v)| (k.as_slice(), v.as_deref()));
        run.chain(self.map.iter().map(pair))
            .chain(self.loose.iter().map(pair))
    }

    /// Puts every write in order, so that [`WriteMap::first_in`] is a
    /// search: ordered reads call this first (it is cheap when nothing is
    /// loose).
    pub fn order(&mut self) {
        if self.loose.is_empty() {
            return;
        }
        if self.loose.len() * 8 < self.map.len() {
            self.map.extend(self.loose.drain());
        } else {
            let mut sorted: BTreeMap<Key, Value> = self.loose.drain().collect();
            self.map.append(&mut sorted);
        }
        self.loose_max = None;
    }

    /// The smallest (`forward`) or largest write with a key within the
    /// bounds. A search after [`WriteMap::order`], a scan of the loose
    /// keys otherwise.
    pub fn first_in(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        forward: bool,
    ) -> Option<(&[u8], Option<&[u8]>)> {
        if !valid_range(lo, hi) {
            return None;
        }
        let in_run = if forward {
            let start = match lo {
                Bound::Unbounded => 0,
                Bound::Included(l) => self.run.partition_point(|(k, _)| k.as_slice() < l),
                Bound::Excluded(l) => self.run.partition_point(|(k, _)| k.as_slice() <= l),
            };
            self.run.get(start).filter(|(k, _)| below(k, hi))
        } else {
            let end = match hi {
                Bound::Unbounded => self.run.len(),
                Bound::Included(h) => self.run.partition_point(|(k, _)| k.as_slice() <= h),
                Bound::Excluded(h) => self.run.partition_point(|(k, _)| k.as_slice() < h),
            };
            end.checked_sub(1)
                .map(|i| &self.run[i])
                .filter(|(k, _)| above(k, lo))
        };
        let mut range = self.map.range::<[u8], _>((lo, hi));
        let in_map = if forward {
            range.next()
        } else {
            range.next_back()
        };
        let in_loose = self
            .loose
            .iter()
            .filter(|(k, _)| above(k, lo) && below(k, hi));
        let in_loose = if forward {
            in_loose.min_by(|a, b| a.0.cmp(b.0))
        } else {
            in_loose.max_by(|a, b| a.0.cmp(b.0))
        };
        let in_run = in_run.map(|(k, v)| (k, v));
        let pick = first(first(in_run, in_map, forward), in_loose, forward)?;
        Some((pick.0.as_slice(), pick.1.as_deref()))
    }

    /// Consumes the writes in ascending key order.
    pub fn into_sorted(self) -> IntoSorted {
        let mut loose: Vec<(Key, Value)> = self.loose.into_iter().collect();
        loose.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        IntoSorted {
            run: self.run.into_iter().peekable(),
            map: self.map.into_iter().peekable(),
            loose: loose.into_iter().peekable(),
        }
    }
}

/// Ascending merge of a [`WriteMap`]'s run, map and sorted loose keys
/// (three disjoint sorted sequences).
pub(crate) struct IntoSorted {
    run: Peekable<std::vec::IntoIter<(Key, Value)>>,
    map: Peekable<std::collections::btree_map::IntoIter<Key, Value>>,
    loose: Peekable<std::vec::IntoIter<(Key, Value)>>,
}

impl Iterator for IntoSorted {
    type Item = (Key, Value);

    fn next(&mut self) -> Option<Self::Item> {
        let (r, m, l) = (
            self.run.peek().map(|e| &e.0),
            self.map.peek().map(|e| &e.0),
            self.loose.peek().map(|e| &e.0),
        );
        let smallest = [r, m, l].into_iter().flatten().min()?.clone();
        if r == Some(&smallest) {
            self.run.next()
        } else if m == Some(&smallest) {
            self.map.next()
        } else {
            self.loose.next()
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.run.len() + self.map.len() + self.loose.len();
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_range_matches_btreemap_rules() {
        use Bound::*;
        let (a, b): (&[u8], &[u8]) = (b"a", b"b");
        assert!(valid_range(Included(a), Included(a)));
        assert!(valid_range(Included(a), Excluded(a)));
        assert!(!valid_range(Excluded(a), Excluded(a)));
        assert!(!valid_range(Included(b), Included(a)));
        assert!(valid_range(Excluded(a), Excluded(b)));
        assert!(valid_range(Unbounded, Excluded(a)));
        // Every accepted pair really is accepted by BTreeMap::range.
        let map: BTreeMap<Vec<u8>, ()> = [(b"a".to_vec(), ())].into_iter().collect();
        for lo in [
            Included(a),
            Excluded(a),
            Included(b),
            Excluded(b),
            Unbounded,
        ] {
            for hi in [
                Included(a),
                Excluded(a),
                Included(b),
                Excluded(b),
                Unbounded,
            ] {
                if valid_range(lo, hi) {
                    let _ = map.range::<[u8], _>((lo, hi)).count();
                }
            }
        }
    }

    /// Keys order as their bytes: zeros against padding, lengths around
    /// the 16 bytes compared at once, and heap keys.
    #[test]
    fn keys_order_as_their_bytes() {
        let mut keys: Vec<Vec<u8>> = vec![vec![]];
        for len in [1, 2, 15, 16, 17, 30, 31] {
            for fill in [0u8, 1, 0xFF] {
                for last in [0u8, 1, 0xFF] {
                    let mut k = vec![fill; len];
                    k[len - 1] = last;
                    keys.push(k);
                }
            }
        }
        for a in &keys {
            for b in &keys {
                assert_eq!(Key::new(a).cmp(&Key::new(b)), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    /// Compares every operation with a plain `BTreeMap` on a mixed pattern
    /// of ascending appends, inserts in the middle, updates and removals.
    #[test]
    fn behaves_like_an_ordered_map() {
        let mut model: BTreeMap<Vec<u8>, Value> = BTreeMap::new();
        let mut w = WriteMap::default();
        let mut state = 12345u64;
        let mut rand = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        // Whether the run, the map and the loose keys ever held anything.
        let mut held = [false; 3];
        for step in 0..4000u64 {
            let key = if rand(3) == 0 {
                (step / 2).to_be_bytes()
            } else {
                rand(3000).to_be_bytes()
            };
            let mut key = key[rand(3) as usize..].to_vec();
            // Some keys too long to be held inline.
            if rand(7) == 0 {
                key.extend_from_slice(&[0x7f; INLINE]);
            }
            let key = key.as_slice();
            // Values short enough to be inline, and longer ones.
            let len = [1, 8, INLINE, INLINE + 1, 100][rand(5) as usize];
            let value = (rand(4) != 0).then(|| Key::new(&vec![step as u8; len]));
            match rand(5) {
                0 => assert_eq!(w.remove(key), model.remove(key)),
                _ => assert_eq!(
                    w.insert(key, value.clone()),
                    model.insert(key.to_vec(), value)
                ),
            }
            assert_eq!(w.get(key), model.get(key));
            assert_eq!(w.len(), model.len());
            // Ordered reads find loose keys before and after `order`.
            if rand(40) == 0 {
                w.order();
                assert!(w.loose.is_empty());
            }
            held[0] |= !w.run.is_empty();
            held[1] |= !w.map.is_empty();
            held[2] |= !w.loose.is_empty();
            let probe = rand(3000).to_be_bytes();
            let probe = &probe[rand(4) as usize..];
            for (lo, hi) in [
                (Bound::Included(probe), Bound::Unbounded),
                (Bound::Excluded(probe), Bound::Unbounded),
                (Bound::Unbounded, Bound::Included(probe)),
                (Bound::Unbounded, Bound::Excluded(probe)),
                (Bound::Included(key), Bound::Excluded(probe)),
            ] {
                for forward in [true, false] {
                    let expected = if valid_range(lo, hi) {
                        let mut r = model.range::<[u8], _>((lo, hi));
                        if forward {
                            r.next()
                        } else {
                            r.next_back()
                        }
                    } else {
                        None
                    };
                    let expected = expected.map(|(k, v)| (k.as_slice(), v.as_deref()));
                    assert_eq!(w.first_in(lo, hi, forward), expected);
                }
            }
        }
        assert_eq!(held, [true; 3], "every part was exercised");
        assert!(!w.loose.is_empty(), "the commit order sorts loose keys too");
        // Short keys are inline, long ones on the heap: both kinds held.
        let keys = || {
            let run = w.run.iter().map(|(k, _)| k);
            run.chain(w.map.keys()).chain(w.loose.keys())
        };
        assert!(keys().any(|k| matches!(k, Key::Heap(_))));
        assert!(keys().any(|k| matches!(k, Key::Inline(..))));
        let mut unordered: Vec<_> = w
            .iter()
            .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
            .collect();
        unordered.sort();
        let owned = |(k, v): (&[u8], Option<Key>)| (k.to_vec(), v.map(|v| v.to_vec()));
        let sorted: Vec<_> = w.into_sorted().map(|(k, v)| owned((&k, v))).collect();
        let model: Vec<_> = model.iter().map(|(k, v)| owned((k, v.clone()))).collect();
        assert_eq!(sorted, model);
        assert_eq!(unordered, sorted);
    }
}
