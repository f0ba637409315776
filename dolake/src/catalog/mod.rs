//! The Iceberg REST catalog: namespaces and tables over HTTP (the REST
//! OpenAPI spec's `/v1/...` routes), sans-IO and synchronous, with its
//! state in a `dosql::mvcc::Engine` shared with the lake state machine.
//!
//! ```text
//!   host (dosql-server / Worker)                 Catalog
//!   ── auth (bearer token) ──> handle(engine, request, env)
//!                                 ├─ Step::Done(response)        reads, namespaces, errors
//!                                 └─ Step::Write(prepared)       creates and commits
//!   put prepared.objects (metadata.json) ...
//!   ── apply(engine, prepared) ──> response   re-checks the base, then records
//! ```
//!
//! Invariants:
//! * A table's recorded metadata location always names an object that was
//!   put before it was recorded (the host puts first, then applies), so a
//!   client never loads a location that does not exist.
//! * `apply` records a change only if the table is still at the metadata
//!   location the change was prepared from: of two concurrent commits from
//!   the same base, the second is refused with CommitFailedException 409
//!   (its metadata file stays unreferenced) instead of losing the first.
//! * Every mutation is one engine transaction: a failed request changes
//!   nothing.
//! * Tables marked *managed* belong to DoLake (see [`managed`]): REST can
//!   read them but not commit to, rename or drop them (403).
//!
//! Authentication is the host's: it answers 401 ([`RestError::not_authorized`])
//! before calling in. `docs/catalog.md` documents routes and bodies.

mod commit;
mod error;
pub mod managed;
mod routes;
pub mod state;
mod tables;

use std::collections::BTreeMap;

use dosql::mvcc::Engine;
use serde_json::Value;

pub use commit::{Requirement, Update};
pub use error::{Kind, RestError, RestResult};
pub use state::{Namespace, TableEntry, TableIdent};

use tables::Change;

/// What a catalog is configured with.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    /// The bucket holding every table: locations are `s3://BUCKET/...`.
    pub bucket: String,
    /// Key prefix of new tables' locations (`WAREHOUSE/ns1/ns2/table`).
    pub warehouse: String,
    /// Handed to clients in `/v1/config` defaults and every loadTable
    /// `config` (`s3.endpoint`, `s3.access-key-id`, ...), so that a client
    /// needs only the catalog URI and token.
    pub client_properties: BTreeMap<String, String>,
}

/// What the host passes in with each request: time and randomness.
#[derive(Debug, Clone, Copy)]
pub struct Env {
    pub now_ms: i64,
    /// Random bytes: table UUIDs and metadata file names are made from them.
    pub entropy: [u8; 32],
}

/// An HTTP request under the catalog's root (`/iceberg` on dosql-server).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// `/v1/...`, still percent-encoded.
    pub path: &'a str,
    /// The query string, without `?`.
    pub query: &'a str,
    pub body: &'a [u8],
}

/// An HTTP answer; the body (if any) is JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Option<String>,
}

impl Response {
    pub fn json(status: u16, body: &Value) -> Response {
        Response {
            status,
            body: Some(body.to_string()),
        }
    }

    pub fn empty(status: u16) -> Response {
        Response { status, body: None }
    }

    pub fn error(e: &RestError) -> Response {
        Response {
            status: e.status(),
            body: Some(e.body()),
        }
    }
}

impl From<RestResult<Response>> for Response {
    fn from(r: RestResult<Response>) -> Response {
        r.unwrap_or_else(|e| Response::error(&e))
    }
}

/// An object the host must put in the bucket before applying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Key in the catalog's bucket.
    pub key: String,
    pub bytes: Vec<u8>,
}

/// A prepared change: put `objects`, then [`Catalog::apply`] it.
#[derive(Debug)]
pub struct Prepared {
    pub objects: Vec<Object>,
    change: Change,
}

/// The outcome of [`Catalog::handle`].
#[derive(Debug)]
pub enum Step {
    Done(Response),
    Write(Prepared),
}

/// The catalog: configuration only; state lives in the engine passed in.
#[derive(Debug, Clone)]
pub struct Catalog {
    config: CatalogConfig,
}

impl Catalog {
    /// A catalog over bucket `config.bucket`; the bucket name and warehouse
    /// prefix must be plain key segments.
    pub fn new(config: CatalogConfig) -> RestResult<Catalog> {
        state::check_name("bucket", &config.bucket)?;
        for seg in config.warehouse.split('/') {
            state::check_name("warehouse segment", seg)?;
        }
        Ok(Catalog { config })
    }

    pub fn config(&self) -> &CatalogConfig {
        &self.config
    }

    /// Answers one request, or prepares the write it asks for.
    pub fn handle(&self, engine: &mut Engine, request: &Request<'_>, env: &Env) -> Step {
        match routes::route(self, engine, request, env) {
            Ok(step) => step,
            Err(e) => Step::Done(Response::error(&e)),
        }
    }

    /// Records a prepared change whose objects the host has put.
    pub fn apply(&self, engine: &mut Engine, prepared: Prepared) -> Response {
        tables::apply(self, engine, prepared.change).into()
    }

    /// The `s3://bucket/` prefix of every location of this catalog.
    fn url_prefix(&self) -> String {
        format!("s3://{}/", self.config.bucket)
    }

    /// The bucket key of a location URL in this catalog's bucket.
    pub fn key_of<'a>(&self, url: &'a str) -> Option<&'a str> {
        let key = url.strip_prefix(&self.url_prefix())?;
        crate::s3::valid_key(key.trim_end_matches('/')).then_some(key)
    }

    /// Where a new table goes when its creator does not say.
    pub fn default_location(&self, ident: &TableIdent) -> String {
        format!(
            "{}{}/{}/{}",
            self.url_prefix(),
            self.config.warehouse,
            ident.namespace.join("/"),
            ident.name
        )
    }
}
