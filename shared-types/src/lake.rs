//! The DoSql -> DoLake link: change batches in, acknowledgements out, one
//! JSON text frame each way on a WebSocket the shard opens.
//!
//! ```text
//!   DoSql (shard)                                     DoLake
//!     {"type":"batch","shard":"db1","batch":{ChangeBatch}} ──>
//!                                                      receive, durable
//!     <── {"type":"ack","shard":"db1","lsn":41}           everything <= 41 kept
//!     <── {"type":"nack","retry_after_ms":1000,"reason":"..."}   nothing kept
//!     <── {"type":"error","error":{WireError}}            batch refused for good
//!
//!   a transaction too large for one frame: its batch, encoded, in parts
//!     {"type":"part","shard":"db1","lsn":42,"offset":0,"total":N,"crc":C,"data":"..."} ──>
//!     <── {"type":"progress","shard":"db1","lsn":42,"received":R}   bytes [0, R) durable
//!     ... the part at offset R, until R = N ...
//!     <── {"type":"ack","shard":"db1","lsn":42}           the whole transaction kept
//! ```
//!
//! Invariants:
//! * Strictly one reply per batch, in order: a shard sends its next batch
//!   only after the reply to the previous one, so a reply never needs an id.
//! * An `ack` is sent only after the batch is durable in the lake; the
//!   shard then advances its replication slot to `lsn`. Acks are
//!   idempotent: redelivered transactions (`lsn` at or below what the lake
//!   holds) are acked again without being stored twice.
//! * A `nack` stored nothing; the shard resends the same position after
//!   `retry_after_ms`. An `error` is not retryable as is (a malformed batch
//!   or a protocol mismatch): the shard stops and reports it.
//! * Parts carry byte ranges of one encoded batch of exactly one
//!   transaction (`lsn`), identified by its `total` length and CRC-32
//!   (`crc`). The lake keeps them durably and answers with how many bytes
//!   it holds; the shard always continues from that `received` offset, so a
//!   lost reply, a resent part or a restart on either side costs at most a
//!   resend. A part of another encoding (other `total` or `crc`: the shard
//!   re-read the transaction after a restart) starts the transaction over.
//!   Only the last part's batch is received, whole, with the same ack as a
//!   `batch`: the lake never holds half a transaction in its buffer.
//!
//! Field by field: `docs/cdc.md` ("Shipping to DoLake").

use serde::{Deserialize, Serialize};

use crate::cdc::ChangeBatch;
use crate::error::WireError;

/// The largest link frame, in encoded bytes: the 1 MiB WebSocket message
/// limit of Workers. A shard never sends a larger one (a transaction that
/// alone exceeds it goes in `part` frames); DoLake refuses one.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// What a shard sends to DoLake.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ShardFrame {
    Batch {
        shard: String,
        batch: ChangeBatch,
    },
    /// Bytes `[offset, offset + data.len())` of the JSON of a
    /// [`ChangeBatch`] holding the one transaction `lsn`, `total` bytes
    /// long with CRC-32 `crc`. `data` is cut at UTF-8 character
    /// boundaries, so each part is text of its own.
    Part {
        shard: String,
        lsn: u64,
        offset: u64,
        total: u64,
        crc: u32,
        data: String,
    },
}

/// What DoLake answers to a [`ShardFrame`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LakeFrame {
    /// Every transaction of `shard` up to `lsn` is durable in the lake.
    Ack { shard: String, lsn: u64 },
    /// Of the transaction `lsn` sent in parts, bytes `[0, received)` are
    /// durable in the lake: send the part at `received` next.
    Progress {
        shard: String,
        lsn: u64,
        received: u64,
    },
    /// Nothing was stored: resend after `retry_after_ms`.
    Nack { retry_after_ms: u64, reason: String },
    /// The batch is refused and resending it will not help.
    Error { error: WireError },
}

impl ShardFrame {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a shard frame always serialises")
    }
}

/// The `crc` of a `part` frame: CRC-32 (IEEE) of the whole encoded batch.
pub fn payload_crc(payload: &[u8]) -> u32 {
    crc32fast::hash(payload)
}

impl LakeFrame {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a lake frame always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdc::CDC_FORMAT_VERSION;
    use crate::ErrorCode;

    #[test]
    fn frames_have_their_documented_json() {
        let batch = ShardFrame::Batch {
            shard: "db1".into(),
            batch: ChangeBatch {
                version: CDC_FORMAT_VERSION,
                txns: vec![],
                schemas: vec![],
                next_lsn: 5,
                last_lsn: 4,
            },
        };
        assert_eq!(
            batch.encode(),
            r#"{"type":"batch","shard":"db1","batch":{"version":1,"txns":[],"next_lsn":5,"last_lsn":4}}"#
        );
        assert_eq!(
            serde_json::from_str::<ShardFrame>(&batch.encode()).unwrap(),
            batch
        );
        let ack = LakeFrame::Ack {
            shard: "db1".into(),
            lsn: 4,
        };
        assert_eq!(ack.encode(), r#"{"type":"ack","shard":"db1","lsn":4}"#);
        let nack = LakeFrame::Nack {
            retry_after_ms: 1000,
            reason: "full".into(),
        };
        assert_eq!(
            nack.encode(),
            r#"{"type":"nack","retry_after_ms":1000,"reason":"full"}"#
        );
        let part = ShardFrame::Part {
            shard: "db1".into(),
            lsn: 42,
            offset: 0,
            total: 9,
            crc: 7,
            data: "{\"ver".into(),
        };
        assert_eq!(
            part.encode(),
            r#"{"type":"part","shard":"db1","lsn":42,"offset":0,"total":9,"crc":7,"data":"{\"ver"}"#
        );
        assert_eq!(
            serde_json::from_str::<ShardFrame>(&part.encode()).unwrap(),
            part
        );
        let progress = LakeFrame::Progress {
            shard: "db1".into(),
            lsn: 42,
            received: 5,
        };
        assert_eq!(
            progress.encode(),
            r#"{"type":"progress","shard":"db1","lsn":42,"received":5}"#
        );
        let error = LakeFrame::Error {
            error: WireError::new(ErrorCode::InvalidRequest, "bad"),
        };
        assert_eq!(
            serde_json::from_str::<LakeFrame>(&error.encode()).unwrap(),
            error
        );
    }

    #[test]
    fn unknown_or_malformed_frames_are_refused() {
        assert!(serde_json::from_str::<ShardFrame>(r#"{"type":"push"}"#).is_err());
        assert!(serde_json::from_str::<ShardFrame>(
            r#"{"type":"batch","shard":"a","batch":{"version":1,"txns":[],"next_lsn":1,"last_lsn":0},"x":1}"#
        )
        .is_err());
        assert!(serde_json::from_str::<LakeFrame>(r#"{"type":"ack","lsn":"x"}"#).is_err());
    }
}
