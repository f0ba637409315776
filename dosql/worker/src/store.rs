//! `PageStore` and `LogStore` over a Durable Object's synchronous SQLite
//! storage (`ctx.storage.sql`).
//!
//! Tables, all in the Object's own SQLite database:
//!
//! ```text
//!   dosql_kv    (k TEXT PRIMARY KEY, v)                        one row per setting
//!                 'page_size' -> INTEGER   fixed when the store is created
//!                 'meta'      -> BLOB      the PageStore meta blob
//!                 'wal_last'  -> INTEGER   last LSN appended, kept only when
//!                                          truncation empties dosql_wal
//!                 'setting:*' -> TEXT      the owning Object's settings
//!   dosql_page  (id INTEGER PRIMARY KEY, data BLOB)            one row per page
//!   dosql_wal   (lsn, part, parts, data, PRIMARY KEY (lsn, part))
//!                 a record of n bytes is ceil(n / WAL_PART_BYTES) rows
//!                 (at least one); every row repeats `parts`
//! ```
//!
//! Invariants and why they hold:
//! * **Atomic batches.** A Durable Object commits the writes made between
//!   two `.await`s as one transaction, and the engine is synchronous, so no
//!   `.await` can fall inside a batch. Each `write_batch` and each multi-row
//!   `append` additionally runs inside `storage.transactionSync`, so that a
//!   statement failing half-way (a row over the size limit, say) rolls back
//!   the rows written before it instead of committing a partial batch.
//! * **Durability.** Writes reach durable storage before the Object's next
//!   output leaves it (the runtime's output gate), so `sync` has nothing to
//!   do: no caller can observe a commit that is not durable.
//! * **Rows stay under the 2 MB row limit.** Pages are at most
//!   `MAX_PAGE_SIZE` (64 KiB) and meta at most `MAX_META_SIZE` (1 MiB);
//!   WAL records are split into parts of `WAL_PART_BYTES`.
//! * **At most 100 bound parameters per statement** (a Durable Object
//!   limit): page writes go out in statements of `PAGES_PER_INSERT` rows.
//! * **Lazy pages.** Nothing is read at open beyond `page_size`; each page
//!   read is one `SELECT ... WHERE id = ?`.
//! * **Bad stored bytes never panic:** wrong lengths, types or part counts
//!   are `Error::Corruption`.

use std::cell::Cell;
use std::rc::Rc;

use dosql::error::{Error, Result};
use dosql::store::{check_batch, validate_page_size, LogStore, Lsn, PageId, PageStore};
use dosql::{corruption, invalid};
use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use worker::{SqlCursor, SqlStorage, SqlStorageValue};

/// Largest slice of a WAL record stored in one row: well below the 2 MB
/// row limit, leaving room for the row's other columns.
pub const WAL_PART_BYTES: usize = 1 << 20;

/// Bound parameters a Durable Object accepts in one statement.
const MAX_BOUND_PARAMS: usize = 100;

/// Pages per `INSERT` statement: two parameters each.
const PAGES_PER_INSERT: usize = MAX_BOUND_PARAMS / 2;

/// Bytes of page data bound to one `INSERT`, so that a statement with 64 KiB
/// pages stays a few MiB.
const MAX_INSERT_BYTES: usize = 2 << 20;

#[wasm_bindgen]
extern "C" {
    /// The JavaScript `DurableObjectStorage`, for the one method worker 0.8
    /// does not wrap.
    pub type JsStorage;

    /// Runs `f` as one SQLite transaction; an exception thrown by `f` (an
    /// `Err` return) rolls every write of `f` back and is rethrown.
    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync(
        this: &JsStorage,
        f: &mut dyn FnMut() -> Result<JsValue, JsValue>,
    ) -> Result<JsValue, JsValue>;
}

/// The Object's SQL storage plus its `transactionSync`, shared by both
/// stores (each holds its own handle to the same JavaScript objects).
#[derive(Clone)]
pub struct DoSqlHandle {
    pub sql: SqlStorage,
    pub storage: JsValue,
    /// Pages read from storage through any store of this handle: shows
    /// that opening a database reads only what its queries touch.
    pub pages_read: Rc<Cell<u64>>,
}

