//! The WebSocket transport: one socket, many requests in flight.
//!
//! ```text
//!   callers ── Cmd{id, text, reply} ──> mpsc ──> connection task ──> socket
//!   callers <── oneshot(reply) <── pending[id] <── connection task <── socket
//! ```
//!
//! Each request gets a fresh id from the connection's counter; the task
//! remembers its reply channel under that id and completes it when the
//! frame with the same id arrives, so concurrent callers pipeline over one
//! socket and answers may come in any order.
//!
//! Invariants: when the socket closes or fails, the task ends and the
//! connection is marked closed. A request whose frame was written fails
//! with [`Error::Transport`] (its reply channel is dropped) and is never
//! re-sent, since it may already have run. A request whose frame was not
//! written (still queued, or its write failed, so the server never got a
//! whole frame) fails with [`Error::NotSent`]: it did not run. Answers are
//! read before queued frames are written (`biased`), so a socket that died
//! while idle is noticed before anything is sent on it. A caller that
//! times out simply stops waiting; a late answer is discarded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use shared_types::{ClientFrame, ErrorCode, Request, Response, ServerFrame, PROTOCOL_VERSION};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};

use super::Endpoint;
use crate::error::{Error, Result};

/// Why a WebSocket could not be opened.
pub(crate) enum ConnectError {
    /// The server answered the upgrade with something other than 101 or
    /// 401: it does not speak WebSocket here, so HTTP may still work.
    Unavailable(String),
    Failed(Error),
}

impl From<ConnectError> for Error {
    fn from(e: ConnectError) -> Error {
        match e {
            ConnectError::Unavailable(why) => Error::Transport(why),
            ConnectError::Failed(e) => e,
        }
    }
}

struct Cmd {
    id: u64,
    text: String,
    /// None for fire-and-forget requests (closing a prepared statement).
    reply: Option<oneshot::Sender<Outcome>>,
}

/// What a caller waiting on a reply channel learns.
enum Outcome {
    Answer(Response),
    /// The frame never (completely) reached the socket.
    NotSent,
}

/// One open WebSocket.
pub(crate) struct WsConn {
    /// Whether the client believes a transaction is open on this socket
    /// (a BEGIN statement succeeded and no COMMIT/ROLLBACK followed).
    pub in_transaction: AtomicBool,
    cmds: mpsc::UnboundedSender<Cmd>,
    next_id: AtomicU64,
    shared: Arc<Shared>,
    timeout: Duration,
}

/// State the connection task and the callers share.
#[derive(Default)]
struct Shared {
    closed: AtomicBool,
    /// Why the socket closed, for the errors of the requests it took down.
    reason: Mutex<Option<String>>,
}

/// A request encoded as a frame, ready to send.
pub(crate) struct Encoded {
    id: u64,
    pub text: String,
}

