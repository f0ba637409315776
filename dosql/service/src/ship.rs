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
//! * One frame in flight at a time: a reply is matched to the frame sent
//!   before it, and a reply with no frame in flight is ignored.
//! * A batch whose transactions were all filtered out (slot bookkeeping,
//!   index changes) is not sent and not acknowledged on its own: an ack is a
//!   commit, which would itself be such a transaction, for ever. The next
//!   real batch covers those LSNs.
//! * No frame exceeds [`MAX_FRAME_BYTES`], the 1 MiB WebSocket message limit
//!   of Workers. A batch that encodes larger is cut to its first
//!   transaction; if that one alone is larger, its encoded batch goes in
//!   `part` frames:
//!
//! ```text
//!   pending {lsn, payload (one encoding, kept), offset}
//!     next_frame -> part [offset, offset + n)   n fits a frame, UTF-8 cut
//!     progress{received} -> offset = received   (the lake's word, always)
//!     ack{lsn}           -> slot acked, pending dropped
//!     nack / link lost   -> the same offset again
//! ```
//!
//!   The lake says where to continue, so a part whose reply was lost, or a
//!   new Shipper after a restart (which re-reads and re-encodes the
//!   transaction from offset 0), costs one resend and stores nothing twice.

use dosql::sql::cdc::{ChangeFilter, ReadLimits};
use dosql::sql::Database;
use shared_types::cdc::ChangeBatch;
use shared_types::lake::{payload_crc, LakeFrame, ShardFrame, MAX_FRAME_BYTES};
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

/// The largest `data` of a part, in bytes of the payload: half a frame,
/// so that JSON escaping (a quote becomes two bytes) and the frame's own
/// fields fit; a part that still encodes larger is cut shorter.
pub const PART_BYTES: usize = 512 << 10;

/// What the owner does after a reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The slot advanced to `lsn`: ask [`Shipper::next_frame`] again.
    Acked { lsn: u64 },
    /// The lake holds the first `received` bytes of transaction `lsn`'s
    /// parts: ask [`Shipper::next_frame`] again (the slot did not move).
    Progress { lsn: u64, received: u64 },
    /// Resend the same position after `after_ms`.
    Retry { after_ms: u64, reason: String },
    /// DoLake refused the batch for good; shipping stops until the owner
    /// restarts it (an operator fixes the cause).
    Refused(WireError),
}

/// A transaction too large for one frame, being sent in parts.
#[derive(Debug)]
struct Pending {
    lsn: u64,
    /// The last LSN its batch covers (what the final ack may reach).
    covers: u64,
    /// The encoded batch, kept so that every part cuts the same bytes.
    payload: String,
    crc: u32,
    /// The first byte the lake does not hold yet, by its last word.
    offset: usize,
}

/// What the frame in flight was.
#[derive(Clone, Copy, Debug)]
enum Flight {
    /// A batch covering every LSN up to this one.
    Batch { covers: u64 },
    /// A part of the pending transaction.
    Part,
}

/// The shard side of the link; see the module doc.
#[derive(Debug, Default)]
pub struct Shipper {
    in_flight: Option<Flight>,
    pending: Option<Pending>,
    /// Why shipping stopped, if it did.
    stopped: Option<WireError>,
    /// Batches acknowledged since this shipper was made.
    pub acked_batches: u64,
    /// Part frames sent since this shipper was made.
    pub parts_sent: u64,
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

