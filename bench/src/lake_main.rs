//! Command-line entry of `dosql-bench-lake` (the live pipeline, see
//! `bench/src/lake.rs` and `bench/README.md`).
//!
//! Exit status: 0 when the run and its checks passed, 1 otherwise, 64 on a
//! usage error.

use std::process::ExitCode;

use dolake::lake::FlushPolicy;
use dosql_bench::lake::{lag, throughput, LakeBench};
use dosql_bench::report::{mib, thousands};

const USAGE: &str = "usage: dosql-bench-lake [--rows N] [--txn-rows N] [--lag-commits N] \
                     [--lag-gap-ms MS] [--no-lag] [--quick]\n";

fn parse(mut args: impl Iterator<Item = String>) -> Result<(LakeBench, bool), String> {
    let mut cfg = LakeBench::default();
    let mut run_lag = true;
    while let Some(flag) = args.next() {
        let mut number = || -> Result<u64, String> {
            let v = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            v.parse()
                .map_err(|_| format!("{flag} takes a whole number, not {v:?}"))
        };
        match flag.as_str() {
            "--rows" => cfg.rows = number()?,
            "--txn-rows" => cfg.txn_rows = number()?.max(1),
            "--lag-commits" => cfg.lag_commits = number()? as u32,
            "--lag-gap-ms" => cfg.lag_gap_ms = number()?,
            "--no-lag" => run_lag = false,
            "--quick" => {
                cfg.rows = 10_000;
                cfg.lag_commits = 4;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok((cfg, run_lag))
}

fn secs(d: std::time::Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() -> ExitCode {
    let (cfg, run_lag) = match parse(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(m) => {
            eprint!("{m}");
            return ExitCode::from(64);
        }
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("dosql-bench-lake: no temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let t = match throughput(&cfg, dir.path()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("dosql-bench-lake: throughput run failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rate = |d: std::time::Duration| t.rows as f64 / d.as_secs_f64();
    println!(
        "live pipeline, one shard: {} rows in transactions of {}, DoSQL + lake SyncMode::Full, \
         flush policy {:?}",
        thousands(t.rows as f64),
        cfg.txn_rows,
        FlushPolicy::default()
    );
    println!("| measure | value |\n|---|---|");
    println!(
        "| commit -> committed Parquet | {} rows/s ({}, {} flushes) |",
        thousands(rate(t.elapsed)),
        secs(t.elapsed),
        t.flushes
    );
    println!(
        "| of which commits / shipping / flushes | {} / {} / {} |",
        secs(t.commit),
        secs(t.ship),
        secs(t.flush)
    );
    println!(
        "| SQLite, same inserts (WAL, synchronous=FULL) | {} rows/s ({}) |",
        thousands(rate(t.sqlite)),
        secs(t.sqlite)
    );
    println!(
        "| pipeline / SQLite inserts | {:.2}x |",
        rate(t.elapsed) / rate(t.sqlite)
    );
    let s = &t.sizes;
    println!(
        "| Parquet data files | {} ({:.2}x CSV, {:.2}x SQLite file) |",
        mib(s.parquet),
        s.parquet as f64 / s.csv as f64,
        s.parquet as f64 / s.sqlite as f64
    );
    println!("| same rows as CSV | {} |", mib(s.csv));
    println!("| same rows in a SQLite file | {} |", mib(s.sqlite));
    if run_lag {
        match lag(&cfg, dir.path(), FlushPolicy::default()) {
            Ok(l) => println!(
                "| commit -> visible snapshot, default policy ({} commits, {} ms apart) | \
                 median {}, max {} |",
                l.lags.len(),
                cfg.lag_gap_ms,
                secs(l.median()),
                secs(l.max())
            ),
            Err(e) => {
                eprintln!("dosql-bench-lake: lag run failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
