//! The storage-level workloads: what each does, how it is timed, and how
//! every answer is checked against the model.
//!
//! | workload     | timed unit                                   | op       |
//! |--------------|----------------------------------------------|----------|
//! | `insert-seq` | load keys 0..N in order, commit, checkpoint  | row      |
//! | `insert`     | load keys 0..N shuffled, commit, checkpoint  | row      |
//! | `get`        | point lookups in one read transaction        | lookup   |
//! | `scan`       | 100-row range scans in one read transaction  | scan     |
//! | `update`     | updates, `per_txn` per commit, checkpoint    | update   |
//!
//! The SQL-level workloads (`sql-insert`, `sql-point`, `sql-range`,
//! `sql-join`, `sql-update`) are variants of the same [`Workload`] and are
//! timed and checked in `crate::sql::workloads`.
//!
//! Rule for write workloads: the timed unit ends with an explicit
//! checkpoint on both engines, so neither can look fast by deferring work
//! (moving pages out of the WAL) past the stopwatch. The time up to the
//! last commit is kept too and printed as a detail.
//!
//! Timed loops do no more per row than record the key and a hash of the
//! value (identical work for both engines); every comparison with the model
//! runs after the clock stops. A failed check never stops the run: it is
//! counted, the first few are kept for the report, and the process exits
//! non-zero at the end.

use std::time::{Duration, Instant};

use crate::data::{value_hash, Dataset, Digest, Values};
use crate::kv::{EngineKind, KvStore, Result};

/// One storage-level workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Workload {
    /// Bulk load in key order into a fresh database (its own database, so
    /// that it does not disturb the others).
    InsertSeq,
    /// Bulk load in shuffled order: the headline insert; builds the
    /// database the later workloads read and update.
    Insert,
    /// Random point lookups.
    Get,
    /// Range scans from random start keys.
    Scan,
    /// Random updates in small transactions.
    Update,
    /// SQL: INSERT of every row through one prepared statement, one
    /// transaction, into a table with a secondary index.
    SqlInsert,
    /// SQL: SELECT by primary key.
    SqlPoint,
    /// SQL: SELECT of about 100 rows through the secondary index.
    SqlRange,
    /// SQL: join of the whole table with a small one, GROUP BY.
    SqlJoin,
    /// SQL: UPDATE by primary key in small transactions.
    SqlUpdate,
}

impl Workload {
    /// Every workload, in the canonical (execution) order.
    pub const ALL: [Workload; 10] = [
        Workload::InsertSeq,
        Workload::Insert,
        Workload::Get,
        Workload::Scan,
        Workload::Update,
        Workload::SqlInsert,
        Workload::SqlPoint,
        Workload::SqlRange,
        Workload::SqlJoin,
        Workload::SqlUpdate,
    ];

    /// True for the SQL-level workloads (`crate::sql`).
    pub fn is_sql(self) -> bool {
        matches!(
            self,
            Workload::SqlInsert
                | Workload::SqlPoint
                | Workload::SqlRange
                | Workload::SqlJoin
                | Workload::SqlUpdate
        )
    }

    /// Name used by `--workloads` and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Workload::InsertSeq => "insert-seq",
            Workload::Insert => "insert",
            Workload::Get => "get",
            Workload::Scan => "scan",
            Workload::Update => "update",
            Workload::SqlInsert => "sql-insert",
            Workload::SqlPoint => "sql-point",
            Workload::SqlRange => "sql-range",
            Workload::SqlJoin => "sql-join",
            Workload::SqlUpdate => "sql-update",
        }
    }

    /// What one op is, for the table's unit column.
    pub fn unit(self) -> &'static str {
        match self {
            Workload::InsertSeq | Workload::Insert => "rows/s",
            Workload::Get => "lookups/s",
            Workload::Scan => "scans/s",
            Workload::Update | Workload::SqlUpdate => "updates/s",
            Workload::SqlInsert => "rows/s",
            Workload::SqlPoint | Workload::SqlRange | Workload::SqlJoin => "queries/s",
        }
    }

    /// Parses a name from [`Workload::name`].
    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// All names, comma-separated, for messages.
    pub fn names() -> String {
        Workload::ALL.map(Workload::name).join(",")
    }
}

