//! Avro Object Container Files, uncompressed (`avro.codec` = `null`).
//!
//! ```text
//! "Obj" 0x01 | header metadata: map<string, bytes> (avro.schema, avro.codec,
//!            |   plus the Iceberg keys) | 16-byte sync marker
//! block*     | long object count | long byte size | objects | sync marker
//! ```
//!
//! The writer emits all records in one block. The `null` codec is used
//! because every Avro reader must support it and manifests are small; the
//! reader also accepts only `null` (and says so) rather than guessing.

use super::{encode, write_bytes, write_long, Reader, Schema, Value};
use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"Obj\x01";

/// Writes a container file. `sync` must be 16 bytes of caller-supplied
/// randomness (the crate has no RNG of its own).
pub fn write(
    schema_json: &str,
    metadata: &[(&str, String)],
    records: &[Value],
    sync: [u8; 16],
) -> Result<Vec<u8>> {
    let schema = Schema::parse(schema_json)?;
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    let mut meta: Vec<(&str, &[u8])> = vec![
        ("avro.schema", schema_json.as_bytes()),
        ("avro.codec", b"null"),
    ];
    meta.extend(metadata.iter().map(|(k, v)| (*k, v.as_bytes())));
    write_long(&mut out, meta.len() as i64);
    for (k, v) in meta {
        write_bytes(&mut out, k.as_bytes());
        write_bytes(&mut out, v);
    }
    write_long(&mut out, 0);
    out.extend_from_slice(&sync);
    if !records.is_empty() {
        let mut block = Vec::new();
        for r in records {
            encode(&mut block, &schema, r)?;
        }
        write_long(&mut out, records.len() as i64);
        write_bytes(&mut out, &block);
        out.extend_from_slice(&sync);
    }
    Ok(out)
}

/// A decoded container file.
#[derive(Debug)]
pub struct Container {
    pub metadata: Vec<(String, Vec<u8>)>,
    pub records: Vec<Value>,
}

impl Container {
    /// A header metadata value as UTF-8.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// Reads a whole container file.
pub fn read(bytes: &[u8]) -> Result<Container> {
    let mut r = Reader::new(bytes);
    if r.take(4)? != MAGIC {
        return Err(Error::Corrupt("avro: not an object container file".into()));
    }
    let meta_schema = Schema::Map(Box::new(Schema::Bytes));
    let metadata: Vec<(String, Vec<u8>)> = match r.decode(&meta_schema)? {
        Value::Map(entries) => entries
            .into_iter()
            .map(|(k, v)| match v {
                Value::Bytes(b) => (k, b),
                _ => (k, Vec::new()),
            })
            .collect(),
        _ => Vec::new(),
    };
    let c = Container {
        metadata,
        records: Vec::new(),
    };
    match c.meta("avro.codec") {
        None | Some("null") => {}
        Some(other) => return Err(Error::Unsupported(format!("avro codec {other}"))),
    }
    let schema = Schema::parse(
        c.meta("avro.schema")
            .ok_or_else(|| Error::Corrupt("avro: no schema in header".into()))?,
    )?;
    let sync = r.take(16)?.to_vec();
    let mut records = Vec::new();
    while !r.is_empty() {
        let count = r.read_long()?;
        let block = r.read_bytes()?;
        let mut br = Reader::new(block);
        for _ in 0..count.max(0) {
            records.push(br.decode(&schema)?);
        }
        if r.take(16)? != sync.as_slice() {
            return Err(Error::Corrupt("avro: sync marker mismatch".into()));
        }
    }
    Ok(Container { records, ..c })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_round_trips_with_metadata() {
        let schema = r#"{"type":"record","name":"r","fields":[{"name":"x","type":"long"}]}"#;
        let recs: Vec<Value> = (0..5)
            .map(|i| Value::Record(vec![("x".into(), Value::Long(i))]))
            .collect();
        let bytes = write(schema, &[("format-version", "2".into())], &recs, [7; 16]).unwrap();
        let c = read(&bytes).unwrap();
        assert_eq!(c.meta("format-version"), Some("2"));
        assert_eq!(c.meta("avro.codec"), Some("null"));
        assert_eq!(c.records, recs);
        let empty = read(&write(schema, &[], &[], [1; 16]).unwrap()).unwrap();
        assert!(empty.records.is_empty());
    }

    #[test]
    fn damaged_container_is_corrupt() {
        let schema = r#"{"type":"record","name":"r","fields":[{"name":"x","type":"long"}]}"#;
        let recs = vec![Value::Record(vec![("x".into(), Value::Long(1))])];
        let mut bytes = write(schema, &[], &recs, [7; 16]).unwrap();
        let n = bytes.len();
        bytes[n - 1] ^= 1;
        assert!(matches!(read(&bytes), Err(Error::Corrupt(_))));
        assert!(read(b"Obj").is_err());
        assert!(read(b"nope and more").is_err());
    }
}
