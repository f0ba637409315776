//! SQL values on the wire: SQLite's five storage classes, exact in JSON and
//! in JavaScript.
//!
//! ```text
//!   NULL     null
//!   INTEGER  12                       when |i| <= 2^53 - 1 (exact in a JS number)
//!            {"int": "-9223372036854775808"}   any i64, always accepted
//!   REAL     1.5   1.0   1e+300       a JSON number with '.' or an exponent
//!            {"real": 2}  {"real": "Infinity"}  {"real": "-Infinity"}
//!   TEXT     "text"
//!   BLOB     {"blob": "AAH/"}         standard base64, padded
//! ```
//!
//! Invariant: `decode(encode(v)) == v` for every value (REAL compared
//! bitwise, NaN excluded: SQLite never stores NaN). A decoder that sees a
//! JSON number decides INTEGER or REAL by its text (`1` vs `1.0`), which
//! Rust's serde_json preserves; JavaScript cannot, so the TypeScript SDK
//! sends reals that happen to be integral as `{"real": n}`.
//!
//! As parameters, `true`/`false` bind as 1/0 (SQLite has no boolean).

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest magnitude of an integer that a JavaScript number holds exactly.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// One SQL value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    /// SQLite's name of the value's storage class, as `typeof()` says it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Integer(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
        }
    }

    /// Bytes of payload (text or blob length), for limit checks.
    pub fn payload_len(&self) -> usize {
        match self {
            Value::Text(t) => t.len(),
            Value::Blob(b) => b.len(),
            _ => 0,
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Integer(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Integer(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Real(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Integer(v.into())
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Blob(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        fn tagged<S: Serializer, V: Serialize + ?Sized>(
            s: S,
            tag: &str,
            v: &V,
        ) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry(tag, v)?;
            m.end()
        }
        match self {
            Value::Null => s.serialize_unit(),
            Value::Integer(i) if i.unsigned_abs() <= MAX_SAFE_INTEGER as u64 => s.serialize_i64(*i),
            Value::Integer(i) => tagged(s, "int", &i.to_string()),
            Value::Real(r) if r.is_finite() => s.serialize_f64(*r),
            Value::Real(r) if r.is_nan() => s.serialize_unit(),
            Value::Real(r) => tagged(s, "real", if *r > 0.0 { "Infinity" } else { "-Infinity" }),
            Value::Text(t) => s.serialize_str(t),
            Value::Blob(b) => tagged(s, "blob", &BASE64.encode(b)),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a SQL value: null, a number, a string, {\"int\": \"..\"}, {\"real\": ..} or {\"blob\": \"base64\"}",
        )
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Integer(v.into()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Integer(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Integer)
            .map_err(|_| E::custom(format!("integer {v} is out of the 64-bit signed range")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Real(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Text(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Some(tag) = map.next_key::<String>()? else {
            return Err(de::Error::custom("an empty object is not a SQL value"));
        };
        let value = match tag.as_str() {
            "int" => match map.next_value::<IntText>()? {
                IntText(i) => Value::Integer(i),
            },
            "real" => Value::Real(map.next_value::<RealText>()?.0),
            "blob" => {
                let text: String = map.next_value()?;
                Value::Blob(
                    BASE64
                        .decode(text.as_bytes())
                        .map_err(|e| de::Error::custom(format!("blob is not base64: {e}")))?,
                )
            }
            other => {
                return Err(de::Error::custom(format!(
                    "unknown value tag {other:?}; expected \"int\", \"real\" or \"blob\""
                )))
            }
        };
        if map.next_key::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("a tagged value has exactly one field"));
        }
        Ok(value)
    }
}

/// The payload of `{"int": ..}`: a decimal string (or a JSON integer).
struct IntText(i64);

impl<'de> Deserialize<'de> for IntText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal 64-bit integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntText, E> {
                Ok(IntText(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntText, E> {
                i64::try_from(v)
                    .map(IntText)
                    .map_err(|_| E::custom(format!("integer {v} out of range")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntText, E> {
                v.parse::<i64>()
                    .map(IntText)
                    .map_err(|_| E::custom(format!("{v:?} is not a 64-bit integer")))
            }
        }
        d.deserialize_any(V)
    }
}

/// The payload of `{"real": ..}`: a number or "Infinity"/"-Infinity".
struct RealText(f64);

impl<'de> Deserialize<'de> for RealText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RealText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, \"Infinity\" or \"-Infinity\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RealText, E> {
                Ok(RealText(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RealText, E> {
                Ok(RealText(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RealText, E> {
                Ok(RealText(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RealText, E> {
                match v {
                    "Infinity" => Ok(RealText(f64::INFINITY)),
                    "-Infinity" => Ok(RealText(f64::NEG_INFINITY)),
                    _ => Err(E::custom(format!("{v:?} is not a real number"))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// A 64-bit integer field outside a value (`last_insert_rowid`, LSNs):
/// a JSON number when exact in JavaScript, a decimal string otherwise.
pub mod i64_exact {
    use super::*;

    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        if v.unsigned_abs() <= MAX_SAFE_INTEGER as u64 {
            s.serialize_i64(*v)
        } else {
            s.serialize_str(&v.to_string())
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        Ok(IntText::deserialize(d)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &Value) -> String {
        serde_json::to_string(v).unwrap()
    }
    fn dec(s: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn encodings_are_exact_and_documented() {
        let cases = [
            (Value::Null, "null"),
            (Value::Integer(12), "12"),
            (Value::Integer(MAX_SAFE_INTEGER), "9007199254740991"),
            (
                Value::Integer(-MAX_SAFE_INTEGER - 1),
                r#"{"int":"-9007199254740992"}"#,
            ),
            (
                Value::Integer(i64::MIN),
                r#"{"int":"-9223372036854775808"}"#,
            ),
            (Value::Integer(i64::MAX), r#"{"int":"9223372036854775807"}"#),
            (Value::Real(1.0), "1.0"),
            (Value::Real(-0.5), "-0.5"),
            (Value::Real(1e300), "1e+300"),
            (Value::Real(f64::INFINITY), r#"{"real":"Infinity"}"#),
            (Value::Real(f64::NEG_INFINITY), r#"{"real":"-Infinity"}"#),
            (Value::Text("a\"b".into()), r#""a\"b""#),
            (Value::Blob(vec![0, 1, 255]), r#"{"blob":"AAH/"}"#),
        ];
        for (v, json) in cases {
            assert_eq!(enc(&v), json, "{v:?}");
            let back = dec(json).unwrap();
            match (&v, &back) {
                (Value::Real(a), Value::Real(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                _ => assert_eq!(back, v),
            }
        }
    }

    #[test]
    fn lenient_inputs_decode() {
        assert_eq!(dec("true").unwrap(), Value::Integer(1));
        assert_eq!(dec(r#"{"int":5}"#).unwrap(), Value::Integer(5));
        assert_eq!(dec(r#"{"real":2}"#).unwrap(), Value::Real(2.0));
        assert_eq!(dec("-0.0").unwrap(), Value::Real(-0.0));
    }

    #[test]
    fn bad_values_are_refused_with_reasons() {
        for (json, why) in [
            ("[1]", "SQL value"),
            ("{}", "empty object"),
            (r#"{"int":"1.5"}"#, "not a 64-bit integer"),
            (r#"{"int":"99999999999999999999"}"#, "not a 64-bit integer"),
            ("18446744073709551615", "out of the 64-bit"),
            (r#"{"blob":"***"}"#, "not base64"),
            (r#"{"date":"x"}"#, "unknown value tag"),
            (r#"{"int":"1","real":2}"#, "exactly one field"),
            (r#"{"real":"NaN"}"#, "not a real"),
        ] {
            let e = dec(json).unwrap_err().to_string();
            assert!(e.contains(why), "{json}: {e}");
        }
    }

    #[test]
    fn nan_encodes_as_null_like_sqlite() {
        assert_eq!(enc(&Value::Real(f64::NAN)), "null");
    }

    #[test]
    fn exact_i64_fields() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct F {
            #[serde(with = "i64_exact")]
            n: i64,
        }
        for (n, json) in [
            (7, r#"{"n":7}"#),
            (i64::MAX, r#"{"n":"9223372036854775807"}"#),
        ] {
            assert_eq!(serde_json::to_string(&F { n }).unwrap(), json);
            assert_eq!(serde_json::from_str::<F>(json).unwrap(), F { n });
        }
    }
}
