//! Command-line configuration of a benchmark run.
//!
//! Every knob has a default that reproduces the headline run (1,000,000
//! rows of 100-byte values, 64 MiB page cache for each engine). `--quick`
//! shrinks every count for a CI smoke run; explicit flags given after it
//! still win, whatever their order, because counts are resolved once all
//! flags are read.

use crate::kv::EngineKind;
use crate::workloads::Workload;

/// Everything a run needs to know; built by [`Config::parse`].
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Rows loaded into each database (keys `0..rows`).
    pub rows: u64,
    /// Bytes per value.
    pub value_size: usize,
    /// Page-cache budget of each engine, in MiB.
    pub cache_mib: u64,
    /// DoSQL page size of a normal run.
    pub page_size: u32,
    /// When set, run once per DoSQL page size and print a sweep table.
    pub page_sizes: Option<Vec<u32>>,
    /// Workloads to time, in canonical order.
    pub workloads: Vec<Workload>,
    /// Engines to run (both, unless profiling one alone).
    pub engines: Vec<EngineKind>,
    /// Suites run per page size; the report shows the median.
    pub repeat: usize,
    /// Random point lookups (workload `get`).
    pub lookups: u64,
    /// Range scans (workload `scan`).
    pub scans: u64,
    /// Rows per range scan.
    pub scan_len: usize,
    /// Row updates (workload `update`).
    pub updates: u64,
    /// Updates per transaction.
    pub updates_per_txn: usize,
    /// Repetitions of the join (workload `sql-join`).
    pub joins: u64,
    /// Seed of every random choice, so that runs are comparable.
    pub seed: u64,
    /// Print the help text and exit.
    pub help: bool,
}

/// A group of workloads, chosen with `--suite`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Suite {
    All,
    Kv,
    Sql,
}

/// Row count of `--quick`.
const QUICK_ROWS: u64 = 10_000;

impl Default for Config {
    fn default() -> Self {
        Self {
            rows: 1_000_000,
            value_size: 100,
            cache_mib: 64,
            page_size: dosql::store::DEFAULT_PAGE_SIZE,
            page_sizes: None,
            workloads: Workload::ALL.to_vec(),
            engines: vec![EngineKind::Dosql, EngineKind::Sqlite],
            repeat: 1,
            lookups: 1_000_000,
            scans: 20_000,
            scan_len: 100,
            updates: 100_000,
            updates_per_txn: 10,
            joins: 5,
            seed: 0x5eed_d05c_1000_0001,
            help: false,
        }
    }
}

/// The `--help` text.
pub const USAGE: &str = "\
dosql-bench: DoSQL storage engine vs SQLite (rusqlite, bundled), one process

USAGE: dosql-bench [FLAGS]

  --rows N             rows loaded (keys 0..N)              [1000000]
  --value-size B       bytes per value                      [100]
  --cache-mib M        page cache of EACH engine, MiB       [64]
  --page-size P        DoSQL page size (engine default)     [4096]
  --page-sizes P,Q,..  sweep DoSQL page sizes; one run each, one table
  --workloads a,b      subset of: insert-seq,insert,get,scan,update,
                       sql-insert,sql-point,sql-range,sql-join,sql-update
  --suite S            kv (storage level), sql (SQL level) or all  [all]
  --engines a,b        subset of: dosql,sqlite (one alone: for profiling)
  --repeat R           run each suite R times, report the medians  [1]
  --lookups N          point lookups                        [= rows]
  --scans N            range scans                          [20000]
  --scan-len N         rows per range scan                  [100]
  --updates N          row updates                          [100000]
  --updates-per-txn N  updates per transaction              [10]
  --joins N            repetitions of the sql-join query    [5]
  --seed S             seed of all randomness
  --quick              small counts, for a CI smoke run (flags still win)
  --help               this text
";

