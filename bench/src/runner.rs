//! Runs a suite of workloads on both engines, alternating them, and folds
//! repeated suites into medians.
//!
//! The machine is noisy and shared, so the engines are never run one after
//! the other for the whole suite: each workload runs on both engines back
//! to back, and the engine that goes first alternates from one workload to
//! the next (DoSQL first on even positions, SQLite first on odd ones), so a
//! slow phase of the machine hits both sides.
//!
//! ```text
//!   insert-seq:  DoSQL(fresh db)  SQLite(fresh db)    dropped afterwards
//!   insert:      SQLite(main db)  DoSQL(main db)      builds the main dbs
//!   get:         DoSQL            SQLite
//!   scan:        SQLite           DoSQL
//!   update:      DoSQL            SQLite              then model += updates
//!   verify:      full ordered read of both main dbs against the model
//!   sql-insert:  ...                                 builds the SQL dbs
//!   sql-point, sql-range, sql-join, sql-update       same alternation
//!   verify:      full read of both SQL dbs against the SQL model
//! ```
//!
//! The SQL workloads (`crate::sql`) use their own databases (tables `t`
//! and `g`), built by `sql-insert` or, if it is not selected, loaded
//! untimed by the first SQL workload that needs them.
//!
//! If `insert` is not selected but a later workload is, the main databases
//! are loaded untimed first. `--engines` may leave one engine out (to
//! profile the other alone); the order rule is unchanged. Each engine's
//! files live in their own temporary directory, removed when the suite ends.

use std::path::Path;

use tempfile::TempDir;

use crate::config::Config;
use crate::data::{Dataset, Digest};
use crate::kv::{self, EngineKind, KvStore, Result, StoreOptions};
use crate::sql::{self, SqlData, SqlStore};
use crate::workloads::{self, Checks, Measurement, Workload};

/// SQLite's page size in every run: its default, which is what it is tuned
/// for. Only DoSQL's page size is varied.
pub const SQLITE_PAGE_SIZE: u32 = 4096;

/// The engines' results for one workload (`None`: engine not selected).
#[derive(Clone, Debug)]
pub struct Row {
    /// The workload.
    pub workload: Workload,
    /// DoSQL's result.
    pub dosql: Option<Measurement>,
    /// SQLite's result.
    pub sqlite: Option<Measurement>,
}

impl Row {
    /// DoSQL throughput divided by SQLite throughput, when both ran.
    pub fn ratio(&self) -> Option<f64> {
        let (d, s) = (self.dosql.as_ref()?, self.sqlite.as_ref()?);
        Some(d.ops_per_sec() / s.ops_per_sec().max(1e-9))
    }

    /// True when no check of either engine failed.
    pub fn ok(&self) -> bool {
        [&self.dosql, &self.sqlite]
            .into_iter()
            .flatten()
            .all(|m| m.checks.ok())
    }
}

/// The state of one engine's main database at the end of a suite.
#[derive(Clone, Debug)]
pub struct EngineEnd {
    /// Digest of the full contents (verified against the model).
    pub digest: Digest,
    /// Size of its files on disk, in bytes.
    pub disk_bytes: u64,
    /// The engine's own statistics, if it keeps any.
    pub stats: Option<String>,
}

/// Everything one suite (or the median of repeated suites) produced.
#[derive(Clone, Debug)]
pub struct SuiteReport {
    /// DoSQL page size of this suite.
    pub dosql_page_size: u32,
    /// Suites folded into this report (1 unless `--repeat`).
    pub repeats: usize,
    /// One row per workload run, in execution order.
    pub rows: Vec<Row>,
    /// DoSQL's main database at the end, when it was built.
    pub dosql_end: Option<EngineEnd>,
    /// SQLite's main database at the end, when it was built.
    pub sqlite_end: Option<EngineEnd>,
    /// DoSQL's SQL database (table `t`) at the end, when it was built.
    pub sql_dosql_end: Option<EngineEnd>,
    /// SQLite's SQL database (table `t`) at the end, when it was built.
    pub sql_sqlite_end: Option<EngineEnd>,
    /// Failures of the final verification and of the engines agreeing
    /// with each other (and with themselves across repeats).
    pub checks: Checks,
}

impl SuiteReport {
    /// True when every check passed.
    pub fn ok(&self) -> bool {
        self.checks.ok() && self.rows.iter().all(Row::ok)
    }
}

/// A store with the temporary directory that holds its files; the store is
/// dropped (closing its files) before the directory is removed.
struct Db {
    store: Box<dyn KvStore>,
    _dir: TempDir,
}

/// An SQL store with its temporary directory, as [`Db`].
struct SqlDb {
    store: Box<dyn SqlStore>,
    _dir: TempDir,
}

