//! The file log store: framed records in segment files.
//!
//! ```text
//!   dir/00000000000000000001.wal   [header][frame 1][frame 2]...[frame 41]
//!   dir/00000000000000000042.wal   [header][frame 42]...        <- active
//!                                                    + buf (appended, not
//!                                                      yet handed to the OS)
//! ```
//!
//! * `append` frames the record into an in-memory buffer (its one copy);
//!   records of 1 MiB and more skip the buffer and go straight to the file.
//! * `flush` writes the buffer to the active segment: the records now
//!   survive a process crash. `sync` flushes, then fdatasyncs every segment
//!   written since the last sync and, after creating or removing segments,
//!   the directory. Dropping the store without `flush` loses the buffer,
//!   exactly like a process crash.
//! * A new segment starts when the active one has reached the segment size;
//!   it is named by the LSN of its first record. A record is never split.
//! * `truncate_before` deletes whole segments that lie entirely below the
//!   LSN, oldest first. When that is every record, the active segment is
//!   replaced by an *empty* one (header only) named by the next LSN, made
//!   durable before anything is deleted: a checkpointed bulk load leaves
//!   no WAL bytes behind, and the last LSN still survives a restart (an
//!   empty last segment named `n` means "the last record was `n - 1`").
//!
//! Opening validates every segment; see [`recover`].

mod recover;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::reader::{FrameReader, Step};
use super::{poisoned_error, sync_dir};
use crate::error::Result;
use crate::store::frame::{decode_frame, frame_header};
use crate::store::{LogStore, Lsn};

/// Default size at which a new segment is started.
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 << 20;

/// How far past the last good LSN a frame found while resynchronising may
/// lie. LSNs from the WAL are consecutive, so the next record is +1.
pub const RESYNC_LSN_WINDOW: u64 = 1 << 20;

const SEGMENT_MAGIC: &[u8; 8] = b"DOSQLWAL";
const FORMAT_VERSION: u32 = 1;
const SEGMENT_HEADER_LEN: usize = 24;
const SEGMENT_SUFFIX: &str = ".wal";

/// Records at least this large are written straight to the file.
const DIRECT_WRITE: usize = 1 << 20;
/// Buffer capacity kept after a flush; more is returned to the allocator.
const KEEP_BUFFER: usize = 4 << 20;

/// Options of a [`FileLogStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileLogOptions {
    /// A new segment starts once the active one holds this many bytes.
    pub segment_size: u64,
}

impl Default for FileLogOptions {
    fn default() -> Self {
        FileLogOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
        }
    }
}

struct Segment {
    first_lsn: Lsn,
    path: PathBuf,
    file: File,
    /// Bytes handed to the OS (the file length).
    len: u64,
    /// Written since the last sync.
    dirty: bool,
    /// Holds no record (only its header): named by the next LSN.
    empty: bool,
}

/// A [`LogStore`] in segment files in one directory.
pub struct FileLogStore {
    dir: PathBuf,
    options: FileLogOptions,
    /// Ascending by first LSN; the last one is active.
    segments: Vec<Segment>,
    /// Bytes appended to the active segment but not yet flushed.
    buf: Vec<u8>,
    last_lsn: Option<Lsn>,
    /// A segment file was created or removed since the last sync.
    dir_dirty: bool,
    /// A write failed: the files may not match `segments` any more.
    poisoned: bool,
    /// Reused by scans.
    read_buf: Vec<u8>,
}

impl FileLogStore {
    /// Opens (creating if needed) the log in `dir` with default options.
    pub fn open(dir: &Path) -> Result<FileLogStore> {
        Self::open_with(dir, FileLogOptions::default())
    }

