//! FOREIGN KEY constraints, enforced while `PRAGMA foreign_keys` is on.
//!
//! ```text
//!   child row written (insert, or update changing its key columns)
//!     no NULL in the key and no parent row -> pending check
//!   parent row deleted / key changed, for each child key referencing it:
//!     RESTRICT     child rows exist -> error now
//!     NO ACTION    pending check
//!     CASCADE      delete child rows / set their key to the new values
//!     SET NULL     set the child key to NULL
//!     SET DEFAULT  set the child key to its defaults
//! ```
//!
//! A pending check holds (child table, constraint, key values) and is
//! violated while some child row holds those values and no parent row
//! does. Immediate constraints are verified when the statement ends and
//! deferred ones (DEFERRABLE INITIALLY DEFERRED) at COMMIT, as SQLite
//! does; because the check is a predicate over the current rows, a check
//! left behind by work that was later undone can only pass.

use sqlparser::ast;

use crate::error::{Error, Result};
use crate::sql::bind::{Binder, SessionInfo};
use crate::sql::dml;
use crate::sql::exec::Exec;
use crate::sql::rows::{self, Row};
use crate::sql::schema::{object_name, Column, Schema, Table};
use crate::sql::trigger;
use crate::sql::value::{apply_affinity, compare, Collation, Value};
use crate::sql::write;

/// What happens to child rows when their parent row goes or changes key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefAction {
    NoAction,
    Restrict,
    SetNull,
    SetDefault,
    Cascade,
}

fn action(a: &Option<ast::ReferentialAction>) -> RefAction {
    match a {
        Some(ast::ReferentialAction::Restrict) => RefAction::Restrict,
        Some(ast::ReferentialAction::Cascade) => RefAction::Cascade,
        Some(ast::ReferentialAction::SetNull) => RefAction::SetNull,
        Some(ast::ReferentialAction::SetDefault) => RefAction::SetDefault,
        _ => RefAction::NoAction,
    }
}

/// A FOREIGN KEY constraint of a (child) table.
#[derive(Clone, Debug)]
pub struct ForeignKey {
    /// Child columns, by position.
    pub columns: Vec<usize>,
    pub parent: String,
    /// Parent columns as named; empty means the parent's PRIMARY KEY.
    pub parent_columns: Vec<String>,
    pub on_delete: RefAction,
    pub on_update: RefAction,
    /// DEFERRABLE INITIALLY DEFERRED: checked at COMMIT.
    pub deferred: bool,
}

impl ForeignKey {
    /// The constraint of a column (`columns` is empty in the AST) or of
    /// the table, given the columns declared so far.
    pub fn from_ast(
        fk: &ast::ForeignKeyConstraint,
        columns: &[Column],
        this: Option<usize>,
    ) -> Result<ForeignKey> {
        let child = match this {
            Some(c) => vec![c],
            None => fk
                .columns
                .iter()
                .map(|id| {
                    columns
                        .iter()
                        .position(|c| c.name.eq_ignore_ascii_case(&id.value))
                        .ok_or_else(|| {
                            crate::invalid!(
                                "unknown column \"{}\" in foreign key definition",
                                id.value
                            )
                        })
                })
                .collect::<Result<Vec<_>>>()?,
        };
        let parent_columns: Vec<String> = fk
            .referred_columns
            .iter()
            .map(|c| c.value.clone())
            .collect();
        if !parent_columns.is_empty() && parent_columns.len() != child.len() {
            return Err(crate::invalid!(
                "foreign key on {} should reference only one column of table {}",
                columns.get(child[0]).map_or("", |c| c.name.as_str()),
                fk.foreign_table
            ));
        }
        let deferred = fk.characteristics.as_ref().is_some_and(|c| {
            c.deferrable == Some(true) && c.initially == Some(ast::DeferrableInitial::Deferred)
        });
        Ok(ForeignKey {
            columns: child,
            parent: object_name(&fk.foreign_table)?,
            parent_columns,
            on_delete: action(&fk.on_delete),
            on_update: action(&fk.on_update),
            deferred,
        })
    }
}

/// A check to verify later (see the module comment).
#[derive(Clone, Debug)]
pub struct Pending {
    child: String,
    fk: usize,
    values: Vec<Value>,
    pub deferred: bool,
}

fn failed() -> Error {
    Error::Constraint("FOREIGN KEY constraint failed".into())
}

fn mismatch(child: &str, parent: &str) -> Error {
    Error::InvalidInput(format!(
        "foreign key mismatch - \"{child}\" referencing \"{parent}\""
    ))
}

fn schema<'a>(ex: &Exec<'a>) -> Result<&'a Schema> {
    ex.schema
        .ok_or_else(|| crate::invalid!("foreign keys need the schema"))
}

