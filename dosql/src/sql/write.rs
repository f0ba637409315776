//! Row-level writes shared by INSERT, UPDATE, DELETE, upsert, foreign key
//! actions and trigger programs.
//!
//! ```text
//!   insert_row / update_row:
//!     prepare    affinity, rowid alias, NOT NULL, CHECK
//!     conflicts  table key, UNIQUE indexes (REPLACE constraints last)
//!     write      row + index entries
//!   delete_row:  index entries + row
//! ```
//!
//! A constraint failure is resolved by the statement's `OR` clause when it
//! has one, else by the constraint's own `ON CONFLICT` clause, else ABORT.
//! ABORT undoes the statement (the caller runs it in a savepoint), FAIL
//! keeps what the statement already changed, ROLLBACK ends the whole
//! transaction; the executor records which in [`DmlState::on_error`] for
//! the caller to act on.

use sqlparser::ast;

use crate::error::{Error, Result};
use crate::sql::exec::Exec;
use crate::sql::expr::{Env, Expr};
use crate::sql::fk;
use crate::sql::rows::{self, Row};
use crate::sql::schema::Table;
use crate::sql::value::{apply_affinity, Affinity, Value};

/// How a constraint failure is resolved (SQLite's conflict algorithms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Resolution {
    Rollback,
    #[default]
    Abort,
    Fail,
    Ignore,
    Replace,
}

impl Resolution {
    /// The resolution of a statement's `OR` clause.
    pub fn of_statement(or: &Option<ast::SqliteOnConflict>) -> Option<Resolution> {
        or.as_ref().map(|o| match o {
            ast::SqliteOnConflict::Rollback => Resolution::Rollback,
            ast::SqliteOnConflict::Abort => Resolution::Abort,
            ast::SqliteOnConflict::Fail => Resolution::Fail,
            ast::SqliteOnConflict::Ignore => Resolution::Ignore,
            ast::SqliteOnConflict::Replace => Resolution::Replace,
        })
    }

    /// The resolution named by a constraint's `ON CONFLICT` keyword.
    pub fn of_keyword(word: &str) -> Option<Resolution> {
        Some(match word.to_ascii_uppercase().as_str() {
            "ROLLBACK" => Resolution::Rollback,
            "ABORT" => Resolution::Abort,
            "FAIL" => Resolution::Fail,
            "IGNORE" => Resolution::Ignore,
            "REPLACE" => Resolution::Replace,
            _ => return None,
        })
    }
}

/// Per-statement state of data-changing statements, carried by [`Exec`].
#[derive(Clone, Debug, Default)]
pub struct DmlState {
    /// How the statement's error must be undone (ABORT unless a FAIL or
    /// ROLLBACK constraint failed).
    pub on_error: Resolution,
    /// PRAGMA foreign_keys of the session.
    pub foreign_keys: bool,
    /// Foreign key checks to verify when the statement ends (fk.rs).
    pub fk_pending: Vec<fk::Pending>,
    /// OLD and NEW of the running trigger program (trigger/fire.rs).
    pub trigger_rows: Option<std::rc::Rc<crate::sql::trigger::fire::TriggerRows>>,
    /// Names of the trigger programs running, outermost first.
    pub trigger_stack: Vec<String>,
    /// Set while a `RAISE(IGNORE)` unwinds to its trigger's caller.
    pub raise_ignore: bool,
    /// Rows written by trigger programs, which count in total_changes()
    /// but not in changes().
    pub trigger_changes: u64,
}

/// A table prepared for writing: its constraints bound once per statement.
pub struct Target {
    pub table: Table,
    /// CHECK constraints bound over the table's row, with error labels.
    pub checks: Vec<(String, Expr)>,
    /// Column defaults (constant expressions).
    pub defaults: Vec<Option<Expr>>,
    /// The statement's OR clause.
    pub or: Option<Resolution>,
}

impl Target {
    fn resolution(&self, own: Option<Resolution>) -> Resolution {
        self.or.or(own).unwrap_or_default()
    }
}

