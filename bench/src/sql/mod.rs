//! The SQL-level interface both engines are driven through, and the model
//! of the SQL tables every answer is checked against.
//!
//! ```text
//!   sql::workloads (timing, checks) --SqlStore--> DosqlSql  -> dosql::sql::Database
//!                                            \--> SqliteSql -> rusqlite (bundled)
//!
//!   t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT), index t_k ON t(k)
//!     id in 0..N, inserted in id order
//!     k  = (id * a + b) mod N     a permutation of 0..N (gcd(a, N) = 1), so
//!                                 `k BETWEEN s AND s+L-1` matches exactly
//!                                 min(L, N - s) rows, scattered over t
//!     v  = 32 hex digits, a hash of (seed, id, generation); generation 0
//!          at insert, j+1 after the j-th update of the run
//!   g(id INTEGER PRIMARY KEY, name TEXT)   id in 0..1000, name 'g007'
//! ```
//!
//! As for [`crate::kv::KvStore`], each method is a whole timed unit, so
//! each side keeps its fastest form across the loop: SQLite keeps prepared
//! statements bound and stepped; DoSQL runs the same SQL text each time,
//! which its statement cache turns into a parse-free execution (DoSQL's
//! prepared statement for now). Both run the same SQL text.
//!
//! Invariant: the model ([`SqlData`]) is the exact content of both
//! databases once a write workload has run on every engine and
//! [`SqlData::apply_updates`] was called.

pub mod dosql_sql;
pub mod sqlite_sql;
pub mod workloads;

use std::fmt::Write;
use std::path::Path;

use crate::config::Config;
use crate::data::Dataset;
use crate::kv::{EngineKind, Result, StoreOptions};

/// Rows of table `g`.
pub const GROUPS: u64 = 1000;

/// The schema, identical on both engines.
pub const SCHEMA: &str = "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT); \
     CREATE INDEX t_k ON t(k); \
     CREATE TABLE g(id INTEGER PRIMARY KEY, name TEXT)";
/// `sql-insert`.
pub const INSERT: &str = "INSERT INTO t(id, k, v) VALUES (?1, ?2, ?3)";
/// Rows of `g`, loaded with the schema.
pub const INSERT_G: &str = "INSERT INTO g(id, name) VALUES (?1, ?2)";
/// `sql-point`.
pub const POINT: &str = "SELECT v FROM t WHERE id = ?1";
/// `sql-range`.
pub const RANGE: &str = "SELECT id, v FROM t WHERE k BETWEEN ?1 AND ?2";
/// `sql-join`: ordered so that both engines return groups in one order.
pub const JOIN: &str = "SELECT g.name, count(*), sum(t.k) FROM t JOIN g ON t.k % 1000 = g.id \
     GROUP BY g.name ORDER BY g.name";
/// `sql-update`.
pub const UPDATE: &str = "UPDATE t SET v = ?1 WHERE id = ?2";
/// Verification (untimed), in chunks from `id >= ?1`.
pub const ALL_FROM: &str = "SELECT id, k, v FROM t WHERE id >= ?1 ORDER BY id LIMIT ?2";

/// Name of group `id` of table `g`.
pub fn group_name(id: u64) -> String {
    format!("g{id:03}")
}

/// The SQL data set: row generator, operation streams and model.
#[derive(Clone, Debug)]
pub struct SqlData {
    rows: u64,
    a: u64,
    b: u64,
    seed: u64,
    /// `inv[k]` is the id of the row whose `k` column is `k`.
    inv: Vec<u64>,
    /// Current generation of each row's `v`.
    gen: Vec<u32>,
    /// Ids of the point lookups.
    pub point_ids: Vec<u64>,
    /// Lower bounds of the range queries.
    pub range_starts: Vec<u64>,
    /// Width of each range (`k BETWEEN s AND s + width - 1`).
    pub range_width: u64,
    /// Repetitions of the join.
    pub joins: u64,
    /// Ids updated, in order; update `j` writes generation `j + 1`.
    pub update_ids: Vec<u64>,
    /// Updates per transaction.
    pub updates_per_txn: usize,
}