    /// Opens (creating if needed) the log in `dir`, validating every segment
    /// and cutting away a torn tail.
    pub fn open_with(dir: &Path, options: FileLogOptions) -> Result<FileLogStore> {
        if options.segment_size == 0 {
            return Err(crate::invalid!("segment size must be positive"));
        }
        if !dir.exists() {
            std::fs::create_dir_all(dir)?;
            sync_dir(dir.parent().unwrap_or(Path::new("")))?;
        }
        let mut store = FileLogStore {
            dir: dir.to_path_buf(),
            options,
            segments: Vec::new(),
            buf: Vec::new(),
            last_lsn: None,
            dir_dirty: false,
            poisoned: false,
            read_buf: Vec::new(),
        };
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if let Some(first_lsn) = entry.file_name().to_str().and_then(parse_segment_name) {
                names.push((first_lsn, entry.path()));
            }
        }
        names.sort();
        let count = names.len();
        for (i, (first_lsn, path)) in names.into_iter().enumerate() {
            store.load_segment(first_lsn, path, i + 1 == count)?;
        }
        // Whatever the last process handed to the OS is made durable now, so
        // that everything found at open stays found after a power loss.
        for segment in &store.segments {
            segment.file.sync_data()?;
        }
        if store.dir_dirty {
            sync_dir(&store.dir)?;
            store.dir_dirty = false;
        }
        if store.read_buf.capacity() > KEEP_BUFFER {
            store.read_buf = Vec::new(); // it grew to the largest record
        }
        Ok(store)
    }

    /// The first LSN of each segment, oldest first.
    pub fn segments(&self) -> Vec<Lsn> {
        self.segments.iter().map(|s| s.first_lsn).collect()
    }

    /// The directory holding the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn check_writable(&self) -> Result<()> {
        if self.poisoned {
            return Err(poisoned_error(&self.dir));
        }
        Ok(())
    }

    /// Runs a write, poisoning the store if it fails part-way.
    fn guarded<T>(&mut self, op: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.check_writable()?;
        let result = op(self);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn append_inner(&mut self, lsn: Lsn, header: &[u8], record: &[u8]) -> Result<()> {
        let roll = match self.segments.last() {
            None => true,
            // An empty segment is named by the LSN expected next; a record
            // with another LSN (stores accept gaps) needs a segment of its
            // own name, and the empty one has nothing to keep.
            Some(s) if s.empty => s.first_lsn != lsn,
            Some(s) => {
                let size = s.len + self.buf.len() as u64;
                size >= self.options.segment_size && size > SEGMENT_HEADER_LEN as u64
            }
        };
        if roll {
            if self.segments.last().is_some_and(|s| s.empty) {
                let empty = self.segments.pop().expect("checked above");
                std::fs::remove_file(&empty.path)?;
                self.dir_dirty = true;
            }
            self.start_segment(lsn)?;
        }
        if let Some(active) = self.segments.last_mut() {
            active.empty = false;
        }
        self.buf.extend_from_slice(header);
        if record.len() >= DIRECT_WRITE {
            self.flush_buf()?;
            let segment = self
                .segments
                .last_mut()
                .expect("a segment was just ensured");
            segment.file.write_all_at(record, segment.len)?;
            segment.len += record.len() as u64;
        } else {
            self.buf.extend_from_slice(record);
        }
        self.last_lsn = Some(lsn);
        Ok(())
    }

    /// Starts the segment whose first record is `lsn`. Its header goes out
    /// through the buffer together with that record.
    fn start_segment(&mut self, lsn: Lsn) -> Result<()> {
        self.flush_buf()?;
        let path = self.dir.join(segment_name(lsn));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        self.segments.push(Segment {
            first_lsn: lsn,
            path,
            file,
            len: 0,
            dirty: true,
            empty: true,
        });
        self.dir_dirty = true;
        self.buf.extend_from_slice(&segment_header(lsn));
        Ok(())
    }

    fn flush_buf(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let segment = self
            .segments
            .last_mut()
            .expect("buffered bytes belong to a segment");
        segment.file.write_all_at(&self.buf, segment.len)?;
        segment.len += self.buf.len() as u64;
        segment.dirty = true;
        self.buf.clear();
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = Vec::new();
        }
        Ok(())
    }

    fn scan_inner(
        &self,
        from: Lsn,
        buf: &mut Vec<u8>,
        f: &mut dyn FnMut(Lsn, &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let start = self
            .segments
            .partition_point(|s| s.first_lsn <= from)
            .saturating_sub(1);
        let count = self.segments.len();
        for (i, segment) in self.segments.iter().enumerate().skip(start) {
            let mut reader =
                FrameReader::new(&segment.file, SEGMENT_HEADER_LEN as u64, segment.len, buf);
            loop {
                match reader.next()? {
                    Step::End => break,
                    Step::Frame { frame, .. } => {
                        if frame.lsn >= from && !f(frame.lsn, frame.payload)? {
                            return Ok(());
                        }
                    }
                    Step::Bad { offset, error } => {
                        return Err(error.into_error(&format!(
                            "{} at offset {offset}",
                            segment.path.display()
                        )));
                    }
                }
            }
            if i + 1 == count {
                // The unflushed tail; it starts with the segment header when
                // the segment has not reached the file yet.
                let mut rest = &self.buf[if segment.len == 0 {
                    SEGMENT_HEADER_LEN.min(self.buf.len())
                } else {
                    0
                }..];
                while !rest.is_empty() {
                    let frame = decode_frame(rest).map_err(|e| e.into_error("log buffer"))?;
                    if frame.lsn >= from && !f(frame.lsn, frame.payload)? {
                        return Ok(());
                    }
                    rest = &rest[frame.len..];
                }
            }
        }
        Ok(())
    }
}

