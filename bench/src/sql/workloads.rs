//! The SQL-level workloads: timing and checks, by the rules of the
//! storage-level ones (`crate::workloads`): write workloads end with a
//! checkpoint inside the timing, timed loops only record what came back
//! (ids and value hashes), and every comparison with the model runs after
//! the clock stops.
//!
//! | workload     | timed unit                                        | op     |
//! |--------------|---------------------------------------------------|--------|
//! | `sql-insert` | INSERT ids 0..N (one txn), commit, checkpoint      | row    |
//! | `sql-point`  | `SELECT v .. WHERE id = ?`, one txn               | query  |
//! | `sql-range`  | `.. WHERE k BETWEEN ? AND ?` (100 rows), one txn  | query  |
//! | `sql-join`   | join + GROUP BY over all of `t`, repeated         | query  |
//! | `sql-update` | `UPDATE .. WHERE id = ?`, per_txn per commit, ckpt | update |
//!
//! `sql-range` has no ORDER BY, so the rows of one query are compared as
//! a set (sorted by id after the clock stops).

use std::time::{Duration, Instant};

use super::{group_name, SqlData, SqlStore};
use crate::data::{value_hash, Digest};
use crate::kv::Result;
use crate::workloads::{Checks, Measurement};

fn measurement(
    store: &dyn SqlStore,
    ops: u64,
    elapsed: Duration,
    until_commit: Option<Duration>,
    digest: Digest,
    checks: Checks,
) -> Measurement {
    Measurement {
        engine: store.kind(),
        ops,
        elapsed,
        until_commit,
        digest,
        checks,
    }
}

/// Inserts every row, commits, checkpoints. Checked by the final
/// verification.
pub fn run_insert(store: &mut dyn SqlStore, data: &SqlData) -> Result<Measurement> {
    let start = Instant::now();
    store.insert(data)?;
    let until_commit = start.elapsed();
    store.checkpoint()?;
    let elapsed = start.elapsed();
    let d = Digest::default();
    Ok(measurement(
        store,
        data.rows(),
        elapsed,
        Some(until_commit),
        d,
        Checks::default(),
    ))
}

/// Point SELECTs by primary key; each must return the model's `v`.
pub fn run_point(store: &mut dyn SqlStore, data: &SqlData) -> Result<Measurement> {
    let ids = &data.point_ids;
    let mut seen: Vec<(u64, Option<u64>)> = Vec::with_capacity(ids.len());
    let start = Instant::now();
    store.point(ids, &mut |id, v| seen.push((id, v.map(value_hash))))?;
    let elapsed = start.elapsed();

    let mut digest = Digest::default();
    let mut checks = Checks::default();
    if seen.len() != ids.len() {
        checks.fail(|| {
            format!(
                "sql-point: {} answers for {} queries",
                seen.len(),
                ids.len()
            )
        });
    }
    for (&(id, found), &want) in seen.iter().zip(ids) {
        match found {
            _ if id != want => checks.fail(|| format!("sql-point {want}: answered for {id}")),
            None => checks.fail(|| format!("sql-point {id}: no row")),
            Some(h) => {
                digest.add_hashed(id, h);
                if h != value_hash(data.v(id).as_bytes()) {
                    checks.fail(|| format!("sql-point {id}: v differs from the model"));
                }
            }
        }
    }
    Ok(measurement(
        store,
        ids.len() as u64,
        elapsed,
        None,
        digest,
        checks,
    ))
}

