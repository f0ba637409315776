//! `dosql-bench-lake`: the live DoSQL -> DoLake pipeline, in one process,
//! on real files, exactly the parts `dosql-server` runs on its threads.
//!
//! ```text
//!   Database (dir, SyncMode::Full) ── commit ──> Shipper::next_frame ── frame text
//!        ^                                                                │
//!        └──── Shipper::on_reply <── LakeNode::on_frame (dir, Full) <─────┘
//!   LakeNode::flush_due(now) ──> DirStore (Parquet, manifests, metadata)
//! ```
//!
//! Three measurements, each printed with the settings it ran under:
//! * throughput: `rows` rows committed in transactions of `txn_rows`, each
//!   shipped once committed; the clock stops when the last flush is
//!   complete. The buffer's tail (under the row threshold) is flushed at
//!   once, as its age would flush it later. SQLite (bundled, WAL,
//!   `synchronous=FULL`) inserting the same rows the same way is the
//!   baseline of the ratio.
//! * lag: commits spaced `lag_gap_ms` apart on the real clock, default flush
//!   policy; per commit, the time until a flush that includes it completed
//!   (the snapshot is visible in the catalog from then on).
//! * size: the Parquet data files against the same rows as CSV and in a
//!   SQLite database file.
//!
//! Every run checks its result: the table read back from the store has
//! exactly the rows committed, or the run fails.

use std::path::Path;
use std::time::{Duration, Instant};

use dolake::catalog::CatalogConfig;
use dolake::lake::{FlushPolicy, LakeConfig};
use dolake::node::LakeNode;
use dolake::reader::TableReader;
use dolake::store::{DirStore, ObjectStore};
use dosql::mvcc::{Engine, EngineConfig, SyncMode};
use dosql::sql::{Database, Session, Value};
use dosql_service::ship::{Outcome, Shipper};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::kv::Result;

const SHARD: &str = "bench";
const PAGE_SIZE: u32 = 4096;
const CREATE: &str =
    "CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT, amount REAL, note TEXT)";
const INSERT: &str = "INSERT INTO events VALUES (?, ?, ?, ?)";
const KINDS: [&str; 4] = ["click", "view", "purchase", "refund"];

/// Settings of one run.
#[derive(Clone, Debug)]
pub struct LakeBench {
    pub rows: u64,
    pub txn_rows: u64,
    pub lag_commits: u32,
    pub lag_gap_ms: u64,
    pub seed: u64,
}

impl Default for LakeBench {
    fn default() -> Self {
        LakeBench {
            rows: 100_000,
            txn_rows: 100,
            lag_commits: 12,
            lag_gap_ms: 900,
            seed: 0x5eed,
        }
    }
}

/// One generated row: id, kind, amount, note (20 to 60 characters).
#[derive(Clone, Debug)]
pub struct Row {
    pub id: i64,
    pub kind: &'static str,
    pub amount: f64,
    pub note: String,
}

impl Row {
    fn params(&self) -> [Value; 4] {
        [
            Value::Integer(self.id),
            Value::Text(self.kind.to_owned()),
            Value::Real(self.amount),
            Value::Text(self.note.clone()),
        ]
    }

    fn csv(&self) -> String {
        format!("{},{},{},{}\n", self.id, self.kind, self.amount, self.note)
    }
}

/// `n` rows from `seed`, ids 1..=n.
pub fn rows(n: u64, seed: u64) -> Vec<Row> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (1..=n as i64)
        .map(|id| {
            let len = rng.gen_range(20..=60);
            let note = (0..len)
                .map(|_| (b'a' + rng.gen_range(0..26u8)) as char)
                .collect();
            Row {
                id,
                kind: KINDS[rng.gen_range(0..KINDS.len())],
                amount: (rng.gen_range(0..1_000_000) as f64) / 100.0,
                note,
            }
        })
        .collect()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn full_sync() -> EngineConfig {
    EngineConfig {
        sync: SyncMode::Full,
        ..EngineConfig::default()
    }
}

/// A database shipping to a lake that flushes into a directory.
pub struct Pipeline {
    db: Database,
    session: Session,
    shipper: Shipper,
    node: LakeNode,
    pub store: DirStore,
    entropy: SmallRng,
    /// Flushes completed.
    pub flushes: u64,
}

impl Pipeline {
    /// Opens the three parts in subdirectories of `dir`.
    pub fn open(dir: &Path, policy: FlushPolicy, seed: u64) -> Result<Pipeline> {
        let mut db = Database::open(Engine::open_dir(&dir.join("db"), PAGE_SIZE, full_sync())?)?;
        Shipper::ensure_slot(&mut db).map_err(|e| e.message)?;
        let lake_engine = Engine::open_dir(&dir.join("lake"), PAGE_SIZE, full_sync())?;
        let catalog = CatalogConfig {
            bucket: "lake".into(),
            warehouse: "warehouse".into(),
            client_properties: Default::default(),
        };
        let lake = LakeConfig {
            policy,
            ..LakeConfig::default()
        };
        let mut p = Pipeline {
            db,
            session: Session::new(),
            shipper: Shipper::new(),
            node: LakeNode::open(lake_engine, lake, catalog)?,
            store: DirStore::new(dir.join("bucket")),
            entropy: SmallRng::seed_from_u64(seed),
            flushes: 0,
        };
        p.exec(CREATE, &[])?;
        Ok(p)
    }

    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<()> {
        self.db.execute(&mut self.session, sql, params)?;
        Ok(())
    }

