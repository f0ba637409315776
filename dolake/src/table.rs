//! Committing to a DoLake-owned Iceberg table, sans-IO.
//!
//! The caller holds a [`TableState`] (serde-serialisable; kept durably by
//! the DoLake state machine). Each operation computes, in memory, the
//! objects to put and the next state:
//!
//! ```text
//! state ──flush(rows, deletes, LSNs, snapshot id, time, nonce)──▶ Commit {
//!     objects: data .parquet, delete .parquet, manifests .avro,
//!              manifest list .avro, metadata.json   (put in this order,
//!                                                    metadata.json last)
//!     positions: where each appended row landed (file, row)
//!     state: next TableState        (record only after all puts succeed) }
//! ```
//!
//! Contract of [`TableState::flush`]: rows are the net new row images of one
//! flush (inserts and the new image of updates), each a value per column of
//! the current schema in order; deletes are the positions (from earlier
//! flushes' `positions`) of rows deleted or updated since. The caller has
//! already resolved net effects within the flush: a row both inserted and
//! deleted in one flush appears in neither list. An update is a delete of
//! its old position plus an append of its new image.
//!
//! The state carries the current snapshot's manifest list records, so a new
//! snapshot's list is "new manifests + previous list" without reading R2,
//! and the live data files with their row counts, so deletes are validated
//! without reading R2 either.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared_types::Value;

use crate::error::{Error, Result};
use crate::iceberg::manifest::{
    self, DataContent, DataFile, EntryStatus, ManifestContent, ManifestEntry, ManifestFile,
};
use crate::iceberg::{
    MetadataLogEntry, Operation, Snapshot, SnapshotLogEntry, SnapshotRef, Summary, TableMetadata,
    Type, MAIN_BRANCH,
};
use crate::parquet_file;
use crate::sqltypes::{self, Cell, SqlColumn};
use crate::store::{check_key, location};

/// Summary key prefix of the per-shard source LSN a snapshot includes.
pub const LSN_SUMMARY_PREFIX: &str = "dolake.lsn.";
/// Summary key counting values written as NULL because they did not fit
/// their column's type (see `sqltypes`).
pub const COERCED_NULLS_KEY: &str = "dolake.coerced-nulls";

/// Where a row lives: a data file and the row's 0-based position in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RowPosition {
    pub file_path: String,
    pub pos: u64,
}

/// One object to put: its store key, its location URI, its bytes.
#[derive(Debug, Clone)]
pub struct PutObject {
    pub key: String,
    pub location: String,
    pub bytes: Vec<u8>,
}

/// The result of an operation: put `objects` in order, then keep `state`.
#[derive(Debug)]
pub struct Commit {
    pub objects: Vec<PutObject>,
    pub state: TableState,
    /// For a flush: the position of each appended row, in input order.
    pub positions: Vec<RowPosition>,
}

impl Commit {
    /// Puts the objects in order (metadata file last) into a synchronous
    /// store. The Durable Object glue does the same with async R2 puts.
    pub fn put_all(&self, store: &dyn crate::store::ObjectStore) -> Result<()> {
        self.objects
            .iter()
            .try_for_each(|o| store.put(&o.key, &o.bytes))
    }
}

/// Running totals of the current snapshot (the spec's `total-*` summary
/// fields).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub records: i64,
    pub data_files: i64,
    pub delete_files: i64,
    pub position_deletes: i64,
    pub files_size: i64,
}

/// Everything needed to commit the next change to a table without reading
/// storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableState {
    /// Warehouse root URI (maps to the object store root).
    pub warehouse: String,
    /// The table's key prefix under the warehouse, e.g. `ns/orders`.
    pub table_key: String,
    pub metadata: TableMetadata,
    /// Version of the latest metadata file (1 for the first).
    pub metadata_version: u64,
    pub metadata_location: String,
    /// The current snapshot's manifest list records.
    pub manifests: Vec<ManifestFile>,
    /// Live data files (path -> record count).
    pub data_files: BTreeMap<String, i64>,
    /// Highest source LSN included, per shard.
    pub shard_lsns: BTreeMap<String, u64>,
    pub totals: Totals,
}

