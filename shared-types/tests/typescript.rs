//! Generates the TypeScript declarations of the wire protocol
//! (`sql-client/ts/src/protocol.gen.ts`) from this crate, and fails when the
//! checked-in file is stale.
//!
//! ```text
//!   shared-types (serde shapes, constants)
//!        │  SHAPES: one declaration per wire type, checked against serde
//!        │  ErrorCode::ALL, limits::*, PROTOCOL_VERSION read directly
//!        ▼
//!   render() ──► compare with sql-client/ts/src/protocol.gen.ts
//!                (UPDATE_TS=1 rewrites it instead)
//! ```
//!
//! Why a table and not a derive: `Value` and `Params` have hand-written
//! serde impls that no derive can see, and the crate stays free of extra
//! dependencies. The table cannot drift silently: `shapes_match_serde`
//! serializes a sample of every message and checks that its JSON keys are
//! exactly the declared ones (required keys present, nothing undeclared).
//! Constants (codes, statuses, limits) come from the crate itself.

use std::collections::BTreeSet;
use std::path::PathBuf;

use shared_types::limits;
use shared_types::protocol::HttpError;
use shared_types::*;

/// One field of a TypeScript object type.
struct Field {
    name: &'static str,
    ty: &'static str,
    /// Absent from the JSON in some messages (serde `default` +
    /// `skip_serializing_if`, or a field clients must not require).
    optional: bool,
}

const fn req(name: &'static str, ty: &'static str) -> Field {
    Field {
        name,
        ty,
        optional: false,
    }
}

const fn opt(name: &'static str, ty: &'static str) -> Field {
    Field {
        name,
        ty,
        optional: true,
    }
}

/// A declaration: an interface, or a union tagged by `type`.
enum Shape {
    Interface(&'static [Field]),
    /// Variants `(type tag, fields)`; a variant may extend an interface.
    Tagged(&'static [(&'static str, &'static str, &'static [Field])]),
}

