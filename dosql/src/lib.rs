//! DoSQL engine: a SQLite-dialect database built for Cloudflare Durable
//! Objects, platform-independent and synchronous.
//!
//! Layers call downward only:
//!
//! ```text
//!   mvcc      snapshot-isolated transactions, version store, checkpoints
//!     |
//!   wal       logical redo log (LSN, txn, commit ts, before/after images)
//!   btree     table and index trees over pages, cursors, overflow
//!     |
//!   pager     page cache with a memory budget, CRC32 per page, free list
//!     |
//!   store     PageStore / LogStore traits; memory and file implementations
//! ```
//!
//! The crate never depends on `worker`, `wasm-bindgen` or `js-sys`; time and
//! randomness are passed in by the caller.

pub mod btree;
pub mod error;
pub mod keycode;
pub mod mvcc;
pub mod pager;
pub mod sql;
pub mod store;
pub mod varint;
pub mod wal;

pub use error::{Error, Result};
