//! The lake routes: DoLake's Iceberg REST catalog and its bucket, read-only
//! over an S3-compatible API, on local files.
//!
//! ```text
//!   ANY      /iceberg/v1/...     catalog (URI for clients: http://ADDR/iceberg)
//!   GET|HEAD /s3/<bucket>/<key>  objects, byte ranges (endpoint: http://ADDR/s3)
//!
//!   LAKE_DIR/catalog/   catalog state: a dosql engine (pages + WAL)
//!   LAKE_DIR/bucket/    the bucket's objects, one file per key
//! ```
//!
//! The catalog is sans-IO (`dolake::catalog`): a write is prepared under
//! the engine lock, its metadata objects are written to files (atomically:
//! temporary file, then rename) with the lock released, then applied under
//! the lock again; the apply step re-checks the base, so concurrent commits
//! cannot lose an update. All of this runs on blocking threads, never on
//! an async worker. Both routes take the server's token: the catalog as a
//! bearer token, the bucket as the access key id of a SigV4 `Authorization`
//! (or as a bearer token).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use dolake::catalog::{Catalog, CatalogConfig, Env, Object, Request, RestError, Step};
use dolake::s3::{self, ObjectMeta, S3Error};
use dosql::mvcc::{Engine, EngineConfig};
use dosql_service::transport;
use rand::RngCore;

use crate::db::now_ms;

/// The bucket name in table locations (`s3://lake/warehouse/...`).
pub const BUCKET: &str = "lake";

/// Page size of the catalog's engine.
const PAGE_SIZE: u32 = 4096;

/// The catalog and bucket of one server.
pub struct Lake {
    catalog: Catalog,
    engine: Mutex<Engine>,
    state_dir: PathBuf,
    bucket_dir: PathBuf,
    token: String,
}

impl Lake {
    /// Opens (or creates) the lake in `dir`; `addr` is the server's address,
    /// which clients are told to use as their S3 endpoint.
    pub fn open(dir: &Path, addr: &str, token: &str) -> Result<Lake, String> {
        let state_dir = dir.join("catalog");
        let bucket_dir = dir.join("bucket");
        std::fs::create_dir_all(&bucket_dir)
            .map_err(|e| format!("cannot create {}: {e}", bucket_dir.display()))?;
        let engine = Engine::open_dir(&state_dir, PAGE_SIZE, EngineConfig::default())
            .map_err(|e| format!("cannot open the catalog in {}: {e}", state_dir.display()))?;
        let client_properties = BTreeMap::from([
            ("s3.endpoint".to_owned(), format!("http://{addr}/s3")),
            ("s3.path-style-access".to_owned(), "true".to_owned()),
            ("s3.region".to_owned(), "us-east-1".to_owned()),
            // The bucket checks the access key id against the token; the
            // secret is unused (a signature cannot be verified without it).
            ("s3.access-key-id".to_owned(), token.to_owned()),
            ("s3.secret-access-key".to_owned(), "unused".to_owned()),
        ]);
        let catalog = Catalog::new(CatalogConfig {
            bucket: BUCKET.to_owned(),
            warehouse: "warehouse".to_owned(),
            client_properties,
        })
        .map_err(|e| e.message)?;
        Ok(Lake {
            catalog,
            engine: Mutex::new(engine),
            state_dir,
            bucket_dir,
            token: token.to_owned(),
        })
    }

    /// Runs `f` on the engine, reopening it first if a storage failure
    /// poisoned it (what is durable is in the files).
    fn with_engine<R>(&self, f: impl FnOnce(&mut Engine) -> R) -> Result<R, RestError> {
        let mut engine = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        if engine.is_poisoned() {
            *engine = Engine::open_dir(&self.state_dir, PAGE_SIZE, EngineConfig::default())
                .map_err(RestError::from)?;
        }
        Ok(f(&mut engine))
    }

