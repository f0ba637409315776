//! Binding queries: WITH, compound bodies, SELECT (result columns,
//! grouping, ordering) and limits. FROM clauses are bound in `from.rs`.

use sqlparser::ast;

use super::{Binder, CteInfo};
use crate::error::{Error, Result};
use crate::invalid;
use crate::sql::expr::Expr;
use crate::sql::plan::{
    Access, Aggregation, Body, CtePlan, Level, OrderKey, QueryPlan, SelectPlan, SetOp, Source,
};
use crate::sql::schema::object_name;
use crate::sql::value::Collation;

/// Splits a condition into its AND-ed parts.
pub fn conjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::And(a, b) => {
            conjuncts(*a, out);
            conjuncts(*b, out);
        }
        other => out.push(other),
    }
}

fn expr_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(id) => id.value.clone(),
        ast::Expr::CompoundIdentifier(parts) => {
            parts.last().map(|p| p.value.clone()).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

impl Binder<'_> {
    /// Binds a whole query (WITH, body, ORDER BY, LIMIT).
    pub fn query(&mut self, q: &ast::Query) -> Result<QueryPlan> {
        let mark = self.ctes.len();
        let result = self.query_inner(q);
        self.ctes.truncate(mark);
        result
    }

    fn query_inner(&mut self, q: &ast::Query) -> Result<QueryPlan> {
        let mut ctes = Vec::new();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                ctes.push(self.cte(cte, with.recursive)?);
            }
        }
        let order = match &q.order_by {
            Some(ob) => match &ob.kind {
                ast::OrderByKind::Expressions(list) => list.as_slice(),
                ast::OrderByKind::All(_) => return Err(invalid!("ORDER BY ALL is not supported")),
            },
            None => &[],
        };
        let mut plan = self.body(&q.body, order)?;
        if !ctes.is_empty() {
            ctes.append(&mut plan.ctes);
            plan.ctes = ctes;
        }
        let (limit, offset) = match &q.limit_clause {
            None => (None, None),
            Some(ast::LimitClause::LimitOffset { limit, offset, .. }) => {
                (limit.as_ref(), offset.as_ref().map(|o| &o.value))
            }
            Some(ast::LimitClause::OffsetCommaLimit { offset, limit }) => {
                (Some(limit), Some(offset))
            }
        };
        if limit.is_some() || offset.is_some() {
            if plan.limit.is_some() || plan.offset.is_some() {
                plan = self.wrap(plan);
            }
            self.push_scope(Vec::new());
            let l = limit.map(|e| self.expr(e)).transpose();
            let o = offset.map(|e| self.expr(e)).transpose();
            self.pop_scope();
            plan.limit = l?;
            plan.offset = o?;
        }
        Ok(plan)
    }

    /// A plan that selects every column of `inner`, so that it can take
    /// its own ORDER BY and LIMIT.
    fn wrap(&mut self, inner: QueryPlan) -> QueryPlan {
        let n = inner.columns.len();
        let projection = (0..n)
            .map(|i| Expr::Col {
                idx: i,
                aff: inner.out_aff[i],
                coll: inner.out_coll[i],
            })
            .collect();
        let (columns, out_aff, out_coll) = (
            inner.columns.clone(),
            inner.out_aff.clone(),
            inner.out_coll.clone(),
        );
        QueryPlan {
            ctes: Vec::new(),
            body: Body::Select(Box::new(SelectPlan {
                levels: vec![Level {
                    source: Source::Query(Box::new(inner)),
                    name: "subquery".into(),
                    offset: 0,
                    width: n,
                    left: false,
                    on: Vec::new(),
                    filters: Vec::new(),
                    access: Access::Scan,
                    dependent: false,
                }],
                pre_filters: Vec::new(),
                width: n,
                aggregate: None,
                projection,
                distinct: false,
                order: Vec::new(),
                windows: None,
            })),
            order: Vec::new(),
            limit: None,
            offset: None,
            columns,
            out_aff,
            out_coll,
        }
    }

    fn cte(&mut self, cte: &ast::Cte, recursive: bool) -> Result<CtePlan> {
        let name = cte.alias.name.value.clone();
        let names: Vec<String> = cte
            .alias
            .columns
            .iter()
            .map(|c| c.name.value.clone())
            .collect();
        let id = self.next_cte;
        self.next_cte += 1;
        let self_ref = recursive && query_mentions(&cte.query, &name);
        let register = |b: &mut Binder, plan: &QueryPlan| {
            if !names.is_empty() && names.len() != plan.columns.len() {
                return Err(invalid!(
                    "table {name} has {} values for {} columns",
                    plan.columns.len(),
                    names.len()
                ));
            }
            b.ctes.push(CteInfo {
                name: name.clone(),
                id,
                columns: if names.is_empty() {
                    plan.columns.clone()
                } else {
                    names.clone()
                },
                aff: plan.out_aff.clone(),
                coll: plan.out_coll.clone(),
            });
            Ok(())
        };
        if !self_ref {
            let plan = self.query(&cte.query)?;
            register(self, &plan)?;
            return Ok(CtePlan::Plain {
                id,
                plan: Box::new(plan),
            });
        }
        let ast::SetExpr::SetOperation {
            left,
            op: ast::SetOperator::Union,
            set_quantifier,
            right,
        } = cte.query.body.as_ref()
        else {
            return Err(invalid!(
                "recursive CTE {name} must be anchor UNION [ALL] step"
            ));
        };
        if cte.query.order_by.is_some() || cte.query.limit_clause.is_some() {
            return Err(invalid!(
                "ORDER BY and LIMIT in recursive CTE {name} are not supported"
            ));
        }
        let anchor = self.body(left, &[])?;
        register(self, &anchor)?;
        let step = self.body(right, &[])?;
        if step.columns.len() != anchor.columns.len() {
            return Err(invalid!("SELECTs to the left and right of UNION do not have the same number of result columns"));
        }
        Ok(CtePlan::Recursive {
            id,
            anchor: Box::new(anchor),
            step: Box::new(step),
            all: matches!(set_quantifier, ast::SetQuantifier::All),
        })
    }

    fn body(&mut self, body: &ast::SetExpr, order: &[ast::OrderByExpr]) -> Result<QueryPlan> {
        match body {
            ast::SetExpr::Select(s) => self.select(s, order),
            ast::SetExpr::Query(q) => {
                let plan = self.query(q)?;
                self.outer_order(plan, order)
            }
            ast::SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                let l = self.body(left, &[])?;
                let r = self.body(right, &[])?;
                if l.columns.len() != r.columns.len() {
                    return Err(invalid!(
                        "SELECTs to the left and right of {op} do not have the same number of result columns"
                    ));
                }
                let op = match op {
                    ast::SetOperator::Union => SetOp::Union,
                    ast::SetOperator::Intersect => SetOp::Intersect,
                    ast::SetOperator::Except | ast::SetOperator::Minus => SetOp::Except,
                };
                let all = match set_quantifier {
                    ast::SetQuantifier::All => true,
                    ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
                    other => return Err(invalid!("unsupported set quantifier {other}")),
                };
                let plan = QueryPlan {
                    ctes: Vec::new(),
                    columns: l.columns.clone(),
                    out_aff: l.out_aff.clone(),
                    out_coll: l.out_coll.clone(),
                    body: Body::Compound {
                        op,
                        all,
                        left: Box::new(l),
                        right: Box::new(r),
                    },
                    order: Vec::new(),
                    limit: None,
                    offset: None,
                };
                self.outer_order(plan, order)
            }
            ast::SetExpr::Values(values) => {
                self.push_scope(Vec::new());
                let rows = values
                    .rows
                    .iter()
                    .map(|row| {
                        row.content
                            .iter()
                            .map(|e| self.expr(e))
                            .collect::<Result<Vec<_>>>()
                    })
                    .collect::<Result<Vec<_>>>();
                self.pop_scope();
                let rows = rows?;
                let n = rows.first().map_or(0, Vec::len);
                if rows.iter().any(|r| r.len() != n) {
                    return Err(invalid!("all VALUES must have the same number of terms"));
                }
                let plan = QueryPlan {
                    ctes: Vec::new(),
                    columns: (1..=n).map(|i| format!("column{i}")).collect(),
                    out_aff: vec![None; n],
                    out_coll: vec![Collation::Binary; n],
                    body: Body::Values(rows),
                    order: Vec::new(),
                    limit: None,
                    offset: None,
                };
                self.outer_order(plan, order)
            }
            other => Err(invalid!("unsupported query: {other}")),
        }
    }

    /// ORDER BY of a compound (or parenthesised) query: terms name output
    /// columns by number, name, or the text of their expression.
    fn outer_order(
        &mut self,
        mut plan: QueryPlan,
        order: &[ast::OrderByExpr],
    ) -> Result<QueryPlan> {
        if order.is_empty() {
            return Ok(plan);
        }
        if !plan.order.is_empty() || plan.limit.is_some() || plan.offset.is_some() {
            plan = self.wrap(plan);
        }
        let mut keys = Vec::with_capacity(order.len());
        for (n, term) in order.iter().enumerate() {
            let (inner, explicit) = match &term.expr {
                ast::Expr::Collate { expr, collation } => (
                    expr.as_ref(),
                    Some(crate::sql::schema::collation_of(collation)?),
                ),
                other => (other, None),
            };
            let idx = match inner {
                ast::Expr::Value(v) => match &v.value {
                    ast::Value::Number(text, _) => text
                        .parse::<usize>()
                        .ok()
                        .filter(|k| *k >= 1 && *k <= plan.columns.len())
                        .map(|k| k - 1),
                    _ => None,
                },
                other => {
                    let name = expr_name(other);
                    let text = other.to_string();
                    plan.columns
                        .iter()
                        .position(|c| c.eq_ignore_ascii_case(&name))
                        .or_else(|| {
                            plan.columns
                                .iter()
                                .position(|c| c.eq_ignore_ascii_case(&text))
                        })
                }
            };
            let idx = idx.ok_or_else(|| {
                invalid!(
                    "{} ORDER BY term does not match any column in the result set",
                    ordinal(n + 1)
                )
            })?;
            keys.push(OrderKey {
                expr: Expr::Col {
                    idx,
                    aff: plan.out_aff[idx],
                    coll: plan.out_coll[idx],
                },
                desc: is_desc(&term.options),
                nulls_first: term.options.nulls_first.unwrap_or(!is_desc(&term.options)),
                coll: explicit.unwrap_or(plan.out_coll[idx]),
            });
        }
        plan.order = keys;
        Ok(plan)
    }

    /// Output columns of one projection item.
    pub(crate) fn projection_item(
        &mut self,
        item: &ast::SelectItem,
        out: &mut Vec<(Expr, String, Option<ast::Expr>)>,
    ) -> Result<()> {
        match item {
            ast::SelectItem::UnnamedExpr(e) => {
                let bound = self.expr(e)?;
                out.push((bound, expr_name(e), Some(e.clone())));
            }
            ast::SelectItem::ExprWithAlias { expr, alias } => {
                let bound = self.expr(expr)?;
                out.push((bound, alias.value.clone(), Some(expr.clone())));
            }
            ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                let qualifier = match item {
                    ast::SelectItem::QualifiedWildcard(
                        ast::SelectItemQualifiedWildcardKind::ObjectName(n),
                        _,
                    ) => Some(object_name(n)?),
                    ast::SelectItem::QualifiedWildcard(..) => {
                        return Err(invalid!("unsupported {item}"))
                    }
                    _ => None,
                };
                let scope = self.scopes.last().expect("open");
                let mut found = false;
                for src in &scope.sources {
                    if qualifier
                        .as_ref()
                        .is_some_and(|q| !src.name.eq_ignore_ascii_case(q))
                    {
                        continue;
                    }
                    found = true;
                    for (i, c) in src.cols.iter().enumerate() {
                        if c.hidden || (c.merged && qualifier.is_none()) {
                            continue;
                        }
                        let e = Expr::Col {
                            idx: src.offset + i,
                            aff: c.aff,
                            coll: c.coll,
                        };
                        out.push((e, c.name.clone(), None));
                    }
                }
                if !found {
                    return Err(match qualifier {
                        Some(q) => Error::NotFound(format!("no such table: {q}")),
                        None => invalid!("no tables specified"),
                    });
                }
            }
            other => return Err(invalid!("unsupported result column {other}")),
        }
        Ok(())
    }

    fn select(&mut self, s: &ast::Select, order: &[ast::OrderByExpr]) -> Result<QueryPlan> {
        self.push_scope(Vec::new());
        let result = self.select_in_scope(s, order);
        self.pop_scope();
        result
    }

    fn select_in_scope(
        &mut self,
        s: &ast::Select,
        order: &[ast::OrderByExpr],
    ) -> Result<QueryPlan> {
        if s.top.is_some() || s.into.is_some() || !s.lateral_views.is_empty() || s.qualify.is_some()
        {
            return Err(invalid!("unsupported SELECT clause"));
        }
        let distinct = match &s.distinct {
            None | Some(ast::Distinct::All) => false,
            Some(ast::Distinct::Distinct) => true,
            Some(ast::Distinct::On(_)) => return Err(invalid!("DISTINCT ON is not supported")),
        };
        let mut drafts = Vec::new();
        let mut conds = Vec::new();
        for item in &s.from {
            self.join_item(item, &mut drafts, &mut conds)?;
        }
        if let Some(w) = &s.selection {
            conjuncts(self.expr(w)?, &mut conds);
        }
        let width = self.scopes.last().expect("open").width;
        // Result columns, HAVING and ORDER BY may hold aggregates; result
        // columns and ORDER BY window calls.
        self.collect_aggs();
        if let Err(e) = self.start_windows(&s.named_window) {
            self.take_aggs();
            return Err(e);
        }
        let mut items = Vec::new();
        for item in &s.projection {
            if let Err(e) = self.projection_item(item, &mut items) {
                self.take_aggs();
                return Err(e);
            }
        }
        self.set_aliases(
            items
                .iter()
                .map(|(e, n, _)| (n.clone(), e.clone()))
                .collect(),
        );
        self.windows_allowed(false);
        let having = s.having.as_ref().map(|h| self.expr(h)).transpose();
        self.windows_allowed(true);
        let keys = having.and_then(|h| Ok((h, self.order_terms(order, &items)?)));
        self.windows_allowed(false);
        let aggs = self.take_aggs();
        let (having, mut order_keys) = keys?;
        let group_terms = match &s.group_by {
            ast::GroupByExpr::Expressions(list, mods) if mods.is_empty() => list.as_slice(),
            _ => return Err(invalid!("unsupported GROUP BY")),
        };
        let mut group_by = Vec::with_capacity(group_terms.len());
        for g in group_terms {
            let bound = self
                .result_ref(g, &items, false)?
                .map_or_else(|| self.expr(g), Ok)?;
            if bound.has_subquery() || contains_agg_col(&bound, width) {
                return Err(invalid!(
                    "aggregate functions are not allowed in the GROUP BY clause"
                ));
            }
            let coll = bound.collation().map_or(Collation::Binary, |c| c.0);
            group_by.push((bound, coll));
        }
        let aggregate = if !aggs.is_empty() || !group_by.is_empty() || having.is_some() {
            if having.is_some() && group_by.is_empty() && aggs.is_empty() {
                return Err(invalid!("a GROUP BY clause is required before HAVING"));
            }
            Some(Aggregation {
                group_by,
                aggs,
                having,
            })
        } else {
            None
        };
        let mut projection: Vec<Expr> = items.iter().map(|(e, _, _)| e.clone()).collect();
        let windows = {
            let exprs = projection
                .iter_mut()
                .chain(order_keys.iter_mut().map(|k| &mut k.expr))
                .collect();
            let forbidden = aggregate
                .iter()
                .flat_map(|a| a.having.iter().chain(a.group_by.iter().map(|(g, _)| g)))
                .collect();
            self.finish_windows(width + aggs_len(&aggregate), exprs, forbidden)?
        };
        let levels = self.place(drafts, conds, width)?;
        let (pre, levels) = levels;
        let columns = items.iter().map(|(_, n, _)| n.clone()).collect();
        let out_aff = projection.iter().map(|e| e.affinity()).collect();
        let out_coll = projection
            .iter()
            .map(|e| e.collation().map_or(Collation::Binary, |c| c.0))
            .collect();
        Ok(QueryPlan {
            ctes: Vec::new(),
            body: Body::Select(Box::new(SelectPlan {
                levels,
                pre_filters: pre,
                width,
                aggregate,
                projection,
                distinct,
                order: order_keys,
                windows,
            })),
            order: Vec::new(),
            limit: None,
            offset: None,
            columns,
            out_aff,
            out_coll,
        })
    }

    /// A GROUP BY / ORDER BY term that names a result column by number or
    /// alias: the bound result expression.
    fn result_ref(
        &mut self,
        term: &ast::Expr,
        items: &[(Expr, String, Option<ast::Expr>)],
        prefer_alias: bool,
    ) -> Result<Option<Expr>> {
        match term {
            ast::Expr::Value(v) => {
                if let ast::Value::Number(text, _) = &v.value {
                    if let Ok(k) = text.parse::<usize>() {
                        if k == 0 || k > items.len() {
                            return Err(invalid!(
                                "term out of range - should be between 1 and {}",
                                items.len()
                            ));
                        }
                        return Ok(Some(items[k - 1].0.clone()));
                    }
                }
                Ok(None)
            }
            ast::Expr::Identifier(id) => {
                // ORDER BY prefers a result alias; GROUP BY a column.
                if !prefer_alias && self.find(self.scopes.len() - 1, None, &id.value)?.is_some() {
                    return Ok(None);
                }
                Ok(items
                    .iter()
                    .find(|(_, name, _)| name.eq_ignore_ascii_case(&id.value))
                    .map(|(e, _, _)| e.clone()))
            }
            _ => Ok(None),
        }
    }

    fn order_terms(
        &mut self,
        order: &[ast::OrderByExpr],
        items: &[(Expr, String, Option<ast::Expr>)],
    ) -> Result<Vec<OrderKey>> {
        let mut keys = Vec::with_capacity(order.len());
        for term in order {
            let (inner, explicit) = match &term.expr {
                ast::Expr::Collate { expr, collation } => (
                    expr.as_ref(),
                    Some(crate::sql::schema::collation_of(collation)?),
                ),
                other => (other, None),
            };
            let expr = match self.result_ref(inner, items, true)? {
                Some(e) => e,
                None => self.expr(inner)?,
            };
            let coll = explicit
                .or(expr.collation().map(|c| c.0))
                .unwrap_or(Collation::Binary);
            let desc = is_desc(&term.options);
            keys.push(OrderKey {
                expr,
                desc,
                nulls_first: term.options.nulls_first.unwrap_or(!desc),
                coll,
            });
        }
        Ok(keys)
    }
}

fn aggs_len(a: &Option<Aggregation>) -> usize {
    a.as_ref().map_or(0, |a| a.aggs.len())
}

/// True if `e` reads an aggregate result (a column past the joined row).
fn contains_agg_col(e: &Expr, width: usize) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        if let Expr::Col { idx, .. } = x {
            if *idx >= width {
                found = true;
            }
        }
    });
    found
}

fn is_desc(options: &ast::OrderByOptions) -> bool {
    matches!(options.sort, Some(ast::OrderBySort::Desc))
}

fn ordinal(n: usize) -> String {
    match n {
        1 => "1st".into(),
        2 => "2nd".into(),
        3 => "3rd".into(),
        n => format!("{n}th"),
    }
}

/// True if the query's text names `name` as a table (a conservative test
/// for recursive CTEs).
fn query_mentions(q: &ast::Query, name: &str) -> bool {
    let text = q.to_string().to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|w| w == name)
}