/// Fails with a constraint error resolved by `how`.
pub fn constraint_error(ex: &mut Exec, how: Resolution, msg: String) -> Error {
    if matches!(how, Resolution::Fail | Resolution::Rollback) {
        ex.dml.on_error = how;
    }
    Error::Constraint(msg)
}

/// Evaluates column `c`'s default.
pub fn default_value(ex: &mut Exec, t: &Target, c: usize) -> Result<Value> {
    match &t.defaults[c] {
        Some(d) => d.eval(&Env::new(&[], None), ex),
        None => Ok(Value::Null),
    }
}

/// Applies affinities, sets the rowid alias, and checks NOT NULL and
/// CHECK. Returns false if the row must be skipped (IGNORE).
pub fn prepare(ex: &mut Exec, t: &Target, row: &mut Row) -> Result<bool> {
    let table = &t.table;
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
        if !col.not_null || !row[c].is_null() {
            continue;
        }
        let how = t.resolution(table.conflicts.not_null(c));
        match how {
            Resolution::Ignore => return Ok(false),
            Resolution::Replace => {
                let v = default_value(ex, t, c)?;
                row[c] = apply_affinity(v, col.affinity);
            }
            _ => {}
        }
        if row[c].is_null() {
            let how = if how == Resolution::Replace {
                Resolution::Abort
            } else {
                how
            };
            let msg = format!("NOT NULL constraint failed: {}.{}", table.name, col.name);
            return Err(constraint_error(ex, how, msg));
        }
    }
    for (label, check) in &t.checks {
        if check.eval(&Env::new(row, None), ex)?.truthy() == Some(false) {
            let how = match t.or.unwrap_or_default() {
                Resolution::Ignore => return Ok(false),
                Resolution::Replace => Resolution::Abort,
                other => other,
            };
            let msg = format!("CHECK constraint failed: {label}");
            return Err(constraint_error(ex, how, msg));
        }
    }
    Ok(true)
}

