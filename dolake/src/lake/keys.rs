//! Keys of the lake's engine trees.
//!
//! Every key is a tuple encoded with DoSQL's order-preserving key code
//! ([`dosql::keycode`]), so that a B-tree range scan over a tuple prefix
//! visits exactly the rows of one table, or of one (table, shard):
//!
//! ```text
//!   lake:buffer  (Text table, Text shard, Integer lsn, Integer seq)
//!   lake:rows    (Text table, Text shard, key values...)
//!   lake:shards  (Text shard)
//!   lake:tables  (Text table)
//!   lake:iceberg (Text table)
//!   lake:inbox   (Text shard)
//!   lake:parts   (Text shard, Integer offset)
//! ```
//!
//! Each encoded column starts with a tag byte below 0x40, so `prefix ++ FF`
//! is an exclusive upper bound for every key that extends `prefix`.
//! LSNs and sequence numbers are encoded as integers: an LSN above
//! `i64::MAX` is refused on input (DoSQL's LSNs count records from 1).

use dosql::keycode::{decode_key, encode_key, KeyValue};
use shared_types::Value;

use crate::error::{Error, Result};

/// A value as a key column.
pub(crate) fn key_value(v: &Value) -> KeyValue {
    match v {
        Value::Null => KeyValue::Null,
        Value::Integer(i) => KeyValue::Integer(*i),
        Value::Real(f) => KeyValue::Real(*f),
        Value::Text(t) => KeyValue::Text(t.clone()),
        Value::Blob(b) => KeyValue::Blob(b.clone()),
    }
}

fn text(s: &str) -> KeyValue {
    KeyValue::Text(s.to_owned())
}

fn encode(values: &[KeyValue]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_key(values, &[], &mut out);
    out
}

/// The key of one name (table or shard) in its tree.
pub(crate) fn name_key(name: &str) -> Vec<u8> {
    encode(&[text(name)])
}

/// Decodes a key made by [`name_key`].
pub(crate) fn decode_name(key: &[u8]) -> Result<String> {
    match decode_key(key, &[])
        .map_err(|e| Error::Corrupt(format!("lake key: {e}")))?
        .as_slice()
    {
        [KeyValue::Text(name)] => Ok(name.clone()),
        other => Err(Error::Corrupt(format!("lake key is not a name: {other:?}"))),
    }
}

/// `(table)` or `(table, shard)`: the prefix of a table's (or a shard's
/// part of a table's) buffer entries and row index entries.
pub(crate) fn prefix(table: &str, shard: Option<&str>) -> Vec<u8> {
    let mut cols = vec![text(table)];
    cols.extend(shard.map(text));
    encode(&cols)
}

/// The exclusive upper bound of every key extending `prefix`.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    end.push(0xFF);
    end
}

/// A buffer entry's key: events sort by table, shard, LSN, then their
/// position in the transaction.
pub(crate) fn buffer_key(table: &str, shard: &str, lsn: u64, seq: u32) -> Vec<u8> {
    encode(&[
        text(table),
        text(shard),
        KeyValue::Integer(lsn as i64),
        KeyValue::Integer(i64::from(seq)),
    ])
}

/// The shard and LSN of a buffer entry's key.
pub(crate) fn decode_buffer_key(key: &[u8]) -> Result<(String, u64)> {
    match decode_key(key, &[])
        .map_err(|e| Error::Corrupt(format!("lake buffer key: {e}")))?
        .as_slice()
    {
        [KeyValue::Text(_), KeyValue::Text(shard), KeyValue::Integer(lsn), KeyValue::Integer(_)]
            if *lsn >= 0 =>
        {
            Ok((shard.clone(), *lsn as u64))
        }
        other => Err(Error::Corrupt(format!(
            "lake buffer key is malformed: {other:?}"
        ))),
    }
}

/// The key of the part of `shard`'s inbox that starts at `offset`.
pub(crate) fn inbox_key(shard: &str, offset: u64) -> Vec<u8> {
    encode(&[text(shard), KeyValue::Integer(offset as i64)])
}

/// The row index key of row `key` of `table` from `shard`.
pub(crate) fn row_key(table: &str, shard: &str, key: &[Value]) -> Vec<u8> {
    let mut cols = vec![text(table), text(shard)];
    cols.extend(key.iter().map(key_value));
    encode(&cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_keys_order_by_table_shard_lsn_seq_and_round_trip() {
        let keys = [
            buffer_key("a", "s1", 1, 0),
            buffer_key("a", "s1", 1, 1),
            buffer_key("a", "s1", 2, 0),
            buffer_key("a", "s1", 10, 0),
            buffer_key("a", "s2", 1, 0),
            buffer_key("ab", "s1", 1, 0),
            buffer_key("b", "s1", 1, 0),
        ];
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(decode_buffer_key(&keys[3]).unwrap(), ("s1".to_string(), 10));
        let p = prefix("a", Some("s1"));
        let end = prefix_end(&p);
        let inside: Vec<_> = keys.iter().filter(|k| **k >= p && **k < end).collect();
        assert_eq!(inside.len(), 4);
        let p = prefix("a", None);
        let end = prefix_end(&p);
        assert_eq!(keys.iter().filter(|k| **k >= p && **k < end).count(), 5);
    }

    #[test]
    fn row_keys_distinguish_tables_shards_and_values() {
        let k = |t, s, v: &[Value]| row_key(t, s, v);
        let a = k("t", "s", &[Value::Integer(1)]);
        assert_eq!(a, k("t", "s", &[Value::Integer(1)]));
        assert_ne!(a, k("t", "s2", &[Value::Integer(1)]));
        assert_ne!(a, k("t2", "s", &[Value::Integer(1)]));
        assert_ne!(a, k("t", "s", &[Value::Text("1".into())]));
        // SQLite compares 1 and 1.0 equal, and so does the index.
        assert_eq!(a, k("t", "s", &[Value::Real(1.0)]));
        let p = prefix("t", Some("s"));
        assert!(a > p && a < prefix_end(&p));
        assert_eq!(decode_name(&name_key("tenant-1")).unwrap(), "tenant-1");
        assert!(decode_name(&a).is_err());
    }
}
