//! CREATE and DROP of tables, indexes and views, and REINDEX.
//!
//! Each change touches three things in one transaction: the engine trees
//! (created or dropped), the catalog row holding the CREATE text, and the
//! transaction's working copy of the [`Schema`]. The caller publishes the
//! working copy when the transaction commits and discards it when it rolls
//! back, so the in-memory schema never runs ahead of what is committed.

use sqlparser::ast;

use crate::error::{Error, Result};
use crate::invalid;
use crate::mvcc::{TreeId, TreeKind};
use crate::sql::exec::Exec;
use crate::sql::rows;
use crate::sql::schema::{
    fold, index_from_ast, object_name, store_entry, table_from_ast, view_from_ast, Index, Schema,
    Table,
};
use crate::sql::value::Collation;

fn check_new_name(schema: &Schema, name: &str, kind: &str) -> Result<()> {
    if name.len() >= 7 && name[..7].eq_ignore_ascii_case("sqlite_") {
        return Err(invalid!("object name reserved for internal use: {name}"));
    }
    if schema.name_taken(name) {
        return Err(invalid!("{kind} {name} already exists"));
    }
    Ok(())
}

/// CREATE TABLE. Returns false when IF NOT EXISTS found the table.
pub fn create_table(schema: &mut Schema, ex: &mut Exec, create: &ast::CreateTable) -> Result<bool> {
    let name = object_name(&create.name)?;
    if create.if_not_exists && schema.name_taken(&name) {
        return Ok(false);
    }
    if create.temporary {
        return Err(invalid!("TEMP tables are not supported"));
    }
    check_new_name(schema, &name, "table")?;
    let sql = ast::Statement::CreateTable(create.clone()).to_string();
    let table = table_from_ast(create, sql.clone())?;
    ex.engine
        .create_tree(ex.txn, &table.tree, TreeKind::Table)?;
    for index in &table.indexes {
        ex.engine
            .create_tree(ex.txn, &index.tree, TreeKind::Table)?;
    }
    store_entry(
        ex.engine,
        ex.txn,
        "table",
        &table.name,
        &table.name,
        Some(&sql),
    )?;
    schema.tables.insert(fold(&table.name), table);
    Ok(true)
}

/// CREATE [UNIQUE] INDEX, filled from the table's current rows.
pub fn create_index(schema: &mut Schema, ex: &mut Exec, create: &ast::CreateIndex) -> Result<bool> {
    let name = create
        .name
        .as_ref()
        .map(object_name)
        .transpose()?
        .ok_or_else(|| invalid!("CREATE INDEX needs a name"))?;
    if create.if_not_exists && schema.name_taken(&name) {
        return Ok(false);
    }
    check_new_name(schema, &name, "index")?;
    let sql = ast::Statement::CreateIndex(create.clone()).to_string();
    let index = index_from_ast(schema, create, sql.clone())?;
    let key = fold(&index.table);
    let table = schema
        .tables
        .get(&key)
        .expect("index_from_ast found the table");
    let id = ex
        .engine
        .create_tree(ex.txn, &index.tree, TreeKind::Table)?;
    fill_index(ex, table, &index, id)?;
    store_entry(
        ex.engine,
        ex.txn,
        "index",
        &index.name,
        &table.name,
        Some(&sql),
    )?;
    schema
        .tables
        .get_mut(&key)
        .expect("checked above")
        .indexes
        .push(index);
    Ok(true)
}

/// Adds an entry to `index` (tree `id`, empty) for every row of `table`,
/// failing if a unique index would hold duplicates.
fn fill_index(ex: &mut Exec, table: &Table, index: &Index, id: TreeId) -> Result<()> {
    let existing = rows::scan(
        ex.engine,
        ex.txn,
        table,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Unbounded,
    )?;
    for (k, row) in existing {
        if index.unique
            && !rows::unique_conflicts(ex.engine, ex.txn, index, &row, Some(&k))?.is_empty()
        {
            let cols: Vec<String> = index
                .columns
                .iter()
                .map(|c| format!("{}.{}", table.name, table.columns[*c].name))
                .collect();
            return Err(Error::Constraint(format!(
                "UNIQUE constraint failed: {}",
                cols.join(", ")
            )));
        }
        let mut entry = rows::index_prefix(index, &row);
        entry.extend_from_slice(&k);
        ex.engine.put(ex.txn, id, &entry, &k)?;
    }
    Ok(())
}

