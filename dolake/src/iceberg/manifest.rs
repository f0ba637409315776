//! Manifests and manifest lists: the Avro files that list a snapshot's data
//! and delete files (Iceberg spec, format version 2).
//!
//! ```text
//! snapshot ── manifest-list (snap-<id>-<uuid>.avro): one `manifest_file`
//!               record per manifest (path, content, sequence numbers, counts)
//!                 └─▶ manifest (<uuid>-m0.avro): one `manifest_entry` per file
//!                       (status, snapshot, sequence numbers, `data_file`
//!                        with path, record count and column statistics)
//! ```
//!
//! The Avro schemas below are the spec's, with its field ids (`field-id`,
//! `element-id`) and its int-keyed maps written as arrays of key/value
//! records (`logicalType: map`). DoLake writes unpartitioned tables, so
//! `partition` is the empty record `r102`. Readers decode with the schema in
//! each file's header, so manifests from other writers read too (their
//! partition values are ignored).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::schema::{PartitionSpec, Schema};
use crate::avro::{ocf, Value};
use crate::error::{Error, Result};

/// What a data file holds (`data_file.content`, field 134).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataContent {
    Data = 0,
    PositionDeletes = 1,
    EqualityDeletes = 2,
}

/// `manifest_entry.status` (field 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryStatus {
    Existing = 0,
    Added = 1,
    Deleted = 2,
}

/// What a manifest lists (`manifest_file.content`, field 517).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ManifestContent {
    Data = 0,
    Deletes = 1,
}

/// `data_file` (field 2 of a manifest entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFile {
    pub content: DataContent,
    pub file_path: String,
    /// `PARQUET` for everything DoLake writes.
    pub file_format: String,
    pub record_count: i64,
    pub file_size_in_bytes: i64,
    pub column_sizes: BTreeMap<i32, i64>,
    pub value_counts: BTreeMap<i32, i64>,
    pub null_value_counts: BTreeMap<i32, i64>,
    pub nan_value_counts: BTreeMap<i32, i64>,
    /// Single-value binary encoding (spec appendix D) per field id.
    pub lower_bounds: BTreeMap<i32, Vec<u8>>,
    pub upper_bounds: BTreeMap<i32, Vec<u8>>,
    pub split_offsets: Option<Vec<i64>>,
    pub equality_ids: Option<Vec<i32>>,
    pub sort_order_id: Option<i32>,
}

/// `manifest_entry`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub status: EntryStatus,
    pub snapshot_id: Option<i64>,
    /// Data sequence number; `None` in a file means "inherit from the
    /// manifest", which [`read_manifest`] resolves.
    pub sequence_number: Option<i64>,
    pub file_sequence_number: Option<i64>,
    pub data_file: DataFile,
}

/// `field_summary` of a manifest list entry (one per partition field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSummary {
    pub contains_null: bool,
    pub contains_nan: Option<bool>,
    pub lower_bound: Option<Vec<u8>>,
    pub upper_bound: Option<Vec<u8>>,
}

/// `manifest_file`: one record of a manifest list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub manifest_path: String,
    pub manifest_length: i64,
    pub partition_spec_id: i32,
    pub content: ManifestContent,
    pub sequence_number: i64,
    pub min_sequence_number: i64,
    pub added_snapshot_id: i64,
    pub added_files_count: i32,
    pub existing_files_count: i32,
    pub deleted_files_count: i32,
    pub added_rows_count: i64,
    pub existing_rows_count: i64,
    pub deleted_rows_count: i64,
    pub partitions: Option<Vec<FieldSummary>>,
    pub key_metadata: Option<Vec<u8>>,
}

fn int_map(field_id: u32, name: &str, key_id: u32, value: &str) -> String {
    let value_id = key_id + 1;
    format!(
        r#"{{"name":"{name}","type":["null",{{"type":"array","items":{{"type":"record","name":"k{key_id}_v{value_id}","fields":[{{"name":"key","type":"int","field-id":{key_id}}},{{"name":"value","type":"{value}","field-id":{value_id}}}]}},"logicalType":"map"}}],"default":null,"field-id":{field_id}}}"#
    )
}