impl DoSqlHandle {
    pub fn new(sql: SqlStorage, storage: JsValue) -> DoSqlHandle {
        DoSqlHandle {
            sql,
            storage,
            pages_read: Rc::default(),
        }
    }

    /// The handle of a Durable Object's own storage.
    pub fn of(state: &worker::State) -> DoSqlHandle {
        // worker 0.8 does not wrap `transactionSync`; the stores reach it
        // through the raw JavaScript storage object.
        let storage: JsValue = state
            .as_raw()
            .storage()
            .map(Into::into)
            .unwrap_or(JsValue::UNDEFINED);
        DoSqlHandle::new(state.storage().sql(), storage)
    }

    /// Rows of `dosql_page` and of `dosql_wal` (0 before the tables exist).
    pub fn stored_rows(&self) -> Result<(u64, u64)> {
        self.create_tables()?;
        let count = |table: &str| -> Result<u64> {
            match self.one(&format!("SELECT COUNT(*) FROM {table}"), vec![])? {
                Some(v) => as_u64(&v, table),
                None => Ok(0),
            }
        };
        Ok((count("dosql_page")?, count("dosql_wal")?))
    }

    /// A text setting of the Object (kept in `dosql_kv` beside the
    /// store's own, under keys the stores never use).
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.create_tables()?;
        match self.one(
            "SELECT v FROM dosql_kv WHERE k = ?",
            vec![setting_key(key).into()],
        )? {
            None | Some(SqlStorageValue::Null) => Ok(None),
            Some(SqlStorageValue::String(v)) => Ok(Some(v)),
            Some(other) => Err(corruption!("setting {key}: expected text, found {other:?}")),
        }
    }

    /// Stores a text setting; see [`DoSqlHandle::setting`].
    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.create_tables()?;
        self.exec(
            "INSERT OR REPLACE INTO dosql_kv (k, v) VALUES (?, ?)",
            vec![setting_key(key).into(), value.into()],
        )?;
        Ok(())
    }

    fn exec(&self, query: &str, params: Vec<JsValue>) -> Result<SqlCursor> {
        self.sql.exec_raw(query, params).map_err(storage_error)
    }

    /// Runs `f` in one SQLite transaction: all of its writes or none.
    fn transaction(&self, f: &mut dyn FnMut() -> Result<()>) -> Result<()> {
        let mut failure = None;
        let mut body = || match f() {
            Ok(()) => Ok(JsValue::UNDEFINED),
            Err(e) => {
                let message = JsValue::from_str(&e.to_string());
                failure = Some(e);
                Err(message)
            }
        };
        let storage: &JsStorage = self.storage.unchecked_ref();
        let outcome = storage.transaction_sync(&mut body);
        match (outcome, failure) {
            (_, Some(e)) => Err(e),
            (Ok(_), None) => Ok(()),
            (Err(e), None) => Err(storage_error(worker::Error::from(e))),
        }
    }

    /// The first column of the only row of `query`, if there is a row.
    fn one(&self, query: &str, params: Vec<JsValue>) -> Result<Option<SqlStorageValue>> {
        let cursor = self.exec(query, params)?;
        let mut rows = cursor.raw();
        match rows.next() {
            None => Ok(None),
            Some(row) => {
                let row = row.map_err(storage_error)?;
                Ok(row.into_iter().next())
            }
        }
    }

    fn create_tables(&self) -> Result<()> {
        self.exec(
            "CREATE TABLE IF NOT EXISTS dosql_kv (k TEXT PRIMARY KEY, v)",
            vec![],
        )?;
        self.exec(
            "CREATE TABLE IF NOT EXISTS dosql_page (id INTEGER PRIMARY KEY, data BLOB NOT NULL)",
            vec![],
        )?;
        self.exec(
            "CREATE TABLE IF NOT EXISTS dosql_wal (lsn INTEGER NOT NULL, part INTEGER NOT NULL, \
             parts INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (lsn, part))",
            vec![],
        )?;
        Ok(())
    }

    fn kv_int(&self, key: &str) -> Result<Option<u64>> {
        match self.one("SELECT v FROM dosql_kv WHERE k = ?", vec![key.into()])? {
            None | Some(SqlStorageValue::Null) => Ok(None),
            Some(v) => Ok(Some(as_u64(&v, key)?)),
        }
    }
}

