//! The body encoding of a WAL record: what change data capture reads.
//!
//! ```text
//!   body    = version:u8(=1) txn:varint commit_ts:varint wall_time_ms:varint
//!             count:varint change{count}
//!   change  = 0x01 tree:varint key:bytes after:bytes                Put, no before
//!           | 0x02 tree:varint key:bytes before:bytes after:bytes   Put with before
//!           | 0x03 tree:varint key:bytes                            Delete, no before
//!           | 0x04 tree:varint key:bytes before:bytes               Delete with before
//!           | 0x05 tree:varint name:bytes                           CreateTree, table
//!           | 0x06 tree:varint name:bytes                           CreateTree, index
//!           | 0x07 tree:varint                                      DropTree
//!   bytes   = len:varint byte{len}
//!   varint  = unsigned LEB128, 1..=10 bytes, shortest form only
//! ```
//!
//! The LSN is not part of the body: the store keeps it beside the record (in
//! the frame header for the file store). Folding the optional before image
//! and the tree kind into the tag keeps the common change small.
//!
//! Decoding is total: any byte string yields a record or
//! [`Error::Corruption`](crate::error::Error::Corruption), never a panic, and
//! every length is checked against the bytes that remain before anything is
//! allocated for it. Only the shortest varint form is accepted, so that a
//! record has exactly one encoding and re-encoding a decoded record
//! reproduces its bytes.

use super::{Change, ChangeRef, Record};
use crate::corruption;
use crate::error::Result;
use crate::store::Lsn;
use crate::varint;

/// Version of the body encoding, its first byte.
pub const RECORD_VERSION: u8 = 1;

const PUT: u8 = 0x01;
const PUT_BEFORE: u8 = 0x02;
const DELETE: u8 = 0x03;
const DELETE_BEFORE: u8 = 0x04;
const CREATE_TABLE: u8 = 0x05;
const CREATE_INDEX: u8 = 0x06;
const DROP_TREE: u8 = 0x07;

