//! DoSQL as a Cloudflare Worker.
//!
//! ```text
//!   client ──HTTP/WS──> Worker fetch (stateless)
//!                         GET /health                       {"status":"ok"}
//!                         bearer token check ── 401 ──> client (no Object touched)
//!                         /db/{name}/v1/...  ──idFromName(name)──> DoSql Object "name"
//!                                                                  dosql_service::Service
//!                                                                    dosql::sql::Database
//!                                                                  DoPageStore  DoLogStore
//!                                                                      └── ctx.storage.sql ──┘
//! ```
//!
//! The Worker answers `/health` and authenticates every other request
//! against the `DOSQL_TOKEN` secret (constant-time compare); only then does
//! it forward `/db/{name}/...` to the Durable Object named `name`, so that
//! one name is one database, kept apart from every other. Without a
//! configured secret every `/db` request is refused: an unconfigured
//! deployment is closed, not open. WebSockets may present the token as
//! `?token=` because browsers cannot set headers on them.

pub mod object;
pub mod store;

pub use object::DoSql;
pub use store::{DoLogStore, DoPageStore, DoSqlHandle, WAL_PART_BYTES};

use dosql_service::transport;
use shared_types::{limits, ErrorCode, WireError};
use worker::{event, Context, Env, Request, Response};

/// The Durable Object binding in wrangler.toml.
pub const BINDING: &str = "DOSQL";

/// The secret (or, locally, `.dev.vars` entry) holding the bearer token.
pub const TOKEN_SECRET: &str = "DOSQL_TOKEN";

fn authorized(req: &Request, env: &Env) -> worker::Result<bool> {
    // A secret in production; a plain variable is accepted too (some
    // local setups inject `.dev.vars` entries as vars).
    let token = match env.secret(TOKEN_SECRET) {
        Ok(secret) => secret.to_string(),
        Err(_) => match env.var(TOKEN_SECRET) {
            Ok(var) => var.to_string(),
            Err(_) => return Ok(false),
        },
    };
    let header = req.headers().get("Authorization")?;
    if transport::bearer_ok(header.as_deref(), &token) {
        return Ok(true);
    }
    let url = req.url()?;
    Ok(url
        .query_pairs()
        .any(|(k, v)| k == "token" && transport::token_ok(&v, &token)))
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let path = req.path();
    if path == "/health" {
        return Response::from_json(&serde_json::json!({ "status": "ok" }));
    }
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next()) {
        (Some("db"), Some(name)) => {
            if !authorized(&req, &env)? {
                return object::error_response(&transport::auth_error());
            }
            if !limits::valid_database_name(name) {
                return object::error_response(&WireError::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "a database name is 1 to {} of [A-Za-z0-9_-], not {name:?}",
                        limits::MAX_DATABASE_NAME_LEN
                    ),
                ));
            }
            let stub = env
                .durable_object(BINDING)?
                .id_from_name(name)?
                .get_stub()?;
            stub.fetch_with_request(req).await
        }
        _ => object::error_response(&WireError::new(
            ErrorCode::NotFound,
            format!("no route for {path}"),
        )),
    }
}
