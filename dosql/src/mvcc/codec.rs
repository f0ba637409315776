//! Byte layouts owned by the MVCC layer (all documented in
//! `docs/format.md` §4).
//!
//! ```text
//!   main tree value   varint(commit_ts << 1 | tombstone) ++ value
//!   version key       tree u64 BE ++ varint(key len) ++ key ++ overwriting ts u64 BE
//!   version value     the overwritten main tree value, verbatim
//!   GC index key      ts u64 BE ++ tree u64 BE ++ flags u8 ++ varint(key len) ++ key
//!   catalog key       tree id u64 BE
//!   catalog value     kind u8 ++ flags u8 ++ root page u64 LE ++ name (UTF-8)
//!   user meta         magic "DQMV" ++ version u8 ++ 7 x u64 LE
//! ```
//!
//! Invariants:
//! * Every version of one `(tree, key)` shares the prefix
//!   `tree ++ varint(len) ++ key`, and the length prefix makes that prefix
//!   unique to the key, so the versions of a key are contiguous in the version
//!   store and ordered by overwriting timestamp (big-endian sorts
//!   numerically).
//! * GC index keys sort by timestamp first, so garbage collection reads a
//!   prefix of the index.
//! * Decoding never panics: bad stored bytes give [`Error::Corruption`].

use crate::btree::TreeKind;
use crate::corruption;
use crate::error::{Error, Result};
use crate::store::{Lsn, PageId};
use crate::varint;
use crate::wal::{Timestamp, TreeId, TxnId};

/// Decodes the varint at the start of `bytes`, returning the value and its
/// length.
fn get_varint(bytes: &[u8]) -> Result<(u64, usize)> {
    varint::read(bytes, 0).ok_or_else(|| corruption!("truncated or non-canonical varint"))
}

fn be64(bytes: &[u8], at: usize) -> Result<u64> {
    bytes
        .get(at..at + 8)
        .map(|b| u64::from_be_bytes(b.try_into().expect("slice of 8")))
        .ok_or_else(|| corruption!("truncated u64 at offset {at}"))
}

fn le64(bytes: &[u8], at: usize) -> Result<u64> {
    bytes
        .get(at..at + 8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("slice of 8")))
        .ok_or_else(|| corruption!("truncated u64 at offset {at}"))
}

/// The largest commit timestamp: the stamp shifts it left by one bit.
pub(super) const MAX_TS: Timestamp = u64::MAX >> 2;

/// The header of a main tree value: which commit wrote it, and whether it
/// is a tombstone (a delete kept while older snapshots may still read the
/// key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stamp {
    pub ts: Timestamp,
    pub tombstone: bool,
}

/// Encodes a main tree value into `out` (cleared first); `None` is a
/// tombstone.
pub(super) fn encode_main(out: &mut Vec<u8>, ts: Timestamp, value: Option<&[u8]>) {
    out.clear();
    varint::push(out, (ts << 1) | u64::from(value.is_none()));
    if let Some(v) = value {
        out.extend_from_slice(v);
    }
}

/// Decodes the stamp of a main tree value; the user value follows at the
/// returned offset.
pub(super) fn decode_stamp(raw: &[u8]) -> Result<(Stamp, usize)> {
    let (v, n) = get_varint(raw)?;
    let stamp = Stamp {
        ts: v >> 1,
        tombstone: v & 1 == 1,
    };
    if stamp.tombstone && raw.len() != n {
        return Err(corruption!(
            "tombstone carries {} value bytes",
            raw.len() - n
        ));
    }
    Ok((stamp, n))
}

/// Turns a main tree value into the user's view of it, reusing the buffer.
pub(super) fn strip_stamp(mut raw: Vec<u8>) -> Result<(Stamp, Option<Vec<u8>>)> {
    let (stamp, n) = decode_stamp(&raw)?;
    if stamp.tombstone {
        return Ok((stamp, None));
    }
    raw.drain(..n);
    Ok((stamp, Some(raw)))
}

/// Bytes that a version key or GC index key adds around a user key, at
/// most: two u64s, a flags byte and a varint length of up to 3 bytes (keys
/// are shorter than 2^21 bytes).
pub(super) const VERSION_KEY_OVERHEAD: usize = 8 + 8 + 1 + 3;

/// Writes the prefix shared by every version of `(tree, key)`.
pub(super) fn version_prefix(out: &mut Vec<u8>, tree: TreeId, key: &[u8]) {
    out.clear();
    out.extend_from_slice(&tree.to_be_bytes());
    varint::push(out, key.len() as u64);
    out.extend_from_slice(key);
}

/// Writes the version store key of `(tree, key)` overwritten at `ts`.
pub(super) fn version_key(out: &mut Vec<u8>, tree: TreeId, key: &[u8], ts: Timestamp) {
    version_prefix(out, tree, key);
    out.extend_from_slice(&ts.to_be_bytes());
}

