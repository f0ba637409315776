//! Query plans: what the binder produces and the executor runs, and the
//! choice of access path for each table in a join.
//!
//! ```text
//!   QueryPlan { ctes, body, order, limit, offset }
//!     body = Select(SelectPlan) | Compound(op, left, right) | Values(rows)
//!   SelectPlan
//!     levels[0] ⋈ levels[1] ⋈ ...     nested loops, left to right
//!       Level { source, access, on (LEFT JOIN), filters (pushed-down WHERE) }
//!     -> group by / aggregates / having -> projection -> distinct -> order
//! ```
//!
//! Predicate push-down: each WHERE conjunct is evaluated at the first level
//! where every column it names is available, so rows are discarded as
//! early as possible. Access paths: a conjunct `col op expr` whose `expr`
//! only uses earlier levels turns a full scan into a rowid lookup/range or
//! an index lookup/range, when the comparison's affinity and collation
//! agree with how the key stores the column. Filters are always evaluated
//! again on the rows found, so an access path only has to return a
//! superset of the matching rows.

use crate::sql::expr::{CmpOp, Expr};
use crate::sql::schema::Table;
use crate::sql::value::{Affinity, Collation};

/// A bound query.
#[derive(Clone, Debug)]
pub struct QueryPlan {
    pub ctes: Vec<CtePlan>,
    pub body: Body,
    /// Sort keys over the output columns (compound and VALUES bodies; a
    /// SELECT body sorts itself).
    pub order: Vec<OrderKey>,
    pub limit: Option<Expr>,
    pub offset: Option<Expr>,
    pub columns: Vec<String>,
    pub out_aff: Vec<Option<Affinity>>,
    pub out_coll: Vec<Collation>,
}

/// A common table expression, materialised when its query starts.
#[derive(Clone, Debug)]
pub enum CtePlan {
    Plain {
        id: usize,
        plan: Box<QueryPlan>,
    },
    /// `anchor UNION [ALL] step`, where `step` reads the rows added by the
    /// previous round.
    Recursive {
        id: usize,
        anchor: Box<QueryPlan>,
        step: Box<QueryPlan>,
        all: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOp {
    Union,
    Intersect,
    Except,
}

#[derive(Clone, Debug)]
pub enum Body {
    Select(Box<SelectPlan>),
    Compound {
        op: SetOp,
        all: bool,
        left: Box<QueryPlan>,
        right: Box<QueryPlan>,
    },
    Values(Vec<Vec<Expr>>),
}

#[derive(Clone, Debug)]
pub struct OrderKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
    pub coll: Collation,
}

/// One aggregate function call of a grouped query.
#[derive(Clone, Debug)]
pub struct AggSpec {
    pub name: String,
    pub args: Vec<Expr>,
    pub distinct: bool,
    /// FILTER (WHERE ...): rows failing it are not stepped.
    pub filter: Option<Expr>,
}

#[derive(Clone, Debug)]
pub struct Aggregation {
    pub group_by: Vec<(Expr, Collation)>,
    pub aggs: Vec<AggSpec>,
    pub having: Option<Expr>,
}

#[derive(Clone, Debug)]
pub struct SelectPlan {
    pub levels: Vec<Level>,
    /// Conditions that name no column of this query.
    pub pre_filters: Vec<Expr>,
    /// Values per joined row.
    pub width: usize,
    pub aggregate: Option<Aggregation>,
    /// Over the joined row, or for grouped queries over the group's last
    /// row followed by the aggregate results.
    pub projection: Vec<Expr>,
    pub distinct: bool,
    pub order: Vec<OrderKey>,
    /// Window function calls, evaluated after grouping and before the
    /// projection; their values follow the row the projection reads.
    pub windows: Option<Box<crate::sql::window::Windows>>,
}

/// Where a level's rows come from.
#[derive(Clone, Debug)]
pub enum Source {
    Table(Box<Table>),
    Query(Box<QueryPlan>),
    Cte(usize),
}

/// How a level finds its rows.
#[derive(Clone, Debug)]
pub enum Access {
    Scan,
    Rowid(Probe),
    /// An index of the table (position in `Table::indexes`), probed on its
    /// first column, whose affinity and collation the probe takes.
    Index {
        index: usize,
        probe: Probe,
        aff: Affinity,
        coll: Collation,
    },
}

#[derive(Clone, Debug)]
pub enum Probe {
    /// Equal to any of the values (one for `=`, several for `IN`).
    Eq(Vec<Expr>),
    /// Between optional bounds; the flag is true when inclusive.
    Range {
        lo: Option<(Expr, bool)>,
        hi: Option<(Expr, bool)>,
    },
}

#[derive(Clone, Debug)]
pub struct Level {
    pub source: Source,
    /// The name the query uses for the source (alias or table name).
    pub name: String,
    pub offset: usize,
    pub width: usize,
    pub left: bool,
    pub on: Vec<Expr>,
    pub filters: Vec<Expr>,
    pub access: Access,
    /// The access path reads values of earlier levels, so its rows are
    /// fetched again for every outer row instead of once.
    pub dependent: bool,
}

/// The highest level whose columns `e` reads (None: no column at all).
pub fn max_level(e: &Expr, levels: &[(usize, usize)]) -> Option<usize> {
    let mut max = None;
    e.walk(&mut |x| {
        if let Expr::Col { idx, .. } = x {
            let lvl = levels
                .iter()
                .position(|(off, w)| *idx >= *off && *idx < off + w)
                .expect("column index inside the joined row");
            max = Some(max.map_or(lvl, |m: usize| m.max(lvl)));
        }
    });
    max
}

/// The index-able shape of a conjunct: `column op value`.
struct Sarg<'a> {
    col: usize,
    op: CmpOp,
    values: Vec<&'a Expr>,
    aff: Option<Affinity>,
    coll: Collation,
}

