//! Interactive transactions with automatic retry on conflict.
//!
//! ```text
//!   attempt:  dedicated socket ── BEGIN ── f(tx) ── COMMIT ──> Ok
//!                                   │ error      │ error
//!                                   └─ ROLLBACK ─┴─> retryable? sleep, next attempt
//!                                                    otherwise   return the error
//! ```
//!
//! A transaction runs on a socket of its own (statements of other callers
//! on the shared socket would otherwise land inside it). DoSQL is MVCC with
//! first-committer-wins: a write or the COMMIT may fail with `CONFLICT`,
//! and then the whole closure runs again on a fresh snapshot, after a
//! jittered exponential backoff, at most `Config::transaction_retries`
//! times. The closure must therefore be safe to re-run (no side effects
//! outside the database, or idempotent ones).
//!
//! If the socket dies while the transaction is open, the calls fail with
//! [`Error::TransactionLost`] and the transaction is not retried: if it
//! died during COMMIT, the commit may have been applied.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shared_types::{limits, BeginMode, ErrorCode, Request, Response, SchemaInfo};

use crate::client::{many_results, one_result, Client};
use crate::error::{Error, Result};
use crate::params::IntoParams;
use crate::rows::{ExecResult, Rows};
use crate::transport::ws::{unexpected, WsConn};

/// An open transaction, handed to the closure of [`Client::transaction`].
/// Clones refer to the same transaction; using one after the closure
/// returned is an error.
#[derive(Clone)]
pub struct Transaction {
    conn: Arc<WsConn>,
    finished: Arc<AtomicBool>,
}

impl Client {
    /// Runs `f` inside BEGIN .. COMMIT, retrying on retryable errors.
    ///
    /// ```no_run
    /// # async fn demo(client: sql_client::Client) -> sql_client::Result<()> {
    /// let moved = client
    ///     .transaction(|tx| async move {
    ///         tx.execute("UPDATE acct SET bal = bal - 5 WHERE id = 1", ()).await?;
    ///         tx.execute("UPDATE acct SET bal = bal + 5 WHERE id = 2", ()).await?;
    ///         Ok(5)
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnMut(Transaction) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.transaction_with(BeginMode::Deferred, f).await
    }

    /// [`Client::transaction`] with an explicit BEGIN mode.
    pub async fn transaction_with<T, F, Fut>(&self, mode: BeginMode, mut f: F) -> Result<T>
    where
        F: FnMut(Transaction) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let config = &self.inner.config;
        let mut attempt = 0;
        loop {
            let conn = self.dedicated().await?;
            let tx = Transaction {
                conn: conn.clone(),
                finished: Arc::new(AtomicBool::new(false)),
            };
            let outcome: Result<T> = async {
                // Nothing of the closure ran yet: a dead socket here only
                // means "try again on another one".
                conn.request(Request::Begin { mode })
                    .await
                    .map_err(|e| match e {
                        Error::Transport(why) => Error::NotSent(why),
                        other => other,
                    })?;
                let value = f(tx.clone()).await?;
                tx.call(Request::Commit).await?;
                Ok(value)
            }
            .await;
            let error = match outcome {
                Ok(value) => {
                    tx.finished.store(true, Ordering::Release);
                    self.recycle(conn);
                    return Ok(value);
                }
                Err(e) => e,
            };
            // End whatever is still open; the server may already have
            // ended it (a failed COMMIT), so the answer does not matter,
            // only whether the socket is still usable.
            let rolled_back = !matches!(
                tx.call(Request::Rollback).await,
                Err(Error::TransactionLost(_) | Error::Timeout(_))
            );
            tx.finished.store(true, Ordering::Release);
            if rolled_back {
                self.recycle(conn);
            }
            if !error.is_retryable() || attempt >= config.transaction_retries {
                return Err(error);
            }
            tokio::time::sleep(backoff(config, attempt)).await;
            attempt += 1;
        }
    }
}

/// Jittered exponential backoff: a random delay in [d/2, d], where d
/// doubles from the base delay up to the maximum.
fn backoff(config: &crate::client::Config, attempt: u32) -> Duration {
    let full = config
        .retry_base_delay
        .saturating_mul(1u32 << attempt.min(16))
        .min(config.retry_max_delay);
    // RandomState is seeded randomly per process; hashing the attempt and
    // the clock gives independent draws without a random-number crate.
    let noise = RandomState::new().hash_one((attempt, tokio::time::Instant::now()));
    let half = full / 2;
    half + Duration::from_nanos(noise % (half.as_nanos() as u64 + 1))
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("finished", &self.finished.load(Ordering::Relaxed))
            .finish()
    }
}

impl Transaction {
    pub async fn query(&self, sql: &str, params: impl IntoParams) -> Result<Rows> {
        one_result(
            self.call(Request::Query {
                sql: sql.to_owned(),
                params: params.into_params(),
            })
            .await?,
        )
    }

    pub async fn execute(&self, sql: &str, params: impl IntoParams) -> Result<ExecResult> {
        Ok(self.query(sql, params).await?.exec_result())
    }

    pub async fn exec_script(&self, sql: &str) -> Result<Vec<Rows>> {
        many_results(
            self.call(Request::Exec {
                sql: sql.to_owned(),
                params: Default::default(),
            })
            .await?,
        )
    }

    /// The schema as this transaction sees it.
    pub async fn schema(&self) -> Result<SchemaInfo> {
        match self.call(Request::Schema).await? {
            Response::Schema(s) => Ok(s),
            other => Err(unexpected("schema", &other)),
        }
    }

    async fn call(&self, request: Request) -> Result<Response> {
        if self.finished.load(Ordering::Acquire) {
            return Err(Error::Invalid("the transaction has already ended".into()));
        }
        let frame = self.conn.encode(request)?;
        if frame.text.len() > limits::MAX_WS_FRAME_BYTES {
            // HTTP would run it outside the transaction.
            return Err(Error::server(
                ErrorCode::LimitExceeded,
                format!(
                    "a request of {} bytes exceeds the {} byte WebSocket limit, \
                     and a transaction cannot continue over HTTP",
                    frame.text.len(),
                    limits::MAX_WS_FRAME_BYTES
                ),
            ));
        }
        self.conn.send(frame).await.map_err(|e| match e {
            Error::Transport(why) | Error::NotSent(why) => Error::TransactionLost(why),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Config;

    #[test]
    fn backoff_grows_is_bounded_and_jittered() {
        let c = Config {
            retry_base_delay: Duration::from_millis(10),
            retry_max_delay: Duration::from_millis(100),
            ..Config::default()
        };
        for attempt in 0..40 {
            let full = Duration::from_millis((10u64 << attempt.min(16)).min(100));
            let d = backoff(&c, attempt);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
        let draws: std::collections::HashSet<_> = (0..20).map(|_| backoff(&c, 5)).collect();
        assert!(draws.len() > 1, "no jitter");
    }
}
