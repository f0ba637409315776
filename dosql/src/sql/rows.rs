//! Table and index I/O: reading rows by key, range or index probe, and
//! writing rows together with their index entries.
//!
//! ```text
//!   table tree  key = keycode(rowid)          (rowid tables)
//!                   | keycode(PRIMARY KEY...)   (WITHOUT ROWID)
//!               value = row record
//!   index tree  key = keycode(folded indexed values...) ++ table key
//!               value = table key
//! ```
//!
//! Index values are *folded* by the column's collation before encoding
//! (NOCASE lower-cases ASCII, RTRIM drops trailing spaces), so that memcmp
//! order of the keys is the collation's order and equal values under the
//! collation share a prefix: that prefix is what UNIQUE checks and
//! equality probes look up. A row read through an index is always fetched
//! from the table, which holds the unfolded values.

use std::ops::Bound;

use crate::error::{Error, Result};
use crate::keycode::{self, Direction, KeyValue};
use crate::mvcc::{Engine, TreeId, TxnId};
use crate::sql::record::{decode_row_into, encode_row_nulling, stored_len};
use crate::sql::schema::{Index, Table};
use crate::sql::value::apply_affinity;
use crate::sql::value::{Collation, Value};

/// A row as the executor sees it (see `Table::width`).
pub type Row = Vec<Value>;

/// The tree called `name`, which the schema says exists.
pub fn tree(engine: &mut Engine, txn: TxnId, name: &str) -> Result<TreeId> {
    engine
        .tree(txn, name)?
        .ok_or_else(|| Error::NotFound(format!("storage tree {name} is missing")))
}

/// A value as a key column, folded by `coll`.
pub fn key_value(v: &Value, coll: Collation) -> KeyValue {
    match v {
        Value::Null => KeyValue::Null,
        Value::Integer(i) => KeyValue::Integer(*i),
        Value::Real(f) => KeyValue::Real(*f),
        Value::Text(s) => KeyValue::Text(match coll {
            Collation::Binary => s.clone(),
            Collation::NoCase => s.to_ascii_lowercase(),
            Collation::RTrim => s.trim_end_matches(' ').to_string(),
        }),
        Value::Blob(b) => KeyValue::Blob(b.clone()),
    }
}

/// Appends the key column encoding of `v` to `out`: the bytes of
/// `encode_column(key_value(v, coll))`, without copying the value (this
/// runs per row for index entries and GROUP BY keys).
pub fn push_key(v: &Value, coll: Collation, out: &mut Vec<u8>) {
    match v {
        Value::Integer(i) => keycode::encode_i64(*i, out),
        Value::Text(s) => match coll {
            Collation::Binary => keycode::encode_text(s, out),
            Collation::NoCase => keycode::encode_text(&s.to_ascii_lowercase(), out),
            Collation::RTrim => keycode::encode_text(s.trim_end_matches(' '), out),
        },
        Value::Blob(b) => keycode::encode_blob(b, out),
        Value::Null | Value::Real(_) => {
            keycode::encode_column(&key_value(v, coll), Direction::Asc, out)
        }
    }
}

/// The table key of a row.
pub fn table_key(table: &Table, row: &[Value]) -> Vec<u8> {
    let mut key = Vec::with_capacity(10);
    if table.without_rowid {
        for &c in &table.primary_key {
            push_key(&row[c], table.columns[c].collation, &mut key);
        }
    } else {
        let Value::Integer(rowid) = row[table.columns.len()] else {
            panic!("a rowid table row carries an integer rowid");
        };
        keycode::encode_i64(rowid, &mut key);
    }
    key
}

/// Decodes a stored row into the executor's layout.
pub fn decode(table: &Table, key: &[u8], value: &[u8]) -> Result<Row> {
    let mut row = vec![Value::Null; table.width()];
    decode_into(table, key, value, &mut row)?;
    Ok(row)
}

