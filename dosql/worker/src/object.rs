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
//! Change shipping (docs/cdc.md, "Shipping to DoLake"): the database is a
//! shard named after the Object; it keeps the replication slot
//! [`dosql_service::ship::LAKE_SLOT`] and ships what it commits to the
//! DoLake Object over [`Link`]. A request that commits sets the alarm to
//! now; the alarm ships batch after batch until the lake has everything,
//! a nack (alarm at `retry_after`) or a dead link (alarm after a backoff).
//! Shipping never runs inside a request, so the database serves while the
//! lake is down; the slot holds the WAL meanwhile, up to its cap.
//!
//! Each hibernatable socket carries an attachment `{instance, conn, txn}`:
//! `instance` is a random number drawn when this in-memory Object was
//! created, so a socket that outlived an eviction is recognised and given
//! a new connection (with the lost-transaction error when `txn` was set).

use std::cell::{Cell, RefCell};

use dosql::error::Error;
use dosql::mvcc::{Engine, EngineConfig};
use dosql::sql::Database;
use dosql::store::DEFAULT_PAGE_SIZE;
use dosql_service::ship::{Outcome, Shipper};
use dosql_service::{transport, ConnId, Service};
use serde::{Deserialize, Serialize};
use shared_types::{limits, ErrorCode, WireError};
use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
};

use crate::link::Link;
use crate::store::{DoLogStore, DoPageStore, DoSqlHandle};

/// Longest wait before shipping again after the link failed.
const MAX_SHIP_BACKOFF_MS: u64 = 30_000;

/// Wall time for the engine, SQL date functions and idle timeouts:
/// `std::time` does not work on wasm32, so the clock comes from JavaScript.
pub fn js_now() -> u64 {
    js_sys::Date::now() as u64
}

/// Sets the Object's alarm to the earlier of `a` and `b` (Unix ms), unless
/// an alarm at or before it is already set; nothing when both are `None`.
/// Both Objects keep one alarm for several timers this way.
pub async fn arm_alarm_at(state: &State, a: Option<u64>, b: Option<u64>) -> worker::Result<()> {
    let next = match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(at) = next {
        let storage = state.storage();
        let current = storage.get_alarm().await?;
        if current.is_none_or(|c| c as u64 > at) {
            // An i64 is an offset from now for `set_alarm`.
            let offset = at.saturating_sub(js_now()).max(1);
            storage.set_alarm(offset as i64).await?;
        }
    }
    Ok(())
}

/// Completes the closing handshake the peer started, echoing its code when
/// it may be sent (1005 and 1006 are never sent); the peer may be gone.
pub fn complete_close(ws: &WebSocket, code: usize, reason: String) {
    let code = u16::try_from(code)
        .ok()
        .filter(|c| *c >= 1000 && *c != 1005 && *c != 1006);
    let _ = ws.close(code.or(Some(1000)), Some(reason));
}