impl Config {
    /// Parses the arguments after the program name.
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Config, String> {
        let mut cfg = Config::default();
        let mut quick = false;
        // Counts given explicitly; resolved after all flags are read.
        let mut rows = None;
        let mut lookups = None;
        let mut scans = None;
        let mut updates = None;
        let mut joins = None;
        let mut suite = Suite::All;
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--rows" => rows = Some(parse_num(&flag, &value()?)?),
                "--value-size" => cfg.value_size = parse_num(&flag, &value()?)? as usize,
                "--cache-mib" => cfg.cache_mib = parse_num(&flag, &value()?)?,
                "--page-size" => cfg.page_size = parse_u32(&flag, &value()?)?,
                "--page-sizes" => {
                    let list = value()?;
                    let sizes = list
                        .split(',')
                        .map(|s| parse_u32(&flag, s.trim()))
                        .collect::<Result<Vec<_>, _>>()?;
                    if sizes.is_empty() {
                        return Err("--page-sizes needs at least one size".into());
                    }
                    cfg.page_sizes = Some(sizes);
                }
                "--workloads" => {
                    let list = value()?;
                    let mut chosen = Vec::new();
                    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        chosen.push(Workload::from_name(name).ok_or_else(|| {
                            format!("unknown workload {name:?}; known: {}", Workload::names())
                        })?);
                    }
                    if chosen.is_empty() {
                        return Err("--workloads needs at least one workload".into());
                    }
                    // Canonical order: reads need the load, updates come last
                    // so that reads see the values they were generated for.
                    cfg.workloads = Workload::ALL
                        .iter()
                        .copied()
                        .filter(|w| chosen.contains(w))
                        .collect();
                }
                "--engines" => {
                    let list = value()?;
                    let mut engines = Vec::new();
                    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        engines.push(match name {
                            "dosql" => EngineKind::Dosql,
                            "sqlite" => EngineKind::Sqlite,
                            _ => {
                                return Err(format!("unknown engine {name:?}; known: dosql,sqlite"))
                            }
                        });
                    }
                    if engines.is_empty() {
                        return Err("--engines needs at least one engine".into());
                    }
                    cfg.engines = engines;
                }
                "--repeat" => cfg.repeat = parse_num(&flag, &value()?)? as usize,
                "--lookups" => lookups = Some(parse_num(&flag, &value()?)?),
                "--scans" => scans = Some(parse_num(&flag, &value()?)?),
                "--scan-len" => cfg.scan_len = parse_num(&flag, &value()?)? as usize,
                "--updates" => updates = Some(parse_num(&flag, &value()?)?),
                "--updates-per-txn" => cfg.updates_per_txn = parse_num(&flag, &value()?)? as usize,
                "--joins" => joins = Some(parse_num(&flag, &value()?)?),
                "--suite" => {
                    suite = match value()?.as_str() {
                        "all" => Suite::All,
                        "kv" => Suite::Kv,
                        "sql" => Suite::Sql,
                        other => return Err(format!("unknown suite {other:?}; known: all,kv,sql")),
                    }
                }
                "--seed" => cfg.seed = parse_num(&flag, &value()?)?,
                "--quick" => quick = true,
                "--help" | "-h" => cfg.help = true,
                other => return Err(format!("unknown flag {other:?} (see --help)")),
            }
        }
        if quick {
            cfg.rows = QUICK_ROWS;
            cfg.lookups = QUICK_ROWS;
            cfg.scans = 1_000;
            cfg.updates = 2_000;
            cfg.joins = 1;
        }
        if let Some(n) = rows {
            cfg.rows = n;
            // Lookups follow the row count unless set: "N rows, N lookups".
            cfg.lookups = n;
        }
        cfg.lookups = lookups.unwrap_or(cfg.lookups);
        cfg.scans = scans.unwrap_or(cfg.scans);
        cfg.updates = updates.unwrap_or(cfg.updates);
        cfg.joins = joins.unwrap_or(cfg.joins);
        // --suite narrows whatever --workloads chose (all by default).
        cfg.workloads.retain(|w| match suite {
            Suite::All => true,
            Suite::Kv => !w.is_sql(),
            Suite::Sql => w.is_sql(),
        });
        if cfg.workloads.is_empty() {
            return Err("--suite and --workloads leave no workload to run".into());
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        if self.rows == 0 {
            return Err("--rows must be at least 1".into());
        }
        // Keys go to SQLite as i64.
        if self.rows > i64::MAX as u64 {
            return Err("--rows is too large".into());
        }
        if self.value_size == 0 {
            return Err("--value-size must be at least 1".into());
        }
        if self.scan_len == 0 || self.updates_per_txn == 0 || self.repeat == 0 {
            return Err("--scan-len, --updates-per-txn and --repeat must be at least 1".into());
        }
        if self.cache_mib == 0 {
            return Err("--cache-mib must be at least 1".into());
        }
        Ok(())
    }

    /// The DoSQL page sizes to run: the sweep list, or the single size.
    pub fn dosql_page_sizes(&self) -> Vec<u32> {
        self.page_sizes
            .clone()
            .unwrap_or_else(|| vec![self.page_size])
    }
}

