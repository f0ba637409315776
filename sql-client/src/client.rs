//! The client: one shared WebSocket for ordinary calls, HTTP for batches
//! and as the fallback.
//!
//! ```text
//!   Client (Clone, Arc)
//!     shared: Option<Arc<WsConn>>   reopened by the next call after a drop
//!     idle:   Vec<Arc<WsConn>>      dedicated sockets for transactions
//!     http:   Http                  batch, oversized frames, no-WebSocket mode
//! ```
//!
//! Routing: a request goes over the shared socket unless its frame exceeds
//! [`limits::MAX_WS_FRAME_BYTES`] (then over `POST /v1/pipeline`, which is
//! correct because such requests carry no connection state), or the server
//! has no WebSocket endpoint (then every call goes over HTTP and
//! interactive transactions are unavailable). An oversized request is
//! refused instead while a BEGIN statement sent on the shared socket has
//! left a transaction open there, since HTTP would run it outside. A socket that drops fails
//! its pending requests; the next call opens a new one.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared_types::{
    limits, BatchRequest, ErrorCode, Request, Response, SchemaInfo, Statement as BatchStatement,
};

use crate::error::{Error, Result};
use crate::params::IntoParams;
use crate::rows::{ExecResult, Rows};
use crate::split::transaction_effect;
use crate::transport::http::Http;
use crate::transport::ws::{unexpected, ConnectError, WsConn};
use crate::transport::Endpoint;

/// How a client connects and how long it waits.
#[derive(Clone, Debug)]
pub struct Config {
    /// How long one request may wait for its answer.
    pub request_timeout: Duration,
    /// How long opening a connection may take.
    pub connect_timeout: Duration,
    /// How many times [`Client::transaction`] re-runs a transaction that
    /// failed with a retryable error (`CONFLICT`, `UNAVAILABLE`).
    pub transaction_retries: u32,
    /// First retry delay; doubled on each retry, up to `retry_max_delay`,
    /// and jittered so that conflicting clients do not retry in lockstep.
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    /// Never use WebSockets (every call is an HTTP request).
    pub http_only: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            transaction_retries: 10,
            retry_base_delay: Duration::from_millis(5),
            retry_max_delay: Duration::from_millis(500),
            http_only: false,
        }
    }
}

/// A handle to one database. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    /// Set by [`Client::with_timeout`]: a shorter limit for this handle.
    timeout: Option<Duration>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("pipeline", &self.inner.endpoint.pipeline)
            .field("websocket", &self.inner.websocket)
            .finish()
    }
}

pub(crate) struct Inner {
    endpoint: Endpoint,
    pub(crate) config: Config,
    http: Http,
    websocket: bool,
    shared: tokio::sync::Mutex<Option<Arc<WsConn>>>,
    idle: Mutex<Vec<Arc<WsConn>>>,
}

/// Dedicated transaction sockets kept open for reuse.
const MAX_IDLE: usize = 4;

impl Client {
    /// Connects to a database URL such as `http://127.0.0.1:8787/db/mydb`.
    ///
    /// Opens the WebSocket at once, so that a bad URL or token fails here.
    pub async fn connect(url: &str, token: &str) -> Result<Client> {
        Client::connect_with(url, token, Config::default()).await
    }

    pub async fn connect_with(url: &str, token: &str, config: Config) -> Result<Client> {
        let endpoint = Endpoint::parse(url, token)?;
        let http = Http::new(
            endpoint.clone(),
            config.connect_timeout,
            config.request_timeout,
        )?;
        let mut shared = None;
        let mut websocket = false;
        if !config.http_only {
            match WsConn::connect(&endpoint, config.connect_timeout, config.request_timeout).await {
                Ok(conn) => {
                    shared = Some(Arc::new(conn));
                    websocket = true;
                }
                Err(ConnectError::Unavailable(_)) => {}
                Err(ConnectError::Failed(e)) => return Err(e),
            }
        }
        let client = Client {
            timeout: None,
            inner: Arc::new(Inner {
                endpoint,
                config,
                http,
                websocket,
                shared: tokio::sync::Mutex::new(shared),
                idle: Mutex::new(Vec::new()),
            }),
        };
        if !websocket {
            // Without a socket nothing has reached the server yet.
            client.ping().await?;
        }
        Ok(client)
    }

