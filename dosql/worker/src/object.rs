//! The `DoSql` Durable Object: one DoSQL database per Object, served over
//! protocol v1 ([`dosql_service::Service`]) on WebSocket (hibernation API)
//! and HTTP, stored in the Object's own SQLite storage through
//! [`DoPageStore`] and [`DoLogStore`].
//!
//! ```text
//!   fetch  GET  /db/{n}/v1/ws        ──> WebSocketPair, state.accept_web_socket(server)
//!          POST /db/{n}/v1/pipeline  ──> await body ─┐
//!          POST /db/{n}/v1/batch     ──> await body ─┤
//!   websocket_message(ws, text)  ────────────────────┤
//!                                                    v
//!                         borrow service ──> handle (sync) ──> drop borrow
//!                                                    │   (no .await in between)
//!                                                    v
//!                         send / respond, then (await) re-arm the idle alarm
//! ```
//!
//! Invariants:
//! * The engine is synchronous and lives in a `RefCell`; a borrow is taken
//!   only after the last `.await` before it and dropped before the next, so
//!   requests never interleave inside the engine, and all storage writes of
//!   one commit happen with no `.await` between them: the runtime commits
//!   them as one atomic batch before any response leaves the Object.
//! * Auth is the Worker's job ([`crate::fetch`]): an Object is reached only
//!   through its binding, by the authenticated router or another Worker of
//!   the same account.
//! * No transaction outlives its connection: closing a WebSocket rolls its
//!   transaction back; an idle one is rolled back by the alarm; and if the
//!   Object was evicted (hibernation, restart) while a transaction was
//!   open, the transaction is gone with the memory that held it, and the
//!   connection's next request that assumed it gets `TIMEOUT`.
//! * After an I/O or corruption error the engine is poisoned; it is
//!   reopened from storage before the next request.
//!
//! Each hibernatable socket carries an attachment `{instance, conn, txn}`:
//! `instance` is a random number drawn when this in-memory Object was
//! created, so a socket that outlived an eviction is recognised and given
//! a new connection (with the lost-transaction error when `txn` was set).

use std::cell::RefCell;

use dosql::error::Error;
use dosql::mvcc::{Engine, EngineConfig};
use dosql::sql::Database;
use dosql::store::DEFAULT_PAGE_SIZE;
use dosql_service::{transport, ConnId, Service};
use serde::{Deserialize, Serialize};
use shared_types::{limits, ErrorCode, WireError};
use wasm_bindgen::JsValue;
use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
};

use crate::store::{DoLogStore, DoPageStore, DoSqlHandle};

/// Wall time for the engine, SQL date functions and idle timeouts:
/// `std::time` does not work on wasm32, so the clock comes from JavaScript.
pub fn js_now() -> u64 {
    js_sys::Date::now() as u64
}

/// Engine settings inside an Object, which has 128 MB of memory in all.
fn engine_config() -> EngineConfig {
    EngineConfig {
        cache_bytes: 16 << 20,
        checkpoint_bytes: 8 << 20,
        max_txn_bytes: 32 << 20,
        clock: js_now,
        ..EngineConfig::default()
    }
}

/// What a hibernatable socket remembers about its connection.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Attachment {
    /// The in-memory Object instance that opened `conn`.
    instance: u64,
    conn: u64,
    /// Whether the connection had a transaction open after its last request.
    txn: bool,
}

#[durable_object]
pub struct DoSql {
    state: State,
    handle: DoSqlHandle,
    /// Random per in-memory instance; see the module doc.
    instance: u64,
    service: RefCell<Option<Service>>,
}

impl DoSql {
    fn open_database(&self) -> Result<Database, Error> {
        let pages = DoPageStore::open(self.handle.clone(), DEFAULT_PAGE_SIZE)?;
        let log = DoLogStore::open(self.handle.clone())?;
        let mut db = Database::open(Engine::open(
            Box::new(pages),
            Box::new(log),
            engine_config(),
        )?)?;
        db.set_clock(js_now);
        Ok(db)
    }

