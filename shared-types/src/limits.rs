//! Limits every server enforces and every client may check before sending.
//!
//! They come from the platform: a Durable Object has 128 MB of memory,
//! stores at most 2 MB per row or blob, binds at most 100 parameters per
//! query, and a Worker receives WebSocket messages of at most 1 MiB.
//! Exceeding one is a `LIMIT_EXCEEDED` error for that request only; the
//! connection goes on serving.

/// Bytes of SQL text in one request (the engine's own limit).
pub const MAX_SQL_BYTES: usize = 100_000;

/// Bound parameters of one statement.
pub const MAX_PARAMS: usize = 100;

/// Bytes of one TEXT or BLOB value, in a parameter or in a row.
pub const MAX_VALUE_BYTES: usize = 2 << 20;

/// Bytes of one WebSocket message a server accepts (the Workers limit on
/// received messages). Larger requests go over HTTP.
pub const MAX_WS_FRAME_BYTES: usize = 1 << 20;

/// Bytes of one HTTP request body.
pub const MAX_HTTP_BODY_BYTES: usize = 16 << 20;

/// Bytes of the encoded result of one request; a larger result is refused
/// with `LIMIT_EXCEEDED` (page through it with LIMIT/OFFSET or a key range).
pub const MAX_RESULT_BYTES: usize = 16 << 20;

/// Requests in one pipeline or statements in one batch.
pub const MAX_BATCH_STATEMENTS: usize = 1000;

/// Prepared statements one connection may hold open.
pub const MAX_PREPARED_PER_CONNECTION: usize = 256;

/// Milliseconds an interactive transaction may stay idle before the server
/// rolls it back (its connection then gets `TIMEOUT` on the next request
/// that assumed it).
pub const TRANSACTION_IDLE_TIMEOUT_MS: u64 = 30_000;

/// Longest database name (the `{name}` of `/db/{name}/...`).
pub const MAX_DATABASE_NAME_LEN: usize = 64;

/// Whether `name` is a valid database name: 1 to 64 of `[A-Za-z0-9_-]`,
/// the same rule everywhere a database is served, so that a name means
/// the same database (and is one plain directory on the native server).
pub fn valid_database_name(name: &str) -> bool {
    (1..=MAX_DATABASE_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names() {
        assert!(valid_database_name("tenant-42_a"));
        assert!(valid_database_name(&"x".repeat(64)));
        assert!(!valid_database_name(&"x".repeat(65)));
        for bad in ["", "a/b", "a b", "é", "..", "a.b"] {
            assert!(!valid_database_name(bad), "{bad:?}");
        }
    }
}
