//! Running triggers around row writes.
//!
//! ```text
//!   INSERT row:  BEFORE INSERT (NEW, rowid -1 if not given yet)
//!                -> constraints, write -> AFTER INSERT (NEW as stored)
//!   UPDATE row:  BEFORE UPDATE (OLD, NEW) -> re-read the row: gone? skip;
//!                columns the statement does not set come from the
//!                re-read row -> write -> AFTER UPDATE (OLD, NEW as stored)
//!   DELETE row:  BEFORE DELETE (OLD) -> re-read: gone? skip
//!                -> delete + FK actions -> AFTER DELETE (OLD)
//! ```
//!
//! Triggers of one table and event fire newest first. As with SQLite's
//! default `recursive_triggers = OFF`, a trigger never fires while it is
//! already running (but writes in its body fire other triggers), and the
//! rows REPLACE deletes fire no DELETE triggers. FK actions (fk.rs) write
//! through [`delete_row`] and [`update_row`], so they fire triggers.
//!
//! A body is bound when it fires, with `OLD` / `NEW` bound to
//! [`Expr::TriggerCol`] (values in [`DmlState::trigger_rows`], saved and
//! restored around nested firings). `RAISE(IGNORE)` unwinds as an error
//! flagged in [`DmlState::raise_ignore`]; the innermost firing catches it
//! and the write that fired the trigger skips its row. Writes in trigger
//! bodies are not counted in the statement's changes.

use std::rc::Rc;

use sqlparser::ast;

use crate::error::{Error, Result};
use crate::invalid;
use crate::sql::bind::{table_cols, Binder, ColInfo, SessionInfo};
use crate::sql::dml;
use crate::sql::exec::{run_query, Exec};
use crate::sql::expr::{Env, Expr};
use crate::sql::rows::{self, Row};
use crate::sql::schema::{Schema, Table};
use crate::sql::trigger::{Event, Timing, Trigger};
use crate::sql::value::{apply_affinity, Value};
use crate::sql::write::{self, Resolution, Target};

/// Nested trigger programs allowed at once (each holds stack frames of
/// the binder and executor; wasm32 stacks are small).
pub const MAX_DEPTH: usize = 64;

/// The OLD and NEW rows of the trigger program running now.
#[derive(Clone, Debug, Default)]
pub struct TriggerRows {
    pub old: Row,
    pub new: Row,
}

/// What a trigger program's `OLD` and `NEW` name: the columns of its
/// table or view, and which of the two rows exist for the event.
#[derive(Clone, Debug)]
pub struct TriggerScope {
    pub cols: Vec<ColInfo>,
    pub old: bool,
    pub new: bool,
}