fn parse_num(flag: &str, s: &str) -> Result<u64, String> {
    let digits: String = s.chars().filter(|c| *c != '_').collect();
    digits
        .parse()
        .map_err(|_| format!("{flag}: {s:?} is not a non-negative integer"))
}

fn parse_u32(flag: &str, s: &str) -> Result<u32, String> {
    let n = parse_num(flag, s)?;
    u32::try_from(n).map_err(|_| format!("{flag}: {s} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        Config::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_are_the_headline_run() {
        let cfg = parse(&[]).unwrap();
        assert_eq!(cfg, Config::default());
        assert_eq!(cfg.rows, 1_000_000);
        assert_eq!(cfg.lookups, 1_000_000);
        assert_eq!(
            cfg.dosql_page_sizes(),
            vec![dosql::store::DEFAULT_PAGE_SIZE]
        );
        let shown = format!("[{}]", dosql::store::DEFAULT_PAGE_SIZE);
        let line = USAGE.lines().find(|l| l.contains("--page-size P")).unwrap();
        assert!(line.ends_with(&shown), "--help shows the engine default");
    }

    #[test]
    fn explicit_counts_win_over_quick_in_any_order() {
        let cfg = parse(&["--scans", "7", "--quick", "--rows", "500"]).unwrap();
        assert_eq!(cfg.rows, 500);
        assert_eq!(cfg.lookups, 500);
        assert_eq!(cfg.scans, 7);
        assert_eq!(cfg.updates, 2_000);
    }

    #[test]
    fn workloads_are_put_in_canonical_order() {
        let cfg = parse(&["--workloads", "update,get,insert-seq"]).unwrap();
        assert_eq!(
            cfg.workloads,
            vec![Workload::InsertSeq, Workload::Get, Workload::Update]
        );
        assert!(parse(&["--workloads", "get,nope"])
            .unwrap_err()
            .contains("nope"));
    }

    #[test]
    fn suites_select_groups_of_workloads() {
        let sql = parse(&["--suite", "sql"]).unwrap();
        assert_eq!(
            sql.workloads,
            vec![
                Workload::SqlInsert,
                Workload::SqlPoint,
                Workload::SqlRange,
                Workload::SqlJoin,
                Workload::SqlUpdate
            ]
        );
        let kv = parse(&["--suite", "kv"]).unwrap();
        assert_eq!(kv.workloads.len(), 5);
        assert!(kv.workloads.iter().all(|w| !w.is_sql()));
        let narrowed = parse(&["--workloads", "get,sql-join", "--suite", "sql"]).unwrap();
        assert_eq!(narrowed.workloads, vec![Workload::SqlJoin]);
        assert!(parse(&["--workloads", "get", "--suite", "sql"]).is_err());
        assert!(parse(&["--suite", "x"]).is_err());
        assert_eq!(parse(&["--quick", "--joins", "4"]).unwrap().joins, 4);
    }

    #[test]
    fn engines_and_repeats_are_parsed() {
        let cfg = parse(&["--engines", "sqlite", "--repeat", "3"]).unwrap();
        assert_eq!(cfg.engines, vec![EngineKind::Sqlite]);
        assert_eq!(cfg.repeat, 3);
        assert!(parse(&["--engines", "mysql"]).is_err());
        assert!(parse(&["--repeat", "0"]).is_err());
    }

    #[test]
    fn page_size_sweep_is_parsed() {
        let cfg = parse(&["--page-sizes", "4096, 8192,16384"]).unwrap();
        assert_eq!(cfg.dosql_page_sizes(), vec![4096, 8192, 16384]);
    }

    #[test]
    fn bad_flags_are_rejected() {
        assert!(parse(&["--rows"]).unwrap_err().contains("needs a value"));
        assert!(parse(&["--rows", "x"]).is_err());
        assert!(parse(&["--rows", "0"]).is_err());
        assert!(parse(&["--value-size", "0"]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
        assert_eq!(parse(&["--rows", "1_000"]).unwrap().rows, 1000);
    }
}
