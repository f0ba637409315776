//! The schema: tables, indexes and views, and the catalog tree that
//! persists them.
//!
//! ```text
//!   engine tree "sqlite_schema"   key: keycode(Text(lower(name)))
//!                                 value: record [type, name, tbl_name, sql]
//!   engine tree "t:<table>"       key: keycode(rowid) | keycode(PRIMARY KEY...)
//!                                 value: row record (record.rs)
//!   engine tree "i:<index>"       key: keycode(indexed columns...) ++ table key
//!                                 value: table key
//! ```
//!
//! Only the `CREATE` statement text is stored; everything else (columns,
//! affinities, automatic indexes for UNIQUE and PRIMARY KEY constraints) is
//! derived again from that text when the database opens, so the stored
//! schema cannot disagree with itself. Names compare case-insensitively
//! (ASCII), like SQLite's.

use std::collections::BTreeMap;
use std::ops::Bound;

use sqlparser::ast;

use crate::error::{Error, Result};
use crate::keycode::{self, KeyValue};
use crate::mvcc::{Engine, TreeKind, TxnId};
use crate::sql::fk::ForeignKey;
use crate::sql::parse;
use crate::sql::record::{decode_row, encode_row};
use crate::sql::value::{affinity_of_type, Affinity, Collation, Value};
use crate::sql::write::{ConflictClauses, Resolution};
use crate::{corruption, invalid};

/// Name of the catalog tree.
pub const CATALOG_TREE: &str = "sqlite_schema";

/// One column of a table.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    /// The declared type as written (may be empty).
    pub decl_type: String,
    pub affinity: Affinity,
    pub not_null: bool,
    pub default: Option<ast::Expr>,
    pub collation: Collation,
}

/// An index, declared with CREATE INDEX or implied by UNIQUE / PRIMARY KEY.
#[derive(Clone, Debug)]
pub struct Index {
    pub name: String,
    pub table: String,
    /// Positions of the indexed columns in the table.
    pub columns: Vec<usize>,
    pub collations: Vec<Collation>,
    pub unique: bool,
    /// Implied by a constraint (no CREATE INDEX statement of its own).
    pub auto: bool,
    pub tree: String,
    /// The CREATE INDEX text, for declared indexes.
    pub sql: Option<String>,
}

/// A table.
#[derive(Clone, Debug)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// The INTEGER PRIMARY KEY column, which is the rowid itself.
    pub rowid_alias: Option<usize>,
    pub without_rowid: bool,
    /// PRIMARY KEY columns as declared (empty: none).
    pub primary_key: Vec<usize>,
    /// CHECK constraints: optional name and expression.
    pub checks: Vec<(Option<String>, ast::Expr)>,
    pub indexes: Vec<Index>,
    pub tree: String,
    pub sql: String,
    /// Constraint-level ON CONFLICT clauses.
    pub conflicts: ConflictClauses,
    /// FOREIGN KEY constraints of this (child) table.
    pub foreign_keys: Vec<ForeignKey>,
}

impl Table {
    /// The position of column `name` (case-insensitive).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Values per row as the executor sees it: the columns, plus the rowid
    /// for rowid tables.
    pub fn width(&self) -> usize {
        self.columns.len() + usize::from(!self.without_rowid)
    }
}

/// A view: a stored query.
#[derive(Clone, Debug)]
pub struct View {
    pub name: String,
    pub columns: Vec<String>,
    pub query: ast::Query,
    pub sql: String,
}

/// Every table, index, view and trigger, keyed by lower-case name.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub tables: BTreeMap<String, Table>,
    pub views: BTreeMap<String, View>,
    /// Triggers have a namespace of their own (trigger/mod.rs).
    pub triggers: BTreeMap<String, crate::sql::trigger::Trigger>,
}

