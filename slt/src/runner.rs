//! Running parsed scripts against an engine and judging each record.
//!
//! Per file the runner keeps the hash threshold (8 until a
//! `hash-threshold` record changes it) and the digest first seen for each
//! label. Records run in order; a record counts only if it runs:
//!
//! ```text
//!   record --conditions deny "sqlite"--> skipped (not counted)
//!          --after an active halt------> skipped (not counted)
//!          --hash-threshold / halt-----> control (not counted)
//!          --statement / query---------> passed | failed
//! ```
//!
//! A query that stops with an error after it was prepared
//! ([`QueryOutput::error`]) is judged by the rows produced before the
//! error, as SQLite's reference driver did.
//!
//! A query passes when the engine's values, formatted by the type letters
//! and sorted by the sort mode, equal the expected list, or, when the
//! expectation is `N values hashing to H`, when both N and H match. A
//! labeled query also fails if its digest differs from the first digest
//! recorded for its label in the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::engine::{Engine, QueryOutput};
use crate::format::{format_rows, hash_values, sort_values};
use crate::parser::{parse, Command, Expected, Query, Script};

/// The default of the format: results above 8 values are hashed.
pub const DEFAULT_HASH_THRESHOLD: usize = 8;

/// How many values of a result a failure report keeps.
const SHOWN_VALUES: usize = 20;

/// Runner settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// The engine name that `skipif`/`onlyif` conditions are evaluated
    /// against. DoSQL speaks SQLite's dialect, so this is `sqlite`.
    pub dialect: String,
    /// Stop a script at its first failing record.
    pub fail_fast: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dialect: "sqlite".to_string(),
            fail_fast: false,
        }
    }
}

/// One failing record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Line of the record's command (0 when the file could not be read).
    pub line: usize,
    /// The record's SQL (empty for file-level failures).
    pub sql: String,
    /// What went wrong.
    pub message: String,
    /// Expected output, one entry per line (may be truncated).
    pub expected: Vec<String>,
    /// Actual output, one entry per line (may be truncated).
    pub got: Vec<String>,
}

/// The outcome of one script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Statement and query records that ran and passed.
    pub passed: usize,
    /// Records that ran and failed, plus one for a file that could not be
    /// read, parsed or opened.
    pub failed: usize,
    /// Statement and query records not run: conditions, or after `halt`.
    pub skipped: usize,
    /// Line of the `halt` that stopped the script, if any.
    pub halted_at: Option<usize>,
    /// True if `fail_fast` stopped the script early.
    pub stopped: bool,
    /// Details of every failure, in order.
    pub failures: Vec<Failure>,
}

impl Report {
    /// Records that ran.
    pub fn records(&self) -> usize {
        self.passed + self.failed
    }

    fn fail_file(message: String) -> Report {
        let failure = Failure {
            line: 0,
            sql: String::new(),
            message,
            expected: Vec::new(),
            got: Vec::new(),
        };
        Report {
            failed: 1,
            failures: vec![failure],
            ..Report::default()
        }
    }
}

/// Reads, parses and runs one file on a fresh engine from `open`.
/// Unreadable or unparsable files and engines that fail to open are
/// reported as one failure, never as a pass.
pub fn run_file<E, F>(path: &Path, open: F, config: &Config) -> Report
where
    E: Engine,
    F: FnOnce() -> Result<E, String>,
{
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => return Report::fail_file(format!("cannot read {}: {err}", path.display())),
    };
    run_text(&String::from_utf8_lossy(&bytes), open, config)
}

/// Parses and runs script text on a fresh engine from `open`.
pub fn run_text<E, F>(text: &str, open: F, config: &Config) -> Report
where
    E: Engine,
    F: FnOnce() -> Result<E, String>,
{
    let script = match parse(text) {
        Ok(script) => script,
        Err(err) => {
            let mut report = Report::fail_file(format!("parse error: {}", err.message));
            report.failures[0].line = err.line;
            return report;
        }
    };
    let mut engine = match open() {
        Ok(engine) => engine,
        Err(err) => return Report::fail_file(format!("cannot open engine: {err}")),
    };
    run_script(&script, &mut engine, config)
}

