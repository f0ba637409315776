//! One DoLake: the lake state machine and the Iceberg REST catalog over one
//! engine, with the link protocol on the outside. Both hosts (the DoLake
//! Durable Object and dosql-server) drive this, so that they differ only in
//! how they move bytes and keep time.
//!
//! ```text
//!   shard ── ShardFrame (JSON text) ──> on_frame(now) ──> Lake::receive ──> LakeFrame
//!   REST ───> catalog().handle(engine) ── Step::Write ──> host puts ──> apply
//!   alarm ──> due_flushes(now) ──> prepare_flush ──> host puts plan.objects (bucket keys)
//!                                        └──> complete_flush: lake state + catalog entry,
//!                                             one engine transaction
//! ```
//!
//! Invariants:
//! * The lake writes under the catalog's warehouse (`s3://BUCKET/WAREHOUSE`),
//!   so every location it produces is a key of the catalog's bucket, and a
//!   plan's objects are addressed by that key.
//! * A flush's data and its catalog entry commit together: a reader that
//!   loads a table from the catalog sees exactly the snapshots the lake
//!   recorded, and the catalog never points at metadata not yet put.
//! * Every frame gets exactly one reply; a frame that cannot be parsed or
//!   applied is answered with an error, never with a panic. A storage
//!   failure is answered with a nack (retry later), not an error, because
//!   the batch itself is fine.

use shared_types::lake::{LakeFrame, ShardFrame};
use shared_types::{ErrorCode, WireError};

use dosql::mvcc::Engine;

use crate::catalog::{Catalog, CatalogConfig, TableIdent};
use crate::error::{Error, Result};
use crate::lake::{FlushPlan, Flushed, Lake, LakeConfig, Part, Reply};
use crate::store::ObjectStore;

pub use shared_types::lake::MAX_FRAME_BYTES;

/// How long a shard waits before resending after a storage failure.
const STORAGE_RETRY_MS: u64 = 1_000;

/// The lake and its catalog over one engine.
pub struct LakeNode {
    lake: Lake,
    catalog: Catalog,
}

impl LakeNode {
    /// Opens the node kept in `engine`. The lake's warehouse is derived from
    /// the catalog's bucket and warehouse (whatever `lake.warehouse` says).
    pub fn open(engine: Engine, mut lake: LakeConfig, catalog: CatalogConfig) -> Result<LakeNode> {
        let catalog = Catalog::new(catalog)?;
        lake.warehouse = format!(
            "s3://{}/{}",
            catalog.config().bucket,
            catalog.config().warehouse
        );
        Ok(LakeNode {
            lake: Lake::open(engine, lake)?,
            catalog,
        })
    }

    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The engine, for the catalog's requests.
    pub fn engine_mut(&mut self) -> &mut Engine {
        self.lake.engine_mut()
    }

    /// The catalog and the engine it keeps its state in, for REST requests.
    pub fn catalog_and_engine(&mut self) -> (&Catalog, &mut Engine) {
        (&self.catalog, self.lake.engine_mut())
    }

    /// Gives the engine back.
    pub fn into_engine(self) -> Engine {
        self.lake.into_engine()
    }

