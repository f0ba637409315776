//! Databases by name, each on a thread of its own.
//!
//! ```text
//!   async handlers ──Db::call(closure)──> mpsc ──> database thread
//!        ^                                           owns Service (engine is sync)
//!        └──────────── oneshot reply ────────────────┘  every second: expire_idle
//!                                                       after each call: poisoned? reopen
//! ```
//!
//! The engine never runs on an async worker and is never held across an
//! `.await`: handlers send closures and await their answers. Calls of one
//! database run one at a time, in the order they were sent, which is what
//! keeps the requests of one WebSocket in order. A database thread lives as
//! long as the server (databases are few and local).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dosql::sql::Database;
use dosql_service::Service;
use shared_types::{ErrorCode, WireError};
use tokio::sync::{oneshot, Mutex};

type Job = Box<dyn FnOnce(&mut Service) + Send>;

/// How often a database thread looks for idle transactions.
const EXPIRY_TICK: Duration = Duration::from_millis(500);

/// Milliseconds since the epoch: the time the service is told.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn internal(message: impl Into<String>) -> WireError {
    WireError::new(ErrorCode::Internal, message)
}

/// A handle on one database's thread.
#[derive(Clone)]
pub struct Db {
    jobs: mpsc::Sender<Job>,
}

impl Db {
    /// Opens (or creates) the database in `dir` on a new thread.
    async fn open(name: &str, dir: PathBuf, idle_timeout_ms: u64) -> Result<Db, WireError> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, opened) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("db-{name}"))
            .spawn(move || {
                let service = match open_service(&dir) {
                    Ok(mut s) => {
                        s.set_idle_timeout(idle_timeout_ms);
                        let _ = ready.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                run(service, &dir, inbox);
            })
            .map_err(|e| internal(format!("cannot start a database thread: {e}")))?;
        opened
            .await
            .map_err(|_| internal("the database thread stopped"))??;
        Ok(Db { jobs })
    }

    /// Runs `f` on the database's thread and returns its answer.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Service) -> R + Send + 'static,
    ) -> Result<R, WireError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |service| {
            let _ = reply.send(f(service));
        });
        self.jobs
            .send(job)
            .map_err(|_| internal("the database thread stopped"))?;
        answer
            .await
            .map_err(|_| internal("the database thread stopped"))
    }
}

fn open_service(dir: &Path) -> Result<Service, WireError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| internal(format!("cannot create {}: {e}", dir.display())))?;
    let db = Database::open_dir(dir).map_err(|e| {
        WireError::new(
            ErrorCode::from_engine(e.code()),
            format!("cannot open the database: {e}"),
        )
    })?;
    Ok(Service::new(db))
}

fn run(mut service: Service, dir: &Path, inbox: mpsc::Receiver<Job>) {
    loop {
        match inbox.recv_timeout(EXPIRY_TICK) {
            Ok(job) => job(&mut service),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        service.expire_idle(now_ms());
        if service.is_poisoned() {
            // A storage failure: what is durable is in the files; reopen
            // from them (open transactions are lost and reported so).
            match Database::open_dir(dir) {
                Ok(db) => service.replace_database(db),
                Err(e) => eprintln!("database {} cannot be reopened: {e}", dir.display()),
            }
        }
    }
}

/// Every database of the server, by name, under one data directory.
pub struct Registry {
    root: PathBuf,
    idle_timeout_ms: u64,
    open: Mutex<HashMap<String, Db>>,
}

impl Registry {
    pub fn new(root: PathBuf, idle_timeout_ms: u64) -> Registry {
        Registry {
            root,
            idle_timeout_ms,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The database called `name`, opened on first use.
    pub async fn get(&self, name: &str) -> Result<Db, WireError> {
        check_name(name)?;
        let mut open = self.open.lock().await;
        if let Some(db) = open.get(name) {
            return Ok(db.clone());
        }
        let db = Db::open(name, self.root.join(name), self.idle_timeout_ms).await?;
        open.insert(name.to_owned(), db.clone());
        Ok(db)
    }
}

impl Registry {
    /// (databases open, connections, connections in a transaction).
    pub async fn counts(&self) -> (usize, usize, usize) {
        let dbs: Vec<Db> = self.open.lock().await.values().cloned().collect();
        let (mut conns, mut txns) = (0, 0);
        for db in &dbs {
            if let Ok((c, t)) = db
                .call(|s| (s.connection_count(), s.transaction_count()))
                .await
            {
                conns += c;
                txns += t;
            }
        }
        (dbs.len(), conns, txns)
    }
}

/// Database names are 1 to 64 characters of `[A-Za-z0-9_-]`, so that a
/// name is always one plain directory under the data directory.
pub fn check_name(name: &str) -> Result<(), WireError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(WireError::new(
            ErrorCode::InvalidRequest,
            format!("bad database name {name:?}: use 1 to 64 characters of A-Z a-z 0-9 _ -"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_directory_names() {
        for good in ["a", "db_1", "A-b", &"x".repeat(64)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "..", "a/b", "a.b", "é", &"x".repeat(65)] {
            assert_eq!(check_name(bad).unwrap_err().code, ErrorCode::InvalidRequest);
        }
    }

    #[tokio::test]
    async fn a_database_thread_serves_calls_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::new(dir.path().to_path_buf(), 1000);
        let db = reg.get("one").await.unwrap();
        let conn = db.call(|s| s.open_connection(0)).await.unwrap();
        let again = reg.get("one").await.unwrap();
        let n = again.call(|s| s.connection_count()).await.unwrap();
        assert_eq!(n, 1);
        db.call(move |s| s.close_connection(conn)).await.unwrap();
        assert!(dir.path().join("one").is_dir());
        assert!(reg.get("../x").await.is_err());
    }
}