fn sarg<'a>(e: &'a Expr, lo: usize, hi: usize, usable: &dyn Fn(&Expr) -> bool) -> Option<Sarg<'a>> {
    let local = |x: &Expr| match x {
        Expr::Col { idx, .. } if *idx >= lo && *idx < hi => Some(*idx - lo),
        _ => None,
    };
    match e {
        Expr::Cmp {
            op,
            l,
            r,
            aff,
            coll,
        } if !matches!(op, CmpOp::Ne | CmpOp::Is | CmpOp::IsNot) => {
            if let (Some(col), true) = (local(l), usable(r)) {
                return Some(Sarg {
                    col,
                    op: *op,
                    values: vec![r],
                    aff: *aff,
                    coll: *coll,
                });
            }
            if let (Some(col), true) = (local(r), usable(l)) {
                return Some(Sarg {
                    col,
                    op: op.swap(),
                    values: vec![l],
                    aff: *aff,
                    coll: *coll,
                });
            }
            None
        }
        Expr::InList {
            e,
            list,
            negated: false,
            aff,
            coll,
        } if !list.is_empty() && list.iter().all(usable) => local(e).map(|col| Sarg {
            col,
            op: CmpOp::Eq,
            values: list.iter().collect(),
            aff: *aff,
            coll: *coll,
        }),
        _ => None,
    }
}

fn is_numeric(a: Affinity) -> bool {
    matches!(a, Affinity::Integer | Affinity::Real | Affinity::Numeric)
}

/// True if comparing under (`aff`, `coll`) orders values the way a key
/// column stored with (`col_aff`, `col_coll`) does.
fn key_compatible(
    aff: Option<Affinity>,
    coll: Collation,
    col_aff: Affinity,
    col_coll: Collation,
) -> bool {
    coll == col_coll
        && match aff {
            None => true,
            Some(Affinity::Numeric) => is_numeric(col_aff),
            Some(Affinity::Text) => col_aff == Affinity::Text,
            Some(_) => false,
        }
}

/// How well conjunct `cond` lets a table level be read: 4 for a rowid
/// lookup, 3 for an index lookup, 2 for another equality, 1 for a range on
/// a key, 0 otherwise. `usable` says which expressions are known before
/// the level is read.
pub fn probe_score(
    table: &Table,
    offset: usize,
    cond: &Expr,
    usable: &dyn Fn(&Expr) -> bool,
) -> u8 {
    let Some(s) = sarg(cond, offset, offset + table.width(), usable) else {
        return 0;
    };
    let rowid =
        !table.without_rowid && (s.col == table.columns.len() || Some(s.col) == table.rowid_alias);
    let indexed = table.indexes.iter().any(|i| {
        i.columns[0] == s.col
            && key_compatible(
                s.aff,
                s.coll,
                table.columns[s.col].affinity,
                i.collations[0],
            )
    });
    match (s.op == CmpOp::Eq, rowid, indexed) {
        (true, true, _) => 4,
        (true, false, true) => 3,
        (true, false, false) => 2,
        (false, true, _) | (false, false, true) => 1,
        _ => 0,
    }
}

