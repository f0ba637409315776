//! Parquet data files and position delete files, with Iceberg field ids and
//! the column statistics Iceberg manifests carry.
//!
//! Every Arrow field carries `PARQUET:field_id` metadata, which the Parquet
//! writer stores as the schema element's `field_id`: readers match columns
//! by id, so renames and drops need no rewrite. Columns are flat (SQL tables
//! have no nested types). Compression is Snappy (pure Rust, builds for
//! wasm32). One row group per file: DoLake flushes are bounded by the
//! caller, and small files are compacted later.
//!
//! Statistics (spec "Appendix D: Single-value serialization"): `long` and
//! `double` bounds are 8 bytes little-endian; `string` bounds are the UTF-8
//! bytes and `binary` the bytes themselves. Bounds of strings or binaries
//! longer than [`MAX_BOUND_LEN`] bytes are omitted (omitting is always
//! valid; truncating an upper bound would need incrementing). NaN never
//! enters double bounds and is counted in `nan_value_counts`.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, BinaryArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use parquet::arrow::{ArrowWriter, PARQUET_FIELD_ID_META_KEY};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};
use crate::iceberg::manifest::{DataContent, DataFile};
use crate::iceberg::{NestedField, PrimitiveType, Schema, Type};
use crate::sqltypes::Cell;

/// Longest string/binary value recorded as a bound.
pub const MAX_BOUND_LEN: usize = 256;
/// Field id of `file_path` in position delete files (reserved by the spec).
pub const DELETE_FILE_PATH_ID: i32 = 2_147_483_546;
/// Field id of `pos` in position delete files (reserved by the spec).
pub const DELETE_POS_ID: i32 = 2_147_483_545;

/// The Arrow type of an Iceberg field DoLake writes.
pub fn arrow_type(field: &NestedField) -> Result<DataType> {
    Ok(match &field.field_type {
        Type::Primitive(PrimitiveType::Long) => DataType::Int64,
        Type::Primitive(PrimitiveType::Double) => DataType::Float64,
        Type::Primitive(PrimitiveType::String) => DataType::Utf8,
        Type::Primitive(PrimitiveType::Binary) => DataType::Binary,
        other => {
            return Err(Error::Unsupported(format!(
                "column {:?} of type {other:?}",
                field.name
            )))
        }
    })
}

