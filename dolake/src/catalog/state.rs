//! Durable catalog state in a `dosql::mvcc::Engine`: namespaces with their
//! properties, and tables with their current metadata (location and JSON).
//!
//! ```text
//!   tree catalog:namespaces   key = ns            value = JSON {"k": "v", ...}
//!   tree catalog:tables       key = ns ++ name    value = JSON TableEntry
//!   ns = level1 0x00 level2 0x00 ... levelN 0x00   (levels never hold NUL)
//! ```
//!
//! The encoding sorts children right after their parent and makes "direct
//! children of P" a prefix scan of `P` keeping keys with exactly one more
//! level (namespaces: one more `0x00`-terminated level; tables: a name with
//! no `0x00`). Every function takes the caller's transaction, so that the
//! lake state machine can commit a catalog change with its own writes
//! (`lake:` trees in the same engine). Trees are created on first write;
//! a missing tree reads as empty.

use std::collections::BTreeMap;
use std::ops::Bound;

use dosql::mvcc::{Engine, TreeId, TreeKind, TxnId};
use serde::{Deserialize, Serialize};

use super::error::{Kind, RestError, RestResult};

const NAMESPACES: &str = "catalog:namespaces";
const TABLES: &str = "catalog:tables";

/// Longest namespace level or table name, in bytes.
pub const MAX_NAME: usize = 255;

/// Most levels of a namespace.
pub const MAX_LEVELS: usize = 16;

/// A namespace: one or more levels.
pub type Namespace = Vec<String>;

/// `namespace` + `name`, as the REST spec's `TableIdentifier`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableIdent {
    pub namespace: Namespace,
    pub name: String,
}

impl std::fmt::Display for TableIdent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.namespace.join("."), self.name)
    }
}

/// What the catalog keeps of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TableEntry {
    /// The current `metadata.json` (an `s3://bucket/key` URL) ...
    pub metadata_location: String,
    /// ... and its content, so that loading a table never reads the bucket.
    pub metadata: serde_json::Value,
    /// Sequence number of the current metadata file (its name's prefix).
    pub version: u64,
    /// Written by DoLake itself: REST commits, renames and drops refused.
    pub managed: bool,
}

/// Checks one namespace level or table name: 1 to [`MAX_NAME`] bytes, no
/// `/`, `\` or control characters, not `.` or `..`, because names become
/// object key segments (`warehouse/ns/table/...`).
pub fn check_name(what: &str, name: &str) -> RestResult<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(RestError::bad_request(format!(
            "invalid {what} {name:?}: 1 to {MAX_NAME} bytes, no '/', '\\' or control characters, not '.' or '..'"
        )))
    }
}

/// Checks a namespace: 1 to [`MAX_LEVELS`] valid levels.
pub fn check_namespace(ns: &[String]) -> RestResult<()> {
    if ns.is_empty() || ns.len() > MAX_LEVELS {
        return Err(RestError::bad_request(format!(
            "a namespace has 1 to {MAX_LEVELS} levels, not {}",
            ns.len()
        )));
    }
    ns.iter().try_for_each(|level| check_name("namespace level", level))
}

fn ns_key(ns: &[String]) -> Vec<u8> {
    let mut key = Vec::new();
    for level in ns {
        key.extend_from_slice(level.as_bytes());
        key.push(0);
    }
    key
}

fn decode_ns(key: &[u8]) -> RestResult<Namespace> {
    let levels = key.strip_suffix(&[0]).unwrap_or(key);
    levels
        .split(|b| *b == 0)
        .map(|l| String::from_utf8(l.to_vec()).map_err(|_| corrupt("namespace key is not UTF-8")))
        .collect()
}

fn table_key(ident: &TableIdent) -> Vec<u8> {
    let mut key = ns_key(&ident.namespace);
    key.extend_from_slice(ident.name.as_bytes());
    key
}

fn corrupt(what: &str) -> RestError {
    RestError::new(Kind::Internal, format!("catalog state is corrupt: {what}"))
}

fn tree(engine: &mut Engine, txn: TxnId, name: &str) -> RestResult<Option<TreeId>> {
    Ok(engine.tree(txn, name)?)
}