/// REINDEX [name]: empties and refills indexes from their tables. `name`
/// is resolved as SQLite does: an unqualified collation name first (the
/// indexes with a column in that collation), then a table (all its
/// indexes), then an index; no name means every index. The schema does
/// not change.
pub fn reindex(schema: &Schema, ex: &mut Exec, name: Option<&ast::ObjectName>) -> Result<()> {
    let mut targets: Vec<(&Table, &Index)> = Vec::new();
    let every = |keep: &dyn Fn(&Table, &Index) -> bool| -> Vec<(&Table, &Index)> {
        schema
            .tables
            .values()
            .flat_map(|t| t.indexes.iter().map(move |i| (t, i)))
            .filter(|(t, i)| keep(t, i))
            .collect()
    };
    match name {
        None => targets = every(&|_, _| true),
        Some(n) => {
            let unqualified = n.0.len() == 1;
            let text = object_name(n)?;
            if let Some(coll) = Collation::from_name(&text).filter(|_| unqualified) {
                targets = every(&|_, i| i.collations.contains(&coll));
            } else if let Some(table) = schema.table(&text) {
                targets.extend(table.indexes.iter().map(|i| (table, i)));
            } else if let Some((table, pos)) = schema.index(&text) {
                targets.push((table, &table.indexes[pos]));
            } else {
                return Err(Error::NotFound(format!(
                    "unable to identify the object to be reindexed: {text}"
                )));
            }
        }
    }
    for (table, index) in targets {
        let id = rows::tree(ex.engine, ex.txn, &index.tree)?;
        let stale = ex.engine.scan(
            ex.txn,
            id,
            std::ops::Bound::Unbounded,
            std::ops::Bound::Unbounded,
            usize::MAX,
        )?;
        for (k, _) in stale {
            ex.engine.delete(ex.txn, id, &k)?;
        }
        fill_index(ex, table, index, id)?;
    }
    Ok(())
}

/// CREATE VIEW, whose query the caller has already bound successfully.
pub fn create_view(schema: &mut Schema, ex: &mut Exec, create: &ast::CreateView) -> Result<bool> {
    let name = object_name(&create.name)?;
    if create.if_not_exists && schema.name_taken(&name) {
        return Ok(false);
    }
    if create.materialized || create.or_replace || create.or_alter {
        return Err(invalid!("unsupported CREATE VIEW form"));
    }
    check_new_name(schema, &name, "view")?;
    let mut plain = create.clone();
    plain.temporary = false;
    let sql = ast::Statement::CreateView(plain.clone()).to_string();
    let view = view_from_ast(&plain, sql.clone())?;
    store_entry(
        ex.engine,
        ex.txn,
        "view",
        &view.name,
        &view.name,
        Some(&sql),
    )?;
    schema.views.insert(fold(&view.name), view);
    Ok(true)
}

/// DROP TABLE / INDEX / VIEW. Returns how many objects were dropped.
pub fn drop(
    schema: &mut Schema,
    ex: &mut Exec,
    kind: &ast::ObjectType,
    if_exists: bool,
    names: &[ast::ObjectName],
) -> Result<u64> {
    let mut dropped = 0;
    for n in names {
        let name = object_name(n)?;
        let key = fold(&name);
        match kind {
            ast::ObjectType::Table => {
                let Some(table) = schema.tables.get(&key) else {
                    if schema.views.contains_key(&key) {
                        return Err(invalid!("use DROP VIEW to delete view {name}"));
                    }
                    if if_exists {
                        continue;
                    }
                    return Err(Error::NotFound(format!("no such table: {name}")));
                };
                if table.name.len() >= 7 && table.name[..7].eq_ignore_ascii_case("sqlite_") {
                    return Err(invalid!("table {name} may not be dropped"));
                }
                ex.engine.drop_tree(ex.txn, &table.tree)?;
                for index in &table.indexes {
                    ex.engine.drop_tree(ex.txn, &index.tree)?;
                    if !index.auto {
                        store_entry(ex.engine, ex.txn, "index", &index.name, &table.name, None)?;
                    }
                }
                store_entry(ex.engine, ex.txn, "table", &table.name, &table.name, None)?;
                schema.tables.remove(&key);
                crate::sql::trigger::drop_for(schema, ex, &name)?;
            }
            ast::ObjectType::Index => {
                let Some((table, pos)) = schema.index(&name) else {
                    if if_exists {
                        continue;
                    }
                    return Err(Error::NotFound(format!("no such index: {name}")));
                };
                let index = &table.indexes[pos];
                if index.auto {
                    return Err(invalid!(
                        "index associated with UNIQUE or PRIMARY KEY constraint cannot be dropped"
                    ));
                }
                ex.engine.drop_tree(ex.txn, &index.tree)?;
                store_entry(ex.engine, ex.txn, "index", &index.name, &table.name, None)?;
                let tkey = fold(&table.name);
                schema
                    .tables
                    .get_mut(&tkey)
                    .expect("found above")
                    .indexes
                    .remove(pos);
            }
            ast::ObjectType::View => {
                let Some(view) = schema.views.get(&key) else {
                    if schema.tables.contains_key(&key) {
                        return Err(invalid!("use DROP TABLE to delete table {name}"));
                    }
                    if if_exists {
                        continue;
                    }
                    return Err(Error::NotFound(format!("no such view: {name}")));
                };
                store_entry(ex.engine, ex.txn, "view", &view.name, &view.name, None)?;
                schema.views.remove(&key);
                crate::sql::trigger::drop_for(schema, ex, &name)?;
            }
            other => return Err(invalid!("DROP {other} is not supported")),
        }
        dropped += 1;
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_are_refused() {
        let schema = Schema::default();
        assert!(check_new_name(&schema, "sqlite_master", "table").is_err());
        assert!(check_new_name(&schema, "t1", "table").is_ok());
    }
}
