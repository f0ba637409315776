//! Fault injection: stores that simulate a crash at a chosen write point.
//!
//! A crash test wraps a real page store and a real log store, both sharing
//! one [`FaultInjector`]. Every operation that writes is one *write point*:
//!
//! ```text
//!   point:   1            2          3          4            5 ...
//!   op:      append(l1)   flush()    sync()     write_batch  append(l2)
//!                                               ^ crash_at(4): this and every
//!                                                 later point fail with Io
//! ```
//!
//! A test first runs its workload with no crash armed and reads
//! [`FaultInjector::points`]; then, for each `n` in `1..=points`, it runs the
//! workload again with `crash_at(n)`, drops the engine, calls
//! `MemLogStore::crash` on the inner log (dropping unsynced records) and
//! reopens from the inner stores.
//!
//! Invariants of a failed point, matching the store contracts: a failed
//! `write_batch` applies nothing (batches are atomic), a failed `append`
//! leaves no record, a failed `flush` or `sync` makes nothing more durable.
//! Once crashed, every write fails (including `truncate_before`, which is not
//! counted as a point because losing it loses nothing); reads keep working so
//! that the code under test can fail the way it would after a real I/O error.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::{LogStore, Lsn, PageId, PageStore};
use crate::error::{Error, Result};

#[derive(Default)]
struct InjectorState {
    /// Write points seen so far.
    points: AtomicU64,
    /// The point that crashes (1-based); 0 = never.
    crash_at: AtomicU64,
    crashed: AtomicBool,
}

/// Counts write points across the stores that share it and fails them from
/// the armed point on. Clones share the same counter.
#[derive(Clone, Default)]
pub struct FaultInjector {
    state: Arc<InjectorState>,
}

impl FaultInjector {
    /// An injector with no crash armed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Arms a crash: the `n`-th write point (1-based, counted from the
    /// injector's creation) and every later one fail. `n = 0` disarms.
    pub fn crash_at(&self, n: u64) {
        self.state.crash_at.store(n, Ordering::SeqCst);
    }

    /// Write points seen so far, failed ones included.
    pub fn points(&self) -> u64 {
        self.state.points.load(Ordering::SeqCst)
    }

    /// True once a write point has failed.
    pub fn crashed(&self) -> bool {
        self.state.crashed.load(Ordering::SeqCst)
    }

    /// Counts one write point; fails if it is at or past the armed crash.
    fn point(&self, what: &str) -> Result<()> {
        let n = self.state.points.fetch_add(1, Ordering::SeqCst) + 1;
        let at = self.state.crash_at.load(Ordering::SeqCst);
        if self.crashed() || (at != 0 && n >= at) {
            self.state.crashed.store(true, Ordering::SeqCst);
            return Err(crash_error(what, n));
        }
        Ok(())
    }

    /// Fails an uncounted write once crashed.
    fn check_alive(&self, what: &str) -> Result<()> {
        if self.crashed() {
            return Err(crash_error(what, self.points()));
        }
        Ok(())
    }
}

fn crash_error(what: &str, point: u64) -> Error {
    Error::Io(std::io::Error::other(format!(
        "injected crash: {what} at write point {point}"
    )))
}

/// A [`PageStore`] whose `write_batch` calls are write points.
pub struct FaultPageStore<S: PageStore> {
    inner: S,
    injector: FaultInjector,
}

