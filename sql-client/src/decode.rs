//! Typed row decoding through serde.
//!
//! ```text
//!   columns  ["id", "name", "photo"]
//!   row      [7,    "ada",  X'00ff']
//!     struct { id: i64, name: String, photo: Vec<u8> }   by column name
//!     (i64, String, Vec<u8>)                              by position
//!     i64                                                 a one-column row
//! ```
//!
//! Values map to serde's data model without loss: INTEGER is an `i64`
//! (narrower integer types are range-checked by serde, `bool` accepts 0 and
//! 1), REAL an `f64`, TEXT a borrowed `str`, BLOB bytes (so `Vec<u8>` and
//! `serde_bytes::ByteBuf` both work), NULL `None`/unit. A struct field
//! missing from the columns is an error unless it has a serde default or is
//! an `Option`.

use std::fmt;

use serde::de::{
    self,
    value::{BorrowedStrDeserializer, SeqDeserializer},
    DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde::forward_to_deserialize_any;
use shared_types::Value;

/// Why a row did not decode.
#[derive(Debug)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DecodeError(msg.to_string())
    }
}

/// Decodes one row into `T`.
pub fn decode_row<'a, T: de::Deserialize<'a>>(
    columns: &'a [String],
    values: &'a [Value],
) -> Result<T, DecodeError> {
    T::deserialize(RowDeserializer { columns, values })
}

/// A row as a serde deserializer: a map by column name, a sequence by
/// position, or its only value.
struct RowDeserializer<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl<'a> RowDeserializer<'a> {
    fn single(self) -> Result<ValueDeserializer<'a>, DecodeError> {
        match self.values {
            [v] => Ok(ValueDeserializer(v)),
            _ => Err(DecodeError(format!(
                "a row of {} columns does not decode into a single value",
                self.values.len()
            ))),
        }
    }
}

