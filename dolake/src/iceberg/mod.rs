//! The Iceberg table format model: schemas, partition specs, sort orders,
//! table metadata and snapshots (spec format version 2), plus the Avro
//! manifest files that list a snapshot's data and delete files.

pub mod manifest;
pub mod metadata;
pub mod schema;

pub use metadata::{
    MetadataLogEntry, Operation, RefType, Snapshot, SnapshotLogEntry, SnapshotRef, Summary,
    TableMetadata, MAIN_BRANCH,
};
pub use schema::{
    ListType, MapType, NestedField, NullOrder, PartitionField, PartitionSpec, PrimitiveType,
    Schema, SortDirection, SortField, SortOrder, StructType, Type,
};
