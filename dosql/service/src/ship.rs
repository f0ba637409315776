//! Shipping a database's change stream to DoLake: the shard side of the
//! link of `shared_types::lake`, over a replication slot.
//!
//! ```text
//!   owner (DoSql Object)                 Shipper                      Database
//!   commit seen / alarm ──> next_frame(db, shard) ── read_slot ──> ChangeBatch
//!                           Some(Batch frame) ──> send, await the reply
//!   reply ───────────────> on_reply(db, frame)
//!                             ack{lsn}   ── ack_slot(lsn) ──> slot advances, ask again
//!                             nack{ms}   ── Retry{after_ms}   (nothing moves)
//!                             error      ── Refused           (stop, report)
//!   link down / timeout ──> on_link_lost()   (the same position is resent)
//! ```
//!
//! Invariants:
//! * The slot moves only on DoLake's ack, and only to an LSN the shipped
//!   batch covered: every transaction below the slot position is durable in
//!   the lake. So after a restart of either side shipping resumes from the
//!   slot, and at worst resends transactions the lake already holds, which
//!   it drops by `(shard, lsn)`.
//! * One batch in flight at a time: a reply is matched to the batch sent
//!   before it, and a reply with no batch in flight is ignored.
//! * A batch whose transactions were all filtered out (slot bookkeeping,
//!   index changes) is not sent and not acknowledged on its own: an ack is a
//!   commit, which would itself be such a transaction, for ever. The next
//!   real batch covers those LSNs.
//! * Batches stay well under the 1 MiB WebSocket message limit of Workers.

use dosql::sql::cdc::{ChangeFilter, ReadLimits};
use dosql::sql::Database;
use shared_types::lake::{LakeFrame, ShardFrame, MAX_FRAME_BYTES};
use shared_types::{ErrorCode, WireError};

use crate::bind::wire_error;
use crate::cdc::batch_to_wire;

/// The slot DoLake's stream reads from.
pub const LAKE_SLOT: &str = "dolake";

/// Transactions per batch.
pub const BATCH_TXNS: usize = 500;

/// Estimated JSON bytes per batch: a quarter of the 1 MiB message limit,
/// because the estimate is not exact.
pub const BATCH_BYTES: usize = 256 << 10;

/// What the owner does after a reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The slot advanced to `lsn`: ask [`Shipper::next_frame`] again.
    Acked { lsn: u64 },
    /// Resend the same position after `after_ms`.
    Retry { after_ms: u64, reason: String },
    /// DoLake refused the batch for good; shipping stops until the owner
    /// restarts it (an operator fixes the cause).
    Refused(WireError),
}

/// The shard side of the link; see the module doc.
#[derive(Debug, Default)]
pub struct Shipper {
    /// The last LSN the batch in flight covers.
    in_flight: Option<u64>,
    /// Why shipping stopped, if it did.
    stopped: Option<WireError>,
    /// Batches acknowledged since this shipper was made.
    pub acked_batches: u64,
}

impl Shipper {
    pub fn new() -> Shipper {
        Shipper::default()
    }

    /// Creates the lake's slot if it does not exist yet (the first open of a
    /// database): changes committed after this call are shipped.
    pub fn ensure_slot(db: &mut Database) -> Result<(), WireError> {
        if db.slot(LAKE_SLOT).is_err() {
            db.create_slot(LAKE_SLOT).map_err(|e| wire_error(&e))?;
        }
        Ok(())
    }

    /// Why shipping stopped (a refused batch or a lost slot position).
    pub fn stopped(&self) -> Option<&WireError> {
        self.stopped.as_ref()
    }

