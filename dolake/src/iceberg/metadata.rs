//! Iceberg v2 table metadata (`metadata.json`) and snapshots, with serde to
//! and from the spec's JSON.
//!
//! A table is a chain of immutable metadata files. Each commit writes a new
//! `vN.metadata.json` holding every schema, spec, sort order and snapshot the
//! table ever had (until expired), plus pointers to the current ones:
//!
//! ```text
//! v3.metadata.json
//!   current-schema-id ──▶ schemas[1]
//!   current-snapshot-id ─▶ snapshots[2] ── manifest-list ──▶ snap-….avro
//!   refs.main ──────────▶ same snapshot          │
//!   snapshots[1] (parent) ◀── parent-snapshot-id ─┘   (time travel)
//! ```
//!
//! Invariants kept by [`TableMetadata::validate`]: format version 2; the
//! current schema/spec/sort order exist; `last-column-id` is at least every
//! schema's highest field id; the current snapshot exists and `refs.main`
//! points at it; sequence numbers never exceed `last-sequence-number`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::schema::{PartitionSpec, Schema, SortOrder};
use crate::error::{Error, Result};

/// The branch every reader treats as the table's current state.
pub const MAIN_BRANCH: &str = "main";

/// `metadata.json`, format version 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TableMetadata {
    pub format_version: u8,
    pub table_uuid: String,
    pub location: String,
    pub last_sequence_number: i64,
    pub last_updated_ms: i64,
    pub last_column_id: i32,
    pub schemas: Vec<Schema>,
    pub current_schema_id: i32,
    pub partition_specs: Vec<PartitionSpec>,
    pub default_spec_id: i32,
    pub last_partition_id: i32,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "snapshot_id_or_minus_one"
    )]
    pub current_snapshot_id: Option<i64>,
    #[serde(default)]
    pub snapshots: Vec<Snapshot>,
    #[serde(default)]
    pub snapshot_log: Vec<SnapshotLogEntry>,
    #[serde(default)]
    pub metadata_log: Vec<MetadataLogEntry>,
    pub sort_orders: Vec<SortOrder>,
    pub default_sort_order_id: i32,
    #[serde(default)]
    pub refs: BTreeMap<String, SnapshotRef>,
}

// Some writers encode "no current snapshot" as -1 rather than omitting it.
fn snapshot_id_or_minus_one<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<i64>, D::Error> {
    let v: Option<i64> = Option::deserialize(d)?;
    Ok(v.filter(|id| *id != -1))
}

/// What a snapshot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Only data files were added.
    Append,
    /// Files were replaced without changing the data (compaction).
    Replace,
    /// Data and/or delete files were added and/or removed (row changes).
    Overwrite,
    /// Only files were removed or delete files added.
    Delete,
}

/// A snapshot summary: the operation plus free-form string properties
/// (`added-data-files`, `total-records`, DoLake's per-shard LSNs, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub operation: Operation,
    #[serde(flatten)]
    pub properties: BTreeMap<String, String>,
}

/// One snapshot: the table's full state at a commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Snapshot {
    pub snapshot_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_snapshot_id: Option<i64>,
    pub sequence_number: i64,
    pub timestamp_ms: i64,
    pub manifest_list: String,
    pub summary: Summary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_id: Option<i32>,
}

/// Branch or tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefType {
    Branch,
    Tag,
}

/// A named reference to a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SnapshotRef {
    pub snapshot_id: i64,
    #[serde(rename = "type")]
    pub ref_type: RefType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_snapshots_to_keep: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_snapshot_age_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ref_age_ms: Option<i64>,
}

impl SnapshotRef {
    /// A branch with no retention overrides.
    pub fn branch(snapshot_id: i64) -> Self {
        SnapshotRef {
            snapshot_id,
            ref_type: RefType::Branch,
            min_snapshots_to_keep: None,
            max_snapshot_age_ms: None,
            max_ref_age_ms: None,
        }
    }
}

/// `snapshot-log` entry: when a snapshot became current.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SnapshotLogEntry {
    pub snapshot_id: i64,
    pub timestamp_ms: i64,
}

/// `metadata-log` entry: a previous metadata file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MetadataLogEntry {
    pub metadata_file: String,
    pub timestamp_ms: i64,
}

