//! A small Avro implementation: schema parsing, binary encoding/decoding of
//! generic values, and Object Container Files (see [`ocf`]).
//!
//! Iceberg needs Avro only for manifests and manifest lists, whose schemas
//! are fixed by the spec, so this covers exactly the Avro subset those use:
//! null, boolean, int, long, float, double, bytes, string, record, array,
//! map, union and fixed. Decoding is driven by the writer's schema (stored in
//! the container header), so files from other Iceberg writers read too.
//!
//! Binary encoding (Avro 1.11 spec): int/long are zig-zag varints; bytes and
//! strings are a long length then the bytes; a record is its fields in order;
//! arrays and maps are blocks of `count, items...` ended by a 0 count (a
//! negative count is followed by the block's byte size); a union is the long
//! branch index then the value; fixed is its bytes.

pub mod ocf;

use crate::error::{Error, Result};

/// A parsed Avro schema (the subset listed in the module doc).
#[derive(Debug, Clone, PartialEq)]
pub enum Schema {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Fixed(u64),
    Record {
        name: String,
        fields: Vec<(String, Schema)>,
    },
    Array(Box<Schema>),
    Map(Box<Schema>),
    Union(Vec<Schema>),
}

/// A generic Avro value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Bytes(Vec<u8>),
    String(String),
    /// Record fields in schema order.
    Record(Vec<(String, Value)>),
    Array(Vec<Value>),
    Map(Vec<(String, Value)>),
}

fn corrupt<T>(m: impl Into<String>) -> Result<T> {
    Err(Error::Corrupt(format!("avro: {}", m.into())))
}

impl Schema {
    /// Parses Avro schema JSON.
    pub fn parse(json: &str) -> Result<Schema> {
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| Error::Corrupt(format!("avro schema: {e}")))?;
        let mut named = Vec::new();
        Self::from_json(&v, &mut named)
    }

    fn from_json(v: &serde_json::Value, named: &mut Vec<(String, Schema)>) -> Result<Schema> {
        use serde_json::Value as J;
        match v {
            J::String(s) => Ok(match s.as_str() {
                "null" => Schema::Null,
                "boolean" => Schema::Boolean,
                "int" => Schema::Int,
                "long" => Schema::Long,
                "float" => Schema::Float,
                "double" => Schema::Double,
                "bytes" => Schema::Bytes,
                "string" => Schema::String,
                other => match named.iter().find(|(n, _)| n == other) {
                    Some((_, s)) => s.clone(),
                    None => return corrupt(format!("unknown type {other:?}")),
                },
            }),
            J::Array(branches) => Ok(Schema::Union(
                branches
                    .iter()
                    .map(|b| Self::from_json(b, named))
                    .collect::<Result<_>>()?,
            )),
            J::Object(o) => {
                let ty = o
                    .get("type")
                    .ok_or_else(|| Error::Corrupt("avro: no type".into()))?;
                match ty.as_str() {
                    Some("record") => {
                        let name = o
                            .get("name")
                            .and_then(|n| n.as_str())
                            .unwrap_or("")
                            .to_string();
                        let mut fields = Vec::new();
                        for f in o
                            .get("fields")
                            .and_then(|f| f.as_array())
                            .into_iter()
                            .flatten()
                        {
                            let fname = match f.get("name").and_then(|n| n.as_str()) {
                                Some(n) => n.to_string(),
                                None => return corrupt("record field without name"),
                            };
                            let ft = f
                                .get("type")
                                .ok_or_else(|| Error::Corrupt("avro: field without type".into()))?;
                            fields.push((fname, Self::from_json(ft, named)?));
                        }
                        let s = Schema::Record {
                            name: name.clone(),
                            fields,
                        };
                        named.push((name, s.clone()));
                        Ok(s)
                    }
                    Some("array") => match o.get("items") {
                        Some(i) => Ok(Schema::Array(Box::new(Self::from_json(i, named)?))),
                        None => corrupt("array without items"),
                    },
                    Some("map") => match o.get("values") {
                        Some(i) => Ok(Schema::Map(Box::new(Self::from_json(i, named)?))),
                        None => corrupt("map without values"),
                    },
                    Some("fixed") => match o.get("size").and_then(|s| s.as_u64()) {
                        Some(n) => {
                            let s = Schema::Fixed(n);
                            if let Some(name) = o.get("name").and_then(|n| n.as_str()) {
                                named.push((name.to_string(), s.clone()));
                            }
                            Ok(s)
                        }
                        None => corrupt("fixed without size"),
                    },
                    // A primitive with attributes (e.g. a logicalType).
                    Some(_) => Self::from_json(ty, named),
                    None => corrupt("type is not a string"),
                }
            }
            _ => corrupt(format!("bad schema {v}")),
        }
    }
}

