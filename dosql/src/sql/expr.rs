//! Bound expressions and their evaluation.
//!
//! The binder (`bind/`) turns sqlparser expressions into [`Expr`]: names
//! become positions in the row being evaluated, functions become function
//! pointers, and each comparison carries the affinity and collation that
//! SQLite's rules ("Type Conversions Prior To Comparison") pick for it, so
//! evaluation decides nothing by name.
//!
//! ```text
//!   Env { row: [values of the current FROM row], outer: parent Env }
//!      Col(i)             row[i]
//!      Outer{depth: d, i} the row d scopes up (correlated subqueries)
//! ```
//!
//! Three-valued logic: NULL is "unknown"; AND/OR/NOT/IN follow SQL's truth
//! tables, and a WHERE keeps a row only when its condition is true.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::sql::exec::{run_query, Exec, Row};
use crate::sql::func::ScalarFn;
use crate::sql::plan::QueryPlan;
use crate::sql::value::{self, apply_affinity, compare, Affinity, Collation, Value};

/// The row an expression is evaluated against, and the rows of the
/// enclosing queries.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub row: &'a [Value],
    pub outer: Option<&'a Env<'a>>,
}

impl<'a> Env<'a> {
    pub fn new(row: &'a [Value], outer: Option<&'a Env<'a>>) -> Env<'a> {
        Env { row, outer }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    BitAnd,
    BitOr,
    Shl,
    Shr,
    Concat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `IS` / `IS NOT DISTINCT FROM`: NULL equals NULL.
    Is,
    IsNot,
}

impl CmpOp {
    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn swap(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }

    fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq | CmpOp::Is => ord == Ordering::Equal,
            CmpOp::Ne | CmpOp::IsNot => ord != Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
        }
    }
}

/// A subquery inside an expression. An uncorrelated one runs once per
/// statement; its rows are kept in `cache`.
#[derive(Clone, Debug)]
pub struct Subquery {
    pub plan: QueryPlan,
    pub correlated: bool,
    pub cache: RefCell<Option<Rc<Vec<Row>>>>,
}

impl Subquery {
    pub fn new(plan: QueryPlan, correlated: bool) -> Subquery {
        Subquery {
            plan,
            correlated,
            cache: RefCell::new(None),
        }
    }

    fn rows(&self, env: &Env, ex: &mut Exec) -> Result<Rc<Vec<Row>>> {
        if !self.correlated {
            if let Some(rows) = self.cache.borrow().as_ref() {
                return Ok(rows.clone());
            }
        }
        let rows = Rc::new(run_query(&self.plan, ex, Some(env))?);
        if !self.correlated {
            *self.cache.borrow_mut() = Some(rows.clone());
        }
        Ok(rows)
    }
}

/// A bound expression.
#[derive(Clone, Debug)]
pub enum Expr {
    Lit(Value),
    /// A column of the current row, with the affinity and collation the
    /// column was declared with (None: an expression without affinity).
    Col {
        idx: usize,
        aff: Option<Affinity>,
        coll: Collation,
    },
    /// A column of an enclosing query's row.
    Outer {
        depth: usize,
        idx: usize,
        aff: Option<Affinity>,
        coll: Collation,
    },
    /// Bound parameter, 0-based.
    Param(usize),
    Neg(Box<Expr>),
    /// Unary `+`: the value unchanged, but without affinity.
    Plus(Box<Expr>),
    BitNot(Box<Expr>),
    Not(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Cmp {
        op: CmpOp,
        l: Box<Expr>,
        r: Box<Expr>,
        /// Affinity applied to both operands before comparing.
        aff: Option<Affinity>,
        coll: Collation,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>, bool),
    InList {
        e: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
        aff: Option<Affinity>,
        coll: Collation,
    },
    InSub {
        e: Box<Expr>,
        sub: Box<Subquery>,
        negated: bool,
        aff: Option<Affinity>,
        coll: Collation,
    },
    Exists(Box<Subquery>, bool),
    Scalar(Box<Subquery>),
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
        aff: Option<Affinity>,
        coll: Collation,
    },
    Cast(Box<Expr>, String),
    Like {
        e: Box<Expr>,
        pattern: Box<Expr>,
        escape: Option<Box<Expr>>,
        negated: bool,
        glob: bool,
    },
    Func(ScalarFn, Vec<Expr>),
    /// `expr COLLATE name`: the value unchanged; the collation was taken
    /// into account when binding comparisons.
    Collate(Box<Expr>, Collation),
    /// `NEW.col` / `OLD.col` in a trigger program (trigger/fire.rs).
    TriggerCol {
        new: bool,
        idx: usize,
        aff: Option<Affinity>,
        coll: Collation,
    },
    /// `RAISE(...)` in a trigger program; IGNORE is `Resolution::Ignore`.
    Raise {
        how: crate::sql::write::Resolution,
        msg: String,
    },
}

