//! Child processes that never outlive the test: each runs in a process
//! group of its own, and [`Group::stop`] (also on drop) takes the whole
//! group down, so that `wrangler dev` never leaves a `workerd` behind.
//!
//! ```text
//!   test process
//!     └── leader (pgid = its pid)          dosql-server | node (wrangler)
//!           └── children, same pgid                         └── workerd
//!   stop: SIGTERM -pgid ── wait ≤ 10 s for every member ── SIGKILL -pgid
//! ```
//!
//! The leader also gets SIGTERM if the test process dies without running
//! destructors (parent-death signal), so an aborted run leaks nothing
//! either: wrangler takes workerd down when it is terminated.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a stopping group may take before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A running process group.
#[derive(Debug)]
pub struct Group {
    child: Child,
    pgid: libc::pid_t,
}

impl Group {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(command: &mut Command) -> io::Result<Group> {
        command.process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        let pgid = child.id() as libc::pid_t;
        Ok(Group { child, pgid })
    }

    /// The leader's stdout, if it was piped.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Whether the leader has exited (its children may live on).
    pub fn leader_exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Whether any member of the group is still running.
    fn alive(&mut self) -> bool {
        // Reap the leader, or it stays a member as a zombie.
        let _ = self.child.try_wait();
        !running_members(self.pgid).is_empty()
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: sends a signal to our own child's group; errors (the group
        // is gone) are expected and harmless.
        unsafe {
            libc::kill(-self.pgid, sig);
        }
    }

    /// Terminates every process of the group and waits until all are gone.
    pub fn stop(&mut self) {
        if !self.alive() {
            return;
        }
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while self.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.alive() {
            self.signal(libc::SIGKILL);
            let deadline = Instant::now() + STOP_GRACE;
            while self.alive() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.wait();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The processes of group `pgid` that are not zombies. Orphaned members
/// (workerd once wrangler is gone) are reaped by whoever PID 1 is, which in
/// a container may never happen: a zombie has ended all the same.
fn running_members(pgid: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|pid| {
            // `pid (comm) state ppid pgrp ...`; comm may hold spaces and
            // parentheses, so parse from the last ')'.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let mut fields = rest.split_whitespace();
            let state = fields.next();
            let pgrp = fields.nth(1).and_then(|f| f.parse::<libc::pid_t>().ok());
            pgrp == Some(pgid) && state != Some("Z") && state != Some("X")
        })
        .collect()
}

/// The workspace root (holds `Cargo.toml`, `wrangler.toml`, `target/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/testkit lives two levels below the workspace root")
        .to_path_buf()
}

/// The `dosql-server` binary, built once per test process if needed.
///
/// It belongs to another package, so Cargo does not hand us its path: it is
/// taken from `$DOSQL_SERVER_BIN`, or built into the workspace's target
/// directory with the test profile (which `cargo test --workspace` has
/// built already, so this is then a no-op).
pub fn server_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("DOSQL_SERVER_BIN") {
            return PathBuf::from(p);
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"));
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "--profile", "test", "-p", "dosql-server"])
            .args(["--bin", "dosql-server"])
            .current_dir(workspace_root())
            .status()
            .expect("run cargo build -p dosql-server");
        assert!(status.success(), "cargo build -p dosql-server failed");
        let bin = target.join("debug").join("dosql-server");
        assert!(bin.exists(), "{} missing after the build", bin.display());
        bin
    })
    .clone()
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// Waits (at most 10 s) until nothing listens on `port` any more, so that
/// a restarted server can take it again.
pub fn wait_port_free(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "port {port} still in use 10 s after its server stopped"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last `n` lines of a log file, for failure messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopping_a_group_ends_its_grandchildren() {
        // The leader starts a grandchild in the background, as wrangler
        // starts workerd, then waits.
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let mut group = Group::spawn(
            Command::new("sh")
                .arg("-c")
                .arg(format!("sleep 600 & echo $! > {}; wait", pidfile.display())),
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let grandchild: libc::pid_t = loop {
            if let Some(pid) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                break pid;
            }
            assert!(Instant::now() < deadline, "no grandchild started");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(running_members(group.pgid).contains(&grandchild));
        group.stop();
        assert!(
            running_members(group.pgid).is_empty(),
            "a member of the group survived the stop"
        );
        assert!(group.leader_exited().is_some());
    }

    #[test]
    fn the_workspace_root_holds_the_wrangler_config() {
        assert!(workspace_root().join("wrangler.toml").exists());
    }
}
