//! Access paths run: the rows of one table level that its [`Access`] may
//! match, streamed into the executor's row buffer one at a time.
//!
//! ```text
//!   Scan / Rowid range   table tree, read in chunks of CHUNK_ROWS rows:
//!                          scan_with copies the chunk's raw (key, value)
//!                          pairs into one buffer; each pair is decoded into
//!                          row[at..at + width] and handed to the visitor,
//!                          which may use the engine (inner levels, lookups)
//!                          before the next chunk resumes after the last key
//!   Rowid = / IN         one get per distinct rowid, ascending
//!   Index = / IN / range index tree -> table keys (one flat buffer), then one
//!                          get per key, in index order
//! ```
//!
//! Invariants:
//! * Probe values are computed from the row as it is on entry (earlier
//!   levels and outer queries only), before any candidate is decoded into
//!   it; the visitor sees the candidate's table key and the row.
//! * Nothing is materialised per row: the row buffer's text and blob slots
//!   keep their allocations from one candidate to the next. A chunked scan
//!   reads one snapshot plus the transaction's own writes; statements that
//!   change rows collect their targets completely before writing, so the
//!   range never changes under a scan.
//! * Filters are not applied here: an access path returns a superset of
//!   the matching rows (see plan.rs), the caller tests them.

use std::ops::Bound;

use rustc_hash::FxHashSet;

use crate::error::Result;
use crate::keycode;
use crate::mvcc::{Engine, TreeId, TxnId};
use crate::sql::exec::Exec;
use crate::sql::expr::{Env, Expr};
use crate::sql::plan::{Access, Probe};
use crate::sql::rows::{self, push_key, Row};
use crate::sql::schema::Table;
use crate::sql::value::{apply_affinity, Affinity, Collation, Value};

/// Rows per chunk of a streamed scan: large enough that the descent each
/// chunk starts with is amortised, small enough to stay in cache.
const CHUNK_ROWS: usize = 128;

/// Receives each candidate: its table key, the row buffer with the
/// candidate decoded into it, and the executor.
pub type Visit<'v> = dyn FnMut(&[u8], &mut [Value], &mut Exec) -> Result<()> + 'v;

/// Calls `visit` for each row of `t` that `access` may match, in key
/// order (index order for an index probe), decoded into
/// `row[at..at + t.width()]`. Probe expressions read `row` and `outer`.
pub fn for_each_row(
    t: &Table,
    access: &Access,
    row: &mut [Value],
    at: usize,
    outer: Option<&Env>,
    ex: &mut Exec,
    visit: &mut Visit,
) -> Result<()> {
    let width = t.width();
    match access {
        Access::Scan => scan_rows(t, Bound::Unbounded, Bound::Unbounded, row, at, ex, visit),
        Access::Rowid(Probe::Eq(values)) => {
            let mut rowids = Vec::with_capacity(values.len());
            for e in values {
                if let Some(rowid) = rowid_probe(e, &Env::new(row, outer), ex)? {
                    rowids.push(rowid);
                }
            }
            // Key order is rowid order; IN lists repeat values freely.
            if rowids.len() > 1 {
                rowids.sort_unstable();
                rowids.dedup();
            }
            let id = rows::tree(ex.engine, ex.txn, &t.tree)?;
            let mut key = Vec::with_capacity(10);
            for rowid in rowids {
                if read_rowid(t, id, rowid, &mut key, row, at, ex)? {
                    visit(&key, row, ex)?;
                }
            }
            Ok(())
        }
        Access::Rowid(Probe::Range { lo, hi }) => {
            let env = Env::new(row, outer);
            let bounds = range_bounds(
                lo,
                hi,
                &env,
                ex,
                Affinity::Integer,
                Collation::Binary,
                false,
            )?;
            let Some((lo, hi)) = bounds else {
                return Ok(());
            };
            scan_rows(t, as_ref(&lo), as_ref(&hi), row, at, ex, visit)
        }
        Access::Index {
            index,
            probe,
            aff,
            coll,
        } => {
            let idx = &t.indexes[*index];
            let id = rows::tree(ex.engine, ex.txn, &idx.tree)?;
            // Table keys laid end to end: `ends[i]` is where key i ends.
            let mut keys = Vec::new();
            let mut ends = Vec::new();
            let mut collect = |ex: &mut Exec, lo: Bound<&[u8]>, hi: Bound<&[u8]>| {
                ex.engine.scan_with(ex.txn, id, lo, hi, usize::MAX, |_, k| {
                    keys.extend_from_slice(k);
                    ends.push(keys.len());
                    Ok(())
                })
            };
            match probe {
                Probe::Eq(values) => {
                    let mut seen = FxHashSet::default();
                    let mut prefixes = Vec::new();
                    for e in values {
                        let env = Env::new(row, outer);
                        let Some(v) = probe_value(e, &env, ex, *aff)? else {
                            continue;
                        };
                        let mut prefix = Vec::new();
                        push_key(&v, *coll, &mut prefix);
                        if seen.insert(prefix.clone()) {
                            prefixes.push(prefix);
                        }
                    }
                    prefixes.sort();
                    for prefix in prefixes {
                        let end = rows::prefix_end(&prefix);
                        collect(ex, Bound::Included(&prefix), Bound::Excluded(&end))?;
                    }
                }
                Probe::Range { lo, hi } => {
                    let env = Env::new(row, outer);
                    let Some((lo, hi)) = range_bounds(lo, hi, &env, ex, *aff, *coll, true)? else {
                        return Ok(());
                    };
                    collect(ex, as_ref(&lo), as_ref(&hi))?;
                }
            }
            let id = rows::tree(ex.engine, ex.txn, &t.tree)?;
            let mut start = 0;
            for end in ends {
                let key = &keys[start..end];
                start = end;
                let slots = &mut row[at..at + width];
                let found = ex
                    .engine
                    .get_with(ex.txn, id, key, |v| rows::decode_into(t, key, v, slots))?;
                if let Some(decoded) = found {
                    decoded?;
                    visit(key, row, ex)?;
                }
            }
            Ok(())
        }
    }
}

