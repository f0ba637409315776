//! Requests and responses, and the frames that carry them.
//!
//! ```text
//!   WebSocket text frame, client -> server
//!     {"id": 7, "type": "query", "sql": "SELECT ?1", "params": [1]}
//!   WebSocket text frame, server -> client
//!     {"id": 7, "type": "result", "columns": ["?1"], "rows": [[1]],
//!      "rows_affected": 0, "last_insert_rowid": 0}
//!     {"id": 7, "type": "error", "code": "SYNTAX", "message": "...", "retryable": false}
//!
//!   HTTP  POST /db/{name}/v1/pipeline
//!     {"requests": [{"type": "begin"}, {"type": "exec", "sql": "..."}, {"type": "commit"}]}
//!     200 {"responses": [{"type": "ok", ...}, {"type": "results", ...}, ...]}
//!   HTTP  POST /db/{name}/v1/batch
//!     {"statements": [{"sql": "...", "params": [...]}, ...], "transactional": true}
//!     200 {"results": [...]}   or   4xx/5xx {"error": {"code": ..., ...}}
//! ```
//!
//! A request's `type` names what it does ([`Request`]); a response's
//! `type` names what it carries ([`Response`]). Ids are chosen by the
//! client, echoed by the server, and let a client pipeline requests over one
//! WebSocket; a server answers the requests of one connection in order. A
//! frame that cannot be parsed at all is answered with `"id": null`.
//!
//! Requests are decoded strictly (unknown fields are an `INVALID_REQUEST`
//! error, never ignored); responses leniently (a newer server may add
//! fields).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::cdc::{ChangeBatch, ChangeFilter, SlotInfo};
use crate::error::{ErrorCode, WireError};
use crate::value::{i64_exact, Value};

/// Bound parameters: positional (`?`, `?NNN`) or named (`:a`, `@a`, `$a`).
///
/// A named key may include its prefix (`":a"`), which then must match, or
/// omit it (`"a"`), which matches any prefix. Positional `?NNN` counts from
/// 1, like SQLite.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Params {
    Positional(Vec<Value>),
    Named(BTreeMap<String, Value>),
}

impl Default for Params {
    fn default() -> Params {
        Params::Positional(Vec::new())
    }
}

impl Params {
    pub fn is_empty(&self) -> bool {
        match self {
            Params::Positional(v) => v.is_empty(),
            Params::Named(m) => m.is_empty(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Params::Positional(v) => v.len(),
            Params::Named(m) => m.len(),
        }
    }

    /// Every value, for limit checks.
    pub fn values(&self) -> Box<dyn Iterator<Item = &Value> + '_> {
        match self {
            Params::Positional(v) => Box::new(v.iter()),
            Params::Named(m) => Box::new(m.values()),
        }
    }
}

impl From<Vec<Value>> for Params {
    fn from(v: Vec<Value>) -> Params {
        Params::Positional(v)
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Params;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of values or an object of named values")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Params, E> {
                Ok(Params::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Params, A::Error> {
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(128));
                while let Some(x) = seq.next_element()? {
                    v.push(x);
                }
                Ok(Params::Positional(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Params, A::Error> {
                let mut m = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    if m.insert(k.clone(), v).is_some() {
                        return Err(de::Error::custom(format!("parameter {k:?} given twice")));
                    }
                }
                Ok(Params::Named(m))
            }
        }
        d.deserialize_any(V)
    }
}

/// One SQL statement (or script) with its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    pub sql: String,
    #[serde(default, skip_serializing_if = "Params::is_empty")]
    pub params: Params,
}

impl Statement {
    pub fn new(sql: impl Into<String>, params: impl Into<Params>) -> Statement {
        Statement {
            sql: sql.into(),
            params: params.into(),
        }
    }
}

/// How BEGIN takes its snapshot. DoSQL is MVCC: both read a consistent
/// snapshot; IMMEDIATE additionally marks the transaction as a writer at
/// once (SQLite's meaning), DEFERRED at its first write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BeginMode {
    #[default]
    Deferred,
    Immediate,
}

