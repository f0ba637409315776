//! Iceberg schemas, partition specs and sort orders, with serde to and from
//! the JSON forms of the Iceberg table spec (format version 2).
//!
//! A schema is a struct of fields; every field (and every list element, map
//! key and map value) carries a table-wide unique integer id. Ids, not
//! names, are what data files and readers match on, so an id is never
//! reused once assigned (the table's `last-column-id` only grows):
//!
//! ```text
//! Schema { schema-id: 1, identifier-field-ids: [1],
//!   fields: [ 1 id: long (required), 2 name: string, 4 email: string ] }
//!                                                    ^ id 3 was dropped;
//!                                                      never reused
//! ```
//!
//! Primitive types serialise as strings (`"long"`, `"decimal(9,2)"`,
//! `"fixed[16]"`); nested types as objects (`{"type":"list",...}`).

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An Iceberg primitive type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrimitiveType {
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Decimal { precision: u32, scale: u32 },
    Date,
    Time,
    Timestamp,
    Timestamptz,
    TimestampNs,
    TimestamptzNs,
    String,
    Uuid,
    Fixed(u64),
    Binary,
}

impl fmt::Display for PrimitiveType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrimitiveType::Boolean => f.write_str("boolean"),
            PrimitiveType::Int => f.write_str("int"),
            PrimitiveType::Long => f.write_str("long"),
            PrimitiveType::Float => f.write_str("float"),
            PrimitiveType::Double => f.write_str("double"),
            PrimitiveType::Decimal { precision, scale } => {
                write!(f, "decimal({precision},{scale})")
            }
            PrimitiveType::Date => f.write_str("date"),
            PrimitiveType::Time => f.write_str("time"),
            PrimitiveType::Timestamp => f.write_str("timestamp"),
            PrimitiveType::Timestamptz => f.write_str("timestamptz"),
            PrimitiveType::TimestampNs => f.write_str("timestamp_ns"),
            PrimitiveType::TimestamptzNs => f.write_str("timestamptz_ns"),
            PrimitiveType::String => f.write_str("string"),
            PrimitiveType::Uuid => f.write_str("uuid"),
            PrimitiveType::Fixed(n) => write!(f, "fixed[{n}]"),
            PrimitiveType::Binary => f.write_str("binary"),
        }
    }
}

impl std::str::FromStr for PrimitiveType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        Ok(match s {
            "boolean" => PrimitiveType::Boolean,
            "int" => PrimitiveType::Int,
            "long" => PrimitiveType::Long,
            "float" => PrimitiveType::Float,
            "double" => PrimitiveType::Double,
            "date" => PrimitiveType::Date,
            "time" => PrimitiveType::Time,
            "timestamp" => PrimitiveType::Timestamp,
            "timestamptz" => PrimitiveType::Timestamptz,
            "timestamp_ns" => PrimitiveType::TimestampNs,
            "timestamptz_ns" => PrimitiveType::TimestamptzNs,
            "string" => PrimitiveType::String,
            "uuid" => PrimitiveType::Uuid,
            "binary" => PrimitiveType::Binary,
            _ => {
                if let Some(inner) = s.strip_prefix("decimal(").and_then(|r| r.strip_suffix(')')) {
                    let (p, sc) = inner
                        .split_once(',')
                        .ok_or_else(|| format!("bad decimal type {s:?}"))?;
                    let precision = p.trim().parse().map_err(|_| format!("bad decimal {s:?}"))?;
                    let scale = sc
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad decimal {s:?}"))?;
                    PrimitiveType::Decimal { precision, scale }
                } else if let Some(n) = s.strip_prefix("fixed[").and_then(|r| r.strip_suffix(']')) {
                    PrimitiveType::Fixed(n.trim().parse().map_err(|_| format!("bad fixed {s:?}"))?)
                } else {
                    return Err(format!("unknown Iceberg type {s:?}"));
                }
            }
        })
    }
}

/// Any Iceberg type: primitive or nested.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Primitive(PrimitiveType),
    Struct(StructType),
    List(ListType),
    Map(MapType),
}

/// A struct: an ordered list of fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StructType {
    pub fields: Vec<NestedField>,
}

