//! SQL values: SQLite's five storage classes and their conversions.
//!
//! Invariant: an `Integer` is always exact (never silently widened to a
//! float); a `Real` is never NaN (SQLite turns NaN into NULL).
//!
//! Every conversion follows SQLite's C code, not its documentation, since
//! the two differ at the edges (see `num` for the text parsers):
//!
//! ```text
//!   text -> INTEGER   longest decimal prefix, saturating ('12abc' -> 12)
//!   text -> REAL      longest real prefix ('1e5x' -> 100000.0)
//!   text -> NUMERIC   INTEGER if it is (or rounds exactly to) one, else REAL
//!   REAL -> TEXT      printf("%!.15g"): 1.0 -> "1.0", 1e20 -> "1.0e+20"
//!   BLOB -> TEXT      the bytes as UTF-8 (invalid sequences -> U+FFFD)
//! ```
//!
//! Submodules: `num` (parsing and digit generation), `ext` (the 80-bit
//! long double arithmetic SQLite uses for both), `ops` (arithmetic and
//! operators), `compare` (collations and the total order), `pattern` (LIKE
//! and GLOB).
//!
//! Deviation: TEXT is a Rust `String`, so bytes that are not UTF-8 (a BLOB
//! rendered as text, `char()` of a surrogate) become U+FFFD where SQLite
//! would keep the raw bytes.

mod compare;
mod ext;
pub(crate) mod num;
mod ops;
mod pattern;

pub use compare::{compare, Collation};
pub use ops::{add, bit_and, bit_not, bit_or, concat, div, mul, neg, rem, shl, shr, sub};
pub use pattern::{glob, like};

use num::{atof, atoi64, double_to_i64, real_same_as_int, real_to_i64};

/// One SQL value.
#[derive(Debug)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit signed integer, exact.
    Integer(i64),
    /// An IEEE 754 double, never NaN.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Raw bytes.
    Blob(Vec<u8>),
}

impl Clone for Value {
    fn clone(&self) -> Value {
        match self {
            Value::Null => Value::Null,
            Value::Integer(i) => Value::Integer(*i),
            Value::Real(f) => Value::Real(*f),
            Value::Text(s) => Value::Text(s.clone()),
            Value::Blob(b) => Value::Blob(b.clone()),
        }
    }

    /// Reuses the text or blob buffer already here: the executor copies
    /// values into rows it keeps across many input rows (a join's row, a
    /// group's last row), which then stop allocating per row.
    fn clone_from(&mut self, source: &Value) {
        match (self, source) {
            (Value::Text(d), Value::Text(s)) => d.clone_from(s),
            (Value::Blob(d), Value::Blob(s)) => d.clone_from(s),
            (d, s) => *d = s.clone(),
        }
    }
}

impl Value {
    /// The name `typeof()` returns for this value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Integer(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
        }
    }

    /// True for SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// SQLite's boolean test (WHERE, CASE WHEN, AND/OR): NULL is unknown,
    /// numbers are true when non-zero, text and blobs are converted to a
    /// REAL by prefix first ('1abc' is true, 'abc' and '0.0' are false).
    pub fn truthy(&self) -> Option<bool> {
        match self {
            Value::Null => None,
            Value::Integer(i) => Some(*i != 0),
            Value::Real(r) => Some(*r != 0.0),
            Value::Text(t) => Some(atof(t.as_bytes()).0 != 0.0),
            Value::Blob(b) => Some(atof(b).0 != 0.0),
        }
    }

    /// The value rendered as TEXT the way SQLite does; None for NULL.
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Integer(i) => Some(i.to_string()),
            Value::Real(r) => Some(num::real_to_text(*r)),
            Value::Text(t) => Some(t.clone()),
            Value::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
        }
    }

    /// CAST(x AS INTEGER): reals truncate toward zero and saturate, text
    /// and blobs take their longest integer prefix (0 if none); None for
    /// NULL.
    pub fn to_integer(&self) -> Option<i64> {
        match self {
            Value::Null => None,
            Value::Integer(i) => Some(*i),
            Value::Real(r) => Some(double_to_i64(*r)),
            Value::Text(t) => Some(atoi64(t.as_bytes()).0),
            Value::Blob(b) => Some(atoi64(b).0),
        }
    }

    /// CAST(x AS REAL): text and blobs take their longest real prefix (0.0
    /// if none); None for NULL.
    pub fn to_real(&self) -> Option<f64> {
        match self {
            Value::Null => None,
            Value::Integer(i) => Some(*i as f64),
            Value::Real(r) => Some(*r),
            Value::Text(t) => Some(atof(t.as_bytes()).0),
            Value::Blob(b) => Some(atof(b).0),
        }
    }

    /// CAST(x AS NUMERIC) (`sqlite3VdbeMemNumerify`): numbers and NULL are
    /// unchanged; text and blobs become an INTEGER when their prefix is an
    /// integer that fits, or a REAL that is exactly a small integer, and a
    /// REAL otherwise.
    pub fn to_numeric(&self) -> Value {
        match self {
            Value::Text(t) => numerify(t.as_bytes()),
            Value::Blob(b) => numerify(b),
            other => other.clone(),
        }
    }
}

