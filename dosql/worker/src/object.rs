//! The `DoSql` Durable Object: one DoSQL database per Object, stored in the
//! Object's own SQLite storage through [`DoPageStore`] and [`DoLogStore`].
//!
//! ```text
//!   fetch(req) ──await body──> parse ──> borrow engine ──> execute ──> drop borrow ──> respond
//!                                        (no .await between borrow and drop)
//! ```
//!
//! The engine is synchronous and lives in a `RefCell`. A Durable Object runs
//! one event at a time except across `.await`, so the borrow is taken only
//! after the last `.await` of a request and released before the response:
//! requests never interleave inside the engine, and all writes of one
//! request commit as one Durable Object transaction.
//!
//! The engine opens lazily on the first request. After an `Io` or
//! `Corruption` error the engine may be poisoned, so it is dropped and the
//! next request reopens it from storage; every other error leaves it
//! serving.
//!
//! Sessions last one request: a transaction must begin and end within the
//! same request (`BEGIN; ...; COMMIT` in one body). One left open is rolled
//! back and reported as `INVALID_INPUT`. Issue 4's protocol brings
//! connection-scoped sessions.

use std::cell::RefCell;

use dosql::error::Error;
use dosql::invalid;
use dosql::mvcc::{Engine, EngineConfig};
use dosql::sql::{Database, Session, StatementResult};
use dosql::store::DEFAULT_PAGE_SIZE;
use wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, Method, Request, Response, State};

use crate::json;
use crate::store::{DoLogStore, DoPageStore, DoSqlHandle};

/// Wall time for the engine and SQL date functions: `std::time` does not
/// work on wasm32, so the clock comes from JavaScript.
fn js_now() -> u64 {
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

#[durable_object]
pub struct DoSql {
    handle: DoSqlHandle,
    db: RefCell<Option<Database>>,
}

impl DoSql {
    fn open(&self) -> Result<Database, Error> {
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

    /// Runs one request's SQL. Synchronous on purpose: see the module doc.
    fn execute(
        &self,
        sql: &str,
        params: &[dosql::sql::Value],
    ) -> Result<Vec<StatementResult>, Error> {
        let mut slot = self.db.borrow_mut();
        if slot.is_none() {
            *slot = Some(self.open()?);
        }
        let db = slot.as_mut().expect("opened above");
        let mut session = Session::new();
        let mut outcome = db.execute(&mut session, sql, params);
        if session.in_transaction() {
            let rollback = db.execute(&mut session, "ROLLBACK", &[]);
            if outcome.is_ok() {
                outcome = rollback.and(Err(invalid!(
                    "the transaction was left open at the end of the request and has been rolled back"
                )));
            }
        }
        if let Err(Error::Io(_) | Error::Corruption(_)) = outcome {
            *slot = None;
        }
        outcome
    }

    async fn sql(&self, mut req: Request) -> worker::Result<Response> {
        let body = req.bytes().await?;
        let outcome = json::parse_request(&body).and_then(|r| self.execute(&r.sql, &r.params));
        match outcome {
            Ok(results) => Response::from_json(&json::results(&results)),
            Err(e) => error_response(&e),
        }
    }
}

/// A typed error as JSON, with the HTTP status of its kind.
pub fn error_response(e: &Error) -> worker::Result<Response> {
    Ok(Response::from_json(&json::error(e))?.with_status(json::status(e)))
}

impl DurableObject for DoSql {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        // worker 0.8 hides the JavaScript storage object that
        // `transactionSync` needs; reach it through the raw state.
        let raw = state._inner();
        let storage: JsValue = raw.storage().map(Into::into).unwrap_or(JsValue::UNDEFINED);
        DoSql {
            handle: DoSqlHandle { sql, storage },
            db: RefCell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        let path = req.path();
        let mut segments = path.trim_start_matches('/').split('/');
        match (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) {
            (Some("db"), Some(_), Some("sql"), None) if req.method() == Method::Post => {
                self.sql(req).await
            }
            _ => error_response(&Error::NotFound(format!(
                "no route for {} {path}",
                req.method()
            ))),
        }
    }
}
