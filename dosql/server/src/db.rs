//! Databases by name, each on a thread of its own.
//!
//! ```text
//!   async handlers ──Db::call(closure)──> mpsc ──> database thread
//!        ^                                           owns Service (engine is sync)
//!        └──────────── oneshot reply ────────────────┘  every tick: expire_idle
//!                                                       after each call: poisoned? reopen
//!   lake thread ── reply to a batch (a job) ──> mpsc    after each call: ship (ship.rs)
//! ```
//!
//! The engine never runs on an async worker and is never held across an
//! `.await`: handlers send closures and await their answers. Calls of one
//! database run one at a time, in the order they were sent, which is what
//! keeps the requests of one WebSocket in order. A database thread lives as
//! long as the server (databases are few and local).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dosql::sql::Database;
use dosql_service::ship::Shipper;
use dosql_service::Service;
use serde_json::Value as Json;
use shared_types::{ErrorCode, WireError};
use tokio::sync::{oneshot, Mutex};

use crate::node::Node;
use crate::ship::{Post, Shipping};

type Job = Box<dyn FnOnce(&mut Host) + Send>;

/// What a database thread owns.
pub struct Host {
    service: Service,
    /// `None` when the server runs without its lake.
    shipping: Option<Shipping>,
}

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
    /// Set by the thread when it ends (its database failed to open).
    stopped: Arc<AtomicBool>,
}

/// Resolves when a database thread has opened its database (or failed to).
type Opened = oneshot::Receiver<Result<(), WireError>>;

impl Db {
    /// Starts the thread that opens (or creates) the database in `dir`
    /// and then serves it. Jobs sent before the open finishes wait for it.
    fn spawn(
        name: &str,
        dir: PathBuf,
        idle_timeout_ms: u64,
        lake: Option<Node>,
    ) -> Result<(Db, Opened), WireError> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, opened) = oneshot::channel();
        let stopped = Arc::new(AtomicBool::new(false));
        let flag = stopped.clone();
        let own_jobs = jobs.clone();
        std::thread::Builder::new()
            .name(format!("db-{name}"))
            .spawn(move || {
                let host = match open_host(&dir, lake, own_jobs) {
                    Ok(mut h) => {
                        h.service.set_idle_timeout(idle_timeout_ms);
                        let _ = ready.send(Ok(()));
                        h
                    }
                    Err(e) => {
                        flag.store(true, Ordering::SeqCst);
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                run(host, &dir, inbox);
            })
            .map_err(|e| internal(format!("cannot start a database thread: {e}")))?;
        Ok((Db { jobs, stopped }, opened))
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Runs `f` on the database's thread and returns its answer.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Service) -> R + Send + 'static,
    ) -> Result<R, WireError> {
        self.call_host(move |host| f(&mut host.service)).await
    }

    async fn call_host<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Host) -> R + Send + 'static,
    ) -> Result<R, WireError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |host| {
            let _ = reply.send(f(host));
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
    let mut service = Service::new(db);
    // The database's directory is named after it: its change stream's shard.
    if let Some(name) = dir.file_name().and_then(|n| n.to_str()) {
        service.set_shard(name);
    }
    Ok(service)
}

/// Opens the database and, with a lake, its shipping: the lake's slot is
/// created on first open, so every later commit reaches the lake.
fn open_host(
    dir: &Path,
    lake: Option<Node>,
    own_jobs: mpsc::Sender<Job>,
) -> Result<Host, WireError> {
    let mut service = open_service(dir)?;
    let shipping = match lake {
        Some(node) => {
            Shipper::ensure_slot(service.database())?;
            let post: Post = Arc::new(move |reply| {
                let job: Job = Box::new(move |host| host.lake_reply(reply));
                // The thread owns a sender of its own inbox: it cannot be gone.
                let _ = own_jobs.send(job);
            });
            Some(Shipping::new(node, post))
        }
        None => None,
    };
    Ok(Host { service, shipping })
}

impl Host {
    fn lake_reply(&mut self, reply: Option<shared_types::lake::LakeFrame>) {
        if let Some(shipping) = &mut self.shipping {
            shipping.on_reply(&mut self.service, reply, now_ms());
        }
    }

    /// The shipping figures of the stats route (`null` without a lake).
    fn shipping_stats(&mut self) -> Json {
        match &self.shipping {
            Some(s) => s.stats(&mut self.service),
            None => Json::Null,
        }
    }
}

