//! Plain-text tables of a run's results.
//!
//! One table per suite (workload x engine) and, for a page-size sweep, one
//! summary table (workload x DoSQL page size). A ratio is DoSQL ops/s over
//! SQLite ops/s measured in the same suite, minutes apart at most: above
//! 1.00x DoSQL is faster.

use std::fmt::Write;

use crate::config::Config;
use crate::runner::{Row, SuiteReport, SQLITE_PAGE_SIZE};
use crate::workloads::Measurement;

/// `1234567.8` as `1,234,568`.
pub fn thousands(x: f64) -> String {
    let n = x.round().max(0.0) as u64;
    let digits = n.to_string();
    // The leading group has 1 to 3 digits; every later group has 3.
    let lead = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    let mut out = digits[..lead].to_string();
    for group in digits.as_bytes()[lead..].chunks(3) {
        out.push(',');
        out.extend(group.iter().map(|&b| b as char));
    }
    out
}

/// `1536 * 1024` bytes as `1.5 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// The settings line printed above every table.
pub fn header(cfg: &Config) -> String {
    format!(
        "{} rows x {} B values, cache {} MiB per engine, SQLite page size {SQLITE_PAGE_SIZE}, \
         WAL + synchronous=NORMAL on both, seed {:#x}\n\
         lookups {}, scans {} x {} rows, updates {} ({} per txn), joins {}, \
         {} run(s) per suite (median)",
        cfg.rows,
        cfg.value_size,
        cfg.cache_mib,
        cfg.seed,
        cfg.lookups,
        cfg.scans,
        cfg.scan_len,
        cfg.updates,
        cfg.updates_per_txn,
        cfg.joins,
        cfg.repeat,
    )
}

/// Ops/s of a measurement; below 100 with two decimals, so that slow
/// workloads (the SQL join runs a few queries per second) keep a readable
/// figure.
fn ops(m: Option<&Measurement>) -> String {
    m.map_or_else(
        || "-".into(),
        |m| match m.ops_per_sec() {
            x if x < 100.0 => format!("{x:.2}"),
            x => thousands(x),
        },
    )
}

fn secs(m: Option<&Measurement>) -> String {
    m.map_or_else(|| "-".into(), |m| format!("{:.3}", m.elapsed.as_secs_f64()))
}

fn ratio(row: &Row) -> String {
    row.ratio()
        .map_or_else(|| "-".into(), |r| format!("{r:.2}x"))
}

/// The table of one suite, with details and any failed checks.
pub fn suite_table(report: &SuiteReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "DoSQL page size {}", report.dosql_page_size);
    let _ = writeln!(
        s,
        "{:<11} {:<10} {:>13} {:>13} {:>8} {:>9} {:>9}  checks",
        "workload", "unit", "DoSQL ops/s", "SQLite ops/s", "ratio", "DoSQL s", "SQLite s"
    );
    for row in &report.rows {
        let (d, q) = (row.dosql.as_ref(), row.sqlite.as_ref());
        let _ = writeln!(
            s,
            "{:<11} {:<10} {:>13} {:>13} {:>8} {:>9} {:>9}  {}",
            row.workload.name(),
            row.workload.unit(),
            ops(d),
            ops(q),
            ratio(row),
            secs(d),
            secs(q),
            if row.ok() { "ok" } else { "FAILED" },
        );
    }
    for row in &report.rows {
        let until = |m: Option<&Measurement>| {
            m.and_then(|m| m.until_commit)
                .map_or_else(|| "-".into(), |t| format!("{:.3} s", t.as_secs_f64()))
        };
        if row
            .dosql
            .iter()
            .chain(&row.sqlite)
            .any(|m| m.until_commit.is_some())
        {
            let _ = writeln!(
                s,
                "  {}: until last commit DoSQL {}, SQLite {}; the rest is the final checkpoint",
                row.workload.name(),
                until(row.dosql.as_ref()),
                until(row.sqlite.as_ref()),
            );
        }
    }
    for (name, end, what) in [
        ("DoSQL", &report.dosql_end, "rows"),
        ("SQLite", &report.sqlite_end, "rows"),
        ("DoSQL", &report.sql_dosql_end, "SQL rows of t"),
        ("SQLite", &report.sql_sqlite_end, "SQL rows of t"),
    ] {
        if let Some(end) = end {
            let _ = writeln!(
                s,
                "  {name} at the end: {} {what} verified against the model, {} on disk",
                end.digest.rows,
                mib(end.disk_bytes)
            );
        }
    }
    if let Some(stats) = report.dosql_end.as_ref().and_then(|e| e.stats.as_ref()) {
        let _ = writeln!(s, "  DoSQL stats: {stats}");
    }
    for row in &report.rows {
        for (name, m) in [("DoSQL", &row.dosql), ("SQLite", &row.sqlite)] {
            let Some(m) = m.as_ref().filter(|m| !m.checks.ok()) else {
                continue;
            };
            let _ = writeln!(
                s,
                "  FAILED {} on {name}: {} checks",
                row.workload.name(),
                m.checks.failed
            );
            for msg in &m.checks.messages {
                let _ = writeln!(s, "    {msg}");
            }
        }
    }
    if !report.checks.ok() {
        let _ = writeln!(s, "  FAILED verification: {} checks", report.checks.failed);
        for msg in &report.checks.messages {
            let _ = writeln!(s, "    {msg}");
        }
    }
    s
}

/// The summary of a page-size sweep: DoSQL ops/s per page size, with the
/// ratio to the SQLite run of the same suite.
pub fn sweep_table(reports: &[SuiteReport]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "DoSQL page-size sweep: DoSQL ops/s (ratio to SQLite in the same suite)"
    );
    let _ = write!(s, "{:<11} {:<10}", "workload", "unit");
    for r in reports {
        let _ = write!(s, " {:>22}", format!("page {}", r.dosql_page_size));
    }
    s.push('\n');
    let Some(first) = reports.first() else {
        return s;
    };
    for (i, row) in first.rows.iter().enumerate() {
        let _ = write!(s, "{:<11} {:<10}", row.workload.name(), row.workload.unit());
        for r in reports {
            let cell = r.rows.get(i).map_or_else(
                || "-".to_string(),
                |row| format!("{} ({})", ops(row.dosql.as_ref()), ratio(row)),
            );
            let _ = write!(s, " {cell:>22}");
        }
        s.push('\n');
    }
    let _ = write!(s, "{:<11} {:<10}", "disk", "DoSQL");
    for r in reports {
        let cell = r
            .dosql_end
            .as_ref()
            .map_or_else(|| "-".to_string(), |e| mib(e.disk_bytes));
        let _ = write!(s, " {cell:>22}");
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(-5.0), "0");
    }

    #[test]
    fn mib_has_one_decimal() {
        assert_eq!(mib(1536 * 1024), "1.5 MiB");
    }
}