/// The Avro schema of `manifest_entry` for an unpartitioned spec.
pub fn manifest_entry_schema() -> String {
    let data_file = [
        r#"{"name":"content","type":"int","field-id":134}"#.to_string(),
        r#"{"name":"file_path","type":"string","field-id":100}"#.to_string(),
        r#"{"name":"file_format","type":"string","field-id":101}"#.to_string(),
        r#"{"name":"partition","type":{"type":"record","name":"r102","fields":[]},"field-id":102}"#.to_string(),
        r#"{"name":"record_count","type":"long","field-id":103}"#.to_string(),
        r#"{"name":"file_size_in_bytes","type":"long","field-id":104}"#.to_string(),
        int_map(108, "column_sizes", 117, "long"),
        int_map(109, "value_counts", 119, "long"),
        int_map(110, "null_value_counts", 121, "long"),
        int_map(137, "nan_value_counts", 138, "long"),
        int_map(125, "lower_bounds", 126, "bytes"),
        int_map(128, "upper_bounds", 129, "bytes"),
        r#"{"name":"key_metadata","type":["null","bytes"],"default":null,"field-id":131}"#.to_string(),
        r#"{"name":"split_offsets","type":["null",{"type":"array","items":"long","element-id":133}],"default":null,"field-id":132}"#.to_string(),
        r#"{"name":"equality_ids","type":["null",{"type":"array","items":"int","element-id":136}],"default":null,"field-id":135}"#.to_string(),
        r#"{"name":"sort_order_id","type":["null","int"],"default":null,"field-id":140}"#.to_string(),
    ]
    .join(",");
    format!(
        r#"{{"type":"record","name":"manifest_entry","fields":[{{"name":"status","type":"int","field-id":0}},{{"name":"snapshot_id","type":["null","long"],"default":null,"field-id":1}},{{"name":"sequence_number","type":["null","long"],"default":null,"field-id":3}},{{"name":"file_sequence_number","type":["null","long"],"default":null,"field-id":4}},{{"name":"data_file","type":{{"type":"record","name":"r2","fields":[{data_file}]}},"field-id":2}}]}}"#
    )
}

/// The Avro schema of `manifest_file` (a manifest list record).
pub const MANIFEST_FILE_SCHEMA: &str = r#"{"type":"record","name":"manifest_file","fields":[{"name":"manifest_path","type":"string","field-id":500},{"name":"manifest_length","type":"long","field-id":501},{"name":"partition_spec_id","type":"int","field-id":502},{"name":"content","type":"int","field-id":517},{"name":"sequence_number","type":"long","field-id":515},{"name":"min_sequence_number","type":"long","field-id":516},{"name":"added_snapshot_id","type":"long","field-id":503},{"name":"added_files_count","type":"int","field-id":504},{"name":"existing_files_count","type":"int","field-id":505},{"name":"deleted_files_count","type":"int","field-id":506},{"name":"added_rows_count","type":"long","field-id":512},{"name":"existing_rows_count","type":"long","field-id":513},{"name":"deleted_rows_count","type":"long","field-id":514},{"name":"partitions","type":["null",{"type":"array","items":{"type":"record","name":"r508","fields":[{"name":"contains_null","type":"boolean","field-id":509},{"name":"contains_nan","type":["null","boolean"],"default":null,"field-id":518},{"name":"lower_bound","type":["null","bytes"],"default":null,"field-id":510},{"name":"upper_bound","type":["null","bytes"],"default":null,"field-id":511}]},"element-id":508}],"default":null,"field-id":507},{"name":"key_metadata","type":["null","bytes"],"default":null,"field-id":519}]}"#;

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
    v.map(f).unwrap_or(Value::Null)
}

fn kv_array<V: Clone>(m: &BTreeMap<i32, V>, f: impl Fn(V) -> Value) -> Value {
    if m.is_empty() {
        return Value::Null;
    }
    Value::Array(
        m.iter()
            .map(|(k, v)| {
                Value::Record(vec![
                    ("key".into(), Value::Int(*k)),
                    ("value".into(), f(v.clone())),
                ])
            })
            .collect(),
    )
}

fn rec(fields: Vec<(&str, Value)>) -> Value {
    Value::Record(
        fields
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect(),
    )
}

