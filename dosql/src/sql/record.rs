//! The row record: how one table row's column values are stored as the
//! value of its key in a table tree.
//!
//! ```text
//!   record  := varint(count) value*count
//!   value   := 00                          NULL
//!            | 01 varint(zigzag(i))        INTEGER
//!            | 02 f64 LE (8 bytes)         REAL
//!            | 03 varint(len) utf8[len]    TEXT
//!            | 04 varint(len) bytes[len]   BLOB
//!   varint  := LEB128, low 7 bits first, at most 10 bytes
//! ```
//!
//! A record may hold fewer values than the table has columns (a table that
//! later grew columns): missing trailing values read as NULL. The INTEGER
//! PRIMARY KEY column of a rowid table is stored as NULL, because its value
//! is the key. Decoding never panics: truncated or malformed bytes are
//! `Corruption`.

use crate::corruption;
use crate::error::Result;
use crate::sql::value::Value;

const TAG_NULL: u8 = 0;
const TAG_INTEGER: u8 = 1;
const TAG_REAL: u8 = 2;
const TAG_TEXT: u8 = 3;
const TAG_BLOB: u8 = 4;

pub(crate) fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8], pos: &mut usize) -> Result<u64> {
    let mut v: u64 = 0;
    for shift in (0..70).step_by(7) {
        let b = *bytes
            .get(*pos)
            .ok_or_else(|| corruption!("row record truncated in a varint"))?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return Err(corruption!("row record varint overflows 64 bits"));
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(corruption!("row record varint longer than 10 bytes"))
}

/// Appends the record of `values` to `out`.
pub fn encode_row(values: &[Value], out: &mut Vec<u8>) {
    encode_row_nulling(values, None, out);
}

/// [`encode_row`] with column `null` (if any) stored as NULL whatever its
/// value: a rowid alias lives in the key, not in the record.
pub fn encode_row_nulling(values: &[Value], null: Option<usize>, out: &mut Vec<u8>) {
    put_varint(values.len() as u64, out);
    for (i, value) in values.iter().enumerate() {
        let value = if Some(i) == null { &Value::Null } else { value };
        match value {
            Value::Null => out.push(TAG_NULL),
            Value::Integer(i) => {
                out.push(TAG_INTEGER);
                put_varint(((*i << 1) ^ (*i >> 63)) as u64, out);
            }
            Value::Real(f) => {
                out.push(TAG_REAL);
                out.extend_from_slice(&f.to_le_bytes());
            }
            Value::Text(s) => {
                out.push(TAG_TEXT);
                put_varint(s.len() as u64, out);
                out.extend_from_slice(s.as_bytes());
            }
            Value::Blob(b) => {
                out.push(TAG_BLOB);
                put_varint(b.len() as u64, out);
                out.extend_from_slice(b);
            }
        }
    }
}

fn take<'a>(bytes: &'a [u8], pos: &mut usize, len: u64) -> Result<&'a [u8]> {
    let end = usize::try_from(len)
        .ok()
        .and_then(|len| pos.checked_add(len))
        .filter(|end| *end <= bytes.len())
        .ok_or_else(|| corruption!("row record value of {len} bytes runs past the end"))?;
    let slice = &bytes[*pos..end];
    *pos = end;
    Ok(slice)
}

/// How many values a record stores.
pub fn stored_len(bytes: &[u8]) -> Result<usize> {
    let mut pos = 0;
    Ok(get_varint(bytes, &mut pos)? as usize)
}

/// Decodes a record into exactly `width` values: missing trailing values
/// are NULL, extra ones are corruption.
pub fn decode_row(bytes: &[u8], width: usize) -> Result<Vec<Value>> {
    let mut values = vec![Value::Null; width];
    decode_row_into(bytes, &mut values)?;
    Ok(values)
}

