//! The binder: sqlparser's AST to bound expressions and query plans.
//!
//! Names resolve against a stack of scopes, one per query being bound; the
//! innermost is searched first, and a name found further out becomes an
//! [`Expr::Outer`] that marks the subqueries in between as correlated.
//!
//! ```text
//!   scopes: [ outer SELECT: t1(a, b, rowid) ][ subquery: t2(a, c, rowid) ]
//!   "c"     -> Col(idx of t2.c)
//!   "t1.b"  -> Outer { depth: 1, idx of t1.b }
//!   "a"     -> t2.a (innermost scope wins); ambiguous only within a scope
//! ```
//!
//! Aggregate calls in a grouped query's result columns, HAVING and ORDER BY
//! are collected into the scope's aggregate list and replaced by a column
//! *after* the joined row: the executor evaluates those clauses against
//! the group's last row followed by the aggregate results.

mod from;
mod query;
mod window;

pub use from::table_cols;

use sqlparser::ast;

use crate::error::{Error, Result};
use crate::invalid;
use crate::sql::expr::{comparison_affinity, BinOp, CmpOp, Expr, Subquery};
use crate::sql::func;
use crate::sql::plan::{AggSpec, QueryPlan};
use crate::sql::schema::{collation_of, Schema};
use crate::sql::value::{Affinity, Collation, Value};

/// One column a scope makes visible.
#[derive(Clone, Debug)]
pub struct ColInfo {
    pub name: String,
    pub aff: Option<Affinity>,
    pub coll: Collation,
    /// The rowid: found only by the names rowid, oid and _rowid_, and not
    /// part of `*`.
    pub hidden: bool,
    /// The right-hand column of a USING / NATURAL join: only found when
    /// qualified, and not part of `*`.
    pub merged: bool,
}

/// One FROM item of a scope.
#[derive(Clone, Debug)]
pub struct SourceInfo {
    pub name: String,
    pub cols: Vec<ColInfo>,
    pub offset: usize,
}

#[derive(Default)]
struct Scope {
    sources: Vec<SourceInfo>,
    width: usize,
    /// Aggregates collected while binding a grouped query's outputs.
    aggs: Option<Vec<AggSpec>>,
    /// Result column aliases, which HAVING may name when no column has
    /// the name (as SQLite allows).
    aliases: Vec<(String, Expr)>,
    /// Window calls collected while binding a SELECT's outputs.
    windows: Option<window::Collector>,
}

/// A CTE visible to the query being bound.
#[derive(Clone)]
struct CteInfo {
    name: String,
    id: usize,
    columns: Vec<String>,
    aff: Vec<Option<Affinity>>,
    coll: Vec<Collation>,
}

/// Connection state some functions read (`last_insert_rowid()`, ...).
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionInfo {
    pub last_insert_rowid: i64,
    pub changes: u64,
    pub total_changes: u64,
}

/// Binds statements of one call against one schema.
pub struct Binder<'s> {
    pub schema: &'s Schema,
    scopes: Vec<Scope>,
    ctes: Vec<CteInfo>,
    next_cte: usize,
    next_param: usize,
    named_params: Vec<String>,
    /// For each subquery being bound: the lowest scope index it reached.
    reach: Vec<(usize, usize)>,
    session: SessionInfo,
    /// Views being expanded, to refuse a view that reads itself.
    views: Vec<String>,
    /// In a trigger program: what OLD and NEW name (trigger/fire.rs).
    pub trigger: Option<std::rc::Rc<crate::sql::trigger::TriggerScope>>,
    /// False once the statement bound something that must not outlive one
    /// execution: a session value folded into a literal, or a subquery
    /// (whose rows are cached in the plan). Only a cacheable statement's
    /// bound form may be reused (prepared.rs).
    pub cacheable: bool,
}

