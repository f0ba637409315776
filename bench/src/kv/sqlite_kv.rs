//! The SQLite side: rusqlite's bundled SQLite, one file in a temp dir.
//!
//! Configured as a tuned SQLite application would be, so that the ratio is
//! against SQLite at its best for this durability level:
//!
//! ```text
//!   PRAGMA page_size = <P>           before the first table exists
//!   PRAGMA journal_mode = WAL        (checked: the pragma answers "wal")
//!   PRAGMA synchronous = NORMAL      WAL fsynced at checkpoint, not commit
//!   PRAGMA cache_size = -<KiB>       same page-cache budget as DoSQL
//!   CREATE TABLE kv(k INTEGER PRIMARY KEY, v BLOB)
//! ```
//!
//! Every statement, `BEGIN` and `COMMIT` included, is prepared once per
//! workload and re-bound per row; values are read in place through
//! `ValueRef`, never copied. The WAL auto-checkpoint stays at SQLite's
//! default (1000 pages), as it would in an application.

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};

use super::{dir_bytes, EngineKind, KvStore, Result, StoreOptions};
use crate::data::{Updates, Values};

/// A `kv` table in a SQLite database file.
pub struct SqliteKv {
    conn: Connection,
    dir: PathBuf,
}

const INSERT: &str = "INSERT INTO kv(k, v) VALUES (?1, ?2)";
const GET: &str = "SELECT v FROM kv WHERE k = ?1";
const SCAN: &str = "SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2";
const UPDATE: &str = "UPDATE kv SET v = ?2 WHERE k = ?1";
const ALL: &str = "SELECT k, v FROM kv ORDER BY k";

impl SqliteKv {
    /// Creates `dir/bench.sqlite` with the table and pragmas above.
    pub fn create(dir: &Path, opts: StoreOptions) -> Result<SqliteKv> {
        let conn = Connection::open(dir.join("bench.sqlite"))?;
        conn.execute_batch(&format!("PRAGMA page_size = {}", opts.page_size))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("SQLite refused WAL mode (journal_mode = {mode})").into());
        }
        let cache_kib = opts.cache_bytes.div_ceil(1024);
        conn.execute_batch(&format!(
            "PRAGMA synchronous = NORMAL;
             PRAGMA cache_size = -{cache_kib};
             CREATE TABLE kv(k INTEGER PRIMARY KEY, v BLOB);"
        ))?;
        let page_size: u32 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        if page_size != opts.page_size {
            return Err(
                format!("SQLite page size is {page_size}, wanted {}", opts.page_size).into(),
            );
        }
        Ok(SqliteKv {
            conn,
            dir: dir.to_path_buf(),
        })
    }
}

/// Converts a SQLite rowid back to a key; keys are `< 2^63` by contract.
fn key_of(k: i64) -> Result<u64> {
    u64::try_from(k).map_err(|_| format!("SQLite returned negative key {k}").into())
}

fn blob<'a>(v: ValueRef<'a>) -> Result<&'a [u8]> {
    match v {
        ValueRef::Blob(b) => Ok(b),
        other => Err(format!(
            "SQLite returned {:?} where a blob was stored",
            other.data_type()
        )
        .into()),
    }
}

impl KvStore for SqliteKv {
    fn kind(&self) -> EngineKind {
        EngineKind::Sqlite
    }

