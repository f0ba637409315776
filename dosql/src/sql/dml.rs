//! INSERT, UPDATE and DELETE: rows in, constraints enforced, indexes kept
//! in step with the table.
//!
//! Every row written goes through the same steps:
//!
//! ```text
//!   column affinity -> NOT NULL -> CHECK -> table key (rowid / PRIMARY KEY)
//!   -> conflicts: same table key, same values in a UNIQUE index
//!      ABORT (default): error      IGNORE: skip the row
//!      REPLACE: delete the conflicting rows first
//!   -> put row, put index entries
//! ```
//!
//! Row-level writing (constraints, conflict resolution, index upkeep) is
//! in write.rs, RETURNING in returning.rs and ON CONFLICT in upsert.rs.
//!
//! UPDATE and DELETE first collect every matching row and then change
//! them, so a statement never sees its own changes. A failing statement
//! leaves no partial effect because the caller runs it inside an engine
//! savepoint.

use sqlparser::ast;

use crate::error::{Error, Result};
use crate::invalid;
use crate::sql::access::fetch_table;
use crate::sql::bind::Binder;
use crate::sql::exec::{run_query, Exec};
use crate::sql::expr::{Env, Expr};
use crate::sql::plan::{Level, QueryPlan};
use crate::sql::returning::{self, Returning};
use crate::sql::rows::{self, Row};
use crate::sql::schema::{object_name, Table};
use crate::sql::trigger;
use crate::sql::upsert::{Outcome, Upsert};
use crate::sql::value::{apply_affinity, Affinity, Value};
use crate::sql::write::{self, Resolution, Target};

/// What a data-changing statement reports.
#[derive(Default)]
pub struct Changes {
    pub rows: u64,
    pub last_rowid: Option<i64>,
    /// RETURNING's result columns and rows.
    pub returning: Option<(Vec<String>, Vec<Row>)>,
}

impl Changes {
    fn finish(mut self, returning: Option<Returning>) -> Changes {
        self.returning = returning.map(|r| (r.columns, r.rows));
        self
    }
}

fn writable_table(b: &Binder, name: &ast::ObjectName) -> Result<Table> {
    let name = object_name(name)?;
    b.schema
        .table(&name)
        .cloned()
        .ok_or_else(|| Error::NotFound(format!("no such table: {name}")))
}

/// Binds the constraints of `table` for a statement with OR clause `or`.
pub fn target(b: &mut Binder, table: Table, or: Option<Resolution>) -> Result<Target> {
    // Defaults are constant expressions, bound once.
    b.push_scope(Vec::new());
    let defaults: Result<Vec<Option<Expr>>> = table
        .columns
        .iter()
        .map(|c| c.default.as_ref().map(|d| b.expr(d)).transpose())
        .collect();
    b.pop_scope();
    let defaults = defaults?;
    b.table_scope(&table);
    let checks = table
        .checks
        .iter()
        .map(|(name, e)| Ok((name.clone().unwrap_or_else(|| e.to_string()), b.expr(e)?)))
        .collect::<Result<Vec<_>>>();
    b.pop_scope();
    Ok(Target {
        checks: checks?,
        defaults,
        table,
        or,
    })
}

/// The column an UPDATE (or DO UPDATE) assignment sets; the rowid is the
/// position after the columns.
pub fn assignment_column(table: &Table, target: &ast::AssignmentTarget) -> Result<usize> {
    let ast::AssignmentTarget::ColumnName(col) = target else {
        return Err(invalid!("unsupported assignment target"));
    };
    let cname = object_name(col)?;
    let n = table.columns.len();
    table
        .column(&cname)
        .or_else(|| {
            let rowid = ["rowid", "oid", "_rowid_"]
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&cname));
            (rowid && !table.without_rowid).then_some(table.rowid_alias.unwrap_or(n))
        })
        .ok_or_else(|| Error::NotFound(format!("no such column: {cname}")))
}

/// An INSERT into a table, bound: what [`run_insert`] executes, once, or
/// for every execution of the same text when cached (prepared.rs).
pub struct InsertPlan {
    /// Row position of each value the source supplies.
    targets: Vec<usize>,
    /// The rows to insert; None for a single row of defaults.
    source: Option<QueryPlan>,
    upsert: Option<Upsert>,
    /// The bound clause, without rows (each run starts from a copy).
    returning: Option<Returning>,
    t: Target,
    /// The target with ABORT, for an upsert's own conflicts.
    abort: Option<Target>,
}

fn insert_table(ins: &ast::Insert) -> Result<&ast::ObjectName> {
    let ast::TableObject::TableName(name) = &ins.table else {
        return Err(invalid!("unsupported INSERT target"));
    };
    if !ins.assignments.is_empty() {
        return Err(invalid!("unsupported INSERT clause"));
    }
    Ok(name)
}

/// Runs an INSERT.
pub fn insert(b: &mut Binder, ex: &mut Exec, ins: &ast::Insert) -> Result<Changes> {
    let name = insert_table(ins)?;
    if let Some(view) = trigger::view::target(b, name)? {
        return trigger::view::insert(b, ex, ins, view);
    }
    let plan = bind_insert(b, ins)?.expect("the target is not a view");
    run_insert(ex, &plan)
}

