//! The whole shared sqllogictest corpus against the DoSQL engine: the
//! conformance gate of the SQL layer.
//!
//! Every record must pass, except the trigger records listed in
//! [`PENDING_TRIGGERS`]: CREATE/DROP TRIGGER are built in a separate
//! change, and until it lands those statements fail with "unsupported
//! statement". The list is exact (file and line), so any other failure,
//! or a trigger record failing for another reason, fails this test; once
//! triggers land the records simply pass and the list can be emptied.
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

/// Records that need CREATE/DROP TRIGGER: (file name, line).
const PENDING_TRIGGERS: &[(&str, &[usize])] = &[
    (
        "slt_lang_createtrigger.test",
        &[
            24, 39, 42, 45, 80, 83, 86, 89, 92, 95, 191, 194, 197, 200, 203, 206, 209, 212, 215,
            218,
        ],
    ),
    ("slt_lang_droptrigger.test", &[24, 27, 44]),
];

fn pending(file: &str, line: usize, message: &str) -> bool {
    let trigger = message.contains("unsupported statement: CREATE TRIGGER")
        || message.contains("unsupported statement: DROP TRIGGER");
    trigger
        && PENDING_TRIGGERS
            .iter()
            .any(|(f, lines)| file.ends_with(f) && lines.contains(&line))
}

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
            if !pending(&name, failure.line, &failure.message) {
                problems.push(format!(
                    "{name}:{}: {}\n  sql: {}",
                    failure.line, failure.message, failure.sql
                ));
            }
        }
        // The report keeps every failure, so the allowance is exact.
        assert_eq!(report.failures.len(), report.failed, "{name}");
    }
    assert!(problems.is_empty(), "failures:\n{}", problems.join("\n"));
    assert_eq!(passed + failed, RECORDS);
    assert_eq!(skipped, SKIPPED);
}
