//! Order-preserving encoding of composite keys (tuples of SQL values).
//!
//! Table keys and index keys are tuples of SQL values, but the B-tree orders
//! keys by plain `memcmp`. This module maps a tuple to bytes so that
//! `memcmp` order of the encodings equals SQLite's order of the tuples:
//!
//! * `NULL` < numbers < text < blob (SQLite's storage-class order).
//! * `INTEGER` and `REAL` compare numerically and exactly over the whole
//!   `i64` and `f64` ranges: `9007199254740993 > 9007199254740992.0`.
//! * Numerically equal values encode to the *same bytes* (`3` and `3.0`,
//!   `0.0` and `-0.0`), so a UNIQUE index sees them as duplicates.
//! * Text (BINARY collation) and blobs compare bytewise, a prefix first.
//! * A `Desc` column inverts every byte of its encoding.
//! * Tuples compare column by column; a tuple that is a prefix of another
//!   sorts first.
//!
//! Each column is self-delimiting, so columns simply concatenate:
//!
//! ```text
//!   NULL      05
//!   number    15  f f f f f f f f  [r r]      f: the largest f64 <= value,
//!                                              order-preserving, big-endian
//!                                             r: value - f, u16 BE, present
//!                                              iff 2^53 <= |f| and
//!                                              -2^63 <= f < 2^63
//!   text      25  escaped UTF-8 bytes   00 01
//!   blob      35  escaped bytes         00 01     escape: 00 -> 00 FF
//! ```
//!
//! Numbers: below 2^53 every integer is an exact `f64`, so `f` alone is the
//! value. Beyond 2^53 an `i64` may fall strictly between two adjacent `f64`s;
//! then `f` is the `f64` just below it and `r` (less than the gap, at most
//! 1024) the exact rest. Whether `r` is present depends on `f` only, so
//! every number starting with the same 8 bytes has the same length and `r`
//! breaks ties exactly. A `REAL` in that range gets `r = 0`, the same bytes
//! as the equal `INTEGER`.
//!
//! `f` in order-preserving form: the IEEE bits with the sign bit flipped for
//! positives and all bits flipped for negatives, so that unsigned comparison
//! of the bits orders the values; `-0.0` is first turned into `0.0`.
//!
//! NaN encodes as `NULL`, because SQLite stores a NaN as NULL.
//!
//! Decoding normalises numbers: an integral value within the `i64` range
//! decodes as `Integer` (so `Real(3.0)` comes back as `Integer(3)`), any other
//! number as `Real`. Decoding rejects bytes the encoder never produces (NaN,
//! `-0.0`, an out-of-range rest, bad escapes, invalid UTF-8) as corruption,
//! so that each value has exactly one encoding.

use crate::error::Result;

/// One SQL value in a key.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Sort direction of one key column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

const TAG_NULL: u8 = 0x05;
const TAG_NUMBER: u8 = 0x15;
const TAG_TEXT: u8 = 0x25;
const TAG_BLOB: u8 = 0x35;

/// Inside text and blobs, 0x00 starts a two-byte sequence.
const ESCAPE: u8 = 0x00;
/// `ESCAPE ESCAPED_ZERO` is a literal zero byte.
const ESCAPED_ZERO: u8 = 0xFF;
/// `ESCAPE TERMINATOR` ends the value; it sorts below every other byte pair,
/// so a prefix sorts first.
const TERMINATOR: u8 = 0x01;

const TWO_53: f64 = 9_007_199_254_740_992.0;
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// Encodes `values` and appends the bytes to `out`. `dirs[i]` is the
/// direction of column `i`; missing directions are `Asc`.
pub fn encode_key(values: &[KeyValue], dirs: &[Direction], out: &mut Vec<u8>) {
    for (i, value) in values.iter().enumerate() {
        encode_column(value, dirs.get(i).copied().unwrap_or(Direction::Asc), out);
    }
}

/// Encodes one column and appends it to `out`; `encode_key` is this applied
/// to each column in turn.
pub fn encode_column(value: &KeyValue, dir: Direction, out: &mut Vec<u8>) {
    let start = out.len();
    match value {
        KeyValue::Null => out.push(TAG_NULL),
        KeyValue::Integer(i) => {
            out.push(TAG_NUMBER);
            let (f, rest) = split_integer(*i);
            push_number(f, rest, out);
        }
        KeyValue::Real(f) if f.is_nan() => out.push(TAG_NULL),
        KeyValue::Real(f) => {
            out.push(TAG_NUMBER);
            push_number(*f, 0, out);
        }
        KeyValue::Text(s) => push_escaped(TAG_TEXT, s.as_bytes(), out),
        KeyValue::Blob(b) => push_escaped(TAG_BLOB, b, out),
    }
    if dir == Direction::Desc {
        for byte in &mut out[start..] {
            *byte = !*byte;
        }
    }
}