fn new_dir(
    kind: EngineKind,
    cfg: &Config,
    dosql_page_size: u32,
    parent: &Path,
) -> Result<(TempDir, StoreOptions)> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("{}-", kind.name()))
        .tempdir_in(parent)?;
    let page_size = match kind {
        EngineKind::Dosql => dosql_page_size,
        EngineKind::Sqlite => SQLITE_PAGE_SIZE,
    };
    let opts = StoreOptions {
        cache_bytes: cfg.cache_mib << 20,
        page_size,
    };
    Ok((dir, opts))
}

fn open_db(kind: EngineKind, cfg: &Config, dosql_page_size: u32, parent: &Path) -> Result<Db> {
    let (dir, opts) = new_dir(kind, cfg, dosql_page_size, parent)?;
    Ok(Db {
        store: kv::open(kind, dir.path(), opts)?,
        _dir: dir,
    })
}

fn open_sql_db(
    kind: EngineKind,
    cfg: &Config,
    dosql_page_size: u32,
    parent: &Path,
) -> Result<SqlDb> {
    let (dir, opts) = new_dir(kind, cfg, dosql_page_size, parent)?;
    Ok(SqlDb {
        store: sql::open(kind, dir.path(), opts)?,
        _dir: dir,
    })
}

/// The selected engines, in the order they run at workload position `i`.
fn order(i: usize, engines: &[EngineKind]) -> Vec<EngineKind> {
    let both = if i & 1 == 0 {
        [EngineKind::Dosql, EngineKind::Sqlite]
    } else {
        [EngineKind::Sqlite, EngineKind::Dosql]
    };
    both.into_iter().filter(|k| engines.contains(k)).collect()
}

fn progress(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("  .. {msg}");
    }
}

/// The main databases of a suite, opened by the first workload that needs
/// them.
#[derive(Default)]
struct Mains {
    dosql: Option<Db>,
    sqlite: Option<Db>,
}

impl Mains {
    fn slot(&mut self, kind: EngineKind) -> &mut Option<Db> {
        match kind {
            EngineKind::Dosql => &mut self.dosql,
            EngineKind::Sqlite => &mut self.sqlite,
        }
    }
}

/// The SQL databases of a suite, as [`Mains`].
#[derive(Default)]
struct SqlMains {
    dosql: Option<SqlDb>,
    sqlite: Option<SqlDb>,
}

impl SqlMains {
    fn slot(&mut self, kind: EngineKind) -> &mut Option<SqlDb> {
        match kind {
            EngineKind::Dosql => &mut self.dosql,
            EngineKind::Sqlite => &mut self.sqlite,
        }
    }
}