fn columns_label(table: &Table, cols: &[usize]) -> String {
    cols.iter()
        .map(|c| format!("{}.{}", table.name, table.columns[*c].name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns and error label of the table key's uniqueness.
fn key_label(table: &Table) -> String {
    let cols: Vec<usize> = match table.rowid_alias {
        Some(a) => vec![a],
        None if table.without_rowid => table.primary_key.clone(),
        None => Vec::new(),
    };
    if cols.is_empty() {
        format!("{}.rowid", table.name)
    } else {
        columns_label(table, &cols)
    }
}

/// One uniqueness conflict: the other row's key, what the error names,
/// and how it resolves.
struct Conflict {
    key: Vec<u8>,
    label: String,
    how: Resolution,
}

/// Resolves conflicts of `row` (about to be stored under `key`, replacing
/// `old_key` if it is an update). Returns false if the row must be skipped.
pub fn resolve_conflicts(
    ex: &mut Exec,
    t: &Target,
    row: &Row,
    key: &[u8],
    old_key: Option<&[u8]>,
) -> Result<bool> {
    let table = &t.table;
    let mut conflicts: Vec<Conflict> = Vec::new();
    if old_key != Some(key) && rows::get(ex.engine, ex.txn, table, key)?.is_some() {
        conflicts.push(Conflict {
            key: key.to_vec(),
            label: key_label(table),
            how: t.resolution(table.conflicts.primary_key),
        });
    }
    for index in table.indexes.iter().filter(|i| i.unique) {
        for other in rows::unique_conflicts(ex.engine, ex.txn, index, row, old_key)? {
            if other.as_slice() != key || old_key.is_some() {
                conflicts.push(Conflict {
                    key: other,
                    label: columns_label(table, &index.columns),
                    how: t.resolution(table.conflicts.index(&index.name)),
                });
            }
        }
    }
    // REPLACE constraints are resolved last: an ABORT or IGNORE elsewhere
    // wins without anything having been deleted.
    if let Some(c) = conflicts.iter().find(|c| c.how != Resolution::Replace) {
        if c.how == Resolution::Ignore {
            return Ok(false);
        }
        let msg = format!("UNIQUE constraint failed: {}", c.label);
        return Err(constraint_error(ex, c.how, msg));
    }
    for c in conflicts {
        if Some(c.key.as_slice()) != old_key {
            if let Some(old) = rows::get(ex.engine, ex.txn, table, &c.key)? {
                delete_with_actions(ex, table, &c.key, &old)?;
            }
        }
    }
    Ok(true)
}

/// Writes a row and its index entries under `key`.
pub fn store(ex: &mut Exec, table: &Table, row: &Row, key: &[u8]) -> Result<()> {
    let mut value = Vec::with_capacity(64);
    rows::encode(table, row, &mut value);
    let id = rows::tree(ex.engine, ex.txn, &table.tree)?;
    ex.engine.put(ex.txn, id, key, &value)?;
    rows::write_index_entries(ex.engine, ex.txn, table, row, key, true)
}

/// Deletes the row `row` stored under `key`, with its index entries.
pub fn delete_row(ex: &mut Exec, table: &Table, key: &[u8], row: &Row) -> Result<()> {
    rows::write_index_entries(ex.engine, ex.txn, table, row, key, false)?;
    let id = rows::tree(ex.engine, ex.txn, &table.tree)?;
    ex.engine.delete(ex.txn, id, key)?;
    Ok(())
}

/// Deletes a row and applies the foreign key actions of its removal.
pub fn delete_with_actions(ex: &mut Exec, table: &Table, key: &[u8], row: &Row) -> Result<()> {
    delete_row(ex, table, key, row)?;
    fk::parent_changed(ex, table, row, None)
}

/// Inserts a prepared row (see [`prepare`]). Returns false if a conflict
/// resolved to IGNORE.
pub fn insert_row(ex: &mut Exec, t: &Target, row: &Row) -> Result<bool> {
    let key = rows::table_key(&t.table, row);
    if !resolve_conflicts(ex, t, row, &key, None)? {
        return Ok(false);
    }
    fk::child_written(ex, &t.table, None, row)?;
    store(ex, &t.table, row, &key)?;
    Ok(true)
}

/// Replaces row `old` (under `old_key`) by `row`, whose changed values
/// are set but not yet prepared. Returns the stored row, or None if the
/// update was skipped (IGNORE, or the row is gone).
pub fn update_row(
    ex: &mut Exec,
    t: &Target,
    old_key: &[u8],
    old: &Row,
    mut row: Row,
) -> Result<Option<Row>> {
    let table = &t.table;
    let n = table.columns.len();
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
    if !prepare(ex, t, &mut row)? {
        return Ok(None);
    }
    let key = rows::table_key(table, &row);
    // The row may have been deleted by an earlier REPLACE of this
    // statement.
    if rows::get(ex.engine, ex.txn, table, old_key)?.is_none() {
        return Ok(None);
    }
    if !resolve_conflicts(ex, t, &row, &key, Some(old_key))? {
        return Ok(None);
    }
    rows::write_index_entries(ex.engine, ex.txn, table, old, old_key, false)?;
    if key != old_key {
        let id = rows::tree(ex.engine, ex.txn, &table.tree)?;
        ex.engine.delete(ex.txn, id, old_key)?;
    }
    store(ex, table, &row, &key)?;
    fk::child_written(ex, table, Some(old), &row)?;
    fk::parent_changed(ex, table, old, Some(&row))?;
    Ok(Some(row))
}

/// A table's constraint-level `ON CONFLICT` clauses.
#[derive(Clone, Debug, Default)]
pub struct ConflictClauses {
    pub primary_key: Option<Resolution>,
    /// By column position.
    pub not_null: Vec<(usize, Resolution)>,
    /// By index name (the automatic indexes of UNIQUE and PRIMARY KEY).
    pub indexes: Vec<(String, Resolution)>,
}

impl ConflictClauses {
    pub fn not_null(&self, column: usize) -> Option<Resolution> {
        self.not_null
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, r)| *r)
    }

    pub fn index(&self, name: &str) -> Option<Resolution> {
        self.indexes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| *r)
    }
}
