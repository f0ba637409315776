//! Net effect of a table's buffered changes on its Iceberg rows.
//!
//! The buffer holds every change in (shard, LSN) order; Iceberg needs, per
//! row identity (shard, key), only the end state, and the row index says
//! where each identity's current row is:
//!
//! ```text
//!   buffered changes of one identity    row index    flush writes
//!   put a, put b                        -            append b
//!   put a, delete                       -            nothing
//!   put a / delete ...                  file f, p    delete (f, p) [+ append]
//!   drop shard                          all its rows delete each of them
//! ```
//!
//! The rule is uniform: an identity the index knows loses its old row, and
//! an identity whose last change is a put gets its last image appended.
//! An update of a row the index does not know (it predates the lake) is an
//! insert; a delete of one is nothing. Deletes form a set, so a shard drop
//! followed by a new row of the same key deletes the old row once.

use std::collections::{BTreeMap, BTreeSet};

use shared_types::Value;

use super::keys;
use super::state::Entry;
use crate::error::Result;
use crate::table::RowPosition as Position;

/// A row's image as `(column id, value)` cells.
pub(crate) type Cells = Vec<(u32, Value)>;

/// What one flush changes.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct NetEffect {
    /// Rows to append, in row index key order: (index key, shard, cells).
    pub puts: Vec<(Vec<u8>, String, Cells)>,
    /// Current rows to delete.
    pub deletes: BTreeSet<Position>,
    /// Row index keys to remove (identities without a row afterwards).
    pub unindex: Vec<Vec<u8>>,
}

/// Resolves `entries` (one table's buffer, in key order) against the row
/// index: `lookup` gives an identity's current position, `shard_rows` every
/// indexed row of a shard.
pub(crate) fn resolve(
    table: &str,
    entries: Vec<(String, Entry)>,
    mut lookup: impl FnMut(&[u8]) -> Result<Option<Position>>,
    mut shard_rows: impl FnMut(&str) -> Result<Vec<(Vec<u8>, Position)>>,
) -> Result<NetEffect> {
    // Identity -> (shard, last image or None for deleted).
    let mut last: BTreeMap<Vec<u8>, (String, Option<Cells>)> = BTreeMap::new();
    let mut wiped: BTreeSet<String> = BTreeSet::new();
    for (shard, entry) in entries {
        match entry {
            Entry::Put { key, cells, .. } => {
                last.insert(keys::row_key(table, &shard, &key), (shard, Some(cells)));
            }
            Entry::Delete { key, .. } => {
                last.insert(keys::row_key(table, &shard, &key), (shard, None));
            }
            Entry::DropShard { .. } => {
                for (s, image) in last.values_mut() {
                    if *s == shard {
                        *image = None;
                    }
                }
                wiped.insert(shard);
            }
        }
    }
    let mut net = NetEffect::default();
    for shard in &wiped {
        for (key, pos) in shard_rows(shard)? {
            net.deletes.insert(pos);
            if !last.contains_key(&key) {
                net.unindex.push(key);
            }
        }
    }
    for (key, (shard, image)) in last {
        if !wiped.contains(&shard) {
            if let Some(pos) = lookup(&key)? {
                net.deletes.insert(pos);
            }
        }
        match image {
            Some(cells) => net.puts.push((key, shard, cells)),
            None => net.unindex.push(key),
        }
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: i64, v: i64) -> Entry {
        Entry::Put {
            key: vec![Value::Integer(k)],
            cells: vec![(2, Value::Integer(v))],
            at_ms: 0,
        }
    }

    fn del(k: i64) -> Entry {
        Entry::Delete {
            key: vec![Value::Integer(k)],
            at_ms: 0,
        }
    }

    fn pos(p: u64) -> Position {
        Position {
            file_path: "f".into(),
            pos: p,
        }
    }

    fn run(entries: Vec<(&str, Entry)>, index: &[(&str, i64, u64)]) -> NetEffect {
        let index: BTreeMap<Vec<u8>, Position> = index
            .iter()
            .map(|(s, k, p)| (keys::row_key("t", s, &[Value::Integer(*k)]), pos(*p)))
            .collect();
        let entries = entries
            .into_iter()
            .map(|(s, e)| (s.to_string(), e))
            .collect();
        resolve(
            "t",
            entries,
            |k| Ok(index.get(k).cloned()),
            |s| {
                let p = keys::prefix("t", Some(s));
                Ok(index
                    .range(p.clone()..keys::prefix_end(&p))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect())
            },
        )
        .unwrap()
    }

    fn k(s: &str, k: i64) -> Vec<u8> {
        keys::row_key("t", s, &[Value::Integer(k)])
    }

    #[test]
    fn inserts_updates_and_deletes_collapse_per_identity() {
        let net = run(
            vec![
                ("a", put(1, 1)),
                ("a", put(1, 2)),
                ("a", put(2, 1)),
                ("a", del(2)),
            ],
            &[],
        );
        assert_eq!(
            net.puts,
            [(k("a", 1), "a".into(), vec![(2, Value::Integer(2))])]
        );
        assert!(net.deletes.is_empty());
        assert_eq!(net.unindex, [k("a", 2)]);
    }

    #[test]
    fn known_rows_become_position_deletes() {
        let net = run(
            vec![("a", put(1, 5)), ("a", del(2)), ("b", put(1, 7))],
            &[("a", 1, 10), ("a", 2, 11), ("b", 9, 12)],
        );
        assert_eq!(net.deletes, [pos(10), pos(11)].into());
        assert_eq!(net.puts.len(), 2);
        assert_eq!(net.unindex, [k("a", 2)]);
    }

    #[test]
    fn a_shard_drop_deletes_its_rows_once() {
        let net = run(
            vec![
                ("a", put(3, 1)),
                ("a", Entry::DropShard { at_ms: 0 }),
                ("a", put(1, 9)),
                ("b", del(1)),
            ],
            &[("a", 1, 10), ("a", 2, 11), ("b", 1, 12)],
        );
        assert_eq!(net.deletes, [pos(10), pos(11), pos(12)].into());
        assert_eq!(
            net.puts,
            [(k("a", 1), "a".into(), vec![(2, Value::Integer(9))])]
        );
        let mut unindex = net.unindex.clone();
        unindex.sort();
        let mut want = vec![k("a", 2), k("a", 3), k("b", 1)];
        want.sort();
        assert_eq!(unindex, want);
    }
}
