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
//!
//! Field by field: `docs/cdc.md` ("Shipping to DoLake").

use serde::{Deserialize, Serialize};

use crate::cdc::ChangeBatch;
use crate::error::WireError;

/// The largest link frame, in encoded bytes: the 1 MiB WebSocket message
/// limit of Workers. A shard never sends a larger one (a transaction that
/// alone exceeds it stops shipping with `LIMIT_EXCEEDED`); DoLake refuses
/// one.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// What a shard sends to DoLake.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ShardFrame {
    Batch { shard: String, batch: ChangeBatch },
}

/// What DoLake answers to a [`ShardFrame`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LakeFrame {
    /// Every transaction of `shard` up to `lsn` is durable in the lake.
    Ack { shard: String, lsn: u64 },
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