/// The key of `name` in the catalog tree and in the maps above.
pub fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// The last part of a (possibly schema-qualified) object name.
pub fn object_name(name: &ast::ObjectName) -> Result<String> {
    match name.0.last() {
        Some(ast::ObjectNamePart::Identifier(ident)) => {
            if name.0.len() == 2 {
                if let Some(ast::ObjectNamePart::Identifier(schema)) = name.0.first() {
                    if !schema.value.eq_ignore_ascii_case("main") {
                        return Err(Error::NotFound(format!(
                            "no such database: {}",
                            schema.value
                        )));
                    }
                }
            } else if name.0.len() > 2 {
                return Err(invalid!("name {name} has too many parts"));
            }
            Ok(ident.value.clone())
        }
        _ => Err(invalid!("unsupported object name {name}")),
    }
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(&fold(name))
    }

    /// The table of index `name`, and the index's position in it.
    pub fn index(&self, name: &str) -> Option<(&Table, usize)> {
        self.tables.values().find_map(|t| {
            t.indexes
                .iter()
                .position(|i| i.name.eq_ignore_ascii_case(name))
                .map(|p| (t, p))
        })
    }

    /// True if a table, view or index already uses `name`.
    pub fn name_taken(&self, name: &str) -> bool {
        self.tables.contains_key(&fold(name))
            || self.views.contains_key(&fold(name))
            || self.index(name).is_some()
    }

    /// Loads the schema stored in the catalog tree, if it exists.
    pub fn load(engine: &mut Engine, txn: TxnId) -> Result<Schema> {
        let mut schema = Schema::default();
        let Some(tree) = engine.tree(txn, CATALOG_TREE)? else {
            return Ok(schema);
        };
        let mut entries = Vec::new();
        let mut cursor = engine.cursor(txn, tree, Bound::Unbounded, Bound::Unbounded)?;
        while let Some((_, value)) = cursor.next(engine)? {
            // Triggers add a fifth value, their creation order.
            let mut row = decode_row(&value, 5)?;
            let (Value::Text(kind), Value::Text(sql)) = (&row[0], &row[3]) else {
                return Err(corruption!("catalog row without type or SQL text"));
            };
            entries.push((kind.clone(), sql.clone(), row.swap_remove(4)));
        }
        // Tables first: indexes, views and triggers name them.
        for pass in ["table", "index", "view", "trigger"] {
            for (kind, sql, seq) in entries.iter().filter(|(k, _, _)| k == pass) {
                let stmt = parse::parse_one(sql)
                    .map_err(|e| corruption!("catalog {kind} does not parse: {e}"))?;
                match (kind.as_str(), &stmt) {
                    ("trigger", _) => crate::sql::trigger::load(&mut schema, &stmt, sql, seq)?,
                    ("table", ast::Statement::CreateTable(create)) => {
                        let table = table_from_ast(create, sql.clone())?;
                        schema.tables.insert(fold(&table.name), table);
                    }
                    ("index", ast::Statement::CreateIndex(create)) => {
                        let index = index_from_ast(&schema, create, sql.clone())?;
                        let table = schema
                            .tables
                            .get_mut(&fold(&index.table))
                            .ok_or_else(|| corruption!("index on missing table"))?;
                        table.indexes.push(index);
                    }
                    ("view", ast::Statement::CreateView(create)) => {
                        let view = view_from_ast(create, sql.clone())?;
                        schema.views.insert(fold(&view.name), view);
                    }
                    _ => return Err(corruption!("catalog entry of type {kind} holds {sql:?}")),
                }
            }
        }
        Ok(schema)
    }
}

/// Writes (or with `sql = None`, deletes) the catalog row of `name`.
pub fn store_entry(
    engine: &mut Engine,
    txn: TxnId,
    kind: &str,
    name: &str,
    table: &str,
    sql: Option<&str>,
) -> Result<()> {
    let tree = match engine.tree(txn, CATALOG_TREE)? {
        Some(tree) => tree,
        None => engine.create_tree(txn, CATALOG_TREE, TreeKind::Table)?,
    };
    let mut key = Vec::new();
    keycode::encode_column(
        &KeyValue::Text(fold(name)),
        keycode::Direction::Asc,
        &mut key,
    );
    match sql {
        Some(sql) => {
            let mut value = Vec::new();
            let row = [
                Value::Text(kind.into()),
                Value::Text(name.into()),
                Value::Text(table.into()),
                Value::Text(sql.into()),
            ];
            encode_row(&row, &mut value);
            engine.put(txn, tree, &key, &value)
        }
        None => engine.delete(txn, tree, &key).map(|_| ()),
    }
}

