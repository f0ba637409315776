//! Reading a table (its current state, or a snapshot by id) into Arrow
//! record batches, position deletes applied, with DoLake's own reader.
//!
//! `dolake::reader::TableReader` is synchronous over an `ObjectStore`; this
//! client is async. So a scan first downloads exactly the objects the
//! reader will open, asynchronously and a few at a time, into an in-memory
//! store, then runs the reader on a blocking thread:
//!
//! ```text
//!   table(ns, t) ─▶ metadata + storage config (s3.endpoint)
//!   snapshot ─▶ GET manifest list ─▶ GET manifests (concurrently)
//!            ─▶ data + position-delete files: sizes from the manifests
//!               sum > max_scan_bytes ? Error::Limit (nothing downloaded yet)
//!            ─▶ GET files (fetch_concurrency at once; size checked)
//!   MemoryStore ─▶ spawn_blocking(TableReader::scan) ─▶ Vec<RecordBatch>
//! ```
//!
//! Memory: the downloaded objects (bounded by `Config::max_scan_bytes`,
//! compressed Parquet), plus a copy of the one object being decoded (the
//! in-memory store hands the reader its own), plus the decoded batches;
//! the objects are dropped when the scan returns. Objects are read whole: DoLake writes one
//! Parquet file per flush, and dolake's reader decodes whole files, so
//! byte ranges would save nothing. Object URLs are
//! `{s3.endpoint}/{bucket}/{key}` (path style), the bucket and key taken
//! from each `s3://bucket/key` location the metadata names.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use dolake::iceberg::manifest::{read_manifest, read_manifest_list, DataContent, EntryStatus};
use dolake::reader::TableReader;
use dolake::store::{MemoryStore, ObjectStore};
use reqwest::Url;
use tokio::task::JoinSet;

use crate::client::LakeClient;
use crate::error::{Error, Result};
use crate::http::{base_url, join, Http};
use crate::model::{Column, Table};

/// The rows of one snapshot of a table.
#[derive(Debug, Clone)]
pub struct ScanResult {
    /// The snapshot read (`None`: the table has no snapshot yet).
    pub snapshot_id: Option<i64>,
    /// The Arrow schema of every batch (field ids in the field metadata
    /// under `PARQUET:field_id`).
    pub schema: SchemaRef,
    /// The schema's columns: current schema for the current state, the
    /// snapshot's own schema for time travel.
    pub columns: Vec<Column>,
    pub batches: Vec<RecordBatch>,
}

impl ScanResult {
    /// Rows across all batches.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Where a table's objects are served, from its storage config.
struct Bucket {
    http: Http,
    endpoint: Url,
    /// The `s3://bucket` root every location of the table must be under.
    root: String,
    bucket: String,
}

impl Bucket {
    fn of(http: &Http, table: &Table) -> Result<Bucket> {
        let endpoint = table.storage.get("s3.endpoint").ok_or_else(|| {
            Error::Protocol(format!(
                "the catalog gives no s3.endpoint for table {}",
                table.ident
            ))
        })?;
        let endpoint = base_url(endpoint, "s3.endpoint")?;
        let bucket = table
            .location
            .strip_prefix("s3://")
            .and_then(|rest| rest.split('/').next())
            .filter(|b| !b.is_empty())
            .ok_or_else(|| {
                Error::Corrupt(format!(
                    "table {} is at {:?}, not in an s3:// bucket",
                    table.ident, table.location
                ))
            })?;
        Ok(Bucket {
            http: http.clone(),
            endpoint,
            root: format!("s3://{bucket}"),
            bucket: bucket.to_owned(),
        })
    }

    /// The bucket key of a location (refused outside the bucket).
    fn key(&self, location: &str) -> Result<String> {
        dolake::store::key_of(&self.root, location)
            .map_err(|e| Error::Corrupt(format!("the table names an object it cannot own: {e}")))
    }

    fn url(&self, key: &str) -> Url {
        let segments: Vec<&str> = std::iter::once(self.bucket.as_str())
            .chain(key.split('/'))
            .collect();
        join(&self.endpoint, &segments)
    }

    /// Downloads `objects` (key, expected size) into `store`, at most
    /// `concurrency` at a time; a size other than expected is corruption.
    async fn fetch_into(
        &self,
        store: &MemoryStore,
        objects: Vec<(String, Option<u64>)>,
        concurrency: usize,
    ) -> Result<()> {
        let mut pending = objects.into_iter();
        let mut running = JoinSet::new();
        loop {
            while running.len() < concurrency {
                let Some((key, size)) = pending.next() else {
                    break;
                };
                let (http, url) = (self.http.clone(), self.url(&key));
                running.spawn(async move {
                    let bytes = http.object(url, &key).await?;
                    match size {
                        Some(n) if n != bytes.len() as u64 => Err(Error::Corrupt(format!(
                            "object {key} has {} bytes, its manifest says {n}",
                            bytes.len()
                        ))),
                        _ => Ok((key, bytes)),
                    }
                });
            }
            let Some(done) = running.join_next().await else {
                return Ok(());
            };
            let (key, bytes) =
                done.map_err(|e| Error::Transport(format!("download task failed: {e}")))??;
            store.put(&key, &bytes)?;
        }
    }
}

impl LakeClient {
    /// The current rows of table `name` in namespace `ns`.
    pub async fn scan<S: AsRef<str>>(&self, ns: &[S], name: &str) -> Result<ScanResult> {
        let table = self.table(ns, name).await?;
        self.scan_table(&table, None).await
    }

