//! End-to-end tests of DoSQL: the same scenarios, through the Rust client
//! (`sql-client`) and raw sockets, against both servers of protocol v1.
//!
//! ```text
//!   tests/native.rs ──┐                        ┌─> dosql-server --data DIR          (Runtime::Native)
//!                     ├─ scenarios::run_all ──>│ Target: start / stop / restart
//!   tests/worker.rs ──┘     (same bodies)      └─> wrangler dev --persist-to DIR    (Runtime::Wrangler)
//!                                                    └─ workerd running dosql/worker/build
//! ```
//!
//! Invariants of the harness:
//! * A [`Target`] owns its process group and its temporary state: dropping
//!   it (also while a test panics) kills the whole group, workerd
//!   included, and deletes the state.
//! * Every wait is bounded ([`within`] and the start-up deadlines); a hung
//!   server fails the test instead of hanging it.
//! * The Worker target needs a built Worker: a missing
//!   `dosql/worker/build/index.js` fails the test with the command that
//!   builds it, it never skips.
//! * Each scenario uses database names of its own, so one running target
//!   serves all of them in sequence (a start of wrangler costs seconds).

pub use dosql_testkit::process;
pub mod raw;
pub mod scenarios;
pub mod target;

use std::future::Future;
use std::time::Duration;

pub use scenarios::run_all;
pub use target::{Runtime, Target};

/// The longest any single step of a scenario may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Awaits `step`, failing the test if it takes longer than [`STEP_TIMEOUT`].
pub async fn within<T>(what: &str, step: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP_TIMEOUT, step).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: no answer within {STEP_TIMEOUT:?}"),
    }
}

/// Polls `probe` every 100 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(out) = probe().await {
            return out;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
