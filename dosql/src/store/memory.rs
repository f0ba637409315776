//! In-memory stores.
//!
//! Both stores are cheap handles onto shared state: cloning a handle and
//! dropping the engine that owned the first one simulates a process restart
//! that keeps whatever the store holds. The memory log store keeps only
//! synced records across such a "restart" when asked to
//! ([`MemLogStore::crash`]), which is what the crash tests need.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{check_batch, validate_page_size, LogStore, Lsn, PageId, PageStore};
use crate::error::{Error, Result};

#[derive(Default)]
struct PageState {
    pages: HashMap<PageId, Box<[u8]>>,
    meta: Option<Vec<u8>>,
    batches: u64,
}

/// A [`PageStore`] held in memory. Clones share the same pages.
#[derive(Clone)]
pub struct MemPageStore {
    page_size: u32,
    state: Arc<Mutex<PageState>>,
}

impl MemPageStore {
    /// Creates an empty store with the given page size.
    pub fn new(page_size: u32) -> Result<Self> {
        validate_page_size(page_size)?;
        Ok(Self {
            page_size,
            state: Arc::default(),
        })
    }

    /// Number of pages ever written.
    pub fn page_count(&self) -> usize {
        self.lock().pages.len()
    }

    /// Number of batches written so far.
    pub fn batch_count(&self) -> u64 {
        self.lock().batches
    }

    fn lock(&self) -> MutexGuard<'_, PageState> {
        // A poisoned lock means a test thread panicked mid-write; the data is
        // still whole because every mutation below is a single insert.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PageStore for MemPageStore {
    fn page_size(&self) -> u32 {
        self.page_size
    }

    fn read_page(&mut self, id: PageId, buf: &mut [u8]) -> Result<bool> {
        match self.lock().pages.get(&id) {
            Some(page) => {
                buf.copy_from_slice(page);
                Ok(true)
            }
            None => {
                buf.fill(0);
                Ok(false)
            }
        }
    }

    fn read_meta(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self.lock().meta.clone())
    }

    fn write_batch(&mut self, pages: &[(PageId, &[u8])], meta: &[u8]) -> Result<()> {
        check_batch(self.page_size, pages, meta)?;
        let mut state = self.lock();
        for (id, data) in pages {
            state.pages.insert(*id, (*data).into());
        }
        state.meta = Some(meta.to_vec());
        state.batches += 1;
        Ok(())
    }
}

#[derive(Default)]
struct LogState {
    records: BTreeMap<Lsn, Vec<u8>>,
    /// Records with LSN `<= synced` are durable.
    synced: Option<Lsn>,
    /// The highest LSN truncated away: `last_lsn` once no record is left.
    truncated: Option<Lsn>,
    syncs: u64,
}

/// A [`LogStore`] held in memory. Clones share the same records.
#[derive(Clone, Default)]
pub struct MemLogStore {
    state: Arc<Mutex<LogState>>,
}

impl MemLogStore {
    /// Creates an empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Simulates a crash: drops every record that was not synced.
    pub fn crash(&self) {
        let mut state = self.lock();
        let keep = state.synced;
        state.records.retain(|lsn, _| Some(*lsn) <= keep);
        // A truncated LSN survives only if it had been synced.
        state.truncated = state.truncated.min(keep);
    }

    /// Number of successful syncs, to observe group commit.
    pub fn sync_count(&self) -> u64 {
        self.lock().syncs
    }

    /// Number of records currently held.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// True when the log holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl LogStore for MemLogStore {
    fn append(&mut self, lsn: Lsn, record: &[u8]) -> Result<()> {
        let mut state = self.lock();
        let last = state.records.last_key_value().map(|(l, _)| *l);
        if let Some(last) = last.max(state.truncated) {
            if lsn <= last {
                return Err(Error::InvalidInput(format!(
                    "LSN {lsn} does not follow {last}"
                )));
            }
        }
        state.records.insert(lsn, record.to_vec());
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        let mut state = self.lock();
        state.synced = state
            .records
            .last_key_value()
            .map(|(l, _)| *l)
            .max(state.synced);
        state.syncs += 1;
        Ok(())
    }

    fn scan(&mut self, from: Lsn, f: &mut dyn FnMut(Lsn, &[u8]) -> Result<bool>) -> Result<()> {
        // Copy out under the lock so that `f` may call back into the store.
        let records: Vec<(Lsn, Vec<u8>)> = self
            .lock()
            .records
            .range(from..)
            .map(|(l, r)| (*l, r.clone()))
            .collect();
        for (lsn, record) in records {
            if !f(lsn, &record)? {
                break;
            }
        }
        Ok(())
    }

    fn truncate_before(&mut self, before: Lsn) -> Result<()> {
        let mut state = self.lock();
        let kept = state.records.split_off(&before);
        let dropped = state.records.last_key_value().map(|(l, _)| *l);
        state.truncated = state.truncated.max(dropped);
        state.records = kept;
        Ok(())
    }

    fn last_lsn(&self) -> Option<Lsn> {
        let state = self.lock();
        let last = state.records.last_key_value().map(|(l, _)| *l);
        last.max(state.truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_store_round_trip_and_absent_pages() {
        let mut store = MemPageStore::new(1024).unwrap();
        let mut buf = vec![7u8; 1024];
        assert!(!store.read_page(3, &mut buf).unwrap());
        assert!(buf.iter().all(|b| *b == 0));
        assert_eq!(store.read_meta().unwrap(), None);
        let page = vec![42u8; 1024];
        store.write_batch(&[(3, &page)], b"meta").unwrap();
        assert!(store.read_page(3, &mut buf).unwrap());
        assert_eq!(buf, page);
        assert_eq!(store.read_meta().unwrap().as_deref(), Some(&b"meta"[..]));
    }

    #[test]
    fn page_store_rejects_bad_batches() {
        let mut store = MemPageStore::new(1024).unwrap();
        assert!(store.write_batch(&[(0, &[0u8; 1024])], b"").is_err());
        assert!(store.write_batch(&[(1, &[0u8; 10])], b"").is_err());
        assert!(MemPageStore::new(1000).is_err());
        assert_eq!(store.batch_count(), 0);
    }

    #[test]
    fn log_store_keeps_synced_prefix_on_crash() {
        let mut log = MemLogStore::new();
        log.append(1, b"a").unwrap();
        log.append(2, b"b").unwrap();
        log.sync().unwrap();
        log.append(3, b"c").unwrap();
        assert!(log.append(3, b"dup").is_err());
        log.crash();
        let mut seen = Vec::new();
        log.scan(0, &mut |lsn, r| {
            seen.push((lsn, r.to_vec()));
            Ok(true)
        })
        .unwrap();
        assert_eq!(seen, vec![(1, b"a".to_vec()), (2, b"b".to_vec())]);
        log.truncate_before(2).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log.last_lsn(), Some(2));
        log.truncate_before(10).unwrap();
        assert!(log.is_empty());
        assert_eq!(log.last_lsn(), Some(2), "the last LSN outlives its record");
        assert!(log.append(2, b"again").is_err());
        log.append(3, b"d").unwrap();
    }
}
