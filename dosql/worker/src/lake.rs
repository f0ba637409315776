//! The `DoLake` Durable Object: the lakehouse of the Worker's databases.
//! Its durable state is a `dosql::mvcc::Engine` on the Object's own SQLite
//! storage (the same [`DoPageStore`] and [`DoLogStore`] as DoSql); its
//! objects (metadata, manifests, Parquet) live in the R2 bucket
//! [`crate::r2::BUCKET_BINDING`].
//!
//! The lake's logic is [`dolake::node::LakeNode`] (the lake state machine
//! and the catalog over one engine); this file moves bytes and keeps time.
//!
//! ```text
//!   DoSql stub ── GET /lake/{n}/v1/ingest (WebSocket, hibernation) ──> accept
//!     websocket_message(text) ──> node.on_frame (sync: receive, one commit) ──> ack|nack|error
//!                                 arm the alarm at node.next_flush_at()
//!   alarm ──> due_flushes(now) ──> prepare_flush (sync) ──> R2 puts (await)
//!                                  complete_flush (sync: lake state + catalog entry)
//!   router ── /lake/{n}/iceberg/v1/... ──> fetch ──> dolake::catalog::Catalog
//!                                                 handle (sync) ── Step::Done ──> answer
//!                                                          └─ Step::Write ─> R2 puts (await)
//!                                                                            apply (sync) ──> answer
//!   router ── /lake/{n}/stats ──────────> fetch ──> engine and lake figures
//!   router ── /lake/{n}/s3/... ───> served by the router from R2 (crate::r2)
//! ```
//!
//! Invariants:
//! * The node lives in a `RefCell`, borrowed only between `.await`s:
//!   every engine commit's storage writes happen with no `.await` between
//!   them, so the runtime commits them atomically; and the runtime's output
//!   gate holds the ack frame until those writes are durable, so an ack
//!   always means durable.
//! * A catalog write or a flush puts its objects to R2 *before* the engine
//!   records them, so a recorded metadata location always exists; batches
//!   received while a flush awaits its puts stay buffered for the next one.
//! * One flush run at a time (`flushing`); a failed run leaves the buffer
//!   as it was (orphan objects at worst) and retries on a later alarm.
//! * Authentication is the router's (bearer token); the ingest socket is
//!   not routed from outside at all: only DoSql Objects reach it, through
//!   the binding.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use dolake::catalog::{self, Catalog, CatalogConfig, RestError, Step};
use dolake::lake::LakeConfig;
use dolake::node::LakeNode;
use dosql::mvcc::{Engine, EngineConfig};
use dosql::store::DEFAULT_PAGE_SIZE;
use shared_types::{ErrorCode, WireError};
use wasm_bindgen::{JsCast, JsValue};
use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
};

use crate::object::{arm_alarm_at, complete_close, error_response, js_now, require_websocket};
use crate::r2::{self, LAKE_BUCKET};
use crate::store::{DoLogStore, DoPageStore, DoSqlHandle};

/// The DoLake Durable Object binding in wrangler.toml.
pub const BINDING: &str = crate::link::LAKE_BINDING;

/// Key prefix of every table location in the bucket.
pub const WAREHOUSE: &str = "warehouse";

/// Engine settings: the lake's state is small next to its objects.
fn engine_config() -> EngineConfig {
    EngineConfig {
        cache_bytes: 8 << 20,
        checkpoint_bytes: 4 << 20,
        max_txn_bytes: 32 << 20,
        clock: js_now,
        ..EngineConfig::default()
    }
}

/// How long to wait before retrying a flush that failed.
const FLUSH_RETRY_MS: u64 = 1_000;

#[durable_object]
pub struct DoLake {
    state: State,
    env: Env,
    handle: DoSqlHandle,
    node: RefCell<Option<LakeNode>>,
    /// A flush run is under way (it spans `.await`s).
    flushing: Cell<bool>,
    /// When a failed flush is retried (besides the policy's own times).
    retry_at: Cell<Option<u64>>,
    /// Flushes completed and failed since this instance started.
    flushes: Cell<u64>,
    flush_failures: Cell<u64>,
}

/// The bucket and warehouse every table of the lake lives in.
fn catalog_config(client_properties: BTreeMap<String, String>) -> CatalogConfig {
    CatalogConfig {
        bucket: LAKE_BUCKET.to_owned(),
        warehouse: WAREHOUSE.to_owned(),
        client_properties,
    }
}

impl DoLake {
    /// Runs `f` on the node, opening (or reopening a poisoned) one first.
    fn with_node<T>(&self, f: impl FnOnce(&mut LakeNode) -> T) -> Result<T, RestError> {
        let mut slot = self.node.borrow_mut();
        if slot.as_mut().is_none_or(|n| n.engine_mut().is_poisoned()) {
            *slot = None;
            let pages = DoPageStore::open(self.handle.clone(), DEFAULT_PAGE_SIZE)?;
            let log = DoLogStore::open(self.handle.clone())?;
            let engine = Engine::open(Box::new(pages), Box::new(log), engine_config())?;
            let node = LakeNode::open(
                engine,
                LakeConfig::default(),
                catalog_config(BTreeMap::new()),
            )
            .map_err(|e| RestError::new(catalog::Kind::Internal, e.to_string()))?;
            *slot = Some(node);
        }
        Ok(f(slot.as_mut().expect("opened above")))
    }