    /// A handle that shares this client's connections but whose calls
    /// give up after `timeout` with [`Error::Timeout`] (a call that timed
    /// out may still run on the server). `Config::request_timeout` still
    /// bounds every request, so it caps this.
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Client {
            inner: self.inner.clone(),
            timeout: Some(timeout),
        }
    }

    /// Runs `call` within this handle's timeout, if it has one.
    pub(crate) async fn within<T>(&self, call: impl Future<Output = Result<T>>) -> Result<T> {
        match self.timeout {
            None => call.await,
            Some(limit) => tokio::time::timeout(limit, call)
                .await
                .unwrap_or(Err(Error::Timeout(limit))),
        }
    }

    /// Whether calls go over a WebSocket (false: HTTP only).
    pub fn uses_websocket(&self) -> bool {
        self.inner.websocket
    }

    /// Runs one statement and returns its rows.
    pub async fn query(&self, sql: &str, params: impl IntoParams) -> Result<Rows> {
        let response = self
            .call(Request::Query {
                sql: sql.to_owned(),
                params: params.into_params(),
            })
            .await?;
        one_result(response)
    }

    /// Runs one statement for its effect.
    pub async fn execute(&self, sql: &str, params: impl IntoParams) -> Result<ExecResult> {
        Ok(self.query(sql, params).await?.exec_result())
    }

    /// Runs a script of `;`-separated statements; stops at the first error
    /// (earlier statements keep their effect).
    pub async fn exec_script(&self, sql: &str) -> Result<Vec<Rows>> {
        let response = self
            .call(Request::Exec {
                sql: sql.to_owned(),
                params: Default::default(),
            })
            .await?;
        many_results(response)
    }

    /// Runs statements in order over `POST /v1/batch`. With
    /// `transactional`, all take effect or none does.
    pub async fn batch(
        &self,
        statements: Vec<BatchStatement>,
        transactional: bool,
    ) -> Result<Vec<Rows>> {
        if statements.len() > limits::MAX_BATCH_STATEMENTS {
            return Err(Error::server(
                ErrorCode::LimitExceeded,
                format!(
                    "a batch holds at most {} statements, not {}",
                    limits::MAX_BATCH_STATEMENTS,
                    statements.len()
                ),
            ));
        }
        let body = BatchRequest {
            statements,
            transactional,
        };
        let out = self.within(self.inner.http.batch(&body)).await?;
        Ok(out.results.into_iter().map(Rows::from).collect())
    }

    /// Tables, views, their columns and indexes.
    pub async fn schema(&self) -> Result<SchemaInfo> {
        match self.call(Request::Schema).await? {
            Response::Schema(s) => Ok(s),
            other => Err(unexpected("schema", &other)),
        }
    }

    /// A round trip to the server; returns how long it took.
    pub async fn ping(&self) -> Result<Duration> {
        let start = tokio::time::Instant::now();
        match self.call(Request::Ping).await? {
            Response::Pong => Ok(start.elapsed()),
            other => Err(unexpected("pong", &other)),
        }
    }

    /// Sends one request by the route described in the module doc.
    pub(crate) async fn call(&self, request: Request) -> Result<Response> {
        self.within(self.route(request)).await
    }

    async fn route(&self, request: Request) -> Result<Response> {
        if !self.inner.websocket {
            return self.inner.http.single(request).await;
        }
        let effect = match &request {
            Request::Query { sql, .. } | Request::Exec { sql, .. } => transaction_effect(sql),
            _ => None,
        };
        // A socket that died while idle is found dead before anything is
        // written on it; the request then goes once more on a new socket.
        let mut resent = false;
        let (conn, out) = loop {
            let conn = self.shared().await?;
            let frame = conn.encode(request.clone())?;
            if frame.text.len() > limits::MAX_WS_FRAME_BYTES {
                return self.oversized(&conn, frame.text.len(), request).await;
            }
            match conn.send(frame).await {
                Err(Error::NotSent(_)) if !resent => resent = true,
                out => break (conn, out),
            }
        };
        match (&out, effect) {
            (Ok(_), Some(open)) => conn.in_transaction.store(open, Ordering::Relaxed),
            // A failed BEGIN may still have opened something: stay careful.
            (Err(_), Some(true)) => conn.in_transaction.store(true, Ordering::Relaxed),
            _ => {}
        }
        out
    }

    /// Sends a request too large for a WebSocket frame over HTTP, where it
    /// runs on a session of its own: refused if the socket has a
    /// transaction open, which the request would silently escape.
    pub(crate) async fn oversized(
        &self,
        conn: &WsConn,
        size: usize,
        request: Request,
    ) -> Result<Response> {
        if conn.in_transaction.load(Ordering::Relaxed) {
            return Err(Error::server(
                ErrorCode::LimitExceeded,
                format!(
                    "a request of {size} bytes exceeds the {} byte WebSocket limit, and HTTP \
                     would run it outside the transaction open on this connection",
                    limits::MAX_WS_FRAME_BYTES
                ),
            ));
        }
        self.inner.http.single(request).await
    }

    /// The shared socket, reopened if it dropped.
    pub(crate) async fn shared(&self) -> Result<Arc<WsConn>> {
        let mut slot = self.inner.shared.lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(conn.clone());
        }
        *slot = None;
        let conn = Arc::new(self.open().await?);
        *slot = Some(conn.clone());
        Ok(conn)
    }

    pub(crate) async fn open(&self) -> Result<WsConn> {
        let c = &self.inner.config;
        Ok(WsConn::connect(&self.inner.endpoint, c.connect_timeout, c.request_timeout).await?)
    }

    pub(crate) fn http(&self) -> &Http {
        &self.inner.http
    }

    /// A socket no one else uses, for a transaction.
    pub(crate) async fn dedicated(&self) -> Result<Arc<WsConn>> {
        if !self.inner.websocket {
            return Err(Error::Transport(
                "interactive transactions need a WebSocket, which this server does not offer; \
                 use a transactional batch"
                    .into(),
            ));
        }
        let reused = {
            let mut idle = self.inner.idle.lock().expect("not poisoned");
            idle.retain(|c| !c.is_closed());
            idle.pop()
        };
        match reused {
            Some(conn) => Ok(conn),
            None => Ok(Arc::new(self.open().await?)),
        }
    }

    /// Returns a dedicated socket, with no transaction open, for reuse.
    pub(crate) fn recycle(&self, conn: Arc<WsConn>) {
        let mut idle = self.inner.idle.lock().expect("not poisoned");
        if !conn.is_closed() && idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

pub(crate) fn one_result(response: Response) -> Result<Rows> {
    match response {
        Response::Result(r) => Ok(r.into()),
        other => Err(unexpected("result", &other)),
    }
}

pub(crate) fn many_results(response: Response) -> Result<Vec<Rows>> {
    match response {
        Response::Results { results } => Ok(results.into_iter().map(Rows::from).collect()),
        other => Err(unexpected("results", &other)),
    }
}