/// What a client asks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Optional first request: checks the protocol version.
    /// Answer: `hello`.
    Hello { version: u32 },
    /// Answer: `pong`.
    Ping,
    /// Runs a script of one or more `;`-separated statements, all with the
    /// same parameters. Answer: `results`, one per statement; it stops at
    /// the first failing statement (earlier ones keep their effect unless a
    /// transaction rolls them back).
    Exec {
        sql: String,
        #[serde(default, skip_serializing_if = "Params::is_empty")]
        params: Params,
    },
    /// Runs exactly one statement. Answer: `result`.
    Query {
        sql: String,
        #[serde(default, skip_serializing_if = "Params::is_empty")]
        params: Params,
    },
    /// Parses and binds one statement for repeated execution on this
    /// connection. Answer: `prepared`.
    Prepare { sql: String },
    /// Runs a prepared statement. Answer: `result`.
    Execute {
        stmt: u64,
        #[serde(default, skip_serializing_if = "Params::is_empty")]
        params: Params,
    },
    /// Forgets a prepared statement. Answer: `ok`.
    Close { stmt: u64 },
    /// Runs statements in order, each with its own parameters. With
    /// `transactional` (the default) all take effect or none does. Answer:
    /// `results`; an error names the failing statement's index.
    Batch {
        statements: Vec<Statement>,
        #[serde(default = "yes")]
        transactional: bool,
    },
    /// Answer: `ok`.
    Begin {
        #[serde(default)]
        mode: BeginMode,
    },
    /// Answer: `ok`.
    Commit,
    /// Answer: `ok`.
    Rollback,
    /// Tables, views, columns and indexes. Answer: `schema`.
    Schema,
    /// Creates a replication slot at the current last LSN. Answer: `slot`.
    CreateSlot { slot: String },
    /// Removes a replication slot. Answer: `ok`.
    DropSlot { slot: String },
    /// Every replication slot. Answer: `slots`.
    ListSlots,
    /// Reads committed transactions after a slot's acknowledged LSN
    /// (`slot`) or from an LSN (`from_lsn`): exactly one of the two.
    /// Answer: `changes`. Reading never moves the slot.
    ReadChanges {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slot: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_lsn: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<ChangeFilter>,
        /// At most this many transactions (default 1000).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_txns: Option<u32>,
        /// About this many bytes of changes (default and cap: the result
        /// size limit).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_bytes: Option<u64>,
    },
    /// Acknowledges every transaction of a slot up to `lsn`. Answer: `ok`.
    AckSlot { slot: String, lsn: u64 },
}

fn yes() -> bool {
    true
}

impl Request {
    /// Every SQL text and parameter list of the request, for limit checks.
    pub fn statements(&self) -> Vec<(&str, &Params)> {
        static NONE: Params = Params::Positional(Vec::new());
        match self {
            Request::Exec { sql, params } | Request::Query { sql, params } => vec![(sql, params)],
            Request::Prepare { sql } => vec![(sql, &NONE)],
            Request::Execute { params, .. } => vec![("", params)],
            Request::Batch { statements, .. } => statements
                .iter()
                .map(|s| (s.sql.as_str(), &s.params))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The result of one statement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatementResult {
    /// Result column names; empty for statements that return no rows.
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(default)]
    pub rows: Vec<Vec<Value>>,
    /// Rows inserted, updated or deleted.
    #[serde(default)]
    pub rows_affected: u64,
    /// The connection's last inserted rowid after the statement.
    #[serde(default, with = "i64_exact")]
    pub last_insert_rowid: i64,
}

/// A statement prepared on a connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prepared {
    /// Handle for `execute` and `close`, valid on this connection only.
    pub stmt: u64,
    /// Number of parameters (the largest index bound).
    pub params: u32,
    /// Name of each parameter by position, with its prefix, or null for
    /// positional ones.
    #[serde(default)]
    pub param_names: Vec<Option<String>>,
    /// Result column names (empty for statements that return no rows).
    #[serde(default)]
    pub columns: Vec<String>,
}

/// One column of a table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnInfo {
    pub name: String,
    /// The declared type as written (may be empty).
    #[serde(default)]
    pub decl_type: String,
    #[serde(default)]
    pub not_null: bool,
    /// 1-based position in the primary key, 0 if not part of it.
    #[serde(default)]
    pub primary_key: u32,
    /// The DEFAULT expression as SQL text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// One index of a table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexInfo {
    pub name: String,
    pub unique: bool,
    pub columns: Vec<String>,
    /// The CREATE INDEX text; null for automatic indexes (UNIQUE columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
}

