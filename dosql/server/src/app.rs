//! Routes: the transports of protocol v1 over axum.
//!
//! ```text
//!   GET  /health                  200 {"status":"ok","databases":..,"connections":..,
//!                                      "transactions":..}        (no token; counts only)
//!   GET  /db/{name}/v1/ws         WebSocket, one service connection per socket
//!   POST /db/{name}/v1/pipeline   PipelineRequest -> 200 PipelineResponse
//!   POST /db/{name}/v1/batch      BatchRequest    -> 200 BatchResult | 4xx/5xx {"error"}
//!   ANY  /iceberg/v1/...          Iceberg REST catalog (see lake.rs)
//!   GET|HEAD /s3/{bucket}/{key}   the lake's bucket, read-only (see lake.rs)
//!   GET  /lake/stats              200 {"lake": {..}, "databases": {name: shipping}}
//! ```
//!
//! Every /db route checks the bearer token first (the WebSocket route also
//! takes `?token=`, since browsers cannot set headers on a WebSocket) and
//! answers 401 before touching a database. Bodies and frames are handed to
//! `dosql-service` as bytes: decoding, limits and errors are its job, so
//! that this server and the Durable Object answer alike.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use dosql_service::{transport, Service};
use serde::Deserialize;
use shared_types::limits::{MAX_HTTP_BODY_BYTES, MAX_WS_FRAME_BYTES};
use shared_types::{ErrorCode, WireError};

use crate::db::{now_ms, Db, Registry};
use crate::lake::{self, Lake};

/// What every handler shares.
pub struct App {
    pub registry: Registry,
    pub token: String,
    pub lake: Arc<Lake>,
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/db/{name}/v1/ws", get(websocket))
        .route("/db/{name}/v1/pipeline", post(http::<Pipeline>))
        .route("/db/{name}/v1/batch", post(http::<Batch>))
        .route("/iceberg/{*rest}", any(iceberg))
        .route("/s3/{*rest}", any(bucket))
        .route("/lake/stats", get(lake_stats))
        // A little over the limit, so that the service sees oversized
        // bodies and refuses them with its typed error.
        .layer(DefaultBodyLimit::max(MAX_HTTP_BODY_BYTES + 1))
        .with_state(app)
}

async fn health(State(app): State<Arc<App>>) -> Response {
    let (databases, connections, transactions) = app.registry.counts().await;
    let body = serde_json::json!({
        "status": "ok",
        "databases": databases,
        "connections": connections,
        "transactions": transactions,
    });
    json(StatusCode::OK, body.to_string())
}

async fn iceberg(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    lake::iceberg(app.lake.clone(), method, uri, headers, body).await
}

async fn bucket(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    lake::bucket(app.lake.clone(), method, uri, headers).await
}

/// The lake's buffers and flushes, and each open database's shipping
/// (docs/protocol.md, "Lake stats").
async fn lake_stats(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !header_ok(&app, &headers) {
        return error(&transport::auth_error());
    }
    let lake = match app.lake.stats().await {
        Ok(l) => l,
        Err(e) => return error(&WireError::new(ErrorCode::Unavailable, e.message)),
    };
    let body = serde_json::json!({
        "lake": lake,
        "databases": app.registry.shipping_stats().await,
    });
    json(StatusCode::OK, body.to_string())
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(e: &WireError) -> Response {
    let status = StatusCode::from_u16(transport::http_status(e))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, transport::error_body(e))
}

/// The database `name` for a caller holding `authorized`.
async fn database(app: &App, name: &str, authorized: bool) -> Result<Db, WireError> {
    if !authorized {
        return Err(transport::auth_error());
    }
    app.registry.get(name).await
}

fn header_ok(app: &App, headers: &HeaderMap) -> bool {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    transport::bearer_ok(value, &app.token)
}

/// An HTTP body, or the typed error for one that could not be read.
fn body(b: Result<Bytes, BytesRejection>) -> Result<Bytes, WireError> {
    b.map_err(|rejection| {
        let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ErrorCode::LimitExceeded
        } else {
            ErrorCode::InvalidRequest
        };
        WireError::new(code, format!("cannot read the request body: {rejection}"))
    })
}

/// An HTTP route of a database: what it asks of the service.
trait Route {
    fn answer(service: &mut Service, body: &[u8], now_ms: u64) -> (u16, String);
}

struct Pipeline;
struct Batch;

impl Route for Pipeline {
    fn answer(service: &mut Service, body: &[u8], now_ms: u64) -> (u16, String) {
        service.http_pipeline(body, now_ms)
    }
}

impl Route for Batch {
    fn answer(service: &mut Service, body: &[u8], now_ms: u64) -> (u16, String) {
        service.http_batch(body, now_ms)
    }
}

async fn http<R: Route>(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let db = match database(&app, &name, header_ok(&app, &headers)).await {
        Ok(db) => db,
        Err(e) => return error(&e),
    };
    let bytes = match body(b) {
        Ok(b) => b,
        Err(e) => return error(&e),
    };
    match db.call(move |s| R::answer(s, &bytes, now_ms())).await {
        Ok((status, text)) => json(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            text,
        ),
        Err(e) => error(&e),
    }
}

#[derive(Deserialize)]
struct WsQuery {
    token: Option<String>,
}

async fn websocket(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let by_query = query
        .token
        .as_deref()
        .is_some_and(|t| transport::token_ok(t, &app.token));
    let db = match database(&app, &name, by_query || header_ok(&app, &headers)).await {
        Ok(db) => db,
        Err(e) => return error(&e),
    };
    // Messages up to the HTTP body limit are read, so that ones over the
    // frame limit get a typed error instead of a closed socket.
    upgrade
        .max_message_size(MAX_HTTP_BODY_BYTES)
        .max_frame_size(MAX_HTTP_BODY_BYTES)
        .on_upgrade(move |socket| serve(socket, db))
}

/// Serves one WebSocket: frames in order, one service connection, rolled
/// back when the socket goes away for whatever reason.
async fn serve(mut socket: WebSocket, db: Db) {
    let Ok(conn) = db.call(|s| s.open_connection(now_ms())).await else {
        return;
    };
    while let Some(Ok(message)) = socket.recv().await {
        let answer = match message {
            Message::Text(text) => {
                let text = Bytes::from(text);
                db.call(move |s| transport::encode_frame(&s.handle_frame(conn, &text, now_ms())))
                    .await
            }
            Message::Binary(data) if data.len() > MAX_WS_FRAME_BYTES => {
                db.call(move |s| transport::encode_frame(&s.handle_frame(conn, &data, now_ms())))
                    .await
            }
            Message::Binary(_) => Ok(transport::encode_frame(&transport::binary_frame_error())),
            Message::Close(_) => break,
            // Pings are answered by axum.
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let text = match answer {
            Ok(text) => text,
            Err(e) => transport::encode_frame(&shared_types::ServerFrame {
                id: None,
                response: shared_types::Response::Error(e),
            }),
        };
        if socket.send(Message::Text(text.into())).await.is_err() {
            break;
        }
    }
    let _ = db.call(move |s| s.close_connection(conn)).await;
}
