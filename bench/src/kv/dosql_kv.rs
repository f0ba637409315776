//! The DoSQL side: `dosql::mvcc::Engine` over files in a temp dir.
//!
//! One tree `kv` holds the rows; a key is the row's `u64` as 8 big-endian
//! bytes, so the engine's byte order is numeric order and a scan from
//! `start` returns keys `>= start` ascending. The engine is opened with
//! `SyncMode::Normal` (WAL handed to the OS at commit, fsynced at
//! checkpoint), matching SQLite's `synchronous=NORMAL` in WAL mode, and
//! with the same page-cache budget as SQLite. Every other setting is the
//! engine's default, except that the per-transaction size limit is lifted
//! so the one-transaction bulk load is possible at any `--rows`.
//!
//! Lookups and scans read rows in place through `Engine::get_with` and
//! `Engine::scan_with`, as the SQLite side reads them through `ValueRef`:
//! neither side copies a value out of its page. (`Engine::get` and
//! `Engine::scan`, which return owned `Vec`s, cost one or two allocations
//! more per row.)

use std::ops::Bound;
use std::path::{Path, PathBuf};

use dosql::mvcc::{Engine, EngineConfig, SyncMode, TreeId, TreeKind};

use super::{dir_bytes, EngineKind, KvStore, Result, StoreOptions};
use crate::data::{Updates, Values};

/// Rows per call of `Engine::scan` when reading a whole tree.
const FULL_SCAN_CHUNK: usize = 4096;

/// A `kv` tree in a DoSQL engine.
pub struct DosqlKv {
    engine: Engine,
    tree: TreeId,
    dir: PathBuf,
}

fn key_bytes(k: u64) -> [u8; 8] {
    k.to_be_bytes()
}

fn key_of(bytes: &[u8]) -> Result<u64> {
    let b: [u8; 8] = bytes
        .try_into()
        .map_err(|_| format!("DoSQL returned a {}-byte key", bytes.len()))?;
    Ok(u64::from_be_bytes(b))
}

impl DosqlKv {
    /// Opens a new engine in `dir` and creates the `kv` tree.
    pub fn create(dir: &Path, opts: StoreOptions) -> Result<DosqlKv> {
        let config = EngineConfig {
            cache_bytes: opts.cache_bytes,
            sync: SyncMode::Normal,
            max_txn_bytes: u64::MAX,
            ..EngineConfig::default()
        };
        let mut engine = Engine::open_dir(dir, opts.page_size, config)?;
        let txn = engine.begin()?;
        let tree = engine.create_tree(txn, "kv", TreeKind::Table)?;
        engine.commit(txn)?;
        Ok(DosqlKv {
            engine,
            tree,
            dir: dir.to_path_buf(),
        })
    }
}

/// `name size` of each entry of `dir` (directories summed), by name.
fn file_sizes(dir: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return "unreadable".into();
    };
    let mut sizes: Vec<(String, u64)> = entries
        .flatten()
        .map(|e| {
            let bytes = match e.metadata() {
                Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            };
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    sizes.sort();
    let parts: Vec<String> = sizes
        .iter()
        .map(|(name, bytes)| format!("{name} {:.1} MiB", *bytes as f64 / (1 << 20) as f64))
        .collect();
    parts.join(", ")
}

impl KvStore for DosqlKv {
    fn kind(&self) -> EngineKind {
        EngineKind::Dosql
    }

    fn load(&mut self, keys: &[u64], values: &Values) -> Result<()> {
        let txn = self.engine.begin()?;
        for (j, &k) in keys.iter().enumerate() {
            self.engine
                .put(txn, self.tree, &key_bytes(k), values.get(j as u64))?;
        }
        self.engine.commit(txn)?;
        Ok(())
    }

    fn get_many(&mut self, keys: &[u64], check: &mut dyn FnMut(u64, Option<&[u8]>)) -> Result<()> {
        let txn = self.engine.begin_read_only()?;
        for &k in keys {
            let found = self
                .engine
                .get_with(txn, self.tree, &key_bytes(k), |v| check(k, Some(v)))?;
            if found.is_none() {
                check(k, None);
            }
        }
        self.engine.commit(txn)?;
        Ok(())
    }

    fn scan_many(
        &mut self,
        starts: &[u64],
        len: usize,
        visit: &mut dyn FnMut(usize, u64, &[u8]),
    ) -> Result<()> {
        let txn = self.engine.begin_read_only()?;
        for (i, &start) in starts.iter().enumerate() {
            let lower = key_bytes(start);
            self.engine.scan_with(
                txn,
                self.tree,
                Bound::Included(&lower[..]),
                Bound::Unbounded,
                len,
                |k, v| {
                    let key = key_of(k).map_err(|e| dosql::Error::Corruption(e.to_string()))?;
                    visit(i, key, v);
                    Ok(())
                },
            )?;
        }
        self.engine.commit(txn)?;
        Ok(())
    }

    fn update(&mut self, updates: &Updates) -> Result<()> {
        for (t, keys) in updates.keys.chunks(updates.per_txn).enumerate() {
            let txn = self.engine.begin()?;
            for (j, &k) in keys.iter().enumerate() {
                let value = updates.values.get((t * updates.per_txn + j) as u64);
                self.engine.put(txn, self.tree, &key_bytes(k), value)?;
            }
            self.engine.commit(txn)?;
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<()> {
        self.engine.checkpoint()?;
        Ok(())
    }

    fn for_each_row(&mut self, visit: &mut dyn FnMut(u64, &[u8])) -> Result<()> {
        let txn = self.engine.begin_read_only()?;
        let mut after: Option<Vec<u8>> = None;
        loop {
            let lower = match &after {
                Some(k) => Bound::Excluded(&k[..]),
                None => Bound::Unbounded,
            };
            let rows =
                self.engine
                    .scan(txn, self.tree, lower, Bound::Unbounded, FULL_SCAN_CHUNK)?;
            for (k, v) in &rows {
                visit(key_of(k)?, v);
            }
            let complete = rows.len() < FULL_SCAN_CHUNK;
            after = rows.into_iter().last().map(|(k, _)| k);
            if complete {
                break;
            }
        }
        self.engine.commit(txn)?;
        Ok(())
    }

    fn disk_bytes(&self) -> u64 {
        dir_bytes(&self.dir)
    }

    fn stats(&mut self) -> Option<String> {
        // Where the bytes on disk go: file sizes, free pages and how full
        // the tree's pages are, so a size difference can be explained.
        let (pages, free) = self.engine.page_counts();
        let tree = match self.engine.tree_stats(self.tree) {
            Ok(t) => format!(
                "tree kv: {} pages ({} leaf, {} interior, {} overflow), depth {}, fill {:.1} %",
                t.pages,
                t.leaf_pages,
                t.interior_pages,
                t.overflow_pages,
                t.depth,
                t.fill * 100.0
            ),
            Err(e) => format!("tree kv: {e}"),
        };
        Some(format!(
            "{:?}\n  DoSQL pages: {pages} ({free} free); {tree}\n  DoSQL files: {}",
            self.engine.stats(),
            file_sizes(&self.dir)
        ))
    }
}