fn entry_to_avro(e: &ManifestEntry) -> Value {
    let d = &e.data_file;
    let data_file = rec(vec![
        ("content", Value::Int(d.content as i32)),
        ("file_path", Value::String(d.file_path.clone())),
        ("file_format", Value::String(d.file_format.clone())),
        ("partition", Value::Record(Vec::new())),
        ("record_count", Value::Long(d.record_count)),
        ("file_size_in_bytes", Value::Long(d.file_size_in_bytes)),
        ("column_sizes", kv_array(&d.column_sizes, Value::Long)),
        ("value_counts", kv_array(&d.value_counts, Value::Long)),
        (
            "null_value_counts",
            kv_array(&d.null_value_counts, Value::Long),
        ),
        (
            "nan_value_counts",
            kv_array(&d.nan_value_counts, Value::Long),
        ),
        ("lower_bounds", kv_array(&d.lower_bounds, Value::Bytes)),
        ("upper_bounds", kv_array(&d.upper_bounds, Value::Bytes)),
        ("key_metadata", Value::Null),
        (
            "split_offsets",
            opt(d.split_offsets.clone(), |v| {
                Value::Array(v.into_iter().map(Value::Long).collect())
            }),
        ),
        (
            "equality_ids",
            opt(d.equality_ids.clone(), |v| {
                Value::Array(v.into_iter().map(Value::Int).collect())
            }),
        ),
        ("sort_order_id", opt(d.sort_order_id, Value::Int)),
    ]);
    rec(vec![
        ("status", Value::Int(e.status as i32)),
        ("snapshot_id", opt(e.snapshot_id, Value::Long)),
        ("sequence_number", opt(e.sequence_number, Value::Long)),
        (
            "file_sequence_number",
            opt(e.file_sequence_number, Value::Long),
        ),
        ("data_file", data_file),
    ])
}

/// Writes a manifest for an unpartitioned table.
pub fn write_manifest(
    schema: &Schema,
    spec: &PartitionSpec,
    content: ManifestContent,
    entries: &[ManifestEntry],
    sync: [u8; 16],
) -> Result<Vec<u8>> {
    if !spec.fields.is_empty() {
        return Err(Error::Unsupported("writing partitioned manifests".into()));
    }
    let records: Vec<Value> = entries.iter().map(entry_to_avro).collect();
    let json = |v: &dyn erased::Json| v.json();
    let meta = vec![
        ("schema", json(schema)),
        ("schema-id", schema.schema_id.to_string()),
        ("partition-spec", json(&spec.fields)),
        ("partition-spec-id", spec.spec_id.to_string()),
        ("format-version", "2".to_string()),
        (
            "content",
            match content {
                ManifestContent::Data => "data",
                ManifestContent::Deletes => "deletes",
            }
            .to_string(),
        ),
    ];
    ocf::write(&manifest_entry_schema(), &meta, &records, sync)
}

mod erased {
    /// Object-safe JSON serialisation for the header metadata list.
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            // Plain data with string keys: serialisation cannot fail.
            serde_json::to_string(self).expect("serialisable")
        }
    }
}

fn manifest_file_to_avro(m: &ManifestFile) -> Value {
    let partitions = opt(m.partitions.clone(), |ps| {
        Value::Array(
            ps.into_iter()
                .map(|p| {
                    rec(vec![
                        ("contains_null", Value::Boolean(p.contains_null)),
                        ("contains_nan", opt(p.contains_nan, Value::Boolean)),
                        ("lower_bound", opt(p.lower_bound, Value::Bytes)),
                        ("upper_bound", opt(p.upper_bound, Value::Bytes)),
                    ])
                })
                .collect(),
        )
    });
    rec(vec![
        ("manifest_path", Value::String(m.manifest_path.clone())),
        ("manifest_length", Value::Long(m.manifest_length)),
        ("partition_spec_id", Value::Int(m.partition_spec_id)),
        ("content", Value::Int(m.content as i32)),
        ("sequence_number", Value::Long(m.sequence_number)),
        ("min_sequence_number", Value::Long(m.min_sequence_number)),
        ("added_snapshot_id", Value::Long(m.added_snapshot_id)),
        ("added_files_count", Value::Int(m.added_files_count)),
        ("existing_files_count", Value::Int(m.existing_files_count)),
        ("deleted_files_count", Value::Int(m.deleted_files_count)),
        ("added_rows_count", Value::Long(m.added_rows_count)),
        ("existing_rows_count", Value::Long(m.existing_rows_count)),
        ("deleted_rows_count", Value::Long(m.deleted_rows_count)),
        ("partitions", partitions),
        ("key_metadata", opt(m.key_metadata.clone(), Value::Bytes)),
    ])
}

