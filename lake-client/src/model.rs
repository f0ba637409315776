//! What browsing returns: a table's summary (location, current snapshot,
//! schema as columns) and its snapshots, built from the Iceberg metadata
//! the catalog's load-table answer carries.
//!
//! ```text
//!   LoadTableResult { metadata-location, metadata, config }
//!        └─▶ Table { ident, location, current_snapshot_id, columns[id, name, type],
//!                    metadata (validated TableMetadata), storage (s3.* config) }
//!               └─▶ snapshots(): SnapshotInfo { id, parent, timestamp, operation,
//!                                              summary, shard_lsns }
//! ```
//!
//! DoLake records in every snapshot summary the highest source LSN it
//! includes per DoSQL shard, as `dolake.lsn.<shard>` = decimal LSN (see
//! `dolake::table::LSN_SUMMARY_PREFIX`); [`SnapshotInfo::shard_lsns`] is
//! that map. A snapshot includes every change of shard `s` up to
//! `shard_lsns[s]`, so a change-stream subscription from `lsn + 1`
//! continues exactly where the snapshot ends.

use std::collections::BTreeMap;
use std::fmt;

use dolake::iceberg::{NestedField, Operation, Schema, Snapshot, TableMetadata, Type};
use dolake::table::LSN_SUMMARY_PREFIX;

use crate::error::{Error, Result};

/// A namespace: its levels, outermost first (`["dolake", "shard0"]`).
pub type Namespace = Vec<String>;

/// A table's name within the catalog.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
pub struct TableIdent {
    pub namespace: Namespace,
    pub name: String,
}

impl fmt::Display for TableIdent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for level in &self.namespace {
            write!(f, "{level}.")?;
        }
        f.write_str(&self.name)
    }
}

/// One top-level column of a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The Iceberg field id: stable across renames (Parquet columns are
    /// matched by it, never by name).
    pub id: i32,
    pub name: String,
    /// NOT NULL.
    pub required: bool,
    /// The Iceberg type: `long`, `string`, `decimal(10,2)`, ...; nested
    /// types as their spec JSON.
    pub data_type: String,
}

impl Column {
    fn of(field: &NestedField) -> Column {
        let data_type = match &field.field_type {
            Type::Primitive(p) => p.to_string(),
            nested => serde_json::to_string(nested).unwrap_or_else(|_| "nested".into()),
        };
        Column {
            id: field.id,
            name: field.name.clone(),
            required: field.required,
            data_type,
        }
    }

    /// The columns of `schema`, in order.
    pub fn of_schema(schema: &Schema) -> Vec<Column> {
        schema.fields.iter().map(Column::of).collect()
    }
}

/// A table as the catalog describes it now.
#[derive(Debug, Clone)]
pub struct Table {
    pub ident: TableIdent,
    /// The metadata file the catalog points at (absent only for a staged
    /// create, which DoLake never lists).
    pub metadata_location: Option<String>,
    /// The table's root location (`s3://bucket/warehouse/ns/table`).
    pub location: String,
    pub uuid: String,
    pub current_snapshot_id: Option<i64>,
    pub last_updated_ms: i64,
    /// The current schema.
    pub schema_id: i32,
    pub columns: Vec<Column>,
    pub properties: BTreeMap<String, String>,
    /// The whole (validated) metadata, for anything not summarised here.
    pub metadata: TableMetadata,
    /// Storage properties for reading the table's files: the catalog's
    /// defaults, overridden by its overrides and by the load-table
    /// `config` (`s3.endpoint`, `s3.access-key-id`, ...).
    pub storage: BTreeMap<String, String>,
}

impl Table {
    /// Builds the summary of a load-table answer.
    pub(crate) fn from_load(
        ident: TableIdent,
        metadata_location: Option<String>,
        metadata: TableMetadata,
        storage: BTreeMap<String, String>,
    ) -> Table {
        let schema = metadata.current_schema();
        Table {
            ident,
            metadata_location,
            location: metadata.location.clone(),
            uuid: metadata.table_uuid.clone(),
            current_snapshot_id: metadata.current_snapshot_id,
            last_updated_ms: metadata.last_updated_ms,
            schema_id: schema.schema_id,
            columns: Column::of_schema(schema),
            properties: metadata.properties.clone(),
            storage,
            metadata,
        }
    }