fn tree_for_write(engine: &mut Engine, txn: TxnId, name: &str) -> RestResult<TreeId> {
    match engine.tree(txn, name)? {
        Some(id) => Ok(id),
        None => Ok(engine.create_tree(txn, name, TreeKind::Table)?),
    }
}

/// Rows of `tree` whose key starts with `prefix` (a namespace key, so it is
/// empty or ends in 0x00: the upper bound is the prefix with that last byte
/// raised to 0x01).
fn scan_prefix(
    engine: &mut Engine,
    txn: TxnId,
    name: &str,
    prefix: &[u8],
) -> RestResult<Vec<(Vec<u8>, Vec<u8>)>> {
    let Some(tree) = tree(engine, txn, name)? else {
        return Ok(Vec::new());
    };
    let upper = match prefix.split_last() {
        None => None,
        Some((_, head)) => Some([head, &[1u8]].concat()),
    };
    let upper = upper.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    Ok(engine.scan(txn, tree, Bound::Included(prefix), upper, usize::MAX)?)
}

/// The properties of namespace `ns`, or `None` if it does not exist.
pub fn namespace(
    engine: &mut Engine,
    txn: TxnId,
    ns: &[String],
) -> RestResult<Option<BTreeMap<String, String>>> {
    let Some(tree) = tree(engine, txn, NAMESPACES)? else {
        return Ok(None);
    };
    match engine.get(txn, tree, &ns_key(ns))? {
        None => Ok(None),
        Some(raw) => serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|_| corrupt("namespace properties are not a JSON object of strings")),
    }
}

/// Creates or replaces namespace `ns` with `properties`.
pub fn put_namespace(
    engine: &mut Engine,
    txn: TxnId,
    ns: &[String],
    properties: &BTreeMap<String, String>,
) -> RestResult<()> {
    let tree = tree_for_write(engine, txn, NAMESPACES)?;
    let value = serde_json::to_vec(properties).expect("a string map serialises");
    Ok(engine.put(txn, tree, &ns_key(ns), &value)?)
}

/// Deletes namespace `ns` (the caller checked it is empty).
pub fn delete_namespace(engine: &mut Engine, txn: TxnId, ns: &[String]) -> RestResult<()> {
    let tree = tree_for_write(engine, txn, NAMESPACES)?;
    engine.delete(txn, tree, &ns_key(ns))?;
    Ok(())
}

/// The namespaces directly under `parent` (top-level ones for `[]`), in
/// key order.
pub fn child_namespaces(
    engine: &mut Engine,
    txn: TxnId,
    parent: &[String],
) -> RestResult<Vec<Namespace>> {
    let prefix = ns_key(parent);
    let rows = scan_prefix(engine, txn, NAMESPACES, &prefix)?;
    rows.iter()
        .filter(|(k, _)| {
            let rest = &k[prefix.len()..];
            !rest.is_empty() && rest.iter().filter(|b| **b == 0).count() == 1
        })
        .map(|(k, _)| decode_ns(k))
        .collect()
}

/// The tables directly in namespace `ns`, in name order.
pub fn tables_in(engine: &mut Engine, txn: TxnId, ns: &[String]) -> RestResult<Vec<TableIdent>> {
    let prefix = ns_key(ns);
    let rows = scan_prefix(engine, txn, TABLES, &prefix)?;
    rows.iter()
        .map(|(k, _)| &k[prefix.len()..])
        .filter(|rest| !rest.contains(&0))
        .map(|rest| {
            let name = String::from_utf8(rest.to_vec()).map_err(|_| corrupt("table name"))?;
            Ok(TableIdent {
                namespace: ns.to_vec(),
                name,
            })
        })
        .collect()
}

/// The entry of table `ident`, if it exists.
pub fn table(engine: &mut Engine, txn: TxnId, ident: &TableIdent) -> RestResult<Option<TableEntry>> {
    let Some(tree) = tree(engine, txn, TABLES)? else {
        return Ok(None);
    };
    match engine.get(txn, tree, &table_key(ident))? {
        None => Ok(None),
        Some(raw) => serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|_| corrupt("table entry is not JSON")),
    }
}