/// One flush: see the module doc for the contract.
#[derive(Debug, Clone)]
pub struct Flush {
    pub rows: Vec<Vec<Value>>,
    pub deletes: Vec<RowPosition>,
    /// `(shard, lsn)`: the flush includes changes up to these LSNs.
    pub shard_lsns: Vec<(String, u64)>,
    /// Caller-chosen random positive snapshot id.
    pub snapshot_id: i64,
    pub timestamp_ms: i64,
    /// Caller-supplied randomness for file names and Avro sync markers.
    pub nonce: [u8; 16],
}

/// Formats 16 random bytes as a version-4 UUID string.
pub fn uuid_string(b: [u8; 16]) -> String {
    let mut b = b;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl TableState {
    fn put(&self, rel: &str, bytes: Vec<u8>) -> PutObject {
        let key = format!("{}/{rel}", self.table_key);
        PutObject {
            location: location(&self.warehouse, &key),
            key,
            bytes,
        }
    }

    // Writes the next metadata file for `metadata` (the last object of every
    // commit) and returns it with the updated state.
    fn write_metadata(
        mut self,
        mut metadata: TableMetadata,
        nonce: [u8; 16],
    ) -> Result<(PutObject, TableState)> {
        metadata.metadata_log.push(MetadataLogEntry {
            metadata_file: self.metadata_location.clone(),
            timestamp_ms: self.metadata.last_updated_ms,
        });
        metadata.validate()?;
        self.metadata_version += 1;
        let rel = format!(
            "metadata/{:05}-{}.metadata.json",
            self.metadata_version,
            uuid_string(nonce)
        );
        let obj = self.put(&rel, metadata.to_json());
        self.metadata_location = obj.location.clone();
        self.metadata = metadata;
        Ok((obj, self))
    }

    /// Creates a table (no snapshot yet) from its SQL columns.
    pub fn create(
        warehouse: &str,
        table_key: &str,
        columns: &[SqlColumn],
        now_ms: i64,
        nonce: [u8; 16],
    ) -> Result<Commit> {
        check_key(table_key)?;
        let (schema, _) = sqltypes::evolve(None, 0, columns, &[], 0)?;
        let table_location = location(warehouse, table_key);
        let mut metadata =
            TableMetadata::new(&uuid_string(nonce), &table_location, schema, now_ms)?;
        metadata
            .properties
            .insert("dolake.owned".into(), "true".into());
        let mut state = TableState {
            warehouse: warehouse.trim_end_matches('/').to_string(),
            table_key: table_key.to_string(),
            metadata,
            metadata_version: 1,
            metadata_location: String::new(),
            manifests: Vec::new(),
            data_files: BTreeMap::new(),
            shard_lsns: BTreeMap::new(),
            totals: Totals::default(),
        };
        let rel = format!("metadata/00001-{}.metadata.json", uuid_string(nonce));
        let obj = state.put(&rel, state.metadata.to_json());
        state.metadata_location = obj.location.clone();
        Ok(Commit {
            objects: vec![obj],
            state,
            positions: Vec::new(),
        })
    }

    /// Applies the table's new SQL column list (ADD/DROP/RENAME COLUMN;
    /// `renames` are `(old, new)`). Writes a new metadata file only when the
    /// schema changes; `objects` is empty otherwise.
    pub fn alter(
        &self,
        columns: &[SqlColumn],
        renames: &[(String, String)],
        now_ms: i64,
        nonce: [u8; 16],
    ) -> Result<Commit> {
        let md = &self.metadata;
        let next_id = md.schemas.iter().map(|s| s.schema_id).max().unwrap_or(0) + 1;
        let (schema, last) = sqltypes::evolve(
            Some(md.current_schema()),
            md.last_column_id,
            columns,
            renames,
            next_id,
        )?;
        if schema.schema_id == md.current_schema_id {
            return Ok(Commit {
                objects: Vec::new(),
                state: self.clone(),
                positions: Vec::new(),
            });
        }
        let mut next = md.clone();
        next.last_column_id = last;
        next.current_schema_id = schema.schema_id;
        next.schemas.push(schema);
        next.last_updated_ms = now_ms;
        let (obj, state) = self.clone().write_metadata(next, nonce)?;
        Ok(Commit {
            objects: vec![obj],
            state,
            positions: Vec::new(),
        })
    }

    /// Commits one flush as a new snapshot (module doc: contract).
    pub fn flush(&self, f: Flush) -> Result<Commit> {
        if f.rows.is_empty() && f.deletes.is_empty() {
            return Err(Error::InvalidInput("empty flush".into()));
        }
        if f.snapshot_id <= 0 || self.metadata.snapshot_by_id(f.snapshot_id).is_some() {
            return Err(Error::InvalidInput(format!(
                "snapshot id {} must be positive and unused",
                f.snapshot_id
            )));
        }
        for d in &f.deletes {
            match self.data_files.get(&d.file_path) {
                Some(n) if d.pos < *n as u64 => {}
                _ => {
                    return Err(Error::InvalidInput(format!(
                        "delete of {}:{} names no live row",
                        d.file_path, d.pos
                    )))
                }
            }
        }
        let schema = self.metadata.current_schema().clone();
        let uuid = uuid_string(f.nonce);
        let seq = self.metadata.last_sequence_number + 1;
        let mut objects = Vec::new();
        let mut new_manifests = Vec::new();
        let mut next = self.clone();
        let mut positions = Vec::with_capacity(f.rows.len());
        let mut coerced_nulls = 0u64;
        let entry = |df: DataFile| ManifestEntry {
            status: EntryStatus::Added,
            snapshot_id: Some(f.snapshot_id),
            sequence_number: Some(seq),
            file_sequence_number: Some(seq),
            data_file: df,
        };
        let mut summary = BTreeMap::new();

        if !f.rows.is_empty() {
            let mut cells = Vec::with_capacity(f.rows.len());
            for (i, row) in f.rows.iter().enumerate() {
                if row.len() != schema.fields.len() {
                    return Err(Error::InvalidInput(format!(
                        "row {i} has {} values for {} columns",
                        row.len(),
                        schema.fields.len()
                    )));
                }
                let mut out = Vec::with_capacity(row.len());
                for (v, field) in row.iter().zip(&schema.fields) {
                    let Type::Primitive(ty) = field.field_type else {
                        return Err(Error::Unsupported(format!(
                            "nested column {:?}",
                            field.name
                        )));
                    };
                    out.push(match sqltypes::coerce(v, ty) {
                        Some(c) => c,
                        None if field.required => {
                            return Err(Error::InvalidInput(format!(
                                "row {i}: {v:?} does not fit key column {:?} ({ty})",
                                field.name
                            )))
                        }
                        None => {
                            coerced_nulls += 1;
                            Cell::Null
                        }
                    });
                }
                cells.push(out);
            }
            let obj = self.put(&format!("data/{uuid}-data.parquet"), Vec::new());
            let (bytes, df) =
                parquet_file::write(&schema, &cells, &obj.location, DataContent::Data)?;
            positions.extend((0..cells.len() as u64).map(|pos| RowPosition {
                file_path: obj.location.clone(),
                pos,
            }));
            summary.insert("added-data-files", 1);
            summary.insert("added-records", df.record_count);
            summary.insert("added-files-size", df.file_size_in_bytes);
            next.totals.records += df.record_count;
            next.totals.data_files += 1;
            next.totals.files_size += df.file_size_in_bytes;
            next.data_files
                .insert(obj.location.clone(), df.record_count);
            let rows = df.record_count;
            let m = self.manifest(
                &format!("metadata/{uuid}-m0.avro"),
                ManifestContent::Data,
                entry(df),
                seq,
                f.snapshot_id,
                rows,
            )?;
            objects.push(PutObject { bytes, ..obj });
            new_manifests.push(m);
        }
        if !f.deletes.is_empty() {
            let obj = self.put(&format!("data/{uuid}-deletes.parquet"), Vec::new());
            let pairs: Vec<(String, u64)> = f
                .deletes
                .iter()
                .map(|d| (d.file_path.clone(), d.pos))
                .collect();
            let (bytes, df) = parquet_file::write_position_deletes(&pairs, &obj.location)?;
            summary.insert("added-delete-files", 1);
            summary.insert("added-position-delete-files", 1);
            summary.insert("added-position-deletes", df.record_count);
            summary.insert(
                "added-files-size",
                summary.get("added-files-size").copied().unwrap_or(0) + df.file_size_in_bytes,
            );
            next.totals.delete_files += 1;
            next.totals.position_deletes += df.record_count;
            next.totals.files_size += df.file_size_in_bytes;
            let rows = df.record_count;
            let m = self.manifest(
                &format!("metadata/{uuid}-m1.avro"),
                ManifestContent::Deletes,
                entry(df),
                seq,
                f.snapshot_id,
                rows,
            )?;
            objects.push(PutObject { bytes, ..obj });
            new_manifests.push(m);
        }
        let mut list: Vec<ManifestFile> = new_manifests.iter().map(|(_, mf)| mf.clone()).collect();
        list.extend(self.manifests.iter().cloned());
        objects.extend(new_manifests.into_iter().map(|(o, _)| o));
        let list_obj = self.put(
            &format!("metadata/snap-{}-{uuid}.avro", f.snapshot_id),
            manifest::write_manifest_list(
                f.snapshot_id,
                self.metadata.current_snapshot_id,
                seq,
                &list,
                f.nonce,
            )?,
        );

        for (shard, lsn) in &f.shard_lsns {
            let e = next.shard_lsns.entry(shard.clone()).or_insert(0);
            *e = (*e).max(*lsn);
        }
        let operation = match (f.rows.is_empty(), f.deletes.is_empty()) {
            (false, true) => Operation::Append,
            (true, false) => Operation::Delete,
            _ => Operation::Overwrite,
        };
        let mut props: BTreeMap<String, String> = summary
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let t = &next.totals;
        for (k, v) in [
            ("total-records", t.records),
            ("total-data-files", t.data_files),
            ("total-delete-files", t.delete_files),
            ("total-position-deletes", t.position_deletes),
            ("total-equality-deletes", 0),
            ("total-files-size", t.files_size),
        ] {
            props.insert(k.to_string(), v.to_string());
        }
        props.insert(COERCED_NULLS_KEY.to_string(), coerced_nulls.to_string());
        for (shard, lsn) in &next.shard_lsns {
            props.insert(format!("{LSN_SUMMARY_PREFIX}{shard}"), lsn.to_string());
        }

        let mut md = self.metadata.clone();
        md.snapshots.push(Snapshot {
            snapshot_id: f.snapshot_id,
            parent_snapshot_id: md.current_snapshot_id,
            sequence_number: seq,
            timestamp_ms: f.timestamp_ms,
            manifest_list: list_obj.location.clone(),
            summary: Summary {
                operation,
                properties: props,
            },
            schema_id: Some(schema.schema_id),
        });
        md.last_sequence_number = seq;
        md.last_updated_ms = f.timestamp_ms;
        md.current_snapshot_id = Some(f.snapshot_id);
        md.refs
            .insert(MAIN_BRANCH.to_string(), SnapshotRef::branch(f.snapshot_id));
        md.snapshot_log.push(SnapshotLogEntry {
            snapshot_id: f.snapshot_id,
            timestamp_ms: f.timestamp_ms,
        });
        objects.push(list_obj);
        next.manifests = list;
        let (md_obj, state) = next.write_metadata(md, f.nonce)?;
        objects.push(md_obj);
        Ok(Commit {
            objects,
            state,
            positions,
        })
    }

    // Writes a one-entry manifest and its manifest list record.
    fn manifest(
        &self,
        rel: &str,
        content: ManifestContent,
        entry: ManifestEntry,
        seq: i64,
        snapshot_id: i64,
        rows: i64,
    ) -> Result<(PutObject, ManifestFile)> {
        let schema = self.metadata.current_schema();
        let spec = crate::iceberg::PartitionSpec::unpartitioned();
        let mut sync = [0u8; 16];
        sync[..8].copy_from_slice(&snapshot_id.to_le_bytes());
        sync[8] = content as u8;
        let bytes = manifest::write_manifest(schema, &spec, content, &[entry], sync)?;
        let obj = self.put(rel, bytes);
        let mf = ManifestFile {
            manifest_path: obj.location.clone(),
            manifest_length: obj.bytes.len() as i64,
            partition_spec_id: spec.spec_id,
            content,
            sequence_number: seq,
            min_sequence_number: seq,
            added_snapshot_id: snapshot_id,
            added_files_count: 1,
            existing_files_count: 0,
            deleted_files_count: 0,
            added_rows_count: rows,
            existing_rows_count: 0,
            deleted_rows_count: 0,
            partitions: Some(Vec::new()),
            key_metadata: None,
        };
        Ok((obj, mf))
    }
}
