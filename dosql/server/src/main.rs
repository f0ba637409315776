//! `dosql-server`: DoSQL on local files, speaking protocol v1 over
//! WebSocket and HTTP (see `docs/protocol.md`), for local use, tests and
//! benchmarks.
//!
//! ```text
//!   dosql-server [--listen 127.0.0.1:PORT] [--data DIR] [--token T] [--txn-timeout-ms MS]
//!                [--lake DIR] [--lake-flush-ms MS] [--lake-flush-rows N]
//!                [--lake-flush-bytes B] [--no-ship]
//!     --listen  address to bind; port 0 picks a free one (default 127.0.0.1:7878)
//!     --data    data directory; database NAME lives in DIR/NAME/ (default ./dosql-data)
//!     --token   bearer token (or env DOSQL_TOKEN); without one a random
//!               token is generated and printed
//!     --txn-timeout-ms  idle time after which an open transaction is rolled
//!               back (default 30000, the protocol's limit)
//!     --lake    DoLake's catalog state and bucket (default DATA/.lake; a
//!               database name never starts with '.', so they cannot clash)
//!     --lake-flush-ms / -rows / -bytes  the lake's flush policy: a table is
//!               flushed to Iceberg when its buffer is that old, holds that
//!               many rows or bytes (defaults: dolake's FlushPolicy, 5000 ms,
//!               10000 rows, 8 MiB)
//!     --no-ship databases do not ship their change streams to the lake (no
//!               slot is created; the catalog and bucket routes stay)
//!   stdout:  "token: T" (when generated), then "listening on http://ADDR"
//! ```

mod app;
mod bucket;
mod db;
mod lake;
mod node;
mod ship;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use dolake::lake::FlushPolicy;
use rand::RngCore;
use shared_types::limits::TRANSACTION_IDLE_TIMEOUT_MS;

#[derive(Debug)]
struct Args {
    listen: String,
    data: PathBuf,
    token: Option<String>,
    txn_timeout_ms: u64,
    lake: Option<PathBuf>,
    flush: FlushPolicy,
    ship: bool,
}

const USAGE: &str = "usage: dosql-server [--listen ADDR:PORT] [--data DIR] [--token TOKEN] \
                     [--txn-timeout-ms MS] [--lake DIR] [--lake-flush-ms MS] \
                     [--lake-flush-rows N] [--lake-flush-bytes B] [--no-ship]";

/// A numeric flag's value.
fn number(flag: &str, v: &str) -> Result<u64, String> {
    v.parse()
        .map_err(|_| format!("{flag} takes a whole number, not {v:?}"))
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        listen: "127.0.0.1:7878".into(),
        data: PathBuf::from("dosql-data"),
        token: None,
        txn_timeout_ms: TRANSACTION_IDLE_TIMEOUT_MS,
        lake: None,
        flush: FlushPolicy::default(),
        ship: true,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => parsed.listen = value()?,
            "--data" => parsed.data = PathBuf::from(value()?),
            "--token" => parsed.token = Some(value()?),
            "--lake" => parsed.lake = Some(PathBuf::from(value()?)),
            "--txn-timeout-ms" => parsed.txn_timeout_ms = number(&flag, &value()?)?,
            "--lake-flush-ms" => parsed.flush.max_age_ms = number(&flag, &value()?)?,
            "--lake-flush-rows" => parsed.flush.max_rows = number(&flag, &value()?)?,
            "--lake-flush-bytes" => parsed.flush.max_bytes = number(&flag, &value()?)?,
            "--no-ship" => parsed.ship = false,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(parsed)
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let token = match args
        .token
        .or_else(|| std::env::var("DOSQL_TOKEN").ok())
        .filter(|t| !t.is_empty())
    {
        Some(t) => t,
        None => {
            let t = random_token();
            println!("token: {t}");
            t
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.data) {
        eprintln!("cannot create {}: {e}", args.data.display());
        return ExitCode::FAILURE;
    }
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener
        .local_addr()
        .expect("a bound socket has an address");
    let lake_dir = args.lake.unwrap_or_else(|| args.data.join(".lake"));
    let lake = match lake::Lake::open(&lake_dir, &addr.to_string(), &token, args.flush) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let ships_to = args.ship.then(|| lake.node());
    let app = Arc::new(app::App {
        registry: db::Registry::new(args.data, args.txn_timeout_ms, ships_to),
        token,
        lake,
    });
    if args.ship {
        // What the databases committed before a restart and the lake has
        // not acknowledged goes now, not when a client comes back.
        for (name, e) in app.registry.open_all().await {
            eprintln!("database {name} cannot be opened to ship its changes: {e}");
        }
    }
    println!("listening on http://{addr}");
    if let Err(e) = axum::serve(listener, app::router(app)).await {
        eprintln!("server failed: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn arguments() {
        let a = args(&["--listen", "127.0.0.1:0", "--data", "d", "--token", "t"]).unwrap();
        assert_eq!(
            (a.listen.as_str(), a.data, a.token),
            ("127.0.0.1:0", PathBuf::from("d"), Some("t".into()))
        );
        assert!(args(&["--listen"]).unwrap_err().contains("needs a value"));
        assert!(args(&["--bogus"]).unwrap_err().contains("unknown argument"));
        assert_eq!(
            args(&[]).unwrap().txn_timeout_ms,
            TRANSACTION_IDLE_TIMEOUT_MS
        );
        assert_eq!(args(&["--txn-timeout-ms", "5"]).unwrap().txn_timeout_ms, 5);
        assert!(args(&["--txn-timeout-ms", "x"]).is_err());
        let a = args(&[
            "--lake-flush-ms",
            "50",
            "--lake-flush-rows",
            "7",
            "--no-ship",
        ])
        .unwrap();
        assert_eq!((a.flush.max_age_ms, a.flush.max_rows), (50, 7));
        assert_eq!(a.flush.max_bytes, FlushPolicy::default().max_bytes);
        assert!(!a.ship);
        assert!(args(&[]).unwrap().ship);
        assert_eq!(args(&[]).unwrap().flush, FlushPolicy::default());
        let e = args(&["--lake-flush-bytes", "-1"]).unwrap_err();
        assert!(e.contains("whole number"), "{e}");
        assert_eq!(
            args(&["--lake", "l"]).unwrap().lake,
            Some(PathBuf::from("l"))
        );
        assert_eq!(args(&[]).unwrap().lake, None);
        let t = random_token();
        assert_eq!(t.len(), 48);
        assert_ne!(t, random_token());
    }
}
