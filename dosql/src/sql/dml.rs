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
//! UPDATE and DELETE first collect every matching row and then change
//! them, so a statement never sees its own changes. A failing statement
//! leaves no partial effect because the caller runs it inside an engine
//! savepoint.

use sqlparser::ast;

use crate::error::{Error, Result};
use crate::invalid;
use crate::sql::bind::Binder;
use crate::sql::exec::{fetch_table, run_query, Exec};
use crate::sql::expr::{Env, Expr};
use crate::sql::plan::Level;
use crate::sql::rows::{self, Row};
use crate::sql::schema::{object_name, Table};
use crate::sql::value::{apply_affinity, Affinity, Value};

/// How a statement resolves a uniqueness conflict.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnConflict {
    Abort,
    Ignore,
    Replace,
}

fn on_conflict(or: &Option<ast::SqliteOnConflict>) -> OnConflict {
    match or {
        Some(ast::SqliteOnConflict::Ignore) => OnConflict::Ignore,
        Some(ast::SqliteOnConflict::Replace) => OnConflict::Replace,
        _ => OnConflict::Abort,
    }
}

/// What a data-changing statement reports.
#[derive(Default)]
pub struct Changes {
    pub rows: u64,
    pub last_rowid: Option<i64>,
}

/// CHECK constraints bound over the table's row, with their error labels.
fn bind_checks(b: &mut Binder, table: &Table) -> Result<Vec<(String, Expr)>> {
    b.table_scope(table);
    let result = table
        .checks
        .iter()
        .map(|(name, e)| Ok((name.clone().unwrap_or_else(|| e.to_string()), b.expr(e)?)))
        .collect();
    b.pop_scope();
    result
}

fn writable_table(b: &Binder, name: &ast::ObjectName) -> Result<Table> {
    let name = object_name(name)?;
    if b.schema
        .views
        .contains_key(&crate::sql::schema::fold(&name))
    {
        return Err(invalid!("cannot modify {name} because it is a view"));
    }
    b.schema
        .table(&name)
        .cloned()
        .ok_or_else(|| Error::NotFound(format!("no such table: {name}")))
}

/// Applies affinities, sets the rowid, and checks NOT NULL and CHECK.
fn prepare(table: &Table, row: &mut Row, checks: &[(String, Expr)], ex: &mut Exec) -> Result<()> {
    for (c, col) in table.columns.iter().enumerate() {
        let v = std::mem::replace(&mut row[c], Value::Null);
        row[c] = apply_affinity(v, col.affinity);
    }
    if let Some(alias) = table.rowid_alias {
        match &row[alias] {
            Value::Integer(i) => row[table.columns.len()] = Value::Integer(*i),
            Value::Null => row[alias] = row[table.columns.len()].clone(),
            _ => return Err(Error::TypeMismatch("datatype mismatch".into())),
        }
    }
    for (c, col) in table.columns.iter().enumerate() {
        if col.not_null && row[c].is_null() {
            return Err(Error::Constraint(format!(
                "NOT NULL constraint failed: {}.{}",
                table.name, col.name
            )));
        }
    }
    for (label, check) in checks {
        if check.eval(&Env::new(row, None), ex)?.truthy() == Some(false) {
            return Err(Error::Constraint(format!(
                "CHECK constraint failed: {label}"
            )));
        }
    }
    Ok(())
}