/// (name, doc, shape), in output order.
const SHAPES: &[(&str, &str, Shape)] = &[
    (
        "Statement",
        "One SQL statement (or script) with its parameters.",
        Shape::Interface(&[req("sql", "string"), opt("params", "Params")]),
    ),
    (
        "Request",
        "What a client asks (a WebSocket frame adds `id`).",
        Shape::Tagged(&[
            ("hello", "", &[req("version", "number")]),
            ("ping", "", &[]),
            ("exec", "", &[req("sql", "string"), opt("params", "Params")]),
            (
                "query",
                "",
                &[req("sql", "string"), opt("params", "Params")],
            ),
            ("prepare", "", &[req("sql", "string")]),
            (
                "execute",
                "",
                &[req("stmt", "number"), opt("params", "Params")],
            ),
            ("close", "", &[req("stmt", "number")]),
            (
                "batch",
                "",
                &[
                    req("statements", "Statement[]"),
                    opt("transactional", "boolean"),
                ],
            ),
            ("begin", "", &[opt("mode", "BeginMode")]),
            ("commit", "", &[]),
            ("rollback", "", &[]),
            ("schema", "", &[]),
            ("create_slot", "", &[req("slot", "string")]),
            ("drop_slot", "", &[req("slot", "string")]),
            ("list_slots", "", &[]),
            (
                "read_changes",
                "",
                &[
                    opt("slot", "string"),
                    opt("from_lsn", "number"),
                    opt("filter", "ChangeFilter"),
                    opt("max_txns", "number"),
                    opt("max_bytes", "number"),
                ],
            ),
            (
                "ack_slot",
                "",
                &[req("slot", "string"), req("lsn", "number")],
            ),
        ]),
    ),
    (
        "ChangeFilter",
        "Which change events a read returns; empty or absent lists mean all (docs/cdc.md).",
        Shape::Interface(&[opt("tables", "string[]"), opt("ops", "RowOp[]")]),
    ),
    (
        "SlotInfo",
        "A replication slot.",
        Shape::Interface(&[
            req("name", "string"),
            req("acked_lsn", "number"),
            req("lagging", "boolean"),
            req("retained_records", "number"),
        ]),
    ),
    (
        "ColumnSchema",
        "One column of a table in the change stream.",
        Shape::Interface(&[
            req("name", "string"),
            req("decl_type", "string"),
            req("not_null", "boolean"),
            opt("pk", "number"),
            opt("default", "WireValue"),
        ]),
    ),
    (
        "TableSchema",
        "A table's definition in the change stream.",
        Shape::Interface(&[
            req("name", "string"),
            req("columns", "ColumnSchema[]"),
            req("without_rowid", "boolean"),
            opt("rowid_alias", "number"),
            req("sql", "string"),
        ]),
    ),
    (
        "SchemaEvent",
        "A table created, altered or dropped.",
        Shape::Interface(&[
            req("table", "string"),
            req("change", "SchemaChange"),
            opt("column", "string"),
            opt("previous", "string"),
            req("schema", "TableSchema"),
        ]),
    ),
    (
        "RowEvent",
        "A row inserted, updated or deleted.",
        Shape::Interface(&[
            req("table", "string"),
            req("op", "RowOp"),
            req("key", "WireValue[]"),
            opt("before", "WireValue[]"),
            opt("after", "WireValue[]"),
        ]),
    ),
    (
        "ChangeEvent",
        "One event of a change transaction.",
        Shape::Tagged(&[("schema", "SchemaEvent", &[]), ("row", "RowEvent", &[])]),
    ),
    (
        "ChangeTxn",
        "Every change of one committed transaction; `(shard, lsn)` identifies it.",
        Shape::Interface(&[
            req("shard", "string"),
            req("lsn", "number"),
            req("txn", "number"),
            req("commit_ts", "number"),
            req("commit_time_ms", "number"),
            req("events", "ChangeEvent[]"),
        ]),
    ),
    (
        "ChangeBatch",
        "The answer to `read_changes`.",
        Shape::Interface(&[
            req("version", "number"),
            req("txns", "ChangeTxn[]"),
            opt("schemas", "TableSchema[]"),
            req("next_lsn", "number"),
            req("last_lsn", "number"),
        ]),
    ),
    (
        "StatementResult",
        "The result of one statement. `last_insert_rowid` is a decimal string beyond 2^53-1.",
        Shape::Interface(&[
            req("columns", "string[]"),
            req("rows", "WireValue[][]"),
            req("rows_affected", "number"),
            req("last_insert_rowid", "number | string"),
        ]),
    ),
    (
        "Prepared",
        "A statement prepared on a connection.",
        Shape::Interface(&[
            req("stmt", "number"),
            req("params", "number"),
            req("param_names", "(string | null)[]"),
            req("columns", "string[]"),
        ]),
    ),
    (
        "ColumnInfo",
        "One column of a table.",
        Shape::Interface(&[
            req("name", "string"),
            req("decl_type", "string"),
            req("not_null", "boolean"),
            req("primary_key", "number"),
            opt("default", "string"),
        ]),
    ),
    (
        "IndexInfo",
        "One index of a table.",
        Shape::Interface(&[
            req("name", "string"),
            req("unique", "boolean"),
            req("columns", "string[]"),
            opt("sql", "string"),
        ]),
    ),
    (
        "TableInfo",
        "A table or view.",
        Shape::Interface(&[
            req("name", "string"),
            req("kind", "\"table\" | \"view\""),
            req("sql", "string"),
            req("columns", "ColumnInfo[]"),
            req("indexes", "IndexInfo[]"),
        ]),
    ),
    (
        "SchemaInfo",
        "The answer to `schema`.",
        Shape::Interface(&[req("tables", "TableInfo[]")]),
    ),
    (
        "WireError",
        "A failed request; `statement` indexes the failing entry of a batch or script.",
        Shape::Interface(&[
            req("code", "ErrorCode"),
            req("message", "string"),
            req("retryable", "boolean"),
            opt("statement", "number"),
        ]),
    ),
    (
        "Response",
        "What a server answers (a WebSocket frame adds `id`).",
        Shape::Tagged(&[
            (
                "hello",
                "",
                &[req("version", "number"), req("server", "string")],
            ),
            ("pong", "", &[]),
            ("result", "StatementResult", &[]),
            ("results", "", &[req("results", "StatementResult[]")]),
            ("prepared", "Prepared", &[]),
            ("ok", "", &[req("in_transaction", "boolean")]),
            ("schema", "SchemaInfo", &[]),
            ("slot", "SlotInfo", &[]),
            ("slots", "", &[req("slots", "SlotInfo[]")]),
            ("changes", "ChangeBatch", &[]),
            ("error", "WireError", &[]),
        ]),
    ),
    (
        "PipelineRequest",
        "Body of `POST /db/{name}/v1/pipeline`.",
        Shape::Interface(&[req("requests", "Request[]")]),
    ),
    (
        "PipelineResponse",
        "Answer to a pipeline: one response per request, in order.",
        Shape::Interface(&[req("responses", "Response[]")]),
    ),
    (
        "BatchRequest",
        "Body of `POST /db/{name}/v1/batch`.",
        Shape::Interface(&[
            req("statements", "Statement[]"),
            opt("transactional", "boolean"),
        ]),
    ),
    (
        "BatchResult",
        "Successful answer to a batch.",
        Shape::Interface(&[req("results", "StatementResult[]")]),
    ),
    (
        "HttpError",
        "The body of every failed HTTP response.",
        Shape::Interface(&[req("error", "WireError")]),
    ),
];

