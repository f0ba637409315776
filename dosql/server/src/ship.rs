//! Shipping one database's change stream to the server's lake, in process:
//! the driver of `dosql_service::ship::Shipper` on a database thread.
//!
//! ```text
//!   database thread (db.rs)                         lake thread (node.rs)
//!   after each job: poll(now)
//!     committed since last look, or retry due?
//!     Shipper::next_frame ── frame text + Reply ──> on_frame(text, now) -> LakeFrame
//!     (returns at once: nothing blocks)                 │
//!   job: on_reply(Some(frame)) <── post(reply) ─────────┘
//!     Acked   -> poll again at once (more may wait)
//!     Retry   -> retry_at = now + after_ms
//!     Refused -> stopped (reported by /lake/stats)
//!   job: on_reply(None)  <── Reply dropped unanswered (lake thread gone)
//!     link lost -> retry with backoff
//! ```
//!
//! Invariants:
//! * One batch in flight per database (the Shipper's rule); its reply comes
//!   back as a job on the database's own thread, so the database is only
//!   ever touched there.
//! * Every batch sent gets exactly one `on_reply`: a [`Reply`] either
//!   carries the lake's answer or, dropped unanswered, reports the link
//!   lost.
//! * The slot moves only on an ack; a new `Shipping` (server start) ships
//!   from the slot at once, and the lake drops what it already has by
//!   (shard, LSN).

use std::sync::Arc;

use dosql_service::ship::{Outcome, Shipper, LAKE_SLOT};
use dosql_service::Service;
use serde_json::{json, Value as Json};
use shared_types::lake::LakeFrame;

use crate::db::now_ms;
use crate::node::{Node, NodeJob};

/// Posts a reply (or `None`: no reply will come) to the database's thread.
pub type Post = Arc<dyn Fn(Option<LakeFrame>) + Send + Sync>;

/// First wait after a failure; doubled per failure in a row.
const BACKOFF_MS: u64 = 100;
/// Longest wait after failures.
const MAX_BACKOFF_MS: u64 = 10_000;

/// The way back for the reply to one batch; see the module doc.
struct Reply(Option<Post>);

impl Reply {
    fn send(mut self, frame: LakeFrame) {
        if let Some(post) = self.0.take() {
            post(Some(frame));
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(post) = self.0.take() {
            post(None);
        }
    }
}

/// One database's shipping state.
pub struct Shipping {
    node: Node,
    post: Post,
    shipper: Shipper,
    /// The engine's last LSN when we last looked: a change means a commit.
    seen_lsn: u64,
    /// When to ship even without a new commit (start, after an ack, a nack
    /// or a failure).
    retry_at: Option<u64>,
    /// Failures in a row (link lost, local errors).
    failures: u32,
    last_error: Option<String>,
    sent_batches: u64,
}

impl Shipping {
    /// Shipping for a database whose slot exists (`Shipper::ensure_slot`).
    pub fn new(node: Node, post: Post) -> Shipping {
        Shipping {
            node,
            post,
            shipper: Shipper::new(),
            seen_lsn: 0,
            // Whatever the slot holds from before a restart goes at once.
            retry_at: Some(0),
            failures: 0,
            last_error: None,
            sent_batches: 0,
        }
    }

    /// When the database thread must call [`Shipping::poll`] without a job.
    pub fn wake_at(&self) -> Option<u64> {
        if self.shipper.in_flight() || self.shipper.stopped().is_some() {
            return None;
        }
        self.retry_at
    }

    /// Sends the next batch if something committed or a retry is due, and
    /// nothing is in flight.
    pub fn poll(&mut self, service: &mut Service, now: u64) {
        if self.shipper.in_flight() || self.shipper.stopped().is_some() {
            return;
        }
        let lsn = service.database().engine().stats().last_lsn;
        let due = match self.retry_at {
            Some(at) => at <= now,
            // Commits go at once unless a retry (nack, failure) is pending.
            None => lsn != self.seen_lsn,
        };
        if !due {
            return;
        }
        self.seen_lsn = lsn;
        self.retry_at = None;
        let shard = service.shard().to_owned();
        let text = match self.shipper.next_frame(service.database(), &shard) {
            Ok(Some(text)) => text,
            Ok(None) => return,
            Err(e) => {
                self.fail(now, format!("cannot read the change stream: {}", e.message));
                return;
            }
        };
        let reply = Reply(Some(self.post.clone()));
        let job: NodeJob = Box::new(move |host| {
            let answer = host.node.on_frame(&text, now_ms());
            reply.send(answer);
        });
        self.sent_batches += 1;
        // A refused send drops the job, whose Reply reports the link lost.
        let _ = self.node.send(job);
    }

    /// Applies the lake's reply to the batch in flight (`None`: no reply
    /// will come).
    pub fn on_reply(&mut self, service: &mut Service, reply: Option<LakeFrame>, now: u64) {
        let Some(frame) = reply else {
            self.shipper.on_link_lost();
            self.fail(now, "the lake did not answer".to_owned());
            return;
        };
        let shard = service.shard().to_owned();
        match self.shipper.on_reply(service.database(), &shard, frame) {
            Ok(Outcome::Acked { .. } | Outcome::Progress { .. }) => {
                self.failures = 0;
                self.last_error = None;
                self.retry_at = Some(now);
            }
            Ok(Outcome::Retry { after_ms, reason }) => {
                self.last_error = Some(format!("the lake asked to retry: {reason}"));
                self.retry_at = Some(now.saturating_add(after_ms));
            }
            Ok(Outcome::Refused(e)) => {
                eprintln!(
                    "database {shard}: the lake refused a batch, shipping stopped: {}",
                    e.message
                );
                self.last_error = Some(e.message);
            }
            Err(e) => self.fail(now, format!("cannot apply the lake's reply: {}", e.message)),
        }
    }

    fn fail(&mut self, now: u64, message: String) {
        let backoff = BACKOFF_MS
            .saturating_mul(1 << self.failures.min(16))
            .min(MAX_BACKOFF_MS);
        self.failures += 1;
        self.last_error = Some(message);
        self.retry_at = Some(now.saturating_add(backoff));
    }

    /// The shipping figures of the stats route.
    pub fn stats(&self, service: &mut Service) -> Json {
        let db = service.database();
        let slot = db.slot(LAKE_SLOT).ok();
        json!({
            "shard": service.shard(),
            "last_lsn": service.database().engine().stats().last_lsn,
            "acked_lsn": slot.as_ref().map(|s| s.acked_lsn),
            "retained_records": slot.as_ref().map(|s| s.retained_records),
            "in_flight": self.shipper.in_flight(),
            "sent_batches": self.sent_batches,
            "acked_batches": self.shipper.acked_batches,
            "parts_sent": self.shipper.parts_sent,
            "retry_at": self.retry_at,
            "failures": self.failures,
            "last_error": self.last_error,
            "stopped": self.shipper.stopped(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_reply_dropped_unanswered_reports_the_link_lost() {
        let got: Arc<Mutex<Vec<Option<LakeFrame>>>> = Arc::default();
        let sink = got.clone();
        let post: Post = Arc::new(move |r| sink.lock().unwrap().push(r));
        drop(Reply(Some(post.clone())));
        let ack = LakeFrame::Ack {
            shard: "a".into(),
            lsn: 3,
        };
        Reply(Some(post)).send(ack.clone());
        assert_eq!(*got.lock().unwrap(), vec![None, Some(ack)]);
    }
}
