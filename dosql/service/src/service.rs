//! The service: one database, its connections, and every request type.
//!
//! ```text
//!   Service
//!     db: Database
//!     connections: ConnId -> Connection
//!                               session        open transaction, last rowid
//!                               prepared       stmt id -> SQL and parameter names
//!                               last_active    ms of the last request
//!                               lost           error owed to the next request
//!                                              that assumed a transaction the
//!                                              server ended (idle timeout, reopen)
//! ```
//!
//! A pipeline or a batch over HTTP runs on a connection opened for it and
//! closed after it, so a transaction it leaves open is rolled back.
//!
//! Requests that assume the transaction (`exec`, `query`, `execute`,
//! `batch`, `commit`) are the ones that receive a lost transaction's error;
//! `rollback` then succeeds (what it asked for has happened) and `begin`
//! simply starts afresh. Others (`ping`, `schema`, `prepare`, ...) leave
//! the error for the next request that assumes the transaction.

use std::collections::{BTreeMap, HashMap};

use dosql::sql::{Database, Session};
use shared_types::limits::{
    MAX_PREPARED_PER_CONNECTION, MAX_RESULT_BYTES, TRANSACTION_IDLE_TIMEOUT_MS,
};
use shared_types::{
    BatchRequest, BatchResult, BeginMode, ClientFrame, ErrorCode, PipelineRequest,
    PipelineResponse, Prepared, Request, Response, ServerFrame, Statement, StatementResult,
    WireError, PROTOCOL_VERSION,
};

use crate::bind::{self, invalid, limit, wire_error};
use crate::cdc;
use crate::schema;
use crate::script::{exec, execute};

/// Names one connection of a [`Service`]; valid until it is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

impl ConnId {
    /// The id as a number, for transports that must store it outside the
    /// process (a Durable Object's WebSocket attachment).
    pub fn raw(self) -> u64 {
        self.0
    }

    /// The id stored by [`ConnId::raw`]; naming a connection that is not
    /// open is harmless (requests on it fail with `INTERNAL`).
    pub fn from_raw(raw: u64) -> ConnId {
        ConnId(raw)
    }
}

struct PreparedStmt {
    sql: String,
    names: Vec<Vec<Option<String>>>,
}

struct Connection {
    session: Session,
    prepared: BTreeMap<u64, PreparedStmt>,
    next_stmt: u64,
    last_active_ms: u64,
    lost: Option<WireError>,
}

/// Name of the savepoint a transactional batch uses inside a transaction.
const BATCH_SAVEPOINT: &str = "dosql_batch";

/// One database served to many connections.
pub struct Service {
    db: Database,
    connections: HashMap<ConnId, Connection>,
    next_conn: u64,
    idle_timeout_ms: u64,
    /// The name change transactions carry as their shard.
    shard: String,
}

impl Service {
    pub fn new(db: Database) -> Service {
        Service {
            db,
            connections: HashMap::new(),
            next_conn: 1,
            idle_timeout_ms: TRANSACTION_IDLE_TIMEOUT_MS,
            shard: String::new(),
        }
    }

    /// Names the database in the change stream (`shard` of every change
    /// transaction; DoLake deduplicates by shard and LSN). Empty until set.
    pub fn set_shard(&mut self, shard: impl Into<String>) {
        self.shard = shard.into();
    }

    /// The shard name set by [`Service::set_shard`].
    pub fn shard(&self) -> &str {
        &self.shard
    }

    /// The database, for the owner's own use (checkpoints, statistics).
    pub fn database(&mut self) -> &mut Database {
        &mut self.db
    }

    /// True once an I/O or corruption error has poisoned the database: the
    /// owner must reopen it and hand it to [`Service::replace_database`].
    pub fn is_poisoned(&mut self) -> bool {
        self.db.engine().is_poisoned()
    }

    /// Swaps in a reopened database. Every open transaction is lost: its
    /// connection's next request that assumed it fails with `INTERNAL`.
    pub fn replace_database(&mut self, db: Database) {
        self.db = db;
        for c in self.connections.values_mut() {
            if c.session.in_transaction() {
                c.lost = Some(WireError::new(
                    ErrorCode::Internal,
                    "the transaction was lost when the database was reopened after a storage failure",
                ));
            }
            c.session = Session::new();
        }
    }