impl LogStore for FileLogStore {
    fn append(&mut self, lsn: Lsn, record: &[u8]) -> Result<()> {
        self.check_writable()?;
        if let Some(last) = self.last_lsn {
            if lsn <= last {
                return Err(crate::invalid!("LSN {lsn} does not follow {last}"));
            }
        }
        let header = frame_header(lsn, record)?;
        self.guarded(|s| s.append_inner(lsn, &header, record))
    }

    fn flush(&mut self) -> Result<()> {
        self.guarded(|s| s.flush_buf())
    }

    fn sync(&mut self) -> Result<()> {
        self.guarded(|s| {
            s.flush_buf()?;
            for segment in s.segments.iter_mut().filter(|s| s.dirty) {
                segment.file.sync_data()?;
                segment.dirty = false;
            }
            if s.dir_dirty {
                sync_dir(&s.dir)?;
                s.dir_dirty = false;
            }
            Ok(())
        })
    }

    fn scan(&mut self, from: Lsn, f: &mut dyn FnMut(Lsn, &[u8]) -> Result<bool>) -> Result<()> {
        let mut buf = std::mem::take(&mut self.read_buf);
        let result = self.scan_inner(from, &mut buf, f);
        if buf.capacity() <= KEEP_BUFFER {
            self.read_buf = buf;
        }
        result
    }

    fn truncate_before(&mut self, before: Lsn) -> Result<()> {
        self.guarded(|s| {
            if let Some(last) = s.last_lsn.filter(|l| *l < before) {
                let active_has_records = s.segments.last().is_some_and(|a| !a.empty);
                if active_has_records && last < Lsn::MAX {
                    // Every record goes: continue in an empty segment, made
                    // durable first, so that a crash at any point leaves
                    // either the old records or the marker of the next LSN.
                    s.start_segment(last + 1)?;
                    s.flush_buf()?;
                    let marker = s.segments.last_mut().expect("just started");
                    marker.file.sync_data()?;
                    marker.dirty = false;
                    sync_dir(&s.dir)?;
                    s.dir_dirty = false;
                }
            }
            // Segment 0 lies entirely below `before` when the next one
            // starts at or below it.
            while s.segments.len() > 1 && s.segments[1].first_lsn <= before {
                std::fs::remove_file(&s.segments[0].path)?;
                s.segments.remove(0);
                s.dir_dirty = true;
            }
            Ok(())
        })
    }