/// Runs a parsed script on `engine`, which should hold an empty database.
pub fn run_script<E: Engine + ?Sized>(script: &Script, engine: &mut E, config: &Config) -> Report {
    let mut report = Report::default();
    let mut threshold = DEFAULT_HASH_THRESHOLD;
    let mut labels: HashMap<String, String> = HashMap::new();
    for (index, record) in script.records.iter().enumerate() {
        if !record.applies_to(&config.dialect) {
            report.skipped += usize::from(record.command.is_runnable());
            continue;
        }
        let outcome = match &record.command {
            Command::HashThreshold(n) => {
                threshold = *n;
                continue;
            }
            Command::Halt => {
                report.halted_at = Some(record.line);
                report.skipped += script.records[index + 1..]
                    .iter()
                    .filter(|r| r.command.is_runnable())
                    .count();
                break;
            }
            Command::Statement { expect_error, sql } => {
                check_statement(engine.run(sql), *expect_error, sql)
            }
            Command::Query(query) => {
                check_query(engine.run(&query.sql), query, threshold, &mut labels)
            }
        };
        match outcome {
            Ok(()) => report.passed += 1,
            Err(mut failure) => {
                failure.line = record.line;
                report.failed += 1;
                report.failures.push(failure);
                if config.fail_fast {
                    report.stopped = true;
                    break;
                }
            }
        }
    }
    report
}

fn failure(sql: &str, message: String) -> Failure {
    Failure {
        line: 0,
        sql: sql.to_string(),
        message,
        expected: Vec::new(),
        got: Vec::new(),
    }
}

fn check_statement(
    result: Result<Option<QueryOutput>, String>,
    expect_error: bool,
    sql: &str,
) -> Result<(), Failure> {
    // A statement that stopped with an error mid-way failed, whatever it
    // produced before.
    let result = match result {
        Ok(Some(QueryOutput {
            error: Some(err), ..
        })) => Err(err),
        other => other,
    };
    match (result, expect_error) {
        (Ok(_), false) | (Err(_), true) => Ok(()),
        (Err(err), false) => Err(failure(sql, format!("statement failed: {err}"))),
        (Ok(_), true) => Err(failure(
            sql,
            "statement succeeded, an error was expected".into(),
        )),
    }
}

