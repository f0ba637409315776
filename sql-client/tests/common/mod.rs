//! Test harness: a real `dosql-server` process on a loopback port.
//!
//! The binary belongs to another package, so Cargo does not hand us its
//! path: it is taken from `$DOSQL_SERVER_BIN`, or from the workspace's
//! target directory, (re)built there once per test process with
//! `cargo build --profile test -p dosql-server` (a no-op when up to date).

#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

pub const TOKEN: &str = "test-token";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("sql-client lives in the workspace")
        .to_path_buf()
}

/// The server binary, built once per test process if needed.
pub fn server_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("DOSQL_SERVER_BIN") {
            return PathBuf::from(p);
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"));
        let bin = target.join("debug").join("dosql-server");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            // The test profile, so that `cargo test --workspace`, which builds
            // the server for its own tests, leaves nothing to rebuild here.
            .args(["build", "-q", "--profile", "test", "-p", "dosql-server"])
            .args(["--bin", "dosql-server"])
            .current_dir(workspace_root())
            .status()
            .expect("run cargo build -p dosql-server");
        assert!(status.success(), "cargo build -p dosql-server failed");
        assert!(bin.exists(), "{} missing after the build", bin.display());
        bin
    })
    .clone()
}

/// A running server with its own data directory.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub addr: String,
    pub dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Server::start_at("127.0.0.1:0", dir)
    }

    fn start_at(listen: &str, dir: tempfile::TempDir) -> Server {
        let mut child = Command::new(server_binary())
            .args(["--listen", listen, "--token", TOKEN, "--data"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn dosql-server");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.trim().strip_prefix("listening on ") {
                        break rest.trim_end_matches('/').to_owned();
                    }
                }
                other => {
                    let _ = child.kill();
                    panic!("dosql-server exited before listening: {other:?}");
                }
            }
        };
        // Keep draining so that the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let addr = base.trim_start_matches("http://").to_owned();
        Server {
            child,
            base,
            addr,
            dir,
        }
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/db/{name}", self.base)
    }

    /// Kills the process (connections drop at once).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the server and starts it again on the same address and data.
    pub fn restart(mut self) -> Server {
        self.kill();
        let dir = tempfile::tempdir().expect("tempdir");
        let data = std::mem::replace(&mut self.dir, dir);
        let addr = self.addr.clone();
        // The port may take a moment to be released.
        for _ in 0..50 {
            if std::net::TcpListener::bind(&addr).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Server::start_at(&addr, data)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