/// What a conjunct contributes to one key column.
enum Bound2 {
    Eq,
    Lo(usize, bool),
    Hi(usize, bool),
}

/// Picks the access path for a table level from the conjuncts evaluated
/// at it. `usable` says whether an expression may be computed before the
/// level is read. Returns the access path and the indexes (into
/// `conjuncts`) of the expressions it moved into it; those conjuncts stay
/// in place as filters.
pub fn choose_access(
    table: &Table,
    offset: usize,
    conjuncts: &[Expr],
    usable: &dyn Fn(&Expr) -> bool,
    take: &mut dyn FnMut(&Expr) -> Expr,
) -> Access {
    let width = table.width();
    let rowid_col = if table.without_rowid {
        None
    } else {
        Some(table.columns.len())
    };
    let sargs: Vec<Sarg> = conjuncts
        .iter()
        .filter_map(|c| sarg(c, offset, offset + width, usable))
        .collect();
    // Which table column is the rowid, directly or through its alias.
    let is_rowid = |col: usize| Some(col) == rowid_col || Some(col) == table.rowid_alias;
    let classify = |s: &Sarg, i: usize| match s.op {
        CmpOp::Eq => Bound2::Eq,
        CmpOp::Gt => Bound2::Lo(i, false),
        CmpOp::Ge => Bound2::Lo(i, true),
        CmpOp::Lt => Bound2::Hi(i, false),
        _ => Bound2::Hi(i, true),
    };
    let probe_for = |pick: &dyn Fn(&Sarg) -> bool, take: &mut dyn FnMut(&Expr) -> Expr| {
        let mut eq: Option<&Sarg> = None;
        let mut lo: Option<(usize, bool)> = None;
        let mut hi: Option<(usize, bool)> = None;
        for (i, s) in sargs.iter().enumerate() {
            if !pick(s) {
                continue;
            }
            match classify(s, i) {
                Bound2::Eq if eq.is_none() || s.values.len() < eq.map_or(0, |e| e.values.len()) => {
                    eq = Some(s)
                }
                Bound2::Lo(i, inc) if lo.is_none() => lo = Some((i, inc)),
                Bound2::Hi(i, inc) if hi.is_none() => hi = Some((i, inc)),
                _ => {}
            }
        }
        if let Some(s) = eq {
            return Some((Probe::Eq(s.values.iter().map(|v| take(v)).collect()), true));
        }
        if lo.is_none() && hi.is_none() {
            return None;
        }
        let lo = lo.map(|(i, inc)| (take(sargs[i].values[0]), inc));
        let hi = hi.map(|(i, inc)| (take(sargs[i].values[0]), inc));
        Some((Probe::Range { lo, hi }, false))
    };
    // Rowid: compared numerically whatever the other side, since the
    // rowid has INTEGER affinity; only the collation is irrelevant.
    if rowid_col.is_some() {
        let rowid_ok = |s: &Sarg| is_rowid(s.col);
        if sargs.iter().any(|s| rowid_ok(s) && s.op == CmpOp::Eq) {
            if let Some((probe, _)) = probe_for(&rowid_ok, take) {
                return Access::Rowid(probe);
            }
        }
    }
    let mut best: Option<(usize, bool, bool)> = None; // (index, eq, unique)
    for (n, index) in table.indexes.iter().enumerate() {
        let first = index.columns[0];
        let col = &table.columns[first];
        let ok = |s: &Sarg| {
            s.col == first && key_compatible(s.aff, s.coll, col.affinity, index.collations[0])
        };
        let eq = sargs.iter().any(|s| ok(s) && s.op == CmpOp::Eq);
        let any = sargs.iter().any(ok);
        if !any {
            continue;
        }
        let unique = index.unique && index.columns.len() == 1;
        let better = match best {
            None => true,
            Some((_, beq, buniq)) => (eq, unique) > (beq, buniq),
        };
        if better {
            best = Some((n, eq, unique));
        }
    }
    if rowid_col.is_some() {
        let rowid_ok = |s: &Sarg| is_rowid(s.col);
        if best.is_none_or(|(_, eq, _)| !eq) {
            if let Some((probe, _)) = probe_for(&rowid_ok, take) {
                return Access::Rowid(probe);
            }
        }
    }
    if let Some((n, _, _)) = best {
        let index = &table.indexes[n];
        let first = index.columns[0];
        let col = &table.columns[first];
        let ok = |s: &Sarg| {
            s.col == first && key_compatible(s.aff, s.coll, col.affinity, index.collations[0])
        };
        if let Some((probe, _)) = probe_for(&ok, take) {
            return Access::Index {
                index: n,
                probe,
                aff: col.affinity,
                coll: index.collations[0],
            };
        }
    }
    Access::Scan
}

