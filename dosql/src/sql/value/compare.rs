//! The total order on values (`sqlite3MemCompare`) and the built-in
//! collations.
//!
//! ```text
//!   NULL  <  INTEGER/REAL  <  TEXT  <  BLOB
//!            (numerically,     (by         (memcmp, then
//!             exact across      collation)  length)
//!             i64 and f64)
//! ```
//!
//! Integers and reals compare exactly: 2^53 + 1 is greater than the REAL
//! 2^53, with no rounding through f64. Reals are never NaN (a `Value`
//! invariant), so the order is total.

use std::cmp::Ordering;

use super::Value;

/// A text collating sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collation {
    /// Byte-wise (memcmp of UTF-8).
    Binary,
    /// ASCII letters fold to lower case; other characters compare by byte.
    NoCase,
    /// Like BINARY, ignoring trailing spaces.
    RTrim,
}

impl Collation {
    /// Looks up a collation by its case-insensitive SQL name.
    pub fn from_name(name: &str) -> Option<Collation> {
        if name.eq_ignore_ascii_case("binary") {
            Some(Collation::Binary)
        } else if name.eq_ignore_ascii_case("nocase") {
            Some(Collation::NoCase)
        } else if name.eq_ignore_ascii_case("rtrim") {
            Some(Collation::RTrim)
        } else {
            None
        }
    }

    /// Compares two texts under this collation.
    pub fn compare_text(self, a: &str, b: &str) -> Ordering {
        match self {
            Collation::Binary => a.as_bytes().cmp(b.as_bytes()),
            Collation::NoCase => {
                let x = a.bytes().map(|c| c.to_ascii_lowercase());
                let y = b.bytes().map(|c| c.to_ascii_lowercase());
                x.cmp(y)
            }
            Collation::RTrim => a
                .trim_end_matches(' ')
                .as_bytes()
                .cmp(b.trim_end_matches(' ').as_bytes()),
        }
    }
}

/// Compares an integer with a real exactly.
pub(crate) fn int_real_cmp(i: i64, r: f64) -> Ordering {
    if r < -9223372036854775808.0 {
        return Ordering::Greater;
    }
    if r >= 9223372036854775808.0 {
        return Ordering::Less;
    }
    let y = r as i64;
    match i.cmp(&y) {
        Ordering::Equal => {}
        o => return o,
    }
    // Same integer part: the fraction of r decides.
    (i as f64).partial_cmp(&r).unwrap_or(Ordering::Equal)
}

fn class(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Integer(_) | Value::Real(_) => 1,
        Value::Text(_) => 2,
        Value::Blob(_) => 3,
    }
}

/// The total order used by ORDER BY, GROUP BY, DISTINCT, min() and max().
pub fn compare(a: &Value, b: &Value, collation: Collation) -> Ordering {
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Real(x), Value::Real(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Integer(x), Value::Real(y)) => int_real_cmp(*x, *y),
        (Value::Real(x), Value::Integer(y)) => int_real_cmp(*y, *x).reverse(),
        (Value::Text(x), Value::Text(y)) => collation.compare_text(x, y),
        (Value::Blob(x), Value::Blob(y)) => x.cmp(y),
        _ => class(a).cmp(&class(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_classes_order() {
        let vals = [
            Value::Null,
            Value::Integer(-5),
            Value::Real(2.5),
            Value::Integer(3),
            Value::Text("a".into()),
            Value::Blob(vec![0]),
        ];
        for w in vals.windows(2) {
            assert_eq!(
                compare(&w[0], &w[1], Collation::Binary),
                Ordering::Less,
                "{w:?}"
            );
        }
        assert_eq!(
            compare(&Value::Null, &Value::Null, Collation::Binary),
            Ordering::Equal
        );
    }

    #[test]
    fn integers_and_reals_compare_exactly() {
        let big = 1i64 << 53;
        assert_eq!(
            compare(
                &Value::Integer(big + 1),
                &Value::Real(big as f64),
                Collation::Binary
            ),
            Ordering::Greater
        );
        assert_eq!(
            compare(&Value::Integer(3), &Value::Real(3.0), Collation::Binary),
            Ordering::Equal
        );
        assert_eq!(
            compare(&Value::Integer(-3), &Value::Real(-2.5), Collation::Binary),
            Ordering::Less
        );
        assert_eq!(
            compare(
                &Value::Integer(i64::MAX),
                &Value::Real(9223372036854775808.0),
                Collation::Binary
            ),
            Ordering::Less
        );
        assert_eq!(
            compare(&Value::Real(-0.0), &Value::Integer(0), Collation::Binary),
            Ordering::Equal
        );
    }

    #[test]
    fn collations() {
        let t = |s: &str| Value::Text(s.into());
        assert_eq!(compare(&t("B"), &t("a"), Collation::Binary), Ordering::Less);
        assert_eq!(
            compare(&t("B"), &t("a"), Collation::NoCase),
            Ordering::Greater
        );
        assert_eq!(
            compare(&t("abc"), &t("ABC"), Collation::NoCase),
            Ordering::Equal
        );
        assert_eq!(
            compare(&t("a  "), &t("a"), Collation::RTrim),
            Ordering::Equal
        );
        assert_eq!(
            compare(&t("a  "), &t("a"), Collation::Binary),
            Ordering::Greater
        );
        assert_eq!(Collation::from_name("NoCase"), Some(Collation::NoCase));
        assert_eq!(Collation::from_name("x"), None);
    }
}