    /// Runs `f` on the engine the catalog keeps its state in.
    fn with_engine<T>(&self, f: impl FnOnce(&mut Engine) -> T) -> Result<T, RestError> {
        self.with_node(|n| f(n.engine_mut()))
    }

    /// The catalog as seen from `origin` (scheme and host of the request),
    /// which clients are told to use as their S3 endpoint.
    fn catalog(&self, origin: &str, lake: &str) -> Result<Catalog, RestError> {
        let token = crate::token(&self.env).unwrap_or_default();
        let client_properties = BTreeMap::from([
            ("s3.endpoint".to_owned(), format!("{origin}/lake/{lake}/s3")),
            ("s3.path-style-access".to_owned(), "true".to_owned()),
            ("s3.region".to_owned(), "us-east-1".to_owned()),
            // The S3 route checks the access key id against the token; the
            // secret is unused (a signature cannot be verified without it).
            ("s3.access-key-id".to_owned(), token),
            ("s3.secret-access-key".to_owned(), "unused".to_owned()),
        ]);
        Catalog::new(catalog_config(client_properties))
    }

    /// `ANY /lake/{name}/iceberg/v1/...`
    async fn iceberg(&self, mut req: Request, lake: &str) -> worker::Result<Response> {
        let url = req.url()?;
        let origin = url.origin().ascii_serialization();
        let prefix = format!("/lake/{lake}/iceberg");
        let path = url.path().strip_prefix(&prefix).unwrap_or("").to_owned();
        let query = url.query().unwrap_or("").to_owned();
        let method = req.method().to_string();
        let body = req.bytes().await?;
        let catalog = match self.catalog(&origin, lake) {
            Ok(c) => c,
            Err(e) => return rest_response(catalog::Response::error(&e)),
        };
        let env = catalog::Env {
            now_ms: js_now() as i64,
            entropy: entropy(),
        };
        let request = catalog::Request {
            method: &method,
            path: &path,
            query: &query,
            body: &body,
        };
        let step = match self.with_engine(|e| catalog.handle(e, &request, &env)) {
            Ok(step) => step,
            Err(e) => return rest_response(catalog::Response::error(&e)),
        };
        let answer = match step {
            Step::Done(answer) => answer,
            Step::Write(prepared) => {
                let bucket = r2::bucket(&self.env)?;
                for object in &prepared.objects {
                    if let Err(e) = r2::put(&bucket, &object.key, object.bytes.clone()).await {
                        let e = RestError::new(catalog::Kind::Internal, e.to_string());
                        return rest_response(catalog::Response::error(&e));
                    }
                }
                self.with_engine(|e| catalog.apply(e, prepared))
                    .unwrap_or_else(|e| catalog::Response::error(&e))
            }
        };
        rest_response(answer)
    }

    /// `GET /lake/{name}/stats`: storage, engine and lake figures.
    fn stats(&self) -> worker::Result<Response> {
        let (pages_stored, wal_rows) = match self.handle.stored_rows() {
            Ok(counts) => counts,
            Err(e) => return error_response(&WireError::new(ErrorCode::Internal, e.to_string())),
        };
        let (engine, lake, next_flush_at) = self
            .with_node(|n| {
                let engine = n.engine_mut().stats();
                (engine, n.lake().stats(), n.next_flush_at())
            })
            .map_err(|e| worker::Error::RustError(e.message))?;
        let tables: serde_json::Map<String, serde_json::Value> = lake
            .tables
            .iter()
            .map(|(name, t)| {
                let v = serde_json::json!({
                    "buffered_rows": t.buffered_rows,
                    "buffered_bytes": t.buffered_bytes,
                    "flushes": t.flushes,
                    "lsns": t.lsns,
                    "metadata_location": t.metadata_location,
                });
                (name.clone(), v)
            })
            .collect();
        let body = serde_json::json!({
            "pages_stored": pages_stored,
            "wal_rows": wal_rows,
            "commits": engine.commits,
            "last_lsn": engine.last_lsn,
            "lake": {
                "shards": lake.shards,
                "tables": tables,
                "buffered_bytes": lake.buffered_bytes,
                "nacks": lake.nacks,
                "next_flush_at": next_flush_at,
                "flushes": self.flushes.get(),
                "flush_failures": self.flush_failures.get(),
                "flushing": self.flushing.get(),
            },
        });
        let mut r = Response::ok(body.to_string())?;
        r.headers_mut().set("content-type", "application/json")?;
        Ok(r)
    }

