//! `dosql-bench`: the DoSQL storage engine against SQLite, in one process
//! and one run, on the same data and the same page-cache budget.
//!
//! ```text
//!   config  --flags-->  data (seeded data set + model)
//!                         |
//!   runner: per workload, both engines back to back, alternating first
//!     |          |
//!     |      workloads (timed units + result checks)
//!     |          |
//!     |      kv::KvStore --> DosqlKv  (dosql::mvcc::Engine, SyncMode::Normal)
//!     |                 \--> SqliteKv (rusqlite bundled, WAL, synchronous=NORMAL)
//!   report: tables of ops/s and DoSQL/SQLite ratios
//! ```
//!
//! Workloads are storage level (key/value rows, through [`kv::KvStore`])
//! or SQL level (`sql-*`, through [`sql::SqlStore`]: DoSQL's
//! `dosql::sql::Database` against SQLite running the same SQL text), all
//! variants of [`workloads::Workload`], each printed as a ratio against
//! SQLite in the same run.
//!
//! Invariant of every run: every answer an engine gives is checked against
//! the model in [`data::Dataset`], and the two engines' answers are
//! compared with each other; any mismatch fails the run.

pub mod config;
pub mod data;
pub mod kv;
pub mod lake;
pub mod report;
pub mod runner;
pub mod sql;
pub mod workloads;

use config::Config;
use data::Dataset;
use kv::Result;
use runner::SuiteReport;

/// Runs `cfg.repeat` suites per DoSQL page size of `cfg` (one size,
/// unless sweeping), each on a fresh copy of the data set, and folds the
/// repeats into medians; calls `done` with each page size's report.
pub fn run(
    cfg: &Config,
    quiet: bool,
    mut done: impl FnMut(&SuiteReport),
) -> Result<Vec<SuiteReport>> {
    let data = Dataset::generate(cfg);
    let mut reports = Vec::new();
    for page_size in cfg.dosql_page_sizes() {
        let mut runs = Vec::with_capacity(cfg.repeat);
        for _ in 0..cfg.repeat {
            // Updates change the model, so each suite starts from the original.
            let mut suite_data = data.clone();
            runs.push(runner::run_suite(cfg, &mut suite_data, page_size, quiet)?);
        }
        let report = runner::median(runs).expect("repeat is at least 1");
        done(&report);
        reports.push(report);
    }
    Ok(reports)
}
