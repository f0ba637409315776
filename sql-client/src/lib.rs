//! Rust client for DoSQL over its wire protocol v1, and the `dosql` shell.
//!
//! ```text
//!   Client::connect("http://127.0.0.1:8787/db/app", token)
//!     query / execute / exec_script / prepare / schema / ping
//!        └──> one WebSocket (pipelined, ids matched by a background task)
//!     batch, frames over 1 MiB, servers without WebSockets
//!        └──> HTTP POST /v1/batch, /v1/pipeline
//!     create_slot / read_changes / ack_slot, subscribe(..) -> ChangeStream
//!     transaction(|tx| async move { .. })
//!        └──> a dedicated WebSocket, BEGIN .. COMMIT, retried on CONFLICT
//! ```
//!
//! Values are exact ([`Value`]: 64-bit integers and blobs included) and
//! rows decode into caller types through serde ([`Rows::decode`]).
//!
//! ```no_run
//! use sql_client::{params, Client};
//!
//! # async fn demo() -> sql_client::Result<()> {
//! let db = Client::connect("http://127.0.0.1:8787/db/app", "secret").await?;
//! db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)", ()).await?;
//! db.execute("INSERT INTO t(name) VALUES (?)", params!["ada"]).await?;
//! let names: Vec<(i64, String)> = db.query("SELECT id, name FROM t", ()).await?.decode()?;
//! # Ok(()) }
//! ```

mod changes;
mod client;
mod decode;
mod error;
mod params;
mod rows;
pub mod shell;
pub mod split;
mod statement;
mod transaction;
mod transport;

pub use changes::{ChangeStream, Subscription};
pub use client::{Client, Config};
pub use decode::DecodeError;
pub use error::{Error, Result};
pub use params::IntoParams;
pub use rows::{ExecResult, Row, Rows};
pub use shared_types::cdc;
/// A statement of a [`Client::batch`]: `BatchStatement::new(sql, params![..])`.
pub use shared_types::Statement as BatchStatement;
pub use shared_types::{
    BeginMode, ColumnInfo, ErrorCode, IndexInfo, Params, SchemaInfo, TableInfo, Value, WireError,
};
pub use statement::Statement;
pub use transaction::Transaction;
