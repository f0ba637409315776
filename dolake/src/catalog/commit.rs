//! Table commits: the REST spec's requirements (checked against the base
//! metadata) and updates (applied, in order, to a copy of it).
//!
//! ```text
//!   base metadata ──requirements all hold?──no──> CommitFailedException 409
//!        │ yes
//!        └─ clone ── update 1 ── update 2 ── ... ── validate() ──> new metadata
//!                    any invalid update ──> BadRequestException 400
//! ```
//!
//! Invariants: the base is never modified (a failed commit changes
//! nothing); the result has passed [`TableMetadata::validate`]. Ids follow
//! the spec's builder rules: an added schema, spec or sort order equal to
//! an existing one reuses its id, otherwise it gets the highest id plus
//! one; `-1` in `set-current-schema`, `set-default-spec` and
//! `set-default-sort-order` means "the one added last in this commit".

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::error::{RestError, RestResult};
use crate::iceberg::{
    PartitionSpec, RefType, Schema, Snapshot, SnapshotLogEntry, SnapshotRef, SortOrder,
    TableMetadata, MAIN_BRANCH,
};

/// A `TableRequirement`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Requirement {
    AssertCreate,
    AssertTableUuid {
        uuid: String,
    },
    AssertRefSnapshotId {
        #[serde(rename = "ref")]
        reference: String,
        #[serde(rename = "snapshot-id")]
        snapshot_id: Option<i64>,
    },
    AssertLastAssignedFieldId {
        #[serde(rename = "last-assigned-field-id")]
        last_assigned_field_id: i32,
    },
    AssertCurrentSchemaId {
        #[serde(rename = "current-schema-id")]
        current_schema_id: i32,
    },
    AssertLastAssignedPartitionId {
        #[serde(rename = "last-assigned-partition-id")]
        last_assigned_partition_id: i32,
    },
    AssertDefaultSpecId {
        #[serde(rename = "default-spec-id")]
        default_spec_id: i32,
    },
    AssertDefaultSortOrderId {
        #[serde(rename = "default-sort-order-id")]
        default_sort_order_id: i32,
    },
}

/// A `TableUpdate`. Schemas, specs and sort orders stay JSON until applied,
/// because the spec lets clients omit their ids.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Update {
    AssignUuid {
        uuid: String,
    },
    UpgradeFormatVersion {
        #[serde(rename = "format-version")]
        format_version: u8,
    },
    AddSchema {
        schema: Value,
        #[serde(rename = "last-column-id")]
        last_column_id: Option<i32>,
    },
    SetCurrentSchema {
        #[serde(rename = "schema-id")]
        schema_id: i32,
    },
    AddSpec {
        spec: Value,
    },
    SetDefaultSpec {
        #[serde(rename = "spec-id")]
        spec_id: i32,
    },
    AddSortOrder {
        #[serde(rename = "sort-order")]
        sort_order: Value,
    },
    SetDefaultSortOrder {
        #[serde(rename = "sort-order-id")]
        sort_order_id: i32,
    },
    AddSnapshot {
        snapshot: Snapshot,
    },
    SetSnapshotRef {
        #[serde(rename = "ref-name")]
        ref_name: String,
        #[serde(flatten)]
        reference: SnapshotRef,
    },
    RemoveSnapshots {
        #[serde(rename = "snapshot-ids")]
        snapshot_ids: Vec<i64>,
    },
    RemoveSnapshotRef {
        #[serde(rename = "ref-name")]
        ref_name: String,
    },
    SetLocation {
        location: String,
    },
    SetProperties {
        updates: BTreeMap<String, String>,
    },
    RemoveProperties {
        removals: Vec<String>,
    },
}

