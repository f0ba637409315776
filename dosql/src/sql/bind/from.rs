//! Binding FROM clauses: tables, views, CTEs and subqueries as join
//! levels, USING / NATURAL joins, the join order, and the placement of WHERE
//! conjuncts on levels with their access paths (see `plan.rs`).

use sqlparser::ast;

use super::query::conjuncts;
use super::{Binder, ColInfo, SourceInfo};
use crate::error::{Error, Result};
use crate::invalid;
use crate::sql::expr::{CmpOp, Expr};
use crate::sql::plan::{choose_access, max_level, probe_score, Access, Level, QueryPlan, Source};
use crate::sql::schema::{fold, object_name, Table};
use crate::sql::value::Collation;

/// A FROM item being bound, before access paths are chosen.
pub(super) struct Draft {
    source: Source,
    name: String,
    offset: usize,
    width: usize,
    left: bool,
    on: Vec<Expr>,
}

pub fn table_cols(table: &Table) -> Vec<ColInfo> {
    let mut cols: Vec<ColInfo> = table
        .columns
        .iter()
        .map(|c| ColInfo {
            name: c.name.clone(),
            aff: Some(c.affinity),
            coll: c.collation,
            hidden: false,
            merged: false,
        })
        .collect();
    if !table.without_rowid {
        cols.push(ColInfo {
            name: "rowid".into(),
            aff: Some(crate::sql::value::Affinity::Integer),
            coll: Collation::Binary,
            hidden: true,
            merged: false,
        });
    }
    cols
}

fn plan_cols(plan: &QueryPlan, names: &[String]) -> Vec<ColInfo> {
    (0..plan.columns.len())
        .map(|i| ColInfo {
            name: names.get(i).unwrap_or(&plan.columns[i]).clone(),
            aff: plan.out_aff[i],
            coll: plan.out_coll[i],
            hidden: false,
            merged: false,
        })
        .collect()
}