/// Settings live under `setting:` so they can never collide with the
/// stores' own keys (`page_size`, `meta`, `wal_last`).
fn setting_key(key: &str) -> String {
    format!("setting:{key}")
}

/// Storage exceptions are I/O errors of the engine: they may poison it.
fn storage_error(e: worker::Error) -> Error {
    Error::Io(std::io::Error::other(format!(
        "durable object storage: {e}"
    )))
}

fn blob(bytes: &[u8]) -> JsValue {
    Uint8Array::from(bytes).into()
}

fn int(n: u64) -> Result<JsValue> {
    // JavaScript numbers are exact to 2^53; ids and LSNs never get there,
    // but a wrong value must not be stored silently.
    if n > (1u64 << 53) {
        return Err(Error::LimitExceeded(format!(
            "{n} exceeds 2^53, the largest integer Durable Object storage binds exactly"
        )));
    }
    Ok(JsValue::from_f64(n as f64))
}

fn as_u64(v: &SqlStorageValue, what: &str) -> Result<u64> {
    match v {
        SqlStorageValue::Integer(n) if *n >= 0 => Ok(*n as u64),
        other => Err(corruption!(
            "{what}: expected a non-negative integer, found {other:?}"
        )),
    }
}

/// Pages in `dosql_page`, meta in `dosql_kv`.
pub struct DoPageStore {
    db: DoSqlHandle,
    page_size: u32,
}

impl DoPageStore {
    /// Opens the page store of the Object, creating it with `page_size`
    /// if it is new; an existing store keeps the page size it was created
    /// with.
    pub fn open(db: DoSqlHandle, page_size: u32) -> Result<DoPageStore> {
        validate_page_size(page_size)?;
        db.create_tables()?;
        let page_size = match db.kv_int("page_size")? {
            Some(stored) => {
                let stored =
                    u32::try_from(stored).map_err(|_| corruption!("stored page size {stored}"))?;
                validate_page_size(stored).map_err(|_| corruption!("stored page size {stored}"))?;
                stored
            }
            None => {
                db.exec(
                    "INSERT INTO dosql_kv (k, v) VALUES ('page_size', CAST(? AS INTEGER))",
                    vec![int(page_size as u64)?],
                )?;
                page_size
            }
        };
        Ok(DoPageStore { db, page_size })
    }

    fn insert_pages(&self, pages: &[(PageId, &[u8])]) -> Result<()> {
        let mut rest = pages;
        while !rest.is_empty() {
            let mut n = 0;
            let mut bytes = 0;
            while n < rest.len()
                && n < PAGES_PER_INSERT
                && (n == 0 || bytes + rest[n].1.len() <= MAX_INSERT_BYTES)
            {
                bytes += rest[n].1.len();
                n += 1;
            }
            let (chunk, tail) = rest.split_at(n);
            let mut query = String::with_capacity(64 + 8 * n);
            query.push_str("INSERT OR REPLACE INTO dosql_page (id, data) VALUES ");
            let mut params = Vec::with_capacity(2 * n);
            for (i, (id, data)) in chunk.iter().enumerate() {
                query.push_str(if i == 0 { "(?, ?)" } else { ", (?, ?)" });
                params.push(int(*id)?);
                params.push(blob(data));
            }
            self.db.exec(&query, params)?;
            rest = tail;
        }
        Ok(())
    }
}

impl PageStore for DoPageStore {
    fn page_size(&self) -> u32 {
        self.page_size
    }

