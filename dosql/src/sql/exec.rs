//! The executor: runs query plans inside one engine transaction and
//! returns their rows.
//!
//! ```text
//!   run_query: CTEs -> body -> ORDER BY (compound) -> LIMIT/OFFSET
//!   run_select: pre-filters -> nested-loop join over levels
//!               -> group + aggregate + HAVING -> window functions
//!               -> projection -> DISTINCT -> ORDER BY
//! ```
//!
//! Rows are materialised between operators (result sets of a Durable
//! Object request are small, and it keeps every operator simple). A level
//! whose access path does not depend on outer rows is read once per query
//! run and reused for every outer row. Groups are kept in a B-tree map
//! keyed by the keycode of their (collation-folded) values, so grouped
//! output comes out in group-key order, as SQLite's does.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::rc::Rc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::{Error, Result};
use crate::keycode;
use crate::mvcc::{Engine, TxnId};
use crate::sql::expr::{Env, Expr};
use crate::sql::func::{self, FuncContext};
use crate::sql::plan::{
    Access, Body, CtePlan, Level, OrderKey, Probe, QueryPlan, SelectPlan, SetOp, Source,
};
pub use crate::sql::rows::Row;
use crate::sql::rows::{self, push_key};
use crate::sql::schema::Table;
use crate::sql::value::{apply_affinity, compare, Affinity, Collation, Value};
use crate::sql::window;

/// Groups by their key: the group's last row and its aggregate states.
type Groups = BTreeMap<Vec<u8>, (Row, Vec<Box<dyn func::Aggregate>>)>;

/// What a statement executes against.
pub struct Exec<'a> {
    pub engine: &'a mut Engine,
    pub txn: TxnId,
    pub params: &'a [Value],
    pub func: FuncContext,
    /// Materialised CTEs by id.
    pub ctes: FxHashMap<usize, Rc<Vec<Row>>>,
    /// The schema statements run against (for foreign keys).
    pub schema: Option<&'a crate::sql::schema::Schema>,
    /// State of a data-changing statement (write.rs).
    pub dml: crate::sql::write::DmlState,
}

/// Runs a query and returns its rows.
pub fn run_query(plan: &QueryPlan, ex: &mut Exec, outer: Option<&Env>) -> Result<Vec<Row>> {
    for cte in &plan.ctes {
        materialize(cte, ex, outer)?;
    }
    let mut rows = match &plan.body {
        Body::Select(s) => run_select(s, ex, outer)?,
        Body::Compound {
            op,
            all,
            left,
            right,
        } => {
            let l = run_query(left, ex, outer)?;
            let r = run_query(right, ex, outer)?;
            compound(*op, *all, l, r)
        }
        Body::Values(list) => {
            let env = Env::new(&[], outer);
            let mut rows = Vec::with_capacity(list.len());
            for exprs in list {
                rows.push(
                    exprs
                        .iter()
                        .map(|e| e.eval(&env, ex))
                        .collect::<Result<Row>>()?,
                );
            }
            rows
        }
    };
    if !plan.order.is_empty() {
        let keyed = rows
            .into_iter()
            .map(|r| {
                let env = Env::new(&r, outer);
                let keys = plan
                    .order
                    .iter()
                    .map(|k| k.expr.eval(&env, ex))
                    .collect::<Result<Vec<_>>>()?;
                Ok((r, keys))
            })
            .collect::<Result<Vec<_>>>()?;
        rows = sort(keyed, &plan.order);
    }
    limit(plan, rows, ex, outer)
}

fn limit(
    plan: &QueryPlan,
    mut rows: Vec<Row>,
    ex: &mut Exec,
    outer: Option<&Env>,
) -> Result<Vec<Row>> {
    let env = Env::new(&[], outer);
    let number = |e: &Option<Expr>, ex: &mut Exec| -> Result<Option<i64>> {
        match e {
            None => Ok(None),
            Some(e) => match e.eval(&env, ex)? {
                Value::Integer(i) => Ok(Some(i)),
                Value::Real(f) if f.fract() == 0.0 => Ok(Some(f as i64)),
                v => match apply_affinity(v, Affinity::Integer) {
                    Value::Integer(i) => Ok(Some(i)),
                    _ => Err(Error::TypeMismatch(
                        "datatype mismatch in LIMIT or OFFSET".into(),
                    )),
                },
            },
        }
    };
    let offset = number(&plan.offset, ex)?.unwrap_or(0).max(0) as u64;
    let limit = number(&plan.limit, ex)?;
    if offset > 0 {
        let skip = (offset.min(rows.len() as u64)) as usize;
        rows.drain(..skip);
    }
    if let Some(l) = limit.filter(|l| *l >= 0) {
        rows.truncate(l.min(rows.len() as i64) as usize);
    }
    Ok(rows)
}