/// Appends a zig-zag varint long.
pub fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Appends a length-prefixed byte string.
pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// Encodes `value` as `schema`; a mismatch is the caller's bug, reported as
/// invalid input rather than a panic.
pub fn encode(out: &mut Vec<u8>, schema: &Schema, value: &Value) -> Result<()> {
    let mismatch = || {
        Err(Error::InvalidInput(format!(
            "avro: value {value:?} does not match schema {schema:?}"
        )))
    };
    match (schema, value) {
        (Schema::Null, Value::Null) => {}
        (Schema::Boolean, Value::Boolean(b)) => out.push(*b as u8),
        (Schema::Int, Value::Int(i)) => write_long(out, *i as i64),
        (Schema::Long, Value::Long(i)) => write_long(out, *i),
        (Schema::Long, Value::Int(i)) => write_long(out, *i as i64),
        (Schema::Float, Value::Float(f)) => out.extend_from_slice(&f.to_le_bytes()),
        (Schema::Double, Value::Double(f)) => out.extend_from_slice(&f.to_le_bytes()),
        (Schema::Bytes, Value::Bytes(b)) => write_bytes(out, b),
        (Schema::String, Value::String(s)) => write_bytes(out, s.as_bytes()),
        (Schema::Fixed(n), Value::Bytes(b)) if b.len() as u64 == *n => out.extend_from_slice(b),
        (Schema::Record { fields, .. }, Value::Record(vals)) => {
            if fields.len() != vals.len() {
                return mismatch();
            }
            for ((_, fs), (_, fv)) in fields.iter().zip(vals) {
                encode(out, fs, fv)?;
            }
        }
        (Schema::Array(item), Value::Array(items)) => {
            if !items.is_empty() {
                write_long(out, items.len() as i64);
                for i in items {
                    encode(out, item, i)?;
                }
            }
            write_long(out, 0);
        }
        (Schema::Map(vs), Value::Map(entries)) => {
            if !entries.is_empty() {
                write_long(out, entries.len() as i64);
                for (k, v) in entries {
                    write_bytes(out, k.as_bytes());
                    encode(out, vs, v)?;
                }
            }
            write_long(out, 0);
        }
        (Schema::Union(branches), v) => {
            let idx = branches.iter().position(|b| matches_kind(b, v));
            match idx {
                Some(i) => {
                    write_long(out, i as i64);
                    encode(out, &branches[i], v)?;
                }
                None => return mismatch(),
            }
        }
        _ => return mismatch(),
    }
    Ok(())
}

fn matches_kind(s: &Schema, v: &Value) -> bool {
    matches!(
        (s, v),
        (Schema::Null, Value::Null)
            | (Schema::Boolean, Value::Boolean(_))
            | (Schema::Int, Value::Int(_))
            | (Schema::Long, Value::Long(_) | Value::Int(_))
            | (Schema::Float, Value::Float(_))
            | (Schema::Double, Value::Double(_))
            | (Schema::Bytes, Value::Bytes(_))
            | (Schema::Fixed(_), Value::Bytes(_))
            | (Schema::String, Value::String(_))
            | (Schema::Record { .. }, Value::Record(_))
            | (Schema::Array(_), Value::Array(_))
            | (Schema::Map(_), Value::Map(_))
    )
}

