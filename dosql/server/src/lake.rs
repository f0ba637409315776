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
//! The catalog is sans-IO (`dolake::catalog`): a write is prepared on the
//! engine's thread, its metadata objects are written to files (atomically:
//! temporary file, then rename) on a blocking thread, then applied on the
//! engine's thread again; the apply step re-checks the base, so concurrent
//! commits cannot lose an update. The engine lives on a thread of its own
//! (as databases do, see db.rs) and is never touched by an async worker. Both routes take the server's token: the catalog as a
//! bearer token, the bucket as the access key id of a SigV4 `Authorization`
//! (or as a bearer token).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::UNIX_EPOCH;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use dolake::catalog::{Catalog, CatalogConfig, Env, Object, Request, RestError, Step};
use dolake::s3::{self, ObjectMeta, S3Error};
use dosql::mvcc::{Engine, EngineConfig};
use dosql_service::transport;
use rand::RngCore;
use tokio::sync::oneshot;

use crate::db::now_ms;

/// The bucket name in table locations (`s3://lake/warehouse/...`).
pub const BUCKET: &str = "lake";

/// Page size of the catalog's engine.
const PAGE_SIZE: u32 = 4096;

type Job = Box<dyn FnOnce(&mut Engine) + Send>;

/// The catalog and bucket of one server.
pub struct Lake {
    catalog: Catalog,
    /// To the thread that owns the catalog's engine.
    jobs: mpsc::Sender<Job>,
    bucket_dir: PathBuf,
    token: String,
}

/// Owns the engine: runs jobs in order, reopening the engine first when a
/// storage failure poisoned it (what is durable is in the files).
fn run(mut engine: Engine, dir: &Path, inbox: mpsc::Receiver<Job>) {
    while let Ok(job) = inbox.recv() {
        if engine.is_poisoned() {
            match Engine::open_dir(dir, PAGE_SIZE, EngineConfig::default()) {
                Ok(e) => engine = e,
                Err(e) => eprintln!("catalog {} cannot be reopened: {e}", dir.display()),
            }
        }
        job(&mut engine);
    }
}

impl Lake {
    /// Opens (or creates) the lake in `dir`; `addr` is the server's address,
    /// which clients are told to use as their S3 endpoint.
    pub fn open(dir: &Path, addr: &str, token: &str) -> Result<Lake, String> {
        let state_dir = dir.join("catalog");
        let bucket_dir = dir.join("bucket");
        std::fs::create_dir_all(&bucket_dir)
            .map_err(|e| format!("cannot create {}: {e}", bucket_dir.display()))?;
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
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, opened) = mpsc::channel();
        // The engine is not Send: it is opened on the thread that owns it.
        std::thread::Builder::new()
            .name("lake-catalog".into())
            .spawn(
                move || match Engine::open_dir(&state_dir, PAGE_SIZE, EngineConfig::default()) {
                    Ok(engine) => {
                        let _ = ready.send(Ok(()));
                        run(engine, &state_dir, inbox);
                    }
                    Err(e) => {
                        let _ = ready.send(Err(format!(
                            "cannot open the catalog in {}: {e}",
                            state_dir.display()
                        )));
                    }
                },
            )
            .map_err(|e| format!("cannot start the catalog thread: {e}"))?;
        opened
            .recv()
            .map_err(|_| "the catalog thread stopped".to_owned())??;
        Ok(Lake {
            catalog,
            jobs,
            bucket_dir,
            token: token.to_owned(),
        })
    }

    /// Runs `f` on the engine's thread and returns its answer.
    async fn with_engine<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine) -> R + Send + 'static,
    ) -> Result<R, RestError> {
        let stopped = || {
            RestError::new(
                dolake::catalog::Kind::Internal,
                "the catalog thread stopped",
            )
        };
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |engine| {
            let _ = reply.send(f(engine));
        });
        self.jobs.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())
    }

    /// One catalog request, from parse to answer.
    async fn catalog_request(
        self: Arc<Self>,
        method: Method,
        path: String,
        query: String,
        body: Bytes,
    ) -> dolake::catalog::Response {
        let mut entropy = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut entropy);
        let env = Env {
            now_ms: now_ms() as i64,
            entropy,
        };
        let catalog = self.catalog.clone();
        let step = self
            .with_engine(move |e| {
                let request = Request {
                    method: method.as_str(),
                    path: &path,
                    query: &query,
                    body: &body,
                };
                catalog.handle(e, &request, &env)
            })
            .await;
        let internal = |m: String| {
            dolake::catalog::Response::error(&RestError::new(dolake::catalog::Kind::Internal, m))
        };
        let prepared = match step {
            Ok(Step::Done(response)) => return response,
            Ok(Step::Write(prepared)) => prepared,
            Err(e) => return dolake::catalog::Response::error(&e),
        };
        let lake = self.clone();
        let put = tokio::task::spawn_blocking(move || {
            for object in &prepared.objects {
                lake.put(object)?;
            }
            Ok::<_, String>(prepared)
        })
        .await;
        let prepared = match put {
            Ok(Ok(p)) => p,
            Ok(Err(m)) => return internal(m),
            Err(e) => return internal(format!("the put task failed: {e}")),
        };
        let catalog = self.catalog.clone();
        self.with_engine(move |e| catalog.apply(e, prepared))
            .await
            .unwrap_or_else(|e| dolake::catalog::Response::error(&e))
    }

    /// Writes an object whole or not at all.
    fn put(&self, object: &Object) -> Result<(), String> {
        if !s3::valid_key(&object.key) {
            return Err(format!("invalid object key {:?}", object.key));
        }
        let path = self.bucket_dir.join(&object.key);
        let write = || -> std::io::Result<()> {
            let dir = path
                .parent()
                .expect("a key joined to a directory has a parent");
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
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        match s3::access_key_id(value) {
            Some(key) => transport::token_ok(key, &self.token),
            None => transport::bearer_ok(Some(value), &self.token),
        }
    }

    /// One S3 request: status, headers, body.
    fn s3_request(
        &self,
        method: &str,
        path: &str,
        range: Option<&str>,
    ) -> Result<Response, S3Error> {
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
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(S3Error::no_such_key(&req.key))
            }
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
pub async fn iceberg(
    lake: Arc<Lake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !transport::bearer_ok(authorization, &lake.token) {
        let e = RestError::not_authorized();
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            e.body(),
        )
            .into_response();
    }
    let path = uri
        .path()
        .strip_prefix("/iceberg")
        .unwrap_or(uri.path())
        .to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let r = lake.catalog_request(method, path, query, body).await;
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match r.body {
        Some(b) => (status, [(header::CONTENT_TYPE, "application/json")], b).into_response(),
        None => status.into_response(),
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
    answer.unwrap_or_else(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("bucket task failed: {e}"),
        )
            .into_response()
    })
}