    fn load(&mut self, keys: &[u64], values: &Values) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(INSERT)?;
            for (j, &k) in keys.iter().enumerate() {
                insert.execute(params![k as i64, values.get(j as u64)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn get_many(&mut self, keys: &[u64], check: &mut dyn FnMut(u64, Option<&[u8]>)) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut get = tx.prepare_cached(GET)?;
            for &k in keys {
                let found = get
                    .query_row([k as i64], |row| {
                        // Checked inside the closure: the blob lives only
                        // as long as the row.
                        match row.get_ref(0)? {
                            ValueRef::Blob(b) => check(k, Some(b)),
                            _ => return Ok(false),
                        }
                        Ok(true)
                    })
                    .optional()?;
                match found {
                    Some(true) => {}
                    Some(false) => {
                        return Err(format!("SQLite key {k}: value is not a blob").into())
                    }
                    None => check(k, None),
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn scan_many(
        &mut self,
        starts: &[u64],
        len: usize,
        visit: &mut dyn FnMut(usize, u64, &[u8]),
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut scan = tx.prepare_cached(SCAN)?;
            for (i, &start) in starts.iter().enumerate() {
                let mut rows = scan.query(params![start as i64, len as i64])?;
                while let Some(row) = rows.next()? {
                    visit(i, key_of(row.get(0)?)?, blob(row.get_ref(1)?)?);
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn update(&mut self, updates: &Updates) -> Result<()> {
        let mut begin = self.conn.prepare_cached("BEGIN")?;
        let mut commit = self.conn.prepare_cached("COMMIT")?;
        let mut update = self.conn.prepare_cached(UPDATE)?;
        for (t, keys) in updates.keys.chunks(updates.per_txn).enumerate() {
            begin.execute([])?;
            for (j, &k) in keys.iter().enumerate() {
                let value = updates.values.get((t * updates.per_txn + j) as u64);
                if update.execute(params![k as i64, value])? != 1 {
                    return Err(format!("SQLite: update of key {k} changed no row").into());
                }
            }
            commit.execute([])?;
        }
        Ok(())
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

    fn for_each_row(&mut self, visit: &mut dyn FnMut(u64, &[u8])) -> Result<()> {
        let mut all = self.conn.prepare_cached(ALL)?;
        let mut rows = all.query([])?;
        while let Some(row) = rows.next()? {
            visit(key_of(row.get(0)?)?, blob(row.get_ref(1)?)?);
        }
        Ok(())
    }

    fn disk_bytes(&self) -> u64 {
        dir_bytes(&self.dir)
    }

    fn stats(&mut self) -> Option<String> {
        // SQLite's counters (sqlite3_db_status) are not what this report
        // compares; its side is the reference.
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::data::Dataset;

    fn opts() -> StoreOptions {
        StoreOptions {
            cache_bytes: 1 << 20,
            page_size: 4096,
        }
    }

    #[test]
    fn pragmas_are_applied() {
        let dir = tempfile::tempdir().unwrap();
        let kv = SqliteKv::create(dir.path(), opts()).unwrap();
        let mode: String = kv
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = kv
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 1, "NORMAL");
        let cache: i64 = kv
            .conn
            .query_row("PRAGMA cache_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(cache, -1024);
    }

    #[test]
    fn round_trip_and_missing_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut kv = SqliteKv::create(dir.path(), opts()).unwrap();
        let d = Dataset::generate(&Config {
            rows: 300,
            updates: 25,
            updates_per_txn: 4,
            ..Config::default()
        });
        kv.load(&d.insert_order, &d.insert_values).unwrap();
        let mut seen = Vec::new();
        kv.get_many(&[5, 299, 300], &mut |k, v| {
            seen.push((k, v.map(<[u8]>::to_vec)))
        })
        .unwrap();
        assert_eq!(seen[0], (5, Some(d.model.get(5).to_vec())));
        assert_eq!(seen[1], (299, Some(d.model.get(299).to_vec())));
        assert_eq!(seen[2], (300, None));

        let mut keys = Vec::new();
        kv.scan_many(&[290], 100, &mut |i, k, _| keys.push((i, k)))
            .unwrap();
        assert_eq!(keys, (290..300).map(|k| (0, k)).collect::<Vec<_>>());

        kv.update(&d.updates).unwrap();
        let mut d = d;
        d.apply_updates();
        kv.checkpoint().unwrap();
        let mut n = 0;
        kv.for_each_row(&mut |k, v| {
            assert_eq!(k, n);
            assert_eq!(v, d.model.get(k));
            n += 1;
        })
        .unwrap();
        assert_eq!(n, 300);
        assert!(kv.disk_bytes() > 0);
    }

    #[test]
    fn updating_a_missing_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut kv = SqliteKv::create(dir.path(), opts()).unwrap();
        let d = Dataset::generate(&Config {
            rows: 10,
            updates: 1,
            ..Config::default()
        });
        kv.load(&[1, 2], &d.model).unwrap();
        let mut u = d.updates.clone();
        u.keys = vec![7];
        assert!(kv.update(&u).unwrap_err().to_string().contains("key 7"));
    }
}