impl PartialEq for Value {
    /// Structural equality (same storage class and same value; reals by
    /// `==`). SQL comparison with affinities and collations is [`compare`].
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Integer(a), Value::Integer(b)) => a == b,
            (Value::Real(a), Value::Real(b)) => a == b,
            (Value::Text(a), Value::Text(b)) => a == b,
            (Value::Blob(a), Value::Blob(b)) => a == b,
            _ => false,
        }
    }
}

fn numerify(z: &[u8]) -> Value {
    let (r, rc) = atof(z);
    if rc == 0 || rc == 1 {
        let (ix, irc) = atoi64(z);
        if irc <= 1 {
            return Value::Integer(ix);
        }
    }
    let ix = real_to_i64(r);
    if real_same_as_int(r, ix) {
        Value::Integer(ix)
    } else {
        Value::Real(r)
    }
}

/// The numeric value of a non-NULL operand for arithmetic
/// (`numericType`/`computeNumericType`): INTEGER when the text is an integer
/// that fits, else REAL.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Num {
    Int(i64),
    Real(f64),
}

impl Num {
    pub(crate) fn of(v: &Value) -> Option<Num> {
        match v {
            Value::Null => None,
            Value::Integer(i) => Some(Num::Int(*i)),
            Value::Real(r) => Some(Num::Real(*r)),
            Value::Text(t) => Some(Num::of_text(t.as_bytes())),
            Value::Blob(b) => Some(Num::of_text(b)),
        }
    }

    fn of_text(z: &[u8]) -> Num {
        let (r, rc) = atof(z);
        if rc <= 0 {
            if rc == 0 {
                let (ix, irc) = atoi64(z);
                if irc <= 1 {
                    return Num::Int(ix);
                }
            }
            return Num::Real(r);
        }
        if rc == 1 {
            let (ix, irc) = atoi64(z);
            if irc == 0 {
                return Num::Int(ix);
            }
        }
        Num::Real(r)
    }

    pub(crate) fn as_real(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Real(r) => r,
        }
    }
}

/// A column's type affinity: the storage class it prefers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Affinity {
    /// Like NUMERIC, but reals that are exact integers become INTEGER.
    Integer,
    /// Numbers are stored as REAL.
    Real,
    /// Text that looks like a number becomes INTEGER or REAL.
    Numeric,
    /// Numbers are stored as their text rendering.
    Text,
    /// No conversion ("BLOB" or no declared type).
    Blob,
}

/// The affinity of a declared column type, by SQLite's five ordered rules
/// (section 3.1 of "Datatypes In SQLite"): contains INT -> INTEGER; CHAR,
/// CLOB or TEXT -> TEXT; BLOB or empty -> BLOB; REAL, FLOA or DOUB -> REAL;
/// anything else -> NUMERIC. Matching is case-insensitive on substrings, so
/// "POINT" is INTEGER and "STRING" is NUMERIC, exactly like SQLite.
pub fn affinity_of_type(declared: &str) -> Affinity {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        Affinity::Integer
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        Affinity::Text
    } else if t.contains("BLOB") || t.trim().is_empty() {
        Affinity::Blob
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        Affinity::Real
    } else {
        Affinity::Numeric
    }
}