    /// Opens a connection (a WebSocket, or one HTTP request).
    pub fn open_connection(&mut self, now_ms: u64) -> ConnId {
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        self.connections.insert(
            id,
            Connection {
                session: Session::new(),
                prepared: BTreeMap::new(),
                next_stmt: 1,
                last_active_ms: now_ms,
                lost: None,
            },
        );
        id
    }

    /// Makes the next request of `conn` that assumes a transaction fail
    /// with `error`: its transaction was lost outside this service (a
    /// Durable Object evicted from memory while the socket stayed open).
    pub fn mark_lost(&mut self, conn: ConnId, error: WireError) {
        if let Some(c) = self.connections.get_mut(&conn) {
            c.lost = Some(error);
        }
    }

    /// Closes a connection, rolling back its open transaction.
    pub fn close_connection(&mut self, conn: ConnId) {
        if let Some(mut c) = self.connections.remove(&conn) {
            rollback(&mut self.db, &mut c.session);
        }
    }

    /// Connections currently open.
    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Connections with a transaction open.
    pub fn transaction_count(&self) -> usize {
        self.connections
            .values()
            .filter(|c| c.session.in_transaction())
            .count()
    }

    /// Whether `conn` has a transaction open.
    pub fn in_transaction(&self, conn: ConnId) -> bool {
        self.connections
            .get(&conn)
            .is_some_and(|c| c.session.in_transaction())
    }

    /// Changes the idle timeout of transactions (tests, configuration).
    pub fn set_idle_timeout(&mut self, ms: u64) {
        self.idle_timeout_ms = ms;
    }

    /// Rolls back every transaction idle for longer than the timeout;
    /// returns how many.
    pub fn expire_idle(&mut self, now_ms: u64) -> usize {
        let ids: Vec<ConnId> = self.connections.keys().copied().collect();
        ids.into_iter()
            .filter(|&id| self.expire(id, now_ms))
            .count()
    }

    /// When the next open transaction expires, if any: a Durable Object
    /// sets its alarm to this.
    pub fn next_expiry(&self) -> Option<u64> {
        self.connections
            .values()
            .filter(|c| c.session.in_transaction())
            .map(|c| c.last_active_ms.saturating_add(self.idle_timeout_ms))
            .min()
    }

    fn expire(&mut self, conn: ConnId, now_ms: u64) -> bool {
        let timeout = self.idle_timeout_ms;
        let Some(c) = self.connections.get_mut(&conn) else {
            return false;
        };
        if !c.session.in_transaction() || now_ms.saturating_sub(c.last_active_ms) <= timeout {
            return false;
        }
        rollback(&mut self.db, &mut c.session);
        c.lost = Some(WireError::new(
            ErrorCode::Timeout,
            format!("the transaction was idle for more than {timeout} ms and was rolled back"),
        ));
        true
    }

    /// Answers one request of connection `conn`.
    pub fn handle(&mut self, conn: ConnId, request: Request, now_ms: u64) -> Response {
        self.expire(conn, now_ms);
        let Some(c) = self.connections.get_mut(&conn) else {
            return Response::Error(WireError::new(
                ErrorCode::Internal,
                format!("connection {} is not open", conn.0),
            ));
        };
        let response = match bind::check_request(&request) {
            Ok(()) => dispatch(&mut self.db, &self.shard, c, request),
            Err(e) => Response::Error(e),
        };
        c.last_active_ms = now_ms;
        bind::within(response, MAX_RESULT_BYTES)
    }

    /// Answers one WebSocket text frame; a frame that does not decode is
    /// answered with its id when it has a readable one.
    pub fn handle_frame(&mut self, conn: ConnId, text: &[u8], now_ms: u64) -> ServerFrame {
        match crate::transport::decode_frame(text) {
            Ok(ClientFrame { id, request }) => ServerFrame {
                id: Some(id),
                response: self.handle(conn, request, now_ms),
            },
            Err((id, e)) => ServerFrame {
                id,
                response: Response::Error(e),
            },
        }
    }

