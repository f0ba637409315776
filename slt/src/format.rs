//! Turning engine values into the strings sqllogictest compares.
//!
//! A query record names one type letter per column; the letter, not the
//! value's own type, decides how the value prints. The rules are those of
//! SQLite's reference driver (`slt_sqlite.c`), because the expected
//! results were generated with it:
//!
//! | letter | printed as                                   | SQLite call                 |
//! |--------|----------------------------------------------|-----------------------------|
//! | `I`    | `%d` of the value as a 32-bit C `int`        | `sqlite3_column_int`        |
//! | `R`    | `%.3f` of the value as a double              | `sqlite3_column_double`     |
//! | `T`    | the value as text, `(empty)` if empty, bytes outside 0x20..=0x7e as `@` | `sqlite3_column_text` |
//! | any    | `NULL` for NULL                              |                             |
//!
//! `I` goes through a C `int`: the 64-bit integer is truncated to its low
//! 32 bits, exactly as the reference driver did when it produced the
//! corpus. A REAL is first truncated toward zero (saturating), text and
//! blobs are read like `CAST(x AS INTEGER)`. Text is handled as bytes, and
//! like a C string it ends at the first NUL byte.
//!
//! After formatting, the sort mode reorders the strings (byte order, as
//! `strcmp`), and results above the hash threshold are compared by the MD5
//! of every value followed by `"\n"`.

use crate::engine::Value;
use crate::md5::Md5;
use crate::sqlnum;

/// A column's type letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// `I`: integer.
    Integer,
    /// `R`: real, three decimals.
    Real,
    /// `T`: text.
    Text,
}

impl ColumnType {
    /// The type for a letter of a query's type string.
    pub fn from_letter(letter: char) -> Option<ColumnType> {
        match letter {
            'I' => Some(ColumnType::Integer),
            'R' => Some(ColumnType::Real),
            'T' => Some(ColumnType::Text),
            _ => None,
        }
    }

    /// The letter as written in test files.
    pub fn letter(self) -> char {
        match self {
            ColumnType::Integer => 'I',
            ColumnType::Real => 'R',
            ColumnType::Text => 'T',
        }
    }
}

/// How a query's formatted values are ordered before comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortMode {
    /// Keep the engine's order.
    NoSort,
    /// Sort rows, comparing column by column.
    RowSort,
    /// Sort all values independently, ignoring rows.
    ValueSort,
}

impl SortMode {
    /// The mode for its name in a query line.
    pub fn from_name(name: &str) -> Option<SortMode> {
        match name {
            "nosort" => Some(SortMode::NoSort),
            "rowsort" => Some(SortMode::RowSort),
            "valuesort" => Some(SortMode::ValueSort),
            _ => None,
        }
    }
}

/// Formats one value for a column of type `ty`.
pub fn format_value(value: &Value, ty: ColumnType) -> String {
    match (value, ty) {
        (Value::Null, _) => "NULL".to_string(),
        (Value::Integer(i), ColumnType::Integer) => c_int(*i).to_string(),
        (Value::Real(r), ColumnType::Integer) => c_int(sqlnum::real_to_i64(*r)).to_string(),
        (Value::Text(s), ColumnType::Integer) => {
            c_int(sqlnum::text_to_i64(s.as_bytes())).to_string()
        }
        (Value::Blob(b), ColumnType::Integer) => c_int(sqlnum::text_to_i64(b)).to_string(),
        (Value::Integer(i), ColumnType::Real) => sqlnum::format_real_fixed3(*i as f64),
        (Value::Real(r), ColumnType::Real) => sqlnum::format_real_fixed3(*r),
        (Value::Text(s), ColumnType::Real) => {
            sqlnum::format_real_fixed3(sqlnum::text_to_f64(s.as_bytes()))
        }
        (Value::Blob(b), ColumnType::Real) => sqlnum::format_real_fixed3(sqlnum::text_to_f64(b)),
        (Value::Integer(i), ColumnType::Text) => i.to_string(),
        (Value::Real(r), ColumnType::Text) => printable(sqlnum::format_real_text(*r).as_bytes()),
        (Value::Text(s), ColumnType::Text) => printable(s.as_bytes()),
        (Value::Blob(b), ColumnType::Text) => printable(b),
    }
}

/// The low 32 bits as a C `int`, what `sqlite3_column_int` returns.
fn c_int(value: i64) -> i32 {
    value as i32
}

/// Text as the reference driver prints it: up to the first NUL byte (a C
/// string), `(empty)` if nothing is left, and each byte outside the
/// printable ASCII range replaced by `@` (so a multi-byte UTF-8 character
/// becomes several `@`).
fn printable(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let bytes = &bytes[..end];
    if bytes.is_empty() {
        return "(empty)".to_string();
    }
    bytes
        .iter()
        .map(|&b| {
            if (0x20..=0x7e).contains(&b) {
                b as char
            } else {
                '@'
            }
        })
        .collect()
}

/// Formats a whole result row-major into one flat list, `types.len()`
/// values per row. The caller has checked that every row has that many
/// values.
pub fn format_rows(rows: &[Vec<Value>], types: &[ColumnType]) -> Vec<String> {
    let mut out = Vec::with_capacity(rows.len() * types.len());
    for row in rows {
        for (value, &ty) in row.iter().zip(types) {
            out.push(format_value(value, ty));
        }
    }
    out
}

/// Applies a sort mode to a flat, row-major list of `columns` values per
/// row. Rows compare column by column in byte order, like the reference
/// driver's `strcmp`-based `qsort`.
pub fn sort_values(values: &mut Vec<String>, columns: usize, mode: SortMode) {
    match mode {
        SortMode::NoSort => {}
        SortMode::ValueSort => values.sort_unstable(),
        SortMode::RowSort => {
            if columns <= 1 {
                values.sort_unstable();
                return;
            }
            let mut rows: Vec<&[String]> = values.chunks(columns).collect();
            rows.sort_unstable();
            let sorted: Vec<String> = rows.into_iter().flatten().cloned().collect();
            *values = sorted;
        }
    }
}

