//! The public SQL API: a [`Database`] over an MVCC [`Engine`], and
//! per-client [`Session`]s that run SQL text.
//!
//! ```text
//!   db.execute(&mut session, "stmt; stmt; ...", params)
//!     for each statement (parsed once per text, see parse.rs):
//!       BEGIN / COMMIT / ROLLBACK / SAVEPOINT / RELEASE   session state
//!       anything else:
//!         session in a transaction? -- no --> begin; run; commit (or roll back)
//!                                   -- yes -> engine savepoint; run;
//!                                             release (or roll back to it)
//! ```
//!
//! So every statement is atomic: a failing statement leaves no partial
//! effect, and inside an explicit transaction the transaction stays open.
//! Schema changes go to the transaction's working copy of the schema and
//! become the database's schema only when the transaction commits.

use std::sync::Arc;

use sqlparser::ast::Statement;

use crate::error::{Error, Result};
use crate::invalid;
use crate::mvcc::{system_clock, Engine, EngineConfig, TxnId};
use crate::sql::bind::{Binder, SessionInfo};
use crate::sql::cdc::{self, Cdc};
use crate::sql::exec::{run_query, Exec};
use crate::sql::func::FuncContext;
use crate::sql::parse::{StatementCache, MAX_PARAMS};
use crate::sql::plan::explain;
use crate::sql::prepared::{PlanCache, Prepared, Slot};
use crate::sql::schema::Schema;
use crate::sql::value::Value;
use crate::sql::write::{DmlState, Resolution};
use crate::sql::{ddl, dml, fk};
use crate::store::{MemLogStore, MemPageStore};

/// Page size of databases this module creates.
pub const PAGE_SIZE: u32 = 4096;

/// The outcome of one statement.
#[derive(Clone, Debug, Default)]
pub struct StatementResult {
    /// Result column names (empty for statements that return no rows).
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// Rows inserted, updated or deleted.
    pub rows_affected: u64,
    /// The session's last inserted rowid after the statement.
    pub last_insert_rowid: i64,
}

struct OpenTxn {
    id: TxnId,
    /// The working schema, once this transaction changed the schema.
    schema: Option<Schema>,
    /// User savepoints, innermost last, with their engine ids.
    savepoints: Vec<(String, u32)>,
    /// Started by SAVEPOINT rather than BEGIN: releasing the outermost
    /// savepoint commits.
    by_savepoint: bool,
    /// How the failure of the statement running now is undone.
    on_error: Resolution,
    /// Deferred foreign key checks, verified at COMMIT.
    deferred_fk: Vec<fk::Pending>,
}

/// Per-client state: the open transaction and its savepoints, and what
/// `last_insert_rowid()` and `changes()` report.
#[derive(Default)]
pub struct Session {
    txn: Option<OpenTxn>,
    /// PRAGMA foreign_keys (off by default, as in SQLite).
    foreign_keys: bool,
    last_insert_rowid: i64,
    changes: u64,
    total_changes: u64,
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// True while an explicit transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    fn info(&self) -> SessionInfo {
        SessionInfo {
            last_insert_rowid: self.last_insert_rowid,
            changes: self.changes,
            total_changes: self.total_changes,
        }
    }
}

/// A SQL database.
pub struct Database {
    pub(super) engine: Engine,
    /// Change capture: replication slots and the read resume point.
    pub(super) cdc: Cdc,
    schema: Arc<Schema>,
    cache: StatementCache,
    plans: PlanCache,
    clock: fn() -> u64,
    random: u64,
}

fn is_ddl(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::CreateTable(_)
            | Statement::CreateIndex(_)
            | Statement::CreateView(_)
            | Statement::CreateTrigger(_)
            | Statement::DropTrigger(_)
            | Statement::Drop { .. }
            | Statement::AlterTable(_)
    )
}

impl Database {
    /// Opens the database in `engine`, loading its schema.
    pub fn open(mut engine: Engine) -> Result<Database> {
        Cdc::hold_wal(&mut engine);
        let txn = engine.begin_read_only()?;
        let schema = Schema::load(&mut engine, txn);
        engine.rollback(txn)?;
        let schema = schema?;
        Cdc::register_existing(&mut engine, &schema)?;
        let cdc = Cdc::open(&mut engine)?;
        Ok(Database {
            engine,
            cdc,
            schema: Arc::new(schema),
            cache: StatementCache::default(),
            plans: PlanCache::default(),
            clock: system_clock,
            random: 0x5EED_D05E_u64,
        })
    }