/// Checks every requirement against `base` (`None`: the table does not
/// exist yet). The first one that fails is the error.
pub fn check(base: Option<&TableMetadata>, requirements: &[Requirement]) -> RestResult<()> {
    for r in requirements {
        let failed = |what: String| Err(RestError::commit_failed(format!("requirement failed: {what}")));
        let Some(md) = base else {
            match r {
                Requirement::AssertCreate => continue,
                _ => return failed(format!("{r:?}: the table does not exist")),
            }
        };
        match r {
            Requirement::AssertCreate => return failed("assert-create: the table exists".into()),
            Requirement::AssertTableUuid { uuid } if *uuid != md.table_uuid => {
                return failed(format!("table uuid is {}, not {uuid}", md.table_uuid))
            }
            Requirement::AssertRefSnapshotId {
                reference,
                snapshot_id,
            } => {
                let actual = md.refs.get(reference).map(|r| r.snapshot_id);
                if actual != *snapshot_id {
                    return failed(format!(
                        "ref {reference} points at {actual:?}, not {snapshot_id:?}"
                    ));
                }
            }
            Requirement::AssertLastAssignedFieldId {
                last_assigned_field_id: id,
            } if *id != md.last_column_id => {
                return failed(format!("last assigned field id is {}, not {id}", md.last_column_id))
            }
            Requirement::AssertCurrentSchemaId {
                current_schema_id: id,
            } if *id != md.current_schema_id => {
                return failed(format!("current schema id is {}, not {id}", md.current_schema_id))
            }
            Requirement::AssertLastAssignedPartitionId {
                last_assigned_partition_id: id,
            } if *id != md.last_partition_id => {
                return failed(format!(
                    "last assigned partition id is {}, not {id}",
                    md.last_partition_id
                ))
            }
            Requirement::AssertDefaultSpecId { default_spec_id: id } if *id != md.default_spec_id => {
                return failed(format!("default spec id is {}, not {id}", md.default_spec_id))
            }
            Requirement::AssertDefaultSortOrderId {
                default_sort_order_id: id,
            } if *id != md.default_sort_order_id => {
                return failed(format!(
                    "default sort order id is {}, not {id}",
                    md.default_sort_order_id
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The ids added last in this commit, for the `-1` shorthand.
#[derive(Default)]
struct Added {
    schema: Option<i32>,
    spec: Option<i32>,
    sort_order: Option<i32>,
    snapshots: Vec<i64>,
}

/// Applies `updates` in order to a copy of `base`, at time `now_ms`.
/// `location_ok` vets `set-location` (the catalog only accepts locations in
/// its own bucket).
pub fn apply(
    base: &TableMetadata,
    updates: &[Update],
    now_ms: i64,
    location_ok: &dyn Fn(&str) -> RestResult<()>,
) -> RestResult<TableMetadata> {
    let mut md = base.clone();
    let mut added = Added::default();
    for u in updates {
        apply_one(&mut md, u, now_ms, &mut added, location_ok)?;
    }
    md.last_updated_ms = now_ms.max(md.last_updated_ms);
    md.validate()
        .map_err(|e| RestError::bad_request(format!("the updates leave invalid metadata: {e}")))?;
    Ok(md)
}

fn bad<T>(message: String) -> RestResult<T> {
    Err(RestError::bad_request(message))
}

fn resolve_last(id: i32, last: Option<i32>, what: &str) -> RestResult<i32> {
    if id != -1 {
        return Ok(id);
    }
    last.ok_or_else(|| RestError::bad_request(format!("{what} -1 but no {what} was added")))
}

/// Parses `value` as a `T` after giving it `id_key` = `default_id` when the
/// client left it out.
fn parse_with_id<T: serde::de::DeserializeOwned>(
    mut value: Value,
    id_key: &str,
    default_id: i32,
    what: &str,
) -> RestResult<T> {
    if let Some(obj) = value.as_object_mut() {
        obj.entry(id_key).or_insert(Value::from(default_id));
    }
    serde_json::from_value(value).map_err(|e| RestError::bad_request(format!("invalid {what}: {e}")))
}

/// Parses a partition spec, assigning field ids above `last_partition_id`
/// to fields that have none.
pub fn parse_spec(mut value: Value, default_id: i32, last_partition_id: i32) -> RestResult<PartitionSpec> {
    if let Some(fields) = value.get_mut("fields").and_then(Value::as_array_mut) {
        let mut next = last_partition_id;
        for f in fields.iter_mut().filter_map(Value::as_object_mut) {
            if !f.contains_key("field-id") {
                next += 1;
                f.insert("field-id".into(), Value::from(next));
            }
        }
    }
    parse_with_id(value, "spec-id", default_id, "partition spec")
}

pub fn parse_schema(value: Value, default_id: i32) -> RestResult<Schema> {
    parse_with_id(value, "schema-id", default_id, "schema")
}

pub fn parse_sort_order(value: Value, default_id: i32) -> RestResult<SortOrder> {
    parse_with_id(value, "order-id", default_id, "sort order")
}

fn apply_one(
    md: &mut TableMetadata,
    u: &Update,
    now_ms: i64,
    added: &mut Added,
    location_ok: &dyn Fn(&str) -> RestResult<()>,
) -> RestResult<()> {
    match u {
        Update::AssignUuid { uuid } => {
            if !md.table_uuid.is_empty() && md.table_uuid != *uuid {
                return bad(format!("cannot change the table uuid {} to {uuid}", md.table_uuid));
            }
            md.table_uuid = uuid.clone();
        }
        Update::UpgradeFormatVersion { format_version } => {
            if *format_version != 2 {
                return bad(format!(
                    "format version {format_version}: this catalog keeps version 2 tables"
                ));
            }
        }
        Update::AddSchema {
            schema,
            last_column_id,
        } => {
            let next = md.schemas.iter().map(|s| s.schema_id + 1).max().unwrap_or(0);
            let mut schema: Schema = parse_schema(schema.clone(), next)?;
            let id = match md.schemas.iter().find(|s| s.same_structure(&schema)) {
                Some(existing) => existing.schema_id,
                None => {
                    schema.schema_id = next;
                    md.schemas.push(schema.clone());
                    next
                }
            };
            md.last_column_id = md
                .last_column_id
                .max(schema.highest_field_id())
                .max(last_column_id.unwrap_or(0));
            added.schema = Some(id);
        }
        Update::SetCurrentSchema { schema_id } => {
            let id = resolve_last(*schema_id, added.schema, "schema")?;
            if md.schema_by_id(id).is_none() {
                return bad(format!("no schema {id}"));
            }
            md.current_schema_id = id;
        }
        Update::AddSpec { spec } => {
            let next = md.partition_specs.iter().map(|s| s.spec_id + 1).max().unwrap_or(0);
            let mut spec = parse_spec(spec.clone(), next, md.last_partition_id)?;
            let id = match md.partition_specs.iter().find(|s| s.fields == spec.fields) {
                Some(existing) => existing.spec_id,
                None => {
                    spec.spec_id = next;
                    md.partition_specs.push(spec.clone());
                    next
                }
            };
            let highest = spec.fields.iter().map(|f| f.field_id).max().unwrap_or(0);
            md.last_partition_id = md.last_partition_id.max(highest);
            added.spec = Some(id);
        }
        Update::SetDefaultSpec { spec_id } => {
            let id = resolve_last(*spec_id, added.spec, "spec")?;
            if !md.partition_specs.iter().any(|s| s.spec_id == id) {
                return bad(format!("no partition spec {id}"));
            }
            md.default_spec_id = id;
        }
        Update::AddSortOrder { sort_order } => {
            let next = md.sort_orders.iter().map(|s| s.order_id + 1).max().unwrap_or(1).max(1);
            let mut order = parse_sort_order(sort_order.clone(), next)?;
            let id = match md.sort_orders.iter().find(|s| s.fields == order.fields) {
                Some(existing) => existing.order_id,
                None => {
                    // Order id 0 is reserved for "unsorted".
                    order.order_id = if order.fields.is_empty() { 0 } else { next };
                    md.sort_orders.push(order.clone());
                    order.order_id
                }
            };
            added.sort_order = Some(id);
        }
        Update::SetDefaultSortOrder { sort_order_id } => {
            let id = resolve_last(*sort_order_id, added.sort_order, "sort order")?;
            if !md.sort_orders.iter().any(|s| s.order_id == id) {
                return bad(format!("no sort order {id}"));
            }
            md.default_sort_order_id = id;
        }
        Update::AddSnapshot { snapshot } => {
            if md.snapshot_by_id(snapshot.snapshot_id).is_some() {
                return bad(format!("snapshot {} already exists", snapshot.snapshot_id));
            }
            if snapshot.sequence_number <= md.last_sequence_number && !md.snapshots.is_empty() {
                return bad(format!(
                    "snapshot sequence number {} is not above the table's {}",
                    snapshot.sequence_number, md.last_sequence_number
                ));
            }
            md.last_sequence_number = md.last_sequence_number.max(snapshot.sequence_number);
            md.last_updated_ms = md.last_updated_ms.max(snapshot.timestamp_ms);
            md.snapshots.push(snapshot.clone());
            added.snapshots.push(snapshot.snapshot_id);
        }
        Update::SetSnapshotRef {
            ref_name,
            reference,
        } => {
            let id = reference.snapshot_id;
            let Some(snapshot) = md.snapshot_by_id(id) else {
                return bad(format!("ref {ref_name} points at unknown snapshot {id}"));
            };
            let timestamp_ms = snapshot.timestamp_ms;
            if ref_name == MAIN_BRANCH {
                if reference.ref_type != RefType::Branch {
                    return bad("main must be a branch".into());
                }
                if md.current_snapshot_id != Some(id) {
                    md.current_snapshot_id = Some(id);
                    md.snapshot_log.push(SnapshotLogEntry {
                        snapshot_id: id,
                        // A snapshot added by this commit became current when
                        // it was written; an older one (a rollback) now.
                        timestamp_ms: if added.snapshots.contains(&id) {
                            timestamp_ms
                        } else {
                            now_ms
                        },
                    });
                }
            }
            md.refs.insert(ref_name.clone(), reference.clone());
        }
        Update::RemoveSnapshots { snapshot_ids } => {
            md.snapshots.retain(|s| !snapshot_ids.contains(&s.snapshot_id));
            md.snapshot_log.retain(|e| !snapshot_ids.contains(&e.snapshot_id));
            md.refs.retain(|_, r| !snapshot_ids.contains(&r.snapshot_id));
            if md.current_snapshot_id.is_some_and(|id| snapshot_ids.contains(&id)) {
                md.current_snapshot_id = None;
            }
        }
        Update::RemoveSnapshotRef { ref_name } => {
            md.refs.remove(ref_name);
            if ref_name == MAIN_BRANCH {
                md.current_snapshot_id = None;
            }
        }
        Update::SetLocation { location } => {
            location_ok(location)?;
            md.location = location.trim_end_matches('/').to_owned();
        }
        Update::SetProperties { updates } => {
            md.properties
                .extend(updates.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        Update::RemoveProperties { removals } => {
            for k in removals {
                md.properties.remove(k);
            }
        }
    }
    Ok(())
}