/// [`decode`] into `out` (`table.width()` slots), reusing the slots'
/// text and blob buffers.
pub fn decode_into(table: &Table, key: &[u8], value: &[u8], out: &mut [Value]) -> Result<()> {
    let n = table.columns.len();
    decode_row_into(value, &mut out[..n])?;
    // Columns added by ALTER TABLE after the row was written read their
    // DEFAULT (a literal, with the column's affinity), as in SQLite.
    let stored = stored_len(value)?;
    for (i, c) in table.columns.iter().enumerate().skip(stored) {
        if let Some(v) = c.default.as_ref().and_then(literal_value) {
            out[i] = apply_affinity(v, c.affinity);
        }
    }
    if !table.without_rowid {
        let rowid = keycode::decode_i64(key)?;
        if let Some(alias) = table.rowid_alias {
            out[alias] = Value::Integer(rowid);
        }
        out[n] = Value::Integer(rowid);
    }
    Ok(())
}

/// The value of a literal DEFAULT (what ALTER TABLE ADD COLUMN allows):
/// a number, string, blob, NULL or boolean, optionally signed.
pub fn literal_value(e: &sqlparser::ast::Expr) -> Option<Value> {
    use sqlparser::ast::{Expr as A, UnaryOperator as U, Value as V};
    match e {
        A::Value(v) => match &v.value {
            V::Number(n, _) => crate::sql::bind::number(n).ok(),
            V::SingleQuotedString(s) | V::DoubleQuotedString(s) => Some(Value::Text(s.clone())),
            V::HexStringLiteral(h) => (0..h.len())
                .step_by(2)
                .map(|i| h.get(i..i + 2).and_then(|x| u8::from_str_radix(x, 16).ok()))
                .collect::<Option<Vec<u8>>>()
                .map(Value::Blob),
            V::Boolean(b) => Some(Value::Integer(i64::from(*b))),
            V::Null => Some(Value::Null),
            _ => None,
        },
        A::UnaryOp { op: U::Minus, expr } => {
            literal_value(expr).map(|v| crate::sql::value::neg(&v))
        }
        A::UnaryOp { op: U::Plus, expr } => literal_value(expr),
        _ => None,
    }
}

/// Encodes a row (executor layout) as its stored record.
pub fn encode(table: &Table, row: &[Value], out: &mut Vec<u8>) {
    // The alias is the key; NULL is stored in its place.
    encode_row_nulling(&row[..table.columns.len()], table.rowid_alias, out);
}

/// Rows with table keys in the range, in key order.
pub fn scan(
    engine: &mut Engine,
    txn: TxnId,
    table: &Table,
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
) -> Result<Vec<(Vec<u8>, Row)>> {
    let id = tree(engine, txn, &table.tree)?;
    // Rows decoded where they lie in the page: no copies of stored values.
    let mut out = Vec::new();
    engine.scan_with(txn, id, lo, hi, usize::MAX, |k, v| {
        out.push((k.to_vec(), decode(table, k, v)?));
        Ok(())
    })?;
    Ok(out)
}

/// The row with table key `key`, if any.
pub fn get(engine: &mut Engine, txn: TxnId, table: &Table, key: &[u8]) -> Result<Option<Row>> {
    let id = tree(engine, txn, &table.tree)?;
    // Decoded where it lies in the page: no copy of the stored value.
    engine
        .get_with(txn, id, key, |v| decode(table, key, v))?
        .transpose()
}

/// The index key prefix of a row: its folded indexed values.
pub fn index_prefix(index: &Index, row: &[Value]) -> Vec<u8> {
    let mut key = Vec::with_capacity(16);
    push_index_prefix(index, row, &mut key);
    key
}

/// Appends [`index_prefix`] to `out`.
fn push_index_prefix(index: &Index, row: &[Value], out: &mut Vec<u8>) {
    for (c, coll) in index.columns.iter().zip(&index.collations) {
        push_key(&row[*c], *coll, out);
    }
}

/// The smallest byte string greater than every key that starts with
/// `prefix` (keycode columns never start with 0xFF).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    end.push(0xff);
    end
}

