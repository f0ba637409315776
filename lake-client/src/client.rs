//! [`LakeClient`]: a connection to one DoLake Iceberg REST catalog, and
//! browsing (namespaces, tables, snapshots).
//!
//! ```text
//!   connect(catalog_url, token) ── GET /v1/config ──▶ defaults, overrides, prefix
//!   namespaces()   GET /v1/[prefix/]namespaces[?parent=ns]   (walked depth-first)
//!   tables(ns)     GET .../namespaces/{ns}/tables
//!   table(ns, t)   GET .../namespaces/{ns}/tables/{t}  ─▶ Table (+ storage config)
//!   snapshots(ns, t) = table(ns, t).snapshots()
//! ```
//!
//! Invariants: the client never guesses where objects live. The S3
//! endpoint and credentials come from the catalog (`/v1/config` defaults,
//! then overrides, then each load-table answer's `config`, as the REST
//! spec orders them), so the same code works against dosql-server
//! (`http://HOST/iceberg`, bucket at `http://HOST/s3`) and the Worker
//! (`http://HOST/lake/{name}/iceberg`, bucket at `.../s3`). Every answer
//! is read fresh: the client caches nothing but the catalog's config.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dolake::iceberg::TableMetadata;
use reqwest::Url;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::{base_url, join, Http};
use crate::model::{Namespace, SnapshotInfo, Table, TableIdent};

/// Timeouts and the memory bound of scans.
#[derive(Debug, Clone)]
pub struct Config {
    pub connect_timeout: Duration,
    /// Per HTTP request (a catalog call or one object).
    pub timeout: Duration,
    /// Most bytes of lake objects (manifests, data and delete files) one
    /// scan may download; over it the scan fails with [`Error::Limit`]
    /// before downloading any data file. Decoded batches come on top.
    pub max_scan_bytes: u64,
    /// Objects downloaded at once by a scan.
    pub fetch_concurrency: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            max_scan_bytes: 256 << 20,
            fetch_concurrency: 8,
        }
    }
}

/// A client of one catalog; cheap to clone (clones share connections).
#[derive(Clone)]
pub struct LakeClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub http: Http,
    /// `{catalog}/v1[/prefix]`: every route is below it.
    pub routes: Url,
    /// `/v1/config` defaults with its overrides applied.
    pub storage: BTreeMap<String, String>,
    pub config: Config,
}

#[derive(Deserialize)]
struct CatalogConfig {
    #[serde(default)]
    defaults: BTreeMap<String, String>,
    #[serde(default)]
    overrides: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Namespaces {
    namespaces: Vec<Namespace>,
}

#[derive(Deserialize)]
struct Identifiers {
    identifiers: Vec<TableIdent>,
}

#[derive(Deserialize)]
struct LoadTable {
    #[serde(rename = "metadata-location")]
    metadata_location: Option<String>,
    metadata: serde_json::Value,
    #[serde(default)]
    config: BTreeMap<String, String>,
}

/// Refuses a name that cannot be one URL path segment: empty, or `.` /
/// `..`, which URL parsing would resolve as dot segments (`.../tables/..`
/// is the table listing), silently asking for something else.
fn check_segment(what: &str, name: &str) -> Result<()> {
    if matches!(name, "" | "." | "..") {
        return Err(Error::InvalidInput(format!(
            "{what} {name:?} is not a name"
        )));
    }
    Ok(())
}

/// Levels of a namespace: at least one, each a valid segment.
fn levels<S: AsRef<str>>(ns: &[S]) -> Result<Vec<String>> {
    if ns.is_empty() {
        return Err(Error::InvalidInput(
            "a namespace has at least one level".into(),
        ));
    }
    for l in ns {
        check_segment("namespace level", l.as_ref())?;
    }
    Ok(ns.iter().map(|l| l.as_ref().to_owned()).collect())
}

impl LakeClient {
    /// Connects to the catalog at `catalog_url` (e.g.
    /// `http://127.0.0.1:7878/iceberg`) with bearer `token`, and reads its
    /// configuration: a wrong token fails here with
    /// [`Error::Unauthorized`].
    pub async fn connect(catalog_url: &str, token: &str) -> Result<LakeClient> {
        LakeClient::connect_with(catalog_url, token, Config::default()).await
    }

