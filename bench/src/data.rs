//! The data set and the operation streams, generated once per run from one
//! seed, and the model every engine's answers are checked against.
//!
//! Keys are dense: row `i` has key `i`, for `i` in `0..rows`. DoSQL stores
//! the key as 8 big-endian bytes (so byte order is numeric order) and
//! SQLite as the integer primary key. Dense keys make every expected answer
//! computable without a lookup structure: a scan from `s` must return keys
//! `s, s+1, ...` up to `rows`.
//!
//! ```text
//!   values:  [ v(0) | v(1) | ... | v(rows-1) ]   rows * value_size bytes
//!            the model: current value of every key, updated when an
//!            update workload has run on every engine
//!   insert_order  shuffled 0..rows        lookup_keys   uniform in 0..rows
//!   scan_starts   uniform in 0..rows      updates       (key, new value)
//! ```
//!
//! Everything is drawn from `StdRng` seeded from the run's seed, one
//! independent stream per purpose, so that changing one count (say
//! `--lookups`) does not change the values or the other streams.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};

use crate::config::Config;

/// Flat storage of one value per key.
#[derive(Clone, Debug)]
pub struct Values {
    size: usize,
    bytes: Vec<u8>,
}

impl Values {
    /// Random values for keys `0..rows`.
    pub fn random(rows: u64, size: usize, rng: &mut StdRng) -> Values {
        let mut bytes = vec![0u8; rows as usize * size];
        rng.fill_bytes(&mut bytes);
        Values { size, bytes }
    }

    /// Bytes per value.
    pub fn value_size(&self) -> usize {
        self.size
    }

    /// Number of values.
    pub fn len(&self) -> u64 {
        (self.bytes.len() / self.size) as u64
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The value of key or slot `i`.
    pub fn get(&self, i: u64) -> &[u8] {
        let at = i as usize * self.size;
        &self.bytes[at..at + self.size]
    }

    fn set(&mut self, i: u64, value: &[u8]) {
        let at = i as usize * self.size;
        self.bytes[at..at + self.size].copy_from_slice(value);
    }
}

/// A batch of row updates: `keys[j]` gets `values.get(j)`.
#[derive(Clone, Debug)]
pub struct Updates {
    /// Updated keys, in application order (may repeat).
    pub keys: Vec<u64>,
    /// New values, one per entry of `keys`.
    pub values: Values,
    /// Updates per transaction.
    pub per_txn: usize,
}

/// The data set of a run plus the model of the current contents.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Current value of every key: what every engine must return.
    pub model: Values,
    /// Keys `0..rows` in seeded random order.
    pub insert_order: Vec<u64>,
    /// The model's values in `insert_order` (entry `j` is the value of key
    /// `insert_order[j]`), so that a shuffled load reads its input
    /// sequentially instead of adding a cache miss per row to its time.
    pub insert_values: Values,
    /// Keys of the point-lookup workload.
    pub lookup_keys: Vec<u64>,
    /// Start keys of the range-scan workload.
    pub scan_starts: Vec<u64>,
    /// Rows per range scan.
    pub scan_len: usize,
    /// The update workload.
    pub updates: Updates,
}

/// Seed offsets of the independent random streams.
const STREAM_VALUES: u64 = 1;
const STREAM_ORDER: u64 = 2;
const STREAM_LOOKUPS: u64 = 3;
const STREAM_SCANS: u64 = 4;
const STREAM_UPDATES: u64 = 5;

impl Dataset {
    /// Generates the data set described by `cfg`.
    pub fn generate(cfg: &Config) -> Dataset {
        let stream =
            |n: u64| StdRng::seed_from_u64(cfg.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let rows = cfg.rows;
        let model = Values::random(rows, cfg.value_size, &mut stream(STREAM_VALUES));
        let mut insert_order: Vec<u64> = (0..rows).collect();
        insert_order.shuffle(&mut stream(STREAM_ORDER));
        let mut insert_values = Values {
            size: cfg.value_size,
            bytes: Vec::with_capacity(model.bytes.len()),
        };
        for &k in &insert_order {
            insert_values.bytes.extend_from_slice(model.get(k));
        }
        let mut rng = stream(STREAM_LOOKUPS);
        let lookup_keys = (0..cfg.lookups).map(|_| rng.gen_range(0..rows)).collect();
        let mut rng = stream(STREAM_SCANS);
        let scan_starts = (0..cfg.scans).map(|_| rng.gen_range(0..rows)).collect();
        let mut rng = stream(STREAM_UPDATES);
        let keys = (0..cfg.updates).map(|_| rng.gen_range(0..rows)).collect();
        let values = Values::random(cfg.updates, cfg.value_size, &mut rng);
        Dataset {
            model,
            insert_order,
            insert_values,
            lookup_keys,
            scan_starts,
            scan_len: cfg.scan_len,
            updates: Updates {
                keys,
                values,
                per_txn: cfg.updates_per_txn,
            },
        }
    }

    /// Number of rows (keys `0..rows`).
    pub fn rows(&self) -> u64 {
        self.model.len()
    }

    /// Rows a scan starting at `start` must return.
    pub fn expected_scan_len(&self, start: u64) -> usize {
        (self.rows().saturating_sub(start)).min(self.scan_len as u64) as usize
    }

    /// Folds the update workload into the model, once every engine ran it.
    pub fn apply_updates(&mut self) {
        for (j, &key) in self.updates.keys.iter().enumerate() {
            self.model.set(key, self.updates.values.get(j as u64));
        }
    }
}

/// A 64-bit hash of a whole value, cheap enough for timed loops (one
/// multiply per 8 bytes, no table, no model access). Timed loops record
/// hashes of what an engine returned; the comparison with the model's
/// values happens after the clock stops, because reading the model is a
/// random access into a large array whose cache misses would be added to
/// both engines' times and pull every ratio towards 1.
#[inline]
pub fn value_hash(value: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = value.len() as u64 ^ K;
    let mut chunks = value.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("chunks of 8"));
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    // Final avalanche (MurmurHash3's fmix64).
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// An order-sensitive digest of the rows an engine returned (keys and
/// whole-value hashes), so that two engines can be compared with one
/// number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Digest {
    /// Rows folded in.
    pub rows: u64,
    hash: u64,
}

