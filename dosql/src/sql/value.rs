//! SQL values: SQLite's five storage classes.
//!
//! Invariant: an `Integer` is always exact (never silently widened to a
//! float); a `Real` is never NaN (SQLite turns NaN into NULL).

/// One SQL value.
#[derive(Clone, Debug)]
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_match_sqlite_typeof() {
        assert_eq!(Value::Null.type_name(), "null");
        assert_eq!(Value::Integer(1).type_name(), "integer");
        assert_eq!(Value::Real(1.5).type_name(), "real");
        assert_eq!(Value::Text("a".into()).type_name(), "text");
        assert_eq!(Value::Blob(vec![1]).type_name(), "blob");
        assert!(Value::Null.is_null());
    }
}