    /// The rows of table `name` as of snapshot `snapshot_id` (time travel),
    /// with the schema that snapshot was written with.
    pub async fn scan_snapshot<S: AsRef<str>>(
        &self,
        ns: &[S],
        name: &str,
        snapshot_id: i64,
    ) -> Result<ScanResult> {
        let table = self.table(ns, name).await?;
        self.scan_table(&table, Some(snapshot_id)).await
    }

    /// Reads a table already loaded with [`LakeClient::table`]: its
    /// current state (`None`) or snapshot `snapshot_id`.
    pub async fn scan_table(&self, table: &Table, snapshot_id: Option<i64>) -> Result<ScanResult> {
        let md = &table.metadata;
        let snapshot = match snapshot_id {
            Some(id) => Some(md.snapshot_by_id(id).ok_or_else(|| {
                Error::NotFound(format!("snapshot {id} of table {}", table.ident))
            })?),
            None => md.current_snapshot(),
        };
        let Some(snapshot) = snapshot else {
            let schema = md.current_schema();
            return Ok(ScanResult {
                snapshot_id: None,
                schema: Arc::new(dolake::parquet_file::arrow_schema(schema)?),
                columns: Column::of_schema(schema),
                batches: Vec::new(),
            });
        };
        let limits = &self.inner.config;
        let bucket = Bucket::of(&self.inner.http, table)?;
        let store = MemoryStore::new();
        let list_key = bucket.key(&snapshot.manifest_list)?;
        bucket
            .fetch_into(&store, vec![(list_key.clone(), None)], 1)
            .await?;
        let manifests = read_manifest_list(&store.get(&list_key)?)?;
        let mut wanted = Vec::with_capacity(manifests.len());
        let mut total = 0u64;
        for m in &manifests {
            let size = u64::try_from(m.manifest_length).ok();
            total = total.saturating_add(size.unwrap_or(0));
            wanted.push((bucket.key(&m.manifest_path)?, size));
        }
        let manifest_keys: Vec<String> = wanted.iter().map(|(k, _)| k.clone()).collect();
        check_budget(total, limits.max_scan_bytes)?;
        bucket
            .fetch_into(&store, wanted, limits.fetch_concurrency)
            .await?;
        let mut files = Vec::new();
        for (m, key) in manifests.iter().zip(&manifest_keys) {
            for e in read_manifest(&store.get(key)?, m)? {
                if e.status == EntryStatus::Deleted {
                    continue;
                }
                if e.data_file.content == DataContent::EqualityDeletes {
                    return Err(Error::Corrupt(format!(
                        "table {} has equality delete files, which DoLake never writes",
                        table.ident
                    )));
                }
                let size = u64::try_from(e.data_file.file_size_in_bytes).map_err(|_| {
                    Error::Corrupt(format!("{}: negative file size", e.data_file.file_path))
                })?;
                total = total.saturating_add(size);
                files.push((bucket.key(&e.data_file.file_path)?, Some(size)));
            }
        }
        // A position delete file is listed once per manifest that keeps it.
        files.sort();
        files.dedup();
        check_budget(total, limits.max_scan_bytes)?;
        bucket
            .fetch_into(&store, files, limits.fetch_concurrency)
            .await?;

        let md = md.clone();
        let root = bucket.root.clone();
        let scan = tokio::task::spawn_blocking(move || {
            TableReader::new(&store, &root).scan(&md, snapshot_id)
        })
        .await
        .map_err(|e| Error::Transport(format!("the reader task failed: {e}")))??;
        Ok(ScanResult {
            snapshot_id: scan.snapshot_id,
            schema: Arc::new(dolake::parquet_file::arrow_schema(&scan.schema)?),
            columns: Column::of_schema(&scan.schema),
            batches: scan.batches,
        })
    }
}

fn check_budget(total: u64, max: u64) -> Result<()> {
    if total > max {
        return Err(Error::Limit(format!(
            "the scan needs {total} bytes of objects, over the {max}-byte bound \
             (Config::max_scan_bytes)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_inclusive() {
        assert!(check_budget(10, 10).is_ok());
        assert!(matches!(check_budget(11, 10), Err(Error::Limit(_))));
    }
}