fn is_rowid_name(name: &str) -> bool {
    ["rowid", "oid", "_rowid_"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
}

/// Parses a numeric literal the way SQLite does: integers that do not fit
/// in 64 bits become REAL.
pub fn number(text: &str) -> Result<Value> {
    let lower = text.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16)
            .map(|u| Value::Integer(u as i64))
            .map_err(|_| invalid!("hex literal {text} is too big"));
    }
    if !lower.contains(['.', 'e']) {
        if let Ok(i) = lower.parse::<i64>() {
            return Ok(Value::Integer(i));
        }
    }
    lower
        .parse::<f64>()
        .map(Value::Real)
        .map_err(|_| Error::Syntax(format!("bad number {text}")))
}

fn hex_blob(text: &str) -> Result<Value> {
    if text.len() & 1 == 1 {
        return Err(Error::Syntax(format!("malformed blob literal x'{text}'")));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16))
        .collect::<std::result::Result<Vec<u8>, _>>()
        .map(Value::Blob)
        .map_err(|_| Error::Syntax(format!("malformed blob literal x'{text}'")))
}

impl<'s> Binder<'s> {
    pub fn new(schema: &'s Schema, session: SessionInfo) -> Binder<'s> {
        Binder {
            schema,
            scopes: Vec::new(),
            ctes: Vec::new(),
            next_cte: 0,
            next_param: 0,
            named_params: Vec::new(),
            reach: Vec::new(),
            session,
            views: Vec::new(),
            trigger: None,
            cacheable: true,
        }
    }

    /// Opens a scope over `sources`; the caller pops it with `pop_scope`.
    pub fn push_scope(&mut self, sources: Vec<SourceInfo>) {
        let width = sources
            .iter()
            .map(|s| s.offset + s.cols.len())
            .max()
            .unwrap_or(0);
        self.scopes.push(Scope {
            sources,
            width,
            aggs: None,
            aliases: Vec::new(),
            windows: None,
        });
    }

    fn scope_mut(&mut self) -> &mut Scope {
        self.scopes.last_mut().expect("a scope is open")
    }

    pub fn pop_scope(&mut self) {
        self.scopes.pop();
    }

    fn add_source(&mut self, source: SourceInfo) {
        let scope = self.scopes.last_mut().expect("a scope is open");
        scope.width = scope.width.max(source.offset + source.cols.len());
        scope.sources.push(source);
    }

    fn find(
        &self,
        level: usize,
        table: Option<&str>,
        name: &str,
    ) -> Result<Option<(usize, Option<Affinity>, Collation)>> {
        let scope = &self.scopes[level];
        let mut found = None;
        let matches = |src: &SourceInfo| table.is_none_or(|t| src.name.eq_ignore_ascii_case(t));
        for src in scope.sources.iter().filter(|s| matches(s)) {
            for (i, c) in src.cols.iter().enumerate() {
                if c.hidden || (c.merged && table.is_none()) || !c.name.eq_ignore_ascii_case(name) {
                    continue;
                }
                if found.is_some() {
                    return Err(invalid!("ambiguous column name: {name}"));
                }
                found = Some((src.offset + i, c.aff, c.coll));
            }
        }
        if found.is_none() && is_rowid_name(name) {
            for src in scope.sources.iter().filter(|s| matches(s)) {
                if let Some(i) = src.cols.iter().position(|c| c.hidden) {
                    if found.is_some() {
                        return Err(invalid!("ambiguous column name: {name}"));
                    }
                    found = Some((src.offset + i, Some(Affinity::Integer), Collation::Binary));
                }
            }
        }
        Ok(found)
    }

    /// Resolves a column name, innermost scope first.
    fn column(&mut self, table: Option<&str>, name: &str) -> Result<Option<Expr>> {
        let top = self.scopes.len();
        for level in (0..top).rev() {
            if let Some((idx, aff, coll)) = self.find(level, table, name)? {
                let depth = top - 1 - level;
                if depth == 0 {
                    return Ok(Some(Expr::Col { idx, aff, coll }));
                }
                for (start, reach) in self.reach.iter_mut() {
                    if level < *start {
                        *reach = (*reach).min(level);
                    }
                }
                return Ok(Some(Expr::Outer {
                    depth,
                    idx,
                    aff,
                    coll,
                }));
            }
        }
        if let (Some(t), Some(scope)) = (table, &self.trigger) {
            if let Some(e) = scope.column(t, name) {
                return Ok(Some(e));
            }
        }
        if let Some(t) = table {
            let known = self
                .scopes
                .iter()
                .any(|s| s.sources.iter().any(|src| src.name.eq_ignore_ascii_case(t)));
            if !known {
                return Err(Error::NotFound(format!("no such column: {t}.{name}")));
            }
        }
        Ok(None)
    }

    /// Binds a subquery; it is correlated if it reads an enclosing row.
    pub fn subquery(&mut self, q: &ast::Query) -> Result<Subquery> {
        let start = self.scopes.len();
        self.reach.push((start, usize::MAX));
        let plan = self.query(q);
        let (_, reach) = self.reach.pop().expect("pushed above");
        self.cacheable = false;
        Ok(Subquery::new(plan?, reach < start))
    }

    /// Binds a query that must not see the enclosing scopes (a FROM
    /// subquery or a view).
    pub fn isolated_query(&mut self, q: &ast::Query, hide_ctes: bool) -> Result<QueryPlan> {
        let scopes = std::mem::take(&mut self.scopes);
        let reach = std::mem::take(&mut self.reach);
        let ctes = if hide_ctes {
            std::mem::take(&mut self.ctes)
        } else {
            self.ctes.clone()
        };
        let plan = self.query(q);
        self.scopes = scopes;
        self.reach = reach;
        self.ctes = ctes;
        plan
    }

    fn param(&mut self, text: &str) -> Result<Expr> {
        if self.trigger.is_some() {
            return Err(invalid!("trigger cannot use variables"));
        }
        let idx = if text == "?" {
            self.next_param += 1;
            self.next_param - 1
        } else if let Some(n) = text.strip_prefix('?') {
            let n: usize = n
                .parse()
                .map_err(|_| Error::Syntax(format!("bad parameter {text}")))?;
            if n == 0 || n > crate::sql::parse::MAX_PARAMS {
                return Err(Error::LimitExceeded(format!(
                    "parameter {text} out of range"
                )));
            }
            self.next_param = self.next_param.max(n);
            n - 1
        } else {
            match self.named_params.iter().position(|p| p == text) {
                Some(i) => i,
                None => {
                    self.named_params.push(text.to_owned());
                    self.next_param += 1;
                    self.next_param - 1
                }
            }
        };
        Ok(Expr::Param(idx))
    }

    fn literal(&mut self, v: &ast::Value) -> Result<Expr> {
        Ok(Expr::Lit(match v {
            ast::Value::Number(n, _) => number(n)?,
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => {
                Value::Text(s.clone())
            }
            ast::Value::HexStringLiteral(h) => hex_blob(h)?,
            ast::Value::Boolean(b) => Value::Integer(i64::from(*b)),
            ast::Value::Null => Value::Null,
            ast::Value::Placeholder(p) => return self.param(p),
            other => return Err(invalid!("unsupported literal {other}")),
        }))
    }

    /// A comparison with SQLite's affinity and collation rules.
    pub fn compare(&self, op: CmpOp, l: Expr, r: Expr) -> Expr {
        let aff = comparison_affinity(l.affinity(), r.affinity());
        let coll = pick_collation(&l, &r);
        Expr::Cmp {
            op,
            l: Box::new(l),
            r: Box::new(r),
            aff,
            coll,
        }
    }

    /// Binds an expression of the innermost scope.
    pub fn expr(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as A;
        Ok(match e {
            A::Identifier(id) => match self.column(None, &id.value)? {
                Some(col) => col,
                None if self.alias(&id.value).is_some() => self.alias(&id.value).expect("checked"),
                // SQLite reads an unknown "name" as a string literal.
                None if id.quote_style == Some('"') => Expr::Lit(Value::Text(id.value.clone())),
                None => return Err(Error::NotFound(format!("no such column: {}", id.value))),
            },
            A::CompoundIdentifier(parts) => {
                let n = parts.len();
                if !(2..=3).contains(&n) {
                    return Err(invalid!("unsupported name {e}"));
                }
                self.column(Some(&parts[n - 2].value), &parts[n - 1].value)?
                    .ok_or_else(|| Error::NotFound(format!("no such column: {e}")))?
            }
            A::Value(v) => self.literal(&v.value)?,
            A::Nested(inner) => self.expr(inner)?,
            A::UnaryOp { op, expr } => {
                use ast::UnaryOperator as U;
                if let (U::Minus, A::Value(v)) = (op, expr.as_ref()) {
                    if let ast::Value::Number(n, _) = &v.value {
                        if n == "9223372036854775808" {
                            return Ok(Expr::Lit(Value::Integer(i64::MIN)));
                        }
                    }
                }
                let inner = Box::new(self.expr(expr)?);
                match op {
                    U::Minus => Expr::Neg(inner),
                    U::Plus => Expr::Plus(inner),
                    U::Not => Expr::Not(inner),
                    U::BitwiseNot => Expr::BitNot(inner),
                    other => return Err(invalid!("unsupported operator {other}")),
                }
            }
            A::BinaryOp { left, op, right } => self.binary(left, op, right)?,
            A::IsNull(x) => Expr::IsNull(Box::new(self.expr(x)?), false),
            A::IsNotNull(x) => Expr::IsNull(Box::new(self.expr(x)?), true),
            A::IsTrue(x) | A::IsNotTrue(x) | A::IsFalse(x) | A::IsNotFalse(x) => {
                let inner = self.expr(x)?;
                let (cond, yes) = match e {
                    A::IsTrue(_) => (inner, 1),
                    A::IsNotTrue(_) => (inner, 0),
                    A::IsFalse(_) => (Expr::Not(Box::new(inner)), 1),
                    _ => (Expr::Not(Box::new(inner)), 0),
                };
                Expr::Case {
                    operand: None,
                    whens: vec![(cond, Expr::Lit(Value::Integer(yes)))],
                    otherwise: Some(Box::new(Expr::Lit(Value::Integer(1 - yes)))),
                    aff: None,
                    coll: Collation::Binary,
                }
            }
            A::IsDistinctFrom(a, b) => {
                let (a, b) = (self.expr(a)?, self.expr(b)?);
                self.compare(CmpOp::IsNot, a, b)
            }
            A::IsNotDistinctFrom(a, b) => {
                let (a, b) = (self.expr(a)?, self.expr(b)?);
                self.compare(CmpOp::Is, a, b)
            }
            A::InList {
                expr,
                list,
                negated,
            } => {
                let lhs = self.expr(expr)?;
                let list = list
                    .iter()
                    .map(|x| self.expr(x))
                    .collect::<Result<Vec<_>>>()?;
                // `a IN (x, y)` is `a = +x OR a = +y`: the list has no affinity.
                let aff = comparison_affinity(lhs.affinity(), None);
                let coll = lhs.collation().map_or(Collation::Binary, |c| c.0);
                Expr::InList {
                    e: Box::new(lhs),
                    list,
                    negated: *negated,
                    aff,
                    coll,
                }
            }
            A::InSubquery {
                expr,
                subquery,
                negated,
            } => {
                let lhs = self.expr(expr)?;
                let sub = self.subquery(subquery)?;
                if sub.plan.columns.len() != 1 {
                    return Err(invalid!(
                        "sub-select returns {} columns - expected 1",
                        sub.plan.columns.len()
                    ));
                }
                let aff = comparison_affinity(lhs.affinity(), sub.plan.out_aff[0]);
                let coll = lhs.collation().map_or(sub.plan.out_coll[0], |c| c.0);
                Expr::InSub {
                    e: Box::new(lhs),
                    sub: Box::new(sub),
                    negated: *negated,
                    aff,
                    coll,
                }
            }
            A::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (x1, lo) = (self.expr(expr)?, self.expr(low)?);
                let (x2, hi) = (self.expr(expr)?, self.expr(high)?);
                let both = Expr::And(
                    Box::new(self.compare(CmpOp::Ge, x1, lo)),
                    Box::new(self.compare(CmpOp::Le, x2, hi)),
                );
                if *negated {
                    Expr::Not(Box::new(both))
                } else {
                    both
                }
            }
            A::Like {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            }
            | A::ILike {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            } => Expr::Like {
                e: Box::new(self.expr(expr)?),
                pattern: Box::new(self.expr(pattern)?),
                escape: escape_char
                    .as_ref()
                    .map(|x| self.expr(x))
                    .transpose()?
                    .map(Box::new),
                negated: *negated,
                glob: false,
            },
            A::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let operand = operand.as_ref().map(|o| self.expr(o)).transpose()?;
                let mut whens = Vec::with_capacity(conditions.len());
                let (mut aff, mut coll) = (None, Collation::Binary);
                for (i, cw) in conditions.iter().enumerate() {
                    let w = self.expr(&cw.condition)?;
                    if let (Some(o), 0) = (&operand, i) {
                        aff = comparison_affinity(o.affinity(), w.affinity());
                        coll = pick_collation(o, &w);
                    }
                    whens.push((w, self.expr(&cw.result)?));
                }
                Expr::Case {
                    operand: operand.map(Box::new),
                    whens,
                    otherwise: else_result
                        .as_ref()
                        .map(|x| self.expr(x))
                        .transpose()?
                        .map(Box::new),
                    aff,
                    coll,
                }
            }
            A::Cast {
                expr, data_type, ..
            } => Expr::Cast(Box::new(self.expr(expr)?), data_type.to_string()),
            A::Exists { subquery, negated } => {
                Expr::Exists(Box::new(self.subquery(subquery)?), *negated)
            }
            A::Subquery(q) => {
                let sub = self.subquery(q)?;
                if sub.plan.columns.len() != 1 {
                    return Err(invalid!(
                        "sub-select returns {} columns - expected 1",
                        sub.plan.columns.len()
                    ));
                }
                Expr::Scalar(Box::new(sub))
            }
            A::Collate { expr, collation } => {
                Expr::Collate(Box::new(self.expr(expr)?), collation_of(collation)?)
            }
            A::Function(f) if f.name.to_string().eq_ignore_ascii_case("raise") => {
                crate::sql::trigger::bind_raise(self.trigger.is_some(), f)?
            }
            A::Function(f) => self.function(f)?,
            A::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.expr(expr)?];
                if let Some(x) = substring_from {
                    args.push(self.expr(x)?);
                }
                if let Some(x) = substring_for {
                    args.push(self.expr(x)?);
                }
                self.scalar_call("substr", args)?
            }
            A::Trim {
                expr,
                trim_where: None,
                trim_what: None,
                trim_characters,
            } => {
                let mut args = vec![self.expr(expr)?];
                for c in trim_characters.iter().flatten() {
                    args.push(self.expr(c)?);
                }
                self.scalar_call("trim", args)?
            }
            other => return Err(invalid!("unsupported expression: {other}")),
        })
    }

    fn binary(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
    ) -> Result<Expr> {
        use ast::BinaryOperator as B;
        let l = self.expr(left)?;
        let r = self.expr(right)?;
        let arith = |op: BinOp, l: Expr, r: Expr| Expr::Bin(op, Box::new(l), Box::new(r));
        Ok(match op {
            B::Plus => arith(BinOp::Add, l, r),
            B::Minus => arith(BinOp::Sub, l, r),
            B::Multiply => arith(BinOp::Mul, l, r),
            B::Divide => arith(BinOp::Div, l, r),
            B::Modulo => arith(BinOp::Rem, l, r),
            B::StringConcat => arith(BinOp::Concat, l, r),
            B::BitwiseAnd => arith(BinOp::BitAnd, l, r),
            B::BitwiseOr => arith(BinOp::BitOr, l, r),
            B::PGBitwiseShiftLeft => arith(BinOp::Shl, l, r),
            B::PGBitwiseShiftRight => arith(BinOp::Shr, l, r),
            B::Eq => self.compare(CmpOp::Eq, l, r),
            B::NotEq => self.compare(CmpOp::Ne, l, r),
            B::Lt => self.compare(CmpOp::Lt, l, r),
            B::LtEq => self.compare(CmpOp::Le, l, r),
            B::Gt => self.compare(CmpOp::Gt, l, r),
            B::GtEq => self.compare(CmpOp::Ge, l, r),
            B::And => Expr::And(Box::new(l), Box::new(r)),
            B::Or => Expr::Or(Box::new(l), Box::new(r)),
            B::Glob => Expr::Like {
                e: Box::new(l),
                pattern: Box::new(r),
                escape: None,
                negated: false,
                glob: true,
            },
            other => return Err(invalid!("unsupported operator {other}")),
        })
    }

    fn scalar_call(&mut self, name: &str, args: Vec<Expr>) -> Result<Expr> {
        match func::scalar(name, args.len()) {
            Some(f) => Ok(Expr::Func(f, args)),
            None if func::is_aggregate(name)
                || func::scalar(name, 1).is_some()
                || func::scalar(name, 2).is_some() =>
            {
                Err(invalid!("wrong number of arguments to function {name}()"))
            }
            None => Err(Error::NotFound(format!("no such function: {name}"))),
        }
    }

    fn function(&mut self, f: &ast::Function) -> Result<Expr> {
        let name = f.name.to_string().to_ascii_lowercase();
        if !f.within_group.is_empty() {
            return Err(invalid!("WITHIN GROUP is not supported: {name}"));
        }
        let (distinct, raw_args, star) = match &f.args {
            ast::FunctionArguments::None => (false, Vec::new(), false),
            ast::FunctionArguments::Subquery(_) => {
                return Err(invalid!("unsupported call of {name}"))
            }
            ast::FunctionArguments::List(list) => {
                let distinct = matches!(
                    list.duplicate_treatment,
                    Some(ast::DuplicateTreatment::Distinct)
                );
                let mut args = Vec::new();
                let mut star = false;
                for a in &list.args {
                    match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => args.push(e),
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
                        other => return Err(invalid!("unsupported argument {other} to {name}")),
                    }
                }
                (distinct, args, star)
            }
        };
        if star && (name != "count" || !raw_args.is_empty()) {
            return Err(invalid!("wrong use of * in {name}()"));
        }
        let call = window::Call {
            name: &name,
            args: &raw_args,
            distinct,
            filter: f.filter.as_deref(),
        };
        if let Some(over) = &f.over {
            return self.window_call(call, over);
        }
        if crate::sql::window::WinKind::builtin(&name, raw_args.len()).is_some() {
            return Err(invalid!("misuse of window function {name}()"));
        }
        if matches!(
            (name.as_str(), raw_args.len()),
            ("last_insert_rowid" | "changes" | "total_changes", 0)
        ) {
            self.cacheable = false;
        }
        match (name.as_str(), raw_args.len()) {
            ("last_insert_rowid", 0) => {
                return Ok(Expr::Lit(Value::Integer(self.session.last_insert_rowid)))
            }
            ("changes", 0) => return Ok(Expr::Lit(Value::Integer(self.session.changes as i64))),
            ("total_changes", 0) => {
                return Ok(Expr::Lit(Value::Integer(self.session.total_changes as i64)))
            }
            _ => {}
        }
        let argc = raw_args.len();
        let is_agg = func::is_aggregate(&name) && func::aggregate(&name, argc, distinct).is_some();
        if is_agg {
            let Some(scope) = self.scopes.last_mut() else {
                return Err(invalid!("misuse of aggregate function {name}()"));
            };
            let Some(collected) = scope.aggs.take() else {
                return Err(invalid!("misuse of aggregate function {name}()"));
            };
            // Arguments see the joined row; a nested aggregate is misuse.
            let args = raw_args
                .iter()
                .map(|a| self.expr(a))
                .collect::<Result<Vec<_>>>();
            let filter = match (&args, call.filter) {
                (Ok(_), Some(f)) => self.expr(f).map(Some),
                _ => Ok(None),
            };
            let scope = self.scopes.last_mut().expect("still open");
            let mut collected = collected;
            let (args, filter) = match (args, filter) {
                (Ok(args), Ok(filter)) => (args, filter),
                (Err(e), _) | (_, Err(e)) => {
                    scope.aggs = Some(collected);
                    return Err(e);
                }
            };
            let idx = scope.width + collected.len();
            collected.push(AggSpec {
                name: name.clone(),
                args,
                distinct,
                filter,
            });
            scope.aggs = Some(collected);
            return Ok(Expr::Col {
                idx,
                aff: None,
                coll: Collation::Binary,
            });
        }
        if distinct {
            return Err(invalid!("DISTINCT is only allowed in aggregate functions"));
        }
        if call.filter.is_some() {
            return Err(invalid!(
                "FILTER may not be used with non-aggregate {name}()"
            ));
        }
        let args = raw_args
            .iter()
            .map(|a| self.expr(a))
            .collect::<Result<Vec<_>>>()?;
        if func::is_aggregate(&name) && func::scalar(&name, argc).is_none() {
            return Err(invalid!("wrong number of arguments to function {name}()"));
        }
        self.scalar_call(&name, args)
    }

    fn alias(&self, name: &str) -> Option<Expr> {
        self.scopes.last().and_then(|s| {
            s.aliases
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, e)| e.clone())
        })
    }

    /// Makes result aliases nameable in the innermost scope.
    fn set_aliases(&mut self, aliases: Vec<(String, Expr)>) {
        self.scopes.last_mut().expect("a scope is open").aliases = aliases;
    }

    /// Starts collecting aggregates in the innermost scope.
    fn collect_aggs(&mut self) {
        self.scopes.last_mut().expect("a scope is open").aggs = Some(Vec::new());
    }

    /// Stops collecting and returns what was collected.
    fn take_aggs(&mut self) -> Vec<AggSpec> {
        self.scopes
            .last_mut()
            .expect("a scope is open")
            .aggs
            .take()
            .unwrap_or_default()
    }
}

/// The collation of a binary comparison: an explicit COLLATE on the left,
/// then on the right, then the left column's, then the right column's.
pub fn pick_collation(l: &Expr, r: &Expr) -> Collation {
    match (l.collation(), r.collation()) {
        (Some((c, true)), _) => c,
        (_, Some((c, true))) => c,
        (Some((c, false)), _) => c,
        (_, Some((c, false))) => c,
        _ => Collation::Binary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_like_sqlite() {
        assert!(matches!(number("42").unwrap(), Value::Integer(42)));
        assert!(matches!(number("1.5e3").unwrap(), Value::Real(r) if r == 1500.0));
        assert!(matches!(
            number("9223372036854775808").unwrap(),
            Value::Real(_)
        ));
        assert!(matches!(number("0x10").unwrap(), Value::Integer(16)));
        assert!(matches!(hex_blob("aB01").unwrap(), Value::Blob(b) if b == [0xab, 1]));
        assert!(hex_blob("abc").is_err());
    }
}
