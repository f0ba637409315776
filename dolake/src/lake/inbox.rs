//! Receiving a transaction too large for one link frame: its encoded batch
//! arrives in parts, is kept durably, and is received whole at the last.
//!
//! ```text
//!   receive_part(shard, lsn, offset, total, crc, data)
//!     lsn <= high-water(shard)            -> Ack{lsn}      (already whole here)
//!     inbox(shard) is another encoding    -> offset 0: start over; else Progress{0}
//!     offset != received                  -> Progress{received}   (nothing stored)
//!     offset == received                  -> one engine txn: part, header
//!     received < total                    -> Progress{received}
//!     received == total: read the parts, check length and CRC, decode,
//!       receive the batch; its engine txn also empties the inbox -> Ack / Nack
//! ```
//!
//! Stored (docs/lake-state.md), per shard: `lake:inbox` `(shard)` -> header
//! {lsn, total, crc, received}, and `lake:parts` `(shard, offset)` -> the
//! part's bytes (apart, so that opening the lake reads headers only). One
//! transaction in parts per shard at a time: a shard sends its oldest
//! unacknowledged transaction and nothing after it.
//!
//! Invariants:
//! * The buffer never holds part of a transaction: entries are staged only
//!   from the whole batch, in the same engine transaction that removes the
//!   inbox and moves the high-water mark. A snapshot therefore never holds
//!   half a transaction, and the flush path knows nothing of parts.
//! * `received` is always the length of the stored prefix, so the shard can
//!   resume from it after a lost reply or a restart of either side.
//! * A whole transaction is held in memory once, at the last part; its
//!   encoded size is capped by [`LakeConfig::max_txn_bytes`].

use dosql::mvcc::{Engine, TxnId};

use super::keys;
use super::state::{self, Trees};
use super::wire::ChangeBatch;
use super::{Lake, Reply};
use crate::error::{Error, Result};

/// One shard's transaction in parts, as far as it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Inbox {
    pub lsn: u64,
    pub total: u64,
    pub crc: u32,
    pub received: u64,
}

impl Inbox {
    const LEN: usize = 28;

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN);
        out.extend_from_slice(&self.lsn.to_le_bytes());
        out.extend_from_slice(&self.total.to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
        out.extend_from_slice(&self.received.to_le_bytes());
        out
    }

    pub fn decode(raw: &[u8]) -> Result<Inbox> {
        let bad = || Error::Corrupt(format!("lake inbox header of {} bytes", raw.len()));
        if raw.len() != Self::LEN {
            return Err(bad());
        }
        let u64_at = |i: usize| u64::from_le_bytes(raw[i..i + 8].try_into().expect("8 bytes"));
        Ok(Inbox {
            lsn: u64_at(0),
            total: u64_at(8),
            crc: u32::from_le_bytes(raw[16..20].try_into().expect("4 bytes")),
            received: u64_at(20),
        })
    }
}

/// A `part` frame's fields.
#[derive(Clone, Copy, Debug)]
pub struct Part<'a> {
    pub lsn: u64,
    pub offset: u64,
    pub total: u64,
    pub crc: u32,
    pub data: &'a str,
}

impl Lake {
    /// Receives one part of `shard`'s transaction `part.lsn` at `now_ms`.
    pub fn receive_part(&mut self, shard: &str, part: Part<'_>, now_ms: u64) -> Result<Reply> {
        if !shared_types::limits::valid_database_name(shard) {
            return Err(Error::InvalidInput(format!(
                "shard name {shard:?} is not 1 to 64 of [A-Za-z0-9_-]"
            )));
        }
        let end = part.offset.checked_add(part.data.len() as u64);
        if part.data.is_empty() || end.is_none_or(|end| end > part.total) {
            return Err(Error::InvalidInput(format!(
                "part [{}, +{}) of LSN {} is empty or past its total of {} bytes",
                part.offset,
                part.data.len(),
                part.lsn,
                part.total
            )));
        }
        if part.total > self.config.max_txn_bytes {
            return Err(Error::Limit(format!(
                "transaction at LSN {} encodes to {} bytes, over the lake's limit of {} \
                 for one transaction",
                part.lsn, part.total, self.config.max_txn_bytes
            )));
        }
        if part.lsn <= self.shards.get(shard).copied().unwrap_or(0) {
            return Ok(Reply::Ack {
                shard: shard.to_owned(),
                lsn: part.lsn,
            });
        }
        let same = |b: &Inbox| (b.lsn, b.total, b.crc) == (part.lsn, part.total, part.crc);
        let mut inbox = match self.inbox.get(shard) {
            Some(b) if same(b) => *b,
            _ if part.offset != 0 => return Ok(progress(shard, part.lsn, 0)),
            // A new transaction, or another encoding of one: start over.
            _ => Inbox {
                lsn: part.lsn,
                total: part.total,
                crc: part.crc,
                received: 0,
            },
        };
        if part.offset == inbox.received {
            inbox.received += part.data.len() as u64;
            let trees = self.trees;
            state::in_txn(&mut self.engine, |engine, txn| {
                // The first part: drop whatever an older encoding left.
                if part.offset == 0 {
                    clear(engine, txn, trees, shard)?;
                }
                put(engine, txn, trees, shard, &inbox, part.offset, part.data)
            })?;
            self.inbox.insert(shard.to_owned(), inbox);
        }
        if inbox.received < inbox.total {
            return Ok(progress(shard, part.lsn, inbox.received));
        }
        self.complete_parts(shard, inbox, now_ms)
    }