    /// Runs a pipeline on a connection of its own; a transaction left open
    /// is rolled back. Every request gets a response, failed or not.
    pub fn pipeline(
        &mut self,
        pipeline: PipelineRequest,
        now_ms: u64,
    ) -> Result<PipelineResponse, WireError> {
        bind::check_count(pipeline.requests.len(), "requests in a pipeline")?;
        let conn = self.open_connection(now_ms);
        let mut budget = MAX_RESULT_BYTES;
        let mut responses = Vec::with_capacity(pipeline.requests.len());
        for request in pipeline.requests {
            let response = bind::within(self.handle(conn, request, now_ms), budget);
            budget = budget.saturating_sub(bind::encoded_len(&response));
            responses.push(response);
        }
        self.close_connection(conn);
        Ok(PipelineResponse { responses })
    }

    /// Runs a batch on a connection of its own.
    pub fn batch(&mut self, batch: BatchRequest, now_ms: u64) -> Result<BatchResult, WireError> {
        let conn = self.open_connection(now_ms);
        let request = Request::Batch {
            statements: batch.statements,
            transactional: batch.transactional,
        };
        let response = self.handle(conn, request, now_ms);
        self.close_connection(conn);
        match response {
            Response::Results { results } => Ok(BatchResult { results }),
            Response::Error(e) => Err(e),
            other => Err(WireError::new(
                ErrorCode::Internal,
                format!("a batch answered {other:?}"),
            )),
        }
    }
}

/// Rolls back `session`'s transaction, if any. A failure here means the
/// engine is poisoned, which the owner learns from `is_poisoned`; the
/// transaction is gone either way.
fn rollback(db: &mut Database, session: &mut Session) {
    if session.in_transaction() {
        let _ = db.execute(session, "ROLLBACK", &[]);
    }
}

fn ok(c: &Connection) -> Response {
    Response::Ok {
        in_transaction: c.session.in_transaction(),
    }
}

fn dispatch(db: &mut Database, shard: &str, c: &mut Connection, request: Request) -> Response {
    if let Some(lost) = c.lost.take() {
        match request {
            Request::Exec { .. }
            | Request::Query { .. }
            | Request::Execute { .. }
            | Request::Batch { .. }
            | Request::Commit => return Response::Error(lost),
            Request::Rollback => return ok(c),
            Request::Begin { .. } => {}
            _ => c.lost = Some(lost),
        }
    }
    match run(db, shard, c, request) {
        Ok(response) => response,
        Err(e) => Response::Error(e),
    }
}

fn run(
    db: &mut Database,
    shard: &str,
    c: &mut Connection,
    request: Request,
) -> Result<Response, WireError> {
    Ok(match request {
        Request::Hello { version } => {
            if version != PROTOCOL_VERSION {
                return Err(invalid(format!(
                    "protocol version {version} is not supported; this server speaks {PROTOCOL_VERSION}"
                )));
            }
            Response::Hello {
                version: PROTOCOL_VERSION,
                server: concat!("dosql/", env!("CARGO_PKG_VERSION")).into(),
            }
        }
        Request::Ping => Response::Pong,
        Request::Exec { sql, params } => Response::Results {
            results: exec(db, &mut c.session, &sql, &params)?,
        },
        Request::Query { sql, params } => {
            let names = one_statement(db, &sql)?;
            Response::Result(single(execute(db, &mut c.session, &sql, &names, &params)?)?)
        }
        Request::Prepare { sql } => {
            let names = one_statement(db, &sql)?;
            if c.prepared.len() >= MAX_PREPARED_PER_CONNECTION {
                return Err(limit(format!(
                    "a connection may hold {MAX_PREPARED_PER_CONNECTION} prepared statements; close some"
                )));
            }
            let columns = db
                .describe(&c.session, &sql)
                .map_err(|e| wire_error(&e))?
                .pop()
                .unwrap_or_default();
            let stmt = c.next_stmt;
            c.next_stmt += 1;
            let param_names = names[0].clone();
            c.prepared.insert(stmt, PreparedStmt { sql, names });
            Response::Prepared(Prepared {
                stmt,
                params: param_names.len() as u32,
                param_names,
                columns,
            })
        }
        Request::Execute { stmt, params } => {
            let p = c.prepared.get(&stmt).ok_or_else(|| not_prepared(stmt))?;
            Response::Result(single(execute(
                db,
                &mut c.session,
                &p.sql,
                &p.names,
                &params,
            )?)?)
        }
        Request::Close { stmt } => {
            c.prepared.remove(&stmt).ok_or_else(|| not_prepared(stmt))?;
            ok(c)
        }
        Request::Batch {
            statements,
            transactional,
        } => Response::Results {
            results: batch(db, &mut c.session, &statements, transactional)?,
        },
        Request::Begin { mode } => {
            let sql = match mode {
                BeginMode::Deferred => "BEGIN DEFERRED",
                BeginMode::Immediate => "BEGIN IMMEDIATE",
            };
            control(db, &mut c.session, sql)?;
            ok(c)
        }
        Request::Commit => {
            control(db, &mut c.session, "COMMIT")?;
            ok(c)
        }
        Request::Rollback => {
            control(db, &mut c.session, "ROLLBACK")?;
            ok(c)
        }
        Request::Schema => Response::Schema(schema::info(db).map_err(|e| wire_error(&e))?),
        Request::CreateSlot { slot } => cdc::create_slot(db, &slot)?,
        Request::DropSlot { slot } => {
            db.drop_slot(&slot).map_err(|e| wire_error(&e))?;
            ok(c)
        }
        Request::ListSlots => cdc::list_slots(db),
        Request::ReadChanges {
            slot,
            from_lsn,
            filter,
            max_txns,
            max_bytes,
        } => cdc::read_changes(
            db,
            shard,
            cdc::ReadRequest {
                slot,
                from_lsn,
                filter,
                max_txns,
                max_bytes,
            },
        )?,
        Request::AckSlot { slot, lsn } => {
            db.ack_slot(&slot, lsn).map_err(|e| wire_error(&e))?;
            ok(c)
        }
    })
}

