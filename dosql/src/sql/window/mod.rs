//! Window functions: `f(args) [FILTER (WHERE c)] OVER (PARTITION BY ...
//! ORDER BY ... frame)`, evaluated with SQLite's semantics.
//!
//! The window stage runs on the rows a SELECT has after WHERE, GROUP BY
//! and HAVING (the joined rows, or each group's row followed by its
//! aggregate results), before the projection. It appends one value per
//! window function call to every row:
//!
//! ```text
//!   row = [ joined row | aggregates ] ++ [ win0, win1, ... ]
//!          ^ input width (base)         ^ base + k for call k
//! ```
//!
//! For each window definition the rows are sorted by (partition keys,
//! order keys), cut into partitions, and each partition into peer groups
//! (rows equal on every ORDER BY key). Ranking functions read positions
//! and peer groups; the others read a frame per row (see `frame.rs`).
//! The output comes out sorted by the first window, as SQLite's does when
//! the query has no ORDER BY.
//!
//! Aggregates follow SQLite's two strategies exactly, because they do not
//! always give the same result (a REAL sum stays REAL after its REAL
//! inputs leave the frame):
//! * without EXCLUDE, one accumulator per partition, stepped as rows enter
//!   the frame and inverted (`xInverse`) as they leave; `min`/`max` with a
//!   moving start are recomputed over the frame (SQLite keeps an ordered
//!   index, which gives the same answer);
//! * with an EXCLUDE clause, a fresh accumulator per row over the frame's
//!   rows that are not excluded.

mod eval;
mod frame;

use std::cmp::Ordering;

use crate::error::Result;
use crate::sql::exec::{Exec, Row};
use crate::sql::expr::{Env, Expr};
use crate::sql::plan::OrderKey;
use crate::sql::value::{compare, Collation, Value};

/// Every window function call of one SELECT, and the windows they use.
#[derive(Clone, Debug)]
pub struct Windows {
    pub defs: Vec<WindowDef>,
    pub funcs: Vec<WinFunc>,
}

/// One `OVER (...)` window.
#[derive(Clone, Debug)]
pub struct WindowDef {
    pub partition: Vec<(Expr, Collation)>,
    pub order: Vec<OrderKey>,
    pub frame: Frame,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Units {
    Rows,
    Range,
    Groups,
}

/// A frame boundary. `Unbounded` is UNBOUNDED PRECEDING as a start and
/// UNBOUNDED FOLLOWING as an end.
#[derive(Clone, Debug)]
pub enum Bound {
    Unbounded,
    Preceding(Expr),
    Current,
    Following(Expr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exclude {
    /// No EXCLUDE clause.
    None,
    NoOthers,
    CurrentRow,
    Group,
    Ties,
}

#[derive(Clone, Debug)]
pub struct Frame {
    pub units: Units,
    pub start: Bound,
    pub end: Bound,
    pub exclude: Exclude,
}

impl Frame {
    /// SQLite's default: RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    /// (the whole partition when there is no ORDER BY, as all rows are
    /// then peers).
    pub fn default_frame() -> Frame {
        Frame {
            units: Units::Range,
            start: Bound::Unbounded,
            end: Bound::Current,
            exclude: Exclude::None,
        }
    }
}

/// What a window function call computes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WinKind {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    Ntile,
    Lag,
    Lead,
    FirstValue,
    LastValue,
    NthValue,
    /// An aggregate function used as a window function.
    Agg(String),
}

impl WinKind {
    /// The built-in window function `name` taking `argc` arguments.
    pub fn builtin(name: &str, argc: usize) -> Option<std::result::Result<WinKind, ()>> {
        let (kind, ok) = match name {
            "row_number" => (WinKind::RowNumber, argc == 0),
            "rank" => (WinKind::Rank, argc == 0),
            "dense_rank" => (WinKind::DenseRank, argc == 0),
            "percent_rank" => (WinKind::PercentRank, argc == 0),
            "cume_dist" => (WinKind::CumeDist, argc == 0),
            "ntile" => (WinKind::Ntile, argc == 1),
            "lag" => (WinKind::Lag, (1..=3).contains(&argc)),
            "lead" => (WinKind::Lead, (1..=3).contains(&argc)),
            "first_value" => (WinKind::FirstValue, argc == 1),
            "last_value" => (WinKind::LastValue, argc == 1),
            "nth_value" => (WinKind::NthValue, argc == 2),
            _ => return None,
        };
        Some(if ok { Ok(kind) } else { Err(()) })
    }

