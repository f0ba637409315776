//! INSERT, UPDATE and DELETE on a view: each row the statement would
//! write fires the view's INSTEAD OF triggers, and nothing else is
//! written.
//!
//! ```text
//!   INSERT INTO v ...          NEW = the row (columns not named: NULL)
//!   UPDATE v SET c = e WHERE w rows of SELECT *, e FROM v WHERE w:
//!                              OLD = the view row, NEW = OLD with c = e
//!   DELETE FROM v WHERE w      rows of SELECT * FROM v WHERE w: OLD
//! ```
//!
//! Without an INSTEAD OF trigger for the statement's event the view
//! cannot be modified, as in SQLite. As in SQLite, these rows are not
//! counted as changes.

use sqlparser::ast;

use crate::error::{Error, Result};
use crate::invalid;
use crate::sql::bind::{Binder, ColInfo};
use crate::sql::dml::Changes;
use crate::sql::exec::{run_query, Exec};
use crate::sql::parse::parse_one;
use crate::sql::schema::{fold, object_name, View};
use crate::sql::trigger::fire::{fire, On};
use crate::sql::trigger::{Event, Timing};
use crate::sql::value::{Collation, Value};

/// The view `name` names, if it is one.
pub fn target(b: &Binder, name: &ast::ObjectName) -> Result<Option<View>> {
    let name = object_name(name)?;
    Ok(b.schema.views.get(&fold(&name)).cloned())
}

/// Fails unless an INSTEAD OF trigger on `view` handles `event` (for
/// UPDATE, of one of the columns `changed`, given the view's shape).
fn require(b: &Binder, view: &View, event: Event, of: Option<(&On, &[usize])>) -> Result<()> {
    let found = b.schema.triggers.values().any(|t| {
        t.timing == Timing::InsteadOf
            && t.event == event
            && t.table.eq_ignore_ascii_case(&view.name)
            && of.is_none_or(|(on, changed)| !on.not_of(t, changed))
    });
    if !found {
        return Err(invalid!("cannot modify {} because it is a view", view.name));
    }
    Ok(())
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Runs `SELECT *[, extra] FROM view [WHERE w]`; returns the view's
/// shape and the rows.
fn rows(
    b: &mut Binder,
    ex: &mut Exec,
    view: &View,
    extra: &[&ast::Expr],
    selection: Option<&ast::Expr>,
) -> Result<(On, Vec<Vec<Value>>)> {
    let mut sql = String::from("SELECT *");
    for e in extra {
        sql.push_str(&format!(", {e}"));
    }
    sql.push_str(&format!(" FROM {}", quoted(&view.name)));
    if let Some(w) = selection {
        sql.push_str(&format!(" WHERE {w}"));
    }
    let ast::Statement::Query(q) = parse_one(&sql)? else {
        return Err(invalid!("view query did not parse as a query"));
    };
    let plan = b.query(&q)?;
    let width = plan.columns.len() - extra.len();
    let cols = (0..width)
        .map(|i| ColInfo {
            name: plan.columns[i].clone(),
            aff: plan.out_aff.get(i).copied().flatten(),
            coll: Collation::Binary,
            hidden: false,
            merged: false,
        })
        .collect();
    let found = run_query(&plan, ex, None)?;
    Ok((
        On {
            name: view.name.clone(),
            cols,
        },
        found,
    ))
}

fn column_of(on: &On, name: &str) -> Option<usize> {
    on.cols
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case(name))
}

/// INSERT into a view.
pub fn insert(b: &mut Binder, ex: &mut Exec, ins: &ast::Insert, view: View) -> Result<Changes> {
    require(b, &view, Event::Insert, None)?;
    if ins.on.is_some() {
        return Err(invalid!("cannot UPSERT a view"));
    }
    if ins.returning.is_some() {
        return Err(invalid!("RETURNING on a view is not supported"));
    }
    let (on, _) = rows(
        b,
        ex,
        &view,
        &[],
        Some(&ast::Expr::Value(
            ast::Value::Boolean(false).with_empty_span(),
        )),
    )?;
    let n = on.cols.len();
    let targets: Vec<usize> = if ins.columns.is_empty() {
        (0..n).collect()
    } else {
        ins.columns
            .iter()
            .map(|c| {
                let c = object_name(c)?;
                column_of(&on, &c).ok_or_else(|| {
                    Error::NotFound(format!("table {} has no column named {c}", view.name))
                })
            })
            .collect::<Result<_>>()?
    };
    let source = match &ins.source {
        None => vec![Vec::new()],
        Some(q) => {
            let plan = b.query(q)?;
            if plan.columns.len() != targets.len() {
                return Err(invalid!(
                    "table {} has {} columns but {} values were supplied",
                    view.name,
                    targets.len(),
                    plan.columns.len()
                ));
            }
            run_query(&plan, ex, None)?
        }
    };
    for values in source {
        let mut new = vec![Value::Null; n];
        for (t, v) in targets.iter().zip(values) {
            new[*t] = v;
        }
        fire(
            ex,
            &on,
            Timing::InsteadOf,
            Event::Insert,
            None,
            Some(&new),
            &[],
        )?;
    }
    Ok(Changes::default())
}

/// UPDATE of a view.
pub fn update(b: &mut Binder, ex: &mut Exec, upd: &ast::Update, view: View) -> Result<Changes> {
    require(b, &view, Event::Update, None)?;
    if upd.returning.is_some() {
        return Err(invalid!("RETURNING on a view is not supported"));
    }
    let mut names = Vec::new();
    let mut values = Vec::new();
    for a in &upd.assignments {
        let ast::AssignmentTarget::ColumnName(col) = &a.target else {
            return Err(invalid!("unsupported assignment target"));
        };
        names.push(object_name(col)?);
        values.push(&a.value);
    }
    let (on, found) = rows(b, ex, &view, &values, upd.selection.as_ref())?;
    let n = on.cols.len();
    let known: Vec<usize> = names.iter().filter_map(|c| column_of(&on, c)).collect();
    require(b, &view, Event::Update, Some((&on, &known)))?;
    let changed: Vec<usize> = names
        .iter()
        .map(|c| column_of(&on, c).ok_or_else(|| Error::NotFound(format!("no such column: {c}"))))
        .collect::<Result<_>>()?;
    for row in found {
        let old = row[..n].to_vec();
        let mut new = old.clone();
        for (k, c) in changed.iter().enumerate() {
            new[*c] = row[n + k].clone();
        }
        fire(
            ex,
            &on,
            Timing::InsteadOf,
            Event::Update,
            Some(&old),
            Some(&new),
            &changed,
        )?;
    }
    Ok(Changes::default())
}

/// DELETE from a view.
pub fn delete(b: &mut Binder, ex: &mut Exec, del: &ast::Delete, view: View) -> Result<Changes> {
    require(b, &view, Event::Delete, None)?;
    if del.returning.is_some() {
        return Err(invalid!("RETURNING on a view is not supported"));
    }
    let (on, found) = rows(b, ex, &view, &[], del.selection.as_ref())?;
    for old in found {
        fire(
            ex,
            &on,
            Timing::InsteadOf,
            Event::Delete,
            Some(&old),
            None,
            &[],
        )?;
    }
    Ok(Changes::default())
}