    /// Runs `f` on the service, opening (or reopening a poisoned) database
    /// first. Synchronous on purpose: see the module doc.
    fn with_service<T>(&self, f: impl FnOnce(&mut Service) -> T) -> Result<T, WireError> {
        let mut slot = self.service.borrow_mut();
        match slot.as_mut() {
            None => *slot = Some(Service::new(self.open_database().map_err(internal)?)),
            Some(s) => {
                if s.is_poisoned() {
                    s.replace_database(self.open_database().map_err(internal)?);
                }
            }
        }
        Ok(f(slot.as_mut().expect("opened above")))
    }

    /// The connection of `ws`, opening one if the socket is new to this
    /// instance (see [`Attachment`]).
    fn connection(&self, service: &mut Service, ws: &WebSocket, now: u64) -> (ConnId, Attachment) {
        let old: Option<Attachment> = ws.deserialize_attachment().ok().flatten();
        if let Some(a) = old.filter(|a| a.instance == self.instance) {
            return (ConnId::from_raw(a.conn), a);
        }
        let conn = service.open_connection(now);
        if old.is_some_and(|a| a.txn) {
            service.mark_lost(
                conn,
                WireError::new(
                    ErrorCode::Timeout,
                    "the transaction was rolled back when the database object restarted",
                ),
            );
        }
        let a = Attachment {
            instance: self.instance,
            conn: conn.raw(),
            txn: false,
        };
        (conn, a)
    }

    async fn open_websocket(&self, req: &Request) -> worker::Result<Response> {
        if !req
            .headers()
            .get("Upgrade")?
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
        {
            return error_response(&WireError::new(
                ErrorCode::InvalidRequest,
                "expected a WebSocket upgrade (Upgrade: websocket)",
            ));
        }
        let pair = WebSocketPair::new()?;
        let now = js_now();
        let conn = match self.with_service(|s| s.open_connection(now)) {
            Ok(conn) => conn,
            Err(e) => return error_response(&e),
        };
        pair.server.serialize_attachment(Attachment {
            instance: self.instance,
            conn: conn.raw(),
            txn: false,
        })?;
        self.state.accept_web_socket(&pair.server);
        Response::from_websocket(pair.client)
    }

    async fn http(&self, mut req: Request, batch: bool) -> worker::Result<Response> {
        if let Some(len) = req.headers().get("Content-Length")? {
            if len
                .parse::<u64>()
                .is_ok_and(|n| n > limits::MAX_HTTP_BODY_BYTES as u64)
            {
                return error_response(&WireError::new(
                    ErrorCode::LimitExceeded,
                    format!(
                        "a body of {len} bytes exceeds the maximum of {}",
                        limits::MAX_HTTP_BODY_BYTES
                    ),
                ));
            }
        }
        let body = req.bytes().await?;
        let now = js_now();
        let outcome = self.with_service(|s| {
            if batch {
                s.http_batch(&body, now)
            } else {
                s.http_pipeline(&body, now)
            }
        });
        match outcome {
            Ok((status, json)) => json_response(status, json),
            Err(e) => error_response(&e),
        }
    }

    /// Arms the alarm for the next idle-transaction expiry, if any.
    async fn arm_alarm(&self) -> worker::Result<()> {
        let next = self
            .service
            .borrow()
            .as_ref()
            .and_then(Service::next_expiry);
        if let Some(at) = next {
            let storage = self.state.storage();
            let current = storage.get_alarm().await?;
            if current.is_none_or(|c| c as u64 > at) {
                // An i64 is an offset from now for `set_alarm`.
                let offset = at.saturating_sub(js_now()).max(1);
                storage.set_alarm(offset as i64).await?;
            }
        }
        Ok(())
    }
}

fn internal(e: Error) -> WireError {
    WireError::new(ErrorCode::from_engine(e.code()), e.to_string())
}

fn json_response(status: u16, json: String) -> worker::Result<Response> {
    let mut r = Response::ok(json)?.with_status(status);
    r.headers_mut().set("content-type", "application/json")?;
    Ok(r)
}

/// A typed error as `{"error": {...}}`, with the HTTP status of its code.
pub fn error_response(e: &WireError) -> worker::Result<Response> {
    json_response(transport::http_status(e), transport::error_body(e))
}

