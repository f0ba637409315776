//! The DoSQL wire protocol and value types, the single source of truth for
//! every client.
//!
//! Not built yet: the protocol is specified by issue 4 and this crate
//! deliberately has no code until then.