/// Applies a column affinity to a value being stored or compared
/// (`applyAffinity`). Text converts to a number only when the *whole*
/// text (surrounding spaces allowed) is a number; blobs never convert.
/// REAL affinity yields REAL for every number, as a REAL column reads back.
pub fn apply_affinity(value: Value, affinity: Affinity) -> Value {
    match affinity {
        Affinity::Blob => value,
        Affinity::Text => match value {
            Value::Integer(_) | Value::Real(_) => Value::Text(value.to_text().expect("non-NULL")),
            other => other,
        },
        Affinity::Integer | Affinity::Numeric | Affinity::Real => {
            let v = match value {
                Value::Text(t) => match text_numeric_affinity(t.as_bytes(), true) {
                    Some(n) => n,
                    None => Value::Text(t),
                },
                Value::Real(r) if affinity != Affinity::Real => integer_affinity(r),
                other => other,
            };
            match (affinity, v) {
                (Affinity::Real, Value::Integer(i)) => Value::Real(i as f64),
                (_, v) => v,
            }
        }
    }
}

/// `sqlite3_value_numeric_type`: text that is wholly a number becomes that
/// number (INTEGER if it is an integer, else REAL); everything else,
/// including blobs and reals that are integral, is unchanged.
pub(crate) fn numeric_value(v: &Value) -> Value {
    match v {
        Value::Text(t) => text_numeric_affinity(t.as_bytes(), false).unwrap_or_else(|| v.clone()),
        other => other.clone(),
    }
}

/// `applyNumericAffinity(pRec, try_for_int)`: a whole-number text becomes a
/// number; with `try_for_int` an integral REAL result becomes INTEGER.
fn text_numeric_affinity(z: &[u8], try_for_int: bool) -> Option<Value> {
    let (r, rc) = atof(z);
    if rc <= 0 {
        return None;
    }
    if rc == 1 {
        let ix = real_to_i64(r);
        if real_same_as_int(r, ix) {
            return Some(Value::Integer(ix));
        }
        let (ix, irc) = atoi64(z);
        if irc == 0 {
            return Some(Value::Integer(ix));
        }
    }
    Some(if try_for_int {
        integer_affinity(r)
    } else {
        Value::Real(r)
    })
}

/// `sqlite3VdbeIntegerAffinity`: a REAL that is exactly an integer strictly
/// inside the i64 range becomes INTEGER.
fn integer_affinity(r: f64) -> Value {
    let ix = double_to_i64(r);
    if r == ix as f64 && ix > i64::MIN && ix < i64::MAX {
        Value::Integer(ix)
    } else {
        Value::Real(r)
    }
}