/// A table or view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableInfo {
    pub name: String,
    /// `"table"` or `"view"`.
    pub kind: String,
    /// The CREATE text, as stored in the schema.
    pub sql: String,
    #[serde(default)]
    pub columns: Vec<ColumnInfo>,
    #[serde(default)]
    pub indexes: Vec<IndexInfo>,
}

/// The answer to `schema`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SchemaInfo {
    pub tables: Vec<TableInfo>,
}

/// What a server answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    Hello {
        version: u32,
        /// Server name and version, e.g. `dosql/0.1.0`.
        server: String,
    },
    Pong,
    Result(StatementResult),
    Results {
        results: Vec<StatementResult>,
    },
    Prepared(Prepared),
    Ok {
        /// Whether the connection has a transaction open afterwards.
        in_transaction: bool,
    },
    Schema(SchemaInfo),
    Slot(SlotInfo),
    Slots {
        slots: Vec<SlotInfo>,
    },
    Changes(ChangeBatch),
    Error(WireError),
}

impl Response {
    /// The error, if this response is one.
    pub fn error(&self) -> Option<&WireError> {
        match self {
            Response::Error(e) => Some(e),
            _ => None,
        }
    }
}

/// A request with its id, as sent over a WebSocket.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClientFrame {
    pub id: u64,
    #[serde(flatten)]
    pub request: Request,
}

impl ClientFrame {
    /// Decodes one frame strictly. On failure the error comes with the
    /// frame's id when one could be read, so that the answer reaches the
    /// request that caused it.
    pub fn decode(text: &[u8]) -> Result<ClientFrame, (Option<u64>, WireError)> {
        let bad = |id, msg: String| (id, WireError::new(ErrorCode::InvalidRequest, msg));
        let json: serde_json::Value = serde_json::from_slice(text)
            .map_err(|e| bad(None, format!("frame is not JSON: {e}")))?;
        let serde_json::Value::Object(mut fields) = json else {
            return Err(bad(None, "a frame must be a JSON object".into()));
        };
        let id = match fields.remove("id") {
            Some(serde_json::Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
            Some(other) => {
                return Err(bad(
                    None,
                    format!("\"id\" must be a non-negative integer, not {other}"),
                ))
            }
            None => return Err(bad(None, "a frame needs an \"id\"".into())),
        };
        let request = serde_json::from_value(serde_json::Value::Object(fields))
            .map_err(|e| bad(id, format!("bad request: {e}")))?;
        Ok(ClientFrame {
            id: id.expect("checked"),
            request,
        })
    }
}

/// A response with the id of its request, as sent over a WebSocket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerFrame {
    /// Null when the request frame was too malformed to have an id.
    pub id: Option<u64>,
    #[serde(flatten)]
    pub response: Response,
}

/// Body of `POST /db/{name}/v1/pipeline`: requests run in order on one
/// session that lives for this HTTP request (a transaction left open at
/// the end is rolled back).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineRequest {
    pub requests: Vec<Request>,
}

/// Answer to a pipeline: one response per request, in order. A failed
/// request does not stop the ones after it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineResponse {
    pub responses: Vec<Response>,
}

/// Body of `POST /db/{name}/v1/batch`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub statements: Vec<Statement>,
    #[serde(default = "yes")]
    pub transactional: bool,
}

/// Successful answer to a batch (a failure is `{"error": WireError}` with
/// the code's HTTP status).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    pub results: Vec<StatementResult>,
}