/// Binds an INSERT into a table; None if its target is a view (whose
/// INSTEAD OF triggers [`insert`] runs).
pub fn bind_insert(b: &mut Binder, ins: &ast::Insert) -> Result<Option<InsertPlan>> {
    let name = insert_table(ins)?;
    if trigger::view::target(b, name)?.is_some() {
        return Ok(None);
    }
    let table = writable_table(b, name)?;
    let n = table.columns.len();
    let mut targets = Vec::new();
    for c in &ins.columns {
        let cname = c.to_string();
        let cname = cname.trim_matches('"');
        let pos = table
            .column(cname)
            .or_else(|| {
                let rowid = ["rowid", "oid", "_rowid_"]
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(cname));
                (rowid && !table.without_rowid).then_some(table.rowid_alias.unwrap_or(n))
            })
            .ok_or_else(|| {
                Error::NotFound(format!("table {} has no column named {cname}", table.name))
            })?;
        targets.push(pos);
    }
    if ins.columns.is_empty() {
        targets = (0..n).collect();
    }
    let source = match &ins.source {
        None => None,
        Some(q) => {
            let plan = b.query(q)?;
            if plan.columns.len() != targets.len() {
                return Err(invalid!(
                    "table {} has {} columns but {} values were supplied",
                    table.name,
                    targets.len(),
                    plan.columns.len()
                ));
            }
            Some(plan)
        }
    };
    let upsert = Upsert::bind(b, &table, ins.on.as_ref())?;
    let returning = Returning::bind(b, &table, ins.returning.as_ref())?;
    let t = target(b, table, Resolution::of_statement(&ins.or))?;
    let abort = match &upsert {
        Some(_) => Some(Target {
            table: t.table.clone(),
            checks: t.checks.clone(),
            defaults: t.defaults.clone(),
            or: Some(Resolution::Abort),
        }),
        None => None,
    };
    Ok(Some(InsertPlan {
        targets,
        source,
        upsert,
        returning,
        t,
        abort,
    }))
}

/// Runs a bound INSERT.
pub fn run_insert(ex: &mut Exec, plan: &InsertPlan) -> Result<Changes> {
    let InsertPlan {
        targets,
        source,
        upsert,
        returning,
        t,
        abort,
    } = plan;
    let source: Vec<Row> = match source {
        None => vec![Vec::new()],
        Some(q) => run_query(q, ex, None)?,
    };
    let mut returning = returning.clone();
    let n = t.table.columns.len();
    let table = &t.table;
    let mut changes = Changes::default();
    let mut next_rowid: Option<i64> = None;
    let fires = trigger::has_triggers(ex, &table.name);
    // A trigger program may write to this table between two rows.
    let cache_rowid = ex.schema.is_none_or(|s| s.triggers.is_empty());
    for values in source {
        let mut row = vec![Value::Null; table.width()];
        let mut auto = false;
        for (c, slot) in row.iter_mut().enumerate().take(n) {
            *slot = write::default_value(ex, t, c)?;
        }
        for (t, v) in targets.iter().zip(values) {
            row[*t] = v;
        }
        if fires {
            let given = match table.rowid_alias {
                Some(a) => &row[a],
                None if table.without_rowid => &Value::Null,
                None => &row[n],
            };
            let auto = !table.without_rowid && given.is_null();
            if !trigger::fire::before_insert(ex, table, &row, auto)? {
                continue;
            }
        }
        if !table.without_rowid {
            let given = match table.rowid_alias {
                Some(a) => apply_affinity(row[a].clone(), Affinity::Integer),
                None => std::mem::replace(&mut row[n], Value::Null),
            };
            auto = given.is_null();
            let rowid = match given {
                Value::Integer(i) => i,
                Value::Null => {
                    let next = match next_rowid {
                        Some(r) => r,
                        None => rows::max_rowid(ex.engine, ex.txn, table)?
                            .map_or(1, |m| m.saturating_add(1)),
                    };
                    if next == i64::MAX
                        && rows::get(ex.engine, ex.txn, table, &rowid_key(next))?.is_some()
                    {
                        return Err(Error::LimitExceeded("database or disk is full".into()));
                    }
                    next
                }
                _ => return Err(Error::TypeMismatch("datatype mismatch".into())),
            };
            row[n] = Value::Integer(rowid);
            if let Some(a) = table.rowid_alias {
                row[a] = Value::Integer(rowid);
            }
        }
        if !write::prepare(ex, t, &mut row)? {
            continue;
        }
        if let (Some(u), Some(abort)) = (upsert, abort) {
            match u.apply(ex, t, abort, &row)? {
                Outcome::Insert => {}
                Outcome::Skip => continue,
                Outcome::Updated(new) => {
                    returning::push(&mut returning, &new, ex)?;
                    changes.rows += 1;
                    continue;
                }
            }
        }
        if !write::insert_row(ex, t, &row)? {
            continue;
        }
        returning::push(&mut returning, &row, ex)?;
        if !table.without_rowid {
            if let Value::Integer(rowid) = row[n] {
                changes.last_rowid = Some(rowid);
                // Once the maximum is known, it only grows.
                if cache_rowid && (auto || next_rowid.is_some()) {
                    next_rowid = Some(next_rowid.unwrap_or(i64::MIN).max(rowid.saturating_add(1)));
                }
            }
        }
        changes.rows += 1;
        if fires {
            trigger::fire::after_insert(ex, table, &row)?;
        }
    }
    Ok(changes.finish(returning))
}

