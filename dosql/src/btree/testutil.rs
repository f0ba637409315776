//! Pagers for the unit tests of the B-tree modules: one definition instead
//! of a copy per test module.

use crate::pager::{Pager, PagerConfig};
use crate::store::MemPageStore;

/// A pager with the default cache over a fresh in-memory store.
pub(super) fn mem_pager(page_size: u32) -> Pager {
    let store = MemPageStore::new(page_size).expect("test page size is valid");
    pager_on(&store)
}

/// A pager with the default cache over `store`; the store handle stays
/// with the caller, so a test can drop the pager and reopen what it wrote.
pub(super) fn pager_on(store: &MemPageStore) -> Pager {
    Pager::open(Box::new(store.clone()), PagerConfig::default()).expect("open a memory store")
}
