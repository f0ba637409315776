//! The client's one error type.
//!
//! Kinds say what the caller does next: fix the call (`InvalidInput`),
//! check names (`NotFound`), fix credentials (`Unauthorized`), retry later
//! (`Transport`, and `Server` when [`Error::is_retryable`]), split the read
//! (`Limit`), or report a broken lake (`Corrupt`). The catalog's REST
//! errors (`{"error": {"message", "type", "code"}}`) and the bucket's S3
//! errors (`<Error><Code>..`) map onto these kinds by status and type; the
//! original type stays in the message.
//!
//! Invariant: nothing the server sends can make the client panic; bytes
//! that do not decode are `Corrupt` (lake objects) or `Protocol` (answers).

use std::time::Duration;

/// Everything a lake-client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller's input was refused before anything was sent (bad URL,
    /// empty namespace, unknown snapshot id), or the catalog answered 400.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// No such namespace, table, snapshot or object.
    #[error("not found: {0}")]
    NotFound(String),
    /// The token was refused (HTTP 401 or 403).
    #[error("not authorized: {0}")]
    Unauthorized(String),
    /// The server failed or refused in another way; `status` and the
    /// catalog's exception `kind` (e.g. `CommitFailedException`) say which.
    #[error("server error {status} {kind}: {message}")]
    Server {
        status: u16,
        kind: String,
        message: String,
    },
    /// The connection failed or the server did not answer in time.
    #[error("transport error: {0}")]
    Transport(String),
    /// No answer within the request timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The server answered with something the protocol does not allow.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Lake objects (metadata, manifests, Parquet) do not decode, or an
    /// object's size differs from what its manifest records.
    #[error("corrupt lake data: {0}")]
    Corrupt(String),
    /// A read would exceed the client's memory bound (see `Config`).
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// The change stream failed (see `sql_client::Error`).
    #[error("change stream: {0}")]
    Changes(#[from] sql_client::Error),
}

/// Shorthand for results of client calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// True when the same call may succeed if made again: transport
    /// failures, timeouts, 5xx answers, 409 conflicts, and retryable
    /// change-stream errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport(_) | Error::Timeout(_) => true,
            Error::Server { status, .. } => *status >= 500 || *status == 409 || *status == 429,
            Error::Changes(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// The error for a failed catalog answer: the REST `ErrorModel`
    /// (`type` dispatches), or the bare status when the body is not one.
    pub(crate) fn from_catalog(status: u16, body: &[u8]) -> Error {
        #[derive(serde::Deserialize)]
        struct Model {
            error: Inner,
        }
        #[derive(serde::Deserialize)]
        struct Inner {
            message: String,
            #[serde(rename = "type")]
            kind: String,
        }
        let (kind, message) = match serde_json::from_slice::<Model>(body) {
            Ok(Model { error }) => (error.kind, error.message),
            Err(_) => (String::new(), snippet(body)),
        };
        let text = if kind.is_empty() {
            message.clone()
        } else {
            format!("{kind}: {message}")
        };
        match (status, kind.as_str()) {
            (401 | 403, _) => Error::Unauthorized(text),
            (
                404,
                "NoSuchNamespaceException" | "NoSuchTableException" | "NoSuchViewException" | "",
            ) => Error::NotFound(text),
            (400 | 422, _) => Error::InvalidInput(text),
            _ => Error::Server {
                status,
                kind,
                message,
            },
        }
    }

    /// The error for a failed bucket answer: S3's XML `<Code>` when there
    /// is one (`NoSuchKey`, `AccessDenied`, ...).
    pub(crate) fn from_s3(status: u16, key: &str, body: &[u8]) -> Error {
        let text = String::from_utf8_lossy(body);
        let code = text
            .split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .map(|(code, _)| code.to_owned())
            .unwrap_or_default();
        let message = format!("object {key}: {code} (HTTP {status})");
        match status {
            401 | 403 => Error::Unauthorized(message),
            404 => Error::NotFound(message),
            _ => Error::Server {
                status,
                kind: code,
                message,
            },
        }
    }
}

/// The start of a body, for messages.
fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
}

impl From<dolake::Error> for Error {
    fn from(e: dolake::Error) -> Error {
        match e {
            dolake::Error::NotFound(m) => Error::NotFound(m),
            dolake::Error::InvalidInput(m) => Error::InvalidInput(m),
            dolake::Error::Limit(m) => Error::Limit(m),
            dolake::Error::Io(m) => Error::Transport(m),
            // What the reader cannot read in objects the catalog points at
            // is a broken (or foreign) table, not the caller's mistake.
            dolake::Error::Corrupt(m)
            | dolake::Error::Unsupported(m)
            | dolake::Error::Conflict(m) => Error::Corrupt(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_error_models_map_by_status_and_type() {
        let model = |code: u16, kind: &str| {
            let body = serde_json::json!({"error": {"message": "m", "type": kind, "code": code}});
            Error::from_catalog(code, body.to_string().as_bytes())
        };
        assert!(matches!(
            model(401, "NotAuthorizedException"),
            Error::Unauthorized(_)
        ));
        assert!(matches!(
            model(403, "ForbiddenException"),
            Error::Unauthorized(_)
        ));
        assert!(matches!(
            model(404, "NoSuchTableException"),
            Error::NotFound(m) if m == "NoSuchTableException: m"
        ));
        assert!(matches!(
            model(400, "BadRequestException"),
            Error::InvalidInput(_)
        ));
        // An unknown route is the server's problem, not a missing table.
        let e = model(404, "NoSuchEndpointException");
        assert!(matches!(e, Error::Server { status: 404, .. }), "{e}");
        let e = model(409, "CommitFailedException");
        assert!(e.is_retryable());
        assert!(model(500, "InternalServerError").is_retryable());
        let e = Error::from_catalog(502, b"<html>bad gateway</html>");
        assert!(matches!(e, Error::Server { status: 502, ref kind, .. } if kind.is_empty()));
    }

    #[test]
    fn s3_errors_map_by_status_and_keep_the_code() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code></Error>";
        let e = Error::from_s3(404, "a/b", body);
        assert!(matches!(&e, Error::NotFound(m) if m.contains("NoSuchKey") && m.contains("a/b")));
        assert!(matches!(
            Error::from_s3(403, "k", b"<Error><Code>AccessDenied</Code></Error>"),
            Error::Unauthorized(_)
        ));
        assert!(Error::from_s3(503, "k", b"").is_retryable());
        assert!(!Error::Corrupt("x".into()).is_retryable());
    }

    #[test]
    fn reader_errors_keep_their_kind() {
        let e: Error = dolake::Error::NotFound("snapshot 9".into()).into();
        assert!(matches!(e, Error::NotFound(_)));
        let e: Error = dolake::Error::Unsupported("equality deletes".into()).into();
        assert!(matches!(e, Error::Corrupt(_)));
    }
}
