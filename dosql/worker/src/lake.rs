//! The `DoLake` Durable Object: the lakehouse of the Worker's databases.
//! Its durable state is a `dosql::mvcc::Engine` on the Object's own SQLite
//! storage (the same [`DoPageStore`] and [`DoLogStore`] as DoSql); its
//! objects (metadata, manifests, Parquet) live in the R2 bucket
//! [`crate::r2::BUCKET_BINDING`].
//!
//! ```text
//!   router ── /lake/{n}/iceberg/v1/... ──> fetch ──> dolake::catalog::Catalog
//!                                                 handle (sync) ── Step::Done ──> answer
//!                                                          └─ Step::Write ─> R2 puts (await)
//!                                                                            apply (sync) ──> answer
//!   router ── /lake/{n}/stats ──────────> fetch ──> engine and catalog figures
//!   router ── /lake/{n}/s3/... ───> served by the router from R2 (crate::r2)
//! ```
//!
//! Invariants:
//! * The engine lives in a `RefCell`, borrowed only between `.await`s:
//!   every engine commit's storage writes happen with no `.await` between
//!   them, so the runtime commits them atomically.
//! * A catalog write puts its objects to R2 *before* `apply` records them,
//!   so a recorded metadata location always exists; `apply` re-checks the
//!   base, so a commit that raced another one is refused, not lost.
//! * Authentication is the router's (bearer token); an Object is reachable
//!   only through its binding.

use std::cell::RefCell;
use std::collections::BTreeMap;

use dolake::catalog::{self, Catalog, CatalogConfig, RestError, Step};
use dosql::mvcc::{Engine, EngineConfig};
use dosql::store::DEFAULT_PAGE_SIZE;
use shared_types::{ErrorCode, WireError};
use wasm_bindgen::{JsCast, JsValue};
use worker::{durable_object, DurableObject, Env, Method, Request, Response, State};

use crate::object::{error_response, js_now};
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

#[durable_object]
pub struct DoLake {
    env: Env,
    handle: DoSqlHandle,
    engine: RefCell<Option<Engine>>,
}

impl DoLake {
    /// Runs `f` on the engine, opening (or reopening a poisoned) one first.
    fn with_engine<T>(&self, f: impl FnOnce(&mut Engine) -> T) -> Result<T, RestError> {
        let mut slot = self.engine.borrow_mut();
        if slot.as_ref().is_none_or(Engine::is_poisoned) {
            let pages = DoPageStore::open(self.handle.clone(), DEFAULT_PAGE_SIZE)?;
            let log = DoLogStore::open(self.handle.clone())?;
            *slot = Some(Engine::open(
                Box::new(pages),
                Box::new(log),
                engine_config(),
            )?);
        }
        Ok(f(slot.as_mut().expect("opened above")))
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
        Catalog::new(CatalogConfig {
            bucket: LAKE_BUCKET.to_owned(),
            warehouse: WAREHOUSE.to_owned(),
            client_properties,
        })
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

    /// `GET /lake/{name}/stats`
    fn stats(&self) -> worker::Result<Response> {
        let (pages_stored, wal_rows) = match self.handle.stored_rows() {
            Ok(counts) => counts,
            Err(e) => return error_response(&WireError::new(ErrorCode::Internal, e.to_string())),
        };
        let engine = self
            .with_engine(|e| e.stats())
            .map_err(|e| worker::Error::RustError(e.message))?;
        let body = serde_json::json!({
            "pages_stored": pages_stored,
            "wal_rows": wal_rows,
            "commits": engine.commits,
            "last_lsn": engine.last_lsn,
        });
        let mut r = Response::ok(body.to_string())?;
        r.headers_mut().set("content-type", "application/json")?;
        Ok(r)
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
            env,
            handle: DoSqlHandle::of(&state),
            engine: RefCell::new(None),
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
            _ => error_response(&WireError::new(
                ErrorCode::NotFound,
                format!("no route for {} {path}", req.method()),
            )),
        }
    }
}
