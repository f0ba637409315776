//! Typed wire errors.
//!
//! Each engine error kind maps to exactly one [`ErrorCode`], and each code
//! to one HTTP status and one caller reaction:
//!
//! | code              | engine kind                | HTTP | reaction                      |
//! |-------------------|----------------------------|------|-------------------------------|
//! | `INVALID_REQUEST` | `InvalidInput`, bad frames | 400  | fix the request               |
//! | `SYNTAX`          | `Syntax`                   | 400  | fix the SQL (position given)  |
//! | `NOT_FOUND`       | `NotFound`                 | 404  | name an object that exists    |
//! | `TYPE_MISMATCH`   | `TypeMismatch`             | 400  | pass the right type           |
//! | `CONSTRAINT`      | `Constraint`               | 409  | fix the data                  |
//! | `CONFLICT`        | `Conflict`                 | 409  | retry the whole transaction   |
//! | `LIMIT_EXCEEDED`  | `LimitExceeded`            | 413  | make the request smaller      |
//! | `AUTH`            | —                          | 401  | send a valid bearer token     |
//! | `TIMEOUT`         | —                          | 408  | the transaction expired; redo |
//! | `UNAVAILABLE`     | —                          | 503  | retry later (backpressure)    |
//! | `INTERNAL`        | `Io`, `Corruption`         | 500  | report; the server recovers   |
//!
//! Only `CONFLICT` and `UNAVAILABLE` are retryable: the same request may
//! succeed when sent again. Unknown codes (from a newer server) decode as
//! [`ErrorCode::Internal`] so that old clients keep working.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The kind of a failed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidRequest,
    Syntax,
    NotFound,
    TypeMismatch,
    Constraint,
    Conflict,
    LimitExceeded,
    Auth,
    Timeout,
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// Every code, for exhaustive tests and generated bindings.
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::InvalidRequest,
        ErrorCode::Syntax,
        ErrorCode::NotFound,
        ErrorCode::TypeMismatch,
        ErrorCode::Constraint,
        ErrorCode::Conflict,
        ErrorCode::LimitExceeded,
        ErrorCode::Auth,
        ErrorCode::Timeout,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::Syntax => "SYNTAX",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::TypeMismatch => "TYPE_MISMATCH",
            ErrorCode::Constraint => "CONSTRAINT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::LimitExceeded => "LIMIT_EXCEEDED",
            ErrorCode::Auth => "AUTH",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// Parses a wire code; unknown codes become `Internal`.
    pub fn parse(s: &str) -> ErrorCode {
        ErrorCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .unwrap_or(ErrorCode::Internal)
    }

    /// Maps an engine error code (`dosql::Error::code`) to the wire code.
    pub fn from_engine(code: &str) -> ErrorCode {
        match code {
            "INVALID_INPUT" => ErrorCode::InvalidRequest,
            "IO" | "CORRUPTION" => ErrorCode::Internal,
            other => ErrorCode::parse(other),
        }
    }

    /// True when sending the same request again may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorCode::Conflict | ErrorCode::Unavailable)
    }

    /// The HTTP status of a response that failed with this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest | ErrorCode::Syntax | ErrorCode::TypeMismatch => 400,
            ErrorCode::Auth => 401,
            ErrorCode::NotFound => 404,
            ErrorCode::Timeout => 408,
            ErrorCode::Constraint | ErrorCode::Conflict => 409,
            ErrorCode::LimitExceeded => 413,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(ErrorCode::parse(&s))
    }
}

/// A failed request as it travels: `{"code": "SYNTAX", "message": "...",
/// "retryable": false}`, plus the index of the failing statement in a
/// batch or script when there is one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
    /// Redundant with `code` (clients need not know every code to retry).
    pub retryable: bool,
    /// Index of the statement that failed, within a batch or script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<u32>,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> WireError {
        WireError {
            code,
            message: message.into(),
            retryable: code.is_retryable(),
            statement: None,
        }
    }

    /// The same error, attributed to statement `index` of a batch.
    pub fn at_statement(mut self, index: usize) -> WireError {
        self.statement = Some(index as u32);
        self
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(i) = self.statement {
            write!(f, " (statement {i})")?;
        }
        Ok(())
    }
}

impl std::error::Error for WireError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_degrade() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), code);
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
        assert_eq!(ErrorCode::parse("SOMETHING_NEW"), ErrorCode::Internal);
    }

    #[test]
    fn engine_codes_map_to_wire_codes() {
        assert_eq!(
            ErrorCode::from_engine("INVALID_INPUT"),
            ErrorCode::InvalidRequest
        );
        assert_eq!(ErrorCode::from_engine("CONFLICT"), ErrorCode::Conflict);
        assert_eq!(ErrorCode::from_engine("CORRUPTION"), ErrorCode::Internal);
        assert_eq!(
            ErrorCode::from_engine("LIMIT_EXCEEDED"),
            ErrorCode::LimitExceeded
        );
        assert!(ErrorCode::Conflict.is_retryable());
        assert!(!ErrorCode::Constraint.is_retryable());
    }

    #[test]
    fn errors_serialize_compactly() {
        let e = WireError::new(ErrorCode::Conflict, "k").at_statement(2);
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"code":"CONFLICT","message":"k","retryable":true,"statement":2}"#
        );
        assert_eq!(serde_json::from_str::<WireError>(&json).unwrap(), e);
        assert_eq!(e.to_string(), "CONFLICT: k (statement 2)");
    }
}