    /// Answers one link frame (JSON text) received at `now_ms`.
    pub fn on_frame(&mut self, text: &str, now_ms: u64) -> LakeFrame {
        if text.len() > MAX_FRAME_BYTES {
            return refuse(
                ErrorCode::LimitExceeded,
                format!(
                    "a link frame of {} bytes exceeds {MAX_FRAME_BYTES}: send smaller batches",
                    text.len()
                ),
            );
        }
        let frame: ShardFrame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => return refuse(ErrorCode::InvalidRequest, format!("not a link frame: {e}")),
        };
        let reply = match frame {
            ShardFrame::Batch { shard, batch } => self.lake.receive(&shard, &batch, now_ms),
            ShardFrame::Part {
                shard,
                lsn,
                offset,
                total,
                crc,
                data,
            } => {
                let part = Part {
                    lsn,
                    offset,
                    total,
                    crc,
                    data: &data,
                };
                self.lake.receive_part(&shard, part, now_ms)
            }
        };
        match reply {
            Ok(Reply::Ack { shard, lsn }) => LakeFrame::Ack { shard, lsn },
            Ok(Reply::Progress {
                shard,
                lsn,
                received,
            }) => LakeFrame::Progress {
                shard,
                lsn,
                received,
            },
            Ok(Reply::Nack {
                retry_after_ms,
                reason,
            }) => LakeFrame::Nack {
                retry_after_ms,
                reason,
            },
            Err(Error::Io(reason)) => LakeFrame::Nack {
                retry_after_ms: STORAGE_RETRY_MS,
                reason: format!("storage: {reason}"),
            },
            Err(e) => refuse(error_code(&e), e.to_string()),
        }
    }

    /// When the host must call [`LakeNode::due_flushes`] next (its alarm).
    pub fn next_flush_at(&self) -> Option<u64> {
        self.lake.next_flush_at()
    }

    /// The tables due for a flush at `now_ms`.
    pub fn due_flushes(&self, now_ms: u64) -> Vec<String> {
        self.lake.due_flushes(now_ms)
    }

    /// Computes the flush of `table`; its objects carry bucket keys, to be
    /// put in order before [`LakeNode::complete_flush`].
    pub fn prepare_flush(
        &mut self,
        table: &str,
        now_ms: u64,
        entropy: [u8; 16],
    ) -> Result<Option<FlushPlan>> {
        let Some(mut plan) = self.lake.prepare_flush(table, now_ms, entropy)? else {
            return Ok(None);
        };
        for object in &mut plan.objects {
            object.key = self
                .catalog
                .key_of(&object.location)
                .ok_or_else(|| {
                    Error::Corrupt(format!(
                        "flush object {} lies outside bucket {}",
                        object.location,
                        self.catalog.config().bucket
                    ))
                })?
                .to_owned();
        }
        Ok(Some(plan))
    }

    /// Applies a plan whose objects are in place, recording the table's new
    /// metadata in the catalog in the same transaction.
    pub fn complete_flush(&mut self, plan: FlushPlan) -> Result<Flushed> {
        let catalog = &self.catalog;
        let namespace = self.lake.config().namespace.clone();
        self.lake.complete_flush_with(plan, |engine, txn, p| {
            let ident = TableIdent {
                namespace: vec![namespace],
                name: p.table.to_owned(),
            };
            catalog.put_managed(
                engine,
                txn,
                &ident,
                p.metadata_location,
                p.metadata,
                p.previous_location,
            )
        })
    }

    /// Flushes every table due at `now_ms` into `store` (a synchronous
    /// host's loop; the Durable Object interleaves its own puts).
    /// `entropy` is called once per flush.
    pub fn flush_due(
        &mut self,
        now_ms: u64,
        store: &dyn ObjectStore,
        mut entropy: impl FnMut() -> [u8; 16],
    ) -> Result<Vec<Flushed>> {
        let mut done = Vec::new();
        for table in self.due_flushes(now_ms) {
            let Some(plan) = self.prepare_flush(&table, now_ms, entropy())? else {
                continue;
            };
            for object in &plan.objects {
                store.put(&object.key, &object.bytes)?;
            }
            done.push(self.complete_flush(plan)?);
        }
        Ok(done)
    }
}

/// The wire code of a lake error.
pub fn error_code(e: &Error) -> ErrorCode {
    match e {
        Error::InvalidInput(_) | Error::Unsupported(_) => ErrorCode::InvalidRequest,
        Error::Conflict(_) => ErrorCode::Conflict,
        Error::NotFound(_) => ErrorCode::NotFound,
        Error::Limit(_) => ErrorCode::LimitExceeded,
        Error::Io(_) => ErrorCode::Unavailable,
        Error::Corrupt(_) => ErrorCode::Internal,
    }
}

