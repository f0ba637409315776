//! DoLake core: turns DoSQL's change stream into Parquet data files and
//! Apache Iceberg v2 tables.
//!
//! The crate is sans-IO and synchronous (it runs inside a Durable Object on
//! wasm32, where every storage call is async and the clock and randomness
//! belong to the host): a commit is computed in memory as a list of objects
//! to put plus the new table state; the caller performs the puts (metadata
//! last) and then records the state. Time and randomness are parameters.

pub mod avro;
pub mod catalog;
pub mod error;
pub mod iceberg;
pub mod lake;
pub mod node;
pub mod parquet_file;
pub mod reader;
pub mod s3;
pub mod sqltypes;
pub mod store;
pub mod table;

pub use error::{Error, Result};
