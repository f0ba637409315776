//! ALTER TABLE: ADD COLUMN, RENAME COLUMN, RENAME TO, DROP COLUMN, with
//! SQLite's rules and messages.
//!
//! The schema lives in the catalog as CREATE text, so every change is a
//! rewrite of that text followed by a reload of the transaction's working
//! schema from the catalog (which the transaction reads back):
//!
//! ```text
//!   ADD COLUMN     CREATE TABLE gains the column; rows are not touched:
//!                  a record shorter than the table reads the column's
//!                  (literal) DEFAULT, see rows::decode
//!   RENAME COLUMN  the column's name in the table, its indexes and the
//!                  views that read the table (identifier tokens)
//!   RENAME TO      the table, its indexes, views; the table's trees move
//!                  to their new names ("t:<name>", auto-indexes)
//!   DROP COLUMN    every row is rewritten without the column
//! ```
//!
//! Renames inside views rewrite identifier tokens equal to the old name in
//! views that mention the table. That is what SQLite does for every
//! unambiguous view; a view naming a same-named column of another table it
//! also reads would be renamed too.

use sqlparser::ast;
use sqlparser::dialect::SQLiteDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{Error, Result};
use crate::invalid;
use crate::mvcc::TreeKind;
use crate::sql::exec::Exec;
use crate::sql::parse;
use crate::sql::rows;
use crate::sql::schema::{fold, object_name, store_entry, Schema, Table};

/// Runs one ALTER TABLE statement against the working schema.
pub fn alter_table(schema: &mut Schema, ex: &mut Exec, alter: &ast::AlterTable) -> Result<()> {
    let name = object_name(&alter.name)?;
    let Some(table) = schema.table(&name).cloned() else {
        return Err(Error::NotFound(format!("no such table: {name}")));
    };
    if name.len() >= 7 && name[..7].eq_ignore_ascii_case("sqlite_") {
        return Err(invalid!("table {name} may not be altered"));
    }
    let [op] = alter.operations.as_slice() else {
        return Err(invalid!("ALTER TABLE takes exactly one change"));
    };
    use ast::AlterTableOperation as Op;
    match op {
        Op::AddColumn { column_def, .. } => add_column(schema, ex, &table, column_def),
        Op::RenameColumn {
            old_column_name,
            new_column_name,
        } => rename_column(
            schema,
            ex,
            &table,
            &old_column_name.value,
            &new_column_name.value,
        ),
        Op::RenameTable { table_name } => {
            let new = match table_name {
                ast::RenameTableNameKind::To(n) | ast::RenameTableNameKind::As(n) => {
                    object_name(n)?
                }
            };
            rename_table(schema, ex, &table, &new)
        }
        Op::DropColumn { column_names, .. } => match column_names.as_slice() {
            [col] => drop_column(schema, ex, &table, &col.value),
            _ => Err(invalid!("DROP COLUMN takes one column")),
        },
        other => Err(invalid!("unsupported ALTER TABLE: {other}")),
    }?;
    *schema = Schema::load(ex.engine, ex.txn)?;
    Ok(())
}

fn create_of(table: &Table) -> Result<ast::CreateTable> {
    match parse::parse_one(&table.sql)? {
        ast::Statement::CreateTable(c) => Ok(c),
        _ => Err(crate::corruption!(
            "table {} has no CREATE TABLE",
            table.name
        )),
    }
}

fn store_table(ex: &mut Exec, name: &str, create: ast::CreateTable) -> Result<()> {
    let sql = ast::Statement::CreateTable(create).to_string();
    store_entry(ex.engine, ex.txn, "table", name, name, Some(&sql))
}

fn add_column(_schema: &Schema, ex: &mut Exec, table: &Table, def: &ast::ColumnDef) -> Result<()> {
    use ast::ColumnOption as C;
    let mut default = None;
    let mut not_null = false;
    for opt in &def.options {
        match &opt.option {
            C::PrimaryKey(_) => return Err(invalid!("Cannot add a PRIMARY KEY column")),
            C::Unique(_) => return Err(invalid!("Cannot add a UNIQUE column")),
            C::NotNull => not_null = true,
            C::Default(e) => default = Some(e),
            _ => {}
        }
    }
    let value = match default {
        None => None,
        Some(e) => Some(
            rows::literal_value(e)
                .ok_or_else(|| invalid!("Cannot add a column with non-constant default"))?,
        ),
    };
    if not_null && value.as_ref().is_none_or(|v| v.is_null()) {
        return Err(invalid!(
            "Cannot add a NOT NULL column with default value NULL"
        ));
    }
    if table.column(&def.name.value).is_some() {
        return Err(invalid!("duplicate column name: {}", def.name.value));
    }
    let mut create = create_of(table)?;
    create.columns.push(def.clone());
    // The new definition must stand on its own (types, CHECK, COLLATE).
    crate::sql::schema::table_from_ast(&create, String::new())?;
    store_table(ex, &table.name, create)
}

