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
//! lake's thread (node.rs, which owns the engine the catalog and the lake
//! share), its metadata objects are written to the bucket (atomically and
//! durably, bucket.rs) on a blocking thread, then applied on the lake's
//! thread again; the apply step re-checks the base, so concurrent commits
//! (another client's, or a flush of the lake) cannot lose an update. The
//! engine is never touched by an async worker. Both routes take the
//! server's token: the catalog as a bearer token, the bucket as the access
//! key id of a SigV4 `Authorization` (or as a bearer token).
//!
//! `GET /lake/stats` (token) reports the lake's buffers, flushes and
//! per-shard LSNs, and each open database's shipping (docs/protocol.md).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use dolake::catalog::{CatalogConfig, Env, Request, RestError, Step};
use dolake::lake::{FlushPolicy, LakeConfig};
use dolake::s3::{self, S3Error};
use dosql_service::transport;
use rand::RngCore;
use tokio::sync::oneshot;

use crate::bucket::{Bucket, BUCKET};
use crate::db::now_ms;
use crate::node::{LakeHost, Node, NodeConfig, NodeJob};

/// The lake of one server: its thread, its bucket, its token.
pub struct Lake {
    node: Node,
    bucket: Bucket,
    token: String,
}

impl Lake {
    /// Opens (or creates) the lake in `dir`; `addr` is the server's address,
    /// which clients are told to use as their S3 endpoint.
    pub fn open(dir: &Path, addr: &str, token: &str, policy: FlushPolicy) -> Result<Lake, String> {
        let bucket = Bucket::open(&dir.join("bucket"))?;
        let client_properties = BTreeMap::from([
            ("s3.endpoint".to_owned(), format!("http://{addr}/s3")),
            ("s3.path-style-access".to_owned(), "true".to_owned()),
            ("s3.region".to_owned(), "us-east-1".to_owned()),
            // The bucket checks the access key id against the token; the
            // secret is unused (a signature cannot be verified without it).
            ("s3.access-key-id".to_owned(), token.to_owned()),
            ("s3.secret-access-key".to_owned(), "unused".to_owned()),
        ]);
        let config = NodeConfig {
            state_dir: dir.join("catalog"),
            lake: LakeConfig {
                policy,
                ..LakeConfig::default()
            },
            catalog: CatalogConfig {
                bucket: BUCKET.to_owned(),
                warehouse: "warehouse".to_owned(),
                client_properties,
            },
        };
        let node = Node::spawn(config, bucket.clone())?;
        Ok(Lake {
            node,
            bucket,
            token: token.to_owned(),
        })
    }

    /// The lake's thread, for the databases' shipping.
    pub fn node(&self) -> Node {
        self.node.clone()
    }

    /// Runs `f` on the lake's thread and returns its answer.
    async fn with_node<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut LakeHost) -> R + Send + 'static,
    ) -> Result<R, RestError> {
        let stopped = || RestError::new(dolake::catalog::Kind::Internal, "the lake thread stopped");
        let (reply, answer) = oneshot::channel();
        let job: NodeJob = Box::new(move |host| {
            let _ = reply.send(f(host));
        });
        self.node.send(job).map_err(|_| stopped())?;
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
        let step = self
            .with_node(move |host| {
                let (catalog, e) = host.node.catalog_and_engine();
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
                lake.bucket.put_object(&object.key, &object.bytes)?;
            }
            Ok::<_, String>(prepared)
        })
        .await;
        let prepared = match put {
            Ok(Ok(p)) => p,
            Ok(Err(m)) => return internal(m),
            Err(e) => return internal(format!("the put task failed: {e}")),
        };
        self.with_node(move |host| {
            let (catalog, e) = host.node.catalog_and_engine();
            catalog.apply(e, prepared)
        })
        .await
        .unwrap_or_else(|e| dolake::catalog::Response::error(&e))
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

    /// The lake's figures (see node.rs).
    pub async fn stats(&self) -> Result<serde_json::Value, RestError> {
        self.with_node(|host| host.stats()).await
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
        lake.bucket
            .serve(method.as_str(), &path, range.as_deref())
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