    /// True for the functions that read a frame (the others read
    /// positions and peer groups of the whole partition).
    fn uses_frame(&self) -> bool {
        matches!(
            self,
            WinKind::FirstValue | WinKind::LastValue | WinKind::NthValue | WinKind::Agg(_)
        )
    }
}

/// One window function call.
#[derive(Clone, Debug)]
pub struct WinFunc {
    pub kind: WinKind,
    pub args: Vec<Expr>,
    /// FILTER (WHERE ...) of an aggregate.
    pub filter: Option<Expr>,
    /// Index into [`Windows::defs`].
    pub def: usize,
    /// Collation of the first argument (min/max compare under it).
    pub coll: Collation,
}

/// The rows of one partition, in window order, with their peer groups.
pub(crate) struct Partition<'a> {
    /// Input rows, in window order.
    pub rows: Vec<&'a Row>,
    /// Indices (into the stage's input) of the rows, in window order.
    pub ids: Vec<usize>,
    /// ORDER BY values per row.
    pub keys: Vec<Vec<Value>>,
    /// Peer group number of each row (0-based, non-decreasing).
    pub group: Vec<usize>,
    /// First row of each peer group, plus the partition length at the end.
    pub group_start: Vec<usize>,
}

/// Runs the window stage: `rows` extended with one value per call in
/// `w.funcs`, sorted by the first window.
pub fn run(w: &Windows, rows: Vec<Row>, ex: &mut Exec, outer: Option<&Env>) -> Result<Vec<Row>> {
    let mut results: Vec<Vec<Value>> = vec![vec![Value::Null; w.funcs.len()]; rows.len()];
    let mut first_order: Option<Vec<usize>> = None;
    for (d, def) in w.defs.iter().enumerate() {
        let funcs: Vec<usize> = (0..w.funcs.len())
            .filter(|&k| w.funcs[k].def == d)
            .collect();
        if funcs.is_empty() {
            continue;
        }
        let (order, parts, keys) = sort_rows(def, &rows, ex, outer)?;
        let mut keys = keys.into_iter().map(Some).collect::<Vec<_>>();
        let mut pos = 0;
        for len in parts {
            let ids = order[pos..pos + len].to_vec();
            pos += len;
            let part = partition(def, &rows, ids, &mut keys);
            let frames = if funcs.iter().any(|&k| w.funcs[k].kind.uses_frame()) {
                frame::frames(def, &part, ex, outer)?
            } else {
                Vec::new()
            };
            for &k in &funcs {
                let values = eval::evaluate(&w.funcs[k], def, &part, &frames, ex, outer)?;
                for (id, v) in part.ids.iter().zip(values) {
                    results[*id][k] = v;
                }
            }
        }
        if first_order.is_none() {
            first_order = Some(order);
        }
    }
    let order = first_order.unwrap_or_else(|| (0..rows.len()).collect());
    let mut rows: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(rows.len());
    for id in order {
        let mut row = rows[id].take().expect("each row once");
        row.append(&mut results[id]);
        out.push(row);
    }
    Ok(out)
}

/// Sort order of the rows under `def`, the partition lengths in that
/// order, and each row's ORDER BY values (by input index).
type Sorted = (Vec<usize>, Vec<usize>, Vec<Vec<Value>>);

fn sort_rows(def: &WindowDef, rows: &[Row], ex: &mut Exec, outer: Option<&Env>) -> Result<Sorted> {
    let mut pkeys = Vec::with_capacity(rows.len());
    let mut okeys = Vec::with_capacity(rows.len());
    for r in rows {
        let env = Env::new(r, outer);
        let p = def
            .partition
            .iter()
            .map(|(e, _)| e.eval(&env, ex))
            .collect::<Result<Vec<_>>>()?;
        let o = def
            .order
            .iter()
            .map(|k| k.expr.eval(&env, ex))
            .collect::<Result<Vec<_>>>()?;
        pkeys.push(p);
        okeys.push(o);
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        cmp_partition(def, &pkeys[a], &pkeys[b])
            .then_with(|| cmp_order(&def.order, &okeys[a], &okeys[b]))
    });
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..=order.len() {
        if i == order.len()
            || cmp_partition(def, &pkeys[order[i - 1]], &pkeys[order[i]]) != Ordering::Equal
        {
            parts.push(i - start);
            start = i;
        }
    }
    Ok((order, parts, okeys))
}

