//! Opening an engine: loading the last checkpoint and replaying the WAL.
//!
//! ```text
//!   pager meta ──> Meta { checkpoint LSN, counters, roots }
//!   catalog    ──> trees; rows flagged dropped are destroyed now
//!   GC index   ──> purge tombstones, empty the version store
//!   WAL        ──> replay after images of records with LSN > checkpoint LSN
//! ```
//!
//! Replay applies after images, so it is deterministic: tree creation and
//! drop carry their tree ids, and every put writes the logged value stamped
//! with the logged commit timestamp. The checkpoint holds exactly the state
//! after its LSN, so each record newer than it is applied once, in order.

#[cfg(not(target_family = "wasm"))]
use std::path::Path;

use rustc_hash::FxHashMap;

use super::catalog::Catalog;
use super::codec::{encode_main, Meta, VERSION_KEY_OVERHEAD};
use super::txn::Snapshots;
use super::versions::VersionStore;
use super::{Counters, Engine, EngineConfig};
use crate::btree::{max_key_len, BTree, TreeKind};
use crate::corruption;
use crate::error::Result;
use crate::invalid;
use crate::pager::{Pager, PagerConfig};
use crate::store::{LogStore, PageStore};
use crate::wal::{Change, Record, Wal};

impl Engine {
    /// Opens the database held by `pages` and `log`, creating it if the
    /// page store is new, and recovers every commit the log still holds.
    pub fn open(
        pages: Box<dyn PageStore>,
        log: Box<dyn LogStore>,
        config: EngineConfig,
    ) -> Result<Engine> {
        if config.cache_bytes == 0 || config.checkpoint_bytes == 0 || config.max_txn_bytes == 0 {
            return Err(invalid!(
                "cache_bytes, checkpoint_bytes and max_txn_bytes must be positive"
            ));
        }
        let mut pager = Pager::open(
            pages,
            PagerConfig {
                cache_bytes: config.cache_bytes,
            },
        )?;
        let wal = Wal::open(log)?;
        let max_key = max_key_len(pager.page_size())
            .checked_sub(VERSION_KEY_OVERHEAD)
            .filter(|m| *m > 0)
            .ok_or_else(|| invalid!("page size {} leaves no room for keys", pager.page_size()))?;
        let stored = pager.user_meta().map(Meta::decode).transpose()?;
        let fresh = stored.is_none();
        let (meta, catalog, versions) = match stored {
            None => {
                let catalog = Catalog::create(&mut pager)?;
                let versions = VersionStore::create(&mut pager)?;
                let (versions_root, gc_root) = versions.roots();
                let meta = Meta {
                    checkpoint_lsn: 0,
                    last_ts: 0,
                    next_txn: 1,
                    next_tree: 1,
                    catalog_root: catalog.root(),
                    versions_root,
                    gc_root,
                };
                (meta, catalog, versions)
            }
            Some(meta) => {
                let (mut catalog, dropped) = Catalog::load(&mut pager, meta.catalog_root)?;
                for entry in dropped {
                    BTree::open(&mut pager, entry.root)?.destroy(&mut pager)?;
                    catalog.forget(&mut pager, entry.id)?;
                }
                let versions =
                    VersionStore::recover(&mut pager, &catalog, meta.versions_root, meta.gc_root)?;
                (meta, catalog, versions)
            }
        };
        if wal.last_lsn() < meta.checkpoint_lsn {
            return Err(corruption!(
                "the WAL ends at LSN {} before the checkpoint at LSN {}",
                wal.last_lsn(),
                meta.checkpoint_lsn
            ));
        }
        let mut engine = Engine {
            pager,
            wal,
            config,
            catalog,
            versions,
            txns: FxHashMap::default(),
            snapshots: Snapshots::default(),
            next_txn: meta.next_txn,
            last_ts: meta.last_ts,
            next_tree: meta.next_tree,
            checkpoint_lsn: meta.checkpoint_lsn,
            wal_bytes_at_checkpoint: 0,
            low_water: None,
            poisoned: None,
            counters: Counters::default(),
            max_key,
            buf: Vec::new(),
        };
        engine.replay(meta.checkpoint_lsn + 1)?;
        if fresh {
            // The database exists from its first open on, even empty.
            engine.checkpoint()?;
        }
        Ok(engine)
    }

    /// Opens (or creates) a database in directory `dir`: pages in
    /// `dir/pages`, WAL segments in `dir/wal/`. `page_size` applies to a new
    /// database; an existing one keeps its own.
    #[cfg(not(target_family = "wasm"))]
    pub fn open_dir(dir: &Path, page_size: u32, config: EngineConfig) -> Result<Engine> {
        use crate::store::file::{FileLogStore, FilePageStore};
        std::fs::create_dir_all(dir)?;
        let pages = FilePageStore::open(&dir.join("pages"), page_size)?;
        let log = FileLogStore::open(&dir.join("wal"))?;
        Engine::open(Box::new(pages), Box::new(log), config)
    }

    fn replay(&mut self, from: u64) -> Result<()> {
        let Engine {
            wal,
            pager,
            catalog,
            last_ts,
            next_txn,
            next_tree,
            buf,
            ..
        } = self;
        wal.replay(from, &mut |record: Record| {
            for change in record.changes {
                apply_change(pager, catalog, buf, record.commit_ts, change, next_tree)?;
            }
            *last_ts = (*last_ts).max(record.commit_ts);
            *next_txn = (*next_txn).max(record.txn + 1);
            Ok(())
        })
    }
}

/// Applies one logged change's after image.
fn apply_change(
    pager: &mut Pager,
    catalog: &mut Catalog,
    buf: &mut Vec<u8>,
    ts: u64,
    change: Change,
    next_tree: &mut u64,
) -> Result<()> {
    match change {
        Change::CreateTree { tree, name, index } => {
            *next_tree = (*next_tree).max(tree + 1);
            if catalog.get(tree).is_some() {
                return Ok(());
            }
            if catalog.live(&name).is_some() {
                return Err(corruption!(
                    "WAL creates tree {name:?} (id {tree}) but the name is taken"
                ));
            }
            let kind = if index {
                TreeKind::Index
            } else {
                TreeKind::Table
            };
            let btree = BTree::create(pager, TreeKind::Table)?;
            catalog.add(pager, tree, &name, kind, btree, ts)
        }
        Change::DropTree { tree } => {
            if catalog.get(tree).is_some() {
                catalog.remove(pager, tree)?.destroy(pager)?;
            }
            Ok(())
        }
        Change::Put {
            tree, key, after, ..
        } => {
            let info = catalog
                .get(tree)
                .ok_or_else(|| corruption!("WAL writes to unknown tree {tree}"))?;
            encode_main(buf, ts, Some(&after));
            info.btree.insert(pager, &key, buf)?;
            Ok(())
        }
        Change::Delete { tree, key, .. } => {
            let info = catalog
                .get(tree)
                .ok_or_else(|| corruption!("WAL deletes from unknown tree {tree}"))?;
            info.btree.delete(pager, &key)?;
            Ok(())
        }
    }
}
