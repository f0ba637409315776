//! The SQL layer: SQLite's dialect and semantics on top of the MVCC engine.
//!
//! Layers call downward only:
//!
//! ```text
//!   parse (sqlparser, SQLite dialect)
//!     -> bind    names resolved against the schema, affinities applied
//!     -> plan    access paths (rowid, index eq/range/IN), join order
//!     -> execute rows pulled through operators
//!     -> mvcc::Engine (transactions, trees)
//! ```
//!
//! Values follow SQLite's dynamic typing: every value is NULL, INTEGER
//! (exact 64-bit), REAL, TEXT or BLOB, whatever a column was declared as;
//! a column's declared type only gives it an *affinity* that converts
//! values on the way in.

pub mod cdc;
pub mod func;
pub mod value;

mod alter;
mod bind;
mod database;
mod ddl;
mod dml;
mod exec;
mod expr;
mod fk;
mod parse;
mod plan;
mod prepared;
mod record;
mod returning;
mod rows;
mod schema;
mod trigger;
mod upsert;
mod window;
mod write;

pub use database::{Database, Session, StatementResult};
pub use parse::{MAX_PARAMS, MAX_SQL_LEN};
pub use schema::{Column, Index, Schema, Table, View};
pub use value::Value;
