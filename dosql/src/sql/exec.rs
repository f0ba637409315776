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
use std::rc::Rc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::{Error, Result};
use crate::mvcc::{Engine, TxnId};
use crate::sql::access::{fetch_table, for_each_row, read_rowid, rowid_probe};
use crate::sql::expr::{Env, Expr};
use crate::sql::func::{self, FuncContext};
use crate::sql::plan::{
    Access, Aggregation, Body, CtePlan, Level, OrderKey, Probe, QueryPlan, SelectPlan, SetOp,
    Source,
};
pub use crate::sql::rows::Row;
use crate::sql::rows::{self, push_key};
use crate::sql::value::{apply_affinity, compare, Affinity, Collation, Value};
use crate::sql::window;

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

/// Receives each joined row of a SELECT.
type Sink<'s> = dyn FnMut(&[Value], &mut Exec) -> Result<()> + 's;

/// The aggregate states of one group.
type States = Vec<Box<dyn func::Aggregate>>;

/// Groups being aggregated: their keys in a hash map, their rows and
/// states in first-seen order, sorted by key when the input ends.
struct Grouping<'p> {
    agg: &'p Aggregation,
    index: FxHashMap<Vec<u8>, usize>,
    /// (key, last row, aggregate states) per group.
    groups: Vec<(Vec<u8>, Row, States)>,
    key: Vec<u8>,
    args: Vec<Value>,
}