fn render_fields(fields: &[Field], indent: &str) -> String {
    fields
        .iter()
        .map(|f| {
            let q = if f.optional { "?" } else { "" };
            format!("{indent}{}{q}: {};\n", f.name, f.ty)
        })
        .collect()
}

fn quoted_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items
        .into_iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The whole generated file.
fn render() -> String {
    let mut out = String::from(
        "// Generated from the Rust crate shared-types by shared-types/tests/typescript.rs.\n\
         // Do not edit: run `UPDATE_TS=1 cargo test -p shared-types --test typescript`.\n\
         // The wire protocol is described in docs/protocol.md.\n\n",
    );
    out += &format!("export const PROTOCOL_VERSION = {PROTOCOL_VERSION};\n\n");

    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    out += "/** The kind of a failed request (unknown codes mean INTERNAL). */\n";
    out += "export type ErrorCode =\n";
    for (i, c) in codes.iter().enumerate() {
        let end = if i + 1 == codes.len() { ";" } else { "" };
        out += &format!("  | \"{c}\"{end}\n");
    }
    out += "\n";
    out += &format!(
        "export const ERROR_CODES: readonly ErrorCode[] = [{}];\n\n",
        quoted_list(codes.iter().copied())
    );
    let retryable = ErrorCode::ALL.iter().filter(|c| c.is_retryable());
    out += "/** Codes for which sending the same request again may succeed. */\n";
    out += &format!(
        "export const RETRYABLE_CODES: readonly ErrorCode[] = [{}];\n\n",
        quoted_list(retryable.map(|c| c.as_str()))
    );
    out += "/** The HTTP status of a response that failed with each code. */\n";
    out += "export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {\n";
    for c in ErrorCode::ALL {
        out += &format!("  {}: {},\n", c.as_str(), c.http_status());
    }
    out += "};\n\n";

    out += "/** Limits every server enforces (shared-types/src/limits.rs). */\n";
    out += "export const LIMITS = {\n";
    for (name, v) in [
        ("MAX_SQL_BYTES", limits::MAX_SQL_BYTES as u64),
        ("MAX_PARAMS", limits::MAX_PARAMS as u64),
        ("MAX_VALUE_BYTES", limits::MAX_VALUE_BYTES as u64),
        ("MAX_WS_FRAME_BYTES", limits::MAX_WS_FRAME_BYTES as u64),
        ("MAX_HTTP_BODY_BYTES", limits::MAX_HTTP_BODY_BYTES as u64),
        ("MAX_RESULT_BYTES", limits::MAX_RESULT_BYTES as u64),
        ("MAX_BATCH_STATEMENTS", limits::MAX_BATCH_STATEMENTS as u64),
        (
            "MAX_PREPARED_PER_CONNECTION",
            limits::MAX_PREPARED_PER_CONNECTION as u64,
        ),
        (
            "TRANSACTION_IDLE_TIMEOUT_MS",
            limits::TRANSACTION_IDLE_TIMEOUT_MS,
        ),
        (
            "MAX_DATABASE_NAME_LEN",
            limits::MAX_DATABASE_NAME_LEN as u64,
        ),
    ] {
        out += &format!("  {name}: {v},\n");
    }
    out += "} as const;\n\n";

    out += &format!(
        "/** Largest magnitude of an integer sent as a plain JSON number. */\n\
         export const MAX_SAFE_INTEGER = {};\n\n",
        value::MAX_SAFE_INTEGER
    );
    out += "/**\n * A SQL value on the wire: NULL, INTEGER (a number, or {int} beyond 2^53-1),\n \
            * REAL (a number with '.', or {real} when integral or infinite), TEXT, BLOB (base64).\n */\n";
    out += "export type WireValue =\n  | null\n  | number\n  | string\n  | { int: string | number }\n  \
            | { real: number | \"Infinity\" | \"-Infinity\" }\n  | { blob: string };\n\n";
    out += "/** Positional (`?`, `?NNN`) or named (`:a`, `@a`, `$a`) parameters. */\n";
    out += "export type Params = WireValue[] | { [name: string]: WireValue };\n\n";
    let modes: Vec<String> = [BeginMode::Deferred, BeginMode::Immediate]
        .iter()
        .map(|m| serde_json::to_string(m).unwrap())
        .collect();
    out += &format!("export type BeginMode = {};\n\n", modes.join(" | "));
    let ops: Vec<String> = [cdc::RowOp::Insert, cdc::RowOp::Update, cdc::RowOp::Delete]
        .iter()
        .map(|m| serde_json::to_string(m).unwrap())
        .collect();
    out += &format!(
        "/** Change stream format version (docs/cdc.md). */\nexport const CDC_FORMAT_VERSION = {};\n\n",
        cdc::CDC_FORMAT_VERSION
    );
    out += &format!("export type RowOp = {};\n\n", ops.join(" | "));
    use cdc::SchemaChange as C;
    let changes: Vec<String> = [
        C::Create,
        C::AddColumn,
        C::RenameColumn,
        C::DropColumn,
        C::RenameTable,
        C::Alter,
        C::Drop,
    ]
    .iter()
    .map(|m| serde_json::to_string(m).unwrap())
    .collect();
    out += &format!("export type SchemaChange = {};\n\n", changes.join(" | "));

    for (name, doc, shape) in SHAPES {
        out += &format!("/** {doc} */\n");
        match shape {
            Shape::Interface(fields) => {
                out += &format!(
                    "export interface {name} {{\n{}}}\n\n",
                    render_fields(fields, "  ")
                );
            }
            Shape::Tagged(variants) => {
                out += &format!("export type {name} =\n");
                let n = variants.len();
                for (i, (tag, base, fields)) in variants.iter().enumerate() {
                    let end = if i + 1 == n { ";" } else { "" };
                    let body = if fields.is_empty() {
                        format!("{{ type: \"{tag}\" }}")
                    } else {
                        let inner: Vec<String> = fields
                            .iter()
                            .map(|f| {
                                let q = if f.optional { "?" } else { "" };
                                format!("{}{q}: {}", f.name, f.ty)
                            })
                            .collect();
                        format!("{{ type: \"{tag}\"; {} }}", inner.join("; "))
                    };
                    if base.is_empty() {
                        out += &format!("  | {body}{end}\n");
                    } else {
                        out += &format!("  | ({base} & {body}){end}\n");
                    }
                }
                out += "\n";
            }
        }
    }
    out += "/** A request with its id, as sent over a WebSocket. */\n";
    out += "export type ClientFrame = Request & { id: number };\n\n";
    out += "/** A response with its request's id (null when the frame had none). */\n";
    out += "export type ServerFrame = Response & { id: number | null };\n";
    out
}

