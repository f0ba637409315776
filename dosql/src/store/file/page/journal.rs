//! The redo journal that makes a batch atomic: written and made durable
//! before any page is touched, replayed at open if complete, discarded if
//! torn. See the parent module for the protocol.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

use super::{le_u32, le_u64, FilePageStore, FORMAT_VERSION, IO_CHUNK};
use crate::error::Result;
use crate::store::{PageId, MAX_META_SIZE};

const JOURNAL_MAGIC: &[u8; 8] = b"DOSQLJNL";
const JOURNAL_HEADER_LEN: u64 = 32;

impl FilePageStore {
    /// Replays a committed journal, discards an uncommitted one.
    pub(super) fn recover(&mut self) -> Result<()> {
        let len = self.journal.metadata()?.len();
        if len == 0 {
            return Ok(());
        }
        if let Some((count, meta_len)) = self.validate_journal(len)? {
            self.replay_journal(count, meta_len)?;
            self.data.sync_data()?;
            self.meta_file.sync_data()?;
        }
        self.journal.set_len(0)?;
        self.journal.sync_data()?;
        Ok(())
    }

    /// Returns `(page count, meta length)` of a complete, valid journal.
    fn validate_journal(&mut self, len: u64) -> Result<Option<(u64, u64)>> {
        let mut header = [0u8; JOURNAL_HEADER_LEN as usize];
        if len < JOURNAL_HEADER_LEN + 4 || self.journal.read_exact_at(&mut header, 0).is_err() {
            return Ok(None);
        }
        if &header[0..8] != JOURNAL_MAGIC || le_u32(&header[8..12]) != FORMAT_VERSION {
            return Ok(None);
        }
        let page_size = le_u32(&header[12..16]);
        let count = le_u64(&header[16..24]);
        let meta_len = le_u64(&header[24..32]);
        let expected = count
            .checked_mul(8 + u64::from(page_size))
            .and_then(|pages| pages.checked_add(JOURNAL_HEADER_LEN + 4))
            .and_then(|n| n.checked_add(meta_len));
        if expected != Some(len) {
            return Ok(None);
        }
        // Checksum everything but the trailing crc, streaming.
        let mut hasher = crc32fast::Hasher::new();
        let mut remaining = len - 4;
        let mut offset = 0;
        self.scratch.resize(IO_CHUNK, 0);
        while remaining > 0 {
            let n = remaining.min(IO_CHUNK as u64) as usize;
            self.journal.read_exact_at(&mut self.scratch[..n], offset)?;
            hasher.update(&self.scratch[..n]);
            offset += n as u64;
            remaining -= n as u64;
        }
        let mut crc = [0u8; 4];
        self.journal.read_exact_at(&mut crc, len - 4)?;
        if hasher.finalize() != u32::from_le_bytes(crc) {
            return Ok(None);
        }
        // Checksummed yet inconsistent: not a torn write but damage.
        if page_size != self.page_size {
            return Err(crate::corruption!(
                "{}: journal page size {page_size} differs from the store's {}",
                self.path.display(),
                self.page_size
            ));
        }
        if meta_len > MAX_META_SIZE as u64 {
            return Err(crate::corruption!(
                "{}: journal meta of {meta_len} bytes",
                self.path.display()
            ));
        }
        Ok(Some((count, meta_len)))
    }

    fn replay_journal(&mut self, count: u64, meta_len: u64) -> Result<()> {
        let page_size = self.page_size as usize;
        let mut file = &self.journal;
        file.seek(SeekFrom::Start(JOURNAL_HEADER_LEN))?;
        let mut reader = BufReader::with_capacity(IO_CHUNK, file);
        let mut page = vec![0u8; page_size];
        for _ in 0..count {
            let mut id = [0u8; 8];
            reader.read_exact(&mut id)?;
            let id = u64::from_le_bytes(id);
            reader.read_exact(&mut page)?;
            let offset = self.page_offset(id).map_err(|_| {
                crate::corruption!("{}: journal names page {id}", self.path.display())
            })?;
            self.data.write_all_at(&page, offset)?;
            self.slots = self.slots.max(id + 1);
        }
        let mut meta = vec![0u8; meta_len as usize];
        reader.read_exact(&mut meta)?;
        drop(reader);
        self.write_meta_file(&meta)
    }

    /// Steps 1 and 2: the journal, durable. Failing here changes nothing.
    pub(super) fn write_journal(&mut self, pages: &[(PageId, &[u8])], meta: &[u8]) -> Result<()> {
        self.journal.set_len(0)?;
        let mut w = JournalWriter {
            file: &self.journal,
            offset: 0,
            buf: &mut self.scratch,
            hasher: crc32fast::Hasher::new(),
        };
        w.buf.clear();
        let mut header = [0u8; JOURNAL_HEADER_LEN as usize];
        header[0..8].copy_from_slice(JOURNAL_MAGIC);
        header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        header[12..16].copy_from_slice(&self.page_size.to_le_bytes());
        header[16..24].copy_from_slice(&(pages.len() as u64).to_le_bytes());
        header[24..32].copy_from_slice(&(meta.len() as u64).to_le_bytes());
        w.write(&header)?;
        for (id, page) in pages {
            w.write(&id.to_le_bytes())?;
            w.write(page)?;
        }
        w.write(meta)?;
        w.finish()?;
        self.journal.sync_data()?;
        Ok(())
    }
}

