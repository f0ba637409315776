//! The SQLite side of the SQL workloads: the same pragmas as the storage
//! workloads (WAL, `synchronous=NORMAL`, the same page-cache budget, 4 KiB
//! pages), the same schema and SQL text as DoSQL. Every statement,
//! `BEGIN` and `COMMIT` included, is prepared once per workload and
//! re-bound per operation; text is read in place through `ValueRef`.

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection};

use super::{group_name, SqlData, SqlStore, ALL_FROM, GROUPS, INSERT, INSERT_G, JOIN, POINT};
use super::{RANGE, SCHEMA, UPDATE};
use crate::kv::{dir_bytes, EngineKind, Result, StoreOptions};

/// The SQL tables in a SQLite database file.
pub struct SqliteSql {
    conn: Connection,
    dir: PathBuf,
}

fn text<'a>(v: ValueRef<'a>) -> Result<&'a [u8]> {
    match v {
        ValueRef::Text(t) => Ok(t),
        other => Err(format!(
            "SQLite returned {:?} where text was stored",
            other.data_type()
        )
        .into()),
    }
}

impl SqliteSql {
    /// Creates `dir/bench.sqlite` with the schema and `g` loaded.
    pub fn create(dir: &Path, opts: StoreOptions) -> Result<SqliteSql> {
        let conn = Connection::open(dir.join("bench.sqlite"))?;
        conn.execute_batch(&format!("PRAGMA page_size = {}", opts.page_size))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("SQLite refused WAL mode (journal_mode = {mode})").into());
        }
        let cache_kib = opts.cache_bytes.div_ceil(1024);
        conn.execute_batch(&format!(
            "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{cache_kib}; {SCHEMA};"
        ))?;
        conn.execute_batch("BEGIN")?;
        {
            let mut insert = conn.prepare(INSERT_G)?;
            for g in 0..GROUPS {
                insert.execute(params![g as i64, group_name(g)])?;
            }
        }
        conn.execute_batch("COMMIT")?;
        Ok(SqliteSql {
            conn,
            dir: dir.to_path_buf(),
        })
    }
}

impl SqlStore for SqliteSql {
    fn kind(&self) -> EngineKind {
        EngineKind::Sqlite
    }

    fn insert(&mut self, data: &SqlData) -> Result<()> {
        let mut begin = self.conn.prepare_cached("BEGIN")?;
        let mut commit = self.conn.prepare_cached("COMMIT")?;
        let mut insert = self.conn.prepare_cached(INSERT)?;
        let mut v = String::with_capacity(32);
        begin.execute([])?;
        for id in 0..data.rows() {
            v.clear();
            data.write_v(&mut v, id, 0);
            insert.execute(params![id as i64, data.k(id) as i64, v.as_str()])?;
        }
        commit.execute([])?;
        Ok(())
    }

    fn point(&mut self, ids: &[u64], visit: &mut dyn FnMut(u64, Option<&[u8]>)) -> Result<()> {
        let mut begin = self.conn.prepare_cached("BEGIN")?;
        let mut commit = self.conn.prepare_cached("COMMIT")?;
        let mut point = self.conn.prepare_cached(POINT)?;
        begin.execute([])?;
        for &id in ids {
            let mut rows = point.query([id as i64])?;
            match rows.next()? {
                None => visit(id, None),
                Some(row) => visit(id, Some(text(row.get_ref(0)?)?)),
            }
        }
        commit.execute([])?;
        Ok(())
    }

    fn range(
        &mut self,
        starts: &[u64],
        width: u64,
        visit: &mut dyn FnMut(usize, i64, &[u8]),
    ) -> Result<()> {
        let mut begin = self.conn.prepare_cached("BEGIN")?;
        let mut commit = self.conn.prepare_cached("COMMIT")?;
        let mut range = self.conn.prepare_cached(RANGE)?;
        begin.execute([])?;
        for (i, &s) in starts.iter().enumerate() {
            let mut rows = range.query([s as i64, (s + width - 1) as i64])?;
            while let Some(row) = rows.next()? {
                visit(i, row.get(0)?, text(row.get_ref(1)?)?);
            }
        }
        commit.execute([])?;
        Ok(())
    }

    fn join(&mut self, reps: u64, visit: &mut dyn FnMut(u64, &str, i64, i64)) -> Result<()> {
        let mut join = self.conn.prepare_cached(JOIN)?;
        for rep in 0..reps {
            let mut rows = join.query([])?;
            while let Some(row) = rows.next()? {
                let name = std::str::from_utf8(text(row.get_ref(0)?)?)?;
                visit(rep, name, row.get(1)?, row.get(2)?);
            }
        }
        Ok(())
    }

    fn update(&mut self, data: &SqlData) -> Result<u64> {
        let mut begin = self.conn.prepare_cached("BEGIN")?;
        let mut commit = self.conn.prepare_cached("COMMIT")?;
        let mut update = self.conn.prepare_cached(UPDATE)?;
        let mut v = String::with_capacity(32);
        let mut changed = 0;
        for (t, ids) in data.update_ids.chunks(data.updates_per_txn).enumerate() {
            begin.execute([])?;
            for (j, &id) in ids.iter().enumerate() {
                v.clear();
                data.write_v(
                    &mut v,
                    id,
                    SqlData::update_gen(t * data.updates_per_txn + j),
                );
                changed += update.execute(params![v.as_str(), id as i64])? as u64;
            }
            commit.execute([])?;
        }
        Ok(changed)
    }

    fn checkpoint(&mut self) -> Result<()> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Err("SQLite checkpoint was blocked".into());
        }
        Ok(())
    }

    fn for_each_row(&mut self, visit: &mut dyn FnMut(i64, i64, &[u8])) -> Result<()> {
        let mut all = self.conn.prepare_cached(ALL_FROM)?;
        let mut rows = all.query([0i64, i64::MAX])?;
        while let Some(row) = rows.next()? {
            visit(row.get(0)?, row.get(1)?, text(row.get_ref(2)?)?);
        }
        Ok(())
    }

    fn disk_bytes(&self) -> u64 {
        dir_bytes(&self.dir)
    }
}
