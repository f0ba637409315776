//! The DoSQL wire protocol and value types, the single source of truth for
//! every client (the Rust `sql-client`, the TypeScript SDKs, the Worker and
//! the native server).
//!
//! ```text
//!   client                                   server (DoSql Object or dosql-server)
//!     │ WebSocket  GET /db/{name}/v1/ws        one Session per connection
//!     │   text frame {"id":7,"type":"query",...}  ─────────>
//!     │   <───────── {"id":7,"type":"result",...}  (any order; match by id)
//!     │ HTTP       POST /db/{name}/v1/pipeline  one Session per request body
//!     │   {"requests":[{...},{...}]} ─────────> {"responses":[{...},{...}]}
//!     │ HTTP       POST /db/{name}/v1/batch     one Batch, HTTP status = outcome
//! ```
//!
//! Everything is JSON. [`value::Value`] keeps SQLite's five types exact
//! across JavaScript (64-bit integers and blobs included). Every request
//! frame carries a client-chosen `id` that its response echoes, so that
//! requests may be pipelined. Errors carry a [`error::ErrorCode`] that maps
//! one-to-one to the engine's error kinds.
//!
//! Compatibility rule: [`PROTOCOL_VERSION`] changes when a message changes
//! meaning or a required field is added; optional fields may be added
//! without a version change, and decoders ignore unknown fields of
//! responses but refuse unknown fields of requests (a typo must not be
//! silently ignored). The byte-level description is `docs/protocol.md`.

pub mod cdc;
pub mod error;
pub mod lake;
pub mod limits;
pub mod protocol;
pub mod value;

pub use error::{ErrorCode, WireError};
pub use protocol::{
    BatchRequest, BatchResult, BeginMode, ClientFrame, ColumnInfo, IndexInfo, Params,
    PipelineRequest, PipelineResponse, Prepared, Request, Response, SchemaInfo, ServerFrame,
    Statement, StatementResult, TableInfo,
};
pub use value::Value;

/// The protocol version this crate speaks. Sent in `hello` and in the
/// URL path (`/v1/`).
pub const PROTOCOL_VERSION: u32 = 1;
