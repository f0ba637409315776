//! Table writes: create, commit (prepare, then apply), drop, rename.
//!
//! ```text
//!   create / commit ── validate against the current entry ──> new metadata
//!        └─ Prepared { objects: [KEY/metadata/NNNNN-UUID.metadata.json], change }
//!   apply(change): still at change.base?  no ─> 409 (AlreadyExists for a create)
//!                                         yes ─> record the entry (one txn)
//! ```
//!
//! Metadata file names carry the table's metadata version (1 for the
//! create, +1 per commit) and a random UUID, so two racing commits never
//! write the same object.

use dosql::mvcc::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::commit::{self, Requirement, Update};
use super::error::{Kind, RestError, RestResult};
use super::routes::{body, existing_namespace, existing_table, load_result};
use super::state::{self, TableEntry, TableIdent};
use super::{Catalog, Env, Object, Prepared, Response, Step};
use crate::iceberg::{MetadataLogEntry, PartitionSpec, SortOrder, TableMetadata};

/// A change to record once its objects are put.
#[derive(Debug)]
pub(super) struct Change {
    ident: TableIdent,
    /// The metadata location the change was made from; `None`: a create.
    base: Option<String>,
    entry: TableEntry,
    /// A create answers with a `LoadTableResult`, a commit without `config`.
    create: bool,
}