impl Binder<'_> {
    /// Binds one FROM item and returns its source, name and columns.
    fn factor(&mut self, f: &ast::TableFactor, n: usize) -> Result<(Source, String, Vec<ColInfo>)> {
        match f {
            ast::TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } => {
                let tname = object_name(name)?;
                let shown = alias
                    .as_ref()
                    .map_or(tname.clone(), |a| a.name.value.clone());
                if let Some(cte) = self
                    .ctes
                    .iter()
                    .rev()
                    .find(|c| c.name.eq_ignore_ascii_case(&tname))
                    .cloned()
                {
                    let cols = (0..cte.columns.len())
                        .map(|i| ColInfo {
                            name: cte.columns[i].clone(),
                            aff: cte.aff[i],
                            coll: cte.coll[i],
                            hidden: false,
                            merged: false,
                        })
                        .collect();
                    return Ok((Source::Cte(cte.id), shown, cols));
                }
                if let Some(view) = self.schema.views.get(&fold(&tname)) {
                    if self.views.iter().any(|v| v.eq_ignore_ascii_case(&tname)) {
                        return Err(invalid!("view {tname} is circularly defined"));
                    }
                    self.views.push(tname.clone());
                    let query = view.query.clone();
                    let names = view.columns.clone();
                    let plan = self.isolated_query(&query, true);
                    self.views.pop();
                    let plan = plan?;
                    let cols = plan_cols(&plan, &names);
                    return Ok((Source::Query(Box::new(plan)), shown, cols));
                }
                let table = self
                    .schema
                    .table(&tname)
                    .ok_or_else(|| Error::NotFound(format!("no such table: {tname}")))?;
                Ok((
                    Source::Table(Box::new(table.clone())),
                    shown,
                    table_cols(table),
                ))
            }
            ast::TableFactor::Derived {
                subquery,
                alias,
                lateral: false,
                ..
            } => {
                let plan = self.isolated_query(subquery, false)?;
                let names: Vec<String> = alias
                    .as_ref()
                    .map(|a| a.columns.iter().map(|c| c.name.value.clone()).collect())
                    .unwrap_or_default();
                let shown = alias
                    .as_ref()
                    .map_or(format!("(subquery-{n})"), |a| a.name.value.clone());
                let cols = plan_cols(&plan, &names);
                Ok((Source::Query(Box::new(plan)), shown, cols))
            }
            other => Err(invalid!("unsupported FROM item: {other}")),
        }
    }

    /// Adds one FROM item to the scope and the drafts.
    fn add_factor(
        &mut self,
        f: &ast::TableFactor,
        drafts: &mut Vec<Draft>,
        left: bool,
    ) -> Result<SourceInfo> {
        let offset = self.scopes.last().map_or(0, |s| s.width);
        let (source, name, cols) = self.factor(f, drafts.len())?;
        let info = SourceInfo {
            name: name.clone(),
            cols,
            offset,
        };
        drafts.push(Draft {
            source,
            name,
            offset,
            width: info.cols.len(),
            left,
            on: Vec::new(),
        });
        self.add_source(info.clone());
        Ok(info)
    }

    pub(super) fn join_item(
        &mut self,
        twj: &ast::TableWithJoins,
        drafts: &mut Vec<Draft>,
        conds: &mut Vec<Expr>,
    ) -> Result<()> {
        match &twj.relation {
            ast::TableFactor::NestedJoin {
                table_with_joins,
                alias: None,
            } => self.join_item(table_with_joins, drafts, conds)?,
            relation => {
                self.add_factor(relation, drafts, false)?;
            }
        }
        for join in &twj.joins {
            use ast::JoinOperator as J;
            let (left, constraint) = match &join.join_operator {
                J::Join(c) | J::Inner(c) | J::CrossJoin(c) => (false, c),
                J::Left(c) | J::LeftOuter(c) => (true, c),
                other => return Err(invalid!("unsupported join: {other:?}")),
            };
            let before: Vec<SourceInfo> = self.scopes.last().expect("open").sources.clone();
            let info = self.add_factor(&join.relation, drafts, left)?;
            let mut on = Vec::new();
            let using: Vec<String> = match constraint {
                ast::JoinConstraint::On(e) => {
                    conjuncts(self.expr(e)?, &mut on);
                    Vec::new()
                }
                ast::JoinConstraint::Using(names) => names.iter().map(|n| n.to_string()).collect(),
                ast::JoinConstraint::Natural => info
                    .cols
                    .iter()
                    .filter(|c| !c.hidden)
                    .filter(|c| {
                        before.iter().any(|s| {
                            s.cols.iter().any(|l| {
                                !l.hidden && !l.merged && l.name.eq_ignore_ascii_case(&c.name)
                            })
                        })
                    })
                    .map(|c| c.name.clone())
                    .collect(),
                ast::JoinConstraint::None => Vec::new(),
            };
            for name in using {
                let name = name.trim_matches('"').to_string();
                let lhs = before
                    .iter()
                    .find_map(|s| {
                        s.cols
                            .iter()
                            .position(|c| {
                                !c.hidden && !c.merged && c.name.eq_ignore_ascii_case(&name)
                            })
                            .map(|i| (s.offset + i, &s.cols[i]))
                    })
                    .ok_or_else(|| {
                        invalid!(
                            "cannot join using column {name} - column not present in both tables"
                        )
                    })?;
                let r = info
                    .cols
                    .iter()
                    .position(|c| !c.hidden && c.name.eq_ignore_ascii_case(&name))
                    .ok_or_else(|| {
                        invalid!(
                            "cannot join using column {name} - column not present in both tables"
                        )
                    })?;
                let l = Expr::Col {
                    idx: lhs.0,
                    aff: lhs.1.aff,
                    coll: lhs.1.coll,
                };
                let rc = &info.cols[r];
                let rexpr = Expr::Col {
                    idx: info.offset + r,
                    aff: rc.aff,
                    coll: rc.coll,
                };
                on.push(self.compare(CmpOp::Eq, l, rexpr));
                let scope = self.scopes.last_mut().expect("open");
                let src = scope.sources.last_mut().expect("just added");
                src.cols[r].merged = true;
            }
            if left {
                drafts.last_mut().expect("just added").on = on;
            } else {
                conds.append(&mut on);
            }
        }
        Ok(())
    }

    /// Puts each condition on the first level that can evaluate it and
    /// chooses access paths.
    pub(super) fn place(
        &mut self,
        drafts: Vec<Draft>,
        conds: Vec<Expr>,
        _width: usize,
    ) -> Result<(Vec<Expr>, Vec<Level>)> {
        let drafts = join_order(drafts, &conds);
        let bounds: Vec<(usize, usize)> = drafts.iter().map(|d| (d.offset, d.width)).collect();
        let mut pre = Vec::new();
        let mut filters: Vec<Vec<Expr>> = drafts.iter().map(|_| Vec::new()).collect();
        for c in conds {
            let at = if c.has_subquery() && !drafts.is_empty() {
                Some(drafts.len() - 1)
            } else {
                max_level(&c, &bounds)
            };
            match at {
                None => pre.push(c),
                Some(l) => filters[l].push(c),
            }
        }
        let mut levels = Vec::with_capacity(drafts.len());
        for (i, (d, f)) in drafts.into_iter().zip(filters).enumerate() {
            let mut level = Level {
                source: d.source,
                name: d.name,
                offset: d.offset,
                width: d.width,
                left: d.left,
                on: d.on,
                filters: f,
                access: Access::Scan,
                dependent: false,
            };
            if let Source::Table(table) = &level.source {
                let usable =
                    |e: &Expr| !e.has_subquery() && max_level(e, &bounds).is_none_or(|l| l < i);
                let conds = if level.left {
                    &level.on
                } else {
                    &level.filters
                };
                let mut dependent = false;
                let access = choose_access(table, level.offset, conds, &usable, &mut |e: &Expr| {
                    dependent |= max_level(e, &bounds).is_some();
                    e.clone()
                });
                level.access = access;
                level.dependent = dependent;
            }
            levels.push(level);
        }
        Ok((pre, levels))
    }

    /// A single-table level for UPDATE and DELETE: the table's rows
    /// matching `selection`, with the scope left open for the caller.
    pub fn table_level(&mut self, table: &Table, selection: Option<&ast::Expr>) -> Result<Level> {
        let info = SourceInfo {
            name: table.name.clone(),
            cols: table_cols(table),
            offset: 0,
        };
        self.push_scope(vec![info]);
        let mut conds = Vec::new();
        if let Some(w) = selection {
            conjuncts(self.expr(w)?, &mut conds);
        }
        let draft = Draft {
            source: Source::Table(Box::new(table.clone())),
            name: table.name.clone(),
            offset: 0,
            width: table.width(),
            left: false,
            on: Vec::new(),
        };
        let (pre, mut levels) = self.place(vec![draft], conds, table.width())?;
        let mut level = levels.pop().expect("one level");
        level.filters.extend(pre);
        Ok(level)
    }

    /// Opens a scope over rows of `tables` laid end to end, each under its
    /// given name (upsert's table and `excluded`, a trigger's `old` and
    /// `new`), whose columns are found only when qualified if the flag is
    /// set; the caller pops it with `pop_scope`.
    pub fn named_tables_scope(&mut self, tables: &[(&str, &Table, bool)]) {
        let mut offset = 0;
        let mut sources = Vec::new();
        for (name, table, qualified_only) in tables {
            let mut cols = table_cols(table);
            for c in &mut cols {
                c.merged = *qualified_only;
            }
            sources.push(SourceInfo {
                name: (*name).to_string(),
                cols,
                offset,
            });
            offset += table.width();
        }
        self.push_scope(sources);
    }

    /// Opens a scope over one table's columns (for CHECK, DEFAULT, SET).
    pub fn table_scope(&mut self, table: &Table) {
        self.push_scope(vec![SourceInfo {
            name: table.name.clone(),
            cols: table_cols(table),
            offset: 0,
        }]);
    }
}