    /// `GET /lake/{name}/v1/ingest`: a shard's link, accepted for
    /// hibernation (the Object may sleep between batches).
    fn ingest(&self, req: &Request) -> worker::Result<Response> {
        if let Some(refused) = require_websocket(req)? {
            return Ok(refused);
        }
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        Response::from_websocket(pair.client)
    }

    /// Flushes every table that is due, one at a time: prepare (sync), put
    /// the objects (await), complete (sync). See the module doc.
    async fn flush(&self) {
        if self.flushing.replace(true) {
            return;
        }
        self.retry_at.set(None);
        let now = js_now();
        let due = self.with_node(|n| n.due_flushes(now)).unwrap_or_default();
        for table in due {
            if let Err(message) = self.flush_table(&table, now).await {
                self.flush_failures.set(self.flush_failures.get() + 1);
                worker::console_error!("flushing lake table {table}: {message}");
                self.retry_at.set(Some(js_now() + FLUSH_RETRY_MS));
            }
        }
        self.flushing.set(false);
    }

    async fn flush_table(&self, table: &str, now: u64) -> Result<(), String> {
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&entropy()[..16]);
        let plan = self
            .with_node(|n| n.prepare_flush(table, now, nonce))
            .map_err(|e| e.message)?
            .map_err(|e| e.to_string())?;
        let Some(plan) = plan else {
            return Ok(());
        };
        let bucket = r2::bucket(&self.env).map_err(|e| e.to_string())?;
        for object in &plan.objects {
            r2::put(&bucket, &object.key, object.bytes.clone())
                .await
                .map_err(|e| format!("putting {}: {e}", object.key))?;
        }
        self.with_node(|n| n.complete_flush(plan))
            .map_err(|e| e.message)?
            .map_err(|e| e.to_string())?;
        self.flushes.set(self.flushes.get() + 1);
        Ok(())
    }

    /// Arms the alarm for the next flush the policy (or a retry) needs.
    async fn arm_alarm(&self) -> worker::Result<()> {
        let policy = self.with_node(|n| n.next_flush_at()).ok().flatten();
        arm_alarm_at(&self.state, policy, self.retry_at.get()).await
    }
}

/// Random bytes for table UUIDs and object names, from Web Crypto's
/// `getRandomValues` (`Math.random` is not meant for identifiers).
fn entropy() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    let array = js_sys::Uint8Array::new_with_length(32);
    let crypto = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .ok()
        .and_then(|c| {
            let f = js_sys::Reflect::get(&c, &JsValue::from_str("getRandomValues")).ok()?;
            let f: js_sys::Function = f.dyn_into().ok()?;
            f.call1(&c, &array).ok()
        });
    if crypto.is_some() {
        array.copy_to(&mut bytes);
    } else {
        // No Web Crypto (never on Workers): fall back to Math.random.
        for b in &mut bytes {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    bytes
}

fn rest_response(r: catalog::Response) -> worker::Result<Response> {
    let mut response = match r.body {
        Some(body) => {
            let mut response = Response::ok(body)?;
            response
                .headers_mut()
                .set("content-type", "application/json")?;
            response
        }
        None => Response::empty()?,
    };
    response = response.with_status(r.status);
    Ok(response)
}

impl DurableObject for DoLake {
    fn new(state: State, env: Env) -> Self {
        DoLake {
            handle: DoSqlHandle::of(&state),
            state,
            env,
            node: RefCell::new(None),
            flushing: Cell::new(false),
            retry_at: Cell::new(None),
            flushes: Cell::new(0),
            flush_failures: Cell::new(0),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        let path = req.path();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (segments.as_slice(), req.method()) {
            (["lake", name, "iceberg", ..], _) => {
                let name = name.to_string();
                self.iceberg(req, &name).await
            }
            (["lake", _, "stats"], Method::Get) => self.stats(),
            (["lake", _, "v1", "ingest"], Method::Get) => self.ingest(&req),
            _ => error_response(&WireError::new(
                ErrorCode::NotFound,
                format!("no route for {} {path}", req.method()),
            )),
        }
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        let reply = match message {
            WebSocketIncomingMessage::String(text) => {
                let now = js_now();
                match self.with_node(|n| n.on_frame(&text, now)) {
                    Ok(reply) => reply,
                    // The lake cannot be opened: the batch is fine, retry.
                    Err(e) => shared_types::lake::LakeFrame::Nack {
                        retry_after_ms: FLUSH_RETRY_MS,
                        reason: format!("the lake is unavailable: {}", e.message),
                    },
                }
            }
            WebSocketIncomingMessage::Binary(_) => shared_types::lake::LakeFrame::Error {
                error: WireError::new(
                    ErrorCode::InvalidRequest,
                    "link frames are JSON text, not binary",
                ),
            },
        };
        ws.send_with_str(reply.encode())?;
        self.arm_alarm().await
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> worker::Result<()> {
        complete_close(&ws, code, reason);
        Ok(())
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.flush().await;
        self.arm_alarm().await?;
        Response::ok("")
    }
}
