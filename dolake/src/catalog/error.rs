//! The catalog's REST errors: the `ErrorModel` of the Iceberg REST OpenAPI
//! spec, `{"error": {"message", "type", "code"}}`, one [`Kind`] per
//! exception type a client dispatches on.
//!
//! This is a response, not the crate's library error: crate errors
//! ([`crate::Error`]) and storage errors ([`dosql::Error`]) convert into it
//! at the REST boundary, each to the status a client can act on.

use serde_json::json;

/// The exception types of the spec this catalog answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 400: malformed request, invalid identifier or update.
    BadRequest,
    /// 401: no or wrong bearer token (answered by the host).
    NotAuthorized,
    /// 403: the operation is refused (commits to DoLake-managed tables).
    Forbidden,
    /// 404: unknown route.
    NoSuchEndpoint,
    NoSuchNamespace,
    NoSuchTable,
    /// 405: known route, other method.
    MethodNotAllowed,
    /// 409: the namespace or table exists.
    AlreadyExists,
    /// 409: dropping a namespace that still holds tables or namespaces.
    NamespaceNotEmpty,
    /// 409: a requirement failed or a concurrent commit won; reload, retry.
    CommitFailed,
    /// 422: a property both set and removed in one request.
    UnprocessableEntity,
    /// 500: storage failed.
    Internal,
}

impl Kind {
    /// HTTP status and the spec's exception type name.
    pub fn status_and_type(self) -> (u16, &'static str) {
        match self {
            Kind::BadRequest => (400, "BadRequestException"),
            Kind::NotAuthorized => (401, "NotAuthorizedException"),
            Kind::Forbidden => (403, "ForbiddenException"),
            Kind::NoSuchEndpoint => (404, "NoSuchEndpointException"),
            Kind::NoSuchNamespace => (404, "NoSuchNamespaceException"),
            Kind::NoSuchTable => (404, "NoSuchTableException"),
            Kind::MethodNotAllowed => (405, "MethodNotAllowedException"),
            Kind::AlreadyExists => (409, "AlreadyExistsException"),
            Kind::NamespaceNotEmpty => (409, "NamespaceNotEmptyException"),
            Kind::CommitFailed => (409, "CommitFailedException"),
            Kind::UnprocessableEntity => (422, "UnprocessableEntityException"),
            Kind::Internal => (500, "InternalServerError"),
        }
    }
}

/// One REST error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    pub kind: Kind,
    pub message: String,
}

/// Shorthand for the catalog's handlers.
pub type RestResult<T> = std::result::Result<T, RestError>;

impl RestError {
    pub fn new(kind: Kind, message: impl Into<String>) -> RestError {
        RestError {
            kind,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> RestError {
        RestError::new(Kind::BadRequest, message)
    }

    pub fn commit_failed(message: impl Into<String>) -> RestError {
        RestError::new(Kind::CommitFailed, message)
    }

    /// What the host answers to a request without the right token.
    pub fn not_authorized() -> RestError {
        RestError::new(
            Kind::NotAuthorized,
            "missing or invalid bearer token (Authorization: Bearer TOKEN)",
        )
    }

    pub fn status(&self) -> u16 {
        self.kind.status_and_type().0
    }

    /// The `ErrorModel` JSON body.
    pub fn body(&self) -> String {
        let (code, kind) = self.kind.status_and_type();
        json!({"error": {"message": self.message, "type": kind, "code": code}}).to_string()
    }
}

impl From<dosql::Error> for RestError {
    fn from(e: dosql::Error) -> RestError {
        match e {
            // Another writer of the shared engine won: the client retries.
            dosql::Error::Conflict(m) => RestError::commit_failed(format!("concurrent update: {m}")),
            other => RestError::new(Kind::Internal, format!("catalog storage: {other}")),
        }
    }
}

impl From<crate::Error> for RestError {
    fn from(e: crate::Error) -> RestError {
        use crate::Error as E;
        let kind = match &e {
            E::InvalidInput(_) | E::Unsupported(_) | E::Limit(_) => Kind::BadRequest,
            E::Conflict(_) => Kind::CommitFailed,
            E::NotFound(_) | E::Corrupt(_) | E::Io(_) => Kind::Internal,
        };
        RestError::new(kind, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_follow_the_error_model() {
        let e = RestError::new(Kind::NoSuchTable, "no table a.b");
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(v["error"]["type"], "NoSuchTableException");
        assert_eq!(v["error"]["code"], 404);
        assert_eq!(v["error"]["message"], "no table a.b");
        assert_eq!(RestError::not_authorized().status(), 401);
        let conflict: RestError = dosql::Error::Conflict("k".into()).into();
        assert_eq!(conflict.status(), 409);
    }
}