fn ident_list(columns: &[ast::IndexColumn]) -> Result<Vec<(String, Option<Collation>)>> {
    columns
        .iter()
        .map(|c| match &c.column.expr {
            ast::Expr::Identifier(id) => Ok((id.value.clone(), None)),
            ast::Expr::Collate { expr, collation } => match expr.as_ref() {
                ast::Expr::Identifier(id) => Ok((id.value.clone(), Some(collation_of(collation)?))),
                other => Err(invalid!(
                    "indexes on expressions are not supported: {other}"
                )),
            },
            other => Err(invalid!(
                "indexes on expressions are not supported: {other}"
            )),
        })
        .collect()
}

/// The collation called `name`.
pub fn collation_of(name: &ast::ObjectName) -> Result<Collation> {
    let text = name.to_string();
    Collation::from_name(text.trim_matches('"'))
        .ok_or_else(|| Error::NotFound(format!("no such collation sequence: {text}")))
}

fn is_integer_type(decl: &str) -> bool {
    decl.trim().eq_ignore_ascii_case("INTEGER")
}

/// Builds a table from its CREATE TABLE statement.
pub fn table_from_ast(create: &ast::CreateTable, sql: String) -> Result<Table> {
    let name = object_name(&create.name)?;
    if create.query.is_some() {
        return Err(invalid!("CREATE TABLE ... AS SELECT is not supported"));
    }
    if create.columns.is_empty() {
        return Err(invalid!("table {name} has no columns"));
    }
    let mut columns: Vec<Column> = Vec::new();
    let mut pk: Vec<(String, bool)> = Vec::new();
    let mut uniques: Vec<Vec<(String, Option<Collation>)>> = Vec::new();
    let mut checks = Vec::new();
    let mut conflicts = ConflictClauses::default();
    let mut foreign_keys = Vec::new();
    // Which unique constraint (by position in `uniques`) has a clause.
    let mut unique_conflicts: Vec<(usize, Resolution)> = Vec::new();
    for def in &create.columns {
        if columns
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(&def.name.value))
        {
            return Err(invalid!("duplicate column name: {}", def.name.value));
        }
        let decl_type = match &def.data_type {
            ast::DataType::Unspecified => String::new(),
            other => other.to_string(),
        };
        let mut column = Column {
            name: def.name.value.clone(),
            affinity: affinity_of_type(&decl_type),
            decl_type,
            not_null: false,
            default: None,
            collation: Collation::Binary,
        };
        // The constraint an `ON CONFLICT` clause after it applies to.
        let mut last: Option<&ast::ColumnOption> = None;
        for option in &def.options {
            if let ast::ColumnOption::OnConflict(word) = &option.option {
                let how = Resolution::of_keyword(&word.to_string())
                    .ok_or_else(|| invalid!("unknown conflict resolution {word}"))?;
                match last {
                    Some(ast::ColumnOption::NotNull) => {
                        conflicts.not_null.push((columns.len(), how))
                    }
                    Some(ast::ColumnOption::PrimaryKey(_)) => conflicts.primary_key = Some(how),
                    Some(ast::ColumnOption::Unique(_)) => {
                        unique_conflicts.push((uniques.len() - 1, how))
                    }
                    _ => return Err(invalid!("misplaced ON CONFLICT clause")),
                }
                continue;
            }
            last = Some(&option.option);
            match &option.option {
                ast::ColumnOption::NotNull => column.not_null = true,
                ast::ColumnOption::Null => {}
                ast::ColumnOption::Default(expr) => column.default = Some(expr.clone()),
                ast::ColumnOption::Collation(c) => column.collation = collation_of(c)?,
                ast::ColumnOption::PrimaryKey(_) => {
                    if !pk.is_empty() {
                        return Err(invalid!("table {name} has more than one primary key"));
                    }
                    pk.push((column.name.clone(), false));
                }
                ast::ColumnOption::Unique(_) => uniques.push(vec![(column.name.clone(), None)]),
                ast::ColumnOption::Check(check) => checks.push((
                    option.name.as_ref().map(|n| n.value.clone()),
                    check.expr.as_ref().clone(),
                )),
                // References are enforced by fk.rs from the table's SQL;
                // AUTOINCREMENT is accepted.
                ast::ColumnOption::ForeignKey(fk) => {
                    foreign_keys.push(ForeignKey::from_ast(fk, &columns, Some(columns.len()))?)
                }
                ast::ColumnOption::DialectSpecific(_)
                | ast::ColumnOption::OnConflict(_)
                | ast::ColumnOption::Comment(_) => {}
                other => return Err(invalid!("unsupported column option: {other}")),
            }
        }
        columns.push(column);
    }
    for constraint in &create.constraints {
        match constraint {
            ast::TableConstraint::PrimaryKey(p) => {
                if !pk.is_empty() {
                    return Err(invalid!("table {name} has more than one primary key"));
                }
                for c in ident_list(&p.columns)? {
                    pk.push((c.0, false));
                }
                if let Some(how) = table_conflict(&p.index_options)? {
                    conflicts.primary_key = Some(how);
                }
            }
            ast::TableConstraint::Unique(u) => {
                if let Some(how) = table_conflict(&u.index_options)? {
                    unique_conflicts.push((uniques.len(), how));
                }
                uniques.push(ident_list(&u.columns)?)
            }
            ast::TableConstraint::Check(check) => checks.push((
                check.name.as_ref().map(|n| n.value.clone()),
                check.expr.as_ref().clone(),
            )),
            ast::TableConstraint::ForeignKey(fk) => {
                foreign_keys.push(ForeignKey::from_ast(fk, &columns, None)?)
            }
            other => return Err(invalid!("unsupported table constraint: {other}")),
        }
    }
    let position = |columns: &[Column], col: &str| {
        columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(col))
            .ok_or_else(|| Error::NotFound(format!("no such column: {col}")))
    };
    let primary_key = pk
        .iter()
        .map(|(c, _)| position(&columns, c))
        .collect::<Result<Vec<_>>>()?;
    let without_rowid = create.without_rowid;
    let rowid_alias = match primary_key.as_slice() {
        [only] if !without_rowid && is_integer_type(&columns[*only].decl_type) => Some(*only),
        _ => None,
    };
    if without_rowid {
        if primary_key.is_empty() {
            return Err(invalid!("PRIMARY KEY missing on table {name}"));
        }
        for &c in &primary_key {
            columns[c].not_null = true;
        }
    }
    let mut table = Table {
        tree: format!("t:{}", fold(&name)),
        name,
        columns,
        rowid_alias,
        without_rowid,
        primary_key,
        checks,
        indexes: Vec::new(),
        sql,
        conflicts,
        foreign_keys,
    };
    let mut implied: Vec<Vec<(usize, Option<Collation>)>> = Vec::new();
    let mut implied_conflicts = Vec::new();
    if rowid_alias.is_none() && !without_rowid && !table.primary_key.is_empty() {
        implied.push(table.primary_key.iter().map(|&c| (c, None)).collect());
        implied_conflicts.push(table.conflicts.primary_key);
    }
    for (u, unique) in uniques.into_iter().enumerate() {
        implied_conflicts.push(
            unique_conflicts
                .iter()
                .find(|(i, _)| *i == u)
                .map(|(_, how)| *how),
        );
        let cols = unique
            .iter()
            .map(|(c, coll)| Ok((position(&table.columns, c)?, *coll)))
            .collect::<Result<Vec<_>>>()?;
        implied.push(cols);
    }
    for (n, cols) in implied.into_iter().enumerate() {
        let index_name = format!("sqlite_autoindex_{}_{}", table.name, n + 1);
        if let Some(how) = implied_conflicts[n] {
            table.conflicts.indexes.push((index_name.clone(), how));
        }
        table.indexes.push(Index {
            tree: format!("i:{}", fold(&index_name)),
            name: index_name,
            table: table.name.clone(),
            collations: cols
                .iter()
                .map(|(c, coll)| coll.unwrap_or(table.columns[*c].collation))
                .collect(),
            columns: cols.iter().map(|(c, _)| *c).collect(),
            unique: true,
            auto: true,
            sql: None,
        });
    }
    Ok(table)
}

