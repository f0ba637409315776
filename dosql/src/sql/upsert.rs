//! Upsert: `INSERT ... ON CONFLICT [(columns)] DO NOTHING | DO UPDATE SET
//! ... [WHERE ...]`.
//!
//! ```text
//!   row to insert (prepared: affinity, NOT NULL, CHECK)
//!     -> conflict on the target constraint (any uniqueness constraint
//!        without a target; the table key first, then UNIQUE indexes)?
//!          no : ordinary insert (other conflicts resolve as usual)
//!          yes: DO NOTHING -> skip the row
//!               DO UPDATE  -> WHERE over [existing row ++ excluded row];
//!                             true: update the existing row (ABORT on
//!                             any conflict the update itself causes)
//! ```
//!
//! `excluded.col` names the row that was to be inserted; other names are
//! the existing row's columns. As in SQLite, a row inserted earlier by
//! the same statement can be the one a later row updates.

use sqlparser::ast;

use crate::error::{Error, Result};
use crate::invalid;
use crate::sql::bind::Binder;
use crate::sql::dml::assignment_column;
use crate::sql::exec::Exec;
use crate::sql::expr::{Env, Expr};
use crate::sql::rows::{self, Row};
use crate::sql::schema::Table;
use crate::sql::trigger;
use crate::sql::write::Target;

/// The constraint an upsert handles.
enum Constraint {
    /// The table key (rowid, INTEGER PRIMARY KEY, WITHOUT ROWID key).
    Key,
    /// A unique index, by position in the table's indexes.
    Index(usize),
    /// No target: any uniqueness constraint.
    Any,
}

enum Action {
    Nothing,
    Update {
        sets: Vec<(usize, Expr)>,
        filter: Option<Expr>,
    },
}

/// A bound ON CONFLICT clause.
pub struct Upsert {
    constraint: Constraint,
    action: Action,
}

/// What became of one row.
pub enum Outcome {
    /// No conflict on the upsert's constraint: insert as usual.
    Insert,
    Skip,
    /// The existing row was updated to this.
    Updated(Row),
}

fn target(table: &Table, columns: &[ast::Ident]) -> Result<Constraint> {
    let mut cols = Vec::new();
    for c in columns {
        let pos = match table.column(&c.value) {
            Some(p) => p,
            None if !table.without_rowid
                && ["rowid", "oid", "_rowid_"]
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(&c.value)) =>
            {
                table.columns.len()
            }
            None => return Err(Error::NotFound(format!("no such column: {}", c.value))),
        };
        cols.push(pos);
    }
    cols.sort_unstable();
    cols.dedup();
    let key_cols: Vec<usize> = match table.rowid_alias {
        Some(a) => vec![a],
        None if table.without_rowid => table.primary_key.clone(),
        None => Vec::new(),
    };
    let same = |index_cols: &[usize]| {
        let mut sorted = index_cols.to_vec();
        sorted.sort_unstable();
        sorted.len() == columns.len() && sorted == cols
    };
    if cols == [table.columns.len()] || (!key_cols.is_empty() && same(&key_cols)) {
        return Ok(Constraint::Key);
    }
    table
        .indexes
        .iter()
        .position(|i| i.unique && same(&i.columns))
        .map(Constraint::Index)
        .ok_or_else(|| {
            invalid!("ON CONFLICT clause does not match any PRIMARY KEY or UNIQUE constraint")
        })
}

impl Upsert {
    /// Binds the ON CONFLICT clause of an INSERT into `table`.
    pub fn bind(
        b: &mut Binder,
        table: &Table,
        on: Option<&ast::OnInsert>,
    ) -> Result<Option<Upsert>> {
        let conflict = match on {
            None => return Ok(None),
            Some(ast::OnInsert::OnConflict(c)) => c,
            Some(_) => return Err(invalid!("ON DUPLICATE KEY UPDATE is not SQLite syntax")),
        };
        let constraint = match &conflict.conflict_target {
            None => Constraint::Any,
            Some(ast::ConflictTarget::Columns(cols)) => target(table, cols)?,
            Some(ast::ConflictTarget::OnConstraint(_)) => {
                return Err(invalid!("ON CONFLICT ON CONSTRAINT is not SQLite syntax"))
            }
        };
        let action = match &conflict.action {
            ast::OnConflictAction::DoNothing => Action::Nothing,
            ast::OnConflictAction::DoUpdate(u) => {
                b.named_tables_scope(&[(&table.name, table, false), ("excluded", table, true)]);
                let bound = (|| {
                    let mut sets = Vec::new();
                    for a in &u.assignments {
                        sets.push((assignment_column(table, &a.target)?, b.expr(&a.value)?));
                    }
                    let filter = u.selection.as_ref().map(|w| b.expr(w)).transpose()?;
                    Ok::<_, Error>(Action::Update { sets, filter })
                })();
                b.pop_scope();
                bound?
            }
        };
        Ok(Some(Upsert { constraint, action }))
    }

    /// The key of an existing row that `row` conflicts with on the
    /// upsert's constraint.
    fn conflict(&self, ex: &mut Exec, table: &Table, row: &Row) -> Result<Option<Vec<u8>>> {
        let key = rows::table_key(table, row);
        let key_taken = |ex: &mut Exec| -> Result<Option<Vec<u8>>> {
            Ok(rows::get(ex.engine, ex.txn, table, &key)?.map(|_| key.clone()))
        };
        let index_conflict = |ex: &mut Exec, i: usize| -> Result<Option<Vec<u8>>> {
            let found = rows::unique_conflicts(ex.engine, ex.txn, &table.indexes[i], row, None)?;
            Ok(found.into_iter().next())
        };
        match self.constraint {
            Constraint::Key => key_taken(ex),
            Constraint::Index(i) => index_conflict(ex, i),
            Constraint::Any => {
                if let Some(k) = key_taken(ex)? {
                    return Ok(Some(k));
                }
                for i in (0..table.indexes.len()).filter(|i| table.indexes[*i].unique) {
                    if let Some(k) = index_conflict(ex, i)? {
                        return Ok(Some(k));
                    }
                }
                Ok(None)
            }
        }
    }

    /// Handles the prepared row `row` of an insert into `t`; `abort` is
    /// the same target with ABORT as its resolution, for DO UPDATE.
    pub fn apply(&self, ex: &mut Exec, t: &Target, abort: &Target, row: &Row) -> Result<Outcome> {
        let Some(key) = self.conflict(ex, &t.table, row)? else {
            return Ok(Outcome::Insert);
        };
        let Action::Update { sets, filter } = &self.action else {
            return Ok(Outcome::Skip);
        };
        let existing = rows::get(ex.engine, ex.txn, &t.table, &key)?
            .ok_or_else(|| crate::corruption!("index entry without its row"))?;
        let mut both = existing.clone();
        both.extend_from_slice(row);
        let env = Env::new(&both, None);
        if let Some(f) = filter {
            if !f.test(&env, ex)? {
                return Ok(Outcome::Skip);
            }
        }
        let mut new = existing.clone();
        for (c, e) in sets {
            new[*c] = e.eval(&env, ex)?;
        }
        let changed: Vec<usize> = sets.iter().map(|(c, _)| *c).collect();
        Ok(
            match trigger::update_row(ex, abort, &key, &existing, new, &changed)? {
                Some(r) => Outcome::Updated(r),
                None => Outcome::Skip,
            },
        )
    }
}