/// Indexed range SELECTs; query `i` must return exactly the rows whose
/// `k` is in its range, each with the model's `v`.
pub fn run_range(store: &mut dyn SqlStore, data: &SqlData) -> Result<Measurement> {
    let starts = &data.range_starts;
    let mut seen: Vec<(usize, i64, u64)> = Vec::with_capacity(starts.len() * 100);
    let start = Instant::now();
    store.range(starts, data.range_width, &mut |i, id, v| {
        seen.push((i, id, value_hash(v)))
    })?;
    let elapsed = start.elapsed();

    let mut digest = Digest::default();
    let mut checks = Checks::default();
    // Rows arrive grouped by query, in query order.
    seen.sort_unstable();
    let mut at = 0;
    for (i, &s) in starts.iter().enumerate() {
        let end = at + seen[at..].iter().take_while(|r| r.0 == i).count();
        let got = &seen[at..end];
        at = end;
        let want = data.range_ids(s);
        if got.len() != want.len() {
            checks.fail(|| {
                format!(
                    "sql-range {i} from k={s}: {} rows, expected {}",
                    got.len(),
                    want.len()
                )
            });
        }
        for (&(_, id, h), &want_id) in got.iter().zip(&want) {
            digest.add_hashed(id as u64, h);
            if id as u64 != want_id {
                checks.fail(|| format!("sql-range {i} from k={s}: id {id}, expected {want_id}"));
            } else if h != value_hash(data.v(want_id).as_bytes()) {
                checks.fail(|| format!("sql-range {i}: id {id} has a v differing from the model"));
            }
        }
    }
    if at != seen.len() {
        checks.fail(|| format!("sql-range: {} rows for no query", seen.len() - at));
    }
    Ok(measurement(
        store,
        starts.len() as u64,
        elapsed,
        None,
        digest,
        checks,
    ))
}

/// The join with GROUP BY, `data.joins` times; every repetition must
/// return the model's groups.
pub fn run_join(store: &mut dyn SqlStore, data: &SqlData) -> Result<Measurement> {
    let mut seen: Vec<(u64, String, i64, i64)> = Vec::new();
    let start = Instant::now();
    store.join(data.joins, &mut |rep, name, n, sum| {
        seen.push((rep, name.to_string(), n, sum))
    })?;
    let elapsed = start.elapsed();

    let want = data.join_groups();
    let mut digest = Digest::default();
    let mut checks = Checks::default();
    for rep in 0..data.joins {
        let got: Vec<_> = seen.iter().filter(|r| r.0 == rep).collect();
        if got.len() != want.len() {
            checks.fail(|| {
                format!(
                    "sql-join {rep}: {} groups, expected {}",
                    got.len(),
                    want.len()
                )
            });
        }
        for (r, &(g, n, sum)) in got.iter().zip(&want) {
            digest.add(n as u64 ^ (sum as u64).rotate_left(32), r.1.as_bytes());
            if r.1 != group_name(g) || r.2 != n || r.3 != sum {
                checks.fail(|| {
                    format!(
                        "sql-join {rep}: got ({}, {}, {}), expected ({}, {n}, {sum})",
                        r.1,
                        r.2,
                        r.3,
                        group_name(g)
                    )
                });
            }
        }
    }
    Ok(measurement(
        store, data.joins, elapsed, None, digest, checks,
    ))
}

/// Updates in small committed transactions, then a checkpoint; each must
/// change exactly one row. Values are checked by the final verification.
pub fn run_update(store: &mut dyn SqlStore, data: &SqlData) -> Result<Measurement> {
    let start = Instant::now();
    let changed = store.update(data)?;
    let until_commit = start.elapsed();
    store.checkpoint()?;
    let elapsed = start.elapsed();
    let mut checks = Checks::default();
    let n = data.update_ids.len() as u64;
    if changed != n {
        checks.fail(|| format!("sql-update: {changed} rows changed by {n} updates"));
    }
    let d = Digest::default();
    Ok(measurement(
        store,
        n,
        elapsed,
        Some(until_commit),
        d,
        checks,
    ))
}

/// Reads all of `t` (untimed): exactly ids `0..rows`, each with the
/// model's `k` and `v`.
pub fn verify(store: &mut dyn SqlStore, data: &SqlData) -> Result<(Digest, Checks)> {
    let mut digest = Digest::default();
    let mut checks = Checks::default();
    let mut next = 0i64;
    let name = store.kind().name();
    store.for_each_row(&mut |id, k, v| {
        digest.add_hashed(id as u64, value_hash(v) ^ k as u64);
        if id != next {
            checks.fail(|| format!("{name} sql full scan: id {id} where {next} was expected"));
        } else if k as u64 != data.k(id as u64) {
            checks.fail(|| format!("{name} sql full scan: id {id} has k {k}"));
        } else if v != data.v(id as u64).as_bytes() {
            checks.fail(|| format!("{name} sql full scan: id {id} has a wrong v"));
        }
        next = id.saturating_add(1);
    })?;
    if digest.rows != data.rows() {
        let rows = digest.rows;
        checks.fail(|| {
            format!(
                "{name} sql full scan: {rows} rows, expected {}",
                data.rows()
            )
        });
    }
    Ok((digest, checks))
}