    fn last_lsn(&self) -> Option<Lsn> {
        self.last_lsn
    }
}

fn segment_name(first_lsn: Lsn) -> String {
    format!("{first_lsn:020}{SEGMENT_SUFFIX}")
}

fn parse_segment_name(name: &str) -> Option<Lsn> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn segment_header(first_lsn: Lsn) -> [u8; SEGMENT_HEADER_LEN] {
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    header[0..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    // Bytes 12..16 are reserved (zero).
    header[16..24].copy_from_slice(&first_lsn.to_le_bytes());
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    /// 16 bytes, so a frame is 32.
    pub(super) fn record(lsn: Lsn) -> Vec<u8> {
        format!("record {lsn:09}").into_bytes()
    }

    pub(super) fn all(log: &mut FileLogStore, from: Lsn) -> Vec<(Lsn, Vec<u8>)> {
        let mut out = Vec::new();
        log.scan(from, &mut |lsn, r| {
            out.push((lsn, r.to_vec()));
            Ok(true)
        })
        .unwrap();
        out
    }

    pub(super) fn expected(lsns: impl IntoIterator<Item = Lsn>) -> Vec<(Lsn, Vec<u8>)> {
        lsns.into_iter().map(|l| (l, record(l))).collect()
    }

    pub(super) fn small_segments(dir: &Path, segment_size: u64) -> FileLogStore {
        FileLogStore::open_with(dir, FileLogOptions { segment_size }).unwrap()
    }

    #[test]
    fn round_trip_flush_sync_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = FileLogStore::open(dir.path()).unwrap();
        assert_eq!(log.last_lsn(), None);
        assert_eq!(all(&mut log, 0), vec![]);
        log.append(1, &record(1)).unwrap();
        log.append(5, &record(5)).unwrap();
        assert_eq!(
            all(&mut log, 0),
            expected([1, 5]),
            "unflushed records are scanned"
        );
        assert!(matches!(
            log.append(5, b"again"),
            Err(Error::InvalidInput(_))
        ));
        log.flush().unwrap();
        log.append(6, &record(6)).unwrap();
        assert_eq!(all(&mut log, 2), expected([5, 6]));
        log.sync().unwrap();
        log.append(7, &record(7)).unwrap();
        log.flush().unwrap();
        log.append(8, &record(8)).unwrap(); // never flushed: lost with the process
        drop(log);
        let mut log = FileLogStore::open(dir.path()).unwrap();
        assert_eq!(log.last_lsn(), Some(7));
        assert_eq!(all(&mut log, 0), expected([1, 5, 6, 7]));
        let mut seen = 0;
        log.scan(0, &mut |_, _| {
            seen += 1;
            Ok(seen < 2)
        })
        .unwrap();
        assert_eq!(seen, 2, "scan stops when asked");
        log.append(8, &record(8)).unwrap();
        log.sync().unwrap();
        drop(log);
        assert_eq!(
            all(&mut FileLogStore::open(dir.path()).unwrap(), 7),
            expected([7, 8])
        );
        assert!(FileLogStore::open_with(dir.path(), FileLogOptions { segment_size: 0 }).is_err());
    }

    #[test]
    fn large_records_bypass_the_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = FileLogStore::open(dir.path()).unwrap();
        let big = vec![0xABu8; DIRECT_WRITE + 17];
        log.append(1, b"small").unwrap();
        log.append(2, &big).unwrap();
        log.append(3, b"after").unwrap();
        let lens: Vec<usize> = all(&mut log, 0).iter().map(|(_, r)| r.len()).collect();
        assert_eq!(lens, vec![5, big.len(), 5]);
        log.sync().unwrap();
        drop(log);
        let mut log = FileLogStore::open(dir.path()).unwrap();
        assert_eq!(all(&mut log, 2)[0], (2, big));
    }

    #[test]
    fn segments_roll_and_truncate_before_drops_whole_segments() {
        let dir = tempfile::tempdir().unwrap();
        // Segments hold 3 frames of 32 bytes.
        let mut log = small_segments(dir.path(), (SEGMENT_HEADER_LEN + 3 * 32) as u64);
        for lsn in 1..=10 {
            log.append(lsn, &record(lsn)).unwrap();
        }
        assert_eq!(log.segments(), vec![1, 4, 7, 10]);
        let got: Vec<Lsn> = all(&mut log, 5).iter().map(|(l, _)| *l).collect();
        assert_eq!(
            got,
            (5..=10).collect::<Vec<_>>(),
            "scan across segments, unflushed included"
        );
        log.sync().unwrap();
        log.truncate_before(6).unwrap();
        assert_eq!(
            log.segments(),
            vec![4, 7, 10],
            "segment 4..=6 still holds 5"
        );
        log.truncate_before(7).unwrap();
        assert_eq!(log.segments(), vec![7, 10]);
        log.truncate_before(10).unwrap();
        assert_eq!(log.segments(), vec![10], "the active segment holds 10");
        log.truncate_before(100).unwrap();
        assert_eq!(
            log.segments(),
            vec![11],
            "every record gone: an empty segment names the next LSN"
        );
        assert_eq!(log.last_lsn(), Some(10));
        assert!(all(&mut log, 0).is_empty());
        let files: Vec<u64> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .collect();
        assert_eq!(
            files,
            vec![SEGMENT_HEADER_LEN as u64],
            "no record bytes left"
        );
        drop(log);
        let mut log = small_segments(dir.path(), (SEGMENT_HEADER_LEN + 3 * 32) as u64);
        assert_eq!((log.last_lsn(), log.segments()), (Some(10), vec![11]));
        assert!(log.append(10, &record(10)).is_err(), "LSNs never repeat");
        log.append(11, &record(11)).unwrap();
        log.sync().unwrap();
        assert_eq!(all(&mut log, 0), vec![(11, record(11))]);
        drop(log);
        let mut log = small_segments(dir.path(), (SEGMENT_HEADER_LEN + 3 * 32) as u64);
        assert_eq!((log.last_lsn(), log.segments()), (Some(11), vec![11]));
        log.truncate_before(12).unwrap();
        // A gap after an empty segment: it is replaced by one of the new name.
        log.append(20, &record(20)).unwrap();
        log.sync().unwrap();
        assert_eq!(log.segments(), vec![20]);
        drop(log);
        let mut log = small_segments(dir.path(), (SEGMENT_HEADER_LEN + 3 * 32) as u64);
        assert_eq!(all(&mut log, 0), vec![(20, record(20))]);
    }

    #[test]
    fn a_torn_first_record_leaves_an_empty_segment_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = small_segments(dir.path(), (SEGMENT_HEADER_LEN + 32) as u64);
        log.append(1, &record(1)).unwrap();
        log.append(2, &record(2)).unwrap();
        log.sync().unwrap();
        drop(log);
        // Tear record 2, the only one of its segment, after its header.
        let second = dir.path().join(segment_name(2));
        let file = OpenOptions::new().write(true).open(&second).unwrap();
        file.set_len(SEGMENT_HEADER_LEN as u64 + 10).unwrap();
        let mut log = FileLogStore::open(dir.path()).unwrap();
        assert_eq!((log.last_lsn(), log.segments()), (Some(1), vec![1, 2]));
        log.append(2, &record(2)).unwrap();
        log.sync().unwrap();
        drop(log);
        let mut log = FileLogStore::open(dir.path()).unwrap();
        assert_eq!(all(&mut log, 0).len(), 2);
    }

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(segment_name(42), "00000000000000000042.wal");
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_segment_name("42.wal"), None);
        assert_eq!(parse_segment_name("0000000000000000004x.wal"), None);
        assert_eq!(parse_segment_name("99999999999999999999.wal"), None);
    }
}
