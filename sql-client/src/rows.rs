//! Results: rows with their column names, and the effect of a write.
//!
//! A [`Rows`] owns what one statement returned; [`Row`] borrows one row of
//! it. Both decode into caller types through serde ([`crate::decode`]).

use serde::de::DeserializeOwned;
use shared_types::{StatementResult, Value};

use crate::decode::decode_row;
use crate::error::{Error, Result};

/// What one statement returned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// Rows inserted, updated or deleted by the statement.
    pub rows_affected: u64,
    /// The connection's last inserted rowid after the statement.
    pub last_insert_rowid: i64,
}

/// The effect of a statement that returns no rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecResult {
    pub rows_affected: u64,
    pub last_insert_rowid: i64,
}

impl From<StatementResult> for Rows {
    fn from(r: StatementResult) -> Rows {
        Rows {
            columns: r.columns,
            rows: r.rows,
            rows_affected: r.rows_affected,
            last_insert_rowid: r.last_insert_rowid,
        }
    }
}

impl From<&Rows> for ExecResult {
    fn from(r: &Rows) -> ExecResult {
        ExecResult {
            rows_affected: r.rows_affected,
            last_insert_rowid: r.last_insert_rowid,
        }
    }
}

impl Rows {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The write effect of the statement.
    pub fn exec_result(&self) -> ExecResult {
        ExecResult::from(self)
    }

    /// Position of a column by name (the first one, if repeated).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    pub fn get(&self, row: usize) -> Option<Row<'_>> {
        self.rows.get(row).map(|values| Row {
            columns: &self.columns,
            values,
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|values| Row {
            columns: &self.columns,
            values,
        })
    }

    /// Decodes every row into `T`: structs by column name, tuples by
    /// position, scalars from one-column rows.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.iter()
            .enumerate()
            .map(|(i, row)| row.decode_at(i))
            .collect()
    }

    /// Decodes the first row, if there is one.
    pub fn first<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        self.get(0).map(|r| r.decode_at(0)).transpose()
    }

    /// Decodes the only row: an error unless there is exactly one.
    pub fn one<T: DeserializeOwned>(&self) -> Result<T> {
        match self.rows.len() {
            1 => self.get(0).expect("one row").decode_at(0),
            n => Err(Error::Decode {
                row: 0,
                message: format!("expected exactly one row, got {n}"),
            }),
        }
    }
}

/// One row of a [`Rows`].
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    pub columns: &'a [String],
    pub values: &'a [Value],
}

impl<'a> Row<'a> {
    /// A value by column name.
    pub fn get(&self, column: &str) -> Option<&'a Value> {
        let i = self.columns.iter().position(|c| c == column)?;
        self.values.get(i)
    }

    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        self.decode_at(0)
    }

    fn decode_at<T: DeserializeOwned>(&self, row: usize) -> Result<T> {
        decode_row(self.columns, self.values).map_err(|e| Error::Decode { row, message: e.0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Rows {
        Rows {
            columns: vec!["id".into(), "name".into()],
            rows: vec![
                vec![Value::Integer(1), Value::Text("a".into())],
                vec![Value::Integer(2), Value::Null],
            ],
            rows_affected: 0,
            last_insert_rowid: 0,
        }
    }

    #[test]
    fn decode_reports_the_failing_row() {
        let r = rows();
        let ok: Vec<(i64, Option<String>)> = r.decode().unwrap();
        assert_eq!(ok, vec![(1, Some("a".into())), (2, None)]);
        match r.decode::<(i64, String)>() {
            Err(Error::Decode { row, message }) => {
                assert_eq!(row, 1);
                assert!(message.contains("unit"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn access_by_name_and_cardinality() {
        let r = rows();
        assert_eq!(r.get(1).unwrap().get("id"), Some(&Value::Integer(2)));
        assert_eq!(r.get(0).unwrap().get("nope"), None);
        assert_eq!(r.column_index("name"), Some(1));
        assert_eq!(r.first::<(i64, String)>().unwrap(), Some((1, "a".into())));
        assert!(r.one::<(i64, String)>().is_err());
        assert_eq!(Rows::default().first::<i64>().unwrap(), None);
    }
}