impl<S: PageStore> FaultPageStore<S> {
    /// Wraps `inner`; `injector` may be shared with a [`FaultLogStore`].
    pub fn new(inner: S, injector: FaultInjector) -> Self {
        Self { inner, injector }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Unwraps the store.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: PageStore> PageStore for FaultPageStore<S> {
    fn page_size(&self) -> u32 {
        self.inner.page_size()
    }

    fn read_page(&mut self, id: PageId, buf: &mut [u8]) -> Result<bool> {
        self.inner.read_page(id, buf)
    }

    fn read_meta(&mut self) -> Result<Option<Vec<u8>>> {
        self.inner.read_meta()
    }

    fn write_batch(&mut self, pages: &[(PageId, &[u8])], meta: &[u8]) -> Result<()> {
        self.injector.point("write_batch")?;
        self.inner.write_batch(pages, meta)
    }
}

/// A [`LogStore`] whose `append`, `flush` and `sync` calls are write points.
pub struct FaultLogStore<S: LogStore> {
    inner: S,
    injector: FaultInjector,
}

impl<S: LogStore> FaultLogStore<S> {
    /// Wraps `inner`; `injector` may be shared with a [`FaultPageStore`].
    pub fn new(inner: S, injector: FaultInjector) -> Self {
        Self { inner, injector }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Unwraps the store.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: LogStore> LogStore for FaultLogStore<S> {
    fn append(&mut self, lsn: Lsn, record: &[u8]) -> Result<()> {
        self.injector.point("append")?;
        self.inner.append(lsn, record)
    }

    fn flush(&mut self) -> Result<()> {
        self.injector.point("flush")?;
        self.inner.flush()
    }

    fn sync(&mut self) -> Result<()> {
        self.injector.point("sync")?;
        self.inner.sync()
    }

    fn scan(&mut self, from: Lsn, f: &mut dyn FnMut(Lsn, &[u8]) -> Result<bool>) -> Result<()> {
        self.inner.scan(from, f)
    }

    fn truncate_before(&mut self, before: Lsn) -> Result<()> {
        self.injector.check_alive("truncate_before")?;
        self.inner.truncate_before(before)
    }

    fn last_lsn(&self) -> Option<Lsn> {
        self.inner.last_lsn()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemLogStore, MemPageStore};

    fn records(log: &mut impl LogStore) -> Vec<(Lsn, Vec<u8>)> {
        let mut out = Vec::new();
        log.scan(0, &mut |lsn, r| {
            out.push((lsn, r.to_vec()));
            Ok(true)
        })
        .unwrap();
        out
    }

    /// Runs a fixed workload of 6 points; returns how many succeeded.
    fn workload(pages: &mut impl PageStore, log: &mut impl LogStore) -> u64 {
        let page = vec![9u8; 1024];
        let mut ok = 0;
        let results = [
            log.append(1, b"a"),
            log.flush(),
            log.sync(),
            pages.write_batch(&[(1, &page)], b"m1"),
            log.append(2, b"b"),
            pages.write_batch(&[(2, &page)], b"m2"),
        ];
        for r in results {
            if r.is_ok() {
                ok += 1;
            }
        }
        ok
    }

    #[test]
    fn counts_points_without_a_crash() {
        let injector = FaultInjector::new();
        let mut pages = FaultPageStore::new(MemPageStore::new(1024).unwrap(), injector.clone());
        let mut log = FaultLogStore::new(MemLogStore::new(), injector.clone());
        assert_eq!(workload(&mut pages, &mut log), 6);
        assert_eq!(injector.points(), 6);
        assert!(!injector.crashed());
        assert_eq!(pages.inner().batch_count(), 2);
        assert_eq!(log.inner().sync_count(), 1);
    }

    #[test]
    fn crash_at_each_point_fails_it_and_all_later_ones() {
        for n in 1..=6 {
            let injector = FaultInjector::new();
            injector.crash_at(n);
            let mem_pages = MemPageStore::new(1024).unwrap();
            let mem_log = MemLogStore::new();
            let mut pages = FaultPageStore::new(mem_pages.clone(), injector.clone());
            let mut log = FaultLogStore::new(mem_log.clone(), injector.clone());
            assert_eq!(workload(&mut pages, &mut log), n - 1, "crash at {n}");
            assert!(injector.crashed());
            assert_eq!(injector.points(), 6);
            // Failed points changed nothing in the inner stores.
            let batches = [4, 6].iter().filter(|p| **p < n).count() as u64;
            assert_eq!(mem_pages.batch_count(), batches, "crash at {n}");
            let appended: Vec<Lsn> = [(1, 1), (5, 2)]
                .iter()
                .filter(|(p, _)| *p < n)
                .map(|(_, lsn)| *lsn)
                .collect();
            let seen: Vec<Lsn> = records(&mut log).iter().map(|(l, _)| *l).collect();
            assert_eq!(seen, appended, "crash at {n}");
            // Reads still work, writes keep failing, even uncounted ones.
            let mut buf = vec![0u8; 1024];
            assert_eq!(pages.read_page(1, &mut buf).unwrap(), n > 4);
            assert!(matches!(log.truncate_before(1), Err(Error::Io(_))));
            assert!(matches!(log.append(10, b"x"), Err(Error::Io(_))));
            // After the simulated power loss only synced records remain.
            mem_log.crash();
            let survived: Vec<Lsn> = records(&mut mem_log.clone())
                .iter()
                .map(|(l, _)| *l)
                .collect();
            let expected: Vec<Lsn> = if n > 3 { vec![1] } else { vec![] };
            assert_eq!(survived, expected, "crash at {n}");
        }
    }

    #[test]
    fn disarmed_injector_never_crashes() {
        let injector = FaultInjector::new();
        injector.crash_at(2);
        injector.crash_at(0);
        let mut log = FaultLogStore::new(MemLogStore::new(), injector.clone());
        for lsn in 1..=5 {
            log.append(lsn, b"r").unwrap();
        }
        log.truncate_before(3).unwrap();
        assert_eq!(log.last_lsn(), Some(5));
        assert_eq!(records(&mut log).len(), 3);
        assert_eq!(log.into_inner().len(), 3);
        let pages = FaultPageStore::new(MemPageStore::new(2048).unwrap(), injector);
        assert_eq!(pages.page_size(), 2048);
        assert_eq!(pages.into_inner().page_count(), 0);
    }
}