/// Replaces identifier tokens equal to `old` by `new` in `sql`, from the
/// first `(` on when `after_paren`.
fn rename_tokens(sql: &str, old: &str, new: &str, after_paren: bool) -> Result<String> {
    let dialect = SQLiteDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| Error::Syntax(e.to_string()))?;
    let mut inside = !after_paren;
    let mut out = String::with_capacity(sql.len());
    for t in tokens {
        match &t {
            Token::LParen => inside = true,
            Token::Word(w) if inside && w.value.eq_ignore_ascii_case(old) => {
                let quote = w.quote_style.map(|q| if q == '[' { '"' } else { q });
                out.push_str(&Token::make_word(new, quote).to_string());
                continue;
            }
            _ => {}
        }
        out.push_str(&t.to_string());
    }
    Ok(out)
}

/// True if the text names `name` as an identifier.
fn mentions(sql: &str, name: &str) -> bool {
    let dialect = SQLiteDialect {};
    Tokenizer::new(&dialect, sql)
        .tokenize()
        .is_ok_and(|tokens| {
            tokens
                .iter()
                .any(|t| matches!(t, Token::Word(w) if w.value.eq_ignore_ascii_case(name)))
        })
}

/// Rewrites the views that read `table`, renaming `old` to `new`.
fn rename_in_views(
    schema: &Schema,
    ex: &mut Exec,
    table: &str,
    old: &str,
    new: &str,
) -> Result<()> {
    for view in schema.views.values() {
        if !mentions(&view.sql, table) {
            continue;
        }
        let sql = rename_tokens(&view.sql, old, new, false)?;
        store_entry(
            ex.engine,
            ex.txn,
            "view",
            &view.name,
            &view.name,
            Some(&sql),
        )?;
    }
    Ok(())
}

fn rename_column(
    schema: &Schema,
    ex: &mut Exec,
    table: &Table,
    old: &str,
    new: &str,
) -> Result<()> {
    if table.column(old).is_none() {
        return Err(invalid!("no such column: \"{old}\""));
    }
    if table.column(new).is_some() {
        return Err(invalid!(
            "error in table {} after rename: duplicate column name: {new}",
            table.name
        ));
    }
    let sql = rename_tokens(&table.sql, old, new, true)?;
    store_entry(
        ex.engine,
        ex.txn,
        "table",
        &table.name,
        &table.name,
        Some(&sql),
    )?;
    for index in table.indexes.iter().filter(|i| !i.auto) {
        if let Some(text) = &index.sql {
            let sql = rename_tokens(text, old, new, true)?;
            store_entry(
                ex.engine,
                ex.txn,
                "index",
                &index.name,
                &table.name,
                Some(&sql),
            )?;
        }
    }
    rename_in_views(schema, ex, &table.name, old, new)
}

/// Moves every entry of tree `from` to a new tree `to`.
fn move_tree(ex: &mut Exec, from: &str, to: &str) -> Result<()> {
    let src = rows::tree(ex.engine, ex.txn, from)?;
    let mut entries = Vec::new();
    let mut cursor = ex.engine.cursor(
        ex.txn,
        src,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Unbounded,
    )?;
    while let Some(entry) = cursor.next(ex.engine)? {
        entries.push(entry);
    }
    let dst = ex.engine.create_tree(ex.txn, to, TreeKind::Table)?;
    for (k, v) in entries {
        ex.engine.put(ex.txn, dst, &k, &v)?;
    }
    ex.engine.drop_tree(ex.txn, from)
}