/// Appends the ascending encoding of `Text(s)`, as [`encode_column`]
/// does, without the owned value.
pub fn encode_text(s: &str, out: &mut Vec<u8>) {
    push_escaped(TAG_TEXT, s.as_bytes(), out);
}

/// Appends the ascending encoding of `Blob(b)`, as [`encode_column`]
/// does, without the owned value.
pub fn encode_blob(b: &[u8], out: &mut Vec<u8>) {
    push_escaped(TAG_BLOB, b, out);
}

/// Appends the encoding of the one-column key `(Integer(v))`, ascending:
/// the same bytes as `encode_key(&[KeyValue::Integer(v)], &[], out)`.
pub fn encode_i64(v: i64, out: &mut Vec<u8>) {
    out.push(TAG_NUMBER);
    let (f, rest) = split_integer(v);
    push_number(f, rest, out);
}

/// Decodes a key written by [`encode_i64`] (or any one-column ascending key
/// holding an integer).
pub fn decode_i64(bytes: &[u8]) -> Result<i64> {
    // One value read in place: every row read of a rowid table decodes its
    // key, so no vector of columns is built for it.
    let mut reader = Reader {
        bytes,
        pos: 0,
        invert: 0,
    };
    match reader.value()? {
        KeyValue::Integer(v) if reader.pos == bytes.len() => Ok(v),
        _ => Err(crate::corruption!("key is not a single integer")),
    }
}

/// Appends `v` as 8 big-endian bytes: order-preserving for unsigned ids.
/// Not a `KeyValue` encoding; for internal keys made of ids only.
pub fn encode_u64(v: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Reads the 8 big-endian bytes written by [`encode_u64`] at the start of
/// `bytes`.
pub fn decode_u64(bytes: &[u8]) -> Result<u64> {
    let head: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| crate::corruption!("u64 key of {} bytes", bytes.len()))?;
    Ok(u64::from_be_bytes(head))
}

/// Decodes a key written by [`encode_key`] with the same `dirs`. Returns
/// every column present; numbers come back normalised (see module docs).
pub fn decode_key(bytes: &[u8], dirs: &[Direction]) -> Result<Vec<KeyValue>> {
    let mut values = Vec::new();
    let mut reader = Reader {
        bytes,
        pos: 0,
        invert: 0,
    };
    while reader.pos < bytes.len() {
        let dir = dirs.get(values.len()).copied().unwrap_or(Direction::Asc);
        reader.invert = if dir == Direction::Desc { 0xFF } else { 0 };
        values.push(reader.value()?);
    }
    Ok(values)
}

/// The largest `f64 <= i` and the exact rest `i - f` (< 2048).
fn split_integer(i: i64) -> (f64, u16) {
    if (-(1i64 << 53)..=(1i64 << 53)).contains(&i) {
        return (i as f64, 0);
    }
    let mut f = i as f64; // rounds to nearest; may land above i
    if f as i128 > i128::from(i) {
        f = next_down(f);
    }
    // |i| > 2^53, so f is an integer in [-2^63, 2^63) and exact in i128; the
    // gap between adjacent f64s there is at most 2^11.
    let rest = i128::from(i) - f as i128;
    debug_assert!((0..2048).contains(&rest));
    (f, rest as u16)
}

/// The next `f64` below a finite, non-zero `f`.
fn next_down(f: f64) -> f64 {
    let bits = f.to_bits();
    if f > 0.0 {
        f64::from_bits(bits - 1)
    } else {
        f64::from_bits(bits + 1)
    }
}

/// The next `f64` above a finite, non-zero `f`.
fn next_up(f: f64) -> f64 {
    let bits = f.to_bits();
    if f > 0.0 {
        f64::from_bits(bits + 1)
    } else {
        f64::from_bits(bits - 1)
    }
}

/// Whether an `i64` can lie strictly between `f` and the next `f64` up,
/// which is when the encoding of `f` carries a rest.
fn has_rest(f: f64) -> bool {
    f.abs() >= TWO_53 && (-TWO_63..TWO_63).contains(&f)
}

fn push_number(f: f64, rest: u16, out: &mut Vec<u8>) {
    let f = if f == 0.0 { 0.0 } else { f }; // -0.0 == 0.0
    let bits = f.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    };
    out.extend_from_slice(&ordered.to_be_bytes());
    if has_rest(f) {
        out.extend_from_slice(&rest.to_be_bytes());
    }
}

fn push_escaped(tag: u8, bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 3);
    out.push(tag);
    let mut chunks = bytes.split(|b| *b == 0);
    if let Some(first) = chunks.next() {
        out.extend_from_slice(first);
    }
    for chunk in chunks {
        out.extend_from_slice(&[ESCAPE, ESCAPED_ZERO]);
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&[ESCAPE, TERMINATOR]);
}