fn materialize(cte: &CtePlan, ex: &mut Exec, outer: Option<&Env>) -> Result<()> {
    match cte {
        CtePlan::Plain { id, plan } => {
            let rows = run_query(plan, ex, outer)?;
            ex.ctes.insert(*id, Rc::new(rows));
        }
        CtePlan::Recursive {
            id,
            anchor,
            step,
            all,
        } => {
            let mut seen = FxHashSet::default();
            let mut result = Vec::new();
            let mut work = Vec::new();
            for row in run_query(anchor, ex, outer)? {
                if *all || seen.insert(row_key(&row)) {
                    result.push(row.clone());
                    work.push(row);
                }
            }
            // A runaway recursion is a user error, not a hang.
            const MAX_ROWS: usize = 10_000_000;
            while !work.is_empty() {
                ex.ctes.insert(*id, Rc::new(std::mem::take(&mut work)));
                for row in run_query(step, ex, outer)? {
                    if *all || seen.insert(row_key(&row)) {
                        result.push(row.clone());
                        work.push(row);
                    }
                }
                if result.len() > MAX_ROWS {
                    return Err(Error::LimitExceeded(format!(
                        "recursive query produced more than {MAX_ROWS} rows"
                    )));
                }
            }
            ex.ctes.insert(*id, Rc::new(result));
        }
    }
    Ok(())
}

/// A byte key that is equal for rows SQLite considers duplicates.
fn row_key(row: &[Value]) -> Vec<u8> {
    let mut key = Vec::new();
    for v in row {
        push_key(v, Collation::Binary, &mut key);
    }
    key
}

fn compound(op: SetOp, all: bool, left: Vec<Row>, right: Vec<Row>) -> Vec<Row> {
    if op == SetOp::Union && all {
        let mut rows = left;
        rows.extend(right);
        return rows;
    }
    // SQLite runs the other set operations through a sorted temporary
    // index, so their output is in row order.
    let mut out: BTreeMap<Vec<u8>, Row> = BTreeMap::new();
    match op {
        SetOp::Union => {
            for r in left.into_iter().chain(right) {
                out.entry(row_key(&r)).or_insert(r);
            }
        }
        SetOp::Intersect => {
            let r: FxHashSet<Vec<u8>> = right.iter().map(|r| row_key(r)).collect();
            for l in left {
                let k = row_key(&l);
                if r.contains(&k) {
                    out.entry(k).or_insert(l);
                }
            }
        }
        SetOp::Except => {
            let r: FxHashSet<Vec<u8>> = right.iter().map(|r| row_key(r)).collect();
            for l in left {
                let k = row_key(&l);
                if !r.contains(&k) {
                    out.entry(k).or_insert(l);
                }
            }
        }
    }
    out.into_values().collect()
}

