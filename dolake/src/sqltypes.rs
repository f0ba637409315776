//! SQL (SQLite-dialect) column types to Iceberg types, value coercion, and
//! schema evolution from a table's SQL column list.
//!
//! Type mapping follows SQLite's affinity rules (section 3.1 of "Datatypes
//! In SQLite"), applied to the declared type in this order:
//!
//! ```text
//! contains "INT"                  -> INTEGER affinity -> long
//! contains "CHAR"/"CLOB"/"TEXT"   -> TEXT affinity    -> string
//! contains "BLOB"                 -> BLOB affinity    -> binary
//! no declared type                -> BLOB affinity    -> string (see below)
//! contains "REAL"/"FLOA"/"DOUB"   -> REAL affinity    -> double
//! anything else (NUMERIC, DECIMAL, BOOLEAN, DATE...) -> NUMERIC -> double
//! ```
//!
//! NUMERIC stores integers and reals; `double` holds both, exactly for every
//! integer up to 2^53. Untyped columns may hold anything; `string` is the one
//! type every value except non-UTF-8 blobs converts to losslessly and every
//! engine can display.
//!
//! Coercion ([`coerce`]) converts a value to the column type only when no
//! information is lost; otherwise the value becomes NULL and the commit
//! counts it (`dolake.coerced-nulls` in the snapshot summary). Identifier
//! (primary key) fields are required, so an unconvertible key is an error.
//!
//! Schema evolution ([`evolve`]) keeps field ids stable by column name,
//! follows renames the caller declares, gives added columns fresh ids above
//! `last-column-id`, and drops removed columns (their ids are never reused).

use shared_types::Value;

use crate::error::{Error, Result};
use crate::iceberg::{NestedField, PrimitiveType, Schema, Type};

/// One column of a SQL table, as the change stream describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlColumn {
    pub name: String,
    /// The declared type as written (`""` when none).
    pub declared_type: String,
    /// Part of the primary key. Rowid tables pass the rowid as a column
    /// (conventionally `_rowid`, `INTEGER`, primary key).
    pub primary_key: bool,
}

impl SqlColumn {
    pub fn new(name: &str, declared_type: &str, primary_key: bool) -> Self {
        SqlColumn {
            name: name.to_string(),
            declared_type: declared_type.to_string(),
            primary_key,
        }
    }
}

/// The Iceberg type for a declared SQL type (module doc table).
pub fn iceberg_type(declared: &str) -> PrimitiveType {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        PrimitiveType::Long
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        PrimitiveType::String
    } else if t.contains("BLOB") {
        PrimitiveType::Binary
    } else if t.trim().is_empty() {
        PrimitiveType::String
    } else {
        PrimitiveType::Double
    }
}

// 2^53: every integer of smaller magnitude is exactly a double.
const EXACT_DOUBLE: i64 = 1 << 53;

/// A value converted to a column type: `None` means it could not be
/// converted without loss (the caller writes NULL and counts it).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Long(i64),
    Double(f64),
    String(String),
    Binary(Vec<u8>),
}

/// Converts `v` to `ty` losslessly, or returns `None`.
pub fn coerce(v: &Value, ty: PrimitiveType) -> Option<Cell> {
    use PrimitiveType as P;
    Some(match (v, ty) {
        (Value::Null, _) => Cell::Null,
        (Value::Integer(i), P::Long) => Cell::Long(*i),
        (Value::Real(f), P::Long) => {
            // Exact integral reals within i64 range only.
            if f.fract() == 0.0 && *f >= -9.223_372_036_854_776e18 && *f < 9.223_372_036_854_776e18
            {
                Cell::Long(*f as i64)
            } else {
                return None;
            }
        }
        (Value::Integer(i), P::Double) if i.unsigned_abs() <= EXACT_DOUBLE as u64 => {
            Cell::Double(*i as f64)
        }
        (Value::Real(f), P::Double) => Cell::Double(*f),
        (Value::Text(s), P::String) => Cell::String(s.clone()),
        (Value::Integer(i), P::String) => Cell::String(i.to_string()),
        // Rust's shortest round-trip formatting: parsing it back gives the
        // same double, so nothing is lost.
        (Value::Real(f), P::String) => Cell::String(format!("{f:?}")),
        (Value::Blob(b), P::String) => Cell::String(String::from_utf8(b.clone()).ok()?),
        (Value::Blob(b), P::Binary) => Cell::Binary(b.clone()),
        (Value::Text(s), P::Binary) => Cell::Binary(s.as_bytes().to_vec()),
        _ => return None,
    })
}