    /// Commits `rows` in one transaction.
    pub fn commit(&mut self, rows: &[Row]) -> Result<()> {
        self.exec("BEGIN", &[])?;
        for r in rows {
            self.exec(INSERT, &r.params())?;
        }
        self.exec("COMMIT", &[])
    }

    /// Ships batch after batch until the lake has every commit; flushes
    /// when the lake asks for room.
    pub fn ship(&mut self, now: u64) -> Result<()> {
        let mut retries = 0;
        while let Some(frame) = self
            .shipper
            .next_frame(&mut self.db, SHARD)
            .map_err(|e| e.message)?
        {
            let reply = self.node.on_frame(&frame, now);
            match self
                .shipper
                .on_reply(&mut self.db, SHARD, reply)
                .map_err(|e| e.message)?
            {
                Outcome::Acked { .. } | Outcome::Progress { .. } => retries = 0,
                // The lake's buffer is full: make room, as its alarm would.
                Outcome::Retry { .. } if retries < 3 => {
                    retries += 1;
                    let at = self.node.next_flush_at().unwrap_or(now).max(now);
                    self.flush(at)?;
                }
                Outcome::Retry { reason, .. } => return Err(reason.into()),
                Outcome::Refused(e) => return Err(e.message.into()),
            }
        }
        Ok(())
    }

    /// Runs the flushes due at `now`; returns how many completed.
    pub fn flush(&mut self, now: u64) -> Result<u64> {
        let rng = &mut self.entropy;
        let done = self.node.flush_due(now, &self.store, || rng.gen())?;
        self.flushes += done.len() as u64;
        Ok(done.len() as u64)
    }

    /// Flushes whatever is buffered, without waiting for its age.
    pub fn drain(&mut self, now: u64) -> Result<()> {
        while let Some(at) = self.node.next_flush_at() {
            self.flush(at.max(now))?;
        }
        Ok(())
    }

    /// The LSN up to which the current snapshot of `events` includes the
    /// shard's changes (0 before the first flush).
    pub fn flushed_lsn(&self) -> u64 {
        self.node
            .lake()
            .stats()
            .tables
            .get("events")
            .and_then(|t| t.lsns.get(SHARD).copied())
            .unwrap_or(0)
    }

    /// The last LSN of the database (the commit just made).
    pub fn last_lsn(&mut self) -> u64 {
        self.db.engine().stats().last_lsn
    }

    /// Rows in the current snapshot, read back through the Iceberg metadata.
    pub fn lake_rows(&self) -> Result<usize> {
        let stats = self.node.lake().stats();
        let Some(location) = stats
            .tables
            .get("events")
            .and_then(|t| t.metadata_location.clone())
        else {
            return Ok(0);
        };
        let reader = TableReader::new(&self.store, "s3://lake");
        let metadata = reader.load_metadata(&location)?;
        Ok(reader.scan(&metadata, None)?.num_rows())
    }

    /// Bytes of the Parquet data files in the store.
    pub fn parquet_bytes(&self) -> Result<u64> {
        let mut total = 0;
        for key in self.store.list("")? {
            if key.contains("/data/") && key.ends_with(".parquet") {
                total += self.store.head(&key)?.unwrap_or(0);
            }
        }
        Ok(total)
    }
}

/// What the throughput run measured.
#[derive(Debug)]
pub struct Throughput {
    pub rows: u64,
    pub elapsed: Duration,
    /// Of which: commits, shipping, flushes.
    pub commit: Duration,
    pub ship: Duration,
    pub flush: Duration,
    pub flushes: u64,
    pub sqlite: Duration,
    pub sizes: Sizes,
}

/// Bytes of the same rows in each form.
#[derive(Debug)]
pub struct Sizes {
    pub parquet: u64,
    pub csv: u64,
    pub sqlite: u64,
}