/// The smallest encoded change (tag and a one-byte tree id), which bounds
/// how many changes the remaining bytes can hold.
const MIN_CHANGE_LEN: usize = 2;

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    varint::push(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends the body of `record` (everything but its LSN) to `out`.
pub fn encode_record(record: &Record, out: &mut Vec<u8>) {
    encode_body(
        record.txn,
        record.commit_ts,
        record.wall_time_ms,
        &record.changes,
        out,
    );
}

/// Appends a record body built from its parts, so that the WAL can encode
/// without first assembling a [`Record`].
pub(super) fn encode_body(
    txn: u64,
    commit_ts: u64,
    wall_time_ms: u64,
    changes: &[Change],
    out: &mut Vec<u8>,
) {
    let mut head = [0u8; MAX_HEAD_LEN];
    let n = encode_head(
        &mut head,
        txn,
        commit_ts,
        wall_time_ms,
        changes.len() as u64,
    );
    out.extend_from_slice(&head[..n]);
    for change in changes {
        encode_change(change.borrowed(), out);
    }
}

/// Longest record head: the version byte and four varints.
pub(super) const MAX_HEAD_LEN: usize = 1 + 4 * varint::MAX_LEN;

/// Writes the head of a record body (everything before the changes) into
/// `out` and returns its length.
pub(super) fn encode_head(
    out: &mut [u8; MAX_HEAD_LEN],
    txn: u64,
    commit_ts: u64,
    wall_time_ms: u64,
    count: u64,
) -> usize {
    out[0] = RECORD_VERSION;
    let mut n = 1;
    for v in [txn, commit_ts, wall_time_ms, count] {
        n += varint::write(&mut out[n..], v);
    }
    n
}

/// Appends one encoded change to `out`.
pub(super) fn encode_change(change: ChangeRef<'_>, out: &mut Vec<u8>) {
    match change {
        ChangeRef::Put {
            tree,
            key,
            before,
            after,
        } => {
            out.push(if before.is_some() { PUT_BEFORE } else { PUT });
            varint::push(out, tree);
            put_bytes(out, key);
            if let Some(before) = before {
                put_bytes(out, before);
            }
            put_bytes(out, after);
        }
        ChangeRef::Delete { tree, key, before } => {
            out.push(if before.is_some() {
                DELETE_BEFORE
            } else {
                DELETE
            });
            varint::push(out, tree);
            put_bytes(out, key);
            if let Some(before) = before {
                put_bytes(out, before);
            }
        }
        ChangeRef::CreateTree { tree, name, index } => {
            out.push(if index { CREATE_INDEX } else { CREATE_TABLE });
            varint::push(out, tree);
            put_bytes(out, name.as_bytes());
        }
        ChangeRef::DropTree { tree } => {
            out.push(DROP_TREE);
            varint::push(out, tree);
        }
    }
}

/// Decodes the body `bytes` of the record at `lsn`.
pub fn decode_record(lsn: Lsn, bytes: &[u8]) -> Result<Record> {
    let mut r = Reader { bytes, pos: 0, lsn };
    let version = r.u8()?;
    if version != RECORD_VERSION {
        return Err(corruption!("WAL record {lsn}: unknown version {version}"));
    }
    let txn = r.varint()?;
    let commit_ts = r.varint()?;
    let wall_time_ms = r.varint()?;
    let count = r.varint()?;
    if count > (r.remaining() / MIN_CHANGE_LEN) as u64 {
        return Err(corruption!(
            "WAL record {lsn}: {count} changes cannot fit in {} bytes",
            r.remaining()
        ));
    }
    let mut changes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let tag = r.u8()?;
        let tree = r.varint()?;
        let change = match tag {
            PUT | PUT_BEFORE => {
                let key = r.bytes()?.to_vec();
                let before = if tag == PUT_BEFORE {
                    Some(r.bytes()?.to_vec())
                } else {
                    None
                };
                Change::Put {
                    tree,
                    key,
                    before,
                    after: r.bytes()?.to_vec(),
                }
            }
            DELETE | DELETE_BEFORE => {
                let key = r.bytes()?.to_vec();
                let before = if tag == DELETE_BEFORE {
                    Some(r.bytes()?.to_vec())
                } else {
                    None
                };
                Change::Delete { tree, key, before }
            }
            CREATE_TABLE | CREATE_INDEX => {
                let name = std::str::from_utf8(r.bytes()?)
                    .map_err(|_| corruption!("WAL record {lsn}: tree name is not UTF-8"))?;
                Change::CreateTree {
                    tree,
                    name: name.to_owned(),
                    index: tag == CREATE_INDEX,
                }
            }
            DROP_TREE => Change::DropTree { tree },
            _ => {
                return Err(corruption!(
                    "WAL record {lsn}: unknown change tag {tag:#04x}"
                ))
            }
        };
        changes.push(change);
    }
    if r.remaining() != 0 {
        return Err(corruption!(
            "WAL record {lsn}: {} trailing bytes",
            r.remaining()
        ));
    }
    Ok(Record {
        lsn,
        txn,
        commit_ts,
        wall_time_ms,
        changes,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    lsn: Lsn,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn u8(&mut self) -> Result<u8> {
        let b = *self.bytes.get(self.pos).ok_or_else(|| {
            corruption!("WAL record {}: truncated at byte {}", self.lsn, self.pos)
        })?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64> {
        let (v, n) = varint::read(self.bytes, self.pos).ok_or_else(|| {
            corruption!("WAL record {}: bad varint at byte {}", self.lsn, self.pos)
        })?;
        self.pos += n;
        Ok(v)
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.varint()?;
        if len > self.remaining() as u64 {
            return Err(corruption!(
                "WAL record {}: length {len} exceeds the {} bytes left",
                self.lsn,
                self.remaining()
            ));
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.bytes[start..self.pos])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            lsn: 5,
            txn: 300,
            commit_ts: 7,
            wall_time_ms: 1_700_000_000_000,
            changes: vec![
                Change::CreateTree {
                    tree: 2,
                    name: "users".into(),
                    index: false,
                },
                Change::CreateTree {
                    tree: 3,
                    name: "by_name".into(),
                    index: true,
                },
                Change::Put {
                    tree: 2,
                    key: b"k".to_vec(),
                    before: None,
                    after: b"v".to_vec(),
                },
                Change::Put {
                    tree: 2,
                    key: b"k".to_vec(),
                    before: Some(b"v".to_vec()),
                    after: vec![],
                },
                Change::Delete {
                    tree: 2,
                    key: vec![0],
                    before: Some(vec![]),
                },
                Change::Delete {
                    tree: 3,
                    key: vec![],
                    before: None,
                },
                Change::DropTree { tree: u64::MAX },
            ],
        }
    }

    #[test]
    fn round_trip() {
        let record = sample();
        let mut buf = Vec::new();
        encode_record(&record, &mut buf);
        assert_eq!(decode_record(5, &buf).unwrap(), record);
    }

    #[test]
    fn layout_of_a_small_record() {
        let record = Record {
            lsn: 1,
            txn: 1,
            commit_ts: 128,
            wall_time_ms: 0,
            changes: vec![Change::Put {
                tree: 4,
                key: b"a".to_vec(),
                before: None,
                after: b"bc".to_vec(),
            }],
        };
        let mut buf = Vec::new();
        encode_record(&record, &mut buf);
        assert_eq!(
            buf,
            [1, 1, 0x80, 0x01, 0, 1, PUT, 4, 1, b'a', 2, b'b', b'c']
        );
    }

    #[test]
    fn varints_are_canonical() {
        for v in [0, 1, 127, 128, 16383, 16384, u64::MAX >> 1, u64::MAX] {
            let mut buf = Vec::new();
            varint::push(&mut buf, v);
            let mut r = Reader {
                bytes: &buf,
                pos: 0,
                lsn: 0,
            };
            assert_eq!(r.varint().unwrap(), v);
            assert_eq!(r.remaining(), 0);
        }
        let bad: [&[u8]; 4] = [
            &[0x80, 0x00],
            &[0xFF; 10],
            &[0x80],
            &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02],
        ];
        for bytes in bad {
            assert!(
                Reader {
                    bytes,
                    pos: 0,
                    lsn: 0
                }
                .varint()
                .is_err(),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn rejects_damage() {
        let mut buf = Vec::new();
        encode_record(&sample(), &mut buf);
        for cut in 0..buf.len() {
            assert!(decode_record(5, &buf[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = buf.clone();
        trailing.push(0);
        assert!(decode_record(5, &trailing).is_err());
        let mut version = buf.clone();
        version[0] = 2;
        assert!(decode_record(5, &version).is_err());
        // A huge change count is refused before any allocation.
        let mut huge = vec![RECORD_VERSION, 1, 1, 1];
        varint::push(&mut huge, u64::MAX);
        assert!(decode_record(5, &huge).is_err());
        let bad_name = [RECORD_VERSION, 1, 1, 1, 1, CREATE_TABLE, 1, 1, 0xFF];
        assert!(decode_record(5, &bad_name).is_err());
        let bad_tag = [RECORD_VERSION, 1, 1, 1, 1, 0x08, 1];
        assert!(decode_record(5, &bad_tag).is_err());
    }
}