    fn read_page(&mut self, id: PageId, buf: &mut [u8]) -> Result<bool> {
        if buf.len() != self.page_size as usize {
            return Err(invalid!(
                "buffer of {} bytes for a page of {}",
                buf.len(),
                self.page_size
            ));
        }
        self.db.pages_read.set(self.db.pages_read.get() + 1);
        match self
            .db
            .one("SELECT data FROM dosql_page WHERE id = ?", vec![int(id)?])?
        {
            None => {
                buf.fill(0);
                Ok(false)
            }
            Some(SqlStorageValue::Blob(data)) if data.len() == buf.len() => {
                buf.copy_from_slice(&data);
                Ok(true)
            }
            Some(SqlStorageValue::Blob(data)) => Err(corruption!(
                "page {id} has {} bytes, expected {}",
                data.len(),
                self.page_size
            )),
            Some(other) => Err(corruption!("page {id} is not a blob: {other:?}")),
        }
    }

    fn read_meta(&mut self) -> Result<Option<Vec<u8>>> {
        match self
            .db
            .one("SELECT v FROM dosql_kv WHERE k = 'meta'", vec![])?
        {
            None => Ok(None),
            Some(SqlStorageValue::Blob(data)) => Ok(Some(data)),
            Some(other) => Err(corruption!("meta is not a blob: {other:?}")),
        }
    }

    fn write_batch(&mut self, pages: &[(PageId, &[u8])], meta: &[u8]) -> Result<()> {
        check_batch(self.page_size, pages, meta)?;
        let db = self.db.clone();
        db.transaction(&mut || {
            self.insert_pages(pages)?;
            self.db.exec(
                "INSERT OR REPLACE INTO dosql_kv (k, v) VALUES ('meta', ?)",
                vec![blob(meta)],
            )?;
            Ok(())
        })
    }
}

/// WAL records in `dosql_wal`, split into parts of [`WAL_PART_BYTES`].
pub struct DoLogStore {
    db: DoSqlHandle,
    last_lsn: Option<Lsn>,
}

impl DoLogStore {
    /// Opens the log of the Object. A last record with missing parts (which
    /// transactional appends should make impossible) is a torn tail: it is
    /// dropped, as the `LogStore` contract asks.
    pub fn open(db: DoSqlHandle) -> Result<DoLogStore> {
        db.create_tables()?;
        let mut last_lsn = db.kv_int("wal_last")?;
        let tail = db.exec(
            "SELECT lsn, COUNT(*), MAX(parts) FROM dosql_wal WHERE lsn = (SELECT MAX(lsn) FROM dosql_wal) GROUP BY lsn",
            vec![],
        )?;
        if let Some(row) = tail.raw().next() {
            let row = row.map_err(storage_error)?;
            let [lsn, count, parts] = row.as_slice() else {
                return Err(corruption!("wal tail query returned {} columns", row.len()));
            };
            let (lsn, count, parts) = (
                as_u64(lsn, "wal lsn")?,
                as_u64(count, "wal count")?,
                as_u64(parts, "wal parts")?,
            );
            if count == parts {
                last_lsn = Some(last_lsn.map_or(lsn, |l| l.max(lsn)));
            } else {
                db.exec("DELETE FROM dosql_wal WHERE lsn = ?", vec![int(lsn)?])?;
                let before = db.one("SELECT MAX(lsn) FROM dosql_wal", vec![])?;
                if let Some(v @ SqlStorageValue::Integer(_)) = before {
                    let prev = as_u64(&v, "wal lsn")?;
                    last_lsn = Some(last_lsn.map_or(prev, |l| l.max(prev)));
                }
            }
        }
        Ok(DoLogStore { db, last_lsn })
    }
}

