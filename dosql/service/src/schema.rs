//! The `schema` request: tables and views with their columns and indexes,
//! from the committed schema, sorted by name (case-insensitively).
//!
//! A view's columns are found by describing `SELECT * FROM view`, so they
//! are the names a query of the view returns.

use dosql::sql::{Database, Session, Table, View};
use shared_types::{ColumnInfo, IndexInfo, SchemaInfo, TableInfo};

/// Describes the committed schema of `db`.
pub fn info(db: &mut Database) -> dosql::Result<SchemaInfo> {
    let mut tables: Vec<(String, TableInfo)> = db
        .schema()
        .tables
        .iter()
        .map(|(key, t)| (key.clone(), table(t)))
        .collect();
    let views: Vec<(String, View)> = db
        .schema()
        .views
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, v) in views {
        let select = format!("SELECT * FROM \"{}\"", v.name.replace('"', "\"\""));
        let columns = db
            .describe(&Session::new(), &select)?
            .pop()
            .unwrap_or_default();
        tables.push((
            key,
            TableInfo {
                name: v.name,
                kind: "view".into(),
                sql: v.sql,
                columns: columns
                    .into_iter()
                    .map(|name| ColumnInfo {
                        name,
                        decl_type: String::new(),
                        not_null: false,
                        primary_key: 0,
                        default: None,
                    })
                    .collect(),
                indexes: Vec::new(),
            },
        ));
    }
    tables.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(SchemaInfo {
        tables: tables.into_iter().map(|(_, t)| t).collect(),
    })
}

fn table(t: &Table) -> TableInfo {
    TableInfo {
        name: t.name.clone(),
        kind: "table".into(),
        sql: t.sql.clone(),
        columns: t
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| ColumnInfo {
                name: c.name.clone(),
                decl_type: c.decl_type.clone(),
                not_null: c.not_null,
                primary_key: t
                    .primary_key
                    .iter()
                    .position(|&p| p == i)
                    .map_or(0, |k| k as u32 + 1),
                default: c.default.as_ref().map(|e| e.to_string()),
            })
            .collect(),
        indexes: t
            .indexes
            .iter()
            .map(|ix| IndexInfo {
                name: ix.name.clone(),
                unique: ix.unique,
                columns: ix
                    .columns
                    .iter()
                    .map(|&c| t.columns[c].name.clone())
                    .collect(),
                sql: ix.sql.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_views_columns_and_indexes() {
        let mut db = Database::open_memory().unwrap();
        let mut s = Session::new();
        db.execute(
            &mut s,
            "CREATE TABLE b(id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT 'x', code UNIQUE);
             CREATE INDEX b_name ON b(name);
             CREATE VIEW a AS SELECT id, name AS n FROM b",
            &[],
        )
        .unwrap();
        let info = info(&mut db).unwrap();
        let names: Vec<_> = info.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let view = &info.tables[0];
        assert_eq!(view.kind, "view");
        let cols: Vec<_> = view.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(cols, ["id", "n"]);
        let b = &info.tables[1];
        assert_eq!(b.kind, "table");
        assert_eq!(b.columns[0].primary_key, 1);
        assert_eq!(b.columns[0].decl_type, "INTEGER");
        assert!(b.columns[1].not_null);
        assert_eq!(b.columns[1].default.as_deref(), Some("'x'"));
        assert_eq!(b.columns[2].primary_key, 0);
        let declared = b.indexes.iter().find(|i| i.name == "b_name").unwrap();
        assert_eq!(declared.columns, ["name"]);
        assert!(!declared.unique && declared.sql.is_some());
        let auto = b.indexes.iter().find(|i| i.unique).unwrap();
        assert_eq!(auto.columns, ["code"]);
        assert!(auto.sql.is_none());
    }
}