/// The Arrow schema (with field ids) of an Iceberg schema.
pub fn arrow_schema(schema: &Schema) -> Result<ArrowSchema> {
    let fields = schema
        .fields
        .iter()
        .map(|f| {
            Ok(
                Field::new(&f.name, arrow_type(f)?, !f.required).with_metadata(
                    std::collections::HashMap::from([(
                        PARQUET_FIELD_ID_META_KEY.to_string(),
                        f.id.to_string(),
                    )]),
                ),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ArrowSchema::new(fields))
}

// Statistics of one column, accumulated while building its Arrow array.
#[derive(Default)]
struct ColumnStats {
    values: i64,
    nulls: i64,
    nans: i64,
    lower: Option<Vec<u8>>,
    upper: Option<Vec<u8>>,
    too_long: bool,
}

impl ColumnStats {
    fn observe_ord<T: PartialOrd + Copy>(&mut self, v: T, lo: &mut Option<T>, hi: &mut Option<T>) {
        self.values += 1;
        if lo.is_none_or(|l| v < l) {
            *lo = Some(v);
        }
        if hi.is_none_or(|h| v > h) {
            *hi = Some(v);
        }
    }

    fn observe_bytes(&mut self, b: &[u8]) {
        self.values += 1;
        if b.len() > MAX_BOUND_LEN {
            self.too_long = true;
            return;
        }
        if self.lower.as_deref().is_none_or(|l| b < l) {
            self.lower = Some(b.to_vec());
        }
        if self.upper.as_deref().is_none_or(|u| b > u) {
            self.upper = Some(b.to_vec());
        }
    }
}

fn mismatch(field: &NestedField, cell: &Cell) -> Error {
    Error::InvalidInput(format!(
        "value {cell:?} does not fit column {:?}",
        field.name
    ))
}

// Builds one column's array and statistics from already-coerced cells.
fn column(field: &NestedField, rows: &[Vec<Cell>], idx: usize) -> Result<(ArrayRef, ColumnStats)> {
    let mut st = ColumnStats::default();
    let cells = rows.iter().map(|r| r.get(idx).unwrap_or(&Cell::Null));
    let null_in_required =
        || Error::InvalidInput(format!("NULL in required column {:?}", field.name));
    let array: ArrayRef = match arrow_type(field)? {
        DataType::Int64 => {
            let (mut lo, mut hi) = (None, None);
            let mut vals = Vec::with_capacity(rows.len());
            for c in cells {
                vals.push(match c {
                    Cell::Null => None,
                    Cell::Long(v) => {
                        st.observe_ord(*v, &mut lo, &mut hi);
                        Some(*v)
                    }
                    other => return Err(mismatch(field, other)),
                });
            }
            st.lower = lo.map(|v: i64| v.to_le_bytes().to_vec());
            st.upper = hi.map(|v: i64| v.to_le_bytes().to_vec());
            Arc::new(Int64Array::from(vals))
        }
        DataType::Float64 => {
            let (mut lo, mut hi) = (None, None);
            let mut vals = Vec::with_capacity(rows.len());
            for c in cells {
                vals.push(match c {
                    Cell::Null => None,
                    Cell::Double(v) if v.is_nan() => {
                        st.values += 1;
                        st.nans += 1;
                        Some(*v)
                    }
                    Cell::Double(v) => {
                        st.observe_ord(*v, &mut lo, &mut hi);
                        Some(*v)
                    }
                    other => return Err(mismatch(field, other)),
                });
            }
            st.lower = lo.map(|v: f64| v.to_le_bytes().to_vec());
            st.upper = hi.map(|v: f64| v.to_le_bytes().to_vec());
            Arc::new(Float64Array::from(vals))
        }
        DataType::Utf8 => {
            let mut vals = Vec::with_capacity(rows.len());
            for c in cells {
                vals.push(match c {
                    Cell::Null => None,
                    Cell::String(s) => {
                        st.observe_bytes(s.as_bytes());
                        Some(s.as_str())
                    }
                    other => return Err(mismatch(field, other)),
                });
            }
            Arc::new(StringArray::from(vals))
        }
        _ => {
            let mut vals = Vec::with_capacity(rows.len());
            for c in cells {
                vals.push(match c {
                    Cell::Null => None,
                    Cell::Binary(b) => {
                        st.observe_bytes(b);
                        Some(b.as_slice())
                    }
                    other => return Err(mismatch(field, other)),
                });
            }
            Arc::new(BinaryArray::from(vals))
        }
    };
    st.nulls = rows.len() as i64 - st.values;
    if field.required && st.nulls > 0 {
        return Err(null_in_required());
    }
    if st.too_long {
        st.lower = None;
        st.upper = None;
    }
    Ok((array, st))
}

/// Writes `rows` (cells in schema field order, already coerced) as one
/// Parquet file; returns its bytes and its manifest `data_file` (path and
/// content as given).
pub fn write(
    schema: &Schema,
    rows: &[Vec<Cell>],
    path: &str,
    content: DataContent,
) -> Result<(Vec<u8>, DataFile)> {
    if rows.is_empty() {
        return Err(Error::InvalidInput(
            "a data file needs at least one row".into(),
        ));
    }
    let arrow = Arc::new(arrow_schema(schema)?);
    let mut arrays = Vec::with_capacity(schema.fields.len());
    let mut df = DataFile {
        content,
        file_path: path.to_string(),
        file_format: "PARQUET".into(),
        record_count: rows.len() as i64,
        file_size_in_bytes: 0,
        column_sizes: BTreeMap::new(),
        value_counts: BTreeMap::new(),
        null_value_counts: BTreeMap::new(),
        nan_value_counts: BTreeMap::new(),
        lower_bounds: BTreeMap::new(),
        upper_bounds: BTreeMap::new(),
        split_offsets: None,
        equality_ids: None,
        sort_order_id: None,
    };
    for (i, f) in schema.fields.iter().enumerate() {
        let (array, st) = column(f, rows, i)?;
        arrays.push(array);
        df.value_counts.insert(f.id, st.values + st.nulls);
        df.null_value_counts.insert(f.id, st.nulls);
        if matches!(f.field_type, Type::Primitive(PrimitiveType::Double)) {
            df.nan_value_counts.insert(f.id, st.nans);
        }
        if let (Some(lo), Some(hi)) = (st.lower, st.upper) {
            df.lower_bounds.insert(f.id, lo);
            df.upper_bounds.insert(f.id, hi);
        }
    }
    let batch = RecordBatch::try_new(arrow.clone(), arrays)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, arrow, Some(props))?;
    writer.write(&batch)?;
    let meta = writer.close()?;
    let mut offsets = Vec::new();
    for rg in meta.row_groups() {
        for (i, col) in rg.columns().iter().enumerate() {
            if let Some(f) = schema.fields.get(i) {
                *df.column_sizes.entry(f.id).or_insert(0) += col.compressed_size();
            }
        }
        let first = rg.columns().first();
        if let Some(off) = rg
            .file_offset()
            .or_else(|| first.map(|c| c.dictionary_page_offset().unwrap_or(c.data_page_offset())))
        {
            offsets.push(off);
        }
    }
    df.split_offsets = Some(offsets);
    df.file_size_in_bytes = out.len() as i64;
    Ok((out, df))
}

/// The Iceberg schema of position delete files.
pub fn position_delete_schema() -> Schema {
    Schema::new(
        0,
        vec![
            NestedField::new(
                DELETE_FILE_PATH_ID,
                "file_path",
                true,
                Type::Primitive(PrimitiveType::String),
            ),
            NestedField::new(
                DELETE_POS_ID,
                "pos",
                true,
                Type::Primitive(PrimitiveType::Long),
            ),
        ],
        Vec::new(),
    )
}

/// Writes a position delete file for `(data file path, row position)`
/// pairs; they are sorted by path then position, as the spec requires.
pub fn write_position_deletes(
    deletes: &[(String, u64)],
    path: &str,
) -> Result<(Vec<u8>, DataFile)> {
    let mut sorted: Vec<&(String, u64)> = deletes.iter().collect();
    sorted.sort();
    sorted.dedup();
    let rows = sorted
        .into_iter()
        .map(|(p, pos)| {
            let pos = i64::try_from(*pos)
                .map_err(|_| Error::InvalidInput(format!("row position {pos} out of range")))?;
            Ok(vec![Cell::String(p.clone()), Cell::Long(pos)])
        })
        .collect::<Result<Vec<_>>>()?;
    write(
        &position_delete_schema(),
        &rows,
        path,
        DataContent::PositionDeletes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn schema() -> Schema {
        Schema::new(
            0,
            vec![
                NestedField::new(1, "id", true, Type::Primitive(PrimitiveType::Long)),
                NestedField::new(2, "name", false, Type::Primitive(PrimitiveType::String)),
                NestedField::new(5, "score", false, Type::Primitive(PrimitiveType::Double)),
                NestedField::new(7, "raw", false, Type::Primitive(PrimitiveType::Binary)),
            ],
            vec![1],
        )
    }

    #[test]
    fn writes_field_ids_and_statistics() {
        let rows = vec![
            vec![
                Cell::Long(3),
                Cell::String("b".into()),
                Cell::Double(1.5),
                Cell::Null,
            ],
            vec![
                Cell::Long(-1),
                Cell::Null,
                Cell::Double(f64::NAN),
                Cell::Binary(vec![1]),
            ],
            vec![
                Cell::Long(9),
                Cell::String("a".into()),
                Cell::Double(-2.0),
                Cell::Binary(vec![0, 9]),
            ],
        ];
        let (bytes, df) = write(
            &schema(),
            &rows,
            "file:///t/data/a.parquet",
            DataContent::Data,
        )
        .unwrap();
        assert_eq!(df.record_count, 3);
        assert_eq!(df.file_size_in_bytes as usize, bytes.len());
        assert_eq!(df.lower_bounds[&1], (-1i64).to_le_bytes());
        assert_eq!(df.upper_bounds[&1], 9i64.to_le_bytes());
        assert_eq!(df.lower_bounds[&2], b"a");
        assert_eq!(df.upper_bounds[&5], 1.5f64.to_le_bytes());
        assert_eq!(df.lower_bounds[&7], vec![0, 9]);
        assert_eq!(
            (
                df.null_value_counts[&2],
                df.nan_value_counts[&5],
                df.value_counts[&7]
            ),
            (1, 1, 3)
        );
        assert_eq!(df.column_sizes.len(), 4);

        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap();
        let ids: Vec<_> = reader
            .parquet_schema()
            .root_schema()
            .get_fields()
            .iter()
            .map(|f| f.get_basic_info().id())
            .collect();
        assert_eq!(ids, vec![1, 2, 5, 7]);
        let batch = reader.build().unwrap().next().unwrap().unwrap();
        let id = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(id.values().to_vec(), vec![3, -1, 9]);
        assert!(batch.column(1).is_null(1));
    }

    #[test]
    fn bad_rows_are_errors() {
        let s = schema();
        assert!(write(&s, &[], "p", DataContent::Data).is_err());
        let null_key = vec![vec![Cell::Null, Cell::Null, Cell::Null, Cell::Null]];
        assert!(matches!(
            write(&s, &null_key, "p", DataContent::Data),
            Err(Error::InvalidInput(_))
        ));
        let wrong = vec![vec![
            Cell::String("x".into()),
            Cell::Null,
            Cell::Null,
            Cell::Null,
        ]];
        assert!(matches!(
            write(&s, &wrong, "p", DataContent::Data),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn position_deletes_are_sorted_with_reserved_ids() {
        let dels = vec![
            ("b".to_string(), 2),
            ("a".to_string(), 7),
            ("a".to_string(), 1),
        ];
        let (bytes, df) = write_position_deletes(&dels, "d.parquet").unwrap();
        assert_eq!(df.content, DataContent::PositionDeletes);
        assert_eq!(df.lower_bounds[&DELETE_FILE_PATH_ID], b"a");
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap();
        let batch = reader.build().unwrap().next().unwrap().unwrap();
        let pos = batch
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(pos.values().to_vec(), vec![1, 7, 2]);
    }
}