fn cmp_partition(def: &WindowDef, a: &[Value], b: &[Value]) -> Ordering {
    for ((_, coll), (x, y)) in def.partition.iter().zip(a.iter().zip(b)) {
        let ord = compare(x, y, *coll);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Compares ORDER BY values as the sorter does: NULLs first unless told
/// otherwise, DESC reversing the values' order.
pub(crate) fn cmp_order(keys: &[OrderKey], a: &[Value], b: &[Value]) -> Ordering {
    for (k, (x, y)) in keys.iter().zip(a.iter().zip(b)) {
        let ord = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) if k.nulls_first => Ordering::Less,
            (true, false) => Ordering::Greater,
            (false, true) if k.nulls_first => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let o = compare(x, y, k.coll);
                if k.desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn partition<'a>(
    def: &WindowDef,
    rows: &'a [Row],
    ids: Vec<usize>,
    keys: &mut [Option<Vec<Value>>],
) -> Partition<'a> {
    let keys: Vec<Vec<Value>> = ids
        .iter()
        .map(|&i| keys[i].take().unwrap_or_default())
        .collect();
    let mut group = Vec::with_capacity(ids.len());
    let mut group_start = Vec::new();
    for i in 0..ids.len() {
        if i == 0 || cmp_order(&def.order, &keys[i - 1], &keys[i]) != Ordering::Equal {
            group_start.push(i);
        }
        group.push(group_start.len() - 1);
    }
    group_start.push(ids.len());
    Partition {
        rows: ids.iter().map(|&i| &rows[i]).collect(),
        ids,
        keys,
        group,
        group_start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_check_arity() {
        assert_eq!(WinKind::builtin("rank", 0), Some(Ok(WinKind::Rank)));
        assert_eq!(WinKind::builtin("rank", 1), Some(Err(())));
        assert_eq!(WinKind::builtin("lag", 3), Some(Ok(WinKind::Lag)));
        assert_eq!(WinKind::builtin("lag", 4), Some(Err(())));
        assert_eq!(WinKind::builtin("sum", 1), None);
        assert!(WinKind::Agg("sum".into()).uses_frame());
        assert!(!WinKind::Lead.uses_frame());
    }

    #[test]
    fn order_comparison_puts_nulls_first_ascending() {
        let key = |desc| OrderKey {
            expr: Expr::Lit(Value::Null),
            desc,
            nulls_first: !desc,
            coll: Collation::Binary,
        };
        let (n, one) = (vec![Value::Null], vec![Value::Integer(1)]);
        assert_eq!(cmp_order(&[key(false)], &n, &one), Ordering::Less);
        assert_eq!(cmp_order(&[key(true)], &n, &one), Ordering::Greater);
        assert_eq!(cmp_order(&[key(true)], &one, &one), Ordering::Equal);
    }
}