/// The parent table of `fk` and the positions of its parent key columns.
fn parent_key<'a>(
    schema: &'a Schema,
    child: &Table,
    fk: &ForeignKey,
) -> Result<(&'a Table, Vec<usize>)> {
    let parent = schema
        .table(&fk.parent)
        .ok_or_else(|| Error::NotFound(format!("no such table: main.{}", fk.parent)))?;
    let cols: Vec<usize> = if fk.parent_columns.is_empty() {
        parent.primary_key.clone()
    } else {
        fk.parent_columns
            .iter()
            .map(|c| {
                parent
                    .column(c)
                    .ok_or_else(|| mismatch(&child.name, &parent.name))
            })
            .collect::<Result<_>>()?
    };
    if cols.len() != fk.columns.len() {
        return Err(mismatch(&child.name, &parent.name));
    }
    let mut sorted = cols.clone();
    sorted.sort_unstable();
    let same = |other: &[usize]| {
        let mut o = other.to_vec();
        o.sort_unstable();
        o == sorted
    };
    let unique =
        same(&parent.primary_key) || parent.indexes.iter().any(|i| i.unique && same(&i.columns));
    if !unique {
        return Err(mismatch(&child.name, &parent.name));
    }
    Ok((parent, cols))
}

/// True if `parent` has a row whose columns `cols` hold `values`.
fn parent_exists(ex: &mut Exec, parent: &Table, cols: &[usize], values: &[Value]) -> Result<bool> {
    let mut probe = vec![Value::Null; parent.width()];
    for (c, v) in cols.iter().zip(values) {
        probe[*c] = apply_affinity(v.clone(), parent.columns[*c].affinity);
    }
    if parent.rowid_alias.is_some() && cols == [parent.rowid_alias.unwrap_or_default()] {
        let Value::Integer(_) = probe[cols[0]] else {
            return Ok(false);
        };
        probe[parent.columns.len()] = probe[cols[0]].clone();
        let key = rows::table_key(parent, &probe);
        return Ok(rows::get(ex.engine, ex.txn, parent, &key)?.is_some());
    }
    let mut sorted = cols.to_vec();
    sorted.sort_unstable();
    if parent.without_rowid && {
        let mut pk = parent.primary_key.clone();
        pk.sort_unstable();
        pk == sorted
    } {
        let key = rows::table_key(parent, &probe);
        return Ok(rows::get(ex.engine, ex.txn, parent, &key)?.is_some());
    }
    for index in parent.indexes.iter().filter(|i| i.unique) {
        let mut ic = index.columns.clone();
        ic.sort_unstable();
        if ic == sorted {
            return Ok(!rows::unique_conflicts(ex.engine, ex.txn, index, &probe, None)?.is_empty());
        }
    }
    Err(Error::InvalidInput(format!(
        "foreign key mismatch - referencing \"{}\"",
        parent.name
    )))
}

/// True if `lead` holds the same columns as `cols`, in any order.
fn same_columns(lead: &[usize], cols: &[usize]) -> bool {
    lead.len() == cols.len() && cols.iter().all(|c| lead.contains(c))
}

/// Where the rows of `child` with given values in `cols` can be found
/// without a full scan.
enum Path<'t> {
    Rowid,
    /// The leading columns of a WITHOUT ROWID key.
    KeyPrefix,
    /// The leading columns of an index whose collations are the columns'.
    Index(&'t crate::sql::schema::Index),
    Scan,
}

fn path<'t>(child: &'t Table, cols: &[usize]) -> Path<'t> {
    if child.rowid_alias.is_some_and(|a| cols == [a]) {
        return Path::Rowid;
    }
    let k = cols.len();
    if child.without_rowid
        && child.primary_key.len() >= k
        && same_columns(&child.primary_key[..k], cols)
    {
        return Path::KeyPrefix;
    }
    child
        .indexes
        .iter()
        .find(|i| {
            i.columns.len() >= k
                && same_columns(&i.columns[..k], cols)
                && i.columns[..k]
                    .iter()
                    .zip(&i.collations)
                    .all(|(c, coll)| *coll == child.columns[*c].collation)
        })
        .map_or(Path::Scan, Path::Index)
}