/// The body of every failed HTTP response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HttpError {
    pub error: WireError,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(json: &str) -> Result<ClientFrame, (Option<u64>, WireError)> {
        ClientFrame::decode(json.as_bytes())
    }

    #[test]
    fn client_frames_round_trip() {
        let requests = [
            Request::Hello { version: 1 },
            Request::Ping,
            Request::Exec {
                sql: "SELECT 1; SELECT 2".into(),
                params: Params::default(),
            },
            Request::Query {
                sql: "SELECT :a".into(),
                params: Params::Named([(":a".to_string(), Value::Integer(i64::MIN))].into()),
            },
            Request::Prepare {
                sql: "SELECT ?".into(),
            },
            Request::Execute {
                stmt: 3,
                params: vec![Value::Blob(vec![1, 2])].into(),
            },
            Request::Close { stmt: 3 },
            Request::Batch {
                statements: vec![Statement::new(
                    "INSERT INTO t VALUES (?)",
                    vec![Value::Real(1.0)],
                )],
                transactional: false,
            },
            Request::Begin {
                mode: BeginMode::Immediate,
            },
            Request::Commit,
            Request::Rollback,
            Request::Schema,
        ];
        for (i, request) in requests.into_iter().enumerate() {
            let f = ClientFrame {
                id: i as u64,
                request,
            };
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(frame(&json).unwrap(), f, "{json}");
        }
    }

    #[test]
    fn documented_shapes() {
        let f = frame(r#"{"id": 7, "type": "query", "sql": "SELECT ?1", "params": [1]}"#).unwrap();
        assert_eq!(
            f.request,
            Request::Query {
                sql: "SELECT ?1".into(),
                params: vec![Value::Integer(1)].into()
            }
        );
        let b = frame(r#"{"id":1,"type":"batch","statements":[{"sql":"x"}]}"#).unwrap();
        assert!(matches!(
            b.request,
            Request::Batch {
                transactional: true,
                ..
            }
        ));
        let begin = frame(r#"{"id":1,"type":"begin"}"#).unwrap();
        assert_eq!(
            begin.request,
            Request::Begin {
                mode: BeginMode::Deferred
            }
        );
        let out = ServerFrame {
            id: Some(7),
            response: Response::Result(StatementResult {
                columns: vec!["?1".into()],
                rows: vec![vec![Value::Integer(1)]],
                rows_affected: 0,
                last_insert_rowid: i64::MAX,
            }),
        };
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"id":7,"type":"result","columns":["?1"],"rows":[[1]],"rows_affected":0,"last_insert_rowid":"9223372036854775807"}"#
        );
        let err = ServerFrame {
            id: None,
            response: Response::Error(WireError::new(ErrorCode::Syntax, "near x")),
        };
        let json = serde_json::to_string(&err).unwrap();
        assert_eq!(
            json,
            r#"{"id":null,"type":"error","code":"SYNTAX","message":"near x","retryable":false}"#
        );
        assert_eq!(serde_json::from_str::<ServerFrame>(&json).unwrap(), err);
    }

    #[test]
    fn malformed_frames_are_typed_errors_with_ids_when_possible() {
        for (json, id, why) in [
            ("nope", None, "not JSON"),
            ("[1]", None, "JSON object"),
            (r#"{"type":"ping"}"#, None, "needs an \"id\""),
            (r#"{"id":-1,"type":"ping"}"#, None, "non-negative"),
            (r#"{"id":4,"type":"launch"}"#, Some(4), "unknown variant"),
            (r#"{"id":5,"type":"query"}"#, Some(5), "missing field `sql`"),
            (
                r#"{"id":6,"type":"query","sql":"x","typo":1}"#,
                Some(6),
                "unknown field",
            ),
            (
                r#"{"id":7,"type":"query","sql":"x","params":5}"#,
                Some(7),
                "array of values",
            ),
            (
                r#"{"id":8,"type":"query","sql":"x","params":[[1]]}"#,
                Some(8),
                "SQL value",
            ),
        ] {
            let (got, e) = frame(json).unwrap_err();
            assert_eq!(got, id, "{json}");
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert!(e.message.contains(why), "{json}: {}", e.message);
        }
    }

    #[test]
    fn responses_ignore_unknown_fields() {
        let json = r#"{"id":1,"type":"ok","in_transaction":true,"future":1}"#;
        let f: ServerFrame = serde_json::from_str(json).unwrap();
        assert_eq!(
            f.response,
            Response::Ok {
                in_transaction: true
            }
        );
    }

    #[test]
    fn http_bodies() {
        let p: PipelineRequest =
            serde_json::from_str(r#"{"requests":[{"type":"begin"},{"type":"commit"}]}"#).unwrap();
        assert_eq!(p.requests.len(), 2);
        let b: BatchRequest =
            serde_json::from_str(r#"{"statements":[{"sql":"SELECT 1","params":{"a":1}}]}"#)
                .unwrap();
        assert!(b.transactional);
        assert!(serde_json::from_str::<BatchRequest>(r#"{"statements":[],"x":1}"#).is_err());
    }
}