fn gcd(mut x: u64, mut y: u64) -> u64 {
    while y != 0 {
        (x, y) = (y, x % y);
    }
    x
}

/// MurmurHash3's 64-bit finaliser.
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl SqlData {
    /// Builds the SQL data set from the run's data set: the same lookup
    /// ids, scan starts (as `k` lower bounds) and update ids, so that the
    /// SQL workloads do the storage workloads' operations through SQL.
    pub fn new(cfg: &Config, data: &Dataset) -> SqlData {
        let rows = data.rows();
        let mut a = (0x9e37_79b9 % rows).max(1);
        while gcd(a, rows) != 1 {
            a += 1;
        }
        let b = (cfg.seed >> 7) % rows;
        let mut inv = vec![0u64; rows as usize];
        for id in 0..rows {
            inv[((id as u128 * a as u128 + b as u128) % rows as u128) as usize] = id;
        }
        SqlData {
            rows,
            a,
            b,
            seed: cfg.seed,
            inv,
            gen: vec![0; rows as usize],
            point_ids: data.lookup_keys.clone(),
            range_starts: data.scan_starts.clone(),
            range_width: data.scan_len as u64,
            joins: cfg.joins,
            update_ids: data.updates.keys.clone(),
            updates_per_txn: data.updates.per_txn,
        }
    }

    /// Rows of `t`.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Column `k` of row `id`.
    #[inline]
    pub fn k(&self, id: u64) -> u64 {
        ((id as u128 * self.a as u128 + self.b as u128) % self.rows as u128) as u64
    }

    /// The id of the row whose `k` is `k` (`k < rows`).
    pub fn id_of_k(&self, k: u64) -> u64 {
        self.inv[k as usize]
    }

    /// Appends `v` of row `id` at generation `gen` to `out`.
    #[inline]
    pub fn write_v(&self, out: &mut String, id: u64, gen: u32) {
        let h1 = fmix(self.seed ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ ((gen as u64) << 40));
        let h2 = fmix(h1 ^ 0x5851_f42d_4c95_7f2d);
        let _ = write!(out, "{h1:016x}{h2:016x}");
    }

    /// The current `v` of row `id`, by the model.
    pub fn v(&self, id: u64) -> String {
        let mut s = String::with_capacity(32);
        self.write_v(&mut s, id, self.gen[id as usize]);
        s
    }

    /// The ids a range query from `start` must return, ascending.
    pub fn range_ids(&self, start: u64) -> Vec<u64> {
        let end = start.saturating_add(self.range_width).min(self.rows);
        let mut ids: Vec<u64> = (start.min(end)..end).map(|k| self.id_of_k(k)).collect();
        ids.sort_unstable();
        ids
    }

    /// The join's answer by the model: (group id, count, sum of k), in
    /// name order, groups without rows left out.
    pub fn join_groups(&self) -> Vec<(u64, i64, i64)> {
        let mut groups = vec![(0i64, 0i64); GROUPS as usize];
        for k in 0..self.rows {
            let g = &mut groups[(k % GROUPS) as usize];
            g.0 += 1;
            g.1 += k as i64;
        }
        (0..GROUPS)
            .zip(groups)
            .filter(|(_, (n, _))| *n > 0)
            .map(|(g, (n, s))| (g, n, s))
            .collect()
    }

    /// Folds the update workload into the model, once every engine ran it.
    pub fn apply_updates(&mut self) {
        for (j, &id) in self.update_ids.iter().enumerate() {
            self.gen[id as usize] = j as u32 + 1;
        }
    }

    /// The generation update `j` writes.
    pub fn update_gen(j: usize) -> u32 {
        j as u32 + 1
    }
}