impl DurableObject for DoSql {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        // worker 0.8 does not wrap `transactionSync`; the stores reach it
        // through the raw JavaScript storage object.
        let storage: JsValue = state
            .as_raw()
            .storage()
            .map(Into::into)
            .unwrap_or(JsValue::UNDEFINED);
        // 53 random bits are plenty to tell instances apart.
        let instance = (js_sys::Math::random() * (1u64 << 53) as f64) as u64;
        DoSql {
            state,
            handle: DoSqlHandle::new(sql, storage),
            instance,
            service: RefCell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        let path = req.path();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let response = match (segments.as_slice(), req.method()) {
            (["db", _, "v1", "ws"], Method::Get) => self.open_websocket(&req).await,
            (["db", _, "v1", "pipeline"], Method::Post) => self.http(req, false).await,
            (["db", _, "v1", "batch"], Method::Post) => self.http(req, true).await,
            (["db", _, "v1", "stats"], Method::Get) => self.stats(),
            _ => error_response(&WireError::new(
                ErrorCode::NotFound,
                format!("no route for {} {path}", req.method()),
            )),
        };
        self.arm_alarm().await?;
        response
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        let now = js_now();
        let text = match message {
            WebSocketIncomingMessage::String(text) => text,
            WebSocketIncomingMessage::Binary(_) => {
                return ws.send_with_str(transport::encode_frame(&transport::binary_frame_error()))
            }
        };
        let outcome = self.with_service(|s| {
            let (conn, before) = self.connection(s, &ws, now);
            let frame = s.handle_frame(conn, text.as_bytes(), now);
            let after = Attachment {
                txn: s.in_transaction(conn),
                ..before
            };
            (frame, (after != before).then_some(after))
        });
        match outcome {
            Ok((frame, changed)) => {
                if let Some(a) = changed {
                    ws.serialize_attachment(a)?;
                }
                ws.send_with_str(transport::encode_frame(&frame))?;
            }
            Err(e) => {
                let frame = shared_types::ServerFrame {
                    id: shared_types::ClientFrame::decode(text.as_bytes())
                        .ok()
                        .map(|f| f.id),
                    response: shared_types::Response::Error(e),
                };
                ws.send_with_str(transport::encode_frame(&frame))?;
            }
        }
        self.arm_alarm().await
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> worker::Result<()> {
        self.drop_socket(&ws);
        // Complete the closing handshake; the peer may already be gone.
        let code = u16::try_from(code)
            .ok()
            .filter(|c| *c >= 1000 && *c != 1005 && *c != 1006);
        let _ = ws.close(code.or(Some(1000)), Some(reason));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> worker::Result<()> {
        self.drop_socket(&ws);
        Ok(())
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let now = js_now();
        if let Some(s) = self.service.borrow_mut().as_mut() {
            s.expire_idle(now);
        }
        self.arm_alarm().await?;
        Response::ok("")
    }
}

impl DoSql {
    /// `GET /db/{name}/v1/stats`: what this in-memory instance has read
    /// and holds, for operators and for the cold-start test (pages read
    /// stay far below pages stored). It does not open the database.
    fn stats(&self) -> worker::Result<Response> {
        let (pages_stored, wal_rows) = match self.handle.stored_rows() {
            Ok(counts) => counts,
            Err(e) => return error_response(&internal(e)),
        };
        let (connections, transactions) = self
            .service
            .borrow()
            .as_ref()
            .map_or((0, 0), |s| (s.connection_count(), s.transaction_count()));
        let body = serde_json::json!({
            "open": self.service.borrow().is_some(),
            "pages_read": self.handle.pages_read.get(),
            "pages_stored": pages_stored,
            "wal_rows": wal_rows,
            "connections": connections,
            "transactions": transactions,
        });
        json_response(200, body.to_string())
    }

    /// Rolls back and forgets the connection of a closed socket.
    fn drop_socket(&self, ws: &WebSocket) {
        let a: Option<Attachment> = ws.deserialize_attachment().ok().flatten();
        if let (Some(a), Some(s)) = (
            a.filter(|a| a.instance == self.instance),
            self.service.borrow_mut().as_mut(),
        ) {
            s.close_connection(ConnId::from_raw(a.conn));
        }
    }
}