fn sort(mut keyed: Vec<(Row, Vec<Value>)>, order: &[OrderKey]) -> Vec<Row> {
    keyed.sort_by(|(_, a), (_, b)| {
        for (k, (x, y)) in order.iter().zip(a.iter().zip(b)) {
            let ord = match (x.is_null(), y.is_null()) {
                (true, true) => Ordering::Equal,
                (true, false) => {
                    return if k.nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (false, true) => {
                    return if k.nulls_first {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (false, false) => compare(x, y, k.coll),
            };
            let ord = if k.desc { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
    keyed.into_iter().map(|(r, _)| r).collect()
}

fn run_select(plan: &SelectPlan, ex: &mut Exec, outer: Option<&Env>) -> Result<Vec<Row>> {
    let mut joined = Vec::new();
    let env = Env::new(&[], outer);
    let mut pass = true;
    for f in &plan.pre_filters {
        if !f.test(&env, ex)? {
            pass = false;
            break;
        }
    }
    if pass {
        let mut row = vec![Value::Null; plan.width];
        let mut cache: Vec<Option<Rc<Vec<Row>>>> = plan.levels.iter().map(|_| None).collect();
        join(plan, 0, &mut row, &mut cache, ex, outer, &mut joined)?;
    }
    let mut out: Vec<(Row, Vec<Value>)> = Vec::new();
    let emit = |r: &[Value], ex: &mut Exec, out: &mut Vec<(Row, Vec<Value>)>| -> Result<()> {
        let env = Env::new(r, outer);
        let values = plan
            .projection
            .iter()
            .map(|e| e.eval(&env, ex))
            .collect::<Result<Row>>()?;
        let keys = plan
            .order
            .iter()
            .map(|k| k.expr.eval(&env, ex))
            .collect::<Result<Vec<_>>>()?;
        out.push((values, keys));
        Ok(())
    };
    // The rows the projection reads: joined rows, or group rows.
    let mut staged: Vec<Row> = Vec::new();
    match &plan.aggregate {
        None => staged = joined,
        Some(agg) => {
            let mut groups: Groups = BTreeMap::new();
            let new_states = || -> Result<Vec<Box<dyn func::Aggregate>>> {
                agg.aggs
                    .iter()
                    .map(|a| {
                        func::aggregate(&a.name, a.args.len(), a.distinct).ok_or_else(|| {
                            Error::NotFound(format!("no such aggregate: {}", a.name))
                        })
                    })
                    .collect()
            };
            let mut key = Vec::new();
            let mut args = Vec::new();
            for r in joined {
                let env = Env::new(&r, outer);
                key.clear();
                for (g, coll) in &agg.group_by {
                    push_key(&g.eval(&env, ex)?, *coll, &mut key);
                }
                if !groups.contains_key(&key) {
                    groups.insert(key.clone(), (Vec::new(), new_states()?));
                }
                let (rep, states) = groups.get_mut(&key).expect("inserted above");
                for (spec, state) in agg.aggs.iter().zip(states.iter_mut()) {
                    if let Some(f) = &spec.filter {
                        if !f.test(&env, ex)? {
                            continue;
                        }
                    }
                    args.clear();
                    for a in &spec.args {
                        args.push(a.eval(&env, ex)?);
                    }
                    state.step(&args)?;
                }
                *rep = r;
            }
            if groups.is_empty() && agg.group_by.is_empty() {
                groups.insert(Vec::new(), (vec![Value::Null; plan.width], new_states()?));
            }
            for (_, (mut rep, states)) in groups {
                for mut s in states {
                    rep.push(s.finish()?);
                }
                if let Some(h) = &agg.having {
                    if !h.test(&Env::new(&rep, outer), ex)? {
                        continue;
                    }
                }
                staged.push(rep);
            }
        }
    }
    if let Some(w) = &plan.windows {
        staged = window::run(w, staged, ex, outer)?;
    }
    for r in &staged {
        emit(r, ex, &mut out)?;
    }
    if plan.distinct {
        let mut seen = FxHashSet::default();
        out.retain(|(r, _)| seen.insert(row_key(r)));
    }
    if plan.order.is_empty() {
        return Ok(out.into_iter().map(|(r, _)| r).collect());
    }
    Ok(sort(out, &plan.order))
}

#[allow(clippy::too_many_arguments)]
fn join(
    plan: &SelectPlan,
    depth: usize,
    row: &mut Row,
    cache: &mut [Option<Rc<Vec<Row>>>],
    ex: &mut Exec,
    outer: Option<&Env>,
    out: &mut Vec<Row>,
) -> Result<()> {
    let Some(level) = plan.levels.get(depth) else {
        out.push(row.clone());
        return Ok(());
    };
    let candidates = match &cache[depth] {
        Some(rows) => rows.clone(),
        None => {
            let rows = Rc::new(fetch(level, &Env::new(row, outer), ex)?);
            if !level.dependent {
                cache[depth] = Some(rows.clone());
            }
            rows
        }
    };
    let range = level.offset..level.offset + level.width;
    let mut matched = false;
    for cand in candidates.iter() {
        row[range.clone()].clone_from_slice(cand);
        let env = Env::new(row, outer);
        if level.left && !all(&level.on, &env, ex)? {
            continue;
        }
        matched = true;
        if all(&level.filters, &env, ex)? {
            join(plan, depth + 1, row, cache, ex, outer, out)?;
        }
    }
    if level.left && !matched {
        row[range].fill(Value::Null);
        if all(&level.filters, &Env::new(row, outer), ex)? {
            join(plan, depth + 1, row, cache, ex, outer, out)?;
        }
    }
    Ok(())
}

fn all(conds: &[Expr], env: &Env, ex: &mut Exec) -> Result<bool> {
    for c in conds {
        if !c.test(env, ex)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The candidate rows of a level for the current outer row.
pub fn fetch(level: &Level, env: &Env, ex: &mut Exec) -> Result<Vec<Row>> {
    match &level.source {
        Source::Table(t) => Ok(fetch_table(t, &level.access, env, ex)?
            .into_iter()
            .map(|(_, r)| r)
            .collect()),
        Source::Query(q) => run_query(q, ex, None),
        Source::Cte(id) => Ok(ex
            .ctes
            .get(id)
            .map(|rows| rows.as_ref().clone())
            .unwrap_or_default()),
    }
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

/// Rows (with table keys) of table `t` that `access` may match.
pub fn fetch_table(
    t: &Table,
    access: &Access,
    env: &Env,
    ex: &mut Exec,
) -> Result<Vec<(Vec<u8>, Row)>> {
    match access {
        Access::Scan => rows::scan(ex.engine, ex.txn, t, Bound::Unbounded, Bound::Unbounded),
        Access::Rowid(Probe::Eq(values)) => {
            let mut out = Vec::new();
            let mut seen = FxHashSet::default();
            for e in values {
                let rowid = match probe_value(e, env, ex, Affinity::Integer)? {
                    Some(Value::Integer(i)) => i,
                    Some(Value::Real(f)) if f.fract() == 0.0 && (-9.2e18..=9.2e18).contains(&f) => {
                        f as i64
                    }
                    _ => continue,
                };
                if !seen.insert(rowid) {
                    continue;
                }
                let mut key = Vec::with_capacity(10);
                keycode::encode_i64(rowid, &mut key);
                if let Some(row) = rows::get(ex.engine, ex.txn, t, &key)? {
                    out.push((key, row));
                }
            }
            if values.len() > 1 {
                out.sort_by(|a, b| a.0.cmp(&b.0));
            }
            Ok(out)
        }
        Access::Rowid(Probe::Range { lo, hi }) => {
            let Some((lo, hi)) =
                range_bounds(lo, hi, env, ex, Affinity::Integer, Collation::Binary, false)?
            else {
                return Ok(Vec::new());
            };
            rows::scan(ex.engine, ex.txn, t, as_ref(&lo), as_ref(&hi))
        }
        Access::Index {
            index,
            probe,
            aff,
            coll,
        } => {
            let idx = &t.indexes[*index];
            let mut keys = Vec::new();
            match probe {
                Probe::Eq(values) => {
                    let mut seen = FxHashSet::default();
                    let mut prefixes = Vec::new();
                    for e in values {
                        let Some(v) = probe_value(e, env, ex, *aff)? else {
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
                        keys.extend(rows::index_scan(
                            ex.engine,
                            ex.txn,
                            idx,
                            Bound::Included(&prefix),
                            Bound::Excluded(&end),
                            usize::MAX,
                        )?);
                    }
                }
                Probe::Range { lo, hi } => {
                    let Some((lo, hi)) = range_bounds(lo, hi, env, ex, *aff, *coll, true)? else {
                        return Ok(Vec::new());
                    };
                    keys = rows::index_scan(
                        ex.engine,
                        ex.txn,
                        idx,
                        as_ref(&lo),
                        as_ref(&hi),
                        usize::MAX,
                    )?;
                }
            }
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                if let Some(row) = rows::get(ex.engine, ex.txn, t, &key)? {
                    out.push((key, row));
                }
            }
            Ok(out)
        }
    }
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
