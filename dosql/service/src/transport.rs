//! What every transport does the same way: frames and bodies in and out,
//! HTTP statuses, and the bearer-token check.
//!
//! ```text
//!   WebSocket text frame  ── decode_frame ──> ClientFrame | (id?, INVALID_REQUEST / LIMIT_EXCEEDED)
//!   ServerFrame           ── encode_frame ──> text frame
//!   HTTP body             ── http_pipeline / http_batch ──> (status, JSON body)
//!   Authorization header  ── bearer_ok (constant time) ──> 401 + auth_error_body
//! ```
//!
//! A pipeline answers 200 whenever its body decodes (each response carries
//! its own outcome); a batch answers 200 with its results or the status of
//! its error. Every failed HTTP response has the body `{"error": WireError}`.

use serde::de::DeserializeOwned;
use shared_types::limits::{MAX_HTTP_BODY_BYTES, MAX_WS_FRAME_BYTES};
use shared_types::protocol::HttpError;
use shared_types::{BatchRequest, ClientFrame, ErrorCode, PipelineRequest, ServerFrame, WireError};
use subtle::ConstantTimeEq;

use crate::bind::limit;
use crate::Service;

/// Decodes one WebSocket text frame, refusing frames over
/// [`MAX_WS_FRAME_BYTES`] unread (their id is then unknown).
pub fn decode_frame(text: &[u8]) -> Result<ClientFrame, (Option<u64>, WireError)> {
    if text.len() > MAX_WS_FRAME_BYTES {
        return Err((
            None,
            limit(format!(
                "a frame of {} bytes exceeds the maximum of {MAX_WS_FRAME_BYTES}; send large requests over HTTP",
                text.len()
            )),
        ));
    }
    ClientFrame::decode(text)
}

/// The text of a server frame.
pub fn encode_frame(frame: &ServerFrame) -> String {
    // Every ServerFrame serialises: its maps have string keys.
    serde_json::to_string(frame).expect("server frames serialise")
}

/// The answer to a WebSocket frame that was not text (binary frames are
/// not part of the protocol).
pub fn binary_frame_error() -> ServerFrame {
    ServerFrame {
        id: None,
        response: shared_types::Response::Error(WireError::new(
            ErrorCode::InvalidRequest,
            "binary frames are not supported; send JSON text frames",
        )),
    }
}

/// The HTTP status of a failed request.
pub fn http_status(e: &WireError) -> u16 {
    e.code.http_status()
}

/// The body of a failed HTTP response: `{"error": {...}}`.
pub fn error_body(e: &WireError) -> String {
    serde_json::to_string(&HttpError { error: e.clone() }).expect("errors serialise")
}

/// The error every transport answers a missing or wrong token with.
pub fn auth_error() -> WireError {
    WireError::new(
        ErrorCode::Auth,
        "missing or invalid bearer token (send Authorization: Bearer <token>)",
    )
}

/// Whether an `Authorization` header value carries `token`. The
/// comparison takes the same time whatever the bytes (only the length of
/// the given token shows).
pub fn bearer_ok(authorization: Option<&str>, token: &str) -> bool {
    let Some(value) = authorization else {
        return false;
    };
    let Some((scheme, given)) = value.trim().split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && token_ok(given.trim(), token)
}

/// Constant-time comparison of a presented token with the expected one.
/// An empty expected token matches nothing.
pub fn token_ok(given: &str, token: &str) -> bool {
    !token.is_empty() && bool::from(given.as_bytes().ct_eq(token.as_bytes()))
}

/// Decodes an HTTP request body strictly.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    if body.len() > MAX_HTTP_BODY_BYTES {
        return Err(limit(format!(
            "a body of {} bytes exceeds the maximum of {MAX_HTTP_BODY_BYTES}",
            body.len()
        )));
    }
    serde_json::from_slice(body)
        .map_err(|e| WireError::new(ErrorCode::InvalidRequest, format!("bad request body: {e}")))
}

fn reply<T: serde::Serialize>(outcome: Result<T, WireError>) -> (u16, String) {
    match outcome {
        Ok(body) => (200, serde_json::to_string(&body).expect("bodies serialise")),
        Err(e) => (http_status(&e), error_body(&e)),
    }
}

impl Service {
    /// `POST /db/{name}/v1/pipeline`: status and JSON body.
    pub fn http_pipeline(&mut self, body: &[u8], now_ms: u64) -> (u16, String) {
        reply(decode_body::<PipelineRequest>(body).and_then(|p| self.pipeline(p, now_ms)))
    }

    /// `POST /db/{name}/v1/batch`: status and JSON body.
    pub fn http_batch(&mut self, body: &[u8], now_ms: u64) -> (u16, String) {
        reply(decode_body::<BatchRequest>(body).and_then(|b| self.batch(b, now_ms)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        assert!(bearer_ok(Some("Bearer s3cret"), "s3cret"));
        assert!(bearer_ok(Some("bearer  s3cret "), "s3cret"));
        assert!(!bearer_ok(Some("Bearer s3cre"), "s3cret"));
        assert!(!bearer_ok(Some("Basic s3cret"), "s3cret"));
        assert!(!bearer_ok(Some("s3cret"), "s3cret"));
        assert!(!bearer_ok(None, "s3cret"));
        assert!(!token_ok("", ""));
        assert_eq!(http_status(&auth_error()), 401);
    }

    #[test]
    fn oversized_frames_and_bodies_are_refused_unread() {
        let big = vec![b' '; MAX_WS_FRAME_BYTES + 1];
        let (id, e) = decode_frame(&big).unwrap_err();
        assert_eq!((id, e.code), (None, ErrorCode::LimitExceeded));
        let big = vec![b' '; MAX_HTTP_BODY_BYTES + 1];
        let e = decode_body::<PipelineRequest>(&big).unwrap_err();
        assert_eq!(e.code, ErrorCode::LimitExceeded);
        let e = decode_body::<BatchRequest>(b"{\"statements\": 1}").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(error_body(&e).starts_with("{\"error\":{\"code\":\"INVALID_REQUEST\""));
    }
}