    /// Every snapshot still in the metadata, oldest commit first.
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        let current = self.current_snapshot_id;
        self.metadata
            .snapshots
            .iter()
            .map(|s| SnapshotInfo::of(s, current == Some(s.snapshot_id)))
            .collect()
    }

    /// The current snapshot, if the table has one.
    pub fn current_snapshot(&self) -> Result<Option<SnapshotInfo>> {
        self.metadata
            .current_snapshot()
            .map(|s| SnapshotInfo::of(s, true))
            .transpose()
    }
}

/// One snapshot: the table's whole state at one commit.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotInfo {
    pub snapshot_id: i64,
    pub parent_snapshot_id: Option<i64>,
    pub sequence_number: i64,
    /// Commit time, Unix milliseconds.
    pub timestamp_ms: i64,
    pub operation: Operation,
    /// The summary's properties (`added-records`, `total-records`, ...).
    pub summary: BTreeMap<String, String>,
    /// Highest DoSQL LSN included, per shard (from `dolake.lsn.<shard>`).
    pub shard_lsns: BTreeMap<String, u64>,
    /// The schema the snapshot was written with, when recorded.
    pub schema_id: Option<i32>,
    /// Whether this is the table's current snapshot.
    pub current: bool,
}

impl SnapshotInfo {
    fn of(s: &Snapshot, current: bool) -> Result<SnapshotInfo> {
        let summary = &s.summary.properties;
        let mut shard_lsns = BTreeMap::new();
        for (key, value) in summary {
            let Some(shard) = key.strip_prefix(LSN_SUMMARY_PREFIX) else {
                continue;
            };
            let lsn = value.parse::<u64>().map_err(|_| {
                Error::Corrupt(format!(
                    "snapshot {}: summary {key} = {value:?} is not an LSN",
                    s.snapshot_id
                ))
            })?;
            shard_lsns.insert(shard.to_owned(), lsn);
        }
        Ok(SnapshotInfo {
            snapshot_id: s.snapshot_id,
            parent_snapshot_id: s.parent_snapshot_id,
            sequence_number: s.sequence_number,
            timestamp_ms: s.timestamp_ms,
            operation: s.summary.operation,
            summary: summary.clone(),
            shard_lsns,
            schema_id: s.schema_id,
            current,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dolake::iceberg::{PrimitiveType, Summary};

    fn snapshot(props: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            snapshot_id: 5,
            parent_snapshot_id: Some(4),
            sequence_number: 2,
            timestamp_ms: 99,
            manifest_list: "s3://b/w/t/metadata/snap.avro".into(),
            summary: Summary {
                operation: Operation::Overwrite,
                properties: props
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            schema_id: Some(0),
        }
    }

    #[test]
    fn shard_lsns_come_from_the_summary() {
        let s = snapshot(&[
            ("dolake.lsn.shard0", "17"),
            ("dolake.lsn.eu.west", "3"),
            ("total-records", "4"),
        ]);
        let info = SnapshotInfo::of(&s, true).unwrap();
        let want = BTreeMap::from([("eu.west".to_string(), 3), ("shard0".to_string(), 17)]);
        assert_eq!(info.shard_lsns, want);
        assert_eq!(info.summary["total-records"], "4");
        assert_eq!(
            (info.parent_snapshot_id, info.operation),
            (Some(4), Operation::Overwrite)
        );
    }

    #[test]
    fn a_summary_lsn_that_is_not_a_number_is_corrupt() {
        let s = snapshot(&[("dolake.lsn.shard0", "-1")]);
        assert!(matches!(
            SnapshotInfo::of(&s, false),
            Err(Error::Corrupt(_))
        ));
    }

    #[test]
    fn columns_name_their_iceberg_types() {
        let schema = Schema::new(
            0,
            vec![
                NestedField::new(1, "id", true, Type::Primitive(PrimitiveType::Long)),
                NestedField::new(2, "name", false, Type::Primitive(PrimitiveType::String)),
            ],
            vec![],
        );
        let cols = Column::of_schema(&schema);
        assert_eq!(cols[0].data_type, "long");
        assert_eq!((cols[1].id, cols[1].required), (2, false));
        assert_eq!(cols[1].data_type, "string");
        let ident = TableIdent {
            namespace: vec!["a".into(), "b".into()],
            name: "t".into(),
        };
        assert_eq!(ident.to_string(), "a.b.t");
    }
}
