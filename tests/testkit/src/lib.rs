//! The harness every test of the workspace that needs a real process uses:
//! process groups that never outlive a test ([`process`]) and a real
//! `dosql-server` on a loopback port ([`Server`]).
//!
//! ```text
//!   sql-client/tests ──┐
//!   tests/e2e-rs ──────┼──> dosql-testkit ──> dosql-server --listen 127.0.0.1:0 --data DIR
//!   dolake/tests ──────┘         └─ process::Group (own process group, killed on drop)
//! ```
//!
//! Invariants:
//! * A [`Server`] owns its process group and its data directory: dropping
//!   it (also while a test panics) stops the process; the directory goes
//!   with the [`tempfile::TempDir`].
//! * The address is the one the server prints (`listening on http://ADDR`),
//!   so tests never race for a port; a restart reuses it.

pub mod process;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use process::Group;

/// The bearer token every harness server accepts.
pub const TOKEN: &str = "test-token";

/// A running `dosql-server` with a data directory of its own.
pub struct Server {
    group: Group,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// `127.0.0.1:PORT`
    pub addr: String,
    pub dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server on a free port with a fresh data directory.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Like [`Server::start`], passing `extra` arguments to the server.
    pub fn start_with(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Server::start_at("127.0.0.1:0", dir, extra)
    }

    fn start_at(listen: &str, dir: tempfile::TempDir, extra: &[&str]) -> Server {
        let mut command = Command::new(process::server_binary());
        command
            .args(["--listen", listen, "--token", TOKEN, "--data"])
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut group = Group::spawn(&mut command).expect("spawn dosql-server");
        let stdout = group.take_stdout().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.trim().strip_prefix("listening on ") {
                        break rest.trim_end_matches('/').to_owned();
                    }
                }
                other => {
                    group.stop();
                    panic!("dosql-server exited before listening: {other:?}");
                }
            }
        };
        // Keep draining so that the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let addr = base.trim_start_matches("http://").to_owned();
        Server {
            group,
            base,
            addr,
            dir,
        }
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/db/{name}", self.base)
    }

    /// Stops the process (connections drop at once).
    pub fn kill(&mut self) {
        self.group.stop();
    }

    /// Stops the server and starts it again on the same address and data.
    pub fn restart(mut self) -> Server {
        self.restart_with(&[])
    }

    /// Like [`Server::restart`], passing `extra` arguments to the server.
    pub fn restart_with(&mut self, extra: &[&str]) -> Server {
        self.kill();
        let data = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        let port = self
            .addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the address the server printed has a port");
        process::wait_port_free(port);
        Server::start_at(&self.addr, data, extra)
    }
}

/// The Python interpreter of the lakehouse tests (PyIceberg, DuckDB):
/// `$DOSQL_PYTHON`, or the repository's `.tools/py` that
/// `scripts/setup-python.sh` creates. A missing one fails the test with
/// the command that installs it: those tests never skip.
pub fn python() -> std::path::PathBuf {
    let p = std::env::var_os("DOSQL_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| process::workspace_root().join(".tools/py/bin/python"));
    assert!(
        p.exists(),
        "Python interpreter {} not found: run scripts/setup-python.sh or set DOSQL_PYTHON",
        p.display()
    );
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_answers_and_restarts_on_the_same_address() {
        let server = Server::start();
        let health = |base: &str| {
            std::net::TcpStream::connect(base.trim_start_matches("http://"))
                .expect("the server accepts connections")
        };
        health(&server.base);
        let addr = server.addr.clone();
        let again = server.restart();
        assert_eq!(again.addr, addr);
        health(&again.base);
    }
}
