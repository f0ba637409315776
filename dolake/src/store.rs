//! A minimal synchronous object store (the shape of R2/S3), with in-memory
//! and local-directory implementations, and the location <-> key mapping.
//!
//! A warehouse root URI maps to the store's root; an object's location is
//! the root, a slash, and its key, so the two map 1:1:
//!
//! ```text
//! warehouse  s3://bucket/warehouse      (DirStore root: /data/warehouse)
//! key        ns/orders/metadata/00001-<uuid>.metadata.json
//! location   s3://bucket/warehouse/ns/orders/metadata/00001-<uuid>.metadata.json
//! ```
//!
//! Keys are relative, `/`-separated, with no empty, `.` or `..` segments;
//! anything else is rejected so a key can never escape a directory root.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::error::{Error, Result};

/// A flat key -> bytes store. Puts of one key replace the whole object.
pub trait ObjectStore {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<()>;
    /// The whole object; `NotFound` when absent.
    fn get(&self, key: &str) -> Result<Vec<u8>>;
    /// `len` bytes from `start` (fewer at the end of the object).
    fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>>;
    /// The object's size, or `None` when absent.
    fn head(&self, key: &str) -> Result<Option<u64>>;
    /// Keys starting with `prefix`, sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Removes the object; absent objects are not an error.
    fn delete(&self, key: &str) -> Result<()>;
}

/// Rejects keys that are not relative clean paths.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty()
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(Error::InvalidInput(format!("bad object key {key:?}")));
    }
    Ok(())
}

/// The location of `key` under `warehouse`.
pub fn location(warehouse: &str, key: &str) -> String {
    format!("{}/{key}", warehouse.trim_end_matches('/'))
}

/// The key of `location` under `warehouse`, or an error if it lies
/// elsewhere.
pub fn key_of(warehouse: &str, location: &str) -> Result<String> {
    let root = format!("{}/", warehouse.trim_end_matches('/'));
    let key = location.strip_prefix(&root).ok_or_else(|| {
        Error::InvalidInput(format!("{location} is outside warehouse {warehouse}"))
    })?;
    check_key(key)?;
    Ok(key.to_string())
}

fn slice_range(bytes: &[u8], start: u64, len: u64) -> Vec<u8> {
    let n = bytes.len() as u64;
    let s = start.min(n);
    let e = s.saturating_add(len).min(n);
    bytes[s as usize..e as usize].to_vec()
}

/// An in-memory store (tests, and a reader over objects already fetched).
#[derive(Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn objects(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        // A poisoned lock only means another thread panicked mid-call; the
        // map itself is always consistent (single insert/remove per call).
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ObjectStore for MemoryStore {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        check_key(key)?;
        self.objects().insert(key.to_string(), bytes.to_vec());
        Ok(())
    }
    fn get(&self, key: &str) -> Result<Vec<u8>> {
        self.objects()
            .get(key)
            .cloned()
            .ok_or_else(|| Error::NotFound(key.to_string()))
    }
    fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>> {
        let objects = self.objects();
        let b = objects
            .get(key)
            .ok_or_else(|| Error::NotFound(key.to_string()))?;
        Ok(slice_range(b, start, len))
    }
    fn head(&self, key: &str) -> Result<Option<u64>> {
        Ok(self.objects().get(key).map(|b| b.len() as u64))
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self
            .objects()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.objects().remove(key);
        Ok(())
    }
}

/// A store in a local directory: key `a/b` is file `<root>/a/b`. Puts write
/// a temporary file and rename it, so readers never see a partial object.
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirStore { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

impl ObjectStore for DirStore {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path(key)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("dolake-tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }
    fn get(&self, key: &str) -> Result<Vec<u8>> {
        Ok(std::fs::read(self.path(key)?)?)
    }
    fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(self.path(key)?)?;
        f.seek(SeekFrom::Start(start))?;
        let mut out = Vec::new();
        f.take(len).read_to_end(&mut out)?;
        Ok(out)
    }
    fn head(&self, key: &str) -> Result<Option<u64>> {
        match std::fs::metadata(self.path(key)?) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        fn walk(dir: &std::path::Path, rel: &str, out: &mut Vec<String>) -> Result<()> {
            let entries = match std::fs::read_dir(dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            for e in entries {
                let e = e?;
                let name = e.file_name().to_string_lossy().into_owned();
                let key = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if e.file_type()?.is_dir() {
                    walk(&e.path(), &key, out)?;
                } else if !key.ends_with(".dolake-tmp") {
                    out.push(key);
                }
            }
            Ok(())
        }
        let mut out = Vec::new();
        walk(&self.root, "", &mut out)?;
        out.retain(|k| k.starts_with(prefix));
        out.sort();
        Ok(out)
    }
    fn delete(&self, key: &str) -> Result<()> {
        match std::fs::remove_file(self.path(key)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(store: &dyn ObjectStore) {
        store.put("ns/t/a.bin", b"hello").unwrap();
        store.put("ns/t/b/c.bin", b"x").unwrap();
        store.put("ns/u.bin", b"y").unwrap();
        assert_eq!(store.get("ns/t/a.bin").unwrap(), b"hello");
        assert_eq!(store.get_range("ns/t/a.bin", 1, 3).unwrap(), b"ell");
        assert_eq!(store.get_range("ns/t/a.bin", 4, 10).unwrap(), b"o");
        assert_eq!(store.head("ns/t/a.bin").unwrap(), Some(5));
        assert_eq!(store.head("nope").unwrap(), None);
        assert_eq!(
            store.list("ns/t/").unwrap(),
            vec!["ns/t/a.bin", "ns/t/b/c.bin"]
        );
        store.delete("ns/t/a.bin").unwrap();
        store.delete("ns/t/a.bin").unwrap();
        assert!(matches!(store.get("ns/t/a.bin"), Err(Error::NotFound(_))));
        assert!(matches!(
            store.put("../evil", b""),
            Err(Error::InvalidInput(_))
        ));
        assert!(store.put("/abs", b"").is_err());
    }

    #[test]
    fn memory_store_behaves() {
        exercise(&MemoryStore::new());
    }

    #[test]
    fn dir_store_behaves() {
        let dir = tempfile::tempdir().unwrap();
        exercise(&DirStore::new(dir.path()));
    }

    #[test]
    fn locations_and_keys_map_one_to_one() {
        let w = "s3://bucket/warehouse/";
        let loc = location(w, "ns/t/data/a.parquet");
        assert_eq!(loc, "s3://bucket/warehouse/ns/t/data/a.parquet");
        assert_eq!(key_of(w, &loc).unwrap(), "ns/t/data/a.parquet");
        assert!(key_of(w, "s3://other/ns/t").is_err());
        assert!(key_of(w, "s3://bucket/warehouse/ns/../x").is_err());
    }
}
