//! The whole shared sqllogictest corpus against the DoSQL engine: the
//! conformance gate of the SQL layer.
//!
//! Every record of every file must pass: no allowance, no skipped file.
//!
//! The corpus lives outside the repository at `../shared/slt` next to the
//! workspace (never copied in). It runs in about a minute in release and a
//! few minutes in the test profile (opt-level 1).

use std::path::PathBuf;

use dosql_slt::{collect_test_files, run_file, Config, DosqlEngine};

/// The same counts as the SQLite reference run (`tests/corpus.rs`).
const FILES: usize = 26;
const RECORDS: usize = 94_779;
const SKIPPED: usize = 11_818;

#[test]
fn dosql_passes_the_whole_corpus() {
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
        let report = run_file(file, DosqlEngine::open, &config);
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
