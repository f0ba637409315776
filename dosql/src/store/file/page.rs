//! The file page store: pages in place, batches made atomic by a redo
//! journal.
//!
//! ```text
//!   write_batch(pages, meta)
//!     1. journal  <- header, every (id, page), meta, crc32 of all of it
//!     2. fsync journal                      <- the commit point
//!     3. data file <- pages in place (sorted, contiguous runs coalesced)
//!        meta file <- meta
//!     4. fsync data file, fsync meta file
//!     5. truncate the journal to 0
//! ```
//!
//! Invariant: whenever the journal holds a complete, valid batch, that batch
//! may be only partly applied, and replaying it (at open) completes it;
//! replay is idempotent because it writes whole pages and the whole meta.
//! A journal that is incomplete or fails its checksum was never committed:
//! nothing of it reached the data file (step 3 follows step 2), so it is
//! discarded. Step 5 needs no fsync: a stale, complete journal that survives
//! a crash holds a batch that was fully applied, and replaying it again is
//! harmless.
//!
//! A page is present when its slot lies within the data file and is not all
//! zero: holes left by writing a higher page read as absent. A page written
//! as all zeros therefore also reads as absent, with the same (zero) bytes.
//!
//! The meta lives in its own file because it can be far larger than a page.

mod journal;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{poisoned_error, sync_dir, with_suffix};
use crate::error::{Error, Result};
use crate::store::{check_batch, validate_page_size, PageId, PageStore, MAX_META_SIZE};

const DATA_MAGIC: &[u8; 8] = b"DOSQLDB\0";
const META_MAGIC: &[u8; 8] = b"DOSQLMET";
const FORMAT_VERSION: u32 = 1;

const DATA_HEADER_LEN: usize = 20;
const META_HEADER_LEN: usize = 20;

/// Size of the buffer the journal is written and read through.
const IO_CHUNK: usize = 1 << 20;

/// A [`PageStore`] in a data file plus journal and meta files beside it.
pub struct FilePageStore {
    path: PathBuf,
    data: File,
    journal: File,
    meta_file: File,
    page_size: u32,
    /// Whole page slots in the data file, the header slot 0 included.
    slots: u64,
    meta: Option<Vec<u8>>,
    /// Bytes in the meta file, to cut it when the meta shrinks.
    meta_file_len: u64,
    /// Reused for journal writes and coalesced page writes.
    scratch: Vec<u8>,
    /// Set when a write failed after the journal committed: the data file
    /// may be half-updated until the journal is replayed by a reopen.
    poisoned: bool,
}

impl FilePageStore {
    /// Opens the store at `path`, creating it with `page_size_for_new` if it
    /// does not exist. An existing store keeps the page size it was created
    /// with. A committed batch left in the journal by a crash is completed.
    pub fn open(path: &Path, page_size_for_new: u32) -> Result<FilePageStore> {
        validate_page_size(page_size_for_new)?;
        let journal_path = with_suffix(path, "-journal");
        let meta_path = with_suffix(path, "-meta");
        let dir = path.parent().unwrap_or(Path::new(""));
        if !path.exists() {
            create_data_file(path, &journal_path, &meta_path, page_size_for_new, dir)?;
        }
        let data = OpenOptions::new().read(true).write(true).open(path)?;
        let page_size = read_data_header(&data, path)?;
        let mut created = false;
        let journal = open_or_create(&journal_path, &mut created)?;
        let meta_file = open_or_create(&meta_path, &mut created)?;
        if created {
            sync_dir(dir)?;
        }
        let mut store = FilePageStore {
            path: path.to_path_buf(),
            slots: data.metadata()?.len() / u64::from(page_size),
            data,
            journal,
            meta_file,
            page_size,
            meta: None,
            meta_file_len: 0,
            scratch: Vec::new(),
            poisoned: false,
        };
        store.meta_file_len = store.meta_file.metadata()?.len();
        store.recover()?;
        store.meta = store.read_meta_file()?;
        if store.meta.is_none() && store.slots > 1 {
            // Pages reach the data file only in a batch that also writes the
            // meta, so pages without a meta mean a lost meta file.
            return Err(crate::corruption!("{}: pages but no meta", path.display()));
        }
        Ok(store)
    }

    /// The path of the data file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Byte offset of page `id`, rejecting ids whose page would end beyond
    /// the largest file offset.
    fn page_offset(&self, id: PageId) -> Result<u64> {
        let page_size = u64::from(self.page_size);
        match id.checked_mul(page_size) {
            Some(offset) if id != 0 && offset <= i64::MAX as u64 - page_size => Ok(offset),
            _ => Err(Error::LimitExceeded(format!(
                "page id {id} is beyond the file size limit"
            ))),
        }
    }