impl LogStore for DoLogStore {
    fn append(&mut self, lsn: Lsn, record: &[u8]) -> Result<()> {
        if self.last_lsn.is_some_and(|last| lsn <= last) {
            return Err(invalid!(
                "lsn {lsn} does not exceed the last appended lsn {:?}",
                self.last_lsn
            ));
        }
        let parts = record.len().div_ceil(WAL_PART_BYTES).max(1);
        let lsn_js = int(lsn)?;
        let parts_js = int(parts as u64)?;
        let insert = "INSERT INTO dosql_wal (lsn, part, parts, data) VALUES (?, ?, ?, ?)";
        if parts == 1 {
            self.db.exec(
                insert,
                vec![lsn_js, JsValue::from_f64(0.0), parts_js, blob(record)],
            )?;
        } else {
            let db = self.db.clone();
            db.transaction(&mut || {
                for (i, chunk) in record.chunks(WAL_PART_BYTES).enumerate() {
                    self.db.exec(
                        insert,
                        vec![
                            lsn_js.clone(),
                            JsValue::from_f64(i as f64),
                            parts_js.clone(),
                            blob(chunk),
                        ],
                    )?;
                }
                Ok(())
            })?;
        }
        self.last_lsn = Some(lsn);
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        // Durable before any output leaves the Object (see the module doc).
        Ok(())
    }

    fn scan(&mut self, from: Lsn, f: &mut dyn FnMut(Lsn, &[u8]) -> Result<bool>) -> Result<()> {
        let cursor = self.db.exec(
            "SELECT lsn, part, parts, data FROM dosql_wal WHERE lsn >= ? ORDER BY lsn, part",
            vec![int(from)?],
        )?;
        // The record being reassembled: (lsn, parts, bytes so far, next part).
        let mut current: Option<(Lsn, u64, Vec<u8>, u64)> = None;
        for row in cursor.raw() {
            let row = row.map_err(storage_error)?;
            let [lsn, part, parts, data] = row.as_slice() else {
                return Err(corruption!("wal row has {} columns", row.len()));
            };
            let (lsn, part, parts) = (
                as_u64(lsn, "wal lsn")?,
                as_u64(part, "wal part")?,
                as_u64(parts, "wal parts")?,
            );
            let SqlStorageValue::Blob(data) = data else {
                return Err(corruption!("wal record {lsn} part {part} is not a blob"));
            };
            if parts == 0 || part >= parts {
                return Err(corruption!("wal record {lsn} has part {part} of {parts}"));
            }
            let (cur_lsn, cur_parts, bytes, next) =
                current.get_or_insert_with(|| (lsn, parts, Vec::new(), 0));
            if *cur_lsn != lsn || *cur_parts != parts || *next != part {
                return Err(corruption!(
                    "wal record {cur_lsn} is missing part {next} of {cur_parts} (found lsn {lsn} part {part} of {parts})"
                ));
            }
            *next += 1;
            if parts == 1 {
                let keep_going = f(lsn, data)?;
                current = None;
                if !keep_going {
                    return Ok(());
                }
                continue;
            }
            bytes.extend_from_slice(data);
            if *next == parts {
                let record = std::mem::take(bytes);
                current = None;
                if !f(lsn, &record)? {
                    return Ok(());
                }
            }
        }
        match current {
            None => Ok(()),
            Some((lsn, parts, _, next)) => Err(corruption!(
                "wal record {lsn} ends after part {next} of {parts}"
            )),
        }
    }

    fn truncate_before(&mut self, before: Lsn) -> Result<()> {
        let before_js = int(before)?;
        let db = self.db.clone();
        db.transaction(&mut || {
            // Remember the last LSN when this empties the log, so that LSNs
            // never repeat after a restart.
            if let Some(last) = self.last_lsn.filter(|last| *last < before) {
                self.db
                    .exec("INSERT OR REPLACE INTO dosql_kv (k, v) VALUES ('wal_last', CAST(? AS INTEGER))", vec![int(last)?])?;
            }
            self.db.exec("DELETE FROM dosql_wal WHERE lsn < ?", vec![before_js.clone()])?;
            Ok(())
        })
    }

    fn last_lsn(&self) -> Option<Lsn> {
        self.last_lsn
    }
}