fn generated_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sql-client/ts/src/protocol.gen.ts")
}

#[test]
fn checked_in_typescript_is_current() {
    let want = render();
    let path = generated_path();
    if std::env::var_os("UPDATE_TS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale; regenerate it with `UPDATE_TS=1 cargo test -p shared-types --test typescript`",
        path.display()
    );
}

/// The declared fields of `shape` for the JSON object `json` (a tagged
/// union picks its variant by `type`, plus the interface it extends).
fn declared(name: &str, json: &serde_json::Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let shape = &SHAPES.iter().find(|(n, _, _)| *n == name).unwrap().2;
    let mut all = BTreeSet::new();
    let mut required = BTreeSet::new();
    let mut add = |fields: &[Field]| {
        for f in fields {
            all.insert(f.name.to_string());
            if !f.optional {
                required.insert(f.name.to_string());
            }
        }
    };
    match shape {
        Shape::Interface(fields) => add(fields),
        Shape::Tagged(variants) => {
            let tag = json["type"].as_str().expect("a tagged message has a type");
            let (_, base, fields) = variants
                .iter()
                .find(|(t, _, _)| *t == tag)
                .unwrap_or_else(|| panic!("{name}: variant {tag:?} is not declared"));
            add(fields);
            if !base.is_empty() {
                let (a, r) = declared(base, json);
                all.extend(a);
                required.extend(r);
            }
            all.insert("type".into());
            required.insert("type".into());
        }
    }
    (all, required)
}