/// The MD5 of every value followed by `"\n"`, as 32 hex digits.
pub fn hash_values(values: &[String]) -> String {
    let mut hasher = Md5::new();
    for value in values {
        hasher.update(value.as_bytes());
        hasher.update(b"\n");
    }
    hasher.finish_hex()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColumnType::{Integer as I, Real as R, Text as T};

    fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    #[test]
    fn null_prints_null_for_every_letter() {
        for ty in [I, R, T] {
            assert_eq!(format_value(&Value::Null, ty), "NULL");
        }
    }

    #[test]
    fn integer_letter_casts_like_sqlite_column_int() {
        assert_eq!(format_value(&Value::Integer(42), I), "42");
        assert_eq!(format_value(&Value::Integer(-7), I), "-7");
        assert_eq!(format_value(&Value::Real(2.99), I), "2");
        assert_eq!(format_value(&Value::Real(-2.99), I), "-2");
        assert_eq!(format_value(&text("17abc"), I), "17");
        assert_eq!(format_value(&text(" -3"), I), "-3");
        assert_eq!(format_value(&text("abc"), I), "0");
        assert_eq!(format_value(&text("4.9"), I), "4");
        assert_eq!(format_value(&Value::Blob(b"12".to_vec()), I), "12");
        // A C int keeps the low 32 bits.
        assert_eq!(
            format_value(&Value::Integer(2_147_483_647), I),
            "2147483647"
        );
        assert_eq!(
            format_value(&Value::Integer(2_147_483_648), I),
            "-2147483648"
        );
        assert_eq!(format_value(&Value::Integer(4_294_967_297), I), "1");
        assert_eq!(format_value(&Value::Real(1e30), I), "-1");
    }

    #[test]
    fn real_letter_prints_three_decimals() {
        assert_eq!(format_value(&Value::Real(1.5), R), "1.500");
        assert_eq!(format_value(&Value::Integer(3), R), "3.000");
        assert_eq!(format_value(&Value::Integer(-3), R), "-3.000");
        assert_eq!(format_value(&Value::Real(2.0 / 3.0), R), "0.667");
        assert_eq!(format_value(&Value::Real(0.0005), R), "0.001");
        assert_eq!(format_value(&Value::Real(-0.0004), R), "-0.000");
        assert_eq!(format_value(&text("12.34567"), R), "12.346");
        assert_eq!(format_value(&text("x"), R), "0.000");
    }

    #[test]
    fn text_letter_prints_sqlite_text() {
        assert_eq!(format_value(&text("hello"), T), "hello");
        assert_eq!(format_value(&Value::Integer(-12), T), "-12");
        assert_eq!(format_value(&Value::Real(1.0), T), "1.0");
        assert_eq!(format_value(&Value::Real(0.5), T), "0.5");
        assert_eq!(format_value(&Value::Real(1e100), T), "1.0e+100");
        assert_eq!(format_value(&Value::Blob(b"ab".to_vec()), T), "ab");
    }

    #[test]
    fn empty_text_prints_empty_marker() {
        assert_eq!(format_value(&text(""), T), "(empty)");
        assert_eq!(format_value(&Value::Blob(Vec::new()), T), "(empty)");
        // A leading NUL ends the C string at once.
        assert_eq!(format_value(&Value::Blob(vec![0, b'a']), T), "(empty)");
    }

    #[test]
    fn unprintable_bytes_print_as_at_sign() {
        assert_eq!(format_value(&text("a\tb\nc"), T), "a@b@c");
        assert_eq!(format_value(&text("x\u{7f}"), T), "x@");
        // Two UTF-8 bytes, two at-signs.
        assert_eq!(format_value(&text("caf\u{e9}"), T), "caf@@");
        assert_eq!(format_value(&text(" ~"), T), " ~");
        assert_eq!(
            format_value(&Value::Blob(vec![b'a', 0xff, 0, b'b']), T),
            "a@"
        );
    }

    #[test]
    fn rowsort_sorts_whole_rows_bytewise() {
        let mut values: Vec<String> = ["b", "1", "a", "9", "a", "10"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        sort_values(&mut values, 2, SortMode::RowSort);
        assert_eq!(values, ["a", "10", "a", "9", "b", "1"]);
    }

    #[test]
    fn valuesort_and_nosort() {
        let original: Vec<String> = ["3", "1", "20", "2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut values = original.clone();
        sort_values(&mut values, 2, SortMode::NoSort);
        assert_eq!(values, original);
        sort_values(&mut values, 2, SortMode::ValueSort);
        assert_eq!(values, ["1", "2", "20", "3"]);
    }

    #[test]
    fn hash_covers_values_with_newlines() {
        let values: Vec<String> = (1..=3).map(|i| i.to_string()).collect();
        assert_eq!(hash_values(&values), crate::md5::md5_hex(b"1\n2\n3\n"));
        assert_eq!(hash_values(&[]), crate::md5::md5_hex(b""));
    }

    #[test]
    fn letters_and_sort_names_round_trip() {
        for letter in ['I', 'R', 'T'] {
            assert_eq!(
                ColumnType::from_letter(letter).map(ColumnType::letter),
                Some(letter)
            );
        }
        assert_eq!(ColumnType::from_letter('X'), None);
        assert_eq!(SortMode::from_name("rowsort"), Some(SortMode::RowSort));
        assert_eq!(SortMode::from_name("sorted"), None);
    }
}