fn run(mut host: Host, dir: &Path, inbox: mpsc::Receiver<Job>) {
    loop {
        let now = now_ms();
        let wait = host
            .shipping
            .as_ref()
            .and_then(Shipping::wake_at)
            .map_or(EXPIRY_TICK, |at| {
                EXPIRY_TICK.min(Duration::from_millis(at.saturating_sub(now)))
            });
        match inbox.recv_timeout(wait) {
            Ok(job) => job(&mut host),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        let service = &mut host.service;
        service.expire_idle(now_ms());
        if service.is_poisoned() {
            // A storage failure: what is durable is in the files; reopen
            // from them (open transactions are lost and reported so).
            match Database::open_dir(dir) {
                Ok(db) => service.replace_database(db),
                Err(e) => eprintln!("database {} cannot be reopened: {e}", dir.display()),
            }
        }
        if let Some(shipping) = &mut host.shipping {
            shipping.poll(service, now_ms());
        }
    }
}

/// Every database of the server, by name, under one data directory.
pub struct Registry {
    root: PathBuf,
    idle_timeout_ms: u64,
    /// The lake every database ships to, if the server runs one.
    lake: Option<Node>,
    open: Mutex<HashMap<String, Db>>,
}

impl Registry {
    pub fn new(root: PathBuf, idle_timeout_ms: u64, lake: Option<Node>) -> Registry {
        Registry {
            root,
            idle_timeout_ms,
            lake,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Opens every database of the data directory, so that what their
    /// slots hold from before a restart reaches the lake without waiting
    /// for a client. Returns the names that failed, with why.
    pub async fn open_all(&self) -> Vec<(String, WireError)> {
        let names: Vec<String> = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| check_name(n).is_ok())
                .collect(),
            Err(_) => Vec::new(),
        };
        let mut failed = Vec::new();
        for name in names {
            if let Err(e) = self.get(&name).await {
                failed.push((name, e));
            }
        }
        failed
    }

    /// The database called `name`, opened on first use.
    ///
    /// The database's thread is registered before its open is awaited: a
    /// request cancelled meanwhile (its client gave up) leaves the thread
    /// to finish opening, and later requests queue on that same thread.
    /// Opening the same files from two threads at once would let one read
    /// the other's half-created files.
    pub async fn get(&self, name: &str) -> Result<Db, WireError> {
        check_name(name)?;
        let mut open = self.open.lock().await;
        if let Some(db) = open.get(name).filter(|db| !db.is_stopped()) {
            return Ok(db.clone());
        }
        let (db, opened) = Db::spawn(
            name,
            self.root.join(name),
            self.idle_timeout_ms,
            self.lake.clone(),
        )?;
        open.insert(name.to_owned(), db.clone());
        drop(open);
        opened
            .await
            .map_err(|_| internal("the database thread stopped"))??;
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

    /// Per open database, its shipping figures.
    pub async fn shipping_stats(&self) -> serde_json::Map<String, Json> {
        let dbs: Vec<(String, Db)> = self
            .open
            .lock()
            .await
            .iter()
            .map(|(n, d)| (n.clone(), d.clone()))
            .collect();
        let mut out = serde_json::Map::new();
        for (name, db) in dbs {
            if let Ok(stats) = db.call_host(Host::shipping_stats).await {
                out.insert(name, stats);
            }
        }
        out
    }
}

/// Database names are 1 to 64 characters of `[A-Za-z0-9_-]`, so that a
/// name is always one plain directory under the data directory.
pub fn check_name(name: &str) -> Result<(), WireError> {
    if shared_types::limits::valid_database_name(name) {
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

    #[tokio::test]
    async fn a_cancelled_open_is_finished_not_repeated() {
        let dir = tempfile::tempdir().unwrap();
        let registry = std::sync::Arc::new(Registry::new(dir.path().to_path_buf(), 1000, None));
        for round in 0..20 {
            let name = format!("db{round}");
            // Give up on the first open at once, then race more opens.
            let _ = tokio::time::timeout(Duration::from_micros(1), registry.get(&name)).await;
            let mut tasks = Vec::new();
            for _ in 0..4 {
                let (r, n) = (registry.clone(), name.clone());
                tasks.push(tokio::spawn(async move {
                    let db = r.get(&n).await?;
                    db.call(|s| s.database().schema().tables.len()).await
                }));
            }
            for t in tasks {
                assert_eq!(t.await.unwrap().unwrap(), 0, "{name}");
            }
        }
    }

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
        let reg = Registry::new(dir.path().to_path_buf(), 1000, None);
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
