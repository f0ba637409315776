//! `dosql-slt`: a sqllogictest runner for DoSQL.
//!
//! sqllogictest scripts (SQLite's conformance corpus) list SQL statements
//! and queries with their expected results. This crate parses them, runs
//! them against any [`Engine`], formats results exactly as SQLite's
//! reference driver did when the expectations were recorded, and reports
//! per-record pass/fail.
//!
//! ```text
//!   *.test --parser--> Script --runner--> Engine::run(sql) --> Value rows
//!                                  |                               |
//!                                  +-- format (I/R/T), sort, md5 <-+
//!                                  v
//!                               Report (passed, failed, skipped, failures)
//! ```
//!
//! Invariants: every file runs on a fresh, empty database; a record counts
//! only if it ran; anything the runner cannot interpret (unknown record
//! type, unreadable file, engine that will not open) is a failure, never a
//! silent pass. [`SqliteEngine`] is the reference backend: the whole corpus
//! passes on it, which is what validates the runner.

pub mod dosql;
pub mod engine;
pub mod format;
pub mod md5;
pub mod parser;
pub mod runner;
pub mod sqlite;
pub mod sqlnum;

pub use dosql::DosqlEngine;
pub use engine::{Engine, QueryOutput, Value};
pub use format::{format_value, ColumnType, SortMode};
pub use parser::{parse, ParseError, Script};
pub use runner::{collect_test_files, run_file, run_script, run_text, Config, Failure, Report};
pub use sqlite::SqliteEngine;