/// Writes a manifest list.
pub fn write_manifest_list(
    snapshot_id: i64,
    parent_snapshot_id: Option<i64>,
    sequence_number: i64,
    manifests: &[ManifestFile],
    sync: [u8; 16],
) -> Result<Vec<u8>> {
    let records: Vec<Value> = manifests.iter().map(manifest_file_to_avro).collect();
    let meta = vec![
        ("snapshot-id", snapshot_id.to_string()),
        (
            "parent-snapshot-id",
            parent_snapshot_id.map_or("null".to_string(), |p| p.to_string()),
        ),
        ("sequence-number", sequence_number.to_string()),
        ("format-version", "2".to_string()),
    ];
    ocf::write(MANIFEST_FILE_SCHEMA, &meta, &records, sync)
}

// Typed accessors over decoded records; a missing required field is corrupt.
struct Rec<'a>(&'a Value, &'static str);

impl<'a> Rec<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.field(name).filter(|v| **v != Value::Null)
    }
    fn req(&self, name: &str) -> Result<&'a Value> {
        self.get(name)
            .ok_or_else(|| Error::Corrupt(format!("{}: missing {name}", self.1)))
    }
    fn long(&self, name: &str) -> Result<i64> {
        match self.req(name)? {
            Value::Long(v) => Ok(*v),
            Value::Int(v) => Ok(*v as i64),
            v => Err(Error::Corrupt(format!("{}: {name} is {v:?}", self.1))),
        }
    }
    fn opt_long(&self, name: &str) -> Result<Option<i64>> {
        self.get(name).map(|_| self.long(name)).transpose()
    }
    fn int(&self, name: &str) -> Result<i32> {
        i32::try_from(self.long(name)?)
            .map_err(|_| Error::Corrupt(format!("{}: {name} out of range", self.1)))
    }
    fn string(&self, name: &str) -> Result<String> {
        match self.req(name)? {
            Value::String(s) => Ok(s.clone()),
            v => Err(Error::Corrupt(format!("{}: {name} is {v:?}", self.1))),
        }
    }
    fn bytes(&self, name: &str) -> Option<Vec<u8>> {
        match self.get(name) {
            Some(Value::Bytes(b)) => Some(b.clone()),
            _ => None,
        }
    }
    fn list<T>(&self, name: &str, f: impl Fn(&Value) -> Result<T>) -> Result<Option<Vec<T>>> {
        match self.get(name) {
            Some(Value::Array(items)) => items.iter().map(f).collect::<Result<_>>().map(Some),
            _ => Ok(None),
        }
    }
    fn int_map<T>(&self, name: &str, f: impl Fn(&Value) -> Option<T>) -> Result<BTreeMap<i32, T>> {
        let mut out = BTreeMap::new();
        for kv in self.list(name, |kv| Ok(kv.clone()))?.unwrap_or_default() {
            let r = Rec(&kv, self.1);
            let v = r
                .req("value")
                .ok()
                .and_then(&f)
                .ok_or_else(|| Error::Corrupt(format!("{}: bad {name} value", self.1)))?;
            out.insert(r.int("key")?, v);
        }
        Ok(out)
    }
}

fn as_long(v: &Value) -> Option<i64> {
    match v {
        Value::Long(v) => Some(*v),
        Value::Int(v) => Some(*v as i64),
        _ => None,
    }
}