    fn read_meta_file(&mut self) -> Result<Option<Vec<u8>>> {
        let len = self.meta_file_len;
        if len == 0 {
            return Ok(None);
        }
        let bad = || crate::corruption!("{}-meta is damaged", self.path.display());
        if len < META_HEADER_LEN as u64 || len > (META_HEADER_LEN + MAX_META_SIZE) as u64 {
            return Err(bad());
        }
        let mut bytes = vec![0u8; len as usize];
        self.meta_file.read_exact_at(&mut bytes, 0)?;
        let meta_len = le_u32(&bytes[12..16]) as usize;
        if &bytes[0..8] != META_MAGIC
            || le_u32(&bytes[8..12]) != FORMAT_VERSION
            || META_HEADER_LEN + meta_len != bytes.len()
        {
            return Err(bad());
        }
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&bytes[0..16]);
        hasher.update(&bytes[META_HEADER_LEN..]);
        if hasher.finalize() != le_u32(&bytes[16..20]) {
            return Err(bad());
        }
        bytes.drain(..META_HEADER_LEN);
        Ok(Some(bytes))
    }

    fn write_meta_file(&mut self, meta: &[u8]) -> Result<()> {
        let mut bytes = Vec::with_capacity(META_HEADER_LEN + meta.len());
        bytes.extend_from_slice(META_MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&bytes[0..16]);
        hasher.update(meta);
        bytes.extend_from_slice(&hasher.finalize().to_le_bytes());
        bytes.extend_from_slice(meta);
        self.meta_file.write_all_at(&bytes, 0)?;
        if self.meta_file_len > bytes.len() as u64 {
            self.meta_file.set_len(bytes.len() as u64)?;
        }
        self.meta_file_len = bytes.len() as u64;
        self.meta = Some(meta.to_vec());
        Ok(())
    }

    /// Steps 3 to 5.
    fn apply(&mut self, pages: &[(PageId, &[u8])], meta: &[u8]) -> Result<()> {
        let page_size = self.page_size as usize;
        let mut order: Vec<usize> = (0..pages.len()).collect();
        order.sort_by_key(|&i| pages[i].0); // stable: a repeated id keeps its last image
        let mut run_start = 0; // offset of scratch[0] in the data file
        self.scratch.clear();
        for &i in &order {
            let (id, page) = pages[i];
            let offset = self.page_offset(id)?;
            let run_end = run_start + self.scratch.len() as u64;
            if !self.scratch.is_empty() && (offset != run_end || self.scratch.len() >= IO_CHUNK) {
                self.data.write_all_at(&self.scratch, run_start)?;
                self.scratch.clear();
            }
            if self.scratch.is_empty() {
                run_start = offset;
            }
            self.scratch.extend_from_slice(&page[..page_size]);
            self.slots = self.slots.max(id + 1);
        }
        if !self.scratch.is_empty() {
            self.data.write_all_at(&self.scratch, run_start)?;
        }
        if self.scratch.capacity() > 2 * IO_CHUNK {
            self.scratch = Vec::new();
        }
        self.write_meta_file(meta)?;
        self.data.sync_data()?;
        self.meta_file.sync_data()?;
        self.journal.set_len(0)?;
        Ok(())
    }
}

impl PageStore for FilePageStore {
    fn page_size(&self) -> u32 {
        self.page_size
    }

    fn read_page(&mut self, id: PageId, buf: &mut [u8]) -> Result<bool> {
        if buf.len() != self.page_size as usize {
            return Err(crate::invalid!(
                "read buffer of {} bytes for page size {}",
                buf.len(),
                self.page_size
            ));
        }
        if id == 0 {
            return Err(crate::invalid!("page id 0 is reserved"));
        }
        if self.poisoned {
            return Err(poisoned_error(&self.path));
        }
        if id >= self.slots {
            buf.fill(0);
            return Ok(false);
        }
        self.data
            .read_exact_at(buf, id * u64::from(self.page_size))?;
        // A real page almost always differs from zero in its first word, so
        // this stops at once except for holes.
        Ok(buf.iter().any(|b| *b != 0))
    }

    fn read_meta(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.clone())
    }

    fn write_batch(&mut self, pages: &[(PageId, &[u8])], meta: &[u8]) -> Result<()> {
        check_batch(self.page_size, pages, meta)?;
        if self.poisoned {
            return Err(poisoned_error(&self.path));
        }
        for (id, _) in pages {
            self.page_offset(*id)?;
        }
        self.write_journal(pages, meta)?;
        let result = self.apply(pages, meta);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }
}