/// How many check failures keep their message.
const KEPT_FAILURES: usize = 5;

/// Failed result checks: a count and the first few messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checks {
    /// Number of failed checks.
    pub failed: u64,
    /// Messages of the first failures.
    pub messages: Vec<String>,
}

impl Checks {
    /// Records one failure; the message is built only if it will be kept.
    pub fn fail(&mut self, msg: impl FnOnce() -> String) {
        self.failed += 1;
        if self.messages.len() < KEPT_FAILURES {
            self.messages.push(msg());
        }
    }

    /// True when nothing failed.
    pub fn ok(&self) -> bool {
        self.failed == 0
    }

    /// Adds `other`'s failures to these.
    pub fn merge(&mut self, other: Checks) {
        self.failed += other.failed;
        for m in other.messages {
            if self.messages.len() < KEPT_FAILURES {
                self.messages.push(m);
            }
        }
    }
}

/// One engine's result for one workload.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// The engine measured.
    pub engine: EngineKind,
    /// Operations done in the timed unit.
    pub ops: u64,
    /// Duration of the timed unit.
    pub elapsed: Duration,
    /// For write workloads: the part of `elapsed` before the checkpoint.
    pub until_commit: Option<Duration>,
    /// Digest of the rows the workload returned (or, for loads, of the
    /// loaded database), for comparing engines.
    pub digest: Digest,
    /// Failed checks.
    pub checks: Checks,
}