/// Runs `cfg.workloads` on the selected engines with DoSQL at
/// `dosql_page_size`. `data.model` ends up including the updates if
/// `update` ran. Progress goes to stderr unless `quiet`.
pub fn run_suite(
    cfg: &Config,
    data: &mut Dataset,
    dosql_page_size: u32,
    quiet: bool,
) -> Result<SuiteReport> {
    let parent = tempfile::tempdir()?;
    let mut checks = Checks::default();
    let mut rows = Vec::new();
    let mut mains = Mains::default();
    let mut sql_mains = SqlMains::default();
    // The SQL model: built only when a SQL workload runs.
    let mut sql_data = cfg
        .workloads
        .iter()
        .any(|w| w.is_sql())
        .then(|| SqlData::new(cfg, data));

    for (i, &workload) in cfg.workloads.iter().enumerate() {
        let mut row = Row {
            workload,
            dosql: None,
            sqlite: None,
        };
        for kind in order(i, &cfg.engines) {
            progress(
                quiet,
                &format!(
                    "{} on {} (page size {dosql_page_size})",
                    workload.name(),
                    kind.name()
                ),
            );
            let m = match workload {
                Workload::InsertSeq => {
                    let mut db = open_db(kind, cfg, dosql_page_size, parent.path())?;
                    let keys: Vec<u64> = (0..data.rows()).collect();
                    let mut m = workloads::run_load(db.store.as_mut(), &keys, &data.model)?;
                    let (digest, c) = workloads::verify_contents(db.store.as_mut(), data)?;
                    m.digest = digest;
                    m.checks.merge(c);
                    m
                }
                Workload::Insert => {
                    let slot = mains.slot(kind);
                    if slot.is_none() {
                        *slot = Some(open_db(kind, cfg, dosql_page_size, parent.path())?);
                    }
                    let db = slot.as_mut().expect("opened above");
                    workloads::run_load(db.store.as_mut(), &data.insert_order, &data.insert_values)?
                }
                Workload::Get | Workload::Scan | Workload::Update => {
                    let slot = mains.slot(kind);
                    if slot.is_none() {
                        progress(quiet, &format!("untimed load of {}", kind.name()));
                        let mut db = open_db(kind, cfg, dosql_page_size, parent.path())?;
                        workloads::run_load(
                            db.store.as_mut(),
                            &data.insert_order,
                            &data.insert_values,
                        )?;
                        *slot = Some(db);
                    }
                    let store = slot.as_mut().expect("opened above").store.as_mut();
                    match workload {
                        Workload::Get => workloads::run_get(store, data)?,
                        Workload::Scan => workloads::run_scan(store, data)?,
                        _ => workloads::run_update(store, data)?,
                    }
                }
                Workload::SqlInsert
                | Workload::SqlPoint
                | Workload::SqlRange
                | Workload::SqlJoin
                | Workload::SqlUpdate => {
                    let sd = sql_data.as_ref().expect("built for SQL workloads");
                    let slot = sql_mains.slot(kind);
                    if slot.is_none() {
                        let mut db = open_sql_db(kind, cfg, dosql_page_size, parent.path())?;
                        if workload != Workload::SqlInsert {
                            progress(quiet, &format!("untimed SQL load of {}", kind.name()));
                            sql::workloads::run_insert(db.store.as_mut(), sd)?;
                        }
                        *slot = Some(db);
                    }
                    let store = slot.as_mut().expect("opened above").store.as_mut();
                    match workload {
                        Workload::SqlInsert => sql::workloads::run_insert(store, sd)?,
                        Workload::SqlPoint => sql::workloads::run_point(store, sd)?,
                        Workload::SqlRange => sql::workloads::run_range(store, sd)?,
                        Workload::SqlJoin => sql::workloads::run_join(store, sd)?,
                        _ => sql::workloads::run_update(store, sd)?,
                    }
                }
            };
            match kind {
                EngineKind::Dosql => row.dosql = Some(m),
                EngineKind::Sqlite => row.sqlite = Some(m),
            }
        }
        if workload == Workload::Update {
            data.apply_updates();
        }
        if workload == Workload::SqlUpdate {
            if let Some(sd) = sql_data.as_mut() {
                sd.apply_updates();
            }
        }
        if let (Some(d), Some(s)) = (&row.dosql, &row.sqlite) {
            if d.digest != s.digest {
                checks.fail(|| {
                    format!(
                        "{}: engines disagree (DoSQL returned {} rows, SQLite {}; digests differ)",
                        workload.name(),
                        d.digest.rows,
                        s.digest.rows
                    )
                });
            }
        }
        rows.push(row);
    }

    let mut ends = [None, None];
    for (end, db) in ends.iter_mut().zip([&mut mains.dosql, &mut mains.sqlite]) {
        let Some(db) = db else { continue };
        progress(
            quiet,
            &format!("verifying {} against the model", db.store.kind().name()),
        );
        let (digest, c) = workloads::verify_contents(db.store.as_mut(), data)?;
        checks.merge(c);
        *end = Some(EngineEnd {
            digest,
            disk_bytes: db.store.disk_bytes(),
            stats: db.store.stats(),
        });
    }
    let [dosql_end, sqlite_end] = ends;
    if let (Some(d), Some(s)) = (&dosql_end, &sqlite_end) {
        if d.digest != s.digest {
            checks.fail(|| "final contents: engines disagree".into());
        }
    }
    let mut sql_ends = [None, None];
    if let Some(sd) = &sql_data {
        for (end, db) in sql_ends
            .iter_mut()
            .zip([&mut sql_mains.dosql, &mut sql_mains.sqlite])
        {
            let Some(db) = db else { continue };
            progress(
                quiet,
                &format!("verifying {} SQL tables", db.store.kind().name()),
            );
            let (digest, c) = sql::workloads::verify(db.store.as_mut(), sd)?;
            checks.merge(c);
            *end = Some(EngineEnd {
                digest,
                disk_bytes: db.store.disk_bytes(),
                stats: None,
            });
        }
    }
    let [sql_dosql_end, sql_sqlite_end] = sql_ends;
    if let (Some(d), Some(s)) = (&sql_dosql_end, &sql_sqlite_end) {
        if d.digest != s.digest {
            checks.fail(|| "final SQL contents: engines disagree".into());
        }
    }
    Ok(SuiteReport {
        dosql_page_size,
        repeats: 1,
        rows,
        dosql_end,
        sqlite_end,
        sql_dosql_end,
        sql_sqlite_end,
        checks,
    })
}

