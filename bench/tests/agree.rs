//! Every workload at a tiny size on both engines: the answers must pass
//! every check and the two engines must agree. Correctness only; nothing
//! here looks at timings.

use dosql_bench::config::Config;
use dosql_bench::data::Dataset;
use dosql_bench::kv::{self, EngineKind, StoreOptions};
use dosql_bench::runner::{run_suite, SuiteReport};
use dosql_bench::sql::{self, SqlData};
use dosql_bench::workloads::{self, Workload};

fn tiny() -> Config {
    Config {
        rows: 2_000,
        value_size: 100,
        cache_mib: 1,
        lookups: 1_500,
        scans: 200,
        updates: 700,
        updates_per_txn: 10,
        joins: 2,
        ..Config::default()
    }
}

fn assert_clean(report: &SuiteReport) {
    assert!(
        report.checks.ok(),
        "verification failed: {:?}",
        report.checks
    );
    for row in &report.rows {
        let name = row.workload.name();
        let dosql = row.dosql.as_ref().expect("DoSQL ran");
        let sqlite = row.sqlite.as_ref().expect("SQLite ran");
        assert!(dosql.checks.ok(), "{name} on DoSQL: {:?}", dosql.checks);
        assert!(sqlite.checks.ok(), "{name} on SQLite: {:?}", sqlite.checks);
        assert_eq!(dosql.digest, sqlite.digest, "{name}: engines disagree");
        assert_eq!(dosql.ops, sqlite.ops, "{name}");
        assert!(dosql.ops > 0, "{name}");
    }
    assert!(report.ok());
}

#[test]
fn every_workload_agrees_on_both_engines() {
    let cfg = tiny();
    let mut data = Dataset::generate(&cfg);
    let report = run_suite(&cfg, &mut data, 4096, true).expect("suite runs");
    let ran: Vec<Workload> = report.rows.iter().map(|r| r.workload).collect();
    assert_eq!(ran, Workload::ALL.to_vec());
    assert_clean(&report);
    let by = |w: Workload| report.rows.iter().find(|r| r.workload == w).expect("ran");
    // The read workloads saw exactly the rows asked for.
    assert_eq!(
        by(Workload::Get).dosql.as_ref().unwrap().digest.rows,
        cfg.lookups
    );
    let scanned: u64 = data
        .scan_starts
        .iter()
        .map(|&s| data.expected_scan_len(s) as u64)
        .sum();
    assert_eq!(
        by(Workload::Scan).sqlite.as_ref().unwrap().digest.rows,
        scanned
    );
    // The sequential load was verified row by row on each engine.
    assert_eq!(
        by(Workload::InsertSeq).dosql.as_ref().unwrap().digest.rows,
        cfg.rows
    );
    // Both main databases hold the model, updates included.
    let (d, s) = (
        report.dosql_end.expect("built"),
        report.sqlite_end.expect("built"),
    );
    assert_eq!(d.digest, s.digest);
    assert_eq!(d.digest.rows, cfg.rows);
    assert!(d.disk_bytes > 0 && s.disk_bytes > 0);
    // The SQL workloads saw the rows asked for, and both SQL databases
    // hold the SQL model, updates included.
    assert_eq!(
        by(Workload::SqlPoint).dosql.as_ref().unwrap().digest.rows,
        cfg.lookups
    );
    assert_eq!(
        by(Workload::SqlRange).sqlite.as_ref().unwrap().digest.rows,
        scanned
    );
    assert_eq!(
        by(Workload::SqlJoin).dosql.as_ref().unwrap().digest.rows,
        cfg.joins * 1000
    );
    let (d, s) = (
        report.sql_dosql_end.expect("built"),
        report.sql_sqlite_end.expect("built"),
    );
    assert_eq!(d.digest, s.digest);
    assert_eq!(d.digest.rows, cfg.rows);
}

#[test]
fn sql_workloads_alone_load_untimed() {
    let cfg = Config {
        workloads: vec![Workload::SqlRange, Workload::SqlUpdate],
        rows: 700,
        ..tiny()
    };
    let mut data = Dataset::generate(&cfg);
    let report = run_suite(&cfg, &mut data, 4096, true).expect("suite runs");
    assert_eq!(report.rows.len(), 2);
    assert_clean(&report);
    assert!(report.dosql_end.is_none(), "no storage-level database");
    assert_eq!(report.sql_sqlite_end.expect("built").digest.rows, 700);
}