/// Rows of `child` whose columns `cols` equal `values` (none if a value
/// is NULL). Like SQLite, this reads them through the rowid, the key or
/// an index led by the columns when there is one, and scans the table
/// otherwise; the candidates are then compared exactly.
fn child_rows(
    ex: &mut Exec,
    child: &Table,
    cols: &[usize],
    values: &[Value],
) -> Result<Vec<(Vec<u8>, Row)>> {
    use std::ops::Bound;
    let equal = |row: &Row| {
        cols.iter().zip(values).all(|(c, v)| {
            !row[*c].is_null() && compare(&row[*c], v, child.columns[*c].collation).is_eq()
        })
    };
    if values.iter().any(Value::is_null) {
        return Ok(Vec::new());
    }
    // The key columns in the order the key or index holds them.
    let prefix_of = |lead: &[usize], colls: &[Collation]| {
        let mut prefix = Vec::new();
        for (c, coll) in lead.iter().zip(colls) {
            let v = &values[cols.iter().position(|x| x == c).expect("same columns")];
            rows::push_key(v, *coll, &mut prefix);
        }
        prefix
    };
    let k = cols.len();
    let candidates = match path(child, cols) {
        Path::Rowid => match values[0] {
            Value::Integer(i) => {
                let mut key = Vec::with_capacity(10);
                crate::keycode::encode_i64(i, &mut key);
                let row = rows::get(ex.engine, ex.txn, child, &key)?;
                row.map(|r| (key, r)).into_iter().collect()
            }
            _ => rows::scan(ex.engine, ex.txn, child, Bound::Unbounded, Bound::Unbounded)?,
        },
        Path::KeyPrefix => {
            let lead = &child.primary_key[..k];
            let colls: Vec<Collation> = lead.iter().map(|c| child.columns[*c].collation).collect();
            let prefix = prefix_of(lead, &colls);
            let end = rows::prefix_end(&prefix);
            rows::scan(
                ex.engine,
                ex.txn,
                child,
                Bound::Included(&prefix),
                Bound::Excluded(&end),
            )?
        }
        Path::Index(index) => {
            let prefix = prefix_of(&index.columns[..k], &index.collations);
            let end = rows::prefix_end(&prefix);
            let keys = rows::index_scan(
                ex.engine,
                ex.txn,
                index,
                Bound::Included(&prefix),
                Bound::Excluded(&end),
                usize::MAX,
            )?;
            let mut found = Vec::with_capacity(keys.len());
            for key in keys {
                if let Some(row) = rows::get(ex.engine, ex.txn, child, &key)? {
                    found.push((key, row));
                }
            }
            found
        }
        Path::Scan => rows::scan(ex.engine, ex.txn, child, Bound::Unbounded, Bound::Unbounded)?,
    };
    Ok(candidates
        .into_iter()
        .filter(|(_, row)| equal(row))
        .collect())
}

fn key_values(row: &Row, cols: &[usize]) -> Vec<Value> {
    cols.iter().map(|c| row[*c].clone()).collect()
}

/// Checks a child row just written (inserted, or updated from `old`).
pub fn child_written(ex: &mut Exec, table: &Table, old: Option<&Row>, row: &Row) -> Result<()> {
    if !ex.dml.foreign_keys || table.foreign_keys.is_empty() {
        return Ok(());
    }
    let schema = schema(ex)?;
    for (i, fk) in table.foreign_keys.iter().enumerate() {
        // A missing parent table or key is an error even for NULL keys.
        let (parent, cols) = parent_key(schema, table, fk)?;
        let values = key_values(row, &fk.columns);
        if values.iter().any(Value::is_null) {
            continue;
        }
        if old.is_some_and(|o| key_values(o, &fk.columns) == values) {
            continue;
        }
        if !parent_exists(ex, parent, &cols, &values)? {
            ex.dml.fk_pending.push(Pending {
                child: table.name.clone(),
                fk: i,
                values,
                deferred: fk.deferred,
            });
        }
    }
    Ok(())
}

