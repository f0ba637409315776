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
//!                         /lake/{name}/iceberg/v1/... ─────> DoLake Object "name" (lake.rs)
//!                         /lake/{name}/stats ──────────────>   catalog + lake state, engine
//!                         /lake/{name}/s3/<bucket>/<key> ──> R2 (r2.rs), read-only, ranges
//!   DoSql Object ──WebSocket (stub, link.rs)──> DoLake Object DOLAKE_NAME: change batches
//! ```
//!
//! The Worker answers `/health` and authenticates every other request
//! against the `DOSQL_TOKEN` secret (constant-time compare); only then does
//! it forward `/db/{name}/...` to the Durable Object named `name`, so that
//! one name is one database, kept apart from every other. Without a
//! configured secret every `/db` request is refused: an unconfigured
//! deployment is closed, not open. WebSockets may present the token as
//! `?token=` because browsers cannot set headers on them. The S3 read path
//! takes the token as the SigV4 access key id, which is how S3 clients
//! (PyIceberg, DuckDB) send a credential.

pub mod lake;
pub mod link;
pub mod object;
pub mod r2;
pub mod store;

pub use lake::DoLake;
pub use object::DoSql;
pub use store::{DoLogStore, DoPageStore, DoSqlHandle, WAL_PART_BYTES};

use dosql_service::transport;
use shared_types::{limits, ErrorCode, WireError};
use worker::{event, Context, Env, Request, Response};

/// The Durable Object binding in wrangler.toml.
pub const BINDING: &str = "DOSQL";

/// The secret (or, locally, `.dev.vars` entry) holding the bearer token.
pub const TOKEN_SECRET: &str = "DOSQL_TOKEN";

/// The bearer token: a secret in production; a plain variable is accepted
/// too (some local setups inject `.dev.vars` entries as vars).
pub fn token(env: &Env) -> Option<String> {
    match env.secret(TOKEN_SECRET) {
        Ok(secret) => Some(secret.to_string()),
        Err(_) => env.var(TOKEN_SECRET).ok().map(|v| v.to_string()),
    }
}

fn authorized(req: &Request, env: &Env) -> worker::Result<bool> {
    let Some(token) = token(env) else {
        return Ok(false);
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
        (Some("lake"), Some(name)) => lake_route(req, &env, name, segments.next()).await,
        _ => object::error_response(&WireError::new(
            ErrorCode::NotFound,
            format!("no route for {path}"),
        )),
    }
}

/// `/lake/{name}/...`: the S3 read path is served here from R2 (its
/// token is the SigV4 access key id); the catalog and stats go to the
/// DoLake Object `name` (bearer token). The ingest socket is not routed:
/// only DoSql Objects reach it, through the binding.
async fn lake_route(
    req: Request,
    env: &Env,
    name: &str,
    route: Option<&str>,
) -> worker::Result<Response> {
    if !limits::valid_database_name(name) {
        return object::error_response(&WireError::new(
            ErrorCode::InvalidRequest,
            format!(
                "a lake name is 1 to {} of [A-Za-z0-9_-], not {name:?}",
                limits::MAX_DATABASE_NAME_LEN
            ),
        ));
    }
    match route {
        Some("s3") => {
            let token = token(env).unwrap_or_default();
            let prefix = format!("/lake/{name}/s3/");
            let path = req.path();
            let rest = path.strip_prefix(&prefix).unwrap_or("");
            if token.is_empty() || !r2::s3_authorized(&req, &token)? {
                let e = dolake::s3::S3Error::access_denied(rest);
                let mut r = Response::ok(e.xml())?.with_status(e.status);
                r.headers_mut().set("content-type", "application/xml")?;
                return Ok(r);
            }
            r2::serve(env, &req, rest).await
        }
        Some("iceberg") | Some("stats") => {
            if !authorized(&req, env)? {
                let e = dolake::catalog::RestError::not_authorized();
                let mut r = Response::ok(e.body())?.with_status(e.status());
                r.headers_mut().set("content-type", "application/json")?;
                return Ok(r);
            }
            let stub = env
                .durable_object(lake::BINDING)?
                .id_from_name(name)?
                .get_stub()?;
            stub.fetch_with_request(req).await
        }
        _ => object::error_response(&WireError::new(
            ErrorCode::NotFound,
            format!("no route for {}", req.path()),
        )),
    }
}
