//! Hand-written scripts under tests/data: one that must pass completely,
//! and ones with deliberately wrong expectations that the runner must
//! report record by record (it must not pass everything blindly).

use std::path::{Path, PathBuf};
use std::process::Command;

use dosql_slt::{run_file, run_text, Config, Report, SqliteEngine};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn run(name: &str) -> Report {
    run_file(&data(name), SqliteEngine::open, &Config::default())
}

/// Line numbers of the records that follow a `# <marker>` comment line.
fn marked_records(name: &str, marker: &str) -> Vec<usize> {
    let text = std::fs::read_to_string(data(name)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with(&format!("# {marker}")) {
            let record = (i + 1..lines.len())
                .find(|&j| lines[j].starts_with("statement") || lines[j].starts_with("query"))
                .expect("a record follows the marker");
            found.push(record + 1);
        }
    }
    found
}

#[test]
fn good_file_passes_every_record() {
    let report = run("good.test");
    assert_eq!(report.failures, []);
    assert_eq!((report.passed, report.failed, report.skipped), (17, 0, 3));
    assert!(report.halted_at.is_some());
}

#[test]
fn crlf_line_endings_change_nothing() {
    let text = std::fs::read_to_string(data("good.test")).unwrap();
    assert!(!text.contains('\r'));
    let crlf = text.replace('\n', "\r\n");
    let report = run_text(&crlf, SqliteEngine::open, &Config::default());
    assert_eq!(report, run("good.test"));
}

#[test]
fn wrong_expectations_are_reported_record_by_record() {
    let report = run("wrong.test");
    let wrong = marked_records("wrong.test", "WRONG");
    let right = marked_records("wrong.test", "RIGHT");
    assert_eq!((wrong.len(), right.len()), (13, 4));
    let failed_lines: Vec<usize> = report.failures.iter().map(|f| f.line).collect();
    assert_eq!(failed_lines, wrong);
    assert_eq!(
        (report.passed, report.failed, report.skipped),
        (right.len(), wrong.len(), 0)
    );

    let message = |line: usize| {
        let failure = report.failures.iter().find(|f| f.line == line).unwrap();
        failure.message.clone()
    };
    assert_eq!(message(wrong[0]), "wrong result");
    assert!(message(wrong[6]).starts_with("wrong number of result columns"));
    assert_eq!(message(wrong[7]), "wrong result hash");
    assert_eq!(message(wrong[8]), "wrong result hash");
    assert!(message(wrong[9]).starts_with("statement failed"));
    assert!(message(wrong[10]).contains("error was expected"));
    assert!(message(wrong[11]).starts_with("query failed"));
    assert!(message(wrong[12]).contains("label-a"));
}

#[test]
fn fail_fast_stops_at_the_first_wrong_record() {
    let config = Config {
        fail_fast: true,
        ..Config::default()
    };
    let report = run_file(&data("wrong.test"), SqliteEngine::open, &config);
    assert_eq!((report.passed, report.failed), (2, 1));
    assert!(report.stopped);
}

#[test]
fn nothing_runs_after_halt() {
    let report = run("halt.test");
    assert_eq!(report.failures, []);
    assert_eq!((report.passed, report.failed, report.skipped), (3, 0, 2));
    assert_eq!(report.halted_at, Some(15));
}

#[test]
fn malformed_file_fails() {
    let report = run("malformed.test");
    assert_eq!((report.passed, report.failed), (0, 1));
    assert_eq!(report.failures[0].line, 4);
    assert!(report.failures[0]
        .message
        .contains("unknown type character 'Q'"));
}

fn cli(args: &[&Path]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dosql-slt"))
        .args(["--engine", "sqlite"])
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[test]
fn cli_reports_and_exit_codes() {
    let good = data("good.test");
    let (code, out) = cli(&[&good]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.starts_with(&format!("PASS {} (17 records)\n", good.display())),
        "{out}"
    );
    assert!(out.contains("skipped 3 records"), "{out}");
    assert_eq!(out.lines().last(), Some("17 passed, 0 failed"));

    let wrong = data("wrong.test");
    let (code, out) = cli(&[&wrong]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with(&format!("FAIL {} (passed 4, failed 13)\n", wrong.display())),
        "{out}"
    );
    assert!(out.contains("  line 13: wrong result\n"), "{out}");
    assert!(out.contains("... 10 more failures"), "{out}");
    assert_eq!(out.lines().last(), Some("4 passed, 13 failed"));

    // A folder runs every .test file in it, sorted by path.
    let (code, out) = cli(&[&data("")]);
    assert_eq!(code, Some(1), "{out}");
    let verdicts: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("PASS") || l.starts_with("FAIL"))
        .collect();
    assert_eq!(verdicts.len(), 4, "{out}");
    assert_eq!(out.lines().last(), Some("24 passed, 14 failed"));
}