/// Affinity applied to both operands of a comparison, per SQLite's
/// `sqlite3CompareAffinity`: numeric wins if either side is numeric and
/// both have an affinity; with one side only, that side's affinity.
pub fn comparison_affinity(l: Option<Affinity>, r: Option<Affinity>) -> Option<Affinity> {
    let numeric = |a: Affinity| matches!(a, Affinity::Integer | Affinity::Real | Affinity::Numeric);
    match (l, r) {
        (Some(a), Some(b)) if numeric(a) || numeric(b) => Some(Affinity::Numeric),
        (Some(_), Some(_)) => None,
        (Some(Affinity::Blob), None) | (None, Some(Affinity::Blob)) | (None, None) => None,
        (Some(a), None) | (None, Some(a)) => Some(if numeric(a) { Affinity::Numeric } else { a }),
    }
}

fn coerce(v: Value, aff: Option<Affinity>) -> Value {
    match aff {
        Some(a) if !v.is_null() => apply_affinity(v, a),
        _ => v,
    }
}

/// Compares two non-NULL values under `aff` and `coll`.
pub fn compare_with(a: Value, b: Value, aff: Option<Affinity>, coll: Collation) -> Ordering {
    let a = coerce(a, aff);
    let b = coerce(b, aff);
    compare(&a, &b, coll)
}

fn bool_value(b: bool) -> Value {
    Value::Integer(i64::from(b))
}

fn tri(v: Option<bool>) -> Value {
    v.map_or(Value::Null, bool_value)
}

/// Calls `$walk` (with `f`) on each direct sub-expression of `$e`, outside
/// subqueries: one match for [`Expr::walk`] and [`Expr::walk_mut`], so
/// that a new variant cannot be visited by one traversal and missed by the
/// other.
macro_rules! walk_children {
    ($e:expr, $walk:ident, $iter:ident, $f:ident) => {
        match $e {
            Expr::Lit(_) | Expr::Col { .. } | Expr::Outer { .. } | Expr::Param(_) => {}
            Expr::TriggerCol { .. } | Expr::Raise { .. } => {}
            Expr::Exists(..) | Expr::Scalar(_) => {}
            Expr::Neg(e) | Expr::Plus(e) | Expr::BitNot(e) | Expr::Not(e) | Expr::IsNull(e, _) => {
                e.$walk($f)
            }
            Expr::Cast(e, _) | Expr::Collate(e, _) | Expr::InSub { e, .. } => e.$walk($f),
            Expr::Bin(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                a.$walk($f);
                b.$walk($f);
            }
            Expr::Cmp { l, r, .. } => {
                l.$walk($f);
                r.$walk($f);
            }
            Expr::InList { e, list, .. } => {
                e.$walk($f);
                list.$iter().for_each(|x| x.$walk($f));
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
                ..
            } => {
                if let Some(o) = operand {
                    o.$walk($f);
                }
                for (w, t) in whens {
                    w.$walk($f);
                    t.$walk($f);
                }
                if let Some(o) = otherwise {
                    o.$walk($f);
                }
            }
            Expr::Like {
                e, pattern, escape, ..
            } => {
                e.$walk($f);
                pattern.$walk($f);
                if let Some(x) = escape {
                    x.$walk($f);
                }
            }
            Expr::Func(_, args) => args.$iter().for_each(|x| x.$walk($f)),
        }
    };
}

impl Expr {
    /// The affinity SQLite gives this expression (`sqlite3ExprAffinity`).
    pub fn affinity(&self) -> Option<Affinity> {
        match self {
            Expr::Col { aff, .. } | Expr::Outer { aff, .. } | Expr::TriggerCol { aff, .. } => *aff,
            Expr::Cast(_, ty) => Some(value::affinity_of_type(ty)),
            Expr::Collate(e, _) => e.affinity(),
            Expr::Scalar(sub) => sub.plan.out_aff.first().copied().flatten(),
            _ => None,
        }
    }

