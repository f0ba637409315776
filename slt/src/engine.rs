//! The backend contract: what a database must offer to be tested.
//!
//! The runner hands each record's SQL text to [`Engine::run`] and judges
//! the answer; it never parses SQL itself. A statement answers `Ok(None)`
//! (or rows, which a statement record ignores); a query answers
//! `Ok(Some(output))` with typed values in row order, even when there are
//! no rows. Any failure is `Err(message)`: `statement error` records expect
//! one, every other record fails on it.
//!
//! ```text
//!   runner --(sql)--> Engine::run --> Ok(None)                   statement done
//!                                 --> Ok(Some(QueryOutput))      typed rows
//!                                 --> Err(String)                any failure
//! ```
//!
//! An error while producing rows is not `Err`: it is reported in
//! [`QueryOutput::error`] next to the rows produced before it, because the
//! reference driver judged such queries by those rows.
//!
//! Each test file runs against a fresh, empty database: the runner calls
//! the factory once per file (see [`crate::runner::run_file`]). Values are
//! raw engine values, not text: formatting by the record's type letters is
//! the runner's job, so that every engine is judged by the same rules.

/// One value of a result row, as the engine stores it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL, always printed as `NULL`.
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// An IEEE 754 double.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Raw bytes. Engines may also use this for text that is not valid
    /// UTF-8: all formatting rules work on bytes and treat both alike.
    Blob(Vec<u8>),
}

/// The result of a query: `columns` values per row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryOutput {
    /// Number of result columns; checked against the record's type string
    /// even when there are no rows.
    pub columns: usize,
    /// Rows in the order the engine produced them; each has `columns`
    /// values.
    pub rows: Vec<Vec<Value>>,
    /// An error that stopped execution after the query was prepared and
    /// `rows` were produced (for example an integer overflow in `sum()`).
    /// SQLite's reference driver ignored such errors and compared the rows
    /// produced before them, and the corpus relies on it, so the runner
    /// does the same for queries; for statements it is an error.
    pub error: Option<String>,
}

/// A database under test, opened on an empty database.
pub trait Engine {
    /// Runs one record's SQL. Statements return `Ok(None)`; queries return
    /// their rows. Errors carry the engine's message, shown in failure
    /// reports.
    fn run(&mut self, sql: &str) -> Result<Option<QueryOutput>, String>;
}

impl<E: Engine + ?Sized> Engine for Box<E> {
    fn run(&mut self, sql: &str) -> Result<Option<QueryOutput>, String> {
        (**self).run(sql)
    }
}