/// `None` when `req` asks for a WebSocket upgrade; otherwise the typed
/// error to answer with.
pub fn require_websocket(req: &Request) -> worker::Result<Option<Response>> {
    let upgrade = req.headers().get("Upgrade")?;
    if upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Ok(None);
    }
    error_response(&WireError::new(
        ErrorCode::InvalidRequest,
        "expected a WebSocket upgrade (Upgrade: websocket)",
    ))
    .map(Some)
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
    env: Env,
    handle: DoSqlHandle,
    /// Random per in-memory instance; see the module doc.
    instance: u64,
    service: RefCell<Option<Service>>,
    /// The shard name: this Object's database name, learnt from the first
    /// request's path and kept in storage for alarms after a restart.
    shard: RefCell<Option<String>>,
    shipper: RefCell<Shipper>,
    link: Link,
    /// When shipping should run next (the alarm covers it).
    ship_at: Cell<Option<u64>>,
    /// A shipping run is under way (it spans `.await`s).
    shipping: Cell<bool>,
    /// Consecutive failed exchanges, for the backoff.
    ship_failures: Cell<u32>,
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
        // Changes committed from now on are shipped to the lake.
        Shipper::ensure_slot(&mut db).map_err(|e| Error::Io(std::io::Error::other(e.message)))?;
        Ok(db)
    }

    /// Runs `f` on the service, opening (or reopening a poisoned) database
    /// first. Synchronous on purpose: see the module doc.
    fn with_service<T>(&self, f: impl FnOnce(&mut Service) -> T) -> Result<T, WireError> {
        let mut slot = self.service.borrow_mut();
        match slot.as_mut() {
            None => {
                let mut service = Service::new(self.open_database().map_err(internal)?);
                if let Some(shard) = self.shard.borrow().as_deref() {
                    service.set_shard(shard);
                }
                *slot = Some(service);
            }
            Some(s) => {
                if s.is_poisoned() {
                    s.replace_database(self.open_database().map_err(internal)?);
                }
            }
        }
        let service = slot.as_mut().expect("opened above");
        let before = service.database().engine().stats().last_lsn;
        let out = f(service);
        // While shipping runs, its own slot acks commit too; its loop reads
        // the slot again after each of them, which covers any request that
        // committed meanwhile.
        if !self.shipping.get() && service.database().engine().stats().last_lsn != before {
            // Something committed: ship it as soon as this request is done.
            let now = js_now();
            if self.ship_at.get().is_none_or(|at| at > now) {
                self.ship_at.set(Some(now));
            }
        }
        Ok(out)
    }

    /// Learns the shard name from a `/db/{name}/...` path, storing it the
    /// first time so that an alarm after a restart knows it too.
    fn learn_shard(&self, name: &str) -> worker::Result<()> {
        if self.shard.borrow().as_deref() == Some(name) {
            return Ok(());
        }
        if !limits::valid_database_name(name) {
            return Ok(());
        }
        let stored = self
            .handle
            .setting("shard")
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        if stored.as_deref() != Some(name) {
            self.handle
                .set_setting("shard", name)
                .map_err(|e| worker::Error::RustError(e.to_string()))?;
        }
        *self.shard.borrow_mut() = Some(name.to_owned());
        if let Some(s) = self.service.borrow_mut().as_mut() {
            s.set_shard(name);
        }
        Ok(())
    }

    /// The shard name after a restart that began with an alarm.
    fn recall_shard(&self) {
        if self.shard.borrow().is_some() {
            return;
        }
        if let Ok(Some(name)) = self.handle.setting("shard") {
            *self.shard.borrow_mut() = Some(name.clone());
            if let Some(s) = self.service.borrow_mut().as_mut() {
                s.set_shard(name);
            }
        }
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
        if let Some(refused) = require_websocket(req)? {
            return Ok(refused);
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

    /// Arms the alarm for the next idle-transaction expiry or shipping
    /// run, whichever comes first.
    async fn arm_alarm(&self) -> worker::Result<()> {
        let expiry = self
            .service
            .borrow()
            .as_ref()
            .and_then(Service::next_expiry);
        let ship = self.ship_at.get().filter(|_| !self.shipping.get());
        arm_alarm_at(&self.state, expiry, ship).await
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
    fn new(state: State, env: Env) -> Self {
        let handle = DoSqlHandle::of(&state);
        // 53 random bits are plenty to tell instances apart.
        let instance = (js_sys::Math::random() * (1u64 << 53) as f64) as u64;
        DoSql {
            state,
            env,
            handle,
            instance,
            service: RefCell::new(None),
            shard: RefCell::new(None),
            shipper: RefCell::new(Shipper::new()),
            link: Link::default(),
            // After a restart, ship whatever the slot still holds.
            ship_at: Cell::new(Some(0)),
            shipping: Cell::new(false),
            ship_failures: Cell::new(0),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        let path = req.path();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if let ["db", name, ..] = segments.as_slice() {
            self.learn_shard(name)?;
        }
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
        complete_close(&ws, code, reason);
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
        if self.ship_at.get().is_some_and(|at| at <= now) {
            self.ship().await;
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
            "shipping": {
                "shard": self.shard.borrow().clone(),
                "link_open": self.link.is_open(),
                "acked_batches": self.shipper.borrow().acked_batches,
                "parts_sent": self.shipper.borrow().parts_sent,
                "next_at": self.ship_at.get(),
                "failures": self.ship_failures.get(),
                "stopped": self.shipper.borrow().stopped().cloned(),
            },
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

impl DoSql {
    /// Ships batch after batch until the lake has everything, then leaves
    /// `ship_at` at the next try (a nack's `retry_after`, a backoff after a
    /// failure) or `None`. See the module doc.
    async fn ship(&self) {
        if self.shipping.replace(true) {
            return;
        }
        self.recall_shard();
        self.ship_at.set(None);
        loop {
            let frame = self.with_service(|s| {
                let shard = s.shard().to_owned();
                self.shipper.borrow_mut().next_frame(s.database(), &shard)
            });
            let frame = match frame {
                Ok(Ok(Some(frame))) => frame,
                Ok(Ok(None)) => break,
                Ok(Err(e)) | Err(e) => {
                    worker::console_error!("shipping changes: {}", e.message);
                    break;
                }
            };
            let reply = match self.link.exchange(&self.env, &frame).await {
                Ok(text) => serde_json::from_str::<shared_types::lake::LakeFrame>(&text)
                    .map_err(|e| format!("unreadable reply from the lake: {e}")),
                Err(e) => Err(e.to_string()),
            };
            let reply = match reply {
                Ok(reply) => reply,
                Err(message) => {
                    self.shipper.borrow_mut().on_link_lost();
                    self.link.close();
                    let failures = self.ship_failures.get().saturating_add(1);
                    self.ship_failures.set(failures);
                    let backoff = (500u64 << failures.min(6)).min(MAX_SHIP_BACKOFF_MS);
                    worker::console_warn!("shipping changes: {message}; retry in {backoff} ms");
                    self.ship_at.set(Some(js_now() + backoff));
                    break;
                }
            };
            self.ship_failures.set(0);
            let outcome = self.with_service(|s| {
                let shard = s.shard().to_owned();
                self.shipper
                    .borrow_mut()
                    .on_reply(s.database(), &shard, reply)
            });
            match outcome {
                Ok(Ok(Outcome::Acked { .. } | Outcome::Progress { .. })) => continue,
                Ok(Ok(Outcome::Retry { after_ms, reason })) => {
                    worker::console_warn!("the lake deferred a batch: {reason}");
                    self.ship_at.set(Some(js_now() + after_ms.max(1)));
                    break;
                }
                Ok(Ok(Outcome::Refused(e))) | Ok(Err(e)) | Err(e) => {
                    worker::console_error!("shipping stopped: {}", e.message);
                    break;
                }
            }
        }
        self.shipping.set(false);
    }
}