/// A table constraint's `ON CONFLICT` clause, which the parser carries
/// as the index option `COMMENT 'ON CONFLICT word'` (see parse.rs).
fn table_conflict(options: &[ast::IndexOption]) -> Result<Option<Resolution>> {
    let mut found = None;
    for o in options {
        let word = match o {
            ast::IndexOption::Comment(text) => text.strip_prefix("ON CONFLICT "),
            ast::IndexOption::Using(_) => None,
        }
        .ok_or_else(|| invalid!("unsupported constraint option {o}"))?;
        let how = Resolution::of_keyword(word)
            .ok_or_else(|| Error::Syntax(format!("near \"{word}\": syntax error")))?;
        found = Some(how);
    }
    Ok(found)
}

/// Builds an index from its CREATE INDEX statement.
pub fn index_from_ast(schema: &Schema, create: &ast::CreateIndex, sql: String) -> Result<Index> {
    let name = create
        .name
        .as_ref()
        .map(object_name)
        .transpose()?
        .ok_or_else(|| invalid!("CREATE INDEX needs a name"))?;
    let table_name = object_name(&create.table_name)?;
    let table = schema
        .table(&table_name)
        .ok_or_else(|| Error::NotFound(format!("no such table: {table_name}")))?;
    if create.predicate.is_some() {
        return Err(invalid!("partial indexes are not supported"));
    }
    let mut columns = Vec::new();
    let mut collations = Vec::new();
    for (col, coll) in ident_list(&create.columns)? {
        let pos = table
            .column(&col)
            .ok_or_else(|| Error::NotFound(format!("no such column: {col}")))?;
        columns.push(pos);
        collations.push(coll.unwrap_or(table.columns[pos].collation));
    }
    Ok(Index {
        tree: format!("i:{}", fold(&name)),
        name,
        table: table.name.clone(),
        columns,
        collations,
        unique: create.unique,
        auto: false,
        sql: Some(sql),
    })
}