/// CAST(value AS type_name). The target is chosen by [`affinity_of_type`],
/// except that a type with no INT/TEXT/REAL/BLOB hint casts as NUMERIC and
/// an explicit BLOB (or empty) type reinterprets text bytes as a blob.
pub fn cast(value: &Value, type_name: &str) -> Value {
    if value.is_null() {
        return Value::Null;
    }
    match affinity_of_type(type_name) {
        Affinity::Integer => Value::Integer(value.to_integer().expect("non-NULL")),
        Affinity::Real => Value::Real(value.to_real().expect("non-NULL")),
        Affinity::Numeric => value.to_numeric(),
        Affinity::Text => Value::Text(value.to_text().expect("non-NULL")),
        Affinity::Blob => match value {
            Value::Blob(b) => Value::Blob(b.clone()),
            other => Value::Blob(other.to_text().expect("non-NULL").into_bytes()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn type_names_match_sqlite_typeof() {
        assert_eq!(Value::Null.type_name(), "null");
        assert_eq!(Value::Integer(1).type_name(), "integer");
        assert_eq!(Value::Real(1.5).type_name(), "real");
        assert_eq!(Value::Text("a".into()).type_name(), "text");
        assert_eq!(Value::Blob(vec![1]).type_name(), "blob");
        assert!(Value::Null.is_null());
    }

    #[test]
    fn truthiness() {
        assert_eq!(Value::Null.truthy(), None);
        assert_eq!(Value::Integer(0).truthy(), Some(false));
        assert_eq!(Value::Real(0.5).truthy(), Some(true));
        assert_eq!(t("1abc").truthy(), Some(true));
        assert_eq!(t("abc").truthy(), Some(false));
        assert_eq!(t("0.0").truthy(), Some(false));
        assert_eq!(t(" .5").truthy(), Some(true));
    }

    #[test]
    fn reals_render_like_sqlite() {
        let r = |x: f64| Value::Real(x).to_text().unwrap();
        assert_eq!(r(1.0), "1.0");
        assert_eq!(r(0.1), "0.1");
        assert_eq!(r(1e20), "1.0e+20");
        assert_eq!(r(1e15), "1.0e+15");
        assert_eq!(r(1e14), "100000000000000.0");
        assert_eq!(r(1e-7), "1.0e-07");
        assert_eq!(r(-0.0), "0.0");
        assert_eq!(r(123456789012345678.0), "1.23456789012346e+17");
        assert_eq!(r(f64::INFINITY), "Inf");
        assert_eq!(r(f64::NEG_INFINITY), "-Inf");
        assert_eq!(r(-2.5), "-2.5");
    }

    #[test]
    fn casts_of_tricky_text() {
        assert_eq!(cast(&t("  12abc"), "INTEGER"), Value::Integer(12));
        assert_eq!(cast(&t("1e5"), "INTEGER"), Value::Integer(1));
        assert_eq!(cast(&t("1e5"), "REAL"), Value::Real(100000.0));
        assert_eq!(cast(&t("1e5"), "NUMERIC"), Value::Integer(100000));
        assert_eq!(cast(&t("0x10"), "INTEGER"), Value::Integer(0));
        assert_eq!(cast(&t("-"), "NUMERIC"), Value::Integer(0));
        assert_eq!(
            cast(&t("9223372036854775808"), "INTEGER"),
            Value::Integer(i64::MAX)
        );
        assert_eq!(
            cast(&t("9223372036854775808"), "NUMERIC"),
            Value::Real(9223372036854775808.0)
        );
        assert_eq!(cast(&t("1.5abc"), "NUMERIC"), Value::Real(1.5));
        assert_eq!(cast(&Value::Real(-1.9), "INTEGER"), Value::Integer(-1));
        assert_eq!(
            cast(&Value::Real(1e300), "INTEGER"),
            Value::Integer(i64::MAX)
        );
        assert_eq!(cast(&Value::Integer(5), "TEXT"), t("5"));
        assert_eq!(cast(&t("ab"), "BLOB"), Value::Blob(b"ab".to_vec()));
        assert_eq!(cast(&Value::Null, "INTEGER"), Value::Null);
    }

    #[test]
    fn affinities() {
        assert_eq!(affinity_of_type("BIGINT"), Affinity::Integer);
        assert_eq!(affinity_of_type("varchar(10)"), Affinity::Text);
        assert_eq!(affinity_of_type(""), Affinity::Blob);
        assert_eq!(affinity_of_type("DOUBLE PRECISION"), Affinity::Real);
        assert_eq!(affinity_of_type("DECIMAL(10,5)"), Affinity::Numeric);
        assert_eq!(affinity_of_type("FLOATING POINT"), Affinity::Integer);
        assert_eq!(
            apply_affinity(t(" 12 "), Affinity::Integer),
            Value::Integer(12)
        );
        assert_eq!(apply_affinity(t("12abc"), Affinity::Integer), t("12abc"));
        assert_eq!(
            apply_affinity(t("1e5"), Affinity::Numeric),
            Value::Integer(100000)
        );
        assert_eq!(
            apply_affinity(t("1.5"), Affinity::Numeric),
            Value::Real(1.5)
        );
        assert_eq!(
            apply_affinity(Value::Real(3.0), Affinity::Integer),
            Value::Integer(3)
        );
        assert_eq!(
            apply_affinity(Value::Integer(3), Affinity::Real),
            Value::Real(3.0)
        );
        assert_eq!(apply_affinity(t("3"), Affinity::Real), Value::Real(3.0));
        assert_eq!(apply_affinity(Value::Real(1.5), Affinity::Text), t("1.5"));
        assert_eq!(
            apply_affinity(Value::Blob(vec![0x31]), Affinity::Integer),
            Value::Blob(vec![0x31])
        );
        assert_eq!(apply_affinity(t("0x10"), Affinity::Numeric), t("0x10"));
    }
}