/// Orders the levels of an inner join greedily: start with the table a
/// constant condition reads best, then repeatedly add the table that the
/// chosen ones let be read best (rowid lookup, index lookup, equality),
/// so that joins of many tables follow their join conditions instead of
/// forming cross products. FROM order breaks ties, and joins with a LEFT
/// JOIN or fewer than three tables keep the FROM order.
fn join_order(drafts: Vec<Draft>, conds: &[Expr]) -> Vec<Draft> {
    if drafts.len() < 3 || drafts.iter().any(|d| d.left) {
        return drafts;
    }
    let bounds: Vec<(usize, usize)> = drafts.iter().map(|d| (d.offset, d.width)).collect();
    let level_of = |idx: usize| bounds.iter().position(|(o, w)| idx >= *o && idx < o + w);
    let refs: Vec<Vec<usize>> = conds
        .iter()
        .map(|c| {
            let mut levels = Vec::new();
            c.walk(&mut |x| {
                if let Expr::Col { idx, .. } = x {
                    if let Some(l) = level_of(*idx) {
                        if !levels.contains(&l) {
                            levels.push(l);
                        }
                    }
                }
            });
            levels
        })
        .collect();
    let mut chosen: Vec<usize> = Vec::with_capacity(drafts.len());
    let mut done = vec![false; drafts.len()];
    while chosen.len() < drafts.len() {
        let mut best: Option<(u8, usize)> = None;
        for j in (0..drafts.len()).filter(|j| !done[*j]) {
            let known = |e: &Expr| {
                let mut ok = !e.has_subquery();
                e.walk(&mut |x| {
                    if let Expr::Col { idx, .. } = x {
                        ok &= level_of(*idx).is_some_and(|l| done[l]);
                    }
                });
                ok
            };
            let mut score = 0;
            for (c, r) in conds.iter().zip(&refs) {
                if !r.contains(&j) || !r.iter().all(|l| *l == j || done[*l]) || c.has_subquery() {
                    continue;
                }
                let s = match &drafts[j].source {
                    Source::Table(t) => probe_score(t, drafts[j].offset, c, &known),
                    _ => u8::from(r.len() > 1) * 2,
                };
                score = score.max(s);
            }
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, j));
            }
        }
        let (_, j) = best.expect("a level is left");
        done[j] = true;
        chosen.push(j);
    }
    let mut slots: Vec<Option<Draft>> = drafts.into_iter().map(Some).collect();
    chosen
        .into_iter()
        .map(|j| slots[j].take().expect("each once"))
        .collect()
}