/// Creates or replaces the entry of table `ident`.
pub fn put_table(
    engine: &mut Engine,
    txn: TxnId,
    ident: &TableIdent,
    entry: &TableEntry,
) -> RestResult<()> {
    let tree = tree_for_write(engine, txn, TABLES)?;
    let value = serde_json::to_vec(entry).expect("a table entry serialises");
    Ok(engine.put(txn, tree, &table_key(ident), &value)?)
}

/// Deletes the entry of table `ident`; whether it existed.
pub fn delete_table(engine: &mut Engine, txn: TxnId, ident: &TableIdent) -> RestResult<bool> {
    let tree = tree_for_write(engine, txn, TABLES)?;
    Ok(engine.delete(txn, tree, &table_key(ident))?)
}

/// Runs `f` in a transaction of its own: committed if `f` succeeds, rolled
/// back otherwise (so a failed request changes nothing).
pub fn in_txn<T>(
    engine: &mut Engine,
    f: impl FnOnce(&mut Engine, TxnId) -> RestResult<T>,
) -> RestResult<T> {
    let txn = engine.begin()?;
    match f(engine, txn) {
        Ok(v) => {
            engine.commit(txn)?;
            Ok(v)
        }
        Err(e) => {
            // The request's error is the one to report; a failed rollback
            // poisons the engine, which the next call reports.
            let _ = engine.rollback(txn);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dosql::mvcc::EngineConfig;
    use dosql::store::{MemLogStore, MemPageStore};

    fn engine() -> Engine {
        Engine::open(
            Box::new(MemPageStore::new(4096).unwrap()),
            Box::new(MemLogStore::new()),
            EngineConfig::default(),
        )
        .unwrap()
    }

    fn ns(levels: &[&str]) -> Namespace {
        levels.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn children_are_one_level_down() {
        let mut e = engine();
        in_txn(&mut e, |e, t| {
            for n in [&["a"][..], &["a", "b"], &["a", "b", "c"], &["a", "d"], &["ab"], &["b"]] {
                put_namespace(e, t, &ns(n), &BTreeMap::new())?;
            }
            Ok(())
        })
        .unwrap();
        let got = in_txn(&mut e, |e, t| {
            Ok((
                child_namespaces(e, t, &[])?,
                child_namespaces(e, t, &ns(&["a"]))?,
                child_namespaces(e, t, &ns(&["a", "b", "c"]))?,
            ))
        })
        .unwrap();
        assert_eq!(got.0, vec![ns(&["a"]), ns(&["ab"]), ns(&["b"])]);
        assert_eq!(got.1, vec![ns(&["a", "b"]), ns(&["a", "d"])]);
        assert!(got.2.is_empty());
    }

    #[test]
    fn tables_are_listed_per_namespace_and_failed_txns_change_nothing() {
        let mut e = engine();
        let entry = TableEntry {
            metadata_location: "s3://b/k".into(),
            metadata: serde_json::json!({}),
            version: 1,
            managed: false,
        };
        let t = |n: &[&str], name: &str| TableIdent {
            namespace: ns(n),
            name: name.into(),
        };
        in_txn(&mut e, |e, x| {
            put_table(e, x, &t(&["a"], "t1"), &entry)?;
            put_table(e, x, &t(&["a", "b"], "t2"), &entry)?;
            put_table(e, x, &t(&["a"], "t0"), &entry)
        })
        .unwrap();
        let err = in_txn(&mut e, |e, x| {
            delete_table(e, x, &t(&["a"], "t1"))?;
            Err::<(), _>(RestError::bad_request("no"))
        });
        assert!(err.is_err());
        let listed = in_txn(&mut e, |e, x| tables_in(e, x, &ns(&["a"]))).unwrap();
        assert_eq!(listed, vec![t(&["a"], "t0"), t(&["a"], "t1")]);
        let got = in_txn(&mut e, |e, x| table(e, x, &t(&["a", "b"], "t2"))).unwrap();
        assert_eq!(got, Some(entry));
    }

    #[test]
    fn names_are_checked() {
        assert!(check_namespace(&ns(&["a", "b"])).is_ok());
        for bad in [&[][..], &[""], &["a/b"], &[".."], &["a\u{1f}b"]] {
            assert_eq!(check_namespace(&ns(bad)).unwrap_err().status(), 400, "{bad:?}");
        }
    }
}
