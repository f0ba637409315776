//! Reading a table snapshot back into Arrow record batches, applying
//! position deletes (merge-on-read).
//!
//! ```text
//! metadata.json ─▶ snapshot (current, or by id for time travel)
//!   └▶ manifest list ─▶ manifests ─▶ data files      (content 0)
//!                                 └▶ position deletes (content 1)
//! row (file, pos) of a data file with data sequence number S is deleted
//! iff a position delete file with sequence number >= S lists (file, pos)
//! ```
//!
//! Columns are matched by Parquet field id, never by name, and projected to
//! the snapshot's schema: a column the file predates reads as NULL, a
//! dropped column is not returned, a renamed one comes back under its new
//! name. The current state uses the current schema; a snapshot read by id
//! uses the schema it was written with. Equality deletes are not written by DoLake and are rejected.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow_array::{
    new_null_array, Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::iceberg::manifest::{read_manifest, read_manifest_list, DataContent, EntryStatus};
use crate::iceberg::{Schema, TableMetadata};
use crate::parquet_file::{arrow_schema, arrow_type};
use crate::store::{key_of, ObjectStore};

/// The rows of one snapshot.
#[derive(Debug)]
pub struct Scan {
    pub snapshot_id: Option<i64>,
    pub schema: Schema,
    pub batches: Vec<RecordBatch>,
}

impl Scan {
    /// Total rows across batches.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

/// Reads tables under one warehouse root from an object store.
pub struct TableReader<'a> {
    store: &'a dyn ObjectStore,
    warehouse: String,
}

impl<'a> TableReader<'a> {
    pub fn new(store: &'a dyn ObjectStore, warehouse: &str) -> Self {
        TableReader {
            store,
            warehouse: warehouse.trim_end_matches('/').to_string(),
        }
    }

    fn get(&self, location: &str) -> Result<Vec<u8>> {
        self.store.get(&key_of(&self.warehouse, location)?)
    }

    /// Loads and validates a metadata file.
    pub fn load_metadata(&self, metadata_location: &str) -> Result<TableMetadata> {
        TableMetadata::from_json(&self.get(metadata_location)?)
    }

    /// The rows of `snapshot_id` (the current snapshot when `None`).
    pub fn scan(&self, metadata: &TableMetadata, snapshot_id: Option<i64>) -> Result<Scan> {
        let snapshot = match snapshot_id {
            Some(id) => Some(
                metadata
                    .snapshot_by_id(id)
                    .ok_or_else(|| Error::NotFound(format!("snapshot {id}")))?,
            ),
            None => metadata.current_snapshot(),
        };
        let Some(snapshot) = snapshot else {
            return Ok(Scan {
                snapshot_id: None,
                schema: metadata.current_schema().clone(),
                batches: Vec::new(),
            });
        };
        // Like Iceberg's engines: the current state is read with the current
        // schema, time travel with the schema the snapshot was written with.
        let schema = match snapshot_id {
            None => metadata.current_schema().clone(),
            Some(_) => metadata.schema_for_snapshot(snapshot).clone(),
        };
        let mut data_files = Vec::new();
        // Delete positions per data file, with the delete file's sequence.
        let mut deletes: BTreeMap<String, Vec<(i64, u64)>> = BTreeMap::new();
        for mf in read_manifest_list(&self.get(&snapshot.manifest_list)?)? {
            for e in read_manifest(&self.get(&mf.manifest_path)?, &mf)? {
                if e.status == EntryStatus::Deleted {
                    continue;
                }
                let seq = e.sequence_number.unwrap_or(mf.sequence_number);
                match e.data_file.content {
                    DataContent::Data => data_files.push((e.data_file.file_path, seq)),
                    DataContent::PositionDeletes => {
                        for (path, pos) in self.read_position_deletes(&e.data_file.file_path)? {
                            deletes.entry(path).or_default().push((seq, pos));
                        }
                    }
                    DataContent::EqualityDeletes => {
                        return Err(Error::Unsupported("equality delete files".into()))
                    }
                }
            }
        }
        let mut batches = Vec::new();
        for (path, seq) in data_files {
            let deleted: BTreeSet<u64> = deletes
                .get(&path)
                .into_iter()
                .flatten()
                .filter(|(dseq, _)| *dseq >= seq)
                .map(|(_, pos)| *pos)
                .collect();
            batches.extend(self.read_data_file(&path, &schema, &deleted)?);
        }
        Ok(Scan {
            snapshot_id: Some(snapshot.snapshot_id),
            schema,
            batches,
        })
    }

    fn batches(&self, location: &str) -> Result<(Vec<Option<i32>>, Vec<RecordBatch>)> {
        let bytes = bytes::Bytes::from(self.get(location)?);
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
        let ids = builder
            .parquet_schema()
            .root_schema()
            .get_fields()
            .iter()
            .map(|f| {
                let info = f.get_basic_info();
                info.has_id().then(|| info.id())
            })
            .collect();
        let batches = builder
            .build()?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok((ids, batches))
    }

    fn read_position_deletes(&self, location: &str) -> Result<Vec<(String, u64)>> {
        let (_, batches) = self.batches(location)?;
        let mut out = Vec::new();
        for b in batches {
            let paths = b.column(0).as_any().downcast_ref::<StringArray>();
            let pos = b.column(1).as_any().downcast_ref::<Int64Array>();
            let (Some(paths), Some(pos)) = (paths, pos) else {
                return Err(Error::Corrupt(format!(
                    "{location}: not a position delete file"
                )));
            };
            for i in 0..b.num_rows() {
                let p = u64::try_from(pos.value(i))
                    .map_err(|_| Error::Corrupt(format!("{location}: negative position")))?;
                out.push((paths.value(i).to_string(), p));
            }
        }
        Ok(out)
    }

    fn read_data_file(
        &self,
        location: &str,
        schema: &Schema,
        deleted: &BTreeSet<u64>,
    ) -> Result<Vec<RecordBatch>> {
        let (ids, batches) = self.batches(location)?;
        let out_schema = Arc::new(arrow_schema(schema)?);
        let mut out = Vec::with_capacity(batches.len());
        let mut offset = 0u64;
        for b in batches {
            let n = b.num_rows();
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields.len());
            for f in &schema.fields {
                let col = match ids.iter().position(|id| *id == Some(f.id)) {
                    Some(i) => b.column(i).clone(),
                    None => new_null_array(&arrow_type(f)?, n),
                };
                if col.data_type() != &arrow_type(f)? {
                    return Err(Error::Corrupt(format!(
                        "{location}: column {} has type {}",
                        f.name,
                        col.data_type()
                    )));
                }
                columns.push(col);
            }
            let batch = RecordBatch::try_new(out_schema.clone(), columns)?;
            let keep: BooleanArray = (0..n as u64)
                .map(|i| Some(!deleted.contains(&(offset + i))))
                .collect();
            offset += n as u64;
            let batch = arrow_select::filter::filter_record_batch(&batch, &keep)?;
            if batch.num_rows() > 0 {
                out.push(batch);
            }
        }
        Ok(out)
    }
}