/// The rowid a `rowid = e` probe looks up, or None when `e` is no integer
/// (NULL, a fraction, text that is not a number): then nothing matches.
pub fn rowid_probe(e: &Expr, env: &Env, ex: &mut Exec) -> Result<Option<i64>> {
    Ok(match probe_value(e, env, ex, Affinity::Integer)? {
        Some(Value::Integer(i)) => Some(i),
        Some(Value::Real(f)) if f.fract() == 0.0 && (-9.2e18..=9.2e18).contains(&f) => {
            Some(f as i64)
        }
        _ => None,
    })
}

/// Reads the row of `rowid` from table `t` (tree `id`) into
/// `row[at..at + t.width()]`, leaving its key in `key`; false if there is
/// no such row.
pub fn read_rowid(
    t: &Table,
    id: TreeId,
    rowid: i64,
    key: &mut Vec<u8>,
    row: &mut [Value],
    at: usize,
    ex: &mut Exec,
) -> Result<bool> {
    key.clear();
    keycode::encode_i64(rowid, key);
    let slots = &mut row[at..at + t.width()];
    let found = ex
        .engine
        .get_with(ex.txn, id, key, |v| rows::decode_into(t, key, v, slots))?;
    match found {
        Some(decoded) => decoded.map(|_| true),
        None => Ok(false),
    }
}

/// Rows (with table keys) of table `t` that `access` may match, with
/// probe expressions evaluated in `env`.
pub fn fetch_table(
    t: &Table,
    access: &Access,
    env: &Env,
    ex: &mut Exec,
) -> Result<Vec<(Vec<u8>, Row)>> {
    // Probes read `env`, whose row is laid out before the candidate's.
    let at = env.row.len();
    let mut row = env.row.to_vec();
    row.resize(at + t.width(), Value::Null);
    let mut out = Vec::new();
    for_each_row(
        t,
        access,
        &mut row,
        at,
        env.outer,
        ex,
        &mut |key, row, _| {
            out.push((key.to_vec(), row[at..].to_vec()));
            Ok(())
        },
    )?;
    Ok(out)
}

/// The table rows with keys in the range, in key order, a chunk at a time.
fn scan_rows(
    t: &Table,
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
    row: &mut [Value],
    at: usize,
    ex: &mut Exec,
    visit: &mut Visit,
) -> Result<()> {
    let id = rows::tree(ex.engine, ex.txn, &t.tree)?;
    let width = t.width();
    scan_chunked(ex, id, lo, hi, &mut |key, value, ex| {
        rows::decode_into(t, key, value, &mut row[at..at + width])?;
        visit(key, row, ex)
    })
}