impl Measurement {
    /// Operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Loads `values.get(j)` under `keys[j]` (one transaction) and
/// checkpoints; the insert workloads.
pub fn run_load(store: &mut dyn KvStore, keys: &[u64], values: &Values) -> Result<Measurement> {
    let start = Instant::now();
    store.load(keys, values)?;
    let until_commit = start.elapsed();
    store.checkpoint()?;
    let elapsed = start.elapsed();
    Ok(Measurement {
        engine: store.kind(),
        ops: keys.len() as u64,
        elapsed,
        until_commit: Some(until_commit),
        digest: Digest::default(),
        checks: Checks::default(),
    })
}

/// Random point lookups; every key must be found with the model's value.
/// The timed loop only records what came back (key, value hash); the
/// comparison with the model runs after the clock stops (see
/// [`value_hash`] for why).
pub fn run_get(store: &mut dyn KvStore, data: &Dataset) -> Result<Measurement> {
    let keys = &data.lookup_keys;
    let mut seen: Vec<(u64, Option<u64>)> = Vec::with_capacity(keys.len());
    let start = Instant::now();
    store.get_many(keys, &mut |k, found| seen.push((k, found.map(value_hash))))?;
    let elapsed = start.elapsed();

    let mut digest = Digest::default();
    let mut checks = Checks::default();
    if seen.len() != keys.len() {
        checks.fail(|| format!("get: {} answers for {} lookups", seen.len(), keys.len()));
    }
    for (&(k, found), &want) in seen.iter().zip(keys) {
        match found {
            _ if k != want => checks.fail(|| format!("get {want}: answered for key {k}")),
            None => checks.fail(|| format!("get {k}: not found")),
            Some(h) => {
                digest.add_hashed(k, h);
                if h != value_hash(data.model.get(k)) {
                    checks.fail(|| format!("get {k}: value differs from the one written"));
                }
            }
        }
    }
    Ok(Measurement {
        engine: store.kind(),
        ops: keys.len() as u64,
        elapsed,
        until_commit: None,
        digest,
        checks,
    })
}

/// Range scans; scan `i` must return exactly the keys `start_i, start_i+1,
/// ...` (as many as exist, up to the scan length) with the model's values.
/// As for lookups, the timed loop only records (scan, key, value hash).
pub fn run_scan(store: &mut dyn KvStore, data: &Dataset) -> Result<Measurement> {
    let starts = &data.scan_starts;
    let expected: usize = starts.iter().map(|&s| data.expected_scan_len(s)).sum();
    let mut seen: Vec<(usize, u64, u64)> = Vec::with_capacity(expected);
    let start = Instant::now();
    store.scan_many(starts, data.scan_len, &mut |i, k, v| {
        seen.push((i, k, value_hash(v)))
    })?;
    let elapsed = start.elapsed();

    let mut digest = Digest::default();
    let mut checks = Checks::default();
    let mut counts = vec![0usize; starts.len()];
    for &(i, k, h) in &seen {
        let Some(&first) = starts.get(i) else {
            checks.fail(|| format!("scan index {i} out of range"));
            continue;
        };
        let want = first + counts[i] as u64;
        counts[i] += 1;
        digest.add_hashed(k, h);
        if k != want {
            checks.fail(|| format!("scan {i} from {first}: got key {k}, expected {want}"));
        } else if h != value_hash(data.model.get(k)) {
            checks.fail(|| format!("scan {i}: key {k} has a value differing from the one written"));
        }
    }
    for (i, (&count, &first)) in counts.iter().zip(starts).enumerate() {
        let want = data.expected_scan_len(first);
        if count != want {
            checks.fail(|| format!("scan {i} from {first}: {count} rows, expected {want}"));
        }
    }
    Ok(Measurement {
        engine: store.kind(),
        ops: starts.len() as u64,
        elapsed,
        until_commit: None,
        digest,
        checks,
    })
}

/// Updates in small committed transactions, then a checkpoint. Checked by
/// the final full verification, once the model includes the updates.
pub fn run_update(store: &mut dyn KvStore, data: &Dataset) -> Result<Measurement> {
    let start = Instant::now();
    store.update(&data.updates)?;
    let until_commit = start.elapsed();
    store.checkpoint()?;
    let elapsed = start.elapsed();
    Ok(Measurement {
        engine: store.kind(),
        ops: data.updates.keys.len() as u64,
        elapsed,
        until_commit: Some(until_commit),
        digest: Digest::default(),
        checks: Checks::default(),
    })
}

/// Reads every row (untimed) and checks that the database holds exactly
/// the keys `0..rows` with the model's values. Returns the digest of all
/// rows and the failures.
pub fn verify_contents(store: &mut dyn KvStore, data: &Dataset) -> Result<(Digest, Checks)> {
    let mut digest = Digest::default();
    let mut checks = Checks::default();
    let mut next = 0u64;
    let name = store.kind().name();
    store.for_each_row(&mut |k, v| {
        digest.add(k, v);
        if k != next {
            checks.fail(|| format!("{name} full scan: key {k} where {next} was expected"));
        } else if v != data.model.get(k) {
            checks.fail(|| format!("{name} full scan: key {k} has a wrong value"));
        }
        next = k.saturating_add(1);
    })?;
    if digest.rows != data.rows() {
        checks.fail(|| {
            format!(
                "{name} full scan: {} rows, expected {}",
                digest.rows,
                data.rows()
            )
        });
    }
    Ok((digest, checks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for w in Workload::ALL {
            assert_eq!(Workload::from_name(w.name()), Some(w));
        }
        assert_eq!(Workload::from_name("Insert"), None);
        assert_eq!(
            Workload::names(),
            "insert-seq,insert,get,scan,update,sql-insert,sql-point,sql-range,sql-join,sql-update"
        );
    }

    #[test]
    fn checks_keep_only_the_first_messages() {
        let mut c = Checks::default();
        for i in 0..8 {
            c.fail(|| format!("f{i}"));
        }
        assert_eq!(c.failed, 8);
        assert_eq!(c.messages.len(), KEPT_FAILURES);
        let mut d = Checks::default();
        d.fail(|| "x".into());
        d.merge(c);
        assert_eq!(d.failed, 9);
        assert_eq!(d.messages[0], "x");
        assert!(!d.ok());
    }
}
