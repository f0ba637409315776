//! Prepared statements that survive reconnection.
//!
//! ```text
//!   Statement { sql, handle: (Weak<WsConn>, stmt id) }
//!     run:  shared socket == handle's socket ?  execute stmt
//!                                             : prepare again, then execute
//! ```
//!
//! A server-side handle is valid on its connection only. The statement
//! remembers which socket its handle belongs to (a `Weak`, which also keeps
//! the address from being reused), so after a reconnect it prepares itself
//! again on the new socket before running. Over HTTP, where nothing
//! persists between requests, it runs its SQL text instead. Dropping a
//! statement closes its handle if its socket is still open.

use std::sync::{Arc, Weak};

use shared_types::{limits, Params, Prepared, Request, Response};

use crate::client::{one_result, Client};
use crate::error::{Error, Result};
use crate::params::IntoParams;
use crate::rows::{ExecResult, Rows};
use crate::transport::ws::{unexpected, WsConn};

/// A statement prepared through [`Client::prepare`].
pub struct Statement {
    client: Client,
    sql: String,
    info: Prepared,
    handle: tokio::sync::Mutex<Option<(Weak<WsConn>, u64)>>,
}

impl Client {
    /// Parses and binds `sql` once for repeated execution. Errors in the
    /// SQL are reported here.
    pub async fn prepare(&self, sql: &str) -> Result<Statement> {
        let (info, handle) = if self.uses_websocket() {
            let conn = self.shared().await?;
            let info = prepare_on(&conn, sql).await?;
            let handle = (Arc::downgrade(&conn), info.stmt);
            (info, Some(handle))
        } else {
            let response = self
                .http()
                .single(Request::Prepare {
                    sql: sql.to_owned(),
                })
                .await?;
            (prepared(response)?, None)
        };
        Ok(Statement {
            client: self.clone(),
            sql: sql.to_owned(),
            info,
            handle: tokio::sync::Mutex::new(handle),
        })
    }
}

async fn prepare_on(conn: &WsConn, sql: &str) -> Result<Prepared> {
    prepared(
        conn.request(Request::Prepare {
            sql: sql.to_owned(),
        })
        .await?,
    )
}

fn prepared(response: Response) -> Result<Prepared> {
    match response {
        Response::Prepared(p) => Ok(p),
        other => Err(unexpected("prepared", &other)),
    }
}

impl Statement {
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Number of parameters the statement takes.
    pub fn param_count(&self) -> usize {
        self.info.params as usize
    }

    /// Parameter names by position (`None` for positional ones).
    pub fn param_names(&self) -> &[Option<String>] {
        &self.info.param_names
    }

    /// Result column names.
    pub fn columns(&self) -> &[String] {
        &self.info.columns
    }

    pub async fn query(&self, params: impl IntoParams) -> Result<Rows> {
        let params = params.into_params();
        self.client.within(self.run(params)).await
    }

    async fn run(&self, params: Params) -> Result<Rows> {
        let by_text = Request::Query {
            sql: self.sql.clone(),
            params: params.clone(),
        };
        if !self.client.uses_websocket() {
            return one_result(self.client.http().single(by_text).await?);
        }
        // As in `Client::call`: once more on a new socket if the frame
        // never left (the socket had died while idle).
        let mut resent = false;
        loop {
            let conn = self.client.shared().await?;
            let stmt = {
                let mut handle = self.handle.lock().await;
                match handle.as_ref() {
                    Some((weak, stmt)) if std::ptr::eq(weak.as_ptr(), Arc::as_ptr(&conn)) => *stmt,
                    _ => match prepare_on(&conn, &self.sql).await {
                        Err(Error::NotSent(_)) if !resent => {
                            resent = true;
                            continue;
                        }
                        prepared => {
                            let info = prepared?;
                            *handle = Some((Arc::downgrade(&conn), info.stmt));
                            info.stmt
                        }
                    },
                }
            };
            let frame = conn.encode(Request::Execute {
                stmt,
                params: params.clone(),
            })?;
            if frame.text.len() > limits::MAX_WS_FRAME_BYTES {
                let size = frame.text.len();
                return one_result(self.client.oversized(&conn, size, by_text).await?);
            }
            match conn.send(frame).await {
                Err(Error::NotSent(_)) if !resent => resent = true,
                out => return one_result(out?),
            }
        }
    }

    pub async fn execute(&self, params: impl IntoParams) -> Result<ExecResult> {
        Ok(self.query(params).await?.exec_result())
    }
}

impl std::fmt::Debug for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statement")
            .field("sql", &self.sql)
            .field("params", &self.info.params)
            .finish()
    }
}

impl Drop for Statement {
    fn drop(&mut self) {
        if let Some((weak, stmt)) = self.handle.get_mut().take() {
            if let Some(conn) = weak.upgrade().filter(|c| !c.is_closed()) {
                conn.send_nowait(Request::Close { stmt });
            }
        }
    }
}