/// Reads the overwriting timestamp of a version key that starts with
/// `prefix`; `None` when the key belongs to another `(tree, key)`.
pub(super) fn version_key_ts(prefix: &[u8], stored: &[u8]) -> Result<Option<Timestamp>> {
    if stored.len() != prefix.len() + 8 || !stored.starts_with(prefix) {
        return Ok(None);
    }
    be64(stored, prefix.len()).map(Some)
}

/// The GC index entry has a version store entry to delete.
pub(super) const GC_VERSION: u8 = 1;
/// The GC index entry has a main tree tombstone to purge.
pub(super) const GC_TOMBSTONE: u8 = 2;

/// Writes the GC index key of work due once no snapshot is older than `ts`.
pub(super) fn gc_key(out: &mut Vec<u8>, ts: Timestamp, tree: TreeId, flags: u8, key: &[u8]) {
    out.clear();
    out.extend_from_slice(&ts.to_be_bytes());
    out.extend_from_slice(&tree.to_be_bytes());
    out.push(flags);
    varint::push(out, key.len() as u64);
    out.extend_from_slice(key);
}

/// A decoded GC index key.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct GcEntry<'a> {
    pub ts: Timestamp,
    pub tree: TreeId,
    pub flags: u8,
    pub key: &'a [u8],
}

pub(super) fn decode_gc_key(raw: &[u8]) -> Result<GcEntry<'_>> {
    let ts = be64(raw, 0)?;
    let tree = be64(raw, 8)?;
    let flags = *raw
        .get(16)
        .ok_or_else(|| corruption!("truncated GC index key"))?;
    if flags == 0 || flags & !(GC_VERSION | GC_TOMBSTONE) != 0 {
        return Err(corruption!("bad GC index flags {flags:#x}"));
    }
    let (len, n) = get_varint(&raw[17..])?;
    let key = &raw[17 + n..];
    if len != key.len() as u64 {
        return Err(corruption!(
            "GC index key length {len} but {} bytes",
            key.len()
        ));
    }
    Ok(GcEntry {
        ts,
        tree,
        flags,
        key,
    })
}

/// Catalog key of a tree: its id, big-endian so the catalog lists trees in
/// creation order.
pub(super) fn catalog_key(tree: TreeId) -> [u8; 8] {
    tree.to_be_bytes()
}

/// One catalog row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CatalogEntry {
    pub id: TreeId,
    pub kind: TreeKind,
    /// Dropped by a commit that older snapshots may still read past; the
    /// pages are freed by GC or at the next open.
    pub dropped: bool,
    pub root: PageId,
    pub name: String,
}

const KIND_TABLE: u8 = 0;
const KIND_INDEX: u8 = 1;
const CATALOG_DROPPED: u8 = 1;

pub(super) fn encode_catalog(entry: &CatalogEntry, out: &mut Vec<u8>) {
    out.clear();
    out.push(match entry.kind {
        TreeKind::Table => KIND_TABLE,
        TreeKind::Index => KIND_INDEX,
    });
    out.push(if entry.dropped { CATALOG_DROPPED } else { 0 });
    out.extend_from_slice(&entry.root.to_le_bytes());
    out.extend_from_slice(entry.name.as_bytes());
}

pub(super) fn decode_catalog(key: &[u8], value: &[u8]) -> Result<CatalogEntry> {
    if key.len() != 8 {
        return Err(corruption!("catalog key of {} bytes", key.len()));
    }
    let id = be64(key, 0)?;
    let kind = match value.first() {
        Some(&KIND_TABLE) => TreeKind::Table,
        Some(&KIND_INDEX) => TreeKind::Index,
        other => return Err(corruption!("catalog entry {id}: bad kind {other:?}")),
    };
    let dropped = match value.get(1) {
        Some(&0) => false,
        Some(&CATALOG_DROPPED) => true,
        other => return Err(corruption!("catalog entry {id}: bad flags {other:?}")),
    };
    let root = le64(value, 2)?;
    let name = std::str::from_utf8(&value[10..])
        .map_err(|_| corruption!("catalog entry {id}: name is not UTF-8"))?
        .to_owned();
    Ok(CatalogEntry {
        id,
        kind,
        dropped,
        root,
        name,
    })
}

/// The MVCC layer's part of the pager meta, written at every checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Meta {
    /// Every WAL record up to and including this LSN is in the pages.
    pub checkpoint_lsn: Lsn,
    pub last_ts: Timestamp,
    pub next_txn: TxnId,
    pub next_tree: TreeId,
    pub catalog_root: PageId,
    pub versions_root: PageId,
    pub gc_root: PageId,
}

const META_MAGIC: &[u8; 4] = b"DQMV";
/// Format version of the MVCC meta and of every layout in this file.
pub(super) const FORMAT_VERSION: u8 = 1;
const META_LEN: usize = 5 + 7 * 8;