#[test]
fn wrong_sql_answers_are_caught_on_both_engines() {
    // Load one SQL data set, then check against a model with another seed
    // (other k permutation, other v): the checks must fire.
    let cfg = Config {
        rows: 300,
        lookups: 300,
        scans: 20,
        joins: 1,
        ..tiny()
    };
    let loaded = SqlData::new(&cfg, &Dataset::generate(&cfg));
    let other_cfg = Config {
        seed: 99 << 7,
        ..cfg.clone()
    };
    let mut other = SqlData::new(&other_cfg, &Dataset::generate(&other_cfg));
    other.point_ids = loaded.point_ids.clone();
    other.range_starts = loaded.range_starts.clone();
    for kind in [EngineKind::Dosql, EngineKind::Sqlite] {
        let dir = tempfile::tempdir().unwrap();
        let opts = StoreOptions {
            cache_bytes: 1 << 20,
            page_size: 4096,
        };
        let mut store = sql::open(kind, dir.path(), opts).unwrap();
        sql::workloads::run_insert(store.as_mut(), &loaded).unwrap();
        let good = sql::workloads::run_point(store.as_mut(), &loaded).unwrap();
        assert!(good.checks.ok(), "{kind:?}: {:?}", good.checks);
        let good = sql::workloads::run_range(store.as_mut(), &loaded).unwrap();
        assert!(good.checks.ok(), "{kind:?}: {:?}", good.checks);
        let good = sql::workloads::run_join(store.as_mut(), &loaded).unwrap();
        assert!(good.checks.ok(), "{kind:?}: {:?}", good.checks);
        let bad = sql::workloads::run_point(store.as_mut(), &other).unwrap();
        assert_eq!(bad.checks.failed, 300, "{kind:?}");
        let bad = sql::workloads::run_range(store.as_mut(), &other).unwrap();
        assert!(bad.checks.failed >= 20, "{kind:?}");
        let (_, checks) = sql::workloads::verify(store.as_mut(), &other).unwrap();
        assert_eq!(checks.failed, 300, "{kind:?}");
        // Ids that were never inserted are reported missing.
        let mut missing = loaded.clone();
        missing.point_ids = vec![300, 301];
        let m = sql::workloads::run_point(store.as_mut(), &missing).unwrap();
        assert_eq!(m.checks.failed, 2, "{kind:?}");
        assert!(m.checks.messages[0].contains("no row"));
    }
}

#[test]
fn reads_without_the_timed_load_and_another_page_size() {
    // `get,update` alone: the main databases are loaded untimed first.
    let cfg = Config {
        workloads: vec![Workload::Get, Workload::Update],
        rows: 500,
        ..tiny()
    };
    let mut data = Dataset::generate(&cfg);
    let report = run_suite(&cfg, &mut data, 16384, true).expect("suite runs");
    assert_eq!(report.rows.len(), 2);
    assert_clean(&report);
    assert_eq!(report.dosql_end.expect("built").digest.rows, 500);
}

#[test]
fn one_engine_alone_and_repeats() {
    let cfg = Config {
        engines: vec![EngineKind::Dosql],
        repeat: 2,
        rows: 400,
        ..tiny()
    };
    let reports = dosql_bench::run(&cfg, true, |_| {}).expect("runs");
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report.repeats, 2);
    assert!(report.ok(), "{:?}", report.checks);
    for row in &report.rows {
        assert!(row.sqlite.is_none() && row.ratio().is_none());
        assert!(row.dosql.as_ref().expect("ran").checks.ok());
    }
    assert!(report.sqlite_end.is_none());
    assert_eq!(report.dosql_end.as_ref().expect("built").digest.rows, 400);
}

#[test]
fn wrong_answers_are_caught_on_both_engines() {
    // Load one data set, then check the reads against another model: every
    // check must fire rather than pass silently.
    let cfg = Config {
        rows: 300,
        lookups: 300,
        scans: 20,
        ..tiny()
    };
    let loaded = Dataset::generate(&cfg);
    let mut other = Dataset::generate(&Config {
        seed: 99,
        ..cfg.clone()
    });
    other.lookup_keys = loaded.lookup_keys.clone();
    for kind in [EngineKind::Dosql, EngineKind::Sqlite] {
        let dir = tempfile::tempdir().unwrap();
        let opts = StoreOptions {
            cache_bytes: 1 << 20,
            page_size: 4096,
        };
        let mut store = kv::open(kind, dir.path(), opts).unwrap();
        workloads::run_load(store.as_mut(), &loaded.insert_order, &loaded.insert_values).unwrap();
        let good = workloads::run_get(store.as_mut(), &loaded).unwrap();
        assert!(good.checks.ok(), "{kind:?}: {:?}", good.checks);
        let bad = workloads::run_get(store.as_mut(), &other).unwrap();
        assert_eq!(bad.checks.failed, 300, "{kind:?}");
        let bad = workloads::run_scan(store.as_mut(), &other).unwrap();
        assert!(bad.checks.failed >= 20, "{kind:?}");
        let (_, checks) = workloads::verify_contents(store.as_mut(), &other).unwrap();
        assert_eq!(checks.failed, 300, "{kind:?}");
        // Keys that were never loaded are reported missing.
        let mut missing = loaded.clone();
        missing.lookup_keys = vec![300, 301];
        let m = workloads::run_get(store.as_mut(), &missing).unwrap();
        assert_eq!(m.checks.failed, 2, "{kind:?}");
        assert!(m.checks.messages[0].contains("not found"));
    }
}