macro_rules! via_single {
    ($($m:ident)*) => {$(
        fn $m<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
            self.single()?.$m(v)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for RowDeserializer<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.deserialize_map(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        v.visit_map(RowMap {
            columns: self.columns.iter(),
            values: self.values.iter(),
            next: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_map(v)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        // A one-blob row asked for a sequence is `Vec<u8>` wanting the
        // blob; any other row is a sequence of its columns.
        match self.values {
            [blob @ Value::Blob(_)] => ValueDeserializer(blob).deserialize_seq(v),
            _ => v.visit_seq(ValueSeq(self.values.iter())),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, DecodeError> {
        if len != self.values.len() {
            return Err(DecodeError(format!(
                "a tuple of {len} does not match a row of {} columns",
                self.values.len()
            )));
        }
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_tuple(len, v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DecodeError> {
        v.visit_newtype_struct(self)
    }

    via_single! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_option
        deserialize_unit deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, DecodeError> {
        self.single()?.deserialize_unit_struct(name, v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DecodeError> {
        self.single()?.deserialize_enum(name, variants, v)
    }
}

struct RowMap<'a> {
    columns: std::slice::Iter<'a, String>,
    values: std::slice::Iter<'a, Value>,
    next: Option<&'a Value>,
}

impl<'de> MapAccess<'de> for RowMap<'de> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        match (self.columns.next(), self.values.next()) {
            (Some(name), Some(value)) => {
                self.next = Some(value);
                seed.deserialize(BorrowedStrDeserializer::new(name))
                    .map(Some)
            }
            _ => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, DecodeError> {
        let value = self
            .next
            .take()
            .ok_or_else(|| DecodeError("value requested before its column".into()))?;
        seed.deserialize(ValueDeserializer(value))
    }
}

struct ValueSeq<'a>(std::slice::Iter<'a, Value>);

impl<'de> SeqAccess<'de> for ValueSeq<'de> {
    type Error = DecodeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DecodeError> {
        self.0
            .next()
            .map(|v| seed.deserialize(ValueDeserializer(v)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// One SQL value as a serde deserializer.
struct ValueDeserializer<'a>(&'a Value);

impl<'de> de::Deserializer<'de> for ValueDeserializer<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => v.visit_unit(),
            Value::Integer(i) => v.visit_i64(*i),
            Value::Real(r) => v.visit_f64(*r),
            Value::Text(t) => v.visit_borrowed_str(t),
            Value::Blob(b) => v.visit_borrowed_bytes(b),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        // SQLite has no boolean: true and false are stored as 1 and 0.
        match self.0 {
            Value::Integer(0) => v.visit_bool(false),
            Value::Integer(1) => v.visit_bool(true),
            other => Err(DecodeError(format!(
                "expected a boolean (0 or 1), found {}",
                describe(other)
            ))),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        // `Vec<u8>` asks for a sequence; a blob is one of bytes.
        match self.0 {
            Value::Blob(b) => {
                v.visit_seq(SeqDeserializer::<_, DecodeError>::new(b.iter().copied()))
            }
            _ => self.deserialize_any(v),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DecodeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DecodeError> {
        // Unit variants stored as their name in a TEXT column.
        match self.0 {
            Value::Text(t) => v.visit_enum(t.as_str().into_deserializer()),
            other => Err(DecodeError(format!(
                "expected an enum variant name, found {}",
                describe(other)
            ))),
        }
    }

    forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct map struct
        identifier ignored_any
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => format!("integer {i}"),
        Value::Real(r) => format!("real {r}"),
        Value::Text(t) if t.chars().count() > 40 => {
            format!("text {:?}...", t.chars().take(40).collect::<String>())
        }
        Value::Text(t) => format!("text {t:?}"),
        Value::Blob(b) => format!("blob of {} bytes", b.len()),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct User {
        id: i64,
        name: String,
        photo: Option<Vec<u8>>,
        score: f64,
        #[serde(default)]
        missing: u32,
    }

    #[test]
    fn structs_by_name_in_any_column_order() {
        let c = cols(&["score", "photo", "name", "id", "extra"]);
        let v = vec![
            Value::Real(1.5),
            Value::Blob(vec![0, 255]),
            Value::Text("ada".into()),
            Value::Integer(i64::MIN),
            Value::Null,
        ];
        let u: User = decode_row(&c, &v).unwrap();
        assert_eq!(
            u,
            User {
                id: i64::MIN,
                name: "ada".into(),
                photo: Some(vec![0, 255]),
                score: 1.5,
                missing: 0
            }
        );
    }

    #[test]
    fn null_is_none_and_integer_widens_to_real() {
        let c = cols(&["id", "name", "photo", "score"]);
        let v = vec![
            Value::Integer(1),
            Value::Text("x".into()),
            Value::Null,
            Value::Integer(3),
        ];
        let u: User = decode_row(&c, &v).unwrap();
        assert_eq!(u.photo, None);
        assert_eq!(u.score, 3.0);
    }

    #[test]
    fn tuples_by_position_and_single_values() {
        let c = cols(&["a", "b", "c"]);
        let v = vec![Value::Integer(i64::MAX), Value::Null, Value::Blob(vec![7])];
        let t: (i64, Option<String>, Vec<u8>) = decode_row(&c, &v).unwrap();
        assert_eq!(t, (i64::MAX, None, vec![7]));
        let one: i64 = decode_row(&c[..1], &v[..1]).unwrap();
        assert_eq!(one, i64::MAX);
        let blob: Vec<u8> = decode_row(&c[2..], &v[2..]).unwrap();
        assert_eq!(blob, [7]);
        let columns: Vec<i64> = decode_row(&c[..1], &v[..1]).unwrap();
        assert_eq!(columns, [i64::MAX]);
        let e = decode_row::<(i64, i64)>(&c, &v).unwrap_err();
        assert!(e.0.contains("tuple of 2"), "{e}");
        let e = decode_row::<i64>(&c, &v).unwrap_err();
        assert!(e.0.contains("3 columns"), "{e}");
    }

    #[test]
    fn type_errors_are_clear() {
        let c = cols(&["id", "name", "photo", "score"]);
        let v = vec![
            Value::Text("seven".into()),
            Value::Text("x".into()),
            Value::Null,
            Value::Real(0.0),
        ];
        let e = decode_row::<User>(&c, &v).unwrap_err();
        assert!(e.0.contains("invalid type: string \"seven\""), "{e}");
        let e = decode_row::<(u8,)>(&c[..1], &[Value::Integer(300)]).unwrap_err();
        assert!(e.0.contains("300"), "{e}");
        let e = decode_row::<(String,)>(&c[..1], &[Value::Null]).unwrap_err();
        assert!(e.0.contains("invalid type: unit"), "{e}");
        let e = decode_row::<User>(&c[..1], &[Value::Integer(1)]).unwrap_err();
        assert!(e.0.contains("missing field `name`"), "{e}");
    }

    #[test]
    fn bools_enums_and_maps() {
        #[derive(Debug, Deserialize, PartialEq)]
        enum Kind {
            Table,
            View,
        }
        let c = cols(&["flag", "kind"]);
        let v = vec![Value::Integer(1), Value::Text("View".into())];
        let t: (bool, Kind) = decode_row(&c, &v).unwrap();
        assert_eq!(t, (true, Kind::View));
        assert!(decode_row::<(bool,)>(&c[..1], &[Value::Integer(2)]).is_err());
        let m: std::collections::BTreeMap<String, serde_json::Value> = decode_row(&c, &v).unwrap();
        assert_eq!(m["flag"], serde_json::json!(1));
        let _ = Kind::Table;
    }
}