/// Buffers journal bytes, checksumming them on the way.
struct JournalWriter<'a> {
    file: &'a File,
    offset: u64,
    buf: &'a mut Vec<u8>,
    hasher: crc32fast::Hasher,
}

impl JournalWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        if self.buf.len() + bytes.len() > IO_CHUNK {
            self.flush()?;
        }
        if bytes.len() >= IO_CHUNK {
            self.file.write_all_at(bytes, self.offset)?;
            self.offset += bytes.len() as u64;
        } else {
            self.buf.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.file.write_all_at(self.buf, self.offset)?;
        self.offset += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        let crc = self.hasher.clone().finalize();
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{page, read, snapshot, sum, PS};
    use super::super::with_suffix;
    use super::*;
    use crate::error::Error;
    use crate::store::PageStore;
    use std::fs::OpenOptions;
    use std::path::Path;

    /// Leaves a committed journal for `pages`/`meta` without applying it, as
    /// a crash right after step 2 would; returns the journal bytes.
    fn crash_after_journal(path: &Path, pages: &[(PageId, &[u8])], meta: &[u8]) -> Vec<u8> {
        let mut store = FilePageStore::open(path, 1024).unwrap();
        store.write_journal(pages, meta).unwrap();
        drop(store);
        std::fs::read(with_suffix(path, "-journal")).unwrap()
    }

    #[test]
    fn complete_journal_is_replayed_even_after_partial_apply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut store = FilePageStore::open(&path, 1024).unwrap();
        store
            .write_batch(&[(1, &page(1)), (2, &page(2))], b"old")
            .unwrap();
        drop(store);
        let batch: [(PageId, &[u8]); 3] = [(2, &page(20)), (5, &page(5)), (3, &page(3))];
        let journal = crash_after_journal(&path, &batch, b"new meta");
        // Part of the batch reached the files before the crash, damaged.
        let data = OpenOptions::new().write(true).open(&path).unwrap();
        data.write_all_at(&page(20)[..300], 2 * PS as u64).unwrap();
        std::fs::write(with_suffix(&path, "-meta"), b"garbage").unwrap();
        let expected = (
            vec![
                Some(sum(&page(1))),
                Some(sum(&page(20))),
                Some(sum(&page(3))),
                None,
                Some(sum(&page(5))),
            ],
            Some(b"new meta".to_vec()),
        );
        let mut store = FilePageStore::open(&path, 1024).unwrap();
        assert_eq!(snapshot(&mut store, 5), expected);
        drop(store);
        assert_eq!(
            std::fs::metadata(with_suffix(&path, "-journal"))
                .unwrap()
                .len(),
            0
        );
        // A crash before the journal reset: replaying again changes nothing.
        std::fs::write(with_suffix(&path, "-journal"), &journal).unwrap();
        let mut store = FilePageStore::open(&path, 1024).unwrap();
        assert_eq!(snapshot(&mut store, 5), expected);
    }

    #[test]
    fn torn_journal_is_discarded_at_every_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut store = FilePageStore::open(&path, 1024).unwrap();
        store
            .write_batch(&[(1, &page(1)), (2, &page(2))], b"old")
            .unwrap();
        let before = snapshot(&mut store, 4);
        drop(store);
        let batch: [(PageId, &[u8]); 2] = [(2, &page(20)), (4, &page(4))];
        let journal = crash_after_journal(&path, &batch, b"new");
        let journal_path = with_suffix(&path, "-journal");
        for len in 0..journal.len() {
            std::fs::write(&journal_path, &journal[..len]).unwrap();
            let mut store = FilePageStore::open(&path, 1024).unwrap();
            assert_eq!(snapshot(&mut store, 4), before, "journal cut at {len}");
        }
        // A flipped byte anywhere makes it invalid too, as does extra data.
        for i in (0..journal.len()).step_by(97) {
            let mut bad = journal.clone();
            bad[i] ^= 0x10;
            std::fs::write(&journal_path, &bad).unwrap();
            let mut store = FilePageStore::open(&path, 1024).unwrap();
            assert_eq!(snapshot(&mut store, 4), before, "byte {i} flipped");
        }
        let mut longer = journal.clone();
        longer.push(0);
        std::fs::write(&journal_path, &longer).unwrap();
        let mut store = FilePageStore::open(&path, 1024).unwrap();
        assert_eq!(snapshot(&mut store, 4), before);
        drop(store);
        std::fs::write(&journal_path, &journal).unwrap();
        let mut store = FilePageStore::open(&path, 1024).unwrap();
        assert_eq!(
            read(&mut store, 4).map(|p| sum(&p)),
            Some(sum(&page(4))),
            "the whole journal still replays"
        );
    }

    #[test]
    fn checksummed_journal_for_another_page_size_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let other = dir.path().join("other");
        let journal = crash_after_journal(&other, &[(1, &page(1))], b"");
        drop(FilePageStore::open(&path, 2048).unwrap());
        std::fs::write(with_suffix(&path, "-journal"), journal).unwrap();
        assert!(matches!(
            FilePageStore::open(&path, 2048),
            Err(Error::Corruption(_))
        ));
    }

    #[test]
    fn creating_a_store_removes_a_stale_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let journal = crash_after_journal(&path, &[(1, &page(1))], b"stale");
        std::fs::remove_file(&path).unwrap();
        std::fs::write(with_suffix(&path, "-journal"), journal).unwrap();
        let mut store = FilePageStore::open(&path, 1024).unwrap();
        assert_eq!(snapshot(&mut store, 1), (vec![None], None));
    }
}