impl<'p> Grouping<'p> {
    fn new(agg: &'p Aggregation) -> Grouping<'p> {
        Grouping {
            agg,
            index: FxHashMap::default(),
            groups: Vec::new(),
            key: Vec::new(),
            args: Vec::new(),
        }
    }

    fn new_states(&self) -> Result<States> {
        self.agg
            .aggs
            .iter()
            .map(|a| {
                func::aggregate(&a.name, a.args.len(), a.distinct)
                    .ok_or_else(|| Error::NotFound(format!("no such aggregate: {}", a.name)))
            })
            .collect()
    }

    /// Steps the group of joined row `r`, which becomes its last row.
    fn step(&mut self, r: &[Value], ex: &mut Exec, outer: Option<&Env>) -> Result<()> {
        let env = Env::new(r, outer);
        self.key.clear();
        for (g, coll) in &self.agg.group_by {
            match g {
                // A column is encoded where it lies, without a copy.
                Expr::Col { idx, .. } => push_key(&r[*idx], *coll, &mut self.key),
                _ => push_key(&g.eval(&env, ex)?, *coll, &mut self.key),
            }
        }
        let at = match self.index.get(self.key.as_slice()) {
            Some(&at) => at,
            None => {
                let states = self.new_states()?;
                self.index.insert(self.key.clone(), self.groups.len());
                self.groups.push((self.key.clone(), Vec::new(), states));
                self.groups.len() - 1
            }
        };
        let (_, rep, states) = &mut self.groups[at];
        for (spec, state) in self.agg.aggs.iter().zip(states.iter_mut()) {
            if let Some(f) = &spec.filter {
                if !f.test(&env, ex)? {
                    continue;
                }
            }
            self.args.clear();
            for a in &spec.args {
                self.args.push(a.eval(&env, ex)?);
            }
            state.step(&self.args)?;
        }
        // Reuses the group row's buffers (see Value::clone_from).
        if rep.len() == r.len() {
            rep.clone_from_slice(r);
        } else {
            *rep = r.to_vec();
        }
        Ok(())
    }

    /// The group rows (last row, then aggregate results) in group-key
    /// order, as SQLite's sorter returns them, HAVING applied.
    fn finish(self, width: usize, ex: &mut Exec, outer: Option<&Env>) -> Result<Vec<Row>> {
        let mut groups = self.groups;
        if groups.is_empty() && self.agg.group_by.is_empty() {
            let states = Grouping::new(self.agg).new_states()?;
            groups.push((Vec::new(), vec![Value::Null; width], states));
        }
        groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut staged = Vec::with_capacity(groups.len());
        for (_, mut rep, states) in groups {
            for mut s in states {
                rep.push(s.finish()?);
            }
            if let Some(h) = &self.agg.having {
                if !h.test(&Env::new(&rep, outer), ex)? {
                    continue;
                }
            }
            staged.push(rep);
        }
        Ok(staged)
    }
}

/// Evaluates the projection and ORDER BY keys of one output row.
fn project(
    plan: &SelectPlan,
    r: &[Value],
    ex: &mut Exec,
    outer: Option<&Env>,
    out: &mut Vec<(Row, Vec<Value>)>,
) -> Result<()> {
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
}

fn run_select(plan: &SelectPlan, ex: &mut Exec, outer: Option<&Env>) -> Result<Vec<Row>> {
    let env = Env::new(&[], outer);
    let mut pass = true;
    for f in &plan.pre_filters {
        if !f.test(&env, ex)? {
            pass = false;
            break;
        }
    }
    // Joined rows stream into the grouping, or straight into the
    // projection; only window functions need them all at once.
    let mut out: Vec<(Row, Vec<Value>)> = Vec::new();
    let mut staged: Vec<Row> = Vec::new();
    let mut grouping = plan.aggregate.as_ref().map(Grouping::new);
    if pass {
        let mut row = vec![Value::Null; plan.width];
        let mut cache: Vec<LevelState> =
            plan.levels.iter().map(|_| LevelState::default()).collect();
        let direct = plan.windows.is_none();
        let mut sink = |r: &[Value], ex: &mut Exec| match &mut grouping {
            Some(g) => g.step(r, ex, outer),
            None if direct => project(plan, r, ex, outer, &mut out),
            None => {
                staged.push(r.to_vec());
                Ok(())
            }
        };
        join(plan, 0, &mut row, &mut cache, ex, outer, &mut sink)?;
    }
    if let Some(g) = grouping {
        staged = g.finish(plan.width, ex, outer)?;
    }
    let direct = plan.windows.is_none() && plan.aggregate.is_none();
    if let Some(w) = &plan.windows {
        staged = window::run(w, staged, ex, outer)?;
    }
    if !direct {
        for r in &staged {
            project(plan, r, ex, outer, &mut out)?;
        }
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

/// Rows found by rowid that a dependent level keeps, at most.
const MEMO_ROWS: usize = 4096;

/// What a level keeps across the outer rows of one run of its query. A
/// query writes nothing, so rows read once stay valid for the whole run.
#[derive(Default)]
struct LevelState {
    /// The candidates of an inner level that reads no outer row.
    rows: Option<Rc<Vec<Row>>>,
    /// A dependent `rowid = expr` level's rows by rowid (None: no row),
    /// so that outer rows repeating a value (a foreign key into a small
    /// table) do not search the tree again, as PostgreSQL's Memoize.
    memo: FxHashMap<i64, Option<Row>>,
}

/// Runs the levels from `depth` on for the row built so far, handing
/// every complete row to `sink`; `cache[0]` is this level's state.
#[allow(clippy::too_many_arguments)]
fn join(
    plan: &SelectPlan,
    depth: usize,
    row: &mut [Value],
    cache: &mut [LevelState],
    ex: &mut Exec,
    outer: Option<&Env>,
    sink: &mut Sink,
) -> Result<()> {
    let Some(level) = plan.levels.get(depth) else {
        return sink(row, ex);
    };
    let (mine, rest) = cache.split_first_mut().expect("a cache slot per level");
    let range = level.offset..level.offset + level.width;
    // Materialised candidates, or None to stream a table's rows.
    let rows: Option<Rc<Vec<Row>>> = match (&level.source, &mine.rows) {
        (_, Some(rows)) => Some(rows.clone()),
        (Source::Table(_), None) if depth == 0 || level.dependent => None,
        (Source::Table(t), None) => {
            let mut rows = Vec::new();
            let env = Env::new(row, outer);
            for (_, r) in fetch_table(t, &level.access, &env, ex)? {
                rows.push(r);
            }
            let rows = Rc::new(rows);
            mine.rows = Some(rows.clone());
            Some(rows)
        }
        (Source::Query(q), None) => {
            let rows = Rc::new(run_query(q, ex, None)?);
            if !level.dependent {
                mine.rows = Some(rows.clone());
            }
            Some(rows)
        }
        (Source::Cte(id), None) => Some(ex.ctes.get(id).cloned().unwrap_or_default()),
    };
    let mut matched = false;
    {
        let mut visit = |row: &mut [Value], ex: &mut Exec| -> Result<()> {
            let env = Env::new(row, outer);
            if level.left && !all(&level.on, &env, ex)? {
                return Ok(());
            }
            matched = true;
            if all(&level.filters, &env, ex)? {
                join(plan, depth + 1, row, rest, ex, outer, sink)?;
            }
            Ok(())
        };
        match (rows, &level.source, &level.access) {
            (Some(rows), _, _) => {
                for cand in rows.iter() {
                    row[range.clone()].clone_from_slice(cand);
                    visit(row, ex)?;
                }
            }
            (None, Source::Table(t), Access::Rowid(Probe::Eq(values))) if values.len() == 1 => {
                let rowid = rowid_probe(&values[0], &Env::new(row, outer), ex)?;
                match rowid.map(|r| (r, mine.memo.get(&r))) {
                    // No integer: no row has that rowid.
                    None | Some((_, Some(None))) => {}
                    Some((_, Some(Some(cand)))) => {
                        row[range.clone()].clone_from_slice(cand);
                        visit(row, ex)?;
                    }
                    Some((rowid, None)) => {
                        let id = rows::tree(ex.engine, ex.txn, &t.tree)?;
                        let mut key = Vec::with_capacity(10);
                        let found = read_rowid(t, id, rowid, &mut key, row, level.offset, ex)?;
                        // The outermost level runs once per query: there
                        // is nothing to remember its row for.
                        if depth > 0 && mine.memo.len() < MEMO_ROWS {
                            let cand = found.then(|| row[range.clone()].to_vec());
                            mine.memo.insert(rowid, cand);
                        }
                        if found {
                            visit(row, ex)?;
                        }
                    }
                }
            }
            (None, Source::Table(t), access) => {
                for_each_row(
                    t,
                    access,
                    row,
                    level.offset,
                    outer,
                    ex,
                    &mut |_, row, ex| visit(row, ex),
                )?;
            }
            (None, _, _) => unreachable!("only table levels stream"),
        }
    }
    finish_level(plan, depth, level, matched, row, rest, ex, outer, sink)
}

/// A LEFT JOIN level that matched nothing joins one row of NULLs.
#[allow(clippy::too_many_arguments)]
fn finish_level(
    plan: &SelectPlan,
    depth: usize,
    level: &Level,
    matched: bool,
    row: &mut [Value],
    rest: &mut [LevelState],
    ex: &mut Exec,
    outer: Option<&Env>,
    sink: &mut Sink,
) -> Result<()> {
    if level.left && !matched {
        row[level.offset..level.offset + level.width].fill(Value::Null);
        if all(&level.filters, &Env::new(row, outer), ex)? {
            join(plan, depth + 1, row, rest, ex, outer, sink)?;
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

#[cfg(test)]
mod tests {
    use crate::sql::{Database, Session, Value};

    fn ints(db: &mut Database, s: &mut Session, sql: &str) -> Vec<i64> {
        let mut r = db.execute(s, sql, &[]).unwrap();
        let row = r.pop().unwrap().rows.pop().unwrap();
        row.iter()
            .map(|v| match v {
                Value::Integer(i) => *i,
                other => panic!("expected an integer, got {other:?}"),
            })
            .collect()
    }

    /// A dependent rowid level remembers rows it read (and rowids it did
    /// not find) up to MEMO_ROWS: results must not depend on it, past the
    /// cap, for missing rows and for LEFT JOIN.
    #[test]
    fn remembered_rowid_lookups_match_fresh_ones() {
        let mut db = Database::open_memory().unwrap();
        let mut s = Session::new();
        let n: i64 = super::MEMO_ROWS as i64 + 1500;
        db.execute(
            &mut s,
            "CREATE TABLE t(id INTEGER PRIMARY KEY, g INTEGER); \
             CREATE TABLE g(id INTEGER PRIMARY KEY, name TEXT); BEGIN",
            &[],
        )
        .unwrap();
        for i in 0..2 * n {
            let p = [Value::Integer(i), Value::Integer(i % n)];
            db.execute(&mut s, "INSERT INTO t VALUES (?1, ?2)", &p)
                .unwrap();
        }
        // Only even ids exist in g.
        for i in (0..n).step_by(2) {
            let p = [Value::Integer(i), Value::Text(format!("n{i}"))];
            db.execute(&mut s, "INSERT INTO g VALUES (?1, ?2)", &p)
                .unwrap();
        }
        db.execute(&mut s, "COMMIT", &[]).unwrap();
        let evens: Vec<i64> = (0..n).filter(|i| i % 2 == 0).collect();
        let inner = ints(
            &mut db,
            &mut s,
            "SELECT count(*), sum(g.id), count(g.name) FROM t JOIN g ON t.g = g.id",
        );
        let sum: i64 = evens.iter().sum();
        let found = evens.len() as i64;
        assert_eq!(inner, vec![2 * found, 2 * sum, 2 * found]);
        let left = ints(
            &mut db,
            &mut s,
            "SELECT count(*), count(g.id), sum(g.id) FROM t LEFT JOIN g ON t.g = g.id",
        );
        assert_eq!(left, vec![2 * n, 2 * found, 2 * sum]);
        // Probe values that are no integer match nothing.
        let odd = ints(
            &mut db,
            &mut s,
            "SELECT count(*) FROM t JOIN g ON g.id = t.g + 0.5 WHERE t.id < 100",
        );
        assert_eq!(odd, vec![0]);
    }
}