impl WsConn {
    /// Opens the socket, checks the protocol version with `hello`, and
    /// starts the connection task.
    pub async fn connect(
        endpoint: &Endpoint,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<WsConn, ConnectError> {
        let failed = |e: Error| ConnectError::Failed(e);
        let mut request = endpoint
            .ws
            .as_str()
            .into_client_request()
            .map_err(|e| failed(Error::Invalid(format!("bad WebSocket URL: {e}"))))?;
        let auth = HeaderValue::from_str(&endpoint.auth).map_err(|_| {
            failed(Error::Invalid(
                "the token is not a valid header value".into(),
            ))
        })?;
        request.headers_mut().insert("authorization", auth);
        let opened =
            tokio::time::timeout(connect_timeout, tokio_tungstenite::connect_async(request))
                .await
                .map_err(|_| failed(Error::Timeout(connect_timeout)))?;
        let (socket, _) = opened.map_err(|e| upgrade_failure(&endpoint.ws, e))?;

        let (cmds, queue) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        tokio::spawn(run(socket, queue, shared.clone()));
        let conn = WsConn {
            in_transaction: AtomicBool::new(false),
            cmds,
            next_id: AtomicU64::new(1),
            shared,
            timeout,
        };
        let hello = conn
            .request(Request::Hello {
                version: PROTOCOL_VERSION,
            })
            .await
            .map_err(failed)?;
        match hello {
            Response::Hello { version, .. } if version == PROTOCOL_VERSION => Ok(conn),
            Response::Hello { version, server } => Err(failed(Error::Protocol(format!(
                "{server} speaks protocol {version}, this client {PROTOCOL_VERSION}"
            )))),
            other => Err(failed(unexpected("hello", &other))),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Encodes a request with a fresh id (the caller checks its size).
    pub fn encode(&self, request: Request) -> Result<Encoded> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let text = serde_json::to_string(&ClientFrame { id, request })
            .map_err(|e| Error::Invalid(format!("request does not encode: {e}")))?;
        Ok(Encoded { id, text })
    }

    /// Sends an encoded request and waits for its answer; an error answer
    /// becomes `Err`.
    pub async fn send(&self, frame: Encoded) -> Result<Response> {
        let (reply, answer) = oneshot::channel();
        self.cmds
            .send(Cmd {
                id: frame.id,
                text: frame.text,
                reply: Some(reply),
            })
            .map_err(|_| Error::NotSent(self.reason()))?;
        match tokio::time::timeout(self.timeout, answer).await {
            Err(_) => Err(Error::Timeout(self.timeout)),
            Ok(Err(_)) => Err(Error::Transport(self.reason())),
            Ok(Ok(Outcome::NotSent)) => Err(Error::NotSent(self.reason())),
            Ok(Ok(Outcome::Answer(response))) => super::answer(response),
        }
    }

    pub async fn request(&self, request: Request) -> Result<Response> {
        let frame = self.encode(request)?;
        self.send(frame).await
    }

    /// Sends without waiting for the answer (used from `Drop`).
    pub fn send_nowait(&self, request: Request) {
        if let Ok(frame) = self.encode(request) {
            let _ = self.cmds.send(Cmd {
                id: frame.id,
                text: frame.text,
                reply: None,
            });
        }
    }

    fn reason(&self) -> String {
        let reason = self.shared.reason.lock().expect("not poisoned").clone();
        reason.unwrap_or_else(|| "connection closed".into())
    }
}

fn upgrade_failure(url: &str, e: tungstenite::Error) -> ConnectError {
    match e {
        tungstenite::Error::Http(response) => {
            let status = response.status().as_u16();
            let body = response.body().as_deref().unwrap_or_default();
            let wire = serde_json::from_slice::<shared_types::protocol::HttpError>(body).ok();
            match (status, wire) {
                (_, Some(h)) if h.error.code == ErrorCode::Auth => {
                    ConnectError::Failed(Error::Server(h.error))
                }
                (401, _) => ConnectError::Failed(Error::server(
                    ErrorCode::Auth,
                    "the server refused the bearer token",
                )),
                (_, Some(h)) if status != 404 && status != 426 => {
                    ConnectError::Failed(Error::Server(h.error))
                }
                _ => ConnectError::Unavailable(format!(
                    "{url} answered HTTP {status} instead of a WebSocket upgrade"
                )),
            }
        }
        other => ConnectError::Failed(Error::Transport(format!(
            "cannot connect to {url}: {other}"
        ))),
    }
}

pub(crate) fn unexpected(wanted: &str, got: &Response) -> Error {
    let kind = serde_json::to_value(got)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    Error::Protocol(format!("expected a {wanted:?} answer, got {kind:?}"))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The connection task: writes queued frames, routes answers by id, and
/// on any failure fails everything pending.
async fn run(socket: Socket, mut queue: mpsc::UnboundedReceiver<Cmd>, shared: Arc<Shared>) {
    let (mut sink, mut stream) = socket.split();
    // Ordered so that an answer without an id goes to the oldest request:
    // the server answers one connection's requests in order.
    let mut pending: BTreeMap<u64, oneshot::Sender<Outcome>> = BTreeMap::new();
    let reason = loop {
        tokio::select! {
            biased;
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    match serde_json::from_str::<ServerFrame>(text.as_str()) {
                        Ok(ServerFrame { id: Some(id), response }) => {
                            if let Some(reply) = pending.remove(&id) {
                                let _ = reply.send(Outcome::Answer(response));
                            }
                        }
                        Ok(ServerFrame { id: None, response }) => {
                            if let Some((_, reply)) = pending.pop_first() {
                                let _ = reply.send(Outcome::Answer(response));
                            }
                        }
                        Err(e) => break format!("the server sent an undecodable frame: {e}"),
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    break match frame {
                        Some(f) => format!("connection closed by the server ({}: {})", f.code, f.reason),
                        None => "connection closed by the server".into(),
                    };
                }
                Some(Ok(_)) => {} // pings are answered by tungstenite; binary frames are not ours
                Some(Err(e)) => break format!("connection failed: {e}"),
                None => break "connection closed by the server".into(),
            },
            cmd = queue.recv() => match cmd {
                Some(Cmd { id, text, reply }) => {
                    // Registered only once written: the answer cannot be
                    // read before this task loops again.
                    if let Err(e) = sink.send(Message::text(text)).await {
                        if let Some(reply) = reply {
                            let _ = reply.send(Outcome::NotSent);
                        }
                        break format!("connection failed while sending: {e}");
                    }
                    if let Some(reply) = reply {
                        pending.insert(id, reply);
                    }
                }
                None => {
                    // Every handle is gone: say goodbye politely.
                    let _ = sink.close().await;
                    break "connection closed by the client".into();
                }
            },
        }
    };
    *shared.reason.lock().expect("not poisoned") = Some(reason);
    shared.closed.store(true, Ordering::Release);
    // Dropping the reply senders fails every request in flight; queued
    // ones were never written, and closing the queue refuses new ones.
    drop(pending);
    queue.close();
    while let Ok(cmd) = queue.try_recv() {
        if let Some(reply) = cmd.reply {
            let _ = reply.send(Outcome::NotSent);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The connection task against a scripted peer, for what a real server
    //! never does on demand: answering out of order, and dying mid-request.

    use shared_types::{StatementResult, Value};
    use tokio::net::TcpListener;

    use super::*;

    /// A peer that answers `hello`, then hands each later frame to `script`.
    async fn peer<F, Fut>(script: F) -> Endpoint
    where
        F: FnOnce(Socket2) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let hello = next_frame(&mut ws).await;
            reply(
                &mut ws,
                hello.id,
                Response::Hello {
                    version: 1,
                    server: "peer".into(),
                },
            )
            .await;
            script(ws).await;
        });
        Endpoint::parse(&format!("http://{addr}/db/x"), "t").unwrap()
    }

    type Socket2 = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

    async fn next_frame(ws: &mut Socket2) -> ClientFrame {
        loop {
            match ws.next().await.unwrap().unwrap() {
                Message::Text(t) => return ClientFrame::decode(t.as_bytes()).unwrap(),
                _ => continue,
            }
        }
    }

    async fn reply(ws: &mut Socket2, id: u64, response: Response) {
        let frame = ServerFrame {
            id: Some(id),
            response,
        };
        ws.send(Message::text(serde_json::to_string(&frame).unwrap()))
            .await
            .unwrap();
    }

    fn echo(frame: &ClientFrame) -> Response {
        let Request::Query { sql, .. } = &frame.request else {
            panic!("expected a query, got {:?}", frame.request)
        };
        Response::Result(StatementResult {
            columns: vec!["sql".into()],
            rows: vec![vec![Value::Text(sql.clone())]],
            ..StatementResult::default()
        })
    }

    fn query(sql: &str) -> Request {
        Request::Query {
            sql: sql.into(),
            params: Default::default(),
        }
    }

    fn text_of(r: Result<Response>) -> String {
        match r.unwrap() {
            Response::Result(r) => match &r.rows[0][0] {
                Value::Text(t) => t.clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn answers_in_any_order_reach_their_callers() {
        let endpoint = peer(|mut ws| async move {
            let frames = [
                next_frame(&mut ws).await,
                next_frame(&mut ws).await,
                next_frame(&mut ws).await,
            ];
            for f in frames.iter().rev() {
                reply(&mut ws, f.id, echo(f)).await;
            }
            // Keep the socket open until the client is done.
            while ws.next().await.is_some() {}
        })
        .await;
        let conn = WsConn::connect(&endpoint, Duration::from_secs(5), Duration::from_secs(5))
            .await
            .ok()
            .unwrap();
        let (a, b, c) = tokio::join!(
            conn.request(query("a")),
            conn.request(query("b")),
            conn.request(query("c"))
        );
        assert_eq!([text_of(a), text_of(b), text_of(c)], ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_dying_socket_fails_pending_requests_and_stays_closed() {
        let endpoint = peer(|mut ws| async move {
            let _unanswered = next_frame(&mut ws).await;
            drop(ws); // the TCP connection drops without a close frame
        })
        .await;
        let conn = WsConn::connect(&endpoint, Duration::from_secs(5), Duration::from_secs(5))
            .await
            .ok()
            .unwrap();
        let e = conn.request(query("lost")).await.unwrap_err();
        assert!(matches!(e, Error::Transport(_)), "{e}");
        assert!(conn.is_closed());
        let e = conn.request(query("after")).await.unwrap_err();
        assert!(matches!(e, Error::NotSent(_)), "{e}");
        assert!(e.is_retryable());
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_a_late_answer_is_dropped() {
        let endpoint = peer(|mut ws| async move {
            let slow = next_frame(&mut ws).await;
            let fast = next_frame(&mut ws).await;
            reply(&mut ws, fast.id, echo(&fast)).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            reply(&mut ws, slow.id, echo(&slow)).await;
            let next = next_frame(&mut ws).await;
            reply(&mut ws, next.id, echo(&next)).await;
            while ws.next().await.is_some() {}
        })
        .await;
        let conn = WsConn::connect(
            &endpoint,
            Duration::from_secs(5),
            Duration::from_millis(150),
        )
        .await
        .ok()
        .unwrap();
        let (slow, fast) = tokio::join!(conn.request(query("slow")), conn.request(query("fast")));
        assert!(matches!(slow, Err(Error::Timeout(_))), "{slow:?}");
        assert_eq!(text_of(fast), "fast");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(text_of(conn.request(query("next")).await), "next");
    }
}