/// Decodes a record into `out` (one slot per column): missing trailing
/// values are NULL, extra ones are corruption. Text and blob slots keep
/// their allocation, so a buffer row reused across a scan decodes without
/// allocating once its strings have grown to size.
pub fn decode_row_into(bytes: &[u8], out: &mut [Value]) -> Result<()> {
    let mut pos = 0;
    let count = get_varint(bytes, &mut pos)?;
    if count > out.len() as u64 {
        return Err(corruption!(
            "row record holds {count} values, the table has {} columns",
            out.len()
        ));
    }
    let (stored, missing) = out.split_at_mut(count as usize);
    for slot in stored {
        let tag = *bytes
            .get(pos)
            .ok_or_else(|| corruption!("row record truncated before a value"))?;
        pos += 1;
        match tag {
            TAG_NULL => *slot = Value::Null,
            TAG_INTEGER => {
                let z = get_varint(bytes, &mut pos)?;
                *slot = Value::Integer(((z >> 1) as i64) ^ -((z & 1) as i64));
            }
            TAG_REAL => {
                let raw = take(bytes, &mut pos, 8)?;
                let f = f64::from_le_bytes(raw.try_into().expect("8 bytes"));
                if f.is_nan() {
                    return Err(corruption!("row record holds a NaN"));
                }
                *slot = Value::Real(f);
            }
            TAG_TEXT => {
                let len = get_varint(bytes, &mut pos)?;
                let raw = take(bytes, &mut pos, len)?;
                let s = std::str::from_utf8(raw)
                    .map_err(|_| corruption!("row record text is not UTF-8"))?;
                match slot {
                    Value::Text(t) => {
                        t.clear();
                        t.push_str(s);
                    }
                    _ => *slot = Value::Text(s.to_owned()),
                }
            }
            TAG_BLOB => {
                let len = get_varint(bytes, &mut pos)?;
                let raw = take(bytes, &mut pos, len)?;
                match slot {
                    Value::Blob(b) => {
                        b.clear();
                        b.extend_from_slice(raw);
                    }
                    _ => *slot = Value::Blob(raw.to_vec()),
                }
            }
            other => return Err(corruption!("row record has unknown value tag {other}")),
        }
    }
    if pos != bytes.len() {
        return Err(corruption!(
            "row record has {} trailing bytes",
            bytes.len() - pos
        ));
    }
    missing.fill(Value::Null);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Null, Value::Null) => true,
            (Value::Integer(x), Value::Integer(y)) => x == y,
            (Value::Real(x), Value::Real(y)) => x.to_bits() == y.to_bits(),
            (Value::Text(x), Value::Text(y)) => x == y,
            (Value::Blob(x), Value::Blob(y)) => x == y,
            _ => false,
        }
    }

    #[test]
    fn round_trips_every_storage_class() {
        let row = vec![
            Value::Null,
            Value::Integer(0),
            Value::Integer(-1),
            Value::Integer(i64::MAX),
            Value::Integer(i64::MIN),
            Value::Real(-0.5),
            Value::Text("héllo".into()),
            Value::Blob(vec![0, 255, 7]),
        ];
        let mut buf = Vec::new();
        encode_row(&row, &mut buf);
        let back = decode_row(&buf, row.len() + 2).unwrap();
        assert_eq!(back.len(), row.len() + 2);
        for (a, b) in row.iter().zip(&back) {
            assert!(same(a, b), "{a:?} != {b:?}");
        }
        assert!(back[row.len()].is_null());
    }

    #[test]
    fn a_nulled_column_is_stored_as_null() {
        let row = vec![Value::Integer(7), Value::Text("x".into()), Value::Real(1.5)];
        for null in 0..row.len() {
            let (mut ours, mut want) = (Vec::new(), Vec::new());
            encode_row_nulling(&row, Some(null), &mut ours);
            let mut copy = row.clone();
            copy[null] = Value::Null;
            encode_row(&copy, &mut want);
            assert_eq!(ours, want, "column {null}");
        }
    }

    #[test]
    fn matches_the_documented_example() {
        let mut buf = Vec::new();
        encode_row(
            &[Value::Integer(5), Value::Null, Value::Text("ab".into())],
            &mut buf,
        );
        assert_eq!(buf, [0x03, 0x01, 0x0A, 0x00, 0x03, 0x02, 0x61, 0x62]);
    }

    #[test]
    fn small_integers_take_two_bytes() {
        let mut buf = Vec::new();
        encode_row(&[Value::Integer(5)], &mut buf);
        assert_eq!(buf, [1, TAG_INTEGER, 10]);
    }

    #[test]
    fn malformed_bytes_are_corruption() {
        let mut buf = Vec::new();
        encode_row(&[Value::Text("abc".into())], &mut buf);
        for cut in 0..buf.len() {
            assert!(decode_row(&buf[..cut], 1).is_err(), "cut at {cut}");
        }
        assert!(decode_row(&buf, 0).is_err(), "more values than columns");
        assert!(decode_row(&[1, 9], 1).is_err(), "unknown tag");
        assert!(decode_row(&[1, 3, 2, 0xff, 0xfe], 1).is_err(), "bad utf-8");
        let mut nan = vec![1, TAG_REAL];
        nan.extend_from_slice(&f64::NAN.to_le_bytes());
        assert!(decode_row(&nan, 1).is_err());
        assert!(decode_row(&[0xff; 11], 1).is_err(), "endless varint");
        let mut extra = buf.clone();
        extra.push(0);
        assert!(decode_row(&extra, 1).is_err(), "trailing bytes");
    }
}