fn rowid_key(rowid: i64) -> Vec<u8> {
    let mut key = Vec::with_capacity(10);
    crate::keycode::encode_i64(rowid, &mut key);
    key
}

/// Rows of `level` (a single-table level) that pass its filters.
fn matching(level: &Level, table: &Table, ex: &mut Exec) -> Result<Vec<(Vec<u8>, Row)>> {
    let candidates = fetch_table(table, &level.access, &Env::new(&[], None), ex)?;
    let mut out = Vec::new();
    'rows: for (key, row) in candidates {
        let env = Env::new(&row, None);
        for f in &level.filters {
            if !f.test(&env, ex)? {
                continue 'rows;
            }
        }
        out.push((key, row));
    }
    Ok(out)
}

fn single_table(twj: &ast::TableWithJoins) -> Result<&ast::ObjectName> {
    match (&twj.relation, twj.joins.is_empty()) {
        (
            ast::TableFactor::Table {
                name, alias: None, ..
            },
            true,
        ) => Ok(name),
        _ => Err(invalid!(
            "only single-table UPDATE and DELETE are supported"
        )),
    }
}

/// Runs an UPDATE.
pub fn update(b: &mut Binder, ex: &mut Exec, upd: &ast::Update) -> Result<Changes> {
    if upd.from.is_some() || upd.limit.is_some() || !upd.order_by.is_empty() {
        return Err(invalid!("unsupported UPDATE clause"));
    }
    let name = single_table(&upd.table)?;
    if let Some(view) = trigger::view::target(b, name)? {
        return trigger::view::update(b, ex, upd, view);
    }
    let table = writable_table(b, name)?;
    let level = b.table_level(&table, upd.selection.as_ref());
    let assignments = level.and_then(|level| {
        let mut sets = Vec::new();
        for a in &upd.assignments {
            sets.push((assignment_column(&table, &a.target)?, b.expr(&a.value)?));
        }
        Ok((level, sets))
    });
    b.pop_scope();
    let (level, sets) = assignments?;
    let mut returning = Returning::bind(b, &table, upd.returning.as_ref())?;
    let t = target(b, table, Resolution::of_statement(&upd.or))?;
    let mut changes = Changes::default();
    let fires = trigger::has_triggers(ex, &t.table.name);
    let changed: Vec<usize> = sets.iter().map(|(c, _)| *c).collect();
    for (old_key, mut old) in matching(&level, &t.table, ex)? {
        if fires {
            // Triggers fired by earlier rows may have changed this one.
            match rows::get(ex.engine, ex.txn, &t.table, &old_key)? {
                Some(current) => old = current,
                None => continue,
            }
        }
        let mut row = old.clone();
        {
            let env = Env::new(&old, None);
            for (c, e) in &sets {
                row[*c] = e.eval(&env, ex)?;
            }
        }
        if let Some(new) = trigger::update_row(ex, &t, &old_key, &old, row, &changed)? {
            returning::push(&mut returning, &new, ex)?;
            changes.rows += 1;
        }
    }
    Ok(changes.finish(returning))
}

/// Runs a DELETE.
pub fn delete(b: &mut Binder, ex: &mut Exec, del: &ast::Delete) -> Result<Changes> {
    if del.using.is_some() || del.limit.is_some() || !del.tables.is_empty() {
        return Err(invalid!("unsupported DELETE clause"));
    }
    let from = match &del.from {
        ast::FromTable::WithFromKeyword(v) | ast::FromTable::WithoutKeyword(v) => v,
    };
    let [twj] = from.as_slice() else {
        return Err(invalid!("only single-table DELETE is supported"));
    };
    let name = single_table(twj)?;
    if let Some(view) = trigger::view::target(b, name)? {
        return trigger::view::delete(b, ex, del, view);
    }
    let table = writable_table(b, name)?;
    let level = b.table_level(&table, del.selection.as_ref());
    b.pop_scope();
    let level = level?;
    let mut returning = Returning::bind(b, &table, del.returning.as_ref())?;
    let mut changes = Changes::default();
    for (key, _) in matching(&level, &table, ex)? {
        // An earlier row's cascade or trigger may have deleted or changed
        // this one already.
        let Some(row) = rows::get(ex.engine, ex.txn, &table, &key)? else {
            continue;
        };
        if !trigger::delete_row(ex, &table, &key, &row)? {
            continue;
        }
        returning::push(&mut returning, &row, ex)?;
        changes.rows += 1;
    }
    Ok(changes.finish(returning))
}