fn check<T: serde::Serialize>(name: &str, sample: &T) {
    let json = serde_json::to_value(sample).unwrap();
    let keys: BTreeSet<String> = json.as_object().unwrap().keys().cloned().collect();
    let (all, required) = declared(name, &json);
    assert!(
        keys.is_subset(&all),
        "{name}: {keys:?} has undeclared keys (declared {all:?})"
    );
    assert!(
        required.is_subset(&keys),
        "{name}: {keys:?} lacks required {required:?}"
    );
}

#[test]
fn shapes_match_serde() {
    let stmt = Statement::new("SELECT ?", vec![Value::Integer(1)]);
    check("Statement", &stmt);
    check("Statement", &Statement::new("SELECT 1", Params::default()));
    let p = || Params::from(vec![Value::Integer(1)]);
    for r in [
        Request::Hello { version: 1 },
        Request::Ping,
        Request::Exec {
            sql: "x".into(),
            params: p(),
        },
        Request::Query {
            sql: "x".into(),
            params: p(),
        },
        Request::Prepare { sql: "x".into() },
        Request::Execute {
            stmt: 1,
            params: p(),
        },
        Request::Close { stmt: 1 },
        Request::Batch {
            statements: vec![stmt.clone()],
            transactional: false,
        },
        Request::Begin {
            mode: BeginMode::Immediate,
        },
        Request::Commit,
        Request::Rollback,
        Request::Schema,
        Request::CreateSlot { slot: "s".into() },
        Request::DropSlot { slot: "s".into() },
        Request::ListSlots,
        Request::ReadChanges {
            slot: Some("s".into()),
            from_lsn: Some(1),
            filter: Some(cdc::ChangeFilter::default()),
            max_txns: Some(1),
            max_bytes: Some(1),
        },
        Request::ReadChanges {
            slot: None,
            from_lsn: None,
            filter: None,
            max_txns: None,
            max_bytes: None,
        },
        Request::AckSlot {
            slot: "s".into(),
            lsn: 1,
        },
    ] {
        check("Request", &r);
    }
    check_cdc();
    let result = StatementResult {
        columns: vec!["a".into()],
        rows: vec![vec![Value::Null]],
        rows_affected: 1,
        last_insert_rowid: 2,
    };
    let prepared = Prepared {
        stmt: 1,
        params: 1,
        param_names: vec![None],
        columns: vec![],
    };
    let column = ColumnInfo {
        name: "a".into(),
        decl_type: "INT".into(),
        not_null: true,
        primary_key: 1,
        default: Some("0".into()),
    };
    let index = IndexInfo {
        name: "i".into(),
        unique: true,
        columns: vec![],
        sql: Some("x".into()),
    };
    let table = TableInfo {
        name: "t".into(),
        kind: "table".into(),
        sql: "x".into(),
        columns: vec![column.clone()],
        indexes: vec![index.clone()],
    };
    let schema = SchemaInfo {
        tables: vec![table.clone()],
    };
    let error = WireError::new(ErrorCode::Conflict, "c").at_statement(1);
    check("StatementResult", &result);
    check("Prepared", &prepared);
    check("ColumnInfo", &column);
    check("IndexInfo", &index);
    check("TableInfo", &table);
    check("SchemaInfo", &schema);
    check("WireError", &error);
    for r in [
        Response::Hello {
            version: 1,
            server: "s".into(),
        },
        Response::Pong,
        Response::Result(result.clone()),
        Response::Results {
            results: vec![result.clone()],
        },
        Response::Prepared(prepared),
        Response::Ok {
            in_transaction: false,
        },
        Response::Schema(schema),
        Response::Error(error.clone()),
    ] {
        check("Response", &r);
    }
    check(
        "PipelineRequest",
        &PipelineRequest {
            requests: vec![Request::Ping],
        },
    );
    check(
        "PipelineResponse",
        &PipelineResponse {
            responses: vec![Response::Pong],
        },
    );
    check(
        "BatchRequest",
        &BatchRequest {
            statements: vec![stmt],
            transactional: true,
        },
    );
    check(
        "BatchResult",
        &BatchResult {
            results: vec![result],
        },
    );
    check("HttpError", &HttpError { error });
}

