//! The client's one error type.
//!
//! A failure is either the server's answer (a [`WireError`] with its typed
//! [`ErrorCode`]), or something that happened on the way (transport,
//! timeout, a transaction whose connection died), or a local refusal
//! (a URL that is not a database URL, a row that does not decode into the
//! caller's type). Only server errors carry a code; [`Error::is_retryable`]
//! is true exactly when the same request may succeed if sent again.
//!
//! Invariant: a transport failure never means "not executed". A request in
//! flight when a socket drops may or may not have run on the server, so the
//! client reports it and never re-sends it on its own. Only
//! [`Error::NotSent`] (the frame never left) is known not to have run.

use std::time::Duration;

use shared_types::{ErrorCode, WireError};

/// Everything a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server refused or failed the request.
    #[error("{0}")]
    Server(WireError),
    /// The connection failed or closed; the request may or may not have run.
    #[error("transport error: {0}")]
    Transport(String),
    /// The connection closed before the request was written: it did not
    /// run, and sending it again is safe.
    #[error("not sent: {0}")]
    NotSent(String),
    /// No answer within the request timeout; the request may still run.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection of an open transaction died: the server rolls the
    /// transaction back unless its COMMIT had already been applied.
    #[error("transaction lost: {0}")]
    TransactionLost(String),
    /// The server answered with something the protocol does not allow here.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The caller's input was refused before anything was sent.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// A row did not decode into the requested type.
    #[error("cannot decode row {row}: {message}")]
    Decode { row: usize, message: String },
}

/// Shorthand for results of client calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The wire error code, when the server (or a local limit check that
    /// mirrors a server limit) produced the error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Server(e) => Some(e.code),
            _ => None,
        }
    }

    /// True when sending the same request (or re-running the same
    /// transaction) may succeed: `CONFLICT`, `UNAVAILABLE`, and requests
    /// that were never sent.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Server(e) => e.retryable || e.code.is_retryable(),
            Error::NotSent(_) => true,
            _ => false,
        }
    }

    /// The server's error, if it is one.
    pub fn wire(&self) -> Option<&WireError> {
        match self {
            Error::Server(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn server(code: ErrorCode, message: impl Into<String>) -> Error {
        Error::Server(WireError::new(code, message))
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Error {
        Error::Server(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_conflict_and_unavailable_are_retryable() {
        for code in ErrorCode::ALL {
            let e = Error::server(code, "x");
            assert_eq!(e.is_retryable(), code.is_retryable(), "{code}");
            assert_eq!(e.code(), Some(code));
        }
        assert!(!Error::Transport("closed".into()).is_retryable());
        assert!(!Error::TransactionLost("closed".into()).is_retryable());
        assert_eq!(Error::Timeout(Duration::from_secs(1)).code(), None);
    }

    #[test]
    fn messages_name_the_code() {
        let e = Error::Server(WireError::new(ErrorCode::Syntax, "near \"x\"").at_statement(1));
        assert_eq!(e.to_string(), "SYNTAX: near \"x\" (statement 1)");
    }
}
