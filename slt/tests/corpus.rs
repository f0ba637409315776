//! The whole shared sqllogictest corpus, against SQLite and against DoSQL.
//!
//! * SQLite produced these expectations, so every record must pass on it:
//!   a failure there is a runner bug.
//! * DoSQL: the conformance gate of the SQL layer. Every record of every
//!   file must pass: no allowance, no skipped file. It runs in about a
//!   minute in release and a few minutes in the test profile (opt-level 1).
//!
//! The corpus lives outside the repository at `../shared/slt` next to the
//! workspace (never copied in). The two runs are two tests of one binary,
//! so they run side by side.

use std::path::PathBuf;

use dosql_slt::{collect_test_files, run_file, Config, DosqlEngine, Engine, SqliteEngine};

/// Files, records run and records skipped, counted independently of this
/// runner (a line scan of the 26 files following the reference driver's
/// record rules); both engines must run exactly these.
const FILES: usize = 26;
const RECORDS: usize = 94_779;
const SKIPPED: usize = 11_818;

/// Runs every file of the corpus on a fresh engine from `open` and checks
/// that every record passes and the counts are the reference's.
fn passes_the_whole_corpus<E: Engine>(open: fn() -> Result<E, String>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/slt");
    assert!(
        root.is_dir(),
        "sqllogictest corpus not found at {} (expected ../shared/slt next to the workspace)",
        root.display()
    );
    let files = collect_test_files(&root).unwrap();
    assert_eq!(files.len(), FILES);
    let config = Config::default();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut problems = Vec::new();
    for file in &files {
        let report = run_file(file, open, &config);
        passed += report.passed;
        failed += report.failed;
        skipped += report.skipped;
        let name = file.display().to_string();
        for failure in &report.failures {
            problems.push(format!(
                "{name}:{}: {}\n  sql: {}",
                failure.line, failure.message, failure.sql
            ));
        }
    }
    assert!(problems.is_empty(), "failures:\n{}", problems.join("\n"));
    assert_eq!(failed, 0);
    assert_eq!(passed, RECORDS);
    assert_eq!(skipped, SKIPPED);
}

#[test]
fn sqlite_passes_the_whole_corpus() {
    passes_the_whole_corpus(SqliteEngine::open);
}

#[test]
fn dosql_passes_the_whole_corpus() {
    passes_the_whole_corpus(DosqlEngine::open);
}