    /// Receives the whole transaction of a complete inbox.
    fn complete_parts(&mut self, shard: &str, inbox: Inbox, now_ms: u64) -> Result<Reply> {
        let trees = self.trees;
        let txn = self.engine.begin_read_only().map_err(state::db)?;
        let parts = state::with_prefix(&mut self.engine, txn, trees.parts, &keys::name_key(shard));
        let _ = self.engine.rollback(txn);
        // Each part is freed once copied: the bytes are held once, not twice.
        let mut payload = Vec::with_capacity(inbox.total as usize);
        for (_, v) in parts? {
            payload.extend_from_slice(&v);
        }
        let checked = if payload.len() as u64 != inbox.total {
            Err(format!("{} bytes of {}", payload.len(), inbox.total))
        } else if shared_types::lake::payload_crc(&payload) != inbox.crc {
            Err("CRC mismatch".to_owned())
        } else {
            serde_json::from_slice::<ChangeBatch>(&payload)
                .map_err(|e| format!("not a change batch: {e}"))
                .and_then(|b| match b.txns.as_slice() {
                    [t] if t.lsn == inbox.lsn => Ok(b),
                    _ => Err(format!("not the one transaction at LSN {}", inbox.lsn)),
                })
        };
        drop(payload);
        let batch = match checked {
            Ok(batch) => batch,
            Err(why) => {
                // Resending these parts cannot help; drop them so that a
                // fixed shard starts over.
                state::in_txn(&mut self.engine, |e, t| clear(e, t, trees, shard))?;
                self.inbox.remove(shard);
                return Err(Error::InvalidInput(format!(
                    "the parts of {shard:?}'s transaction at LSN {}: {why}",
                    inbox.lsn
                )));
            }
        };
        // Receiving it removes the inbox (it is then at or below the mark).
        self.receive(shard, &batch, now_ms)
    }
}

fn progress(shard: &str, lsn: u64, received: u64) -> Reply {
    Reply::Progress {
        shard: shard.to_owned(),
        lsn,
        received,
    }
}

/// Stores a part and the header that counts it.
fn put(
    engine: &mut Engine,
    txn: TxnId,
    trees: Trees,
    shard: &str,
    inbox: &Inbox,
    offset: u64,
    data: &str,
) -> Result<()> {
    engine
        .put(txn, trees.inbox, &keys::name_key(shard), &inbox.encode())
        .map_err(state::db)?;
    engine
        .put(
            txn,
            trees.parts,
            &keys::inbox_key(shard, offset),
            data.as_bytes(),
        )
        .map_err(state::db)
}

/// Removes `shard`'s header and parts.
pub(crate) fn clear(engine: &mut Engine, txn: TxnId, trees: Trees, shard: &str) -> Result<()> {
    let header = keys::name_key(shard);
    for (k, _) in state::with_prefix(engine, txn, trees.parts, &header)? {
        engine.delete(txn, trees.parts, &k).map_err(state::db)?;
    }
    engine
        .delete(txn, trees.inbox, &header)
        .map_err(state::db)
        .map(drop)
}

/// Loads every shard's inbox header.
pub(crate) fn load(
    engine: &mut Engine,
    txn: TxnId,
    trees: Trees,
) -> Result<std::collections::BTreeMap<String, Inbox>> {
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in state::range(engine, txn, trees.inbox, &[], &[0xFF])? {
        out.insert(keys::decode_name(&k)?, Inbox::decode(&v)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_refuse_other_lengths() {
        let b = Inbox {
            lsn: 1 << 40,
            total: 3 << 20,
            crc: 0xDEAD_BEEF,
            received: 5,
        };
        assert_eq!(Inbox::decode(&b.encode()).unwrap(), b);
        assert_eq!(b.encode().len(), 28);
        assert!(matches!(Inbox::decode(&[0; 27]), Err(Error::Corrupt(_))));
    }
}