/// Folds repeated runs of the same suite into one report: per workload and
/// engine, the run with the median time (the lower median for an even
/// count), carrying the failed checks of every run. Runs whose answers
/// differ from the first run's are a failure: the data is the same.
pub fn median(mut runs: Vec<SuiteReport>) -> Option<SuiteReport> {
    let first = runs.first()?.clone();
    let mut checks = Checks::default();
    for r in &runs {
        checks.merge(r.checks.clone());
        let same_digests = r.rows.len() == first.rows.len()
            && r.rows.iter().zip(&first.rows).all(|(a, b)| {
                a.dosql.as_ref().map(|m| m.digest) == b.dosql.as_ref().map(|m| m.digest)
                    && a.sqlite.as_ref().map(|m| m.digest) == b.sqlite.as_ref().map(|m| m.digest)
            });
        if !same_digests {
            checks.fail(|| "repeated runs returned different answers".into());
        }
    }
    let pick = |ms: Vec<Measurement>| -> Option<Measurement> {
        let mut all_checks = Checks::default();
        for m in &ms {
            all_checks.merge(m.checks.clone());
        }
        let mut ms = ms;
        ms.sort_by_key(|m| m.elapsed);
        let mut mid = ms.get((ms.len().max(1) - 1) / 2)?.clone();
        mid.checks = all_checks;
        Some(mid)
    };
    let mut rows = Vec::with_capacity(first.rows.len());
    for (i, row) in first.rows.iter().enumerate() {
        let at = |r: &SuiteReport| r.rows.get(i).cloned();
        let dosql = pick(runs.iter().filter_map(at).filter_map(|r| r.dosql).collect());
        let sqlite = pick(
            runs.iter()
                .filter_map(at)
                .filter_map(|r| r.sqlite)
                .collect(),
        );
        rows.push(Row {
            workload: row.workload,
            dosql,
            sqlite,
        });
    }
    let last = runs.pop()?;
    Some(SuiteReport {
        dosql_page_size: first.dosql_page_size,
        repeats: runs.len() + 1,
        rows,
        dosql_end: last.dosql_end,
        sqlite_end: last.sqlite_end,
        sql_dosql_end: last.sql_dosql_end,
        sql_sqlite_end: last.sql_sqlite_end,
        checks,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const BOTH: [EngineKind; 2] = [EngineKind::Dosql, EngineKind::Sqlite];

    #[test]
    fn engines_alternate_first_place() {
        assert_eq!(order(0, &BOTH), BOTH.to_vec());
        assert_eq!(order(1, &BOTH), vec![EngineKind::Sqlite, EngineKind::Dosql]);
        assert_eq!(order(2, &BOTH), order(0, &BOTH));
        assert_eq!(order(1, &[EngineKind::Dosql]), vec![EngineKind::Dosql]);
    }

    fn measurement(engine: EngineKind, millis: u64, failed: u64) -> Measurement {
        let mut m = Measurement {
            engine,
            ops: 1000,
            elapsed: Duration::from_millis(millis),
            until_commit: None,
            digest: Digest::default(),
            checks: Checks::default(),
        };
        for _ in 0..failed {
            m.checks.fail(|| "bad".into());
        }
        m
    }

    fn report(dosql_ms: u64, sqlite_ms: u64, failed: u64) -> SuiteReport {
        SuiteReport {
            dosql_page_size: 4096,
            repeats: 1,
            rows: vec![Row {
                workload: Workload::Get,
                dosql: Some(measurement(EngineKind::Dosql, dosql_ms, failed)),
                sqlite: Some(measurement(EngineKind::Sqlite, sqlite_ms, 0)),
            }],
            dosql_end: None,
            sqlite_end: None,
            sql_dosql_end: None,
            sql_sqlite_end: None,
            checks: Checks::default(),
        }
    }

    #[test]
    fn median_picks_the_middle_run_per_engine_and_keeps_failures() {
        let m = median(vec![report(30, 5, 0), report(10, 50, 1), report(20, 40, 0)]).unwrap();
        assert_eq!(m.repeats, 3);
        let row = &m.rows[0];
        assert_eq!(
            row.dosql.as_ref().unwrap().elapsed,
            Duration::from_millis(20)
        );
        assert_eq!(
            row.sqlite.as_ref().unwrap().elapsed,
            Duration::from_millis(40)
        );
        assert_eq!(row.ratio().map(|r| (r * 100.0).round()), Some(200.0));
        assert_eq!(row.dosql.as_ref().unwrap().checks.failed, 1);
        assert!(!m.ok());
        assert!(median(Vec::new()).is_none());
    }

    #[test]
    fn median_flags_runs_that_disagree() {
        let mut other = report(10, 10, 0);
        other.rows[0].dosql.as_mut().unwrap().digest.add(1, &[0; 8]);
        let m = median(vec![report(10, 10, 0), other]).unwrap();
        assert_eq!(m.checks.failed, 1);
    }
}