/// Reads a manifest's entries, resolving inherited snapshot ids and sequence
/// numbers from the manifest list record `from` (spec: "Sequence Number
/// Inheritance").
pub fn read_manifest(bytes: &[u8], from: &ManifestFile) -> Result<Vec<ManifestEntry>> {
    let c = ocf::read(bytes)?;
    c.records
        .iter()
        .map(|v| {
            let e = Rec(v, "manifest entry");
            let status = match e.int("status")? {
                0 => EntryStatus::Existing,
                1 => EntryStatus::Added,
                2 => EntryStatus::Deleted,
                s => return Err(Error::Corrupt(format!("manifest entry status {s}"))),
            };
            let inherit = |v: Option<i64>| match (v, status) {
                (None, EntryStatus::Added) => Some(from.sequence_number),
                (v, _) => v,
            };
            let df = Rec(e.req("data_file")?, "data_file");
            let content = match df.int("content")? {
                0 => DataContent::Data,
                1 => DataContent::PositionDeletes,
                2 => DataContent::EqualityDeletes,
                c => return Err(Error::Corrupt(format!("data_file content {c}"))),
            };
            let bytes_of = |v: &Value| match v {
                Value::Bytes(b) => Some(b.clone()),
                _ => None,
            };
            Ok(ManifestEntry {
                status,
                snapshot_id: e.opt_long("snapshot_id")?.or(Some(from.added_snapshot_id)),
                sequence_number: inherit(e.opt_long("sequence_number")?),
                file_sequence_number: inherit(e.opt_long("file_sequence_number")?),
                data_file: DataFile {
                    content,
                    file_path: df.string("file_path")?,
                    file_format: df.string("file_format")?,
                    record_count: df.long("record_count")?,
                    file_size_in_bytes: df.long("file_size_in_bytes")?,
                    column_sizes: df.int_map("column_sizes", as_long)?,
                    value_counts: df.int_map("value_counts", as_long)?,
                    null_value_counts: df.int_map("null_value_counts", as_long)?,
                    nan_value_counts: df.int_map("nan_value_counts", as_long)?,
                    lower_bounds: df.int_map("lower_bounds", bytes_of)?,
                    upper_bounds: df.int_map("upper_bounds", bytes_of)?,
                    split_offsets: df.list("split_offsets", |v| {
                        as_long(v).ok_or_else(|| Error::Corrupt("split offset".into()))
                    })?,
                    equality_ids: df.list("equality_ids", |v| {
                        as_long(v)
                            .and_then(|v| i32::try_from(v).ok())
                            .ok_or_else(|| Error::Corrupt("equality id".into()))
                    })?,
                    sort_order_id: df
                        .opt_long("sort_order_id")?
                        .and_then(|v| i32::try_from(v).ok()),
                },
            })
        })
        .collect()
}