impl TableMetadata {
    /// A new, empty (snapshot-less) unpartitioned, unsorted v2 table.
    pub fn new(table_uuid: &str, location: &str, schema: Schema, now_ms: i64) -> Result<Self> {
        let last_column_id = schema.highest_field_id();
        let md = TableMetadata {
            format_version: 2,
            table_uuid: table_uuid.to_string(),
            location: location.trim_end_matches('/').to_string(),
            last_sequence_number: 0,
            last_updated_ms: now_ms,
            last_column_id,
            current_schema_id: schema.schema_id,
            schemas: vec![schema],
            partition_specs: vec![PartitionSpec::unpartitioned()],
            default_spec_id: 0,
            // The spec reserves partition field ids from 1000; 999 means none.
            last_partition_id: 999,
            properties: BTreeMap::new(),
            current_snapshot_id: None,
            snapshots: Vec::new(),
            snapshot_log: Vec::new(),
            metadata_log: Vec::new(),
            sort_orders: vec![SortOrder::unsorted()],
            default_sort_order_id: 0,
            refs: BTreeMap::new(),
        };
        md.validate()?;
        Ok(md)
    }

    /// Parses and validates `metadata.json` bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let md: TableMetadata = serde_json::from_slice(bytes)
            .map_err(|e| Error::Corrupt(format!("metadata.json: {e}")))?;
        md.validate()?;
        Ok(md)
    }

    /// Serialises to the spec's JSON (pretty, for humans reading R2).
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_vec_pretty(self).expect("metadata serialises")
    }

    /// The current schema.
    pub fn current_schema(&self) -> &Schema {
        // validate() guarantees presence; metadata is only built through it.
        self.schema_by_id(self.current_schema_id)
            .expect("current schema exists")
    }

    /// The schema with this id.
    pub fn schema_by_id(&self, id: i32) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.schema_id == id)
    }

    /// The snapshot with this id.
    pub fn snapshot_by_id(&self, id: i64) -> Option<&Snapshot> {
        self.snapshots.iter().find(|s| s.snapshot_id == id)
    }

    /// The current snapshot, if the table has any.
    pub fn current_snapshot(&self) -> Option<&Snapshot> {
        self.current_snapshot_id
            .and_then(|id| self.snapshot_by_id(id))
    }

    /// The schema a snapshot was written with (the current one if the
    /// snapshot does not say).
    pub fn schema_for_snapshot(&self, snapshot: &Snapshot) -> &Schema {
        snapshot
            .schema_id
            .and_then(|id| self.schema_by_id(id))
            .unwrap_or_else(|| self.current_schema())
    }

    /// Checks the invariants listed in the module doc.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Corrupt(format!("table metadata: {m}")));
        if self.format_version != 2 {
            return Err(Error::Unsupported(format!(
                "table format version {}",
                self.format_version
            )));
        }
        if self.schema_by_id(self.current_schema_id).is_none() {
            return bad(format!("current schema {} missing", self.current_schema_id));
        }
        if let Some(s) = self
            .schemas
            .iter()
            .find(|s| s.highest_field_id() > self.last_column_id)
        {
            return bad(format!(
                "schema {} has field ids above last-column-id {}",
                s.schema_id, self.last_column_id
            ));
        }
        if !self
            .partition_specs
            .iter()
            .any(|s| s.spec_id == self.default_spec_id)
        {
            return bad(format!("default spec {} missing", self.default_spec_id));
        }
        if !self
            .sort_orders
            .iter()
            .any(|s| s.order_id == self.default_sort_order_id)
        {
            return bad(format!(
                "default sort order {} missing",
                self.default_sort_order_id
            ));
        }
        if let Some(s) = self
            .snapshots
            .iter()
            .find(|s| s.sequence_number > self.last_sequence_number)
        {
            return bad(format!(
                "snapshot {} has sequence number above last-sequence-number",
                s.snapshot_id
            ));
        }
        match self.current_snapshot_id {
            Some(id) => {
                if self.snapshot_by_id(id).is_none() {
                    return bad(format!("current snapshot {id} missing"));
                }
                if self.refs.get(MAIN_BRANCH).map(|r| r.snapshot_id) != Some(id) {
                    return bad("refs.main does not point at the current snapshot".into());
                }
            }
            None if self.refs.contains_key(MAIN_BRANCH) => {
                return bad("refs.main set without a current snapshot".into())
            }
            None => {}
        }
        for (name, r) in &self.refs {
            if self.snapshot_by_id(r.snapshot_id).is_none() {
                return bad(format!(
                    "ref {name} points at missing snapshot {}",
                    r.snapshot_id
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iceberg::schema::{NestedField, PrimitiveType, Type};

    fn schema() -> Schema {
        Schema::new(
            0,
            vec![
                NestedField::new(1, "id", true, Type::Primitive(PrimitiveType::Long)),
                NestedField::new(2, "name", false, Type::Primitive(PrimitiveType::String)),
            ],
            vec![1],
        )
    }

    #[test]
    fn new_table_serialises_with_spec_keys() {
        let md = TableMetadata::new(
            "9c12d441-03fe-4693-9a96-a0705ddf69c1",
            "s3://b/w/t/",
            schema(),
            5,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&md.to_json()).unwrap();
        assert_eq!(v["format-version"], 2);
        assert_eq!(v["location"], "s3://b/w/t");
        assert_eq!(v["last-column-id"], 2);
        assert_eq!(v["last-partition-id"], 999);
        assert_eq!(v["schemas"][0]["identifier-field-ids"][0], 1);
        assert!(v.get("current-snapshot-id").is_none());
        assert_eq!(TableMetadata::from_json(&md.to_json()).unwrap(), md);
    }

    #[test]
    fn parses_spec_example_with_snapshot_and_refs() {
        let json = r#"{
          "format-version": 2, "table-uuid": "u", "location": "s3://b/t",
          "last-sequence-number": 1, "last-updated-ms": 10, "last-column-id": 2,
          "schemas": [{"type":"struct","schema-id":0,"fields":[
             {"id":1,"name":"id","required":true,"type":"long"},
             {"id":2,"name":"name","required":false,"type":"string"}]}],
          "current-schema-id": 0,
          "partition-specs": [{"spec-id":0,"fields":[]}], "default-spec-id": 0,
          "last-partition-id": 999, "properties": {"owner":"dolake"},
          "current-snapshot-id": 7,
          "snapshots": [{"snapshot-id":7,"sequence-number":1,"timestamp-ms":10,
             "manifest-list":"s3://b/t/metadata/snap-7.avro",
             "summary":{"operation":"append","added-records":"3"},"schema-id":0}],
          "snapshot-log": [{"snapshot-id":7,"timestamp-ms":10}],
          "metadata-log": [{"metadata-file":"s3://b/t/metadata/v1.metadata.json","timestamp-ms":1}],
          "sort-orders": [{"order-id":0,"fields":[]}], "default-sort-order-id": 0,
          "refs": {"main": {"snapshot-id": 7, "type": "branch"}}
        }"#;
        let md = TableMetadata::from_json(json.as_bytes()).unwrap();
        let snap = md.current_snapshot().unwrap();
        assert_eq!(snap.summary.operation, Operation::Append);
        assert_eq!(snap.summary.properties["added-records"], "3");
        assert_eq!(md.schema_for_snapshot(snap).schema_id, 0);
        let again = TableMetadata::from_json(&md.to_json()).unwrap();
        assert_eq!(again, md);
    }

    #[test]
    fn broken_invariants_are_corrupt_errors() {
        let mut md = TableMetadata::new("u", "s3://b/t", schema(), 0).unwrap();
        md.last_column_id = 1;
        assert!(matches!(md.validate(), Err(Error::Corrupt(_))));
        let mut md = TableMetadata::new("u", "s3://b/t", schema(), 0).unwrap();
        md.current_snapshot_id = Some(3);
        assert!(matches!(md.validate(), Err(Error::Corrupt(_))));
        assert!(TableMetadata::from_json(b"{\"format-version\": 2}").is_err());
        let mut md = TableMetadata::new("u", "s3://b/t", schema(), 0).unwrap();
        md.format_version = 1;
        assert!(matches!(md.validate(), Err(Error::Unsupported(_))));
    }

    #[test]
    fn minus_one_current_snapshot_means_none() {
        let mut v: serde_json::Value = serde_json::from_slice(
            &TableMetadata::new("u", "s3://b/t", schema(), 0)
                .unwrap()
                .to_json(),
        )
        .unwrap();
        v["current-snapshot-id"] = serde_json::json!(-1);
        let md = TableMetadata::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!(md.current_snapshot_id, None);
    }
}