/// Receives one (key, value) pair of a chunked scan.
type Pair<'f> = dyn FnMut(&[u8], &[u8], &mut Exec) -> Result<()> + 'f;

/// Calls `f` with each (key, value) of tree `id` in the range, ascending,
/// copied a chunk at a time so that `f` may use the engine.
fn scan_chunked(
    ex: &mut Exec,
    id: TreeId,
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
    f: &mut Pair,
) -> Result<()> {
    // Pairs of the chunk laid end to end: (key start, value start, end).
    let mut buf = Vec::new();
    let mut spans: Vec<(usize, usize, usize)> = Vec::with_capacity(CHUNK_ROWS);
    let mut resume: Option<Vec<u8>> = None;
    loop {
        buf.clear();
        spans.clear();
        let lower = match &resume {
            Some(last) => Bound::Excluded(last.as_slice()),
            None => lo,
        };
        let n = read_chunk(ex.engine, ex.txn, id, lower, hi, &mut buf, &mut spans)?;
        for &(k, v, e) in &spans {
            f(&buf[k..v], &buf[v..e], ex)?;
        }
        let Some(&(k, v, _)) = spans.last().filter(|_| n == CHUNK_ROWS) else {
            return Ok(());
        };
        let last = resume.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(&buf[k..v]);
    }
}

fn read_chunk(
    engine: &mut Engine,
    txn: TxnId,
    id: TreeId,
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
    buf: &mut Vec<u8>,
    spans: &mut Vec<(usize, usize, usize)>,
) -> Result<usize> {
    engine.scan_with(txn, id, lo, hi, CHUNK_ROWS, |k, v| {
        let start = buf.len();
        buf.extend_from_slice(k);
        let mid = buf.len();
        buf.extend_from_slice(v);
        spans.push((start, mid, buf.len()));
        Ok(())
    })
}

/// A probe value converted for a key column: affinity applied, and None
/// when it can match nothing (NULL).
fn probe_value(e: &Expr, env: &Env, ex: &mut Exec, aff: Affinity) -> Result<Option<Value>> {
    let v = e.eval(env, ex)?;
    if v.is_null() {
        return Ok(None);
    }
    Ok(Some(match aff {
        Affinity::Integer | Affinity::Real | Affinity::Numeric => {
            apply_affinity(v, Affinity::Numeric)
        }
        other => apply_affinity(v, other),
    }))
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    b.as_ref().map(Vec::as_slice)
}

/// Key bounds for a range probe; None when a bound is NULL (nothing
/// matches). Index keys carry a suffix after the probed column, so their
/// bounds are prefix bounds; a lower bound always skips NULL entries.
#[allow(clippy::type_complexity)]
fn range_bounds(
    lo: &Option<(Expr, bool)>,
    hi: &Option<(Expr, bool)>,
    env: &Env,
    ex: &mut Exec,
    aff: Affinity,
    coll: Collation,
    prefixed: bool,
) -> Result<Option<(Bound<Vec<u8>>, Bound<Vec<u8>>)>> {
    let encode =
        |b: &Option<(Expr, bool)>, ex: &mut Exec| -> Result<Option<Option<(Vec<u8>, bool)>>> {
            match b {
                None => Ok(Some(None)),
                Some((e, inclusive)) => match probe_value(e, env, ex, aff)? {
                    None => Ok(None),
                    Some(v) => {
                        let mut key = Vec::new();
                        push_key(&v, coll, &mut key);
                        Ok(Some(Some((key, *inclusive))))
                    }
                },
            }
        };
    let Some(lo) = encode(lo, ex)? else {
        return Ok(None);
    };
    let Some(hi) = encode(hi, ex)? else {
        return Ok(None);
    };
    // The NULL key is the single byte 0x05; every other value starts higher.
    let skip_nulls = Bound::Included(vec![0x06]);
    let lo = match lo {
        None => skip_nulls,
        Some((k, true)) => Bound::Included(k),
        Some((k, false)) if prefixed => Bound::Excluded(rows::prefix_end(&k)),
        Some((k, false)) => Bound::Excluded(k),
    };
    let hi = match hi {
        None => Bound::Unbounded,
        Some((k, true)) if prefixed => Bound::Included(rows::prefix_end(&k)),
        Some((k, true)) => Bound::Included(k),
        Some((k, false)) => Bound::Excluded(k),
    };
    Ok(Some((lo, hi)))
}
