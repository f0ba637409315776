//! Command-line entry of `dosql-bench`; see `bench/README.md`.
//!
//! Exit status: 0 when every check passed, 1 when an engine returned an
//! error, 2 when a result check failed, 64 on a usage error.

use std::process::ExitCode;

use dosql_bench::config::{Config, USAGE};
use dosql_bench::report;

fn main() -> ExitCode {
    let cfg = match Config::parse(std::env::args().skip(1)) {
        Ok(cfg) => cfg,
        Err(msg) => {
            eprintln!("dosql-bench: {msg}");
            return ExitCode::from(64);
        }
    };
    if cfg.help {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    println!("{}\n", report::header(&cfg));
    let result = dosql_bench::run(&cfg, false, |suite| {
        println!("{}", report::suite_table(suite))
    });
    match result {
        Ok(reports) => {
            if reports.len() > 1 {
                println!("{}", report::sweep_table(&reports));
            }
            if reports.iter().all(|r| r.ok()) {
                ExitCode::SUCCESS
            } else {
                eprintln!("dosql-bench: result checks FAILED (see above)");
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("dosql-bench: engine error: {e}");
            ExitCode::from(1)
        }
    }
}