fn not_prepared(stmt: u64) -> WireError {
    WireError::new(
        ErrorCode::NotFound,
        format!("no prepared statement {stmt} on this connection"),
    )
}

fn control(db: &mut Database, session: &mut Session, sql: &str) -> Result<(), WireError> {
    db.execute(session, sql, &[])
        .map(|_| ())
        .map_err(|e| wire_error(&e))
}

/// The parameter names of `sql`, which must be exactly one statement.
fn one_statement(db: &mut Database, sql: &str) -> Result<Vec<Vec<Option<String>>>, WireError> {
    let names = db.parameter_names(sql).map_err(|e| wire_error(&e))?;
    if names.len() != 1 {
        return Err(invalid(format!(
            "expected exactly one SQL statement, found {}; use exec for scripts",
            names.len()
        )));
    }
    Ok(names)
}

fn single(mut results: Vec<StatementResult>) -> Result<StatementResult, WireError> {
    results
        .pop()
        .ok_or_else(|| WireError::new(ErrorCode::Internal, "a statement returned no result"))
}

/// Runs a batch. Transactional: inside BEGIN..COMMIT, or inside a
/// savepoint when the connection already has a transaction open, and
/// undone on the first error. Otherwise each statement commits on its own
/// and the first error stops the batch. Errors name the failing statement.
fn batch(
    db: &mut Database,
    session: &mut Session,
    statements: &[Statement],
    transactional: bool,
) -> Result<Vec<StatementResult>, WireError> {
    let nested = session.in_transaction();
    if transactional {
        let begin = if nested {
            format!("SAVEPOINT {BATCH_SAVEPOINT}")
        } else {
            "BEGIN".to_string()
        };
        control(db, session, &begin)?;
    }
    let mut results = Vec::with_capacity(statements.len());
    for (i, s) in statements.iter().enumerate() {
        match exec(db, session, &s.sql, &s.params) {
            Ok(r) => results.extend(r),
            Err(e) => {
                if transactional {
                    undo_batch(db, session, nested);
                }
                return Err(e.at_statement(i));
            }
        }
    }
    if transactional {
        let end = if nested {
            format!("RELEASE {BATCH_SAVEPOINT}")
        } else {
            "COMMIT".to_string()
        };
        if let Err(e) = control(db, session, &end) {
            // A failed commit has already rolled the transaction back.
            undo_batch(db, session, nested);
            return Err(e);
        }
    }
    Ok(results)
}

