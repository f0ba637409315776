//! The DoSql Object's end of the link to DoLake: one outgoing WebSocket,
//! opened through the DoLake stub, carrying one batch and its reply at a
//! time (`shared_types::lake`). What to send and what a reply means is
//! [`dosql_service::ship::Shipper`]'s; this is only the socket.
//!
//! ```text
//!   exchange(text)
//!     socket? ── no ──> stub(DOLAKE, lake name).fetch(GET .../v1/ingest, Upgrade: websocket)
//!                       response.websocket().accept()
//!     listen (events) ─> send(text) ─> first message | close | error | timeout
//!     ok: keep the socket for the next exchange; otherwise close and drop it
//! ```
//!
//! Invariants: the listener is attached before the batch is sent, so the
//! reply cannot slip past it; any failure drops the socket, so a late reply
//! to a timed-out batch is never read as the reply to the next one. The
//! socket lives in a `RefCell` that is taken out before any `.await` and put
//! back after, so no borrow spans an `.await`.

use std::cell::RefCell;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use worker::{Delay, Env, Headers, Method, Request, RequestInit, WebSocket, WebsocketEvent};

/// The DoLake Durable Object binding in wrangler.toml.
pub const LAKE_BINDING: &str = "DOLAKE";

/// The variable naming the lake every database ships to.
pub const LAKE_NAME_VAR: &str = "DOLAKE_NAME";

/// The lake used when [`LAKE_NAME_VAR`] is not set.
pub const DEFAULT_LAKE: &str = "default";

/// How long a batch may wait for its reply before the link is dropped.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// The name of the lake the databases of this Worker ship to.
pub fn lake_name(env: &Env) -> String {
    env.var(LAKE_NAME_VAR)
        .map(|v| v.to_string())
        .ok()
        .filter(|n| shared_types::limits::valid_database_name(n))
        .unwrap_or_else(|| DEFAULT_LAKE.to_owned())
}

/// One Object's link; see the module doc.
#[derive(Default)]
pub struct Link {
    socket: RefCell<Option<WebSocket>>,
}

impl Link {
    /// Sends `text` and returns the reply's text.
    pub async fn exchange(&self, env: &Env, text: &str) -> worker::Result<String> {
        let taken = self.socket.borrow_mut().take();
        let ws = match taken {
            Some(ws) => ws,
            None => connect(env).await?,
        };
        let outcome = round_trip(&ws, text).await;
        match &outcome {
            Ok(_) => *self.socket.borrow_mut() = Some(ws),
            Err(_) => {
                let _ = ws.close(Some(1000), Some("dropped after a failed exchange"));
            }
        }
        outcome
    }

    /// Closes the socket, if one is open.
    pub fn close(&self) {
        if let Some(ws) = self.socket.borrow_mut().take() {
            let _ = ws.close(Some(1000), Some("closing"));
        }
    }

    pub fn is_open(&self) -> bool {
        self.socket.borrow().is_some()
    }
}

async fn connect(env: &Env) -> worker::Result<WebSocket> {
    let lake = lake_name(env);
    let stub = env
        .durable_object(LAKE_BINDING)?
        .id_from_name(&lake)?
        .get_stub()?;
    let headers = Headers::new();
    headers.set("Upgrade", "websocket")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    // The host is never resolved: a stub routes by the Object, not the URL.
    let url = format!("https://dolake.internal/lake/{lake}/v1/ingest");
    let response = stub
        .fetch_with_request(Request::new_with_init(&url, &init)?)
        .await?;
    let status = response.status_code();
    let ws = response.websocket().ok_or_else(|| {
        worker::Error::RustError(format!(
            "lake {lake} did not accept the WebSocket (HTTP {status})"
        ))
    })?;
    ws.accept()?;
    Ok(ws)
}

async fn round_trip(ws: &WebSocket, text: &str) -> worker::Result<String> {
    let mut events = ws.events()?;
    ws.send_with_str(text)?;
    let timeout = Delay::from(REPLY_TIMEOUT);
    match select(events.next(), timeout).await {
        Either::Left((Some(Ok(WebsocketEvent::Message(m))), _)) => m.text().ok_or_else(|| {
            worker::Error::RustError("the lake answered with a binary frame".into())
        }),
        Either::Left((Some(Ok(WebsocketEvent::Close(c))), _)) => Err(worker::Error::RustError(
            format!("the lake closed the link ({}: {})", c.code(), c.reason()),
        )),
        Either::Left((Some(Err(e)), _)) => Err(e),
        Either::Left((None, _)) => Err(worker::Error::RustError("the link ended".into())),
        Either::Right(((), _)) => Err(worker::Error::RustError(format!(
            "no reply from the lake within {} s",
            REPLY_TIMEOUT.as_secs()
        ))),
    }
}