fn columns_label(table: &Table, cols: &[usize]) -> String {
    cols.iter()
        .map(|c| format!("{}.{}", table.name, table.columns[*c].name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deletes the row with table key `key`, with its index entries.
fn delete_key(ex: &mut Exec, table: &Table, key: &[u8]) -> Result<bool> {
    let Some(row) = rows::get(ex.engine, ex.txn, table, key)? else {
        return Ok(false);
    };
    rows::write_index_entries(ex.engine, ex.txn, table, &row, key, false)?;
    let id = rows::tree(ex.engine, ex.txn, &table.tree)?;
    ex.engine.delete(ex.txn, id, key)?;
    Ok(true)
}

/// Resolves conflicts of `row` (about to be stored under `key`, replacing
/// `old_key` if it is an update). Returns false if the row must be skipped.
fn resolve_conflicts(
    ex: &mut Exec,
    table: &Table,
    row: &Row,
    key: &[u8],
    old_key: Option<&[u8]>,
    mode: OnConflict,
) -> Result<bool> {
    let mut conflicts: Vec<(Vec<u8>, String)> = Vec::new();
    if old_key != Some(key) && rows::get(ex.engine, ex.txn, table, key)?.is_some() {
        let cols: Vec<usize> = match table.rowid_alias {
            Some(a) => vec![a],
            None if table.without_rowid => table.primary_key.clone(),
            None => Vec::new(),
        };
        let label = if cols.is_empty() {
            format!("{}.rowid", table.name)
        } else {
            columns_label(table, &cols)
        };
        conflicts.push((key.to_vec(), label));
    }
    for index in table.indexes.iter().filter(|i| i.unique) {
        for other in rows::unique_conflicts(ex.engine, ex.txn, index, row, old_key)? {
            if other.as_slice() != key || old_key.is_some() {
                conflicts.push((other, columns_label(table, &index.columns)));
            }
        }
    }
    if conflicts.is_empty() {
        return Ok(true);
    }
    match mode {
        OnConflict::Abort => Err(Error::Constraint(format!(
            "UNIQUE constraint failed: {}",
            conflicts[0].1
        ))),
        OnConflict::Ignore => Ok(false),
        OnConflict::Replace => {
            for (k, _) in conflicts {
                if Some(k.as_slice()) != old_key {
                    delete_key(ex, table, &k)?;
                }
            }
            Ok(true)
        }
    }
}

fn store(ex: &mut Exec, table: &Table, row: &Row, key: &[u8]) -> Result<()> {
    let mut value = Vec::with_capacity(64);
    rows::encode(table, row, &mut value);
    let id = rows::tree(ex.engine, ex.txn, &table.tree)?;
    ex.engine.put(ex.txn, id, key, &value)?;
    rows::write_index_entries(ex.engine, ex.txn, table, row, key, true)
}

/// Runs an INSERT.
pub fn insert(b: &mut Binder, ex: &mut Exec, ins: &ast::Insert) -> Result<Changes> {
    let ast::TableObject::TableName(name) = &ins.table else {
        return Err(invalid!("unsupported INSERT target"));
    };
    if ins.returning.is_some() || ins.on.is_some() || !ins.assignments.is_empty() {
        return Err(invalid!("unsupported INSERT clause"));
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
    // Defaults are constant expressions, bound once.
    b.push_scope(Vec::new());
    let defaults: Result<Vec<Option<Expr>>> = table
        .columns
        .iter()
        .map(|c| c.default.as_ref().map(|d| b.expr(d)).transpose())
        .collect();
    b.pop_scope();
    let defaults = defaults?;
    let checks = bind_checks(b, &table)?;
    let source: Vec<Row> = match &ins.source {
        None => vec![Vec::new()],
        Some(q) => {
            let plan = b.query(q)?;
            let rows = run_query(&plan, ex, None)?;
            if plan.columns.len() != targets.len() {
                return Err(invalid!(
                    "table {} has {} columns but {} values were supplied",
                    table.name,
                    targets.len(),
                    plan.columns.len()
                ));
            }
            rows
        }
    };
    let mode = on_conflict(&ins.or);
    let mut changes = Changes::default();
    let mut next_rowid: Option<i64> = None;
    let empty = Env::new(&[], None);
    for values in source {
        let mut row = vec![Value::Null; table.width()];
        let mut auto = false;
        for (c, d) in defaults.iter().enumerate() {
            if let Some(d) = d {
                row[c] = d.eval(&empty, ex)?;
            }
        }
        for (t, v) in targets.iter().zip(values) {
            row[*t] = v;
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
                        None => rows::max_rowid(ex.engine, ex.txn, &table)?
                            .map_or(1, |m| m.saturating_add(1)),
                    };
                    if next == i64::MAX
                        && rows::get(ex.engine, ex.txn, &table, &rowid_key(next))?.is_some()
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
        prepare(&table, &mut row, &checks, ex)?;
        let key = rows::table_key(&table, &row);
        if !resolve_conflicts(ex, &table, &row, &key, None, mode)? {
            continue;
        }
        store(ex, &table, &row, &key)?;
        if !table.without_rowid {
            if let Value::Integer(rowid) = row[n] {
                changes.last_rowid = Some(rowid);
                // Once the maximum is known, it only grows.
                if auto || next_rowid.is_some() {
                    next_rowid = Some(next_rowid.unwrap_or(i64::MIN).max(rowid.saturating_add(1)));
                }
            }
        }
        changes.rows += 1;
    }
    Ok(changes)
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
    if upd.from.is_some()
        || upd.returning.is_some()
        || upd.limit.is_some()
        || !upd.order_by.is_empty()
    {
        return Err(invalid!("unsupported UPDATE clause"));
    }
    let table = writable_table(b, single_table(&upd.table)?)?;
    let n = table.columns.len();
    let level = b.table_level(&table, upd.selection.as_ref());
    let assignments = level.and_then(|level| {
        let mut sets = Vec::new();
        for a in &upd.assignments {
            let ast::AssignmentTarget::ColumnName(col) = &a.target else {
                return Err(invalid!("unsupported assignment target"));
            };
            let cname = object_name(col)?;
            let pos = table
                .column(&cname)
                .or_else(|| {
                    let rowid = ["rowid", "oid", "_rowid_"]
                        .iter()
                        .any(|r| r.eq_ignore_ascii_case(&cname));
                    (rowid && !table.without_rowid).then_some(table.rowid_alias.unwrap_or(n))
                })
                .ok_or_else(|| Error::NotFound(format!("no such column: {cname}")))?;
            sets.push((pos, b.expr(&a.value)?));
        }
        Ok((level, sets))
    });
    b.pop_scope();
    let (level, sets) = assignments?;
    let checks = bind_checks(b, &table)?;
    let mode = on_conflict(&upd.or);
    let mut changes = Changes::default();
    for (old_key, old) in matching(&level, &table, ex)? {
        let mut row = old.clone();
        {
            let env = Env::new(&old, None);
            for (c, e) in &sets {
                row[*c] = e.eval(&env, ex)?;
            }
        }
        if !table.without_rowid {
            if let Some(a) = table.rowid_alias {
                row[a] = apply_affinity(row[a].clone(), Affinity::Integer);
                if row[a].is_null() {
                    return Err(Error::TypeMismatch("datatype mismatch".into()));
                }
            } else {
                match apply_affinity(row[n].clone(), Affinity::Integer) {
                    Value::Integer(i) => row[n] = Value::Integer(i),
                    _ => return Err(Error::TypeMismatch("datatype mismatch".into())),
                }
            }
        }
        prepare(&table, &mut row, &checks, ex)?;
        let key = rows::table_key(&table, &row);
        // The row being updated may have been deleted by an earlier
        // REPLACE of this statement.
        if rows::get(ex.engine, ex.txn, &table, &old_key)?.is_none() {
            continue;
        }
        if !resolve_conflicts(ex, &table, &row, &key, Some(&old_key), mode)? {
            continue;
        }
        rows::write_index_entries(ex.engine, ex.txn, &table, &old, &old_key, false)?;
        if key != old_key {
            let id = rows::tree(ex.engine, ex.txn, &table.tree)?;
            ex.engine.delete(ex.txn, id, &old_key)?;
        }
        store(ex, &table, &row, &key)?;
        changes.rows += 1;
    }
    Ok(changes)
}

/// Runs a DELETE.
pub fn delete(b: &mut Binder, ex: &mut Exec, del: &ast::Delete) -> Result<Changes> {
    if del.using.is_some()
        || del.returning.is_some()
        || del.limit.is_some()
        || !del.tables.is_empty()
    {
        return Err(invalid!("unsupported DELETE clause"));
    }
    let from = match &del.from {
        ast::FromTable::WithFromKeyword(v) | ast::FromTable::WithoutKeyword(v) => v,
    };
    let [twj] = from.as_slice() else {
        return Err(invalid!("only single-table DELETE is supported"));
    };
    let table = writable_table(b, single_table(twj)?)?;
    let level = b.table_level(&table, del.selection.as_ref());
    b.pop_scope();
    let level = level?;
    let mut changes = Changes::default();
    for (key, row) in matching(&level, &table, ex)? {
        rows::write_index_entries(ex.engine, ex.txn, &table, &row, &key, false)?;
        let id = rows::tree(ex.engine, ex.txn, &table.tree)?;
        ex.engine.delete(ex.txn, id, &key)?;
        changes.rows += 1;
    }
    Ok(changes)
}