fn rename_table(schema: &Schema, ex: &mut Exec, table: &Table, new: &str) -> Result<()> {
    if new.len() >= 7 && new[..7].eq_ignore_ascii_case("sqlite_") {
        return Err(invalid!("object name reserved for internal use: {new}"));
    }
    if schema.name_taken(new) && !fold(new).eq(&fold(&table.name)) {
        return Err(invalid!(
            "there is already another table or index with this name: {new}"
        ));
    }
    let mut create = create_of(table)?;
    create.name = ast::ObjectName::from(vec![ast::Ident::new(new)]);
    let sql = ast::Statement::CreateTable(create.clone()).to_string();
    // The new table's tree names come from its new name.
    let moved = crate::sql::schema::table_from_ast(&create, sql.clone())?;
    move_tree(ex, &table.tree, &moved.tree)?;
    for (old, new_index) in table.indexes.iter().zip(&moved.indexes) {
        if old.auto && old.tree != new_index.tree {
            move_tree(ex, &old.tree, &new_index.tree)?;
        }
    }
    store_entry(ex.engine, ex.txn, "table", &table.name, "", None)?;
    store_entry(ex.engine, ex.txn, "table", new, new, Some(&sql))?;
    for index in table.indexes.iter().filter(|i| !i.auto) {
        if let Some(text) = &index.sql {
            let ast::Statement::CreateIndex(mut c) = parse::parse_one(text)? else {
                return Err(crate::corruption!(
                    "index {} has no CREATE INDEX",
                    index.name
                ));
            };
            c.table_name = ast::ObjectName::from(vec![ast::Ident::new(new)]);
            let sql = ast::Statement::CreateIndex(c).to_string();
            store_entry(ex.engine, ex.txn, "index", &index.name, new, Some(&sql))?;
        }
    }
    rename_in_views(schema, ex, &table.name, &table.name, new)
}

fn drop_column(schema: &Schema, ex: &mut Exec, table: &Table, name: &str) -> Result<()> {
    let Some(col) = table.column(name) else {
        return Err(invalid!("no such column: \"{name}\""));
    };
    if table.columns.len() == 1 {
        return Err(invalid!(
            "cannot drop column \"{name}\": no other columns exist"
        ));
    }
    if table.primary_key.contains(&col) {
        return Err(invalid!("cannot drop PRIMARY KEY column: \"{name}\""));
    }
    for index in &table.indexes {
        if index.columns.contains(&col) {
            return Err(if index.auto {
                invalid!("cannot drop UNIQUE column: \"{name}\"")
            } else {
                invalid!(
                    "error in index {} after drop column: no such column: {name}",
                    index.name
                )
            });
        }
    }
    let mut create = create_of(table)?;
    create.columns.remove(col);
    // CHECKs of the dropped column go with it; any other naming it fails.
    let other_checks = create
        .columns
        .iter()
        .flat_map(|c| c.options.iter())
        .filter_map(|o| match &o.option {
            ast::ColumnOption::Check(c) => Some(c.expr.to_string()),
            _ => None,
        })
        .chain(create.constraints.iter().filter_map(|c| match c {
            ast::TableConstraint::Check(c) => Some(c.expr.to_string()),
            _ => None,
        }));
    if other_checks.into_iter().any(|e| mentions(&e, name)) {
        return Err(invalid!(
            "error in table {} after drop column: no such column: {name}",
            table.name
        ));
    }
    for view in schema.views.values() {
        if mentions(&view.sql, &table.name) && mentions(&view.sql, name) {
            return Err(invalid!(
                "error in view {} after drop column: no such column: {name}",
                view.name
            ));
        }
    }
    let sql = ast::Statement::CreateTable(create.clone()).to_string();
    let dropped = crate::sql::schema::table_from_ast(&create, sql)?;
    // Rewrite every row without the column (the key does not change: the
    // column is neither the rowid nor part of the PRIMARY KEY).
    let tree = rows::tree(ex.engine, ex.txn, &table.tree)?;
    let mut entries = Vec::new();
    let mut cursor = ex.engine.cursor(
        ex.txn,
        tree,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Unbounded,
    )?;
    while let Some(entry) = cursor.next(ex.engine)? {
        entries.push(entry);
    }
    let mut value = Vec::new();
    for (key, old) in entries {
        let mut row = rows::decode(table, &key, &old)?;
        row.remove(col);
        value.clear();
        rows::encode(&dropped, &row, &mut value);
        ex.engine.put(ex.txn, tree, &key, &value)?;
    }
    store_table(ex, &table.name, create)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_identifier_tokens_only() {
        let sql = "CREATE TABLE a (a INT, b TEXT CHECK (a > 0), 'a')";
        assert_eq!(
            rename_tokens(sql, "a", "z", true).unwrap(),
            "CREATE TABLE a (z INT, b TEXT CHECK (z > 0), 'a')"
        );
        assert!(mentions("SELECT x FROM t1", "T1"));
        assert!(!mentions("SELECT 't1' FROM t2", "t1"));
    }
}
