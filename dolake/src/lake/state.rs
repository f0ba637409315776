//! What the lake keeps in its engine, and how it reads and writes it.
//!
//! ```text
//!   lake:meta     "format" -> u32 LE format version (FORMAT_VERSION)
//!   lake:shards   (shard)                 -> u64 LE high-water LSN
//!   lake:tables   (table)                 -> JSON LakeTable
//!   lake:iceberg  (table)                 -> the Iceberg table state (writer's bytes)
//!   lake:buffer   (table, shard, lsn, seq) -> JSON Entry
//!   lake:rows     (table, shard, key...)  -> u64 LE position ++ UTF-8 data file path
//!   lake:inbox    (shard)                 -> inbox header (inbox.rs), 28 bytes
//!   lake:parts    (shard, offset)         -> bytes of a transaction sent in parts
//! ```
//!
//! Every state change (one receive, one completed flush) is one engine
//! transaction, so a crash leaves the state before or after it. The lake
//! mirrors `lake:shards` and `lake:tables` in memory and updates the mirror
//! only after the transaction committed.

use std::collections::BTreeMap;

use dosql::mvcc::{Engine, TreeId, TreeKind, TxnId};
use serde::{Deserialize, Serialize};
use shared_types::Value;

use super::inbox::Inbox;
use super::keys;
use super::schema::LakeSchema;
use crate::error::{Error, Result};
use crate::table::RowPosition;

/// Version of the stored layout above (docs/lake-state.md).
pub const FORMAT_VERSION: u32 = 1;

pub(crate) const META: &str = "lake:meta";
pub(crate) const SHARDS: &str = "lake:shards";
pub(crate) const TABLES: &str = "lake:tables";
pub(crate) const ICEBERG: &str = "lake:iceberg";
pub(crate) const BUFFER: &str = "lake:buffer";
pub(crate) const ROWS: &str = "lake:rows";
pub(crate) const INBOX: &str = "lake:inbox";
pub(crate) const PARTS: &str = "lake:parts";

/// The ids of the lake's trees.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Trees {
    pub shards: TreeId,
    pub tables: TreeId,
    pub iceberg: TreeId,
    pub buffer: TreeId,
    pub rows: TreeId,
    pub inbox: TreeId,
    pub parts: TreeId,
}

/// One buffered change of one row (or of a shard's whole table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Entry {
    /// The row now has these cells (INSERT or UPDATE).
    Put {
        key: Vec<Value>,
        cells: Vec<(u32, Value)>,
        at_ms: u64,
    },
    /// The row is gone.
    Delete { key: Vec<Value>, at_ms: u64 },
    /// The shard dropped (or renamed away) the table: all its rows are gone.
    DropShard { at_ms: u64 },
}

impl Entry {
    pub fn at_ms(&self) -> u64 {
        match self {
            Entry::Put { at_ms, .. } | Entry::Delete { at_ms, .. } | Entry::DropShard { at_ms } => {
                *at_ms
            }
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("entries always serialize")
    }

    pub fn decode(raw: &[u8]) -> Result<Entry> {
        serde_json::from_slice(raw).map_err(|e| Error::Corrupt(format!("lake buffer entry: {e}")))
    }
}

/// Everything the lake knows about one table, except its Iceberg state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LakeTable {
    pub schema: LakeSchema,
    /// The schema version the Iceberg table has (0: no Iceberg table yet).
    pub flushed_schema: u64,
    /// Bumped by every completed flush; a plan prepared at another
    /// generation is stale.
    pub generation: u64,
    /// Per shard, the last LSN whose changes the Iceberg table includes.
    pub lsns: BTreeMap<String, u64>,
    pub buffered_rows: u64,
    pub buffered_bytes: u64,
    /// Receive time of the oldest buffered entry.
    pub oldest_ms: Option<u64>,
    /// Receive time of the first schema change not yet flushed.
    pub schema_since_ms: Option<u64>,
    pub flushes: u64,
    /// The current Iceberg metadata file, once the table exists.
    pub metadata_location: Option<String>,
}

impl Default for LakeTable {
    fn default() -> Self {
        LakeTable::new()
    }
}

impl LakeTable {
    pub fn new() -> LakeTable {
        LakeTable {
            schema: LakeSchema::default(),
            flushed_schema: 0,
            generation: 0,
            lsns: BTreeMap::new(),
            buffered_rows: 0,
            buffered_bytes: 0,
            oldest_ms: None,
            schema_since_ms: None,
            flushes: 0,
            metadata_location: None,
        }
    }

    /// True when a flush would change the Iceberg table.
    pub fn has_work(&self) -> bool {
        self.buffered_rows > 0 || self.schema.version != self.flushed_schema
    }

    fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("table states always serialize")
    }
}

/// A row index value: the row's position, then its data file's path.
pub(crate) fn encode_position(p: &RowPosition) -> Vec<u8> {
    let mut out = p.pos.to_le_bytes().to_vec();
    out.extend_from_slice(p.file_path.as_bytes());
    out
}

/// Decodes a value made by [`encode_position`].
pub(crate) fn decode_position(raw: &[u8]) -> Result<RowPosition> {
    let bad = || Error::Corrupt("lake row index entry is malformed".into());
    let (pos, file) = raw.split_first_chunk::<8>().ok_or_else(bad)?;
    Ok(RowPosition {
        pos: u64::from_le_bytes(*pos),
        file_path: String::from_utf8(file.to_vec()).map_err(|_| bad())?,
    })
}

pub(crate) fn db(e: dosql::Error) -> Error {
    match e {
        dosql::Error::Conflict(m) => Error::Conflict(m),
        dosql::Error::LimitExceeded(m) => Error::Limit(m),
        dosql::Error::Corruption(m) => Error::Corrupt(m),
        dosql::Error::Io(e) => Error::Io(e.to_string()),
        other => Error::InvalidInput(other.to_string()),
    }
}