/// Creates the data file atomically: written in full under a temporary
/// name, then renamed. Files of an earlier store at the same path are
/// removed first, so that their journal is never replayed into this one.
fn create_data_file(
    path: &Path,
    journal: &Path,
    meta: &Path,
    page_size: u32,
    dir: &Path,
) -> Result<()> {
    for stale in [journal, meta] {
        match std::fs::remove_file(stale) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    let tmp = with_suffix(path, "-new");
    let mut header = vec![0u8; page_size as usize];
    header[0..8].copy_from_slice(DATA_MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[12..16].copy_from_slice(&page_size.to_le_bytes());
    let crc = crc32fast::hash(&header[0..16]);
    header[16..20].copy_from_slice(&crc.to_le_bytes());
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    file.write_all_at(&header, 0)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    sync_dir(dir)
}

fn read_data_header(data: &File, path: &Path) -> Result<u32> {
    let mut header = [0u8; DATA_HEADER_LEN];
    let bad = |what: &str| crate::corruption!("{}: {what}", path.display());
    data.read_exact_at(&mut header, 0)
        .map_err(|_| bad("too short for a header"))?;
    if &header[0..8] != DATA_MAGIC {
        return Err(bad("not a DoSQL data file"));
    }
    if crc32fast::hash(&header[0..16]) != le_u32(&header[16..20]) {
        return Err(bad("header checksum mismatch"));
    }
    let version = le_u32(&header[8..12]);
    if version != FORMAT_VERSION {
        return Err(bad(&format!("unsupported format version {version}")));
    }
    let page_size = le_u32(&header[12..16]);
    validate_page_size(page_size).map_err(|_| bad(&format!("bad page size {page_size}")))?;
    Ok(page_size)
}

fn open_or_create(path: &Path, created: &mut bool) -> Result<File> {
    *created |= !path.exists();
    Ok(OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?)
}

fn le_u32(bytes: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(b)
}

fn le_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const PS: usize = 1024;

    pub(super) fn page(fill: u8) -> Vec<u8> {
        let mut p = vec![fill; PS];
        p[0] = 1; // never all zero
        p
    }

    pub(super) fn read(store: &mut FilePageStore, id: PageId) -> Option<Vec<u8>> {
        let mut buf = vec![0xAA; store.page_size() as usize];
        let present = store.read_page(id, &mut buf).unwrap();
        if !present {
            assert!(buf.iter().all(|b| *b == 0), "absent pages read as zeros");
        }
        present.then_some(buf)
    }

    pub(super) type Snapshot = (Vec<Option<(u8, u32)>>, Option<Vec<u8>>);

    /// Everything observable: pages 1..=max (as fill byte and checksum,
    /// to keep failure messages short) and the meta.
    pub(super) fn snapshot(store: &mut FilePageStore, max: PageId) -> Snapshot {
        let pages = (1..=max)
            .map(|id| read(store, id).map(|p| sum(&p)))
            .collect();
        (pages, store.read_meta().unwrap())
    }

    pub(super) fn sum(page: &[u8]) -> (u8, u32) {
        (page[1], crc32fast::hash(page))
    }

    #[test]
    fn round_trip_reopen_and_absent_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut store = FilePageStore::open(&path, 1024).unwrap();
        assert_eq!(store.page_size(), 1024);
        assert_eq!(store.read_meta().unwrap(), None);
        assert_eq!(read(&mut store, 1), None);
        store
            .write_batch(&[(3, &page(3)), (1, &page(1)), (2, &page(2))], b"m1")
            .unwrap();
        store
            .write_batch(&[(6, &page(6)), (2, &page(22))], b"")
            .unwrap();
        let expected = (
            vec![
                Some(sum(&page(1))),
                Some(sum(&page(22))),
                Some(sum(&page(3))),
                None,
                None,
                Some(sum(&page(6))),
            ],
            Some(Vec::new()),
        );
        assert_eq!(read(&mut store, 7), None, "beyond the end");
        assert_eq!(snapshot(&mut store, 6), expected, "pages 4 and 5 are holes");
        assert_eq!(
            std::fs::metadata(with_suffix(&path, "-journal"))
                .unwrap()
                .len(),
            0
        );
        drop(store);
        let mut store = FilePageStore::open(&path, 1024).unwrap();
        assert_eq!(snapshot(&mut store, 6), expected);
        let big_meta = vec![5u8; 100_000];
        store.write_batch(&[], &big_meta).unwrap();
        store.write_batch(&[], b"short").unwrap();
        drop(store);
        let mut store = FilePageStore::open(&path, 1024).unwrap();
        assert_eq!(store.read_meta().unwrap().as_deref(), Some(&b"short"[..]));
        assert_eq!(store.path(), path);
    }

    #[test]
    fn existing_page_size_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut store = FilePageStore::open(&path, 4096).unwrap();
        store.write_batch(&[(1, &vec![7u8; 4096])], b"m").unwrap();
        drop(store);
        let mut store = FilePageStore::open(&path, 1024).unwrap();
        assert_eq!(store.page_size(), 4096);
        let mut small = vec![0u8; 1024];
        assert!(matches!(
            store.read_page(1, &mut small),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            store.write_batch(&[(1, &small)], b""),
            Err(Error::InvalidInput(_))
        ));
        let mut buf = vec![0u8; 4096];
        assert!(store.read_page(1, &mut buf).unwrap());
        assert_eq!(buf, vec![7u8; 4096]);
        assert!(FilePageStore::open(&dir.path().join("other"), 1000).is_err());
    }

    #[test]
    fn rejects_bad_batches_and_ids() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = FilePageStore::open(&dir.path().join("db"), 1024).unwrap();
        assert!(matches!(
            store.write_batch(&[(0, &page(0))], b""),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            store.write_batch(&[(u64::MAX / 2, &page(0))], b""),
            Err(Error::LimitExceeded(_))
        ));
        let huge_meta = vec![0u8; MAX_META_SIZE + 1];
        assert!(matches!(
            store.write_batch(&[], &huge_meta),
            Err(Error::LimitExceeded(_))
        ));
        let mut buf = vec![0u8; PS];
        assert!(matches!(
            store.read_page(0, &mut buf),
            Err(Error::InvalidInput(_))
        ));
        assert!(!store.read_page(u64::MAX, &mut buf).unwrap());
        assert_eq!(
            store.read_meta().unwrap(),
            None,
            "rejected batches wrote nothing"
        );
    }

    #[test]
    fn damaged_files_are_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut store = FilePageStore::open(&path, 1024).unwrap();
        store.write_batch(&[(1, &page(1))], b"meta").unwrap();
        drop(store);
        let meta_path = with_suffix(&path, "-meta");
        let mut meta = std::fs::read(&meta_path).unwrap();
        let last = meta.len() - 1;
        meta[last] ^= 1;
        std::fs::write(&meta_path, &meta).unwrap();
        assert!(matches!(
            FilePageStore::open(&path, 1024),
            Err(Error::Corruption(_))
        ));
        meta[last] ^= 1;
        std::fs::write(&meta_path, &meta[..10]).unwrap();
        assert!(matches!(
            FilePageStore::open(&path, 1024),
            Err(Error::Corruption(_))
        ));
        std::fs::remove_file(&meta_path).unwrap();
        assert!(matches!(
            FilePageStore::open(&path, 1024),
            Err(Error::Corruption(_))
        ));
        std::fs::write(&meta_path, &meta).unwrap();
        assert_eq!(
            FilePageStore::open(&path, 1024)
                .unwrap()
                .read_meta()
                .unwrap()
                .unwrap(),
            b"meta"
        );
        let mut data = std::fs::read(&path).unwrap();
        data[12] ^= 1; // page size field
        std::fs::write(&path, &data).unwrap();
        assert!(matches!(
            FilePageStore::open(&path, 1024),
            Err(Error::Corruption(_))
        ));
        std::fs::write(&path, b"not a database").unwrap();
        assert!(matches!(
            FilePageStore::open(&path, 1024),
            Err(Error::Corruption(_))
        ));
    }

    #[test]
    fn large_batches_coalesce_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut store = FilePageStore::open(&path, 1024).unwrap();
        // More than IO_CHUNK of contiguous pages, plus scattered ones.
        let pages: Vec<(PageId, Vec<u8>)> = (1..=1500u64)
            .chain([2000, 1999, 5000])
            .map(|id| (id, page(id as u8)))
            .collect();
        let refs: Vec<(PageId, &[u8])> = pages.iter().map(|(id, p)| (*id, p.as_slice())).collect();
        store.write_batch(&refs, b"big").unwrap();
        drop(store);
        let mut store = FilePageStore::open(&path, 1024).unwrap();
        for (id, p) in &pages {
            assert_eq!(
                read(&mut store, *id).map(|p| sum(&p)),
                Some(sum(p)),
                "page {id}"
            );
        }
        assert_eq!(read(&mut store, 1501), None);
        assert_eq!(read(&mut store, 4999), None);
    }
}