/// Computes the next schema from the current one (if any) and the table's
/// SQL columns in order. `renames` lists `(old, new)` column names the caller
/// knows were renamed. Returns the schema (with `next_schema_id` when it
/// differs from `current`, else `current` unchanged) and the new
/// `last-column-id`.
pub fn evolve(
    current: Option<&Schema>,
    last_column_id: i32,
    columns: &[SqlColumn],
    renames: &[(String, String)],
    next_schema_id: i32,
) -> Result<(Schema, i32)> {
    if columns.is_empty() {
        return Err(Error::InvalidInput(
            "a table needs at least one column".into(),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in columns {
        if !seen.insert(c.name.to_ascii_lowercase()) {
            return Err(Error::InvalidInput(format!(
                "duplicate column {:?}",
                c.name
            )));
        }
    }
    for (old, new) in renames {
        if current.and_then(|s| s.field_by_name(old)).is_none() {
            return Err(Error::InvalidInput(format!(
                "renamed column {old:?} does not exist"
            )));
        }
        if !columns.iter().any(|c| &c.name == new) {
            return Err(Error::InvalidInput(format!(
                "rename target {new:?} is not a column"
            )));
        }
    }
    let mut last = last_column_id;
    let mut fields = Vec::with_capacity(columns.len());
    let mut identifiers = Vec::new();
    for c in columns {
        let old_name = renames
            .iter()
            .find(|(_, new)| *new == c.name)
            .map_or(c.name.as_str(), |(old, _)| old.as_str());
        let ty = iceberg_type(&c.declared_type);
        let existing = current.and_then(|s| s.field_by_name(old_name));
        let field = match existing {
            Some(f) => {
                if f.field_type != Type::Primitive(ty) {
                    return Err(Error::Unsupported(format!(
                        "column {:?} changes type from {:?} to {}",
                        c.name, f.field_type, ty
                    )));
                }
                NestedField {
                    name: c.name.clone(),
                    ..f.clone()
                }
            }
            None => {
                last += 1;
                // Only a new table's key may be required: Iceberg cannot add
                // a required column to existing data without a default.
                let required = current.is_none() && c.primary_key && identifier_type(ty);
                NestedField::new(last, &c.name, required, Type::Primitive(ty))
            }
        };
        if c.primary_key && field.required {
            identifiers.push(field.id);
        }
        fields.push(field);
    }
    let candidate = Schema::new(next_schema_id, fields, identifiers);
    match current {
        Some(cur) if cur.same_structure(&candidate) => Ok((cur.clone(), last_column_id)),
        _ => Ok((candidate, last)),
    }
}

// Iceberg identifier fields must be required primitives other than
// float/double.
fn identifier_type(ty: PrimitiveType) -> bool {
    !matches!(ty, PrimitiveType::Float | PrimitiveType::Double)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affinity_rules_pick_types() {
        use PrimitiveType as P;
        for (decl, ty) in [
            ("INTEGER", P::Long),
            ("bigint", P::Long),
            ("VARCHAR(20)", P::String),
            ("TEXT", P::String),
            ("CLOB", P::String),
            ("BLOB", P::Binary),
            ("", P::String),
            ("REAL", P::Double),
            ("DOUBLE PRECISION", P::Double),
            ("FLOAT", P::Double),
            ("NUMERIC", P::Double),
            ("DECIMAL(10,2)", P::Double),
            ("BOOLEAN", P::Double),
            ("POINT INT", P::Long),
        ] {
            assert_eq!(iceberg_type(decl), ty, "{decl}");
        }
    }

    #[test]
    fn coercion_is_lossless_or_none() {
        use PrimitiveType as P;
        assert_eq!(
            coerce(&Value::Integer(3), P::Double),
            Some(Cell::Double(3.0))
        );
        assert_eq!(coerce(&Value::Integer(i64::MAX), P::Double), None);
        assert_eq!(coerce(&Value::Real(4.0), P::Long), Some(Cell::Long(4)));
        assert_eq!(coerce(&Value::Real(4.5), P::Long), None);
        assert_eq!(coerce(&Value::Real(f64::NAN), P::Long), None);
        assert_eq!(coerce(&Value::Real(1e300), P::Long), None);
        assert_eq!(coerce(&Value::Text("abc".into()), P::Long), None);
        assert_eq!(
            coerce(&Value::Real(0.1), P::String),
            Some(Cell::String("0.1".into()))
        );
        assert_eq!(coerce(&Value::Blob(vec![0xff]), P::String), None);
        assert_eq!(
            coerce(&Value::Blob(b"hi".to_vec()), P::String),
            Some(Cell::String("hi".into()))
        );
        assert_eq!(coerce(&Value::Integer(1), P::Binary), None);
        assert_eq!(coerce(&Value::Null, P::Long), Some(Cell::Null));
    }

    fn cols(spec: &[(&str, &str, bool)]) -> Vec<SqlColumn> {
        spec.iter()
            .map(|(n, t, pk)| SqlColumn::new(n, t, *pk))
            .collect()
    }

    #[test]
    fn evolution_keeps_ids_and_never_reuses_them() {
        let (s0, last) = evolve(
            None,
            0,
            &cols(&[("id", "INTEGER", true), ("name", "TEXT", false)]),
            &[],
            0,
        )
        .unwrap();
        assert_eq!((s0.schema_id, last), (0, 2));
        assert_eq!(s0.identifier_field_ids, vec![1]);
        assert!(s0.fields[0].required && !s0.fields[1].required);
        // Same columns: same schema.
        let (same, l) = evolve(
            Some(&s0),
            last,
            &cols(&[("id", "INTEGER", true), ("name", "TEXT", false)]),
            &[],
            1,
        )
        .unwrap();
        assert_eq!((same.schema_id, l), (0, 2));
        // ADD COLUMN.
        let (s1, last) = evolve(
            Some(&s0),
            last,
            &cols(&[
                ("id", "INTEGER", true),
                ("name", "TEXT", false),
                ("score", "REAL", false),
            ]),
            &[],
            1,
        )
        .unwrap();
        assert_eq!((s1.schema_id, last, s1.fields[2].id), (1, 3, 3));
        // RENAME keeps the id; DROP removes; a re-added name gets a new id.
        let renames = [("name".to_string(), "full_name".to_string())];
        let (s2, last) = evolve(
            Some(&s1),
            last,
            &cols(&[("id", "INTEGER", true), ("full_name", "TEXT", false)]),
            &renames,
            2,
        )
        .unwrap();
        assert_eq!(s2.fields[1].id, 2);
        assert_eq!(s2.fields[1].name, "full_name");
        let (s3, last) = evolve(
            Some(&s2),
            last,
            &cols(&[
                ("id", "INTEGER", true),
                ("full_name", "TEXT", false),
                ("score", "REAL", false),
            ]),
            &[],
            3,
        )
        .unwrap();
        assert_eq!((s3.fields[2].id, last), (4, 4));
    }

    #[test]
    fn bad_evolutions_are_typed_errors() {
        let (s0, last) = evolve(None, 0, &cols(&[("id", "INTEGER", true)]), &[], 0).unwrap();
        assert!(matches!(
            evolve(Some(&s0), last, &[], &[], 1),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            evolve(Some(&s0), last, &cols(&[("id", "TEXT", true)]), &[], 1),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            evolve(
                None,
                0,
                &cols(&[("a", "", false), ("A", "", false)]),
                &[],
                0
            ),
            Err(Error::InvalidInput(_))
        ));
        let bad = [("nope".to_string(), "id".to_string())];
        assert!(matches!(
            evolve(Some(&s0), last, &cols(&[("id", "INTEGER", true)]), &bad, 1),
            Err(Error::InvalidInput(_))
        ));
        // A REAL primary key cannot be an identifier field.
        let (s, _) = evolve(None, 0, &cols(&[("k", "REAL", true)]), &[], 0).unwrap();
        assert!(s.identifier_field_ids.is_empty());
    }
}