    /// One catalog request, from parse to answer.
    fn catalog_request(&self, method: &str, path: &str, query: &str, body: &[u8]) -> dolake::catalog::Response {
        let mut entropy = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut entropy);
        let env = Env {
            now_ms: now_ms() as i64,
            entropy,
        };
        let request = Request {
            method,
            path,
            query,
            body,
        };
        let step = match self.with_engine(|e| self.catalog.handle(e, &request, &env)) {
            Ok(step) => step,
            Err(e) => return dolake::catalog::Response::error(&e),
        };
        match step {
            Step::Done(response) => response,
            Step::Write(prepared) => {
                for object in &prepared.objects {
                    if let Err(e) = self.put(object) {
                        let e = RestError::new(dolake::catalog::Kind::Internal, e);
                        return dolake::catalog::Response::error(&e);
                    }
                }
                self.with_engine(|e| self.catalog.apply(e, prepared))
                    .unwrap_or_else(|e| dolake::catalog::Response::error(&e))
            }
        }
    }

    /// Writes an object whole or not at all.
    fn put(&self, object: &Object) -> Result<(), String> {
        if !s3::valid_key(&object.key) {
            return Err(format!("invalid object key {:?}", object.key));
        }
        let path = self.bucket_dir.join(&object.key);
        let write = || -> std::io::Result<()> {
            let dir = path.parent().expect("a key joined to a directory has a parent");
            std::fs::create_dir_all(dir)?;
            let tmp = path.with_extension("tmp-put");
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&object.bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Whether an S3 request carries the token.
    fn s3_authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        match s3::access_key_id(value) {
            Some(key) => transport::token_ok(key, &self.token),
            None => transport::bearer_ok(Some(value), &self.token),
        }
    }

    /// One S3 request: status, headers, body.
    fn s3_request(&self, method: &str, path: &str, range: Option<&str>) -> Result<Response, S3Error> {
        let req = s3::parse(method, path, range)?;
        if req.bucket != BUCKET {
            return Err(S3Error {
                status: 404,
                code: "NoSuchBucket",
                message: "The specified bucket does not exist.".into(),
                resource: req.bucket,
            });
        }
        let file_path = self.bucket_dir.join(&req.key);
        let io = |e: std::io::Error| S3Error::internal(e.to_string(), &req.key);
        let mut file = match std::fs::File::open(&file_path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(S3Error::no_such_key(&req.key)),
            Err(e) => return Err(io(e)),
        };
        let stat = file.metadata().map_err(io)?;
        if !stat.is_file() {
            return Err(S3Error::no_such_key(&req.key));
        }
        let modified = stat
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        let meta = ObjectMeta {
            size: stat.len(),
            last_modified_ms: modified.as_millis() as i64,
            etag: format!("{:x}-{:x}", stat.len(), modified.as_nanos()),
        };
        let span = s3::resolve(req.range, meta.size, &req.key)?;
        let (status, headers) = s3::headers(&meta, span);
        let body = if req.head {
            Body::empty()
        } else {
            let (first, last) = span.unwrap_or((0, meta.size.saturating_sub(1)));
            let len = if meta.size == 0 { 0 } else { last - first + 1 };
            let mut buf = vec![0u8; len as usize];
            file.seek(SeekFrom::Start(first)).map_err(io)?;
            file.read_exact(&mut buf).map_err(io)?;
            Body::from(buf)
        };
        let mut response = Response::new(body);
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        for (name, value) in headers {
            if let Ok(v) = value.parse() {
                response.headers_mut().insert(name, v);
            }
        }
        Ok(response)
    }
}

fn s3_error(e: &S3Error) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/xml")], e.xml()).into_response()
}

/// `ANY /iceberg/v1/...`
pub async fn iceberg(lake: Arc<Lake>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if !transport::bearer_ok(authorization, &lake.token) {
        let e = RestError::not_authorized();
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            e.body(),
        )
            .into_response();
    }
    let path = uri.path().strip_prefix("/iceberg").unwrap_or(uri.path()).to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        lake.catalog_request(method.as_str(), &path, &query, &body)
    })
    .await;
    match answer {
        Ok(r) => {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match r.body {
                Some(b) => (status, [(header::CONTENT_TYPE, "application/json")], b).into_response(),
                None => status.into_response(),
            }
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("catalog task failed: {e}")).into_response(),
    }
}

/// `GET|HEAD /s3/<bucket>/<key>`
pub async fn bucket(lake: Arc<Lake>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().strip_prefix("/s3/").unwrap_or("").to_owned();
    if !lake.s3_authorized(&headers) {
        return s3_error(&S3Error::access_denied(&path));
    }
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let answer = tokio::task::spawn_blocking(move || {
        lake.s3_request(method.as_str(), &path, range.as_deref())
            .unwrap_or_else(|e| s3_error(&e))
    })
    .await;
    answer.unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("bucket task failed: {e}")).into_response())
}