/// Reads a manifest list.
pub fn read_manifest_list(bytes: &[u8]) -> Result<Vec<ManifestFile>> {
    let c = ocf::read(bytes)?;
    c.records
        .iter()
        .map(|v| {
            let m = Rec(v, "manifest_file");
            let content = match m.get("content").map(|_| m.int("content")).transpose()? {
                None | Some(0) => ManifestContent::Data,
                Some(1) => ManifestContent::Deletes,
                Some(c) => return Err(Error::Corrupt(format!("manifest content {c}"))),
            };
            let count = |a: &str, b: &str| m.int(a).or_else(|_| m.int(b));
            let rows = |a: &str| m.opt_long(a).map(|v| v.unwrap_or(0));
            Ok(ManifestFile {
                manifest_path: m.string("manifest_path")?,
                manifest_length: m.long("manifest_length")?,
                partition_spec_id: m.int("partition_spec_id")?,
                content,
                sequence_number: m.opt_long("sequence_number")?.unwrap_or(0),
                min_sequence_number: m.opt_long("min_sequence_number")?.unwrap_or(0),
                added_snapshot_id: m.long("added_snapshot_id")?,
                added_files_count: count("added_files_count", "added_data_files_count")?,
                existing_files_count: count("existing_files_count", "existing_data_files_count")?,
                deleted_files_count: count("deleted_files_count", "deleted_data_files_count")?,
                added_rows_count: rows("added_rows_count")?,
                existing_rows_count: rows("existing_rows_count")?,
                deleted_rows_count: rows("deleted_rows_count")?,
                partitions: m.list("partitions", |p| {
                    let p = Rec(p, "field_summary");
                    Ok(FieldSummary {
                        contains_null: matches!(p.req("contains_null")?, Value::Boolean(true)),
                        contains_nan: match p.get("contains_nan") {
                            Some(Value::Boolean(b)) => Some(*b),
                            _ => None,
                        },
                        lower_bound: p.bytes("lower_bound"),
                        upper_bound: p.bytes("upper_bound"),
                    })
                })?,
                key_metadata: m.bytes("key_metadata"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::avro::Schema as AvroSchema;
    use crate::iceberg::schema::{NestedField, PrimitiveType, Type};

    fn data_file(path: &str) -> DataFile {
        DataFile {
            content: DataContent::Data,
            file_path: path.into(),
            file_format: "PARQUET".into(),
            record_count: 3,
            file_size_in_bytes: 1234,
            column_sizes: BTreeMap::from([(1, 40)]),
            value_counts: BTreeMap::from([(1, 3), (2, 3)]),
            null_value_counts: BTreeMap::from([(1, 0), (2, 1)]),
            nan_value_counts: BTreeMap::new(),
            lower_bounds: BTreeMap::from([(1, 1i64.to_le_bytes().to_vec())]),
            upper_bounds: BTreeMap::from([(1, 3i64.to_le_bytes().to_vec())]),
            split_offsets: Some(vec![4]),
            equality_ids: None,
            sort_order_id: None,
        }
    }

    fn list_entry(seq: i64) -> ManifestFile {
        ManifestFile {
            manifest_path: "s3://b/t/metadata/m.avro".into(),
            manifest_length: 99,
            partition_spec_id: 0,
            content: ManifestContent::Data,
            sequence_number: seq,
            min_sequence_number: seq,
            added_snapshot_id: 42,
            added_files_count: 1,
            existing_files_count: 0,
            deleted_files_count: 0,
            added_rows_count: 3,
            existing_rows_count: 0,
            deleted_rows_count: 0,
            partitions: Some(Vec::new()),
            key_metadata: None,
        }
    }

    #[test]
    fn schemas_parse_and_carry_field_ids() {
        assert!(AvroSchema::parse(&manifest_entry_schema()).is_ok());
        assert!(AvroSchema::parse(MANIFEST_FILE_SCHEMA).is_ok());
        let v: serde_json::Value = serde_json::from_str(&manifest_entry_schema()).unwrap();
        let df = &v["fields"][4]["type"]["fields"];
        assert_eq!(df[0]["field-id"], 134);
        assert_eq!(df[10]["name"], "lower_bounds");
        assert_eq!(df[10]["type"][1]["items"]["fields"][0]["field-id"], 126);
    }

    #[test]
    fn manifest_round_trips_and_inherits_sequence_numbers() {
        let schema = Schema::new(
            0,
            vec![NestedField::new(
                1,
                "id",
                true,
                Type::Primitive(PrimitiveType::Long),
            )],
            vec![1],
        );
        let explicit = ManifestEntry {
            status: EntryStatus::Added,
            snapshot_id: Some(42),
            sequence_number: Some(5),
            file_sequence_number: Some(5),
            data_file: data_file("s3://b/t/data/a.parquet"),
        };
        let inherited = ManifestEntry {
            snapshot_id: None,
            sequence_number: None,
            file_sequence_number: None,
            ..explicit.clone()
        };
        let bytes = write_manifest(
            &schema,
            &PartitionSpec::unpartitioned(),
            ManifestContent::Data,
            &[explicit.clone(), inherited],
            [3; 16],
        )
        .unwrap();
        let header = ocf::read(&bytes).unwrap();
        assert_eq!(header.meta("content"), Some("data"));
        assert_eq!(header.meta("format-version"), Some("2"));
        assert_eq!(header.meta("partition-spec"), Some("[]"));
        let back = read_manifest(&bytes, &list_entry(7)).unwrap();
        assert_eq!(back[0], explicit);
        assert_eq!(back[1].sequence_number, Some(7));
        assert_eq!(back[1].snapshot_id, Some(42));
    }

    #[test]
    fn manifest_list_round_trips() {
        let files = vec![
            list_entry(1),
            ManifestFile {
                content: ManifestContent::Deletes,
                partitions: None,
                ..list_entry(2)
            },
        ];
        let bytes = write_manifest_list(42, Some(41), 2, &files, [9; 16]).unwrap();
        assert_eq!(
            ocf::read(&bytes).unwrap().meta("parent-snapshot-id"),
            Some("41")
        );
        assert_eq!(read_manifest_list(&bytes).unwrap(), files);
    }

    #[test]
    fn partitioned_write_is_unsupported() {
        let schema = Schema::new(0, vec![], vec![]);
        let spec = PartitionSpec {
            spec_id: 1,
            fields: vec![crate::iceberg::PartitionField {
                source_id: 1,
                field_id: 1000,
                name: "p".into(),
                transform: "identity".into(),
            }],
        };
        assert!(matches!(
            write_manifest(&schema, &spec, ManifestContent::Data, &[], [0; 16]),
            Err(Error::Unsupported(_))
        ));
    }
}
