//! Rust client SDK for DoSQL (WebSocket and HTTP) and the `dosql` shell.
//!
//! Not built yet: specified by issue 4; this crate deliberately has no code
//! until then.
