//! The lake's thread: one `dolake::node::LakeNode` (lake state machine and
//! Iceberg catalog over one engine in LAKE_DIR/catalog), fed by jobs, and
//! its own alarm for flushes into the bucket.
//!
//! ```text
//!   catalog route ──job──┐
//!   db threads ── frame ─┼──> mpsc ──> lake thread: job(&mut LakeNode)
//!   stats route ──job────┘                │  recv_timeout(until next_flush_at)
//!                                         └─ due? flush_due(now) ──> Bucket (fsync'd puts)
//!                                                  └─ snapshot + catalog entry, one txn
//! ```
//!
//! Invariants:
//! * The engine is opened on this thread and never leaves it (it is not
//!   `Send`); every access is a job, run in arrival order.
//! * A link frame gets exactly one reply: `on_frame` always answers, and a
//!   job dropped unrun (the thread is gone) is the sender's "link lost"
//!   (see ship.rs).
//! * After every job and at every alarm the due flushes run before the next
//!   job, so a steady stream of frames cannot starve the age policy. A
//!   failed flush is retried after [`FLUSH_RETRY_MS`], not in a hot loop.
//! * A storage failure poisons the engine; it is reopened from its files
//!   (what is durable) before the next job.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use dolake::catalog::CatalogConfig;
use dolake::lake::LakeConfig;
use dolake::node::LakeNode;
use dosql::mvcc::{Engine, EngineConfig};
use rand::RngCore;
use serde_json::{json, Value as Json};

use crate::bucket::Bucket;
use crate::db::now_ms;

/// Page size of the lake's engine.
const PAGE_SIZE: u32 = 4096;

/// Wait after a failed flush before trying again.
pub const FLUSH_RETRY_MS: u64 = 1_000;

/// Work for the lake thread.
pub type NodeJob = Box<dyn FnOnce(&mut LakeHost) + Send>;

/// What a job gets: the node, and the thread's flush figures.
pub struct LakeHost {
    pub node: LakeNode,
    flushing: Flushing,
}

/// What the lake thread needs to (re)open its node.
#[derive(Clone)]
pub struct NodeConfig {
    /// The engine's directory (LAKE_DIR/catalog).
    pub state_dir: PathBuf,
    pub lake: LakeConfig,
    pub catalog: CatalogConfig,
}

/// A handle on the lake thread.
#[derive(Clone)]
pub struct Node {
    jobs: mpsc::Sender<NodeJob>,
}

/// Flush bookkeeping of the thread, reported by the stats route.
#[derive(Default)]
struct Flushing {
    flushes: u64,
    failures: u64,
    last_error: Option<String>,
    /// No flush before this time (after a failure).
    hold_until: u64,
}

impl Node {
    /// Starts the lake thread and waits until its node is open.
    pub fn spawn(config: NodeConfig, bucket: Bucket) -> Result<Node, String> {
        let (jobs, inbox) = mpsc::channel::<NodeJob>();
        let (ready, opened) = mpsc::channel();
        std::thread::Builder::new()
            .name("lake".into())
            .spawn(move || match open(&config) {
                Ok(node) => {
                    let _ = ready.send(Ok(()));
                    run(node, &config, &bucket, inbox);
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            })
            .map_err(|e| format!("cannot start the lake thread: {e}"))?;
        opened
            .recv()
            .map_err(|_| "the lake thread stopped".to_owned())??;
        Ok(Node { jobs })
    }

    /// Queues `job`; gives it back when the thread is gone.
    pub fn send(&self, job: NodeJob) -> Result<(), NodeJob> {
        self.jobs.send(job).map_err(|e| e.0)
    }
}

fn open(config: &NodeConfig) -> Result<LakeNode, String> {
    let engine =
        Engine::open_dir(&config.state_dir, PAGE_SIZE, EngineConfig::default()).map_err(|e| {
            format!(
                "cannot open the lake in {}: {e}",
                config.state_dir.display()
            )
        })?;
    LakeNode::open(engine, config.lake.clone(), config.catalog.clone()).map_err(|e| {
        format!(
            "cannot open the lake in {}: {e}",
            config.state_dir.display()
        )
    })
}

impl LakeHost {
    /// The lake's figures and the thread's flushes.
    pub fn stats(&self) -> Json {
        stats(&self.node, &self.flushing)
    }
}

fn stats(node: &LakeNode, flushing: &Flushing) -> Json {
    let lake = node.lake().stats();
    let tables: serde_json::Map<String, Json> = lake
        .tables
        .iter()
        .map(|(name, t)| {
            let table = json!({
                "buffered_rows": t.buffered_rows,
                "buffered_bytes": t.buffered_bytes,
                "flushes": t.flushes,
                "lsns": t.lsns,
                "metadata_location": t.metadata_location,
            });
            (name.clone(), table)
        })
        .collect();
    json!({
        "tables": tables,
        "shards": lake.shards,
        "buffered_bytes": lake.buffered_bytes,
        "nacks": lake.nacks,
        "next_flush_at": node.next_flush_at(),
        "flushes": flushing.flushes,
        "flush_failures": flushing.failures,
        "last_flush_error": flushing.last_error,
    })
}

fn run(node: LakeNode, config: &NodeConfig, bucket: &Bucket, inbox: mpsc::Receiver<NodeJob>) {
    let mut host = LakeHost {
        node,
        flushing: Flushing::default(),
    };
    loop {
        let due = host
            .node
            .next_flush_at()
            .map(|at| at.max(host.flushing.hold_until));
        let job = match due {
            None => inbox
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some(at) => {
                let wait = at.saturating_sub(now_ms());
                inbox.recv_timeout(Duration::from_millis(wait))
            }
        };
        match job {
            Ok(job) => job(&mut host),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        let LakeHost { node, flushing } = &mut host;
        reopen_if_poisoned(node, config);
        let now = now_ms();
        if now >= flushing.hold_until && node.next_flush_at().is_some_and(|at| at <= now) {
            flush(node, bucket, now, flushing);
            reopen_if_poisoned(node, config);
        }
    }
}

fn flush(node: &mut LakeNode, bucket: &Bucket, now: u64, flushing: &mut Flushing) {
    let entropy = || {
        let mut e = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut e);
        e
    };
    match node.flush_due(now, bucket, entropy) {
        Ok(done) => {
            flushing.flushes += done.len() as u64;
            flushing.last_error = None;
        }
        Err(e) => {
            eprintln!("lake flush failed (retrying in {FLUSH_RETRY_MS} ms): {e}");
            flushing.failures += 1;
            flushing.last_error = Some(e.to_string());
            flushing.hold_until = now + FLUSH_RETRY_MS;
        }
    }
}

/// A storage failure poisoned the engine: reopen the node from its files.
fn reopen_if_poisoned(node: &mut LakeNode, config: &NodeConfig) {
    if !node.engine_mut().is_poisoned() {
        return;
    }
    match open(config) {
        Ok(fresh) => *node = fresh,
        Err(e) => eprintln!("{e}"),
    }
}