fn check_query(
    result: Result<Option<QueryOutput>, String>,
    query: &Query,
    threshold: usize,
    labels: &mut HashMap<String, String>,
) -> Result<(), Failure> {
    let sql = query.sql.as_str();
    let output = match result {
        Ok(Some(output)) => output,
        Ok(None) => return Err(failure(sql, "query returned no result set".into())),
        Err(err) => return Err(failure(sql, format!("query failed: {err}"))),
    };
    if output.columns != query.types.len() {
        return Err(failure(
            sql,
            format!(
                "wrong number of result columns: expected {}, got {}",
                query.types.len(),
                output.columns
            ),
        ));
    }
    if let Some(row) = output.rows.iter().find(|row| row.len() != output.columns) {
        return Err(failure(
            sql,
            format!(
                "engine returned a row of {} values for {} columns",
                row.len(),
                output.columns
            ),
        ));
    }
    let mut values = format_rows(&output.rows, &query.types);
    sort_values(&mut values, query.types.len(), query.sort);

    let hashed = query.label.is_some()
        || matches!(query.expected, Expected::Hash { .. })
        || (threshold > 0 && values.len() > threshold);
    let digest = hashed.then(|| hash_values(&values));
    let summary = |md5: &str| format!("{} values hashing to {md5}", values.len());

    let mut problems = Vec::new();
    let mut expected_lines = Vec::new();
    let mut got_lines = Vec::new();
    match &query.expected {
        Expected::Values(expected) => {
            if *expected != values {
                problems.push("wrong result".to_string());
                expected_lines = truncated(expected);
                got_lines = truncated(&values);
            }
        }
        Expected::Hash { count, md5 } => {
            let digest = digest.as_deref().expect("hashed when expecting a hash");
            if *count != values.len() || md5 != digest {
                problems.push("wrong result hash".to_string());
                expected_lines = vec![format!("{count} values hashing to {md5}")];
                got_lines = vec![summary(digest)];
                got_lines.extend(truncated(&values));
            }
        }
    }
    if let (Some(label), Some(digest)) = (&query.label, &digest) {
        match labels.get(label) {
            None => {
                labels.insert(label.clone(), digest.clone());
            }
            Some(first) if first == digest => {}
            Some(first) => {
                problems.push(format!(
                    "labeled result [{label}] does not agree with previous values \
                     (first: {first}, this one: {digest})"
                ));
                if got_lines.is_empty() {
                    expected_lines = vec![format!("digest of the first [{label}] result: {first}")];
                    got_lines = vec![summary(digest)];
                    got_lines.extend(truncated(&values));
                }
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    if let Some(err) = &output.error {
        problems.push(format!(
            "execution stopped with an error after {} rows: {err}",
            output.rows.len()
        ));
    }
    Err(Failure {
        line: 0,
        sql: sql.to_string(),
        message: problems.join("; "),
        expected: expected_lines,
        got: got_lines,
    })
}

/// At most `SHOWN_VALUES` values, then a note of how many were left out.
fn truncated(values: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = values.iter().take(SHOWN_VALUES).cloned().collect();
    if values.len() > SHOWN_VALUES {
        lines.push(format!("... ({} more values)", values.len() - SHOWN_VALUES));
    }
    lines
}

/// All `*.test` files under `path` (recursively, sorted by path), or
/// `path` itself if it is a file.
pub fn collect_test_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if path.is_file() {
        files.push(path.to_path_buf());
        return Ok(files);
    }
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry_path = entry?.path();
            if entry_path.is_dir() {
                pending.push(entry_path);
            } else if entry_path.extension().is_some_and(|ext| ext == "test") {
                files.push(entry_path);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Value;

    /// An engine that answers from a fixed table of SQL -> result, so the
    /// judging logic can be tested without a database.
    struct Scripted(Vec<(&'static str, Result<Option<QueryOutput>, String>)>);

    impl Engine for Scripted {
        fn run(&mut self, sql: &str) -> Result<Option<QueryOutput>, String> {
            self.0
                .iter()
                .find(|(s, _)| *s == sql)
                .map(|(_, r)| r.clone())
                .unwrap_or_else(|| Err(format!("no such SQL: {sql}")))
        }
    }

    fn ints(columns: usize, values: &[i64]) -> Result<Option<QueryOutput>, String> {
        let rows = values
            .chunks(columns)
            .map(|r| r.iter().map(|&v| Value::Integer(v)).collect());
        Ok(Some(QueryOutput {
            columns,
            rows: rows.collect(),
            error: None,
        }))
    }

    fn run(text: &str, engine: Scripted) -> Report {
        run_text(text, || Ok(engine), &Config::default())
    }

    #[test]
    fn statements_pass_and_fail_by_expectation() {
        let engine = Scripted(vec![("GOOD", Ok(None)), ("BAD", Err("boom".into()))]);
        let text = "statement ok\nGOOD\n\nstatement error\nBAD\n\nstatement ok\nBAD\n\nstatement error\nGOOD\n";
        let report = run(text, engine);
        assert_eq!((report.passed, report.failed), (2, 2));
        assert_eq!(report.failures[0].line, 7);
        assert!(report.failures[0].message.contains("boom"));
        assert_eq!(report.failures[1].line, 10);
        assert!(report.failures[1].message.contains("error was expected"));
    }

    #[test]
    fn query_values_rowsort_and_mismatch() {
        let engine = Scripted(vec![("Q", ints(2, &[3, 4, 1, 2]))]);
        let text =
            "query II rowsort\nQ\n----\n1\n2\n3\n4\n\nquery II nosort\nQ\n----\n1\n2\n3\n4\n";
        let report = run(text, engine);
        assert_eq!((report.passed, report.failed), (1, 1));
        let failure = &report.failures[0];
        assert_eq!(failure.line, 9);
        assert_eq!(failure.message, "wrong result");
        assert_eq!(failure.got, ["3", "4", "1", "2"]);
    }

    #[test]
    fn hash_threshold_default_and_override() {
        let nine: Vec<i64> = (1..=9).collect();
        let listed: String = nine.iter().map(|v| format!("{v}\n")).collect();
        let digest = crate::md5::md5_hex(listed.as_bytes());
        let engine = Scripted(vec![("Q", ints(1, &nine))]);
        let text = format!(
            "query I nosort\nQ\n----\n9 values hashing to {digest}\n\n\
             query I nosort\nQ\n----\n10 values hashing to {digest}\n\n\
             hash-threshold 0\n\nquery I nosort\nQ\n----\n{listed}"
        );
        let report = run(&text, engine);
        assert_eq!((report.passed, report.failed), (2, 1));
        assert_eq!(report.failures[0].message, "wrong result hash");
        assert_eq!(
            report.failures[0].got[0],
            format!("9 values hashing to {digest}")
        );
    }

    #[test]
    fn labels_must_agree() {
        let engine = Scripted(vec![("A", ints(1, &[1])), ("B", ints(1, &[2]))]);
        let text = "query I nosort label-1\nA\n----\n1\n\nquery I nosort label-1\nB\n----\n2\n\n\
                    query I nosort label-2\nB\n----\n2\n";
        let report = run(text, engine);
        assert_eq!((report.passed, report.failed), (2, 1));
        assert_eq!(report.failures[0].line, 6);
        assert!(report.failures[0].message.contains("label-1"));
    }

    #[test]
    fn column_count_and_query_errors_fail() {
        let engine = Scripted(vec![("Q", ints(1, &[1])), ("S", Ok(None))]);
        let text = "query II\nQ\n----\n1\n\nquery I\nS\n----\n\nquery I\nX\n----\n1\n";
        let report = run(text, engine);
        assert_eq!(report.failed, 3);
        assert!(report.failures[0].message.contains("columns"));
        assert!(report.failures[1].message.contains("no result set"));
        assert!(report.failures[2].message.contains("query failed"));
    }

    #[test]
    fn errors_after_prepare_judge_the_rows_produced() {
        let stopped = Ok(Some(QueryOutput {
            columns: 1,
            rows: vec![vec![Value::Integer(1)]],
            error: Some("integer overflow".into()),
        }));
        let engine = Scripted(vec![("Q", stopped)]);
        let text = "query I\nQ\n----\n1\n\nquery I\nQ\n----\n1\n2\n\nstatement ok\nQ\n\nstatement error\nQ\n";
        let report = run(text, engine);
        assert_eq!((report.passed, report.failed), (2, 2));
        assert_eq!(report.failures[0].line, 6);
        assert!(report.failures[0].message.contains("integer overflow"));
        assert_eq!(report.failures[1].line, 12);
        assert!(report.failures[1].message.contains("integer overflow"));
    }

    #[test]
    fn skipped_records_and_halt_are_not_counted() {
        let engine = Scripted(vec![("S", Ok(None))]);
        let text = "skipif sqlite\nstatement ok\nX\n\nonlyif mysql\nstatement ok\nX\n\n\
                    onlyif mysql\nhalt\n\nstatement ok\nS\n\nhalt\n\nstatement ok\nX\n\nquery I\nX\n";
        let report = run(text, engine);
        assert_eq!((report.passed, report.failed, report.skipped), (1, 0, 4));
        assert_eq!(report.halted_at, Some(15));
    }

    #[test]
    fn fail_fast_stops_at_first_failure() {
        let engine = Scripted(vec![]);
        let text = "statement ok\nA\n\nstatement ok\nB\n";
        let report = run_text(
            text,
            || Ok(engine),
            &Config {
                fail_fast: true,
                ..Config::default()
            },
        );
        assert_eq!((report.passed, report.failed), (0, 1));
        assert!(report.stopped);
    }

    #[test]
    fn file_level_problems_are_failures() {
        let report = run("bogus\n", Scripted(vec![]));
        assert_eq!(report.failed, 1);
        assert!(report.failures[0].message.starts_with("parse error"));
        let report = run_text(
            "statement ok\nA\n",
            || Err::<Scripted, _>("nope".to_string()),
            &Config::default(),
        );
        assert_eq!(report.failed, 1);
        let report = run_file(
            Path::new("/nonexistent/x.test"),
            || Ok(Scripted(vec![])),
            &Config::default(),
        );
        assert_eq!(report.failed, 1);
        assert!(report.failures[0].message.starts_with("cannot read"));
    }
}