    /// A new, empty database in memory.
    pub fn open_memory() -> Result<Database> {
        let engine = Engine::open(
            Box::new(MemPageStore::new(PAGE_SIZE)?),
            Box::new(MemLogStore::new()),
            EngineConfig::default(),
        )?;
        Database::open(engine)
    }

    /// Opens (or creates) a database stored in directory `path`.
    #[cfg(not(target_family = "wasm"))]
    pub fn open_dir(path: &std::path::Path) -> Result<Database> {
        Database::open(Engine::open_dir(path, PAGE_SIZE, EngineConfig::default())?)
    }

    /// Replaces the wall clock that date functions read for 'now'.
    pub fn set_clock(&mut self, clock: fn() -> u64) {
        self.clock = clock;
    }

    /// The engine underneath, for statistics and checkpoints.
    pub fn engine(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// The committed schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// (hits, misses) of the statement cache.
    pub fn cache_stats(&self) -> (u64, u64) {
        self.cache.stats()
    }

    /// (hits, misses) of the cache of bound statements (prepared.rs).
    pub fn plan_cache_stats(&self) -> (u64, u64) {
        self.plans.stats()
    }

    /// The result column names of each statement in `sql`, found by binding
    /// it against the session's current schema without running it (empty
    /// for statements that return no rows).
    pub fn describe(&mut self, session: &Session, sql: &str) -> Result<Vec<Vec<String>>> {
        let statements = self.cache.get(sql)?;
        let schema = session
            .txn
            .as_ref()
            .and_then(|t| t.schema.as_ref())
            .unwrap_or(&self.schema);
        statements
            .iter()
            .map(|stmt| match stmt {
                Statement::Query(q) => Ok(Binder::new(schema, session.info()).query(q)?.columns),
                _ => Ok(Vec::new()),
            })
            .collect()
    }

    /// The parameters of each statement in `sql`: for each index (`[0]` is
    /// `?1`) the parameter's name with its prefix (`:a`, `@a`, `$a`), or
    /// `None` for a positional one. Numbered in textual order like SQLite,
    /// each statement on its own; [`Database::execute`] binds
    /// `params[i]` to index `i` of every statement.
    pub fn parameter_names(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        Ok(self.cache.params(sql)?.to_vec())
    }

    /// Runs every statement in `sql`, in order, and returns one result per
    /// statement; stops at the first failing statement and returns its
    /// error (earlier statements keep their effect).
    pub fn execute(
        &mut self,
        session: &mut Session,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<StatementResult>> {
        if params.len() > MAX_PARAMS {
            return Err(Error::LimitExceeded(format!(
                "{} parameters exceed the maximum of {MAX_PARAMS}",
                params.len()
            )));
        }
        let statements = self.cache.get(sql)?;
        let mut results = Vec::with_capacity(statements.len());
        for (index, stmt) in statements.iter().enumerate() {
            let slot = Slot { sql, index };
            results.push(self.statement(session, stmt, params, slot)?);
        }
        Ok(results)
    }

    fn statement(
        &mut self,
        session: &mut Session,
        stmt: &Statement,
        params: &[Value],
        slot: Slot,
    ) -> Result<StatementResult> {
        let mut result = StatementResult::default();
        match stmt {
            Statement::StartTransaction { .. } => {
                if session.txn.is_some() {
                    return Err(invalid!("cannot start a transaction within a transaction"));
                }
                session.txn = Some(OpenTxn {
                    id: self.engine.begin()?,
                    schema: None,
                    savepoints: Vec::new(),
                    by_savepoint: false,
                    on_error: Resolution::Abort,
                    deferred_fk: Vec::new(),
                });
            }
            Statement::Commit { .. } => {
                let txn = session
                    .txn
                    .take()
                    .ok_or_else(|| invalid!("cannot commit - no transaction is active"))?;
                // A deferred constraint that fails leaves the transaction open.
                if let Err(e) = self.deferred_ok(&txn) {
                    session.txn = Some(txn);
                    return Err(e);
                }
                self.commit(txn)?;
            }
            Statement::Rollback {
                savepoint: None, ..
            } => {
                let txn = session
                    .txn
                    .take()
                    .ok_or_else(|| invalid!("cannot rollback - no transaction is active"))?;
                self.engine.rollback(txn.id)?;
            }
            Statement::Rollback {
                savepoint: Some(name),
                ..
            } => {
                let txn = session
                    .txn
                    .as_mut()
                    .ok_or_else(|| Error::NotFound(format!("no such savepoint: {}", name.value)))?;
                let pos = find_savepoint(txn, &name.value)?;
                self.engine.rollback_to(txn.id, txn.savepoints[pos].1)?;
                txn.savepoints.truncate(pos + 1);
                if txn.schema.is_some() {
                    txn.schema = Some(Schema::load(&mut self.engine, txn.id)?);
                }
            }
            Statement::Pragma { name, value, .. } => {
                result = self.pragma(session, name, value.as_ref().map(|v| &v.value))?
            }
            Statement::Savepoint { name } => {
                if session.txn.is_none() {
                    session.txn = Some(OpenTxn {
                        id: self.engine.begin()?,
                        schema: None,
                        savepoints: Vec::new(),
                        by_savepoint: true,
                        on_error: Resolution::Abort,
                        deferred_fk: Vec::new(),
                    });
                }
                let txn = session.txn.as_mut().expect("opened above");
                let id = self.engine.savepoint(txn.id)?;
                txn.savepoints.push((name.value.clone(), id));
            }
            Statement::ReleaseSavepoint { name } => {
                let txn = session
                    .txn
                    .as_mut()
                    .ok_or_else(|| Error::NotFound(format!("no such savepoint: {}", name.value)))?;
                let pos = find_savepoint(txn, &name.value)?;
                self.engine.release(txn.id, txn.savepoints[pos].1)?;
                txn.savepoints.truncate(pos);
                if txn.savepoints.is_empty() && txn.by_savepoint {
                    let txn = session.txn.take().expect("checked open");
                    if let Err(e) = self.deferred_ok(&txn) {
                        session.txn = Some(txn);
                        return Err(e);
                    }
                    self.commit(txn)?;
                }
            }
            _ => result = self.in_transaction(session, stmt, params, slot)?,
        }
        result.last_insert_rowid = session.last_insert_rowid;
        Ok(result)
    }

    /// Verifies the transaction's deferred foreign key checks.
    fn deferred_ok(&mut self, txn: &OpenTxn) -> Result<()> {
        if txn.deferred_fk.is_empty() {
            return Ok(());
        }
        let schema = txn.schema.as_ref().unwrap_or(&self.schema);
        let mut ex = Exec {
            engine: &mut self.engine,
            txn: txn.id,
            params: &[],
            func: FuncContext::new(self.clock, self.random),
            ctes: Default::default(),
            schema: Some(schema),
            dml: DmlState::default(),
        };
        fk::verify(&mut ex, &txn.deferred_fk)
    }

    /// PRAGMA: `foreign_keys` is read and set per session (a no-op inside
    /// a transaction, as in SQLite).
    fn pragma(
        &mut self,
        session: &mut Session,
        name: &sqlparser::ast::ObjectName,
        value: Option<&sqlparser::ast::Value>,
    ) -> Result<StatementResult> {
        let pragma = crate::sql::schema::object_name(name)?;
        if !pragma.eq_ignore_ascii_case("foreign_keys") {
            return Err(invalid!("unsupported PRAGMA {pragma}"));
        }
        let mut result = StatementResult::default();
        let Some(value) = value else {
            result.columns = vec!["foreign_keys".into()];
            result.rows = vec![vec![Value::Integer(i64::from(session.foreign_keys))]];
            return Ok(result);
        };
        let text = match value {
            sqlparser::ast::Value::Number(n, _) => n.clone(),
            sqlparser::ast::Value::SingleQuotedString(s)
            | sqlparser::ast::Value::DoubleQuotedString(s) => s.clone(),
            sqlparser::ast::Value::Boolean(b) => b.to_string(),
            other => other.to_string(),
        };
        let on = match text.to_ascii_lowercase().as_str() {
            "on" | "yes" | "true" => true,
            "off" | "no" | "false" => false,
            n => n
                .parse::<i64>()
                .map(|i| i != 0)
                .map_err(|_| invalid!("PRAGMA foreign_keys expects a boolean, got {text}"))?,
        };
        if session.txn.is_none() {
            session.foreign_keys = on;
        }
        Ok(result)
    }

    fn commit(&mut self, txn: OpenTxn) -> Result<()> {
        if let Some(schema) = &txn.schema {
            // Change capture resolves the trees' ids after they are gone.
            if let Err(e) = cdc::register_trees(&mut self.engine, txn.id, schema) {
                let _ = self.engine.rollback(txn.id);
                return Err(e);
            }
        }
        self.engine.commit(txn.id)?;
        if let Some(schema) = txn.schema {
            self.schema = Arc::new(schema);
        }
        self.cdc_after_commit();
        Ok(())
    }

    fn in_transaction(
        &mut self,
        session: &mut Session,
        stmt: &Statement,
        params: &[Value],
        slot: Slot,
    ) -> Result<StatementResult> {
        let read_only = matches!(stmt, Statement::Query(_) | Statement::Explain { .. });
        let info = session.info();
        let Some(mut txn) = session.txn.take() else {
            let id = if read_only {
                self.engine.begin_read_only()?
            } else {
                self.engine.begin()?
            };
            let mut txn = OpenTxn {
                id,
                schema: None,
                savepoints: Vec::new(),
                by_savepoint: false,
                on_error: Resolution::Abort,
                deferred_fk: Vec::new(),
            };
            let result = self.dispatch(session, &mut txn, stmt, params, info, slot);
            return match result {
                Ok(r) if read_only => {
                    self.engine.rollback(id)?;
                    Ok(r)
                }
                Ok(r) => match self.deferred_ok(&txn) {
                    Ok(()) => self.commit(txn).map(|_| r),
                    Err(e) => {
                        let _ = self.engine.rollback(id);
                        Err(e)
                    }
                },
                // FAIL keeps what the statement did before it failed.
                Err(e) if txn.on_error == Resolution::Fail => match self.deferred_ok(&txn) {
                    Ok(()) => self.commit(txn).and(Err(e)),
                    Err(fk) => {
                        let _ = self.engine.rollback(id);
                        Err(fk)
                    }
                },
                Err(e) => {
                    // The statement's error is what matters; a poisoned
                    // engine reports itself on the next call.
                    let _ = self.engine.rollback(id);
                    Err(e)
                }
            };
        };
        if read_only {
            // Nothing to undo: a query writes nothing, so it needs no
            // savepoint of its own.
            let result = self.dispatch(session, &mut txn, stmt, params, info, slot);
            session.txn = Some(txn);
            return result;
        }
        let sp = match self.engine.savepoint(txn.id) {
            Ok(sp) => sp,
            Err(e) => {
                session.txn = Some(txn);
                return Err(e);
            }
        };
        let saved = is_ddl(stmt).then(|| txn.schema.clone());
        txn.on_error = Resolution::Abort;
        let result = self.dispatch(session, &mut txn, stmt, params, info, slot);
        let undo = match &result {
            Ok(_) => self.engine.release(txn.id, sp),
            Err(_) if txn.on_error == Resolution::Fail => self.engine.release(txn.id, sp),
            Err(_) if txn.on_error == Resolution::Rollback => {
                // The whole transaction ends; the session is left without one.
                return match self.engine.rollback(txn.id) {
                    Ok(()) => result,
                    Err(e) => Err(e),
                };
            }
            Err(_) => {
                if let Some(schema) = saved {
                    txn.schema = schema;
                }
                self.engine
                    .rollback_to(txn.id, sp)
                    .and_then(|_| self.engine.release(txn.id, sp))
            }
        };
        session.txn = Some(txn);
        undo?;
        result
    }

    fn dispatch(
        &mut self,
        session: &mut Session,
        txn: &mut OpenTxn,
        stmt: &Statement,
        params: &[Value],
        info: SessionInfo,
        slot: Slot,
    ) -> Result<StatementResult> {
        self.random = self.random.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let Database {
            engine,
            schema: committed,
            clock,
            random,
            plans,
            ..
        } = self;
        let mut ex = Exec {
            engine,
            txn: txn.id,
            params,
            func: FuncContext::new(*clock, *random),
            ctes: Default::default(),
            schema: None,
            dml: DmlState {
                foreign_keys: session.foreign_keys,
                ..DmlState::default()
            },
        };
        let mut result = StatementResult::default();
        if is_ddl(stmt) {
            let mut working = txn
                .schema
                .take()
                .unwrap_or_else(|| committed.as_ref().clone());
            let outcome = fk::before_drop(&mut ex, &working, stmt)
                .map(|deferred| txn.deferred_fk.extend(deferred))
                .and_then(|_| ddl_statement(&mut working, &mut ex, stmt, info));
            txn.schema = Some(working);
            outcome?;
            return Ok(result);
        }
        let schema: &Schema = txn.schema.as_ref().unwrap_or(committed);
        ex.schema = Some(schema);
        let mut binder = Binder::new(schema, info);
        // Bound once per text while the committed schema stands
        // (prepared.rs); a transaction's own schema changes bypass it.
        let slot = txn.schema.is_none().then_some(slot);
        let hit = slot.is_some_and(|slot| plans.has(slot, committed));
        let owned;
        let prepared = match (hit, slot) {
            (true, Some(slot)) => plans.get(slot),
            _ => match prepare(&mut binder, stmt)? {
                Some(p) => match slot {
                    Some(slot) if binder.cacheable => Some(plans.put(slot, committed, p)),
                    _ => {
                        owned = p;
                        Some(&owned)
                    }
                },
                None => None,
            },
        };
        let outcome = match (prepared, stmt) {
            (Some(Prepared::Query(plan)), _) => {
                result.rows = run_query(plan, &mut ex, None)?;
                result.columns = plan.columns.clone();
                return Ok(result);
            }
            (Some(Prepared::Insert(plan)), _) => dml::run_insert(&mut ex, plan),
            (
                _,
                Statement::Explain {
                    query_plan: true,
                    statement,
                    ..
                },
            ) => {
                let Statement::Query(q) = statement.as_ref() else {
                    return Err(invalid!("EXPLAIN QUERY PLAN supports SELECT only"));
                };
                let plan = binder.query(q)?;
                result.columns = ["id", "parent", "notused", "detail"]
                    .map(String::from)
                    .to_vec();
                result.rows = explain(&plan)
                    .into_iter()
                    .map(|(id, parent, detail)| {
                        vec![
                            Value::Integer(id),
                            Value::Integer(parent),
                            Value::Integer(0),
                            Value::Text(detail),
                        ]
                    })
                    .collect();
                return Ok(result);
            }
            (_, Statement::Insert(ins)) => dml::insert(&mut binder, &mut ex, ins),
            (_, Statement::Update(upd)) => dml::update(&mut binder, &mut ex, upd),
            (_, Statement::Delete(del)) => dml::delete(&mut binder, &mut ex, del),
            // How the parser spells REINDEX (see parse.rs).
            (_, Statement::Vacuum(v)) if v.reindex => {
                ddl::reindex(schema, &mut ex, v.table_name.as_ref())?;
                return Ok(result);
            }
            (_, other) => return Err(invalid!("unsupported statement: {}", first_words(other))),
        };
        txn.on_error = ex.dml.on_error;
        let changes = outcome?;
        let deferred = fk::end_statement(&mut ex)?;
        txn.deferred_fk.extend(deferred);
        if let Some((columns, rows)) = changes.returning {
            result.columns = columns;
            result.rows = rows;
        }
        result.rows_affected = changes.rows;
        if let Some(rowid) = changes.last_rowid {
            session.last_insert_rowid = rowid;
        }
        session.changes = changes.rows;
        session.total_changes += changes.rows + ex.dml.trigger_changes;
        Ok(result)
    }
}

/// Binds the statements whose bound form can be cached: SELECT, and
/// INSERT into a table (not a view). None for every other statement.
fn prepare(binder: &mut Binder, stmt: &Statement) -> Result<Option<Prepared>> {
    Ok(match stmt {
        Statement::Query(q) => Some(Prepared::Query(Box::new(binder.query(q)?))),
        Statement::Insert(ins) => {
            dml::bind_insert(binder, ins)?.map(|p| Prepared::Insert(Box::new(p)))
        }
        _ => None,
    })
}

fn ddl_statement(
    schema: &mut Schema,
    ex: &mut Exec,
    stmt: &Statement,
    info: SessionInfo,
) -> Result<()> {
    match stmt {
        Statement::CreateTable(c) => ddl::create_table(schema, ex, c).map(|_| ()),
        Statement::CreateIndex(c) => ddl::create_index(schema, ex, c).map(|_| ()),
        Statement::CreateView(c) => {
            // The view must bind against the schema as it is now.
            let plan = Binder::new(schema, info).isolated_query(&c.query, true)?;
            if !c.columns.is_empty() && c.columns.len() != plan.columns.len() {
                return Err(invalid!(
                    "expected {} columns for view {} but got {}",
                    c.columns.len(),
                    c.name,
                    plan.columns.len()
                ));
            }
            ddl::create_view(schema, ex, c).map(|_| ())
        }
        Statement::CreateTrigger(c) => crate::sql::trigger::create(schema, ex, c).map(|_| ()),
        Statement::DropTrigger(d) => crate::sql::trigger::drop(schema, ex, d),
        Statement::Drop {
            object_type,
            if_exists,
            names,
            ..
        } => ddl::drop(schema, ex, object_type, *if_exists, names).map(|_| ()),
        Statement::AlterTable(a) => crate::sql::alter::alter_table(schema, ex, a),
        other => Err(invalid!("unsupported statement: {}", first_words(other))),
    }
}

fn find_savepoint(txn: &OpenTxn, name: &str) -> Result<usize> {
    txn.savepoints
        .iter()
        .rposition(|(n, _)| n.eq_ignore_ascii_case(name))
        .ok_or_else(|| Error::NotFound(format!("no such savepoint: {name}")))
}

/// The start of a statement's text, for error messages.
fn first_words(stmt: &Statement) -> String {
    let text = stmt.to_string();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