/// A cursor over Avro binary data; every read is bounds-checked.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return corrupt("unexpected end of data");
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn read_long(&mut self) -> Result<i64> {
        let mut z: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = self.take(1)?[0];
            if shift == 63 && b > 1 {
                return corrupt("varint overflow");
            }
            z |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        corrupt("varint too long")
    }

    fn read_len(&mut self) -> Result<usize> {
        let n = self.read_long()?;
        if n < 0 || n as u64 > (self.buf.len() - self.pos) as u64 {
            return corrupt(format!("bad length {n}"));
        }
        Ok(n as usize)
    }

    pub fn read_bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.read_len()?;
        self.take(n)
    }

    fn read_string(&mut self) -> Result<String> {
        String::from_utf8(self.read_bytes()?.to_vec()).or_else(|_| corrupt("string is not UTF-8"))
    }

    // Block count of an array or map; a negative count carries a byte size.
    fn read_block_count(&mut self) -> Result<u64> {
        let n = self.read_long()?;
        if n < 0 {
            self.read_long()?;
        }
        Ok(n.unsigned_abs())
    }

    /// Decodes one value of `schema`.
    pub fn decode(&mut self, schema: &Schema) -> Result<Value> {
        Ok(match schema {
            Schema::Null => Value::Null,
            Schema::Boolean => Value::Boolean(self.take(1)?[0] != 0),
            Schema::Int => {
                let v = self.read_long()?;
                Value::Int(i32::try_from(v).or_else(|_| corrupt("int out of range"))?)
            }
            Schema::Long => Value::Long(self.read_long()?),
            Schema::Float => Value::Float(f32::from_le_bytes(
                self.take(4)?.try_into().unwrap_or([0; 4]),
            )),
            Schema::Double => Value::Double(f64::from_le_bytes(
                self.take(8)?.try_into().unwrap_or([0; 8]),
            )),
            Schema::Bytes => Value::Bytes(self.read_bytes()?.to_vec()),
            Schema::String => Value::String(self.read_string()?),
            Schema::Fixed(n) => {
                let n = usize::try_from(*n).or_else(|_| corrupt("fixed too large"))?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            Schema::Record { fields, .. } => Value::Record(
                fields
                    .iter()
                    .map(|(n, s)| Ok((n.clone(), self.decode(s)?)))
                    .collect::<Result<_>>()?,
            ),
            Schema::Array(item) => {
                let mut items = Vec::new();
                loop {
                    let n = self.read_block_count()?;
                    if n == 0 {
                        break;
                    }
                    for _ in 0..n {
                        items.push(self.decode(item)?);
                    }
                }
                Value::Array(items)
            }
            Schema::Map(vs) => {
                let mut entries = Vec::new();
                loop {
                    let n = self.read_block_count()?;
                    if n == 0 {
                        break;
                    }
                    for _ in 0..n {
                        let k = self.read_string()?;
                        entries.push((k, self.decode(vs)?));
                    }
                }
                Value::Map(entries)
            }
            Schema::Union(branches) => {
                let i = self.read_long()?;
                match usize::try_from(i).ok().and_then(|i| branches.get(i)) {
                    Some(b) => self.decode(b)?,
                    None => return corrupt(format!("union branch {i} out of range")),
                }
            }
        })
    }
}

impl Value {
    /// The field of a record by name.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Record(fs) => fs.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_matches_spec_examples() {
        for (v, bytes) in [
            (0i64, vec![0u8]),
            (-1, vec![1]),
            (1, vec![2]),
            (-64, vec![0x7f]),
            (64, vec![0x80, 1]),
        ] {
            let mut out = Vec::new();
            write_long(&mut out, v);
            assert_eq!(out, bytes);
            assert_eq!(Reader::new(&out).read_long().unwrap(), v);
        }
        let mut out = Vec::new();
        write_long(&mut out, i64::MIN);
        assert_eq!(Reader::new(&out).read_long().unwrap(), i64::MIN);
    }

    #[test]
    fn values_round_trip_through_schema() {
        let schema = Schema::parse(
            r#"{"type":"record","name":"r","fields":[
              {"name":"a","type":"int"},{"name":"b","type":["null","string"]},
              {"name":"c","type":{"type":"array","items":{"type":"record","name":"kv","fields":[
                  {"name":"key","type":"int"},{"name":"value","type":"bytes"}]},"logicalType":"map"}},
              {"name":"d","type":{"type":"map","values":"double"}},
              {"name":"e","type":"kv"}]}"#,
        )
        .unwrap();
        let kv = |k, v: &[u8]| {
            Value::Record(vec![
                ("key".into(), Value::Int(k)),
                ("value".into(), Value::Bytes(v.to_vec())),
            ])
        };
        let v = Value::Record(vec![
            ("a".into(), Value::Int(-7)),
            ("b".into(), Value::String("hé".into())),
            ("c".into(), Value::Array(vec![kv(1, b"x"), kv(2, b"")])),
            (
                "d".into(),
                Value::Map(vec![("pi".into(), Value::Double(3.5))]),
            ),
            ("e".into(), kv(9, b"z")),
        ]);
        let mut out = Vec::new();
        encode(&mut out, &schema, &v).unwrap();
        let mut r = Reader::new(&out);
        assert_eq!(r.decode(&schema).unwrap(), v);
        assert!(r.is_empty());
    }

    #[test]
    fn truncated_or_mismatched_data_is_an_error() {
        let schema = Schema::parse(r#"["null","string"]"#).unwrap();
        assert!(Reader::new(&[2, 10, b'a']).decode(&schema).is_err());
        assert!(Reader::new(&[8]).decode(&schema).is_err());
        assert!(encode(&mut Vec::new(), &schema, &Value::Int(1)).is_err());
        assert!(Schema::parse(r#"{"type":"nope"}"#).is_err());
    }
}