    /// Like [`LakeClient::connect`], with explicit timeouts and limits.
    pub async fn connect_with(
        catalog_url: &str,
        token: &str,
        config: Config,
    ) -> Result<LakeClient> {
        if config.fetch_concurrency == 0 {
            return Err(Error::InvalidInput(
                "fetch_concurrency must be at least 1".into(),
            ));
        }
        let root = base_url(catalog_url, "catalog URL")?;
        let http = Http::new(token, config.connect_timeout, config.timeout)?;
        let answer: CatalogConfig = http.catalog_json(join(&root, &["v1", "config"])).await?;
        let mut storage = answer.defaults;
        storage.extend(answer.overrides);
        // A catalog serving several warehouses puts its routes under a
        // prefix (`/v1/{prefix}/namespaces`); DoLake's has none.
        let routes = match storage.get("prefix") {
            Some(prefix) => join(&root, &["v1", prefix.as_str()]),
            None => join(&root, &["v1"]),
        };
        Ok(LakeClient {
            inner: Arc::new(Inner {
                http,
                routes,
                storage,
                config,
            }),
        })
    }

    /// The catalog's storage properties (`s3.endpoint`, ...), as
    /// configured for every table.
    pub fn storage_config(&self) -> &BTreeMap<String, String> {
        &self.inner.storage
    }

    fn url(&self, segments: &[&str]) -> Url {
        join(&self.inner.routes, segments)
    }

    /// The direct children of `parent` (top-level namespaces for `None`).
    pub async fn child_namespaces<S: AsRef<str>>(
        &self,
        parent: Option<&[S]>,
    ) -> Result<Vec<Namespace>> {
        let mut url = self.url(&["namespaces"]);
        if let Some(parent) = parent {
            let parent = levels(parent)?.join("\u{1f}");
            url.query_pairs_mut().append_pair("parent", &parent);
        }
        let answer: Namespaces = self.inner.http.catalog_json(url).await?;
        Ok(answer.namespaces)
    }

    /// Every namespace at every depth, parents before their children.
    pub async fn namespaces(&self) -> Result<Vec<Namespace>> {
        let mut out = Vec::new();
        // Depth-first with an explicit stack; children are pushed reversed
        // so that they come out in the catalog's order.
        let mut stack: Vec<Namespace> = self.child_namespaces::<&str>(None).await?;
        stack.reverse();
        while let Some(ns) = stack.pop() {
            let mut children = self.child_namespaces(Some(&ns)).await?;
            children.reverse();
            stack.extend(children);
            out.push(ns);
        }
        Ok(out)
    }

    /// The tables of namespace `ns`.
    pub async fn tables<S: AsRef<str>>(&self, ns: &[S]) -> Result<Vec<TableIdent>> {
        let ns = levels(ns)?.join("\u{1f}");
        let url = self.url(&["namespaces", &ns, "tables"]);
        let answer: Identifiers = self.inner.http.catalog_json(url).await?;
        Ok(answer.identifiers)
    }

    /// Table `name` of namespace `ns`: location, current snapshot, schema,
    /// full metadata, and where its files are served.
    pub async fn table<S: AsRef<str>>(&self, ns: &[S], name: &str) -> Result<Table> {
        let namespace = levels(ns)?;
        check_segment("table name", name)?;
        let joined = namespace.join("\u{1f}");
        let url = self.url(&["namespaces", &joined, "tables", name]);
        let answer: LoadTable = self.inner.http.catalog_json(url).await?;
        let ident = TableIdent {
            namespace,
            name: name.to_owned(),
        };
        let bytes = serde_json::to_vec(&answer.metadata)
            .map_err(|e| Error::Protocol(format!("table {ident}: metadata: {e}")))?;
        let metadata = TableMetadata::from_json(&bytes)
            .map_err(|e| Error::Corrupt(format!("table {ident}: {e}")))?;
        let mut storage = self.inner.storage.clone();
        storage.extend(answer.config);
        Ok(Table::from_load(
            ident,
            answer.metadata_location,
            metadata,
            storage,
        ))
    }

    /// Every snapshot of a table, oldest commit first, with per-shard
    /// source LSNs.
    pub async fn snapshots<S: AsRef<str>>(
        &self,
        ns: &[S],
        name: &str,
    ) -> Result<Vec<SnapshotInfo>> {
        self.table(ns, name).await?.snapshots()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_need_non_empty_levels() {
        assert!(matches!(levels::<&str>(&[]), Err(Error::InvalidInput(_))));
        for bad in ["", ".", ".."] {
            assert!(matches!(levels(&["a", bad]), Err(Error::InvalidInput(_))));
        }
        assert!(check_segment("table name", "...").is_ok());
        assert_eq!(levels(&["a", "b"]).unwrap(), vec!["a", "b"]);
    }

    #[test]
    fn config_rejects_zero_concurrency_before_any_request() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = Config {
            fetch_concurrency: 0,
            ..Config::default()
        };
        // Port 9 (discard) is never dialled: the check comes first.
        let r = rt.block_on(LakeClient::connect_with(
            "http://127.0.0.1:9/iceberg",
            "t",
            config,
        ));
        assert!(matches!(r, Err(Error::InvalidInput(_))));
    }
}