/// The two tables in one engine, driven in whole workloads.
pub trait SqlStore {
    /// The engine behind this store.
    fn kind(&self) -> EngineKind;

    /// Inserts every row of `t` (ids `0..rows` in order) through [`INSERT`]
    /// in one transaction, and commits.
    fn insert(&mut self, data: &SqlData) -> Result<()>;

    /// Runs [`POINT`] for every id inside one transaction, calling `visit`
    /// with the id asked and the `v` found (or `None`).
    fn point(&mut self, ids: &[u64], visit: &mut dyn FnMut(u64, Option<&[u8]>)) -> Result<()>;

    /// Runs [`RANGE`] from every start (`?2 = start + width - 1`) inside
    /// one transaction, calling `visit` with the query index, id and `v`.
    fn range(
        &mut self,
        starts: &[u64],
        width: u64,
        visit: &mut dyn FnMut(usize, i64, &[u8]),
    ) -> Result<()>;

    /// Runs [`JOIN`] `reps` times, calling `visit` with the repetition,
    /// group name, count and sum of every result row.
    fn join(&mut self, reps: u64, visit: &mut dyn FnMut(u64, &str, i64, i64)) -> Result<()>;

    /// Runs [`UPDATE`] for every update of `data` (update `j` writes
    /// generation `j + 1`), `updates_per_txn` per committed transaction;
    /// returns the total of rows changed.
    fn update(&mut self, data: &SqlData) -> Result<u64>;

    /// Moves committed changes from the WAL into the main database.
    fn checkpoint(&mut self) -> Result<()>;

    /// Calls `visit` with `(id, k, v)` of every row of `t` in id order
    /// (verification; untimed).
    fn for_each_row(&mut self, visit: &mut dyn FnMut(i64, i64, &[u8])) -> Result<()>;

    /// Bytes the database occupies on disk right now.
    fn disk_bytes(&self) -> u64;
}

/// Opens a fresh store of `kind` in the empty directory `dir`, with the
/// schema created and `g` loaded.
pub fn open(kind: EngineKind, dir: &Path, opts: StoreOptions) -> Result<Box<dyn SqlStore>> {
    Ok(match kind {
        EngineKind::Dosql => Box::new(dosql_sql::DosqlSql::create(dir, opts)?),
        EngineKind::Sqlite => Box::new(sqlite_sql::SqliteSql::create(dir, opts)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql_data(rows: u64) -> SqlData {
        let cfg = Config {
            rows,
            lookups: 10,
            scans: 10,
            updates: 10,
            ..Config::default()
        };
        SqlData::new(&cfg, &Dataset::generate(&cfg))
    }

    #[test]
    fn k_is_a_permutation_and_inverted() {
        for rows in [1, 2, 1000, 1024, 3001] {
            let d = sql_data(rows);
            let mut ks: Vec<u64> = (0..rows).map(|id| d.k(id)).collect();
            for id in 0..rows {
                assert_eq!(d.id_of_k(d.k(id)), id);
            }
            ks.sort_unstable();
            assert_eq!(ks, (0..rows).collect::<Vec<_>>(), "rows {rows}");
        }
    }

    #[test]
    fn ranges_and_groups_follow_the_model() {
        let d = sql_data(1000);
        assert_eq!(d.range_ids(0).len(), 100);
        assert_eq!(d.range_ids(950).len(), 50);
        let groups = d.join_groups();
        assert_eq!(groups.len(), 1000);
        assert_eq!(groups[7], (7, 1, 7));
    }

    #[test]
    fn values_change_with_generation() {
        let mut d = sql_data(100);
        let before = d.v(3);
        assert_eq!(before.len(), 32);
        d.update_ids = vec![3];
        d.apply_updates();
        assert_ne!(d.v(3), before);
        let mut s = String::new();
        d.write_v(&mut s, 3, SqlData::update_gen(0));
        assert_eq!(s, d.v(3));
    }
}