    /// The collation this expression carries, and whether it was explicit
    /// (a COLLATE clause) rather than a column's declared one.
    pub fn collation(&self) -> Option<(Collation, bool)> {
        match self {
            Expr::Collate(_, c) => Some((*c, true)),
            Expr::Col { coll, .. } | Expr::Outer { coll, .. } | Expr::TriggerCol { coll, .. } => {
                Some((*coll, false))
            }
            Expr::Plus(e) | Expr::Cast(e, _) => e.collation(),
            Expr::Case { coll, .. } => Some((*coll, false)),
            _ => None,
        }
    }

    /// Calls `f` on this expression and every sub-expression (not inside
    /// subqueries).
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        walk_children!(self, walk, iter, f);
    }

    /// Like [`Expr::walk`], with mutable access (rewriting column
    /// references after binding).
    pub fn walk_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        f(self);
        walk_children!(self, walk_mut, iter_mut, f);
    }

    /// True if any part of the expression contains a subquery.
    pub fn has_subquery(&self) -> bool {
        let mut found = false;
        self.walk(&mut |e| {
            if matches!(e, Expr::Exists(..) | Expr::Scalar(_) | Expr::InSub { .. }) {
                found = true;
            }
        });
        found
    }

    /// Evaluates the expression as a condition: true, false or unknown.
    pub fn test(&self, env: &Env, ex: &mut Exec) -> Result<bool> {
        Ok(self.eval(env, ex)?.truthy() == Some(true))
    }

    /// Evaluates the expression against `env`.
    pub fn eval(&self, env: &Env, ex: &mut Exec) -> Result<Value> {
        Ok(match self {
            Expr::Lit(v) => v.clone(),
            Expr::Col { idx, .. } => env.row[*idx].clone(),
            Expr::Outer { depth, idx, .. } => {
                let mut e = env;
                for _ in 0..*depth {
                    e = e
                        .outer
                        .expect("binder resolved an outer column at this depth");
                }
                e.row[*idx].clone()
            }
            Expr::Param(i) => ex.params.get(*i).cloned().unwrap_or(Value::Null),
            Expr::TriggerCol { new, idx, .. } => crate::sql::trigger::column(ex, *new, *idx),
            Expr::Raise { how, msg } => return Err(crate::sql::trigger::raise(ex, *how, msg)),
            Expr::Neg(e) => value::neg(&e.eval(env, ex)?),
            Expr::Plus(e) | Expr::Collate(e, _) => e.eval(env, ex)?,
            Expr::BitNot(e) => value::bit_not(&e.eval(env, ex)?),
            Expr::Not(e) => tri(e.eval(env, ex)?.truthy().map(|b| !b)),
            Expr::Bin(op, a, b) => {
                let a = a.eval(env, ex)?;
                let b = b.eval(env, ex)?;
                match op {
                    BinOp::Add => value::add(&a, &b),
                    BinOp::Sub => value::sub(&a, &b),
                    BinOp::Mul => value::mul(&a, &b),
                    BinOp::Div => value::div(&a, &b),
                    BinOp::Rem => value::rem(&a, &b),
                    BinOp::BitAnd => value::bit_and(&a, &b),
                    BinOp::BitOr => value::bit_or(&a, &b),
                    BinOp::Shl => value::shl(&a, &b),
                    BinOp::Shr => value::shr(&a, &b),
                    BinOp::Concat => value::concat(&a, &b),
                }
            }
            Expr::Cmp {
                op,
                l,
                r,
                aff,
                coll,
            } => {
                let a = l.eval(env, ex)?;
                let b = r.eval(env, ex)?;
                let nulls = (a.is_null(), b.is_null());
                match op {
                    CmpOp::Is | CmpOp::IsNot => {
                        let same = match nulls {
                            (false, false) => compare_with(a, b, *aff, *coll) == Ordering::Equal,
                            (x, y) => x && y,
                        };
                        bool_value(same == (*op == CmpOp::Is))
                    }
                    _ if nulls.0 || nulls.1 => Value::Null,
                    _ => bool_value(op.holds(compare_with(a, b, *aff, *coll))),
                }
            }
            Expr::And(a, b) => {
                let x = a.eval(env, ex)?.truthy();
                if x == Some(false) {
                    return Ok(bool_value(false));
                }
                let y = b.eval(env, ex)?.truthy();
                match (x, y) {
                    (_, Some(false)) => bool_value(false),
                    (Some(true), Some(true)) => bool_value(true),
                    _ => Value::Null,
                }
            }
            Expr::Or(a, b) => {
                let x = a.eval(env, ex)?.truthy();
                if x == Some(true) {
                    return Ok(bool_value(true));
                }
                let y = b.eval(env, ex)?.truthy();
                match (x, y) {
                    (_, Some(true)) => bool_value(true),
                    (Some(false), Some(false)) => bool_value(false),
                    _ => Value::Null,
                }
            }
            Expr::IsNull(e, negated) => bool_value(e.eval(env, ex)?.is_null() != *negated),
            Expr::InList {
                e,
                list,
                negated,
                aff,
                coll,
            } => {
                if list.is_empty() {
                    return Ok(bool_value(*negated));
                }
                let v = e.eval(env, ex)?;
                if v.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    let x = item.eval(env, ex)?;
                    if x.is_null() {
                        saw_null = true;
                    } else if compare_with(v.clone(), x, *aff, *coll) == Ordering::Equal {
                        return Ok(bool_value(!*negated));
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    bool_value(*negated)
                }
            }
            Expr::InSub {
                e,
                sub,
                negated,
                aff,
                coll,
            } => {
                let rows = sub.rows(env, ex)?;
                if rows.is_empty() {
                    return Ok(bool_value(*negated));
                }
                let v = e.eval(env, ex)?;
                if v.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for row in rows.iter() {
                    let x = row[0].clone();
                    if x.is_null() {
                        saw_null = true;
                    } else if compare_with(v.clone(), x, *aff, *coll) == Ordering::Equal {
                        return Ok(bool_value(!*negated));
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    bool_value(*negated)
                }
            }
            Expr::Exists(sub, negated) => bool_value(sub.rows(env, ex)?.is_empty() == *negated),
            Expr::Scalar(sub) => sub
                .rows(env, ex)?
                .first()
                .map_or(Value::Null, |row| row[0].clone()),
            Expr::Case {
                operand,
                whens,
                otherwise,
                aff,
                coll,
            } => {
                let base = match operand {
                    Some(o) => Some(o.eval(env, ex)?),
                    None => None,
                };
                for (when, then) in whens {
                    let hit = match &base {
                        Some(b) => {
                            let w = when.eval(env, ex)?;
                            !b.is_null()
                                && !w.is_null()
                                && compare_with(b.clone(), w, *aff, *coll) == Ordering::Equal
                        }
                        None => when.test(env, ex)?,
                    };
                    if hit {
                        return then.eval(env, ex);
                    }
                }
                match otherwise {
                    Some(o) => o.eval(env, ex)?,
                    None => Value::Null,
                }
            }
            Expr::Cast(e, ty) => value::cast(&e.eval(env, ex)?, ty),
            Expr::Like {
                e,
                pattern,
                escape,
                negated,
                glob,
            } => {
                let text = e.eval(env, ex)?;
                let pat = pattern.eval(env, ex)?;
                let esc = match escape {
                    Some(x) => match x.eval(env, ex)?.to_text() {
                        None => return Ok(Value::Null),
                        Some(s) => {
                            let mut chars = s.chars();
                            match (chars.next(), chars.next()) {
                                (Some(c), None) => Some(c),
                                _ => {
                                    return Err(Error::InvalidInput(
                                        "ESCAPE expression must be a single character".into(),
                                    ))
                                }
                            }
                        }
                    },
                    None => None,
                };
                match (text.to_text(), pat.to_text()) {
                    (Some(t), Some(p)) => {
                        let hit = if *glob {
                            value::glob(&p, &t)
                        } else {
                            value::like(&p, &t, esc)
                        };
                        bool_value(hit != *negated)
                    }
                    _ => Value::Null,
                }
            }
            Expr::Func(f, args) => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(a.eval(env, ex)?);
                }
                f(&values, &mut ex.func)?
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_affinity_follows_sqlite() {
        use Affinity::*;
        assert_eq!(
            comparison_affinity(Some(Integer), Some(Text)),
            Some(Numeric)
        );
        assert_eq!(comparison_affinity(Some(Text), Some(Blob)), None);
        assert_eq!(comparison_affinity(Some(Text), None), Some(Text));
        assert_eq!(comparison_affinity(None, Some(Real)), Some(Numeric));
        assert_eq!(comparison_affinity(Some(Blob), None), None);
        assert_eq!(comparison_affinity(None, None), None);
    }

    #[test]
    fn compare_with_applies_affinity_first() {
        let ord = compare_with(
            Value::Integer(10),
            Value::Text("10".into()),
            Some(Affinity::Numeric),
            Collation::Binary,
        );
        assert_eq!(ord, Ordering::Equal);
        let ord = compare_with(
            Value::Integer(10),
            Value::Text("10".into()),
            None,
            Collation::Binary,
        );
        assert_eq!(ord, Ordering::Less, "numbers sort before text");
    }
}
