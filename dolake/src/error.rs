//! The crate's one error type.
//!
//! Kinds are few and meaningful to a caller deciding what to do next:
//! fix the input (`InvalidInput`, `Unsupported`), retry after reloading
//! state (`Conflict`), look at storage (`Io`, `NotFound`, `Corrupt`), or
//! split the work (`Limit`). Nothing in this crate panics on user input or on
//! bytes read from storage; those paths return `Corrupt` instead.

use thiserror::Error;

/// Every fallible operation in `dolake` returns this.
#[derive(Debug, Error)]
pub enum Error {
    /// The caller's input is invalid (bad schema change, unknown column,
    /// malformed location, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Valid input that this implementation deliberately does not support.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The table changed under the caller (stale state); reload and retry.
    #[error("conflict: {0}")]
    Conflict(String),
    /// An object that should exist does not.
    #[error("not found: {0}")]
    NotFound(String),
    /// Stored bytes (JSON, Avro, Parquet) do not decode as they must.
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// A size or count limit was exceeded.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// The object store failed.
    #[error("i/o: {0}")]
    Io(String),
}

/// Shorthand used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound(e.to_string())
        } else {
            Error::Io(e.to_string())
        }
    }
}

impl From<parquet::errors::ParquetError> for Error {
    fn from(e: parquet::errors::ParquetError) -> Self {
        Error::Corrupt(format!("parquet: {e}"))
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        Error::InvalidInput(format!("arrow: {e}"))
    }
}