/// A list; the element has its own field id.
#[derive(Debug, Clone, PartialEq)]
pub struct ListType {
    pub element_id: i32,
    pub element_required: bool,
    pub element: Box<Type>,
}

/// A map; key and value have their own field ids.
#[derive(Debug, Clone, PartialEq)]
pub struct MapType {
    pub key_id: i32,
    pub key: Box<Type>,
    pub value_id: i32,
    pub value_required: bool,
    pub value: Box<Type>,
}

/// A named, id-carrying field of a struct (or of the schema itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct NestedField {
    pub id: i32,
    pub name: String,
    pub required: bool,
    #[serde(rename = "type")]
    pub field_type: Type,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_default: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_default: Option<serde_json::Value>,
}

impl NestedField {
    /// A field without doc or defaults.
    pub fn new(id: i32, name: &str, required: bool, field_type: Type) -> Self {
        NestedField {
            id,
            name: name.to_string(),
            required,
            field_type,
            doc: None,
            initial_default: None,
            write_default: None,
        }
    }
}

// The JSON shape of nested types, as tagged objects.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum NestedJson {
    Struct {
        fields: Vec<NestedField>,
    },
    #[serde(rename_all = "kebab-case")]
    List {
        element_id: i32,
        element_required: bool,
        element: Type,
    },
    #[serde(rename_all = "kebab-case")]
    Map {
        key_id: i32,
        key: Type,
        value_id: i32,
        value_required: bool,
        value: Type,
    },
}

impl Serialize for Type {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Type::Primitive(p) => s.serialize_str(&p.to_string()),
            Type::Struct(st) => NestedJson::Struct {
                fields: st.fields.clone(),
            }
            .serialize(s),
            Type::List(l) => NestedJson::List {
                element_id: l.element_id,
                element_required: l.element_required,
                element: (*l.element).clone(),
            }
            .serialize(s),
            Type::Map(m) => NestedJson::Map {
                key_id: m.key_id,
                key: (*m.key).clone(),
                value_id: m.value_id,
                value_required: m.value_required,
                value: (*m.value).clone(),
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Type {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        if let serde_json::Value::String(s) = &v {
            return s.parse().map(Type::Primitive).map_err(D::Error::custom);
        }
        let nested: NestedJson = serde_json::from_value(v).map_err(D::Error::custom)?;
        Ok(match nested {
            NestedJson::Struct { fields } => Type::Struct(StructType { fields }),
            NestedJson::List {
                element_id,
                element_required,
                element,
            } => Type::List(ListType {
                element_id,
                element_required,
                element: Box::new(element),
            }),
            NestedJson::Map {
                key_id,
                key,
                value_id,
                value_required,
                value,
            } => Type::Map(MapType {
                key_id,
                key: Box::new(key),
                value_id,
                value_required,
                value: Box::new(value),
            }),
        })
    }
}

/// A table schema: a top-level struct with an id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Schema {
    /// Always `"struct"` in JSON.
    #[serde(rename = "type", default = "struct_tag")]
    pub type_tag: String,
    pub schema_id: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifier_field_ids: Vec<i32>,
    pub fields: Vec<NestedField>,
}

fn struct_tag() -> String {
    "struct".to_string()
}

impl Schema {
    /// A schema with the given id and top-level fields.
    pub fn new(schema_id: i32, fields: Vec<NestedField>, identifier_field_ids: Vec<i32>) -> Self {
        Schema {
            type_tag: struct_tag(),
            schema_id,
            identifier_field_ids,
            fields,
        }
    }

    /// The top-level field with this id.
    pub fn field_by_id(&self, id: i32) -> Option<&NestedField> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// The top-level field with this name (case-sensitive).
    pub fn field_by_name(&self, name: &str) -> Option<&NestedField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The highest field id anywhere in the schema (0 when empty).
    pub fn highest_field_id(&self) -> i32 {
        fn walk(t: &Type) -> i32 {
            match t {
                Type::Primitive(_) => 0,
                Type::Struct(s) => s
                    .fields
                    .iter()
                    .map(|f| f.id.max(walk(&f.field_type)))
                    .max()
                    .unwrap_or(0),
                Type::List(l) => l.element_id.max(walk(&l.element)),
                Type::Map(m) => m
                    .key_id
                    .max(m.value_id)
                    .max(walk(&m.key))
                    .max(walk(&m.value)),
            }
        }
        self.fields
            .iter()
            .map(|f| f.id.max(walk(&f.field_type)))
            .max()
            .unwrap_or(0)
    }