/// Builds a view from its CREATE VIEW statement. Column names come from
/// the statement's column list, or are filled in when the view is bound.
pub fn view_from_ast(create: &ast::CreateView, sql: String) -> Result<View> {
    Ok(View {
        name: object_name(&create.name)?,
        columns: create
            .columns
            .iter()
            .map(|c| c.name.value.clone())
            .collect(),
        query: create.query.as_ref().clone(),
        sql,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(sql: &str) -> Result<Table> {
        match parse::parse_one(sql)? {
            ast::Statement::CreateTable(c) => table_from_ast(&c, sql.into()),
            _ => unreachable!("test passes CREATE TABLE"),
        }
    }

    #[test]
    fn integer_primary_key_aliases_the_rowid() {
        let t = table("CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT)").unwrap();
        assert_eq!(t.rowid_alias, Some(0));
        assert!(t.indexes.is_empty());
        let t = table("CREATE TABLE t(a INT PRIMARY KEY, b TEXT)").unwrap();
        assert_eq!(t.rowid_alias, None, "only INTEGER aliases the rowid");
        assert_eq!(t.indexes.len(), 1);
        assert!(t.indexes[0].unique);
    }

    #[test]
    fn constraints_become_indexes_and_checks() {
        let t = table(
            "CREATE TABLE t(a, b TEXT NOT NULL COLLATE NOCASE UNIQUE, c REAL DEFAULT 1.5, \
             CHECK (c > 0), UNIQUE (a, c))",
        )
        .unwrap();
        assert_eq!(t.indexes.len(), 2);
        assert_eq!(t.indexes[0].columns, vec![1]);
        assert_eq!(t.indexes[0].collations, vec![Collation::NoCase]);
        assert_eq!(t.indexes[1].columns, vec![0, 2]);
        assert!(t.columns[1].not_null);
        assert!(t.columns[2].default.is_some());
        assert_eq!(t.checks.len(), 1);
        assert_eq!(t.width(), 4);
    }

    #[test]
    fn bad_definitions_are_rejected() {
        assert!(table("CREATE TABLE t(a, a)").is_err());
        assert!(table("CREATE TABLE t(a, UNIQUE(b))").is_err());
        assert!(table("CREATE TABLE t(a PRIMARY KEY, b PRIMARY KEY)").is_err());
        assert!(table("CREATE TABLE t(a) WITHOUT ROWID").is_err());
        assert!(table("CREATE TABLE t(a TEXT COLLATE klingon)").is_err());
    }
}