/// Runs `f` in one engine transaction and commits it; rolls back on error.
pub(crate) fn in_txn<T>(
    engine: &mut Engine,
    f: impl FnOnce(&mut Engine, TxnId) -> Result<T>,
) -> Result<T> {
    let txn = engine.begin().map_err(db)?;
    match f(engine, txn) {
        Ok(v) => {
            engine.commit(txn).map_err(db)?;
            Ok(v)
        }
        Err(e) => {
            // A failed rollback poisons the engine, which reports it next.
            let _ = engine.rollback(txn);
            Err(e)
        }
    }
}

/// Opens (creating on first use) the lake's trees and checks the format.
pub(crate) fn open_trees(engine: &mut Engine) -> Result<Trees> {
    in_txn(engine, |engine, txn| {
        let mut tree = |name: &str| -> Result<TreeId> {
            match engine.tree(txn, name).map_err(db)? {
                Some(id) => Ok(id),
                None => engine.create_tree(txn, name, TreeKind::Table).map_err(db),
            }
        };
        let meta = tree(META)?;
        let trees = Trees {
            shards: tree(SHARDS)?,
            tables: tree(TABLES)?,
            iceberg: tree(ICEBERG)?,
            buffer: tree(BUFFER)?,
            rows: tree(ROWS)?,
            // Added after format 1 shipped: made on the first open of an
            // older lake, which holds no parts.
            inbox: tree(INBOX)?,
            parts: tree(PARTS)?,
        };
        match engine.get(txn, meta, b"format").map_err(db)? {
            None => engine
                .put(txn, meta, b"format", &FORMAT_VERSION.to_le_bytes())
                .map_err(db)?,
            Some(v) if v == FORMAT_VERSION.to_le_bytes() => {}
            Some(v) => {
                return Err(Error::Unsupported(format!(
                    "lake state format {v:?} (this build reads version {FORMAT_VERSION})"
                )))
            }
        }
        Ok(trees)
    })
}

/// Every `(key, value)` of `tree` with keys in `[lower, upper)`.
pub(crate) fn range(
    engine: &mut Engine,
    txn: TxnId,
    tree: TreeId,
    lower: &[u8],
    upper: &[u8],
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    use std::ops::Bound;
    engine
        .scan(
            txn,
            tree,
            Bound::Included(lower),
            Bound::Excluded(upper),
            usize::MAX,
        )
        .map_err(db)
}

/// Every row of `tree` whose key extends `prefix`.
pub(crate) fn with_prefix(
    engine: &mut Engine,
    txn: TxnId,
    tree: TreeId,
    prefix: &[u8],
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    range(engine, txn, tree, prefix, &keys::prefix_end(prefix))
}

/// The mirrors [`load`] reads.
pub(crate) struct Loaded {
    pub shards: BTreeMap<String, u64>,
    pub tables: BTreeMap<String, LakeTable>,
    pub inbox: BTreeMap<String, Inbox>,
}

/// Loads the shards' high-water LSNs, the table states and the inbox
/// headers.
pub(crate) fn load(engine: &mut Engine, trees: Trees) -> Result<Loaded> {
    let txn = engine.begin_read_only().map_err(db)?;
    let result = (|| {
        let mut shards = BTreeMap::new();
        for (k, v) in range(engine, txn, trees.shards, &[], &[0xFF])? {
            let lsn = <[u8; 8]>::try_from(v.as_slice())
                .map_err(|_| Error::Corrupt("lake shard LSN is not 8 bytes".into()))?;
            shards.insert(keys::decode_name(&k)?, u64::from_le_bytes(lsn));
        }
        let mut tables = BTreeMap::new();
        for (k, v) in range(engine, txn, trees.tables, &[], &[0xFF])? {
            let state: LakeTable = serde_json::from_slice(&v)
                .map_err(|e| Error::Corrupt(format!("lake table state: {e}")))?;
            tables.insert(keys::decode_name(&k)?, state);
        }
        let inbox = super::inbox::load(engine, txn, trees)?;
        Ok(Loaded {
            shards,
            tables,
            inbox,
        })
    })();
    let _ = engine.rollback(txn);
    result
}

pub(crate) fn put_shard(
    engine: &mut Engine,
    txn: TxnId,
    trees: Trees,
    shard: &str,
    lsn: u64,
) -> Result<()> {
    engine
        .put(
            txn,
            trees.shards,
            &keys::name_key(shard),
            &lsn.to_le_bytes(),
        )
        .map_err(db)
}

pub(crate) fn put_table(
    engine: &mut Engine,
    txn: TxnId,
    trees: Trees,
    table: &str,
    state: &LakeTable,
) -> Result<()> {
    engine
        .put(txn, trees.tables, &keys::name_key(table), &state.encode())
        .map_err(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_positions_round_trip() {
        let entries = [
            Entry::Put {
                key: vec![Value::Integer(i64::MIN)],
                cells: vec![(2, Value::Blob(vec![0, 255])), (3, Value::Real(0.5))],
                at_ms: 9,
            },
            Entry::Delete {
                key: vec![Value::Text("k".into()), Value::Null],
                at_ms: 10,
            },
            Entry::DropShard { at_ms: 11 },
        ];
        for e in entries {
            assert_eq!(Entry::decode(&e.encode()).unwrap(), e);
        }
        assert!(matches!(Entry::decode(b"{"), Err(Error::Corrupt(_))));
        let p = RowPosition {
            file_path: "data/x.parquet".into(),
            pos: 1 << 40,
        };
        assert_eq!(decode_position(&encode_position(&p)).unwrap(), p);
        assert!(decode_position(&[1, 2]).is_err());
    }
}