    /// Whether a frame is waiting for its reply.
    pub fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The next frame to send, encoded (JSON text of at most
    /// [`MAX_FRAME_BYTES`]), or `None` when the lake has everything (or
    /// shipping stopped, or a frame is already in flight).
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
        if self.pending.is_some() {
            return self.next_part(shard).map(Some);
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
        let (mut text, mut batch) = encode_batch(shard, batch_to_wire(batch, shard));
        if text.len() > MAX_FRAME_BYTES && batch.txns.len() > 1 {
            // The size estimate of the read missed: send the first
            // transaction alone. Every LSN below the second was examined.
            batch.next_lsn = batch.txns[1].lsn;
            batch.txns.truncate(1);
            (text, batch) = encode_batch(shard, batch);
        }
        let covers = batch.next_lsn - 1;
        if text.len() <= MAX_FRAME_BYTES {
            self.in_flight = Some(Flight::Batch { covers });
            return Ok(Some(text));
        }
        let payload = serde_json::to_string(&batch).expect("a change batch always serialises");
        self.pending = Some(Pending {
            lsn: batch.txns[0].lsn,
            covers,
            crc: payload_crc(payload.as_bytes()),
            payload,
            offset: 0,
        });
        self.next_part(shard).map(Some)
    }

    /// The part of the pending transaction at the lake's offset, cut so
    /// that its frame fits.
    fn next_part(&mut self, shard: &str) -> Result<String, WireError> {
        let p = self.pending.as_ref().expect("a pending transaction");
        let mut len = PART_BYTES.min(p.payload.len() - p.offset);
        loop {
            let mut end = p.offset + len;
            while !p.payload.is_char_boundary(end) {
                end -= 1;
            }
            let text = ShardFrame::Part {
                shard: shard.to_owned(),
                lsn: p.lsn,
                offset: p.offset as u64,
                total: p.payload.len() as u64,
                crc: p.crc,
                data: p.payload[p.offset..end].to_owned(),
            }
            .encode();
            if text.len() <= MAX_FRAME_BYTES {
                self.in_flight = Some(Flight::Part);
                self.parts_sent += 1;
                return Ok(text);
            }
            // Escapes made it too long (a part of 16 bytes always fits).
            len /= 2;
        }
    }

    /// Applies DoLake's reply to the frame in flight.
    pub fn on_reply(
        &mut self,
        db: &mut Database,
        shard: &str,
        reply: LakeFrame,
    ) -> Result<Outcome, WireError> {
        let Some(flight) = self.in_flight.take() else {
            return Err(WireError::new(
                ErrorCode::InvalidRequest,
                "a reply from the lake with no frame in flight",
            ));
        };
        let covers = match (flight, &self.pending) {
            (Flight::Batch { covers }, _) => covers,
            (Flight::Part, Some(p)) => p.covers,
            (Flight::Part, None) => unreachable!("a part is in flight only while pending"),
        };
        match reply {
            LakeFrame::Ack { shard: s, lsn } if s != shard || lsn > covers => {
                Ok(self.refuse(format!(
                    "the lake acknowledged {s:?} up to LSN {lsn} for a frame of {shard:?} \
                     ending at LSN {covers}"
                )))
            }
            LakeFrame::Ack { lsn, .. } => {
                let acked = db.slot(LAKE_SLOT).map_err(|e| wire_error(&e))?.acked_lsn;
                // An ack below the slot acknowledges nothing new.
                if lsn > acked {
                    db.ack_slot(LAKE_SLOT, lsn).map_err(|e| wire_error(&e))?;
                }
                self.pending = None;
                self.acked_batches += 1;
                Ok(Outcome::Acked { lsn })
            }
            LakeFrame::Progress {
                shard: s,
                lsn,
                received,
            } => match self.pending.as_mut() {
                Some(p)
                    if s == shard
                        && lsn == p.lsn
                        && received < p.payload.len() as u64
                        && p.payload.is_char_boundary(received as usize) =>
                {
                    p.offset = received as usize;
                    Ok(Outcome::Progress { lsn, received })
                }
                _ => Ok(self.refuse(format!(
                    "the lake reported {received} bytes of {s:?}'s LSN {lsn}, which is not \
                     the part in flight"
                ))),
            },
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

    /// A reply that breaks the protocol: shipping stops.
    fn refuse(&mut self, message: String) -> Outcome {
        let e = WireError::new(ErrorCode::Internal, message);
        self.stopped = Some(e.clone());
        Outcome::Refused(e)
    }

    /// The link failed before the reply came: the frame is resent later,
    /// from the slot's unchanged position (or the part's offset).
    pub fn on_link_lost(&mut self) {
        self.in_flight = None;
    }
}

/// The batch frame of `batch`, and the batch back (moved through the frame,
/// not cloned).
fn encode_batch(shard: &str, batch: ChangeBatch) -> (String, ChangeBatch) {
    let frame = ShardFrame::Batch {
        shard: shard.to_owned(),
        batch,
    };
    let text = frame.encode();
    let ShardFrame::Batch { batch, .. } = frame else {
        unreachable!("built as a batch")
    };
    (text, batch)
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
        match serde_json::from_str(&text).unwrap() {
            ShardFrame::Batch { batch, .. } => batch,
            ShardFrame::Part { .. } => panic!("a part, not a batch"),
        }
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

    /// The lake's side of parts, as far as the shipper can tell: it keeps
    /// `received` bytes and answers with them.
    fn part_of(text: &str) -> (u64, u64, u64, u32, String) {
        match serde_json::from_str(text).unwrap() {
            ShardFrame::Part {
                lsn,
                offset,
                total,
                crc,
                data,
                ..
            } => (lsn, offset, total, crc, data),
            ShardFrame::Batch { .. } => panic!("a batch, not a part"),
        }
    }

    fn progress(lsn: u64, received: u64) -> LakeFrame {
        LakeFrame::Progress {
            shard: "db1".into(),
            lsn,
            received,
        }
    }

    #[test]
    fn a_transaction_larger_than_a_frame_goes_in_parts_from_the_lakes_offset() {
        let mut db = database();
        Shipper::ensure_slot(&mut db).unwrap();
        exec(
            &mut db,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB, q TEXT)",
        );
        let mut s = Shipper::new();
        let create = batch_of(s.next_frame(&mut db, "db1").unwrap().unwrap());
        let ack = LakeFrame::Ack {
            shard: "db1".into(),
            lsn: create.next_lsn - 1,
        };
        s.on_reply(&mut db, "db1", ack).unwrap();
        // 3,000 rows in one transaction: about 3 MiB of JSON, with quotes
        // that JSON escapes twice (once in the batch, once in the part).
        exec(
            &mut db,
            "INSERT INTO t WITH RECURSIVE n(i) AS \
             (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) \
             SELECT i, randomblob(500), replace(hex(zeroblob(100)), '0', char(34)) FROM n",
        );
        let mut payload = String::new();
        let mut frames = 0;
        let (lsn, covers) = loop {
            let text = s.next_frame(&mut db, "db1").unwrap().unwrap();
            assert!(text.len() <= MAX_FRAME_BYTES, "{} bytes", text.len());
            assert_eq!(s.next_frame(&mut db, "db1").unwrap(), None, "one in flight");
            let (lsn, offset, total, crc, data) = part_of(&text);
            assert_eq!(offset, payload.len() as u64);
            frames += 1;
            if frames == 2 {
                // A lost reply: the same part again.
                s.on_link_lost();
                let again = s.next_frame(&mut db, "db1").unwrap().unwrap();
                assert_eq!(part_of(&again).1, offset);
            }
            payload.push_str(&data);
            if payload.len() as u64 == total {
                assert_eq!(payload_crc(payload.as_bytes()), crc);
                break (lsn, serde_json::from_str::<ChangeBatch>(&payload).unwrap());
            }
            let out = s.on_reply(&mut db, "db1", progress(lsn, payload.len() as u64));
            assert_eq!(
                out.unwrap(),
                Outcome::Progress {
                    lsn,
                    received: payload.len() as u64
                }
            );
        };
        assert!(frames >= 4, "{frames} parts");
        assert_eq!(covers.txns.len(), 1);
        assert_eq!(covers.txns[0].lsn, lsn);
        assert_eq!(covers.txns[0].events.len(), 3000);
        // A nack keeps the offset; the slot has not moved.
        let nack = LakeFrame::Nack {
            retry_after_ms: 5,
            reason: "full".into(),
        };
        s.on_reply(&mut db, "db1", nack).unwrap();
        assert!(db.slot(LAKE_SLOT).unwrap().acked_lsn < lsn);
        let last = part_of(&s.next_frame(&mut db, "db1").unwrap().unwrap());
        assert_eq!(last.1 + last.4.len() as u64, last.2, "the last part again");
        let done = LakeFrame::Ack {
            shard: "db1".into(),
            lsn: covers.next_lsn - 1,
        };
        s.on_reply(&mut db, "db1", done).unwrap();
        assert_eq!(db.slot(LAKE_SLOT).unwrap().acked_lsn, covers.next_lsn - 1);
        assert_eq!(s.next_frame(&mut db, "db1").unwrap(), None);
    }

    #[test]
    fn a_new_shipper_resumes_parts_where_the_lake_stands() {
        let mut db = database();
        Shipper::ensure_slot(&mut db).unwrap();
        exec(
            &mut db,
            "BEGIN; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB); \
             INSERT INTO t WITH RECURSIVE n(i) AS \
             (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             SELECT i, randomblob(600) FROM n; COMMIT",
        );
        let mut s = Shipper::new();
        let first = part_of(&s.next_frame(&mut db, "db1").unwrap().unwrap());
        assert_eq!(first.1, 0);
        let held = first.4.len() as u64;
        s.on_reply(&mut db, "db1", progress(first.0, held)).unwrap();
        // A restart: the new shipper re-reads and starts at 0; the lake
        // answers with what it holds and the shipper continues from there.
        let mut s = Shipper::new();
        let again = part_of(&s.next_frame(&mut db, "db1").unwrap().unwrap());
        assert_eq!((again.0, again.1, again.2), (first.0, 0, first.2));
        s.on_reply(&mut db, "db1", progress(first.0, held)).unwrap();
        let next = part_of(&s.next_frame(&mut db, "db1").unwrap().unwrap());
        assert_eq!(next.1, held);
        // A progress report for another transaction breaks the protocol.
        let out = s
            .on_reply(&mut db, "db1", progress(first.0 + 1, held))
            .unwrap();
        assert!(matches!(out, Outcome::Refused(_)));
        assert!(s.stopped().is_some());
        assert_eq!(s.next_frame(&mut db, "db1").unwrap(), None);
        exec(&mut db, "INSERT INTO t VALUES (0, x'00')");
    }
}