impl Digest {
    /// Folds in one returned row.
    #[inline]
    pub fn add(&mut self, key: u64, value: &[u8]) {
        self.add_hashed(key, value_hash(value));
    }

    /// Folds in one returned row whose value hash is already known.
    #[inline]
    pub fn add_hashed(&mut self, key: u64, value_hash: u64) {
        self.rows += 1;
        self.hash =
            (self.hash.rotate_left(17) ^ key ^ value_hash).wrapping_mul(0x0000_0100_0000_01b3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Config {
        Config {
            rows: 1000,
            lookups: 50,
            scans: 20,
            updates: 30,
            ..Config::default()
        }
    }

    #[test]
    fn generation_is_deterministic_per_seed() {
        let a = Dataset::generate(&small());
        let b = Dataset::generate(&small());
        assert_eq!(a.model.get(7), b.model.get(7));
        assert_eq!(a.insert_order, b.insert_order);
        assert_eq!(a.lookup_keys, b.lookup_keys);
        let c = Dataset::generate(&Config { seed: 1, ..small() });
        assert_ne!(a.insert_order, c.insert_order);
    }

    #[test]
    fn insert_order_is_a_permutation() {
        let d = Dataset::generate(&small());
        let mut keys = d.insert_order.clone();
        assert_ne!(keys, (0..1000).collect::<Vec<_>>(), "not shuffled");
        for (j, &k) in d.insert_order.iter().enumerate() {
            assert_eq!(d.insert_values.get(j as u64), d.model.get(k));
        }
        keys.sort_unstable();
        assert_eq!(keys, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn streams_are_independent_of_other_counts() {
        let a = Dataset::generate(&small());
        let b = Dataset::generate(&Config {
            lookups: 5,
            ..small()
        });
        assert_eq!(a.model.get(999), b.model.get(999));
        assert_eq!(a.scan_starts, b.scan_starts);
        assert_eq!(a.lookup_keys[..5], b.lookup_keys[..]);
    }

    #[test]
    fn updates_are_applied_in_order() {
        let mut d = Dataset::generate(&Config {
            rows: 3,
            updates: 40,
            ..small()
        });
        let last = d
            .updates
            .keys
            .iter()
            .rposition(|&k| k == 1)
            .expect("key 1 updated");
        let want = d.updates.values.get(last as u64).to_vec();
        d.apply_updates();
        assert_eq!(d.model.get(1), &want[..]);
    }

    #[test]
    fn scan_length_stops_at_the_last_key() {
        let d = Dataset::generate(&small());
        assert_eq!(d.expected_scan_len(0), 100);
        assert_eq!(d.expected_scan_len(950), 50);
        assert_eq!(d.expected_scan_len(999), 1);
    }

    #[test]
    fn value_hash_sees_every_byte_and_the_length() {
        let base = [7u8; 100];
        let h = value_hash(&base);
        for i in 0..base.len() {
            let mut v = base;
            v[i] ^= 1;
            assert_ne!(value_hash(&v), h, "byte {i}");
        }
        assert_ne!(value_hash(&base[..99]), h);
        assert_ne!(value_hash(&[]), value_hash(&[0]));
        assert_eq!(value_hash(&base), h);
    }

    #[test]
    fn digest_depends_on_rows_and_order() {
        let (mut a, mut b) = (Digest::default(), Digest::default());
        a.add(1, &[1; 10]);
        a.add(2, &[2; 10]);
        b.add(2, &[2; 10]);
        b.add(1, &[1; 10]);
        assert_ne!(a, b);
        let mut c = Digest::default();
        c.add(1, &[1; 10]);
        c.add(2, &[2; 10]);
        assert_eq!(a, c);
        assert_eq!(a.rows, 2);
    }
}
