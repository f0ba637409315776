//! A server under test: `dosql-server` or the Worker under `wrangler dev`,
//! with its persistent state in a temporary directory that outlives
//! restarts of the process and is deleted with the [`Target`].
//!
//! ```text
//!   work/ (TempDir)
//!     state/         --data (native) | --persist-to (wrangler)
//!     dev.vars       DOSQL_TOKEN=<random>, for wrangler's --env-file
//!     server.log     everything the process printed, across restarts
//! ```
//!
//! `restart` stops the whole process group, waits until its port is free,
//! and starts again on the same port and state, so that clients connected
//! before the restart may reconnect to the same URL.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rand::Rng;
use serde_json::Value as Json;

use crate::process::{self, Group};

/// How long a server may take to start (wrangler on a busy machine is slow).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Which server runs protocol v1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// `dosql-server` from the workspace build.
    Native,
    /// `wrangler dev` serving `dosql/worker/build/index.js` in workerd.
    Wrangler,
}

/// A running (or stopped) server with its state.
pub struct Target {
    runtime: Runtime,
    work: tempfile::TempDir,
    token: String,
    port: u16,
    group: Option<Group>,
    http: reqwest::Client,
}

impl Target {
    /// Starts a server of `runtime` on a fresh state directory.
    pub async fn start(runtime: Runtime) -> Target {
        let work = tempfile::Builder::new()
            .prefix("dosql-e2e-")
            .tempdir()
            .expect("temporary directory");
        std::fs::create_dir(work.path().join("state")).expect("state directory");
        let token = format!("e2e-{:032x}", rand::thread_rng().gen::<u128>());
        if runtime == Runtime::Wrangler {
            std::fs::write(
                work.path().join("dev.vars"),
                format!("DOSQL_TOKEN={token}\n"),
            )
            .expect("write dev.vars");
        }
        let http = reqwest::Client::builder()
            .timeout(crate::STEP_TIMEOUT)
            .build()
            .expect("HTTP client");
        let mut target = Target {
            runtime,
            work,
            token,
            port: 0,
            group: None,
            http,
        };
        target.launch().await;
        target
    }

    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    /// The bearer token the server accepts.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The client URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/db/{name}", self.base())
    }

    /// The protocol v1 WebSocket URL of database `name` (no token).
    pub fn ws_url(&self, name: &str) -> String {
        format!("ws://127.0.0.1:{}/db/{name}/v1/ws", self.port)
    }

    /// The directory holding the server's persistent state.
    pub fn state_dir(&self) -> PathBuf {
        self.work.path().join("state")
    }

    fn log_path(&self) -> PathBuf {
        self.work.path().join("server.log")
    }

    /// The last lines the server printed, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        process::tail(&self.log_path(), lines)
    }

    /// Stops the server (the whole process group). Connections drop.
    pub fn stop(&mut self) {
        if let Some(mut group) = self.group.take() {
            group.stop();
            process::wait_port_free(self.port);
        }
    }

    /// Stops the server and starts it again on the same state and port.
    pub async fn restart(&mut self) {
        self.stop();
        self.launch().await;
    }

    /// Starts the server again if a failed scenario left it stopped.
    pub async fn ensure_running(&mut self) {
        let exited = match self.group.as_mut() {
            None => true,
            Some(g) => g.leader_exited().is_some(),
        };
        if exited {
            self.stop();
            self.launch().await;
        }
    }

    async fn launch(&mut self) {
        match self.runtime {
            Runtime::Native => self.launch_native(),
            Runtime::Wrangler => self.launch_wrangler().await,
        }
    }

    fn log_file(&self) -> std::fs::File {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the server log")
    }

    fn launch_native(&mut self) {
        let listen = format!("127.0.0.1:{}", self.port);
        let mut group = Group::spawn(
            Command::new(process::server_binary())
                .args(["--listen", &listen, "--token", &self.token, "--data"])
                .arg(self.state_dir())
                .stdout(Stdio::piped())
                .stderr(self.log_file()),
        )
        .expect("spawn dosql-server");
        let stdout = group.take_stdout().expect("piped stdout");
        // Read on a thread, so that the wait for the line is bounded; the
        // thread then keeps draining, so the server never blocks on a pipe.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.trim().strip_prefix("listening on http://") {
                    let _ = tx.send(rest.trim_end_matches('/').to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(START_TIMEOUT)
            .unwrap_or_else(|_| panic!("dosql-server did not start:\n{}", self.log_tail(40)));
        self.port = addr
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or_else(|| panic!("dosql-server printed a bad address {addr:?}"));
        self.group = Some(group);
    }

    async fn launch_wrangler(&mut self) {
        let root = process::workspace_root();
        let built = root.join("dosql/worker/build/index.js");
        assert!(
            built.exists(),
            "the Worker is not built ({} is missing). Build it first:\n    \
             scripts/setup.sh && (. scripts/env.sh && cd dosql/worker && worker-build --profile worker)\n\
             (scripts/test.sh does both before it runs this suite)",
            built.display()
        );
        let wrangler = root.join("node_modules/.bin/wrangler");
        assert!(
            wrangler.exists(),
            "wrangler is not installed ({} is missing): run scripts/setup.sh",
            wrangler.display()
        );
        if self.port == 0 {
            self.port = process::free_port();
        }
        // What scripts/env.sh does: the repository's node and tools first.
        let path = std::env::join_paths(
            [root.join("node_modules/.bin"), root.join(".tools/bin")]
                .into_iter()
                .chain(std::env::split_paths(
                    &std::env::var_os("PATH").unwrap_or_default(),
                )),
        )
        .expect("PATH");
        let log = self.log_file();
        let group = Group::spawn(
            Command::new(&wrangler)
                .args(["dev", "--local", "--ip", "127.0.0.1"])
                .args(["--port", &self.port.to_string()])
                // Not the default 9229, which another wrangler may hold.
                .args(["--inspector-port", &process::free_port().to_string()])
                .arg("--persist-to")
                .arg(self.state_dir())
                .arg("--env-file")
                .arg(self.work.path().join("dev.vars"))
                .args(["--show-interactive-dev-session=false"])
                .current_dir(&root)
                .env("PATH", path)
                .env("WRANGLER_SEND_METRICS", "false")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log),
        )
        .expect("spawn wrangler");
        self.group = Some(group);
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Ok(r)) = tokio::time::timeout(
                Duration::from_secs(2),
                self.http.get(format!("{}/health", self.base())).send(),
            )
            .await
            {
                if r.status() == 200 {
                    return;
                }
            }
            if let Some(status) = self.group.as_mut().and_then(Group::leader_exited) {
                panic!("wrangler exited ({status}):\n{}", self.log_tail(40));
            }
            if tokio::time::Instant::now() > deadline {
                self.stop();
                panic!(
                    "wrangler not ready after {START_TIMEOUT:?}:\n{}",
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// One HTTP request; `token: None` sends no Authorization header.
    /// Returns the status and the body parsed as JSON (`Null` if it is not).
    pub async fn http(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (u16, Json) {
        let mut req = self.http.request(method, format!("{}{path}", self.base()));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let r = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Json::Null))
    }

    /// `POST /db/{db}/v1/{route}` with `body` and the given token.
    pub async fn post(
        &self,
        db: &str,
        route: &str,
        token: Option<&str>,
        body: &Json,
    ) -> (u16, Json) {
        self.http(
            reqwest::Method::POST,
            &format!("/db/{db}/v1/{route}"),
            token,
            Some(body.to_string()),
        )
        .await
    }

    /// How many transactions the server holds open for database `db`
    /// (native: for all databases; scenarios run one at a time).
    pub async fn open_transactions(&self, db: &str) -> u64 {
        let (status, body) = match self.runtime {
            Runtime::Native => self.http(reqwest::Method::GET, "/health", None, None).await,
            Runtime::Wrangler => {
                let path = format!("/db/{db}/v1/stats");
                let token = Some(self.token.as_str());
                self.http(reqwest::Method::GET, &path, token, None).await
            }
        };
        assert_eq!(status, 200, "{body}");
        body["transactions"]
            .as_u64()
            .unwrap_or_else(|| panic!("no transaction count in {body}"))
    }

    /// How many databases have storage of their own: directories under
    /// `--data` (native), SQLite files of Durable Objects (wrangler).
    pub fn stored_databases(&self) -> usize {
        match self.runtime {
            Runtime::Native => std::fs::read_dir(self.state_dir())
                .map(|d| {
                    d.filter_map(Result::ok)
                        .filter(|e| e.path().is_dir())
                        .count()
                })
                .unwrap_or(0),
            Runtime::Wrangler => count_files(&self.state_dir(), "sqlite"),
        }
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("runtime", &self.runtime)
            .field("base", &self.base())
            .finish()
    }
}

/// Files below `dir` (recursively) whose extension is `ext`.
fn count_files(dir: &Path, ext: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                count_files(&path, ext)
            } else {
                usize::from(path.extension().is_some_and(|x| x == ext))
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_files_walks_subdirectories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        for f in ["x.sqlite", "a/y.sqlite", "a/b/z.sqlite", "a/b/z.sqlite-wal"] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        assert_eq!(count_files(dir.path(), "sqlite"), 3);
        assert_eq!(count_files(&dir.path().join("missing"), "sqlite"), 0);
    }
}
