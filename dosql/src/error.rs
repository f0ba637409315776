//! The one error type of the `dosql` crate.
//!
//! Every failure falls into one of a few kinds that mean something to a
//! caller, because each kind maps to one wire error code and to one
//! reaction:
//!
//! | kind            | caller's reaction                         |
//! |-----------------|-------------------------------------------|
//! | `InvalidInput`  | fix the request; nothing was changed      |
//! | `Syntax`        | fix the SQL text (the message names the position) |
//! | `NotFound`      | name an object that exists (table, column, ...) |
//! | `TypeMismatch`  | pass a value of the right type            |
//! | `Constraint`    | fix the data; nothing was changed         |
//! | `Conflict`      | retry the whole transaction               |
//! | `LimitExceeded` | make the request smaller                  |
//! | `Io`            | storage failed; the database may be poisoned |
//! | `Corruption`    | stored bytes failed a checksum or invariant |
//!
//! Panics are reserved for broken internal invariants: user input never
//! panics.

/// The result type used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the DoSQL engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request itself is malformed (bad key, unknown tree, bad config).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// SQL text that does not parse; the message names line and column.
    #[error("syntax error: {0}")]
    Syntax(String),
    /// A named object (table, index, view, trigger, column, function)
    /// does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A value has a type the operation cannot accept.
    #[error("type mismatch: {0}")]
    TypeMismatch(String),
    /// A constraint of the data model was violated.
    #[error("constraint violation: {0}")]
    Constraint(String),
    /// A concurrent transaction won a write-write conflict; retry.
    #[error("conflict: {0} (retryable)")]
    Conflict(String),
    /// A configured or platform limit was exceeded.
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// The underlying store failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored data failed a checksum or a structural check.
    #[error("corruption: {0}")]
    Corruption(String),
}

impl Error {
    /// True when retrying the same transaction may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Conflict(_))
    }

    /// A short stable name for the kind, used for wire error codes.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput(_) => "INVALID_INPUT",
            Error::Syntax(_) => "SYNTAX",
            Error::NotFound(_) => "NOT_FOUND",
            Error::TypeMismatch(_) => "TYPE_MISMATCH",
            Error::Constraint(_) => "CONSTRAINT",
            Error::Conflict(_) => "CONFLICT",
            Error::LimitExceeded(_) => "LIMIT_EXCEEDED",
            Error::Io(_) => "IO",
            Error::Corruption(_) => "CORRUPTION",
        }
    }
}

/// Shorthand for building a corruption error with a formatted message.
#[macro_export]
macro_rules! corruption {
    ($($arg:tt)*) => { $crate::error::Error::Corruption(format!($($arg)*)) };
}

/// Shorthand for building an invalid-input error with a formatted message.
#[macro_export]
macro_rules! invalid {
    ($($arg:tt)*) => { $crate::error::Error::InvalidInput(format!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_conflicts_are_retryable() {
        assert!(Error::Conflict("k".into()).is_retryable());
        assert!(!Error::Corruption("x".into()).is_retryable());
        assert_eq!(corruption!("page {}", 7).code(), "CORRUPTION");
        assert_eq!(invalid!("bad").to_string(), "invalid input: bad");
    }
}