/// EXPLAIN QUERY PLAN rows: (id, parent, detail), a tree like SQLite's.
pub fn explain(plan: &QueryPlan) -> Vec<(i64, i64, String)> {
    let mut out = Vec::new();
    explain_query(plan, 0, &mut out);
    out
}

fn push(out: &mut Vec<(i64, i64, String)>, parent: i64, detail: String) -> i64 {
    let id = out.len() as i64 + 1;
    out.push((id, parent, detail));
    id
}

fn probe_text(probe: &Probe, name: &str) -> String {
    match probe {
        Probe::Eq(v) if v.len() == 1 => format!("{name}=?"),
        Probe::Eq(_) => format!("{name}=? (IN)"),
        Probe::Range { lo, hi } => match (lo, hi) {
            (Some(_), Some(_)) => format!("{name}>? AND {name}<?"),
            (Some(_), None) => format!("{name}>?"),
            _ => format!("{name}<?"),
        },
    }
}

fn explain_query(plan: &QueryPlan, parent: i64, out: &mut Vec<(i64, i64, String)>) {
    for cte in &plan.ctes {
        let (id, q) = match cte {
            CtePlan::Plain { id, plan } => (id, plan.as_ref()),
            CtePlan::Recursive { id, anchor, .. } => (id, anchor.as_ref()),
        };
        let node = push(out, parent, format!("MATERIALIZE cte{id}"));
        explain_query(q, node, out);
    }
    match &plan.body {
        Body::Select(select) => {
            for level in &select.levels {
                let detail = match (&level.source, &level.access) {
                    (Source::Table(t), Access::Scan) => {
                        format!("SCAN {}", level_name(&t.name, &level.name))
                    }
                    (Source::Table(t), Access::Rowid(p)) => format!(
                        "SEARCH {} USING INTEGER PRIMARY KEY ({})",
                        level_name(&t.name, &level.name),
                        probe_text(p, "rowid")
                    ),
                    (Source::Table(t), Access::Index { index, probe, .. }) => {
                        let idx = &t.indexes[*index];
                        let col = &t.columns[idx.columns[0]].name;
                        format!(
                            "SEARCH {} USING INDEX {} ({})",
                            level_name(&t.name, &level.name),
                            idx.name,
                            probe_text(probe, col)
                        )
                    }
                    (Source::Query(q), _) => {
                        let node = push(out, parent, format!("MATERIALIZE {}", level.name));
                        explain_query(q, node, out);
                        format!("SCAN {}", level.name)
                    }
                    (Source::Cte(id), _) => format!("SCAN {} (cte{id})", level.name),
                };
                push(out, parent, detail);
            }
            if let Some(agg) = &select.aggregate {
                if !agg.group_by.is_empty() {
                    push(out, parent, "USE TEMP B-TREE FOR GROUP BY".into());
                }
            }
            if select.distinct {
                push(out, parent, "USE TEMP B-TREE FOR DISTINCT".into());
            }
            if !select.order.is_empty() {
                push(out, parent, "USE TEMP B-TREE FOR ORDER BY".into());
            }
        }
        Body::Compound {
            op,
            all,
            left,
            right,
        } => {
            let name = match (op, all) {
                (SetOp::Union, true) => "COMPOUND QUERY (UNION ALL)",
                (SetOp::Union, false) => "COMPOUND QUERY (UNION)",
                (SetOp::Intersect, _) => "COMPOUND QUERY (INTERSECT)",
                (SetOp::Except, _) => "COMPOUND QUERY (EXCEPT)",
            };
            let node = push(out, parent, name.into());
            let l = push(out, node, "LEFT-MOST SUBQUERY".into());
            explain_query(left, l, out);
            let r = push(out, node, "RIGHT SUBQUERY".into());
            explain_query(right, r, out);
        }
        Body::Values(rows) => {
            push(out, parent, format!("SCAN {} CONSTANT ROWS", rows.len()));
        }
    }
}

fn level_name(table: &str, alias: &str) -> String {
    if table.eq_ignore_ascii_case(alias) {
        table.to_string()
    } else {
        format!("{table} AS {alias}")
    }
}
