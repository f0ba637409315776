//! Rust client SDK for DoLake (Iceberg catalog browsing, Arrow reads, change
//! stream subscriptions).
//!
//! Not built yet: specified by issue 5; this crate deliberately has no code
//! until then.
