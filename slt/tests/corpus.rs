//! The whole shared sqllogictest corpus against the SQLite backend.
//!
//! SQLite itself produced these expectations, so every record must pass:
//! a failure here is a runner bug. The corpus lives outside the repository
//! at `../shared/slt` next to the workspace (never copied in).

use std::path::PathBuf;

use dosql_slt::{collect_test_files, run_file, Config, SqliteEngine};

/// Files, records run and records skipped for `sqlite`, counted
/// independently of this runner (a line scan of the 26 files following the
/// reference driver's record rules).
const FILES: usize = 26;
const RECORDS: usize = 94_779;
const SKIPPED: usize = 11_818;

#[test]
fn sqlite_passes_the_whole_corpus() {
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
        let report = run_file(file, SqliteEngine::open, &config);
        passed += report.passed;
        failed += report.failed;
        skipped += report.skipped;
        for failure in report.failures.iter().take(3) {
            problems.push(format!(
                "{}:{}: {}",
                file.display(),
                failure.line,
                failure.message
            ));
        }
    }
    assert_eq!(failed, 0, "failures:\n{}", problems.join("\n"));
    assert_eq!(passed, RECORDS);
    assert_eq!(skipped, SKIPPED);
}