/// A UUID (version 4 layout) from 16 random bytes.
pub fn uuid(bytes: &[u8]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&bytes[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn forbidden_managed(t: &TableIdent, what: &str) -> RestError {
    RestError::new(
        Kind::Forbidden,
        format!(
            "table {t} is managed by DoLake: it cannot be {what} through the REST catalog \
             (DoLake keeps per-row position indexes of its files that an external change would invalidate)"
        ),
    )
}

impl Catalog {
    fn check_location(&self, location: &str) -> RestResult<()> {
        match self.key_of(location) {
            Some(_) => Ok(()),
            None => Err(RestError::bad_request(format!(
                "location {location:?} is not in this catalog's bucket: use {}KEY",
                self.url_prefix()
            ))),
        }
    }

    /// The object for metadata version `version` of a table at `location`,
    /// and its URL.
    fn metadata_object(&self, md: &TableMetadata, version: u64, env: &Env) -> (String, Object) {
        let url = format!(
            "{}/metadata/{version:05}-{}.metadata.json",
            md.location,
            uuid(&env.entropy[16..])
        );
        let key = self.key_of(&url).expect("locations are checked to be in the bucket").to_owned();
        (
            url,
            Object {
                key,
                bytes: md.to_json(),
            },
        )
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct CreateTable {
    name: String,
    location: Option<String>,
    schema: Value,
    partition_spec: Option<Value>,
    write_order: Option<Value>,
    #[serde(default)]
    stage_create: bool,
    #[serde(default)]
    properties: std::collections::BTreeMap<String, String>,
}

pub(super) fn create(
    catalog: &Catalog,
    engine: &mut Engine,
    ns: &[String],
    bytes: &[u8],
    env: &Env,
) -> RestResult<Step> {
    let req: CreateTable = body(bytes)?;
    state::check_name("table name", &req.name)?;
    let ident = TableIdent {
        namespace: ns.to_vec(),
        name: req.name.clone(),
    };
    state::in_txn(engine, |e, txn| {
        existing_namespace(e, txn, ns)?;
        match state::table(e, txn, &ident)? {
            Some(_) => Err(RestError::new(Kind::AlreadyExists, format!("table {ident} already exists"))),
            None => Ok(()),
        }
    })?;
    let location = match &req.location {
        Some(l) => {
            catalog.check_location(l)?;
            l.clone()
        }
        None => catalog.default_location(&ident),
    };
    let schema = commit::parse_schema(req.schema, 0)?;
    let mut md = TableMetadata::new(&uuid(&env.entropy), &location, schema, env.now_ms)?;
    if let Some(spec) = req.partition_spec {
        let spec: PartitionSpec = commit::parse_spec(spec, 0, md.last_partition_id)?;
        md.last_partition_id = spec.fields.iter().map(|f| f.field_id).fold(md.last_partition_id, i32::max);
        md.default_spec_id = spec.spec_id;
        md.partition_specs = vec![spec];
    }
    if let Some(order) = req.write_order {
        let order: SortOrder = commit::parse_sort_order(order, 1)?;
        if !order.fields.is_empty() {
            md.default_sort_order_id = order.order_id;
            md.sort_orders.push(order);
        }
    }
    md.properties = req.properties;
    md.validate()
        .map_err(|e| RestError::bad_request(format!("invalid table: {e}")))?;
    if req.stage_create {
        // Nothing is recorded: the client commits the table later with an
        // assert-create requirement.
        let metadata = serde_json::to_value(&md).expect("metadata serialises");
        return Ok(Step::Done(Response::json(200, &load_result(catalog, None, &metadata))));
    }
    let (url, object) = catalog.metadata_object(&md, 1, env);
    Ok(Step::Write(Prepared {
        objects: vec![object],
        change: Change {
            ident,
            base: None,
            entry: TableEntry {
                metadata_location: url,
                metadata: serde_json::to_value(&md).expect("metadata serialises"),
                version: 1,
                managed: false,
            },
            create: true,
        },
    }))
}

#[derive(Deserialize)]
struct CommitTable {
    #[serde(default)]
    requirements: Vec<Requirement>,
    #[serde(default)]
    updates: Vec<Update>,
}

/// Metadata with nothing in it yet, for a staged create's commit: its
/// updates add the schema, spec and sort order.
fn blank(catalog: &Catalog, ident: &TableIdent, env: &Env) -> TableMetadata {
    TableMetadata {
        format_version: 2,
        table_uuid: String::new(),
        location: catalog.default_location(ident),
        last_sequence_number: 0,
        last_updated_ms: env.now_ms,
        last_column_id: 0,
        schemas: Vec::new(),
        current_schema_id: -1,
        partition_specs: Vec::new(),
        default_spec_id: -1,
        last_partition_id: 999,
        properties: Default::default(),
        current_snapshot_id: None,
        snapshots: Vec::new(),
        snapshot_log: Vec::new(),
        metadata_log: Vec::new(),
        sort_orders: Vec::new(),
        default_sort_order_id: -1,
        refs: Default::default(),
    }
}

fn parse_metadata(entry: &TableEntry) -> RestResult<TableMetadata> {
    serde_json::from_value(entry.metadata.clone())
        .map_err(|e| RestError::new(Kind::Internal, format!("stored metadata is corrupt: {e}")))
}

pub(super) fn commit(
    catalog: &Catalog,
    engine: &mut Engine,
    ident: &TableIdent,
    bytes: &[u8],
    env: &Env,
) -> RestResult<Step> {
    let req: CommitTable = body(bytes)?;
    let creating = req.requirements.iter().any(|r| matches!(r, Requirement::AssertCreate));
    let current = state::in_txn(engine, |e, txn| {
        if creating {
            existing_namespace(e, txn, &ident.namespace)?;
            state::table(e, txn, ident)
        } else {
            existing_table(e, txn, ident).map(Some)
        }
    })?;
    if current.as_ref().is_some_and(|c| c.managed) {
        return Err(forbidden_managed(ident, "committed to"));
    }
    let base = current.as_ref().map(parse_metadata).transpose()?;
    commit::check(base.as_ref(), &req.requirements)?;
    let start = base.clone().unwrap_or_else(|| blank(catalog, ident, env));
    let mut md = commit::apply(&start, &req.updates, env.now_ms, &|l| catalog.check_location(l))?;
    if md.table_uuid.is_empty() {
        md.table_uuid = uuid(&env.entropy);
    }
    catalog.check_location(&md.location)?;
    let version = match (&current, &base) {
        (Some(entry), Some(base)) => {
            if md == *base {
                // Nothing changed: no new metadata file.
                return Ok(Step::Done(Response::json(200, &commit_result(entry))));
            }
            md.metadata_log.push(MetadataLogEntry {
                metadata_file: entry.metadata_location.clone(),
                timestamp_ms: base.last_updated_ms,
            });
            entry.version + 1
        }
        _ => 1,
    };
    let (url, object) = catalog.metadata_object(&md, version, env);
    Ok(Step::Write(Prepared {
        objects: vec![object],
        change: Change {
            ident: ident.clone(),
            base: current.map(|c| c.metadata_location),
            entry: TableEntry {
                metadata_location: url,
                metadata: serde_json::to_value(&md).expect("metadata serialises"),
                version,
                managed: false,
            },
            create: false,
        },
    }))
}

fn commit_result(entry: &TableEntry) -> Value {
    json!({"metadata-location": entry.metadata_location, "metadata": entry.metadata})
}

pub(super) fn apply(catalog: &Catalog, engine: &mut Engine, change: Change) -> RestResult<Response> {
    state::in_txn(engine, |e, txn| {
        existing_namespace(e, txn, &change.ident.namespace)?;
        let now = state::table(e, txn, &change.ident)?;
        let now_at = now.as_ref().map(|n| n.metadata_location.as_str());
        if now_at != change.base.as_deref() {
            return Err(match change.base {
                None => RestError::new(
                    Kind::AlreadyExists,
                    format!("table {} was created concurrently", change.ident),
                ),
                Some(_) => RestError::commit_failed(format!(
                    "table {} changed concurrently (now at {now_at:?}); reload and retry",
                    change.ident
                )),
            });
        }
        state::put_table(e, txn, &change.ident, &change.entry)
    })?;
    let body = if change.create {
        load_result(catalog, Some(&change.entry.metadata_location), &change.entry.metadata)
    } else {
        commit_result(&change.entry)
    };
    Ok(Response::json(200, &body))
}

pub(super) fn drop(engine: &mut Engine, ident: &TableIdent) -> RestResult<Response> {
    state::in_txn(engine, |e, txn| {
        if existing_table(e, txn, ident)?.managed {
            return Err(forbidden_managed(ident, "dropped"));
        }
        state::delete_table(e, txn, ident)
    })?;
    Ok(Response::empty(204))
}

#[derive(Deserialize)]
struct Rename {
    source: TableIdent,
    destination: TableIdent,
}

pub(super) fn rename(engine: &mut Engine, bytes: &[u8]) -> RestResult<Response> {
    let req: Rename = body(bytes)?;
    for t in [&req.source, &req.destination] {
        state::check_namespace(&t.namespace)?;
        state::check_name("table name", &t.name)?;
    }
    state::in_txn(engine, |e, txn| {
        let entry = existing_table(e, txn, &req.source)?;
        if entry.managed {
            return Err(forbidden_managed(&req.source, "renamed"));
        }
        existing_namespace(e, txn, &req.destination.namespace)?;
        if state::table(e, txn, &req.destination)?.is_some() {
            return Err(RestError::new(
                Kind::AlreadyExists,
                format!("table {} already exists", req.destination),
            ));
        }
        state::delete_table(e, txn, &req.source)?;
        state::put_table(e, txn, &req.destination, &entry)
    })?;
    Ok(Response::empty(204))
}
