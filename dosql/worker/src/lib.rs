//! DoSQL as a Cloudflare Worker.
//!
//! ```text
//!   client ──HTTP──> Worker fetch ──idFromName(name)──> DoSql Object "name"
//!                      /health                           engine (dosql)
//!                      /db/{name}/...                      DoPageStore ─┐ Object's
//!                                                          DoLogStore  ─┘ SQLite
//! ```
//!
//! The Worker is stateless: it answers `/health` and forwards every
//! `/db/{name}/...` request to the Durable Object named `name`, so that one
//! name is one database, kept apart from every other. The only endpoint so
//! far is the bootstrap `POST /db/{name}/sql` ([`json`]), the stand-in for
//! issue 4's wire protocol.

pub mod json;
pub mod object;
pub mod store;

pub use object::DoSql;
pub use store::{DoLogStore, DoPageStore, DoSqlHandle, WAL_PART_BYTES};

use dosql::error::Error;
use worker::{event, Context, Env, Request, Response};

/// The Durable Object binding in wrangler.toml.
pub const BINDING: &str = "DOSQL";

/// Longest database name accepted (Object names may be longer; these go
/// into URLs and logs).
pub const MAX_NAME_LEN: usize = 256;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let path = req.path();
    if path == "/health" {
        return Response::from_json(&serde_json::json!({ "status": "ok" }));
    }
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next()) {
        (Some("db"), Some(name)) if !name.is_empty() && name.len() <= MAX_NAME_LEN => {
            let stub = env
                .durable_object(BINDING)?
                .id_from_name(name)?
                .get_stub()?;
            stub.fetch_with_request(req).await
        }
        (Some("db"), Some(name)) => object::error_response(&Error::InvalidInput(format!(
            "database name must have 1 to {MAX_NAME_LEN} bytes, not {}",
            name.len()
        ))),
        _ => object::error_response(&Error::NotFound(format!("no route for {path}"))),
    }
}