fn refuse(code: ErrorCode, message: String) -> LakeFrame {
    LakeFrame::Error {
        error: WireError::new(code, message),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use dosql::mvcc::EngineConfig;
    use dosql::store::{MemLogStore, MemPageStore};
    use shared_types::cdc::{
        ChangeBatch, ChangeEvent, ChangeTxn, ColumnSchema, RowEvent, RowOp, SchemaChange,
        SchemaEvent, TableSchema, CDC_FORMAT_VERSION,
    };
    use shared_types::Value;

    use super::*;
    use crate::catalog::{Env, Request, Step};
    use crate::reader::TableReader;
    use crate::store::MemoryStore;

    fn node() -> LakeNode {
        let engine = Engine::open(
            Box::new(MemPageStore::new(4096).unwrap()),
            Box::new(MemLogStore::new()),
            EngineConfig::default(),
        )
        .unwrap();
        let catalog = CatalogConfig {
            bucket: "lake".into(),
            warehouse: "warehouse".into(),
            client_properties: BTreeMap::new(),
        };
        LakeNode::open(engine, LakeConfig::default(), catalog).unwrap()
    }

    fn create_t(lsn: u64) -> ChangeTxn {
        let col = |name: &str, decl: &str, pk| ColumnSchema {
            name: name.into(),
            decl_type: decl.into(),
            not_null: false,
            pk,
            default: None,
        };
        ChangeTxn {
            shard: "s1".into(),
            lsn,
            txn: lsn,
            commit_ts: lsn,
            commit_time_ms: 1,
            events: vec![ChangeEvent::Schema(SchemaEvent {
                table: "t".into(),
                change: SchemaChange::Create,
                column: None,
                previous: None,
                schema: TableSchema {
                    name: "t".into(),
                    columns: vec![col("id", "INTEGER", Some(1)), col("v", "TEXT", None)],
                    without_rowid: false,
                    rowid_alias: Some(0),
                    sql: "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)".into(),
                },
            })],
        }
    }

    fn insert(lsn: u64, id: i64, v: &str) -> ChangeTxn {
        ChangeTxn {
            shard: "s1".into(),
            lsn,
            txn: lsn,
            commit_ts: lsn,
            commit_time_ms: 1,
            events: vec![ChangeEvent::Row(RowEvent {
                table: "t".into(),
                op: RowOp::Insert,
                key: vec![Value::Integer(id)],
                before: None,
                after: Some(vec![Value::Integer(id), Value::Text(v.into())]),
            })],
        }
    }

    fn frame(txns: Vec<ChangeTxn>) -> String {
        let last = txns.last().map_or(0, |t| t.lsn);
        ShardFrame::Batch {
            shard: "s1".into(),
            batch: ChangeBatch {
                version: CDC_FORMAT_VERSION,
                txns,
                schemas: vec![],
                next_lsn: last + 1,
                last_lsn: last,
            },
        }
        .encode()
    }

    #[test]
    fn frames_are_acked_and_bad_ones_refused() {
        let mut node = node();
        let reply = node.on_frame(&frame(vec![create_t(1), insert(2, 1, "a")]), 10);
        assert_eq!(
            reply,
            LakeFrame::Ack {
                shard: "s1".into(),
                lsn: 2
            }
        );
        let LakeFrame::Error { error } = node.on_frame("{\"type\":\"batch\"", 10) else {
            panic!("a torn frame is refused");
        };
        assert_eq!(error.code, ErrorCode::InvalidRequest);
        let big = "x".repeat(MAX_FRAME_BYTES + 1);
        let LakeFrame::Error { error } = node.on_frame(&big, 10) else {
            panic!("an oversized frame is refused");
        };
        assert_eq!(error.code, ErrorCode::LimitExceeded);
        // A transaction claiming another shard is refused, nothing stored.
        let mut other = insert(3, 2, "b");
        other.shard = "s2".into();
        let LakeFrame::Error { error } = node.on_frame(&frame(vec![other]), 10) else {
            panic!("a foreign transaction is refused");
        };
        assert_eq!(error.code, ErrorCode::InvalidRequest);
        assert_eq!(node.lake().shard_lsn("s1"), Some(2));
    }

    #[test]
    fn a_flush_is_published_in_the_catalog() {
        let mut node = node();
        node.on_frame(
            &frame(vec![create_t(1), insert(2, 1, "a"), insert(3, 2, "b")]),
            10,
        );
        let store = MemoryStore::new();
        let at = node.next_flush_at().expect("rows are buffered");
        let flushed = node.flush_due(at, &store, || [7; 16]).unwrap();
        assert_eq!(flushed.len(), 1);
        assert_eq!(flushed[0].appended, 2);
        assert!(flushed[0]
            .metadata_location
            .starts_with("s3://lake/warehouse/dosql/t/metadata/"));

        // The catalog answers with what the lake wrote.
        let (catalog, engine) = node.catalog_and_engine();
        let env = Env {
            now_ms: 20,
            entropy: [1; 32],
        };
        let load = Request {
            method: "GET",
            path: "/v1/namespaces/dosql/tables/t",
            query: "",
            body: b"",
        };
        let Step::Done(answer) = catalog.handle(engine, &load, &env) else {
            panic!("loading is a read");
        };
        assert_eq!(answer.status, 200);
        let body: serde_json::Value =
            serde_json::from_str(answer.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["metadata-location"], flushed[0].metadata_location);

        // The objects are where the catalog's bucket keys say.
        let reader = TableReader::new(&store, "s3://lake");
        let metadata = reader.load_metadata(&flushed[0].metadata_location).unwrap();
        assert_eq!(reader.scan(&metadata, None).unwrap().num_rows(), 2);
        assert!(node.next_flush_at().is_none());
    }
}
