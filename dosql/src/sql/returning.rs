//! `RETURNING`: result rows of INSERT, UPDATE and DELETE.
//!
//! The clause is bound like a SELECT's result columns over the target
//! table's row (`*` is every column). Each written row is evaluated as it
//! is written: the new row for INSERT and UPDATE (after affinities and
//! defaults, as stored), the old row for DELETE. The rows are returned as
//! the statement's result once it has finished, so a failing statement
//! returns none.

use sqlparser::ast;

use crate::error::Result;
use crate::invalid;
use crate::sql::bind::Binder;
use crate::sql::exec::Exec;
use crate::sql::expr::{Env, Expr};
use crate::sql::rows::Row;
use crate::sql::schema::Table;

/// A bound RETURNING clause and the rows it has produced so far.
#[derive(Clone)]
pub struct Returning {
    pub columns: Vec<String>,
    exprs: Vec<Expr>,
    pub rows: Vec<Row>,
}

impl Returning {
    /// Binds `items` over `table`'s row; None without a clause.
    pub fn bind(
        b: &mut Binder,
        table: &Table,
        items: Option<&Vec<ast::SelectItem>>,
    ) -> Result<Option<Returning>> {
        let Some(items) = items else {
            return Ok(None);
        };
        if items.is_empty() {
            return Err(invalid!("RETURNING needs at least one result column"));
        }
        b.table_scope(table);
        let mut out = Vec::new();
        let bound = items
            .iter()
            .try_for_each(|i| b.projection_item(i, &mut out));
        b.pop_scope();
        bound?;
        let (exprs, columns) = out.into_iter().map(|(e, name, _)| (e, name)).unzip();
        Ok(Some(Returning {
            columns,
            exprs,
            rows: Vec::new(),
        }))
    }

    /// Evaluates the clause over `row` and keeps the result.
    pub fn push(&mut self, row: &Row, ex: &mut Exec) -> Result<()> {
        let env = Env::new(row, None);
        let out = self
            .exprs
            .iter()
            .map(|e| e.eval(&env, ex))
            .collect::<Result<Row>>()?;
        self.rows.push(out);
        Ok(())
    }
}

/// Evaluates `returning` (if any) over `row`.
pub fn push(returning: &mut Option<Returning>, row: &Row, ex: &mut Exec) -> Result<()> {
    match returning {
        Some(r) => r.push(row, ex),
        None => Ok(()),
    }
}
