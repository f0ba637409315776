//! `dosql-slt`: run sqllogictest files against an engine.
//!
//! ```text
//! dosql-slt [--engine sqlite|dosql] [--verbose] [--fail-fast] PATH...
//! ```
//!
//! Each PATH is a `.test` file or a folder searched recursively for
//! `*.test`. Output: one `PASS`/`FAIL` line per file (with the first
//! failures of a failing file), a line with the skipped count and timing,
//! and finally exactly `N passed, M failed` over all records that ran.
//! The exit status is 0 only if nothing failed; 2 means bad usage.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use dosql_slt::{collect_test_files, run_file, Config, DosqlEngine, Failure, Report, SqliteEngine};

/// Failures printed per failing file without `--verbose`.
const SHOWN_FAILURES: usize = 3;

const USAGE: &str = "usage: dosql-slt [--engine sqlite|dosql] [--verbose] [--fail-fast] PATH...";

/// The backends the binary can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EngineKind {
    Sqlite,
    Dosql,
}

impl EngineKind {
    fn from_name(name: &str) -> Option<EngineKind> {
        match name {
            "sqlite" => Some(EngineKind::Sqlite),
            "dosql" => Some(EngineKind::Dosql),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Options {
    engine: EngineKind,
    verbose: bool,
    fail_fast: bool,
    paths: Vec<PathBuf>,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        engine: EngineKind::Sqlite,
        verbose: false,
        fail_fast: false,
        paths: Vec::new(),
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--verbose" | "-v" => options.verbose = true,
            "--fail-fast" => options.fail_fast = true,
            "--engine" => {
                let name = args.next().ok_or("--engine needs a name")?;
                options.engine =
                    EngineKind::from_name(&name).ok_or(format!("unknown engine '{name}'"))?;
            }
            "--help" | "-h" => return Err(String::new()),
            _ if arg.starts_with("--engine=") => {
                let name = &arg["--engine=".len()..];
                options.engine =
                    EngineKind::from_name(name).ok_or(format!("unknown engine '{name}'"))?;
            }
            _ if arg.starts_with('-') && arg.len() > 1 => {
                return Err(format!("unknown option '{arg}'"));
            }
            _ => options.paths.push(PathBuf::from(arg)),
        }
    }
    if options.paths.is_empty() {
        return Err("no PATH given".to_string());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("dosql-slt: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut files = Vec::new();
    for path in &options.paths {
        match collect_test_files(path) {
            Ok(found) if found.is_empty() => {
                eprintln!("dosql-slt: no .test files under {}", path.display());
                return ExitCode::from(2);
            }
            Ok(found) => files.extend(found),
            Err(err) => {
                eprintln!("dosql-slt: {}: {err}", path.display());
                return ExitCode::from(2);
            }
        }
    }

    let config = Config {
        fail_fast: options.fail_fast,
        ..Config::default()
    };
    let started = Instant::now();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let (mut files_passed, mut files_failed) = (0, 0);
    for file in &files {
        let file_started = Instant::now();
        let report = match options.engine {
            EngineKind::Sqlite => run_file(file, SqliteEngine::open, &config),
            EngineKind::Dosql => run_file(file, DosqlEngine::open, &config),
        };
        passed += report.passed;
        failed += report.failed;
        skipped += report.skipped;
        print_file(
            file,
            &report,
            options.verbose,
            file_started.elapsed().as_secs_f64(),
        );
        if report.failed == 0 {
            files_passed += 1;
        } else {
            files_failed += 1;
            if options.fail_fast {
                println!("stopping after the first failure (--fail-fast)");
                break;
            }
        }
    }
    println!("skipped {skipped} records (skipif/onlyif conditions and halt)");
    println!(
        "{} files in {:.2}s: {files_passed} passed, {files_failed} failed",
        files_passed + files_failed,
        started.elapsed().as_secs_f64()
    );
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_file(file: &std::path::Path, report: &Report, verbose: bool, seconds: f64) {
    let path = file.display();
    if report.failed == 0 {
        println!("PASS {path} ({} records)", report.records());
    } else {
        println!(
            "FAIL {path} (passed {}, failed {})",
            report.passed, report.failed
        );
    }
    if verbose {
        let halt = report
            .halted_at
            .map(|line| format!(", halted at line {line}"))
            .unwrap_or_default();
        println!("  {} skipped, {seconds:.2}s{halt}", report.skipped);
    }
    let shown = if verbose {
        report.failures.len()
    } else {
        SHOWN_FAILURES
    };
    for failure in report.failures.iter().take(shown) {
        print_failure(failure);
    }
    if report.failures.len() > shown {
        println!(
            "  ... {} more failures (--verbose shows all)",
            report.failures.len() - shown
        );
    }
}

fn print_failure(failure: &Failure) {
    println!("  line {}: {}", failure.line, failure.message);
    for (i, line) in failure.sql.lines().enumerate() {
        println!("    {} {line}", if i == 0 { "sql:" } else { "    " });
    }
    if failure.expected.is_empty() && failure.got.is_empty() {
        return;
    }
    for (title, lines) in [("expected:", &failure.expected), ("got:", &failure.got)] {
        println!("    {title}");
        if lines.is_empty() {
            println!("      (no values)");
        }
        for line in lines {
            println!("      {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Options, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn options_parse() {
        let options = args(&[
            "--engine",
            "sqlite",
            "--verbose",
            "--fail-fast",
            "a.test",
            "dir",
        ])
        .unwrap();
        assert_eq!(options.engine, EngineKind::Sqlite);
        assert!(options.verbose && options.fail_fast);
        assert_eq!(
            options.paths,
            [PathBuf::from("a.test"), PathBuf::from("dir")]
        );
        assert!(args(&["--engine=sqlite", "x"]).is_ok());
        assert_eq!(
            args(&["--engine=dosql", "x"]).unwrap().engine,
            EngineKind::Dosql
        );
    }

    #[test]
    fn bad_options_are_rejected() {
        assert!(args(&[]).unwrap_err().contains("no PATH"));
        assert!(args(&["--engine", "oracle", "x"])
            .unwrap_err()
            .contains("unknown engine"));
        assert!(args(&["--engine"]).unwrap_err().contains("needs a name"));
        assert!(args(&["--frobnicate", "x"])
            .unwrap_err()
            .contains("unknown option"));
    }
}
