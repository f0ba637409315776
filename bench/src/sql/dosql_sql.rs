//! The DoSQL side of the SQL workloads: `dosql::sql::Database` over an
//! engine in a temp dir, opened exactly as the storage workloads open it
//! (`SyncMode::Normal`, the same page-cache budget, transaction size limit
//! lifted for the one-transaction load), through `Database::open`.
//!
//! Every statement goes through `Database::execute` with its SQL text; the
//! statement cache keyed by that text makes every repetition parse-free.
//! Parameter vectors are built once per workload and overwritten in place
//! (the `v` string keeps its allocation), so the harness adds no
//! allocation per row; what `execute` allocates (its result vectors, the
//! rows it returns) is part of DoSQL's cost.

use std::path::{Path, PathBuf};

use dosql::mvcc::{Engine, EngineConfig, SyncMode};
use dosql::sql::{Database, Session, StatementResult, Value};

use super::{group_name, SqlData, SqlStore, ALL_FROM, GROUPS, INSERT, INSERT_G, JOIN, POINT};
use super::{RANGE, SCHEMA, UPDATE};
use crate::kv::{dir_bytes, EngineKind, Result};
use crate::kv::{BoxError, StoreOptions};

/// Rows per chunk of the verification read.
const VERIFY_CHUNK: i64 = 10_000;

/// The SQL tables in a DoSQL database.
pub struct DosqlSql {
    db: Database,
    session: Session,
    dir: PathBuf,
}

fn int(v: &Value) -> Result<i64> {
    match v {
        Value::Integer(i) => Ok(*i),
        other => Err(format!("DoSQL returned {other:?} where an integer was expected").into()),
    }
}

fn text(v: &Value) -> Result<&[u8]> {
    match v {
        Value::Text(s) => Ok(s.as_bytes()),
        other => Err(format!("DoSQL returned {other:?} where text was expected").into()),
    }
}

/// The single result of a one-statement `execute`.
fn one(mut results: Vec<StatementResult>) -> Result<StatementResult> {
    match results.pop() {
        Some(r) if results.is_empty() => Ok(r),
        _ => Err(BoxError::from("DoSQL returned other than one result")),
    }
}

impl DosqlSql {
    /// Opens a new database in `dir`, creates the schema and loads `g`.
    pub fn create(dir: &Path, opts: StoreOptions) -> Result<DosqlSql> {
        let config = EngineConfig {
            cache_bytes: opts.cache_bytes,
            sync: SyncMode::Normal,
            max_txn_bytes: u64::MAX,
            ..EngineConfig::default()
        };
        let engine = Engine::open_dir(dir, opts.page_size, config)?;
        let mut s = DosqlSql {
            db: Database::open(engine)?,
            session: Session::new(),
            dir: dir.to_path_buf(),
        };
        s.exec(SCHEMA, &[])?;
        s.exec("BEGIN", &[])?;
        for g in 0..GROUPS {
            s.exec(
                INSERT_G,
                &[Value::Integer(g as i64), Value::Text(group_name(g))],
            )?;
        }
        s.exec("COMMIT", &[])?;
        Ok(s)
    }

    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<Vec<StatementResult>> {
        Ok(self.db.execute(&mut self.session, sql, params)?)
    }
}

/// Overwrites the text parameter in place, keeping its allocation.
fn set_v(param: &mut Value, data: &SqlData, id: u64, gen: u32) {
    if !matches!(param, Value::Text(_)) {
        *param = Value::Text(String::with_capacity(32));
    }
    if let Value::Text(s) = param {
        s.clear();
        data.write_v(s, id, gen);
    }
}

impl SqlStore for DosqlSql {
    fn kind(&self) -> EngineKind {
        EngineKind::Dosql
    }

    fn insert(&mut self, data: &SqlData) -> Result<()> {
        let mut params = [Value::Integer(0), Value::Integer(0), Value::Null];
        self.exec("BEGIN", &[])?;
        for id in 0..data.rows() {
            params[0] = Value::Integer(id as i64);
            params[1] = Value::Integer(data.k(id) as i64);
            set_v(&mut params[2], data, id, 0);
            self.db.execute(&mut self.session, INSERT, &params)?;
        }
        self.exec("COMMIT", &[])?;
        Ok(())
    }

    fn point(&mut self, ids: &[u64], visit: &mut dyn FnMut(u64, Option<&[u8]>)) -> Result<()> {
        let mut params = [Value::Integer(0)];
        self.exec("BEGIN", &[])?;
        for &id in ids {
            params[0] = Value::Integer(id as i64);
            let r = one(self.db.execute(&mut self.session, POINT, &params)?)?;
            match r.rows.first() {
                None => visit(id, None),
                Some(row) => visit(id, Some(text(&row[0])?)),
            }
        }
        self.exec("COMMIT", &[])?;
        Ok(())
    }

    fn range(
        &mut self,
        starts: &[u64],
        width: u64,
        visit: &mut dyn FnMut(usize, i64, &[u8]),
    ) -> Result<()> {
        let mut params = [Value::Integer(0), Value::Integer(0)];
        self.exec("BEGIN", &[])?;
        for (i, &s) in starts.iter().enumerate() {
            params[0] = Value::Integer(s as i64);
            params[1] = Value::Integer((s + width - 1) as i64);
            let r = one(self.db.execute(&mut self.session, RANGE, &params)?)?;
            for row in &r.rows {
                visit(i, int(&row[0])?, text(&row[1])?);
            }
        }
        self.exec("COMMIT", &[])?;
        Ok(())
    }

    fn join(&mut self, reps: u64, visit: &mut dyn FnMut(u64, &str, i64, i64)) -> Result<()> {
        for rep in 0..reps {
            let r = one(self.db.execute(&mut self.session, JOIN, &[])?)?;
            for row in &r.rows {
                let name = std::str::from_utf8(text(&row[0])?)?;
                visit(rep, name, int(&row[1])?, int(&row[2])?);
            }
        }
        Ok(())
    }

    fn update(&mut self, data: &SqlData) -> Result<u64> {
        let mut params = [Value::Null, Value::Integer(0)];
        let mut changed = 0;
        for (t, ids) in data.update_ids.chunks(data.updates_per_txn).enumerate() {
            self.exec("BEGIN", &[])?;
            for (j, &id) in ids.iter().enumerate() {
                let gen = SqlData::update_gen(t * data.updates_per_txn + j);
                set_v(&mut params[0], data, id, gen);
                params[1] = Value::Integer(id as i64);
                changed += one(self.db.execute(&mut self.session, UPDATE, &params)?)?.rows_affected;
            }
            self.exec("COMMIT", &[])?;
        }
        Ok(changed)
    }

    fn checkpoint(&mut self) -> Result<()> {
        self.db.engine().checkpoint()?;
        Ok(())
    }

    fn for_each_row(&mut self, visit: &mut dyn FnMut(i64, i64, &[u8])) -> Result<()> {
        // Chunked: one `execute` materialises its whole result.
        let mut from = 0i64;
        loop {
            let params = [Value::Integer(from), Value::Integer(VERIFY_CHUNK)];
            let r = one(self.exec(ALL_FROM, &params)?)?;
            for row in &r.rows {
                let id = int(&row[0])?;
                visit(id, int(&row[1])?, text(&row[2])?);
                from = id + 1;
            }
            if (r.rows.len() as i64) < VERIFY_CHUNK {
                return Ok(());
            }
        }
    }

    fn disk_bytes(&self) -> u64 {
        dir_bytes(&self.dir)
    }
}