/// Applies the actions of every constraint referencing `table` for its
/// row `old`, which is being deleted (`new` None) or updated to `new`.
pub fn parent_changed(ex: &mut Exec, table: &Table, old: &Row, new: Option<&Row>) -> Result<()> {
    if !ex.dml.foreign_keys {
        return Ok(());
    }
    let schema = schema(ex)?;
    for child in schema.tables.values() {
        for (i, fk) in child.foreign_keys.iter().enumerate() {
            if !fk.parent.eq_ignore_ascii_case(&table.name) {
                continue;
            }
            let (_, cols) = parent_key(schema, child, fk)?;
            let values = key_values(old, &cols);
            if values.iter().any(Value::is_null) {
                continue;
            }
            let new_values = new.map(|n| key_values(n, &cols));
            if new_values.as_ref().is_some_and(|n| {
                n.iter()
                    .zip(&values)
                    .all(|(a, b)| std::mem::discriminant(a) == std::mem::discriminant(b) && a == b)
            }) {
                continue;
            }
            let act = if new.is_some() {
                fk.on_update
            } else {
                fk.on_delete
            };
            let found = child_rows(ex, child, &fk.columns, &values)?;
            if found.is_empty() {
                continue;
            }
            match act {
                RefAction::Restrict => return Err(failed()),
                RefAction::NoAction => ex.dml.fk_pending.push(Pending {
                    child: child.name.clone(),
                    fk: i,
                    values,
                    deferred: fk.deferred,
                }),
                RefAction::Cascade if new.is_none() => {
                    for (key, _) in found {
                        if let Some(row) = rows::get(ex.engine, ex.txn, child, &key)? {
                            trigger::delete_row(ex, child, &key, &row)?;
                        }
                    }
                }
                _ => {
                    let mut b = Binder::new(schema, SessionInfo::default());
                    let t = dml::target(&mut b, child.clone(), None)?;
                    for (key, _) in found {
                        let Some(current) = rows::get(ex.engine, ex.txn, child, &key)? else {
                            continue;
                        };
                        let mut changed = current.clone();
                        for (k, c) in fk.columns.iter().enumerate() {
                            changed[*c] = match act {
                                RefAction::SetNull => Value::Null,
                                RefAction::SetDefault => write::default_value(ex, &t, *c)?,
                                _ => new_values.as_ref().expect("an update")[k].clone(),
                            };
                        }
                        trigger::update_row(ex, &t, &key, &current, changed, &fk.columns)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// True if the check fails on the current rows.
fn violated(ex: &mut Exec, schema: &Schema, p: &Pending) -> Result<bool> {
    let Some(child) = schema.table(&p.child) else {
        return Ok(false);
    };
    let Some(fk) = child.foreign_keys.get(p.fk) else {
        return Ok(false);
    };
    let (parent, cols) = match parent_key(schema, child, fk) {
        Ok(found) => found,
        // The parent table was dropped since (DROP TABLE of a parent
        // whose children had deferred constraints).
        Err(Error::NotFound(_)) => {
            return Ok(!child_rows(ex, child, &fk.columns, &p.values)?.is_empty())
        }
        Err(e) => return Err(e),
    };
    if parent_exists(ex, parent, &cols, &p.values)? {
        return Ok(false);
    }
    Ok(!child_rows(ex, child, &fk.columns, &p.values)?.is_empty())
}

/// Verifies `checks` against the current rows.
pub fn verify(ex: &mut Exec, checks: &[Pending]) -> Result<()> {
    if checks.is_empty() {
        return Ok(());
    }
    let schema = schema(ex)?;
    for p in checks {
        if violated(ex, schema, p)? {
            return Err(failed());
        }
    }
    Ok(())
}

/// The implicit `DELETE FROM` of DROP TABLE while foreign keys are on,
/// as in SQLite: the rows of a dropped table that some table references
/// are deleted first, with their FK actions but without triggers, and an
/// immediate constraint this leaves violated fails the DROP. Returns the
/// deferred checks for the transaction to keep.
pub fn before_drop(ex: &mut Exec, schema: &Schema, stmt: &ast::Statement) -> Result<Vec<Pending>> {
    let ast::Statement::Drop {
        object_type: ast::ObjectType::Table,
        names,
        ..
    } = stmt
    else {
        return Ok(Vec::new());
    };
    if !ex.dml.foreign_keys {
        return Ok(Vec::new());
    }
    let mut inner = Exec {
        engine: &mut *ex.engine,
        txn: ex.txn,
        params: &[],
        func: ex.func.clone(),
        ctes: Default::default(),
        schema: Some(schema),
        dml: crate::sql::write::DmlState {
            foreign_keys: true,
            ..Default::default()
        },
    };
    for n in names {
        let Some(table) = schema.table(&object_name(n)?) else {
            continue;
        };
        let referenced = schema.tables.values().any(|c| {
            c.foreign_keys
                .iter()
                .any(|fk| fk.parent.eq_ignore_ascii_case(&table.name))
        });
        if !referenced {
            continue;
        }
        let all = rows::scan(
            inner.engine,
            inner.txn,
            table,
            std::ops::Bound::Unbounded,
            std::ops::Bound::Unbounded,
        )?;
        for (key, row) in all {
            if rows::get(inner.engine, inner.txn, table, &key)?.is_some() {
                write::delete_with_actions(&mut inner, table, &key, &row)?;
            }
        }
    }
    end_statement(&mut inner)
}

/// At the end of a statement: verifies its immediate checks and returns
/// its deferred ones, which the transaction keeps until COMMIT.
pub fn end_statement(ex: &mut Exec) -> Result<Vec<Pending>> {
    let (deferred, immediate): (Vec<Pending>, Vec<Pending>) =
        std::mem::take(&mut ex.dml.fk_pending)
            .into_iter()
            .partition(|p| p.deferred);
    verify(ex, &immediate)?;
    Ok(deferred)
}
