//! A raw protocol v1 WebSocket (tokio-tungstenite), for what the client
//! never sends: malformed and binary frames, a socket dropped with a
//! transaction open, and upgrades without a valid token.
//!
//! Every receive is bounded by [`crate::STEP_TIMEOUT`].

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value as Json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

use crate::{within, Target};

/// How a WebSocket presents the token.
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    None,
    Query(&'a str),
    Header(&'a str),
}

/// One open protocol v1 WebSocket.
pub struct RawWs {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl RawWs {
    /// Opens `/db/{db}/v1/ws`; the error is the refused upgrade.
    pub async fn connect(
        target: &Target,
        db: &str,
        auth: Auth<'_>,
    ) -> Result<RawWs, tungstenite::Error> {
        let mut url = target.ws_url(db);
        if let Auth::Query(t) = auth {
            url.push_str(&format!("?token={t}"));
        }
        let mut request = url.into_client_request()?;
        if let Auth::Header(t) = auth {
            let value = format!("Bearer {t}").parse().expect("header value");
            request.headers_mut().insert("Authorization", value);
        }
        let (socket, _) = within("WebSocket upgrade", connect_async(request)).await?;
        Ok(RawWs { socket, next_id: 0 })
    }

    /// Opens a socket with the target's token.
    pub async fn open(target: &Target, db: &str) -> RawWs {
        RawWs::connect(target, db, Auth::Query(target.token()))
            .await
            .unwrap_or_else(|e| panic!("WebSocket to {db}: {e}"))
    }

    pub async fn send(&mut self, message: Message) {
        within("WebSocket send", self.socket.send(message))
            .await
            .expect("WebSocket send");
    }

    /// The next text frame, parsed.
    pub async fn recv(&mut self) -> Json {
        loop {
            let message = within("WebSocket answer", self.socket.next())
                .await
                .expect("the socket closed")
                .expect("WebSocket read");
            match message {
                Message::Text(t) => {
                    return serde_json::from_str(&t)
                        .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {t}"))
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected WebSocket message {other:?}"),
            }
        }
    }

    /// Sends a text frame and returns the answer.
    pub async fn send_text(&mut self, text: impl Into<String>) -> Json {
        self.send(Message::text(text.into())).await;
        self.recv().await
    }

    /// Sends `request` with a fresh id; checks that the answer echoes it.
    pub async fn call(&mut self, mut request: Json) -> Json {
        self.next_id += 1;
        request["id"] = json!(self.next_id);
        let r = self.send_text(request.to_string()).await;
        assert_eq!(r["id"], self.next_id, "answer to {request}: {r}");
        r
    }

    /// A `query` request.
    pub async fn query(&mut self, sql: &str) -> Json {
        self.call(json!({"type": "query", "sql": sql})).await
    }

    /// Runs `request`, asserting that it succeeded (`type` is not `error`).
    pub async fn ok(&mut self, request: Json) -> Json {
        let r = self.call(request.clone()).await;
        assert_ne!(r["type"], "error", "{request} failed: {r}");
        r
    }

    /// Closes with the WebSocket closing handshake (bounded).
    pub async fn close(mut self) {
        within("WebSocket close", self.socket.close(None))
            .await
            .expect("send close");
        // Drain until the server's close frame or the end of the stream.
        let _ = tokio::time::timeout(crate::STEP_TIMEOUT, async {
            while let Some(Ok(m)) = self.socket.next().await {
                if m.is_close() {
                    break;
                }
            }
        })
        .await;
    }

    /// Drops the TCP connection without a closing handshake.
    pub fn abort(self) {
        drop(self.socket);
    }
}
