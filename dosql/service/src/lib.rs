//! The DoSQL wire protocol v1 served over the engine: platform-independent
//! and synchronous, shared by the native server (`dosql-server`) and the
//! Durable Object (`dosql/worker`).
//!
//! ```text
//!   transport (axum / Durable Object)        this crate
//!   ─────────────────────────────────        ──────────────────────────────────
//!   WebSocket opened          ──> open_connection(now)      -> ConnId
//!   text frame                ──> handle_frame(conn, bytes, now) -> ServerFrame
//!   WebSocket closed          ──> close_connection(conn)    (rolls back)
//!   POST .../pipeline         ──> http_pipeline(body, now)  -> (status, JSON)
//!   POST .../batch            ──> http_batch(body, now)     -> (status, JSON)
//!   timer / alarm             ──> expire_idle(now)          (rolls back idle txns)
//!   after any call            ──> is_poisoned()? reopen, replace_database(db)
//! ```
//!
//! Invariants:
//!
//! * One [`Service`] owns one [`dosql::sql::Database`] and every
//!   connection's session; callers serialise calls (`&mut self`).
//! * No transaction outlives its connection: closing a connection rolls its
//!   transaction back, and so does idling longer than
//!   [`shared_types::limits::TRANSACTION_IDLE_TIMEOUT_MS`]; the next request
//!   that assumed the transaction then fails with `TIMEOUT`.
//! * Time is passed in (milliseconds since the epoch); the crate never
//!   reads a clock, so it runs on wasm32.
//! * Every limit of [`shared_types::limits`] is enforced here, once, for
//!   every transport.

mod bind;
pub mod cdc;
mod schema;
mod script;
mod service;
pub mod ship;
pub mod transport;

pub use service::{ConnId, Service};