fn check_cdc() {
    let filter = cdc::ChangeFilter {
        tables: vec!["t".into()],
        ops: vec![cdc::RowOp::Insert],
    };
    check("ChangeFilter", &filter);
    check("ChangeFilter", &cdc::ChangeFilter::default());
    let slot = cdc::SlotInfo {
        name: "s".into(),
        acked_lsn: 1,
        lagging: false,
        retained_records: 2,
    };
    check("SlotInfo", &slot);
    let column = cdc::ColumnSchema {
        name: "a".into(),
        decl_type: "INT".into(),
        not_null: false,
        pk: Some(1),
        default: Some(Value::Integer(1)),
    };
    check("ColumnSchema", &column);
    let schema = cdc::TableSchema {
        name: "t".into(),
        columns: vec![column],
        without_rowid: false,
        rowid_alias: Some(0),
        sql: "x".into(),
    };
    check("TableSchema", &schema);
    let schema_event = cdc::SchemaEvent {
        table: "t".into(),
        change: cdc::SchemaChange::RenameColumn,
        column: Some("b".into()),
        previous: Some("a".into()),
        schema,
    };
    check("SchemaEvent", &schema_event);
    let row = cdc::RowEvent {
        table: "t".into(),
        op: cdc::RowOp::Update,
        key: vec![Value::Integer(1)],
        before: Some(vec![Value::Null]),
        after: Some(vec![Value::Null]),
    };
    check("RowEvent", &row);
    let events = vec![
        cdc::ChangeEvent::Schema(schema_event),
        cdc::ChangeEvent::Row(row),
    ];
    for e in &events {
        check("ChangeEvent", e);
    }
    let txn = cdc::ChangeTxn {
        shard: "db".into(),
        lsn: 1,
        txn: 2,
        commit_ts: 3,
        commit_time_ms: 4,
        events,
    };
    check("ChangeTxn", &txn);
    let batch = cdc::ChangeBatch {
        version: cdc::CDC_FORMAT_VERSION,
        txns: vec![txn],
        schemas: vec![],
        next_lsn: 2,
        last_lsn: 2,
    };
    check("ChangeBatch", &batch);
    for r in [
        Response::Slot(slot.clone()),
        Response::Slots { slots: vec![slot] },
        Response::Changes(batch),
    ] {
        check("Response", &r);
    }
}