/// Reads columns; `invert` is XORed into every byte (0xFF for `Desc`).
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    invert: u8,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| crate::corruption!("key ends inside a value at byte {}", self.pos))?;
        self.pos += 1;
        Ok(b ^ self.invert)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.byte()?;
        }
        Ok(out)
    }

    fn value(&mut self) -> Result<KeyValue> {
        let tag_pos = self.pos;
        match self.byte()? {
            TAG_NULL => Ok(KeyValue::Null),
            TAG_NUMBER => self.number(),
            TAG_TEXT => {
                let bytes = self.escaped()?;
                String::from_utf8(bytes)
                    .map(KeyValue::Text)
                    .map_err(|_| crate::corruption!("key text at byte {tag_pos} is not UTF-8"))
            }
            TAG_BLOB => self.escaped().map(KeyValue::Blob),
            tag => Err(crate::corruption!(
                "unknown key tag {tag:#04x} at byte {tag_pos}"
            )),
        }
    }

    fn number(&mut self) -> Result<KeyValue> {
        let ordered = u64::from_be_bytes(self.array::<8>()?);
        let bits = if ordered >> 63 == 1 {
            ordered ^ 1 << 63
        } else {
            !ordered
        };
        let f = f64::from_bits(bits);
        if f.is_nan() || bits == (-0.0f64).to_bits() {
            return Err(crate::corruption!(
                "non-canonical number in key at byte {}",
                self.pos
            ));
        }
        let rest = if has_rest(f) {
            u16::from_be_bytes(self.array::<2>()?)
        } else {
            0
        };
        if rest != 0 {
            // f is an integer in [-2^63, 2^63): exact in i128, as is next_up(f).
            let value = f as i128 + i128::from(rest);
            if value >= next_up(f) as i128 || value > i128::from(i64::MAX) {
                return Err(crate::corruption!("number rest {rest} out of range in key"));
            }
            return Ok(KeyValue::Integer(value as i64));
        }
        if f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f) {
            Ok(KeyValue::Integer(f as i64))
        } else {
            Ok(KeyValue::Real(f))
        }
    }

    fn escaped(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            match self.byte()? {
                ESCAPE => match self.byte()? {
                    ESCAPED_ZERO => out.push(0),
                    TERMINATOR => return Ok(out),
                    b => return Err(crate::corruption!("bad escape {b:#04x} in key")),
                },
                b => out.push(b),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyValue::*;

    fn enc(values: &[KeyValue]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key(values, &[], &mut out);
        out
    }

    #[test]
    fn documented_examples() {
        let hex = |v: &[KeyValue]| {
            enc(v)
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(hex(&[Null]), "05");
        assert_eq!(hex(&[Integer(1)]), "15 BF F0 00 00 00 00 00 00");
        assert_eq!(hex(&[Real(-1.0)]), "15 40 0F FF FF FF FF FF FF");
        assert_eq!(
            hex(&[Integer((1 << 53) + 1)]),
            "15 C3 40 00 00 00 00 00 00 00 01"
        );
        assert_eq!(hex(&[Real(TWO_53)]), "15 C3 40 00 00 00 00 00 00 00 00");
        assert_eq!(hex(&[Text("a\0".into())]), "25 61 00 FF 00 01");
        assert_eq!(hex(&[Blob(vec![])]), "35 00 01");
    }

    #[test]
    fn exact_comparison_beyond_2_pow_53() {
        assert!(enc(&[Integer(9007199254740993)]) > enc(&[Real(9007199254740992.0)]));
        assert!(enc(&[Integer(9007199254740992)]) == enc(&[Real(9007199254740992.0)]));
        assert!(enc(&[Integer(i64::MAX)]) < enc(&[Real(TWO_63)]));
        assert!(enc(&[Integer(i64::MAX - 1)]) < enc(&[Integer(i64::MAX)]));
        assert!(enc(&[Integer(i64::MIN)]) == enc(&[Real(-TWO_63)]));
        assert!(enc(&[Integer(i64::MIN + 1)]) > enc(&[Real(-TWO_63)]));
        assert!(enc(&[Real(f64::NEG_INFINITY)]) < enc(&[Integer(i64::MIN)]));
        assert!(enc(&[Real(f64::INFINITY)]) > enc(&[Integer(i64::MAX)]));
        assert!(enc(&[Real(-(2f64.powi(62)) - 1024.0)]) < enc(&[Integer(-(1 << 62) - 1)]));
    }

    #[test]
    fn equal_numbers_share_bytes() {
        assert_eq!(enc(&[Integer(3)]), enc(&[Real(3.0)]));
        assert_eq!(enc(&[Real(0.0)]), enc(&[Real(-0.0)]));
        assert_eq!(enc(&[Integer(0)]), enc(&[Real(-0.0)]));
        assert_eq!(enc(&[Real(f64::NAN)]), enc(&[Null]));
    }

    #[test]
    fn class_order_and_prefixes() {
        let ordered = [
            enc(&[Null]),
            enc(&[Real(f64::NEG_INFINITY)]),
            enc(&[Integer(-5)]),
            enc(&[Real(2.5)]),
            enc(&[Real(f64::INFINITY)]),
            enc(&[Text(String::new())]),
            enc(&[Text("a".into())]),
            enc(&[Text("a\0".into())]),
            enc(&[Text("a\0b".into())]),
            enc(&[Text("a\u{1}".into())]),
            enc(&[Text("ab".into())]),
            enc(&[Blob(vec![])]),
            enc(&[Blob(vec![0])]),
            enc(&[Blob(vec![0, 0])]),
            enc(&[Blob(vec![1])]),
        ];
        for pair in ordered.windows(2) {
            assert!(pair[0] < pair[1], "{:?} < {:?}", pair[0], pair[1]);
        }
        // Column boundaries: ("a", NULL) < ("a\0") < ("ab").
        assert!(enc(&[Text("a".into()), Blob(vec![9])]) < enc(&[Text("a\0".into())]));
        assert!(enc(&[Text("a".into())]) < enc(&[Text("a".into()), Null]));
    }

    #[test]
    fn desc_inverts_one_column() {
        let dirs = [Direction::Asc, Direction::Desc];
        let key = |a: i64, b: &str| {
            let mut out = Vec::new();
            encode_key(&[Integer(a), Text(b.into())], &dirs, &mut out);
            out
        };
        assert!(key(1, "b") < key(1, "a"));
        assert!(key(1, "ab") < key(1, "a"));
        assert!(key(1, "a") < key(2, "z"));
        let mut null_desc = Vec::new();
        encode_key(&[Integer(1), Null], &dirs, &mut null_desc);
        assert!(key(1, "a") < null_desc, "NULL sorts last in a Desc column");
        assert_eq!(
            decode_key(&key(7, "x\0y"), &dirs).unwrap(),
            vec![Integer(7), Text("x\0y".into())]
        );
    }

    #[test]
    fn decode_normalises_numbers() {
        let cases = [
            (Real(3.0), Integer(3)),
            (Real(-0.0), Integer(0)),
            (Real(-TWO_63), Integer(i64::MIN)),
            (Real(TWO_63), Real(TWO_63)),
            (Real(0.5), Real(0.5)),
            (Real(f64::MIN_POSITIVE / 4.0), Real(f64::MIN_POSITIVE / 4.0)),
            (Real(f64::NAN), Null),
            (Integer(i64::MAX), Integer(i64::MAX)),
            (Integer(-(1 << 62) - 1), Integer(-(1 << 62) - 1)),
        ];
        for (input, expected) in cases {
            assert_eq!(
                decode_key(&enc(std::slice::from_ref(&input)), &[]).unwrap(),
                vec![expected],
                "{input:?}"
            );
        }
    }

    #[test]
    fn integer_fast_paths() {
        for v in [0, 1, -1, 1 << 53, (1 << 53) + 1, i64::MIN, i64::MAX] {
            let mut fast = Vec::new();
            encode_i64(v, &mut fast);
            assert_eq!(fast, enc(&[Integer(v)]));
            assert_eq!(decode_i64(&fast).unwrap(), v);
        }
        let mut a = Vec::new();
        let mut b = Vec::new();
        encode_u64(5, &mut a);
        encode_u64(300, &mut b);
        assert!(a < b);
        assert_eq!(decode_u64(&b).unwrap(), 300);
        assert!(decode_u64(&b[..7]).is_err());
        assert!(decode_i64(&enc(&[Text("x".into())])).is_err());
    }

    #[test]
    fn rejects_non_canonical_bytes() {
        let mut rest_too_big = enc(&[Integer((1 << 53) + 1)]);
        let n = rest_too_big.len();
        rest_too_big[n - 2..].copy_from_slice(&2u16.to_be_bytes()); // gap at 2^53 is 2
        assert!(decode_key(&rest_too_big, &[]).is_err());
        assert!(decode_key(
            &[TAG_NUMBER, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            &[]
        )
        .is_err());
        assert!(decode_key(&[TAG_TEXT, 0xC3, ESCAPE, TERMINATOR], &[]).is_err());
        assert!(decode_key(&[TAG_BLOB, ESCAPE, 0x02], &[]).is_err());
        assert!(decode_key(&[TAG_BLOB, 1, 2], &[]).is_err());
        assert!(decode_key(&[0x99], &[]).is_err());
        assert_eq!(decode_key(&[], &[]).unwrap(), vec![]);
    }
}