fn undo_batch(db: &mut Database, session: &mut Session, nested: bool) {
    if nested {
        let undo = format!("ROLLBACK TO {BATCH_SAVEPOINT}; RELEASE {BATCH_SAVEPOINT}");
        let _ = db.execute(session, &undo, &[]);
    } else {
        rollback(db, session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_types::{Params, Value};

    fn query(sql: &str) -> Request {
        Request::Query {
            sql: sql.into(),
            params: Params::default(),
        }
    }

    fn begin() -> Request {
        Request::Begin {
            mode: BeginMode::Deferred,
        }
    }

    #[test]
    fn a_transaction_lost_elsewhere_fails_the_request_that_assumes_it() {
        let mut svc = Service::new(Database::open_memory().unwrap());
        let a = svc.open_connection(0);
        assert_eq!(ConnId::from_raw(a.raw()), a);
        svc.mark_lost(a, WireError::new(ErrorCode::Timeout, "evicted"));
        assert_eq!(svc.handle(a, Request::Ping, 1), Response::Pong);
        let Response::Error(e) = svc.handle(a, Request::Commit, 2) else {
            panic!("commit of a lost transaction must fail")
        };
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::Timeout, "evicted")
        );
        assert!(matches!(
            svc.handle(a, query("SELECT 1"), 3),
            Response::Result(_)
        ));
        svc.mark_lost(
            ConnId::from_raw(999),
            WireError::new(ErrorCode::Timeout, "x"),
        );
    }

    #[test]
    fn idle_transactions_expire_and_the_next_request_times_out() {
        let mut svc = Service::new(Database::open_memory().unwrap());
        let a = svc.open_connection(0);
        svc.handle(a, query("CREATE TABLE t(x)"), 0);
        svc.handle(a, begin(), 0);
        svc.handle(a, query("INSERT INTO t VALUES (1)"), 10);
        assert_eq!(svc.next_expiry(), Some(10 + TRANSACTION_IDLE_TIMEOUT_MS));
        assert_eq!(svc.expire_idle(10 + TRANSACTION_IDLE_TIMEOUT_MS), 0);
        assert_eq!(svc.expire_idle(11 + TRANSACTION_IDLE_TIMEOUT_MS), 1);
        assert!(!svc.in_transaction(a));
        assert_eq!(svc.next_expiry(), None);
        // Not assuming the transaction: the error waits.
        assert_eq!(svc.handle(a, Request::Ping, 50_000), Response::Pong);
        let r = svc.handle(a, Request::Commit, 50_000);
        assert_eq!(r.error().unwrap().code, ErrorCode::Timeout);
        // Owed once only; the insert was rolled back.
        let r = svc.handle(a, query("SELECT count(*) FROM t"), 50_000);
        let Response::Result(r) = r else {
            panic!("{r:?}")
        };
        assert_eq!(r.rows, vec![vec![Value::Integer(0)]]);
    }

    #[test]
    fn expiry_is_also_noticed_by_the_next_request() {
        let mut svc = Service::new(Database::open_memory().unwrap());
        svc.set_idle_timeout(100);
        let a = svc.open_connection(0);
        svc.handle(
            a,
            Request::Begin {
                mode: BeginMode::Immediate,
            },
            0,
        );
        let r = svc.handle(a, query("SELECT 1"), 101);
        assert_eq!(r.error().unwrap().code, ErrorCode::Timeout);
        // A rollback after a lost transaction succeeds.
        svc.handle(
            a,
            Request::Begin {
                mode: BeginMode::Deferred,
            },
            200,
        );
        svc.expire_idle(301);
        let r = svc.handle(a, Request::Rollback, 302);
        assert_eq!(
            r,
            Response::Ok {
                in_transaction: false
            }
        );
    }

    #[test]
    fn closing_a_connection_rolls_back() {
        let mut svc = Service::new(Database::open_memory().unwrap());
        let a = svc.open_connection(0);
        svc.handle(a, query("CREATE TABLE t(x)"), 0);
        svc.handle(a, begin(), 0);
        svc.handle(a, query("INSERT INTO t VALUES (1)"), 0);
        assert_eq!(svc.transaction_count(), 1);
        svc.close_connection(a);
        assert_eq!((svc.connection_count(), svc.transaction_count()), (0, 0));
        let b = svc.open_connection(0);
        let Response::Result(r) = svc.handle(b, query("SELECT count(*) FROM t"), 0) else {
            panic!()
        };
        assert_eq!(r.rows, vec![vec![Value::Integer(0)]]);
        let r = svc.handle(a, Request::Ping, 0);
        assert_eq!(r.error().unwrap().code, ErrorCode::Internal);
    }
}