fn is_rowid_name(name: &str) -> bool {
    ["rowid", "oid", "_rowid_"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
}

impl TriggerScope {
    /// `qualifier.name` as an OLD / NEW column, if it is one.
    pub fn column(&self, qualifier: &str, name: &str) -> Option<Expr> {
        let new = if qualifier.eq_ignore_ascii_case("new") && self.new {
            true
        } else if qualifier.eq_ignore_ascii_case("old") && self.old {
            false
        } else {
            return None;
        };
        let idx = self
            .cols
            .iter()
            .position(|c| !c.hidden && c.name.eq_ignore_ascii_case(name))
            .or_else(|| {
                if is_rowid_name(name) {
                    self.cols.iter().position(|c| c.hidden)
                } else {
                    None
                }
            })?;
        let c = &self.cols[idx];
        Some(Expr::TriggerCol {
            new,
            idx,
            aff: c.aff,
            coll: c.coll,
        })
    }
}

/// The value of an OLD / NEW column in the running trigger program.
pub fn column(ex: &Exec, new: bool, idx: usize) -> Value {
    ex.dml
        .trigger_rows
        .as_ref()
        .and_then(|r| if new { &r.new } else { &r.old }.get(idx).cloned())
        .unwrap_or(Value::Null)
}

/// The error `RAISE(how, msg)` unwinds with.
pub fn raise(ex: &mut Exec, how: Resolution, msg: &str) -> Error {
    match how {
        Resolution::Ignore => ex.dml.raise_ignore = true,
        Resolution::Fail | Resolution::Rollback => ex.dml.on_error = how,
        _ => {}
    }
    Error::Constraint(msg.to_string())
}

/// Binds `RAISE(IGNORE)` / `RAISE(ABORT | FAIL | ROLLBACK, 'message')`.
pub fn bind_raise(in_trigger: bool, f: &ast::Function) -> Result<Expr> {
    if !in_trigger {
        return Err(invalid!(
            "RAISE() may only be used within a trigger-program"
        ));
    }
    let bad = || Error::Syntax(format!("near \"{f}\": syntax error"));
    let ast::FunctionArguments::List(list) = &f.args else {
        return Err(bad());
    };
    let args: Vec<&ast::Expr> = list
        .args
        .iter()
        .map(|a| match a {
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Ok(e),
            _ => Err(bad()),
        })
        .collect::<Result<_>>()?;
    let (word, msg) = match args.as_slice() {
        [ast::Expr::Identifier(w)] => (w, None),
        [ast::Expr::Identifier(w), ast::Expr::Value(v)] => match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => {
                (w, Some(s.clone()))
            }
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    let how = match (word.value.to_ascii_uppercase().as_str(), &msg) {
        ("IGNORE", None) => Resolution::Ignore,
        ("ABORT", Some(_)) => Resolution::Abort,
        ("FAIL", Some(_)) => Resolution::Fail,
        ("ROLLBACK", Some(_)) => Resolution::Rollback,
        _ => return Err(bad()),
    };
    Ok(Expr::Raise {
        how,
        msg: msg.unwrap_or_default(),
    })
}

/// True if any trigger is on table or view `name`.
pub fn has_triggers(ex: &Exec, name: &str) -> bool {
    ex.schema.is_some_and(|s| {
        !s.triggers.is_empty()
            && s.triggers
                .values()
                .any(|t| t.table.eq_ignore_ascii_case(name))
    })
}

/// The table or view triggers fire on: its name and the columns OLD and
/// NEW hold (a table's rowid last, hidden).
pub struct On {
    pub name: String,
    pub cols: Vec<ColInfo>,
}

impl On {
    pub fn table(table: &Table) -> On {
        On {
            name: table.name.clone(),
            cols: table_cols(table),
        }
    }

    /// True if `t` is an `UPDATE OF` trigger none of whose columns is in
    /// `changed` (column positions).
    pub fn not_of(&self, t: &Trigger, changed: &[usize]) -> bool {
        !t.columns.is_empty()
            && !t.columns.iter().any(|name| {
                self.cols
                    .iter()
                    .position(|c| !c.hidden && c.name.eq_ignore_ascii_case(name))
                    .is_some_and(|p| changed.contains(&p))
            })
    }
}

/// Fires the `timing` `event` triggers of `on` for one row. Returns false
/// if one of them ran `RAISE(IGNORE)`.
pub fn fire(
    ex: &mut Exec,
    on: &On,
    timing: Timing,
    event: Event,
    old: Option<&Row>,
    new: Option<&Row>,
    changed: &[usize],
) -> Result<bool> {
    let Some(schema) = ex.schema else {
        return Ok(true);
    };
    let mut due: Vec<&Trigger> = schema
        .triggers
        .values()
        .filter(|t| {
            t.timing == timing
                && t.event == event
                && t.table.eq_ignore_ascii_case(&on.name)
                && !ex
                    .dml
                    .trigger_stack
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(&t.name))
                && !(event == Event::Update && on.not_of(t, changed))
        })
        .collect();
    if due.is_empty() {
        return Ok(true);
    }
    due.sort_by_key(|t| std::cmp::Reverse(t.seq));
    let scope = Rc::new(TriggerScope {
        cols: on.cols.clone(),
        old: old.is_some(),
        new: new.is_some(),
    });
    let rows = Rc::new(TriggerRows {
        old: old.cloned().unwrap_or_default(),
        new: new.cloned().unwrap_or_default(),
    });
    for t in due {
        if ex.dml.trigger_stack.len() >= MAX_DEPTH {
            return Err(Error::LimitExceeded(
                "too many levels of trigger recursion".into(),
            ));
        }
        let saved = ex.dml.trigger_rows.replace(rows.clone());
        ex.dml.trigger_stack.push(t.name.clone());
        let outcome = run(ex, schema, t, &scope);
        ex.dml.trigger_stack.pop();
        ex.dml.trigger_rows = saved;
        match outcome {
            Ok(()) => {}
            Err(_) if ex.dml.raise_ignore => {
                ex.dml.raise_ignore = false;
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Runs one trigger program: its WHEN clause, then its statements.
fn run(ex: &mut Exec, schema: &Schema, t: &Trigger, scope: &Rc<TriggerScope>) -> Result<()> {
    let binder = || {
        let mut b = Binder::new(schema, SessionInfo::default());
        b.trigger = Some(scope.clone());
        b
    };
    if let Some(w) = &t.when {
        let mut b = binder();
        b.push_scope(Vec::new());
        let cond = b.expr(w);
        b.pop_scope();
        if !cond?.test(&Env::new(&[], None), ex)? {
            return Ok(());
        }
    }
    for stmt in &t.body {
        let mut b = binder();
        let changes = match stmt {
            ast::Statement::Insert(ins) => dml::insert(&mut b, ex, ins),
            ast::Statement::Update(upd) => dml::update(&mut b, ex, upd),
            ast::Statement::Delete(del) => dml::delete(&mut b, ex, del),
            ast::Statement::Query(q) => b
                .query(q)
                .and_then(|plan| run_query(&plan, ex, None))
                .map(|_| dml::Changes::default()),
            _ => return Err(invalid!("unsupported statement in trigger {}", t.name)),
        };
        ex.dml.trigger_changes += changes.map_err(qualify)?.rows;
    }
    Ok(())
}

/// SQLite names the tables of trigger programs with their schema.
fn qualify(e: Error) -> Error {
    match e {
        Error::NotFound(msg) => match msg.strip_prefix("no such table: ") {
            Some(name) if !name.contains('.') => {
                Error::NotFound(format!("no such table: main.{name}"))
            }
            _ => Error::NotFound(msg),
        },
        other => other,
    }
}

/// `row` with the table's column affinities applied, as BEFORE triggers
/// see NEW.
fn with_affinity(table: &Table, row: &Row) -> Row {
    let mut out = row.clone();
    for (v, col) in out.iter_mut().zip(&table.columns) {
        *v = apply_affinity(std::mem::replace(v, Value::Null), col.affinity);
    }
    out
}

/// Fires the BEFORE INSERT triggers of `table` for `row`, whose rowid is
/// not assigned yet if `auto`. Returns false if the row must be skipped.
pub fn before_insert(ex: &mut Exec, table: &Table, row: &Row, auto: bool) -> Result<bool> {
    let mut new = with_affinity(table, row);
    let n = table.columns.len();
    if auto && !table.without_rowid {
        new[n] = Value::Integer(-1);
        if let Some(a) = table.rowid_alias {
            new[a] = Value::Integer(-1);
        }
    } else if let Some(a) = table.rowid_alias {
        new[n] = new[a].clone();
    }
    fire(
        ex,
        &On::table(table),
        Timing::Before,
        Event::Insert,
        None,
        Some(&new),
        &[],
    )
}

/// Fires the AFTER INSERT triggers of `table` for the stored `row`.
pub fn after_insert(ex: &mut Exec, table: &Table, row: &Row) -> Result<()> {
    let on = On::table(table);
    fire(ex, &on, Timing::After, Event::Insert, None, Some(row), &[]).map(|_| ())
}

/// Deletes `row` (stored under `key`) as a DELETE statement does, with
/// its triggers and FK actions. Returns false if it was not deleted
/// (RAISE(IGNORE), or a BEFORE trigger deleted it).
pub fn delete_row(ex: &mut Exec, table: &Table, key: &[u8], row: &Row) -> Result<bool> {
    if !has_triggers(ex, &table.name) {
        write::delete_with_actions(ex, table, key, row)?;
        return Ok(true);
    }
    let on = On::table(table);
    if !fire(ex, &on, Timing::Before, Event::Delete, Some(row), None, &[])? {
        return Ok(false);
    }
    // A BEFORE trigger may have changed or deleted the row.
    let Some(current) = rows::get(ex.engine, ex.txn, table, key)? else {
        return Ok(false);
    };
    write::delete_with_actions(ex, table, key, &current)?;
    fire(ex, &on, Timing::After, Event::Delete, Some(row), None, &[])?;
    Ok(true)
}

/// Updates `old` (under `key`) to `new`, whose columns `changed` the
/// statement set, with the table's triggers. Returns the stored row, or
/// None if nothing was written.
pub fn update_row(
    ex: &mut Exec,
    t: &Target,
    key: &[u8],
    old: &Row,
    new: Row,
    changed: &[usize],
) -> Result<Option<Row>> {
    let table = &t.table;
    if !has_triggers(ex, &table.name) {
        return write::update_row(ex, t, key, old, new);
    }
    let on = On::table(table);
    let before = with_affinity(table, &new);
    if !fire(
        ex,
        &on,
        Timing::Before,
        Event::Update,
        Some(old),
        Some(&before),
        changed,
    )? {
        return Ok(None);
    }
    let Some(current) = rows::get(ex.engine, ex.txn, table, key)? else {
        return Ok(None);
    };
    let mut merged = current.clone();
    for c in changed {
        merged[*c] = new[*c].clone();
    }
    let Some(stored) = write::update_row(ex, t, key, &current, merged)? else {
        return Ok(None);
    };
    fire(
        ex,
        &on,
        Timing::After,
        Event::Update,
        Some(old),
        Some(&stored),
        changed,
    )?;
    Ok(Some(stored))
}