    /// Whether a batch is waiting for its reply.
    pub fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The next batch to send, as its encoded frame (JSON text, checked
    /// against [`MAX_FRAME_BYTES`]), or `None` when the lake has everything
    /// (or shipping stopped, or a batch is already in flight).
    pub fn next_frame(
        &mut self,
        db: &mut Database,
        shard: &str,
    ) -> Result<Option<String>, WireError> {
        if self.stopped.is_some() || self.in_flight.is_some() {
            return Ok(None);
        }
        if shard.is_empty() {
            return Err(WireError::new(
                ErrorCode::InvalidRequest,
                "the database has no shard name: the owner must call Service::set_shard",
            ));
        }
        let limits = ReadLimits {
            max_txns: BATCH_TXNS,
            max_bytes: BATCH_BYTES,
        };
        let batch = match db.read_slot(LAKE_SLOT, limits, &ChangeFilter::default()) {
            Ok(batch) => batch,
            Err(e) => {
                let e = wire_error(&e);
                // A lagging slot's position is lost: resending cannot help.
                if e.code == ErrorCode::LimitExceeded || e.code == ErrorCode::NotFound {
                    self.stopped = Some(e.clone());
                }
                return Err(e);
            }
        };
        if batch.txns.is_empty() {
            return Ok(None);
        }
        let covers = batch.next_lsn - 1;
        let first = batch.txns[0].lsn;
        let text = ShardFrame::Batch {
            shard: shard.to_owned(),
            batch: batch_to_wire(batch, shard),
        }
        .encode();
        // A batch holds at least one whole transaction, so one transaction
        // larger than a frame cannot be shipped (it is not split yet):
        // stop with a typed error rather than send what the link refuses.
        let size = text.len();
        if size > MAX_FRAME_BYTES {
            let e = WireError::new(
                ErrorCode::LimitExceeded,
                format!(
                    "the change batch from LSN {first} encodes to {size} bytes, over the \
                     {MAX_FRAME_BYTES}-byte link frame: a transaction this large cannot be \
                     shipped to the lake; shipping stopped"
                ),
            );
            self.stopped = Some(e.clone());
            return Err(e);
        }
        self.in_flight = Some(covers);
        Ok(Some(text))
    }

    /// Applies DoLake's reply to the batch in flight.
    pub fn on_reply(
        &mut self,
        db: &mut Database,
        shard: &str,
        reply: LakeFrame,
    ) -> Result<Outcome, WireError> {
        let Some(covers) = self.in_flight.take() else {
            return Err(WireError::new(
                ErrorCode::InvalidRequest,
                "a reply from the lake with no batch in flight",
            ));
        };
        match reply {
            LakeFrame::Ack { shard: s, lsn } if s != shard || lsn > covers => {
                let e = WireError::new(
                    ErrorCode::Internal,
                    format!(
                        "the lake acknowledged {s:?} up to LSN {lsn} for a batch of {shard:?} \
                         ending at LSN {covers}"
                    ),
                );
                self.stopped = Some(e.clone());
                Ok(Outcome::Refused(e))
            }
            LakeFrame::Ack { lsn, .. } => {
                let acked = db.slot(LAKE_SLOT).map_err(|e| wire_error(&e))?.acked_lsn;
                // An ack below the slot acknowledges nothing new.
                if lsn > acked {
                    db.ack_slot(LAKE_SLOT, lsn).map_err(|e| wire_error(&e))?;
                }
                self.acked_batches += 1;
                Ok(Outcome::Acked { lsn })
            }
            LakeFrame::Nack {
                retry_after_ms,
                reason,
            } => Ok(Outcome::Retry {
                after_ms: retry_after_ms,
                reason,
            }),
            LakeFrame::Error { error } => {
                self.stopped = Some(error.clone());
                Ok(Outcome::Refused(error))
            }
        }
    }

    /// The link failed before the reply came: the batch is resent later,
    /// from the slot's unchanged position.
    pub fn on_link_lost(&mut self) {
        self.in_flight = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dosql::sql::Session;

    fn database() -> Database {
        Database::open_memory().unwrap()
    }

    fn exec(db: &mut Database, sql: &str) {
        db.execute(&mut Session::new(), sql, &[]).unwrap();
    }

    fn batch_of(text: String) -> shared_types::cdc::ChangeBatch {
        let ShardFrame::Batch { batch, .. } = serde_json::from_str(&text).unwrap();
        batch
    }

    #[test]
    fn ships_committed_changes_and_advances_only_on_ack() {
        let mut db = database();
        Shipper::ensure_slot(&mut db).unwrap();
        Shipper::ensure_slot(&mut db).unwrap();
        let mut s = Shipper::new();
        assert_eq!(s.next_frame(&mut db, "db1").unwrap(), None);
        exec(
            &mut db,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');",
        );
        let first = batch_of(s.next_frame(&mut db, "db1").unwrap().unwrap());
        assert!(first.txns.iter().all(|t| t.shard == "db1"));
        assert!(!first.txns.is_empty());
        // One batch in flight at a time.
        assert_eq!(s.next_frame(&mut db, "db1").unwrap(), None);
        let covers = first.next_lsn - 1;
        // A nack moves nothing: the same transactions come again.
        let nack = LakeFrame::Nack {
            retry_after_ms: 50,
            reason: "full".into(),
        };
        assert!(matches!(
            s.on_reply(&mut db, "db1", nack).unwrap(),
            Outcome::Retry { after_ms: 50, .. }
        ));
        let again = batch_of(s.next_frame(&mut db, "db1").unwrap().unwrap());
        assert_eq!(again, first);
        // So does a lost link.
        s.on_link_lost();
        assert_eq!(
            batch_of(s.next_frame(&mut db, "db1").unwrap().unwrap()),
            first
        );
        let ack = LakeFrame::Ack {
            shard: "db1".into(),
            lsn: covers,
        };
        assert_eq!(
            s.on_reply(&mut db, "db1", ack).unwrap(),
            Outcome::Acked { lsn: covers }
        );
        assert_eq!(db.slot(LAKE_SLOT).unwrap().acked_lsn, covers);
        // The ack itself is bookkeeping: nothing more to ship.
        assert_eq!(s.next_frame(&mut db, "db1").unwrap(), None);
        exec(
            &mut db,
            "UPDATE t SET v = 'b' WHERE id = 1; DELETE FROM t WHERE id = 1;",
        );
        let next = batch_of(s.next_frame(&mut db, "db1").unwrap().unwrap());
        assert!(next.txns.iter().all(|t| t.lsn > covers));
    }

    #[test]
    fn bad_replies_stop_shipping_with_a_typed_error() {
        let mut db = database();
        Shipper::ensure_slot(&mut db).unwrap();
        let mut s = Shipper::new();
        let ack = LakeFrame::Ack {
            shard: "db1".into(),
            lsn: 1,
        };
        assert!(
            s.on_reply(&mut db, "db1", ack).is_err(),
            "no batch in flight"
        );
        exec(&mut db, "CREATE TABLE t (a); INSERT INTO t VALUES (1);");
        let b = batch_of(s.next_frame(&mut db, "db1").unwrap().unwrap());
        let beyond = LakeFrame::Ack {
            shard: "db1".into(),
            lsn: b.next_lsn + 5,
        };
        assert!(matches!(
            s.on_reply(&mut db, "db1", beyond).unwrap(),
            Outcome::Refused(_)
        ));
        assert!(s.stopped().is_some());
        assert_eq!(s.next_frame(&mut db, "db1").unwrap(), None);
        assert!(db.slot(LAKE_SLOT).unwrap().acked_lsn < b.next_lsn - 1);
        let mut s = Shipper::new();
        assert!(
            s.next_frame(&mut db, "").is_err(),
            "a shard name is required"
        );
        assert!(s.next_frame(&mut db, "db1").unwrap().is_some());
        let refused = LakeFrame::Error {
            error: WireError::new(ErrorCode::InvalidRequest, "bad batch"),
        };
        assert!(
            matches!(s.on_reply(&mut db, "db1", refused).unwrap(), Outcome::Refused(e) if e.message == "bad batch")
        );
    }

    #[test]
    fn a_transaction_larger_than_a_frame_stops_shipping_with_a_typed_error() {
        let mut db = database();
        Shipper::ensure_slot(&mut db).unwrap();
        let mut s = Shipper::new();
        exec(&mut db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
        // 3,000 rows of 500 bytes in one transaction: about 2 MiB of JSON.
        exec(
            &mut db,
            "INSERT INTO t WITH RECURSIVE n(i) AS \
             (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) \
             SELECT i, randomblob(500) FROM n",
        );
        // The CREATE fits a batch of its own; the big transaction comes next.
        let create = batch_of(s.next_frame(&mut db, "db1").unwrap().unwrap());
        assert_eq!(create.txns.len(), 1);
        let ack = LakeFrame::Ack {
            shard: "db1".into(),
            lsn: create.next_lsn - 1,
        };
        s.on_reply(&mut db, "db1", ack).unwrap();
        let e = s.next_frame(&mut db, "db1").unwrap_err();
        assert_eq!(e.code, ErrorCode::LimitExceeded);
        assert!(e.message.contains("link frame"), "{}", e.message);
        assert_eq!(s.stopped().map(|e| e.code), Some(ErrorCode::LimitExceeded));
        // Stopped: nothing more is sent, and the database still serves.
        assert_eq!(s.next_frame(&mut db, "db1").unwrap(), None);
        exec(&mut db, "INSERT INTO t VALUES (0, x'00')");
    }
}
