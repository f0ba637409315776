//! Rust client for DoLake, the lakehouse of DoSQL: browse its Iceberg REST
//! catalog, read tables and snapshots into Arrow record batches (position
//! deletes applied), and subscribe to DoSQL's change stream.
//!
//! ```text
//!   LakeClient::connect("http://HOST/iceberg", token)      (Worker: http://HOST/lake/{name}/iceberg)
//!     namespaces() / tables(ns) / table(ns, t) / snapshots(ns, t)   ── catalog REST, JSON
//!     scan(ns, t) / scan_snapshot(ns, t, id) ─▶ ScanResult { schema, batches }
//!        └─ objects from the S3 endpoint the catalog names (s3.endpoint), read by
//!           dolake's own reader (Avro manifests, Parquet, merge-on-read deletes)
//!   subscribe(&sql_client, Subscription::from_lsn(..).tables(..).operations(..))
//!     after_snapshot(&snapshot, shard) ─▶ the stream continues where a snapshot ends
//! ```
//!
//! ```no_run
//! # async fn demo() -> lake_client::Result<()> {
//! use lake_client::LakeClient;
//! let lake = LakeClient::connect("http://127.0.0.1:7878/iceberg", "secret").await?;
//! for ns in lake.namespaces().await? {
//!     for t in lake.tables(&ns).await? {
//!         let scan = lake.scan(&t.namespace, &t.name).await?;
//!         println!("{t}: {} rows", scan.num_rows());
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! The client is async (tokio) and stateless beyond the catalog's
//! configuration: every call reads the catalog afresh, so a table written
//! since is seen by the next call.

mod changes;
mod client;
mod error;
mod http;
mod model;
mod scan;

pub use arrow_array::RecordBatch;
pub use arrow_schema::SchemaRef;
pub use changes::{
    after_snapshot, subscribe, ChangeEvent, ChangeFilter, ChangeStream, ChangeTxn, RowEvent, RowOp,
    SchemaEvent, Subscription,
};
pub use client::{Config, LakeClient};
pub use dolake::iceberg::{Operation, TableMetadata};
pub use error::{Error, Result};
pub use model::{Column, Namespace, SnapshotInfo, Table, TableIdent};
pub use scan::ScanResult;