/// Measures events per second from commit to committed Parquet.
pub fn throughput(cfg: &LakeBench, dir: &Path) -> Result<Throughput> {
    let data = rows(cfg.rows, cfg.seed);
    let mut p = Pipeline::open(&dir.join("pipeline"), FlushPolicy::default(), cfg.seed)?;
    let (mut commit, mut ship, mut flush) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let start = Instant::now();
    for chunk in data.chunks(cfg.txn_rows.max(1) as usize) {
        let t = Instant::now();
        p.commit(chunk)?;
        let t2 = Instant::now();
        p.ship(now_ms())?;
        let t3 = Instant::now();
        p.flush(now_ms())?;
        commit += t2 - t;
        ship += t3 - t2;
        flush += t3.elapsed();
    }
    let t = Instant::now();
    p.drain(now_ms())?;
    flush += t.elapsed();
    let elapsed = start.elapsed();
    let read = p.lake_rows()?;
    if read as u64 != cfg.rows {
        return Err(format!("the lake holds {read} rows, {} were committed", cfg.rows).into());
    }
    let (sqlite, sqlite_bytes) = sqlite_load(&dir.join("sqlite"), &data, cfg.txn_rows)?;
    Ok(Throughput {
        rows: cfg.rows,
        elapsed,
        commit,
        ship,
        flush,
        flushes: p.flushes,
        sqlite,
        sizes: Sizes {
            parquet: p.parquet_bytes()?,
            csv: data.iter().map(|r| r.csv().len() as u64).sum(),
            sqlite: sqlite_bytes,
        },
    })
}

/// SQLite inserting the same rows in the same transactions: (time, file
/// bytes after a checkpoint).
fn sqlite_load(dir: &Path, data: &[Row], txn_rows: u64) -> Result<(Duration, u64)> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("events.sqlite");
    let mut conn = rusqlite::Connection::open(&path)?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))?;
    conn.execute_batch(&format!("PRAGMA synchronous = FULL; {CREATE};"))?;
    let start = Instant::now();
    for chunk in data.chunks(txn_rows.max(1) as usize) {
        let txn = conn.transaction()?;
        {
            let mut stmt = txn.prepare_cached(INSERT)?;
            for r in chunk {
                stmt.execute(rusqlite::params![r.id, r.kind, r.amount, r.note])?;
            }
        }
        txn.commit()?;
    }
    let elapsed = start.elapsed();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    drop(conn);
    Ok((elapsed, std::fs::metadata(&path)?.len()))
}

/// Commit-to-snapshot lag, per commit, on the real clock.
#[derive(Debug)]
pub struct Lag {
    pub policy: FlushPolicy,
    pub lags: Vec<Duration>,
}

impl Lag {
    pub fn median(&self) -> Duration {
        let mut l = self.lags.clone();
        l.sort();
        l.get(l.len() / 2).copied().unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.lags.iter().max().copied().unwrap_or_default()
    }
}

/// Commits one row every `lag_gap_ms`, shipping at once, and flushes when
/// the lake's alarm says (sleeping until then, as the server's lake thread
/// does); the lag of a commit ends when a flush covering its LSN completed.
pub fn lag(cfg: &LakeBench, dir: &Path, policy: FlushPolicy) -> Result<Lag> {
    let data = rows(u64::from(cfg.lag_commits), cfg.seed);
    let mut p = Pipeline::open(&dir.join("lag"), policy, cfg.seed)?;
    let mut pending: Vec<(u64, Instant)> = Vec::new();
    let mut lags = Vec::new();
    let mut next_commit = Instant::now();
    let mut rows = data.iter();
    let mut row = rows.next();
    while row.is_some() || !pending.is_empty() {
        let flush_in = p
            .node
            .next_flush_at()
            .map(|at| Duration::from_millis(at.saturating_sub(now_ms())));
        let commit_in = row.map(|_| next_commit.saturating_duration_since(Instant::now()));
        let wait = match (flush_in, commit_in) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).ok_or("nothing pending and nothing to commit")?,
        };
        std::thread::sleep(wait);
        if let Some(r) = row.filter(|_| Instant::now() >= next_commit) {
            p.commit(std::slice::from_ref(r))?;
            pending.push((p.last_lsn(), Instant::now()));
            p.ship(now_ms())?;
            next_commit += Duration::from_millis(cfg.lag_gap_ms);
            row = rows.next();
        }
        if p.flush(now_ms())? > 0 {
            let flushed = p.flushed_lsn();
            let done = Instant::now();
            pending.retain(|(lsn, at)| {
                let covered = *lsn <= flushed;
                if covered {
                    lags.push(done - *at);
                }
                !covered
            });
        }
    }
    Ok(Lag { policy, lags })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_run_ships_flushes_and_reads_back_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LakeBench {
            rows: 1_050,
            txn_rows: 100,
            ..LakeBench::default()
        };
        let t = throughput(&cfg, dir.path()).unwrap();
        assert_eq!(t.rows, 1_050);
        assert!(t.flushes >= 1);
        assert!(t.sizes.parquet > 0 && t.sizes.csv > 0 && t.sizes.sqlite > 0);
    }

    #[test]
    fn lag_is_measured_per_commit() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LakeBench {
            lag_commits: 3,
            lag_gap_ms: 20,
            ..LakeBench::default()
        };
        let policy = FlushPolicy {
            max_age_ms: 50,
            ..FlushPolicy::default()
        };
        let lag = lag(&cfg, dir.path(), policy).unwrap();
        assert_eq!(lag.lags.len(), 3);
        assert!(lag.max() >= Duration::from_millis(1));
    }
}