/// Table keys of the index entries in the key range, in index order.
pub fn index_scan(
    engine: &mut Engine,
    txn: TxnId,
    index: &Index,
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
    limit: usize,
) -> Result<Vec<Vec<u8>>> {
    let id = tree(engine, txn, &index.tree)?;
    Ok(engine
        .scan(txn, id, lo, hi, limit)?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// Adds or removes the entries of `row` in every index of `table`.
pub fn write_index_entries(
    engine: &mut Engine,
    txn: TxnId,
    table: &Table,
    row: &[Value],
    key: &[u8],
    insert: bool,
) -> Result<()> {
    // One buffer for every index of the row, with room for the key.
    let mut entry = Vec::with_capacity(32 + key.len());
    for index in &table.indexes {
        entry.clear();
        push_index_prefix(index, row, &mut entry);
        entry.extend_from_slice(key);
        let id = tree(engine, txn, &index.tree)?;
        if insert {
            engine.put(txn, id, &entry, key)?;
        } else {
            engine.delete(txn, id, &entry)?;
        }
    }
    Ok(())
}

/// Table keys of rows other than `except` that hold the same values as
/// `row` in the columns of unique index `index`. NULLs are distinct, so a
/// row with a NULL in the index never conflicts.
pub fn unique_conflicts(
    engine: &mut Engine,
    txn: TxnId,
    index: &Index,
    row: &[Value],
    except: Option<&[u8]>,
) -> Result<Vec<Vec<u8>>> {
    if index.columns.iter().any(|c| row[*c].is_null()) {
        return Ok(Vec::new());
    }
    let prefix = index_prefix(index, row);
    let end = prefix_end(&prefix);
    let keys = index_scan(
        engine,
        txn,
        index,
        Bound::Included(&prefix),
        Bound::Excluded(&end),
        usize::MAX,
    )?;
    Ok(keys
        .into_iter()
        .filter(|k| Some(k.as_slice()) != except)
        .collect())
}

/// The largest rowid in use, if any.
pub fn max_rowid(engine: &mut Engine, txn: TxnId, table: &Table) -> Result<Option<i64>> {
    let id = tree(engine, txn, &table.tree)?;
    let mut cursor = engine.cursor(txn, id, Bound::Unbounded, Bound::Unbounded)?;
    match cursor.prev(engine)? {
        Some((k, _)) => Ok(Some(keycode::decode_i64(&k)?)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_follows_the_collation() {
        let v = Value::Text("AbC  ".into());
        assert_eq!(
            key_value(&v, Collation::NoCase),
            KeyValue::Text("abc  ".into())
        );
        assert_eq!(
            key_value(&v, Collation::RTrim),
            KeyValue::Text("AbC".into())
        );
        assert_eq!(
            key_value(&v, Collation::Binary),
            KeyValue::Text("AbC  ".into())
        );
    }

    #[test]
    fn push_key_matches_the_owned_encoding() {
        let values = [
            Value::Null,
            Value::Integer(-7),
            Value::Integer(i64::MAX),
            Value::Real(2.5),
            Value::Text("Ab\0c  ".into()),
            Value::Blob(vec![0, 1, 255]),
        ];
        for v in &values {
            for coll in [Collation::Binary, Collation::NoCase, Collation::RTrim] {
                let mut fast = Vec::new();
                push_key(v, coll, &mut fast);
                let mut owned = Vec::new();
                keycode::encode_column(&key_value(v, coll), Direction::Asc, &mut owned);
                assert_eq!(fast, owned, "{v:?} {coll:?}");
            }
        }
    }

    #[test]
    fn prefix_end_bounds_every_extension() {
        let mut p = Vec::new();
        push_key(&Value::Integer(5), Collation::Binary, &mut p);
        let mut longer = p.clone();
        keycode::encode_i64(i64::MAX, &mut longer);
        assert!(longer.as_slice() < prefix_end(&p).as_slice());
        let mut six = Vec::new();
        push_key(&Value::Integer(6), Collation::Binary, &mut six);
        assert!(prefix_end(&p).as_slice() < six.as_slice());
    }
}