impl Meta {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(META_LEN);
        out.extend_from_slice(META_MAGIC);
        out.push(FORMAT_VERSION);
        for v in [
            self.checkpoint_lsn,
            self.last_ts,
            self.next_txn,
            self.next_tree,
            self.catalog_root,
            self.versions_root,
            self.gc_root,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    pub fn decode(raw: &[u8]) -> Result<Meta> {
        if raw.len() != META_LEN || &raw[..4] != META_MAGIC {
            return Err(corruption!("not a DoSQL MVCC meta ({} bytes)", raw.len()));
        }
        if raw[4] != FORMAT_VERSION {
            return Err(Error::Corruption(format!(
                "MVCC format version {} is not supported (expected {FORMAT_VERSION})",
                raw[4]
            )));
        }
        let at = |i: usize| le64(raw, 5 + 8 * i);
        Ok(Meta {
            checkpoint_lsn: at(0)?,
            last_ts: at(1)?,
            next_txn: at(2)?,
            next_tree: at(3)?,
            catalog_root: at(4)?,
            versions_root: at(5)?,
            gc_root: at(6)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip_and_rejects_bad_bytes() {
        let mut buf = Vec::new();
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            buf.clear();
            varint::push(&mut buf, v);
            assert_eq!(get_varint(&buf).unwrap(), (v, buf.len()));
        }
        assert!(get_varint(&[]).is_err());
        assert!(get_varint(&[0x80, 0x80]).is_err());
        assert!(get_varint(&[0xff; 10]).is_err());
        assert!(get_varint(&[0xff; 11]).is_err());
        assert!(get_varint(&[0x80, 0x00]).is_err(), "non-canonical");
    }

    #[test]
    fn main_values_carry_stamp_and_tombstone() {
        let mut buf = Vec::new();
        encode_main(&mut buf, 300, Some(b"hello"));
        let (stamp, value) = strip_stamp(buf.clone()).unwrap();
        assert_eq!(
            stamp,
            Stamp {
                ts: 300,
                tombstone: false
            }
        );
        assert_eq!(value.as_deref(), Some(&b"hello"[..]));
        encode_main(&mut buf, MAX_TS, None);
        assert_eq!(
            strip_stamp(buf.clone()).unwrap(),
            (
                Stamp {
                    ts: MAX_TS,
                    tombstone: true
                },
                None
            )
        );
        buf.push(1);
        assert!(matches!(decode_stamp(&buf), Err(Error::Corruption(_))));
        assert!(decode_stamp(&[]).is_err());
    }

    #[test]
    fn versions_of_a_key_are_contiguous_and_ordered() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        // Key "a" at ts 0x0100... must not interleave with key "a\x01" whose
        // bytes continue where the timestamp of "a" would be.
        version_key(&mut a, 7, b"a", 5);
        version_key(&mut b, 7, b"a\x01", 0);
        let mut c = Vec::new();
        version_key(&mut c, 7, b"a", u64::MAX);
        assert!(a < c && c < b, "versions of one key are contiguous");
        let mut prefix = Vec::new();
        version_prefix(&mut prefix, 7, b"a");
        assert_eq!(version_key_ts(&prefix, &a).unwrap(), Some(5));
        assert_eq!(version_key_ts(&prefix, &b).unwrap(), None);
    }

    #[test]
    fn gc_keys_sort_by_time_and_round_trip() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        gc_key(&mut a, 2, 9, GC_VERSION, b"zzz");
        gc_key(&mut b, 3, 1, GC_TOMBSTONE, b"a");
        assert!(a < b);
        let e = decode_gc_key(&a).unwrap();
        assert_eq!(
            e,
            GcEntry {
                ts: 2,
                tree: 9,
                flags: GC_VERSION,
                key: b"zzz"
            }
        );
        assert!(decode_gc_key(&a[..10]).is_err());
        assert!(decode_gc_key(&a[..a.len() - 1]).is_err());
        a[16] = 0;
        assert!(decode_gc_key(&a).is_err());
    }

    #[test]
    fn catalog_and_meta_round_trip() {
        let entry = CatalogEntry {
            id: 42,
            kind: TreeKind::Index,
            dropped: true,
            root: 1234,
            name: "idx_ü".into(),
        };
        let mut buf = Vec::new();
        encode_catalog(&entry, &mut buf);
        assert_eq!(decode_catalog(&catalog_key(42), &buf).unwrap(), entry);
        assert!(decode_catalog(&catalog_key(42), &buf[..5]).is_err());
        assert!(decode_catalog(&[1, 2], &buf).is_err());
        buf[0] = 9;
        assert!(decode_catalog(&catalog_key(42), &buf).is_err());

        let meta = Meta {
            checkpoint_lsn: 1,
            last_ts: 2,
            next_txn: 3,
            next_tree: 4,
            catalog_root: 5,
            versions_root: 6,
            gc_root: 7,
        };
        let raw = meta.encode();
        assert_eq!(Meta::decode(&raw).unwrap(), meta);
        let mut bad = raw.clone();
        bad[4] = 2;
        assert!(matches!(Meta::decode(&bad), Err(Error::Corruption(_))));
        assert!(Meta::decode(&raw[..20]).is_err());
    }
}
