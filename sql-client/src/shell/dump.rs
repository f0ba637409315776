//! `.dump`: SQL text that recreates the database exactly.
//!
//! ```text
//!   BEGIN TRANSACTION;
//!   CREATE TABLE t(...);            every table, in schema order
//!   INSERT INTO t VALUES(1,'a',X'00');   its rows, in rowid order
//!   CREATE INDEX i ON t(...);       explicit indexes (automatic ones come
//!   CREATE VIEW v AS ...;            back with their table), then views
//!   COMMIT;
//! ```
//!
//! Values are written by [`super::quote::sql_literal`], so 64-bit
//! integers, reals (bit for bit) and blobs survive. Rows are read in pages
//! keyed by rowid, so a large table never exceeds the result size limit.
//! As in sqlite3, rowids of tables without an INTEGER PRIMARY KEY are not
//! preserved (their order is).

use std::io::Write;

use shared_types::{TableInfo, Value};

use super::quote::{ident, sql_literal};
use crate::client::Client;
use crate::error::{Error, Result};

/// Rows read per round trip.
const PAGE_ROWS: usize = 500;

/// Writes the dump of the whole database to `out`.
pub async fn dump(client: &Client, out: &mut dyn Write) -> Result<()> {
    let schema = client.schema().await?;
    let io = |e: std::io::Error| Error::Invalid(format!("cannot write the dump: {e}"));
    writeln!(out, "BEGIN TRANSACTION;").map_err(io)?;
    let (tables, views): (Vec<&TableInfo>, Vec<&TableInfo>) =
        schema.tables.iter().partition(|t| t.kind == "table");
    for table in &tables {
        writeln!(out, "{}", statement(&table.sql)).map_err(io)?;
        dump_rows(client, table, out).await?;
    }
    for table in &tables {
        for index in &table.indexes {
            if let Some(sql) = &index.sql {
                writeln!(out, "{}", statement(sql)).map_err(io)?;
            }
        }
    }
    for view in views {
        writeln!(out, "{}", statement(&view.sql)).map_err(io)?;
    }
    writeln!(out, "COMMIT;").map_err(io)?;
    Ok(())
}

async fn dump_rows(client: &Client, table: &TableInfo, out: &mut dyn Write) -> Result<()> {
    let name = ident(&table.name);
    let first = format!("SELECT rowid, * FROM {name} ORDER BY rowid LIMIT {PAGE_ROWS}");
    // Later pages start after the last rowid seen (the first page cannot:
    // no value is below i64::MIN, which is a valid rowid).
    let next =
        format!("SELECT rowid, * FROM {name} WHERE rowid > ? ORDER BY rowid LIMIT {PAGE_ROWS}");
    let mut after = None;
    loop {
        let page = match after {
            None => client.query(&first, ()).await?,
            Some(rowid) => client.query(&next, [rowid]).await?,
        };
        for row in &page.rows {
            let Some((Value::Integer(rowid), values)) = row.split_first() else {
                return Err(Error::Protocol(format!(
                    "rowid of a row of {} is not an integer",
                    table.name
                )));
            };
            after = Some(*rowid);
            writeln!(out, "{}", insert(&table.name, values))
                .map_err(|e| Error::Invalid(format!("cannot write the dump: {e}")))?;
        }
        if page.rows.len() < PAGE_ROWS {
            return Ok(());
        }
    }
}

/// `INSERT INTO t VALUES(..);` for one row.
pub fn insert(table: &str, values: &[Value]) -> String {
    let literals: Vec<String> = values.iter().map(sql_literal).collect();
    format!(
        "INSERT INTO {} VALUES({});",
        ident(table),
        literals.join(",")
    )
}

/// Schema text as a statement: with exactly one terminating `;`.
fn statement(sql: &str) -> String {
    format!("{};", sql.trim().trim_end_matches(';').trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_quote_names_and_values_exactly() {
        assert_eq!(
            insert(
                "order",
                &[
                    Value::Integer(i64::MIN),
                    Value::Real(0.1),
                    Value::Text("it's".into()),
                    Value::Blob(vec![0, 255]),
                    Value::Null
                ]
            ),
            "INSERT INTO \"order\" VALUES(-9223372036854775808,0.1,'it''s',X'00FF',NULL);"
        );
    }

    #[test]
    fn statements_end_with_one_semicolon() {
        assert_eq!(statement("CREATE TABLE t(a)"), "CREATE TABLE t(a);");
        assert_eq!(statement("CREATE TABLE t(a);\n"), "CREATE TABLE t(a);");
    }
}