    /// Same fields and identifiers (ignores the schema id): used to decide
    /// whether a schema change needs a new schema at all.
    pub fn same_structure(&self, other: &Schema) -> bool {
        self.fields == other.fields && self.identifier_field_ids == other.identifier_field_ids
    }
}

/// One field of a partition spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PartitionField {
    pub source_id: i32,
    pub field_id: i32,
    pub name: String,
    /// `identity`, `bucket[N]`, `truncate[W]`, `year`, `month`, `day`,
    /// `hour`, `void`: kept as the spec's string.
    pub transform: String,
}

/// A partition spec; DoLake writes unpartitioned tables (spec 0, no fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PartitionSpec {
    pub spec_id: i32,
    pub fields: Vec<PartitionField>,
}

impl PartitionSpec {
    /// The unpartitioned spec, id 0.
    pub fn unpartitioned() -> Self {
        PartitionSpec {
            spec_id: 0,
            fields: Vec::new(),
        }
    }
}

/// Sort direction of a sort field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SortDirection {
    Asc,
    Desc,
}

/// Where nulls sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NullOrder {
    NullsFirst,
    NullsLast,
}

/// One field of a sort order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SortField {
    pub transform: String,
    pub source_id: i32,
    pub direction: SortDirection,
    pub null_order: NullOrder,
}

/// A sort order; id 0 with no fields means unsorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SortOrder {
    pub order_id: i32,
    pub fields: Vec<SortField>,
}

impl SortOrder {
    /// The unsorted order, id 0.
    pub fn unsorted() -> Self {
        SortOrder {
            order_id: 0,
            fields: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitive_types_round_trip_as_strings() {
        for s in [
            "boolean",
            "int",
            "long",
            "float",
            "double",
            "date",
            "time",
            "timestamp",
            "timestamptz",
            "string",
            "uuid",
            "binary",
            "decimal(9,2)",
            "fixed[16]",
        ] {
            let t: PrimitiveType = s.parse().unwrap();
            assert_eq!(t.to_string(), s);
        }
        assert!("varchar".parse::<PrimitiveType>().is_err());
        assert!("decimal(9)".parse::<PrimitiveType>().is_err());
    }

    #[test]
    fn nested_schema_round_trips_through_spec_json() {
        let json = r#"{"type":"struct","schema-id":3,"identifier-field-ids":[1],"fields":[
            {"id":1,"name":"id","required":true,"type":"long"},
            {"id":2,"name":"tags","required":false,"type":{"type":"list","element-id":4,"element-required":false,"element":"string"}},
            {"id":3,"name":"attrs","required":false,"type":{"type":"map","key-id":5,"key":"string","value-id":6,"value-required":true,"value":
                {"type":"struct","fields":[{"id":7,"name":"x","required":false,"type":"decimal(10,3)","doc":"why"}]}}}]}"#;
        let schema: Schema = serde_json::from_str(json).unwrap();
        assert_eq!(schema.schema_id, 3);
        assert_eq!(schema.highest_field_id(), 7);
        assert_eq!(schema.field_by_name("tags").unwrap().id, 2);
        let again: Schema = serde_json::from_str(&serde_json::to_string(&schema).unwrap()).unwrap();
        assert_eq!(again, schema);
        let v: serde_json::Value = serde_json::to_value(&schema).unwrap();
        assert_eq!(v["fields"][1]["type"]["element-id"], 4);
        assert_eq!(v["type"], "struct");
    }

    #[test]
    fn unknown_type_is_an_error_not_a_panic() {
        let bad = r#"{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"a","required":true,"type":"varchar"}]}"#;
        assert!(serde_json::from_str::<Schema>(bad).is_err());
    }
}
