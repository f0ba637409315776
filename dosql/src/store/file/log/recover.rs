//! Recovery of the file log at open.
//!
//! Open validates every frame of every segment. A torn tail in the last
//! segment (an incomplete frame, or a checksum mismatch with no valid frame
//! after it) is what a crash during a write leaves; it is cut away. A bad
//! frame followed by a valid one, or any bad frame in an earlier segment,
//! is damage to data that was once written whole: `Error::Corruption`.
//!
//! "A valid frame after it" is searched for at the bad frame's declared end
//! and at every later byte offset whose LSN field lies within
//! [`RESYNC_LSN_WINDOW`] after the last good LSN, which keeps the search
//! linear on ordinary data. Known limit: after a power loss (not a process
//! crash) the OS may have persisted a later part of an unsynced write but
//! not an earlier one; that unsynced tail is then reported as corruption
//! rather than cut away.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use super::super::reader::{FrameReader, Step};
use super::{segment_header, FileLogStore, Segment, RESYNC_LSN_WINDOW, SEGMENT_HEADER_LEN};
use crate::error::{Error, Result};
use crate::store::frame::{decode_frame, decode_header, FrameError, FRAME_HEADER_LEN};
use crate::store::Lsn;

impl FileLogStore {
    /// Validates one segment at open and adds it. A last segment whose
    /// header never reached the file is removed; one with a whole header and
    /// no record is kept: it names the next LSN (after a truncation of every
    /// record, or a crash before the first record of a new segment landed).
    pub(super) fn load_segment(
        &mut self,
        first_lsn: Lsn,
        path: PathBuf,
        is_last: bool,
    ) -> Result<()> {
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let mut len = file.metadata()?.len();
        let name = path.display().to_string();
        let expected = segment_header(first_lsn);
        let mut header = [0u8; SEGMENT_HEADER_LEN];
        let have = (len as usize).min(SEGMENT_HEADER_LEN);
        file.read_exact_at(&mut header[..have], 0)?;
        if header[..have] != expected[..have] {
            return Err(crate::corruption!("{name}: bad segment header"));
        }
        if have < SEGMENT_HEADER_LEN {
            // Created, but the header never made it: a torn creation.
            if !is_last {
                return Err(crate::corruption!("{name}: truncated segment header"));
            }
            return self.remove_empty(path);
        }
        let mut prev = self.last_lsn;
        let mut frames = 0u64;
        let mut reader =
            FrameReader::new(&file, SEGMENT_HEADER_LEN as u64, len, &mut self.read_buf);
        loop {
            match reader.next()? {
                Step::End => break,
                Step::Frame { offset, frame } => {
                    let in_order = if frames == 0 {
                        frame.lsn == first_lsn && prev.is_none_or(|p| p < first_lsn)
                    } else {
                        prev.is_some_and(|p| frame.lsn > p)
                    };
                    if !in_order {
                        return Err(crate::corruption!(
                            "{name}: LSN {} out of order at offset {offset}",
                            frame.lsn
                        ));
                    }
                    prev = Some(frame.lsn);
                    frames += 1;
                }
                Step::Bad { offset, error } => {
                    if !is_last {
                        return Err(error.into_error(&format!("{name} at offset {offset}")));
                    }
                    let last_good = prev.unwrap_or(first_lsn.saturating_sub(1));
                    if valid_frame_after(&file, offset, len, error, last_good)? {
                        return Err(error.into_error(&format!(
                            "{name} at offset {offset}, before valid frames"
                        )));
                    }
                    // The torn tail of the last write: cut it away.
                    file.set_len(offset)?;
                    file.sync_data()?;
                    len = offset;
                    break;
                }
            }
        }
        if frames == 0 {
            if !is_last {
                return Err(crate::corruption!("{name}: segment holds no records"));
            }
            if prev.is_some_and(|p| p >= first_lsn) {
                return Err(crate::corruption!(
                    "{name}: empty segment does not follow LSN {}",
                    prev.unwrap_or_default()
                ));
            }
            // LSNs are consecutive, so the record before this segment's
            // first one was `first_lsn - 1`, whether or not it is still held.
            prev = first_lsn.checked_sub(1).filter(|l| *l > 0);
        }
        self.last_lsn = prev;
        self.segments.push(Segment {
            first_lsn,
            path,
            file,
            len,
            dirty: false,
            empty: frames == 0,
        });
        Ok(())
    }

    fn remove_empty(&mut self, path: PathBuf) -> Result<()> {
        std::fs::remove_file(&path)?;
        self.dir_dirty = true;
        Ok(())
    }
}

/// Whether a valid frame with an LSN above `last_good` starts anywhere in
/// `[bad_offset, end)` after the bad frame at `bad_offset`.
fn valid_frame_after(
    file: &File,
    bad_offset: u64,
    end: u64,
    bad: FrameError,
    last_good: Lsn,
) -> Result<bool> {
    let len = usize::try_from(end - bad_offset)
        .map_err(|_| Error::LimitExceeded("log tail too large to inspect".into()))?;
    let mut tail = vec![0u8; len];
    file.read_exact_at(&mut tail, bad_offset)?;
    let valid_at = |at: usize| match tail.get(at..).map(decode_frame) {
        Some(Ok(frame)) => frame.lsn > last_good,
        _ => false,
    };
    if let FrameError::Checksum { len } = bad {
        if usize::try_from(len).is_ok_and(valid_at) {
            return Ok(true);
        }
    }
    for at in 1..tail.len().saturating_sub(FRAME_HEADER_LEN - 1) {
        let Some((_, _, lsn)) = decode_header(&tail[at..]) else {
            break;
        };
        if lsn > last_good && lsn - last_good <= RESYNC_LSN_WINDOW && valid_at(at) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::super::segment_name;
    use super::super::tests::{all, expected, record, small_segments};
    use super::*;
    use crate::store::frame::encode_frame;
    use crate::store::LogStore;
    use std::path::Path;

    /// Writes records 1..=3 synced, then record 4 (`payload`), and returns
    /// the segment path with the length before record 4.
    fn three_then_fourth(dir: &Path, payload: &[u8]) -> (PathBuf, u64) {
        let mut log = FileLogStore::open(dir).unwrap();
        for lsn in 1..=3 {
            log.append(lsn, &record(lsn)).unwrap();
        }
        log.sync().unwrap();
        let path = dir.join(segment_name(1));
        let before = std::fs::metadata(&path).unwrap().len();
        log.append(4, payload).unwrap();
        log.sync().unwrap();
        (path, before)
    }

    #[test]
    fn torn_tail_is_cut_at_every_length_of_the_last_frame() {
        let dir = tempfile::tempdir().unwrap();
        let (path, before) = three_then_fourth(dir.path(), &record(4));
        let whole = std::fs::read(&path).unwrap();
        for len in before..whole.len() as u64 {
            std::fs::write(&path, &whole[..len as usize]).unwrap();
            let mut log = FileLogStore::open(dir.path()).unwrap();
            assert_eq!(all(&mut log, 0), expected(1..=3), "cut at {len}");
            assert_eq!(
                std::fs::metadata(&path).unwrap().len(),
                before,
                "tail removed at {len}"
            );
            // The log continues where the good part ends.
            log.append(4, &record(4)).unwrap();
            log.sync().unwrap();
            drop(log);
            assert_eq!(
                all(&mut FileLogStore::open(dir.path()).unwrap(), 0),
                expected(1..=4)
            );
        }
    }

    #[test]
    fn damaged_or_zeroed_last_frame_is_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (path, before) = three_then_fourth(dir.path(), &record(4));
        let whole = std::fs::read(&path).unwrap();
        for i in before as usize..whole.len() {
            let mut bad = whole.clone();
            bad[i] ^= 0x04;
            std::fs::write(&path, &bad).unwrap();
            let mut log = FileLogStore::open(dir.path()).unwrap();
            assert_eq!(all(&mut log, 0), expected(1..=3), "byte {i} flipped");
        }
        let mut zeroed = whole[..before as usize].to_vec();
        zeroed.resize(whole.len() + 4096, 0);
        std::fs::write(&path, &zeroed).unwrap();
        let mut log = FileLogStore::open(dir.path()).unwrap();
        assert_eq!(all(&mut log, 0), expected(1..=3));
    }

    #[test]
    fn damage_before_valid_frames_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let (path, before) = three_then_fourth(dir.path(), &record(4));
        let whole = std::fs::read(&path).unwrap();
        let second = SEGMENT_HEADER_LEN + FRAME_HEADER_LEN + record(1).len();
        // Every byte of frame 2, the length field included.
        for i in second..second + FRAME_HEADER_LEN + record(2).len() {
            let mut bad = whole.clone();
            bad[i] ^= 0x40;
            std::fs::write(&path, &bad).unwrap();
            assert!(
                matches!(FileLogStore::open(dir.path()), Err(Error::Corruption(_))),
                "byte {i} of frame 2 flipped"
            );
        }
        // Frame 3 damaged, frame 4 intact.
        let mut bad = whole.clone();
        bad[before as usize - 1] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert!(matches!(
            FileLogStore::open(dir.path()),
            Err(Error::Corruption(_))
        ));
        std::fs::write(&path, &whole).unwrap();
        assert_eq!(
            all(&mut FileLogStore::open(dir.path()).unwrap(), 0),
            expected(1..=4)
        );
    }

    #[test]
    fn damage_in_an_earlier_segment_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = small_segments(dir.path(), 50);
        for lsn in 1..=4 {
            log.append(lsn, &record(lsn)).unwrap();
        }
        log.sync().unwrap();
        assert_eq!(log.segments(), vec![1, 2, 3, 4]);
        drop(log);
        let path = dir.path().join(segment_name(2));
        let whole = std::fs::read(&path).unwrap();
        // A torn tail of a non-last segment is damage too.
        std::fs::write(&path, &whole[..whole.len() - 1]).unwrap();
        assert!(matches!(
            FileLogStore::open(dir.path()),
            Err(Error::Corruption(_))
        ));
        std::fs::write(&path, &whole[..SEGMENT_HEADER_LEN]).unwrap();
        assert!(matches!(
            FileLogStore::open(dir.path()),
            Err(Error::Corruption(_))
        ));
        let mut bad_header = whole.clone();
        bad_header[16] ^= 1; // first LSN no longer matches the name
        std::fs::write(&path, &bad_header).unwrap();
        assert!(matches!(
            FileLogStore::open(dir.path()),
            Err(Error::Corruption(_))
        ));
        // A frame with an LSN that does not match the segment name.
        let mut wrong_lsn = whole[..SEGMENT_HEADER_LEN].to_vec();
        encode_frame(9, &record(2), &mut wrong_lsn).unwrap();
        std::fs::write(&path, &wrong_lsn).unwrap();
        assert!(matches!(
            FileLogStore::open(dir.path()),
            Err(Error::Corruption(_))
        ));
        std::fs::write(&path, &whole).unwrap();
        assert_eq!(
            all(&mut FileLogStore::open(dir.path()).unwrap(), 0),
            expected(1..=4)
        );
    }

    #[test]
    fn torn_segment_creation_is_removed_or_kept_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = small_segments(dir.path(), 50);
        log.append(1, &record(1)).unwrap();
        log.sync().unwrap();
        drop(log);
        let next = dir.path().join(segment_name(2));
        for len in [0, 5, SEGMENT_HEADER_LEN, SEGMENT_HEADER_LEN + 3] {
            std::fs::write(&next, &segment_header(2)[..len.min(SEGMENT_HEADER_LEN)]).unwrap();
            if len > SEGMENT_HEADER_LEN {
                let mut f = std::fs::read(&next).unwrap();
                f.extend_from_slice(&[1, 2, 3]);
                std::fs::write(&next, f).unwrap();
            }
            let mut log = small_segments(dir.path(), 50);
            if len < SEGMENT_HEADER_LEN {
                assert_eq!(log.segments(), vec![1], "torn header of {len} bytes");
                assert!(!next.exists());
            } else {
                // A whole header with no whole record: kept, naming LSN 2.
                assert_eq!(log.segments(), vec![1, 2], "empty segment of {len} bytes");
                assert_eq!(
                    std::fs::metadata(&next).unwrap().len(),
                    SEGMENT_HEADER_LEN as u64
                );
            }
            assert_eq!(log.last_lsn(), Some(1));
            assert_eq!(all(&mut log, 0), expected([1]));
        }
        std::fs::write(&next, b"garbage that is no header").unwrap();
        assert!(matches!(
            FileLogStore::open(dir.path()),
            Err(Error::Corruption(_))
        ));
        std::fs::remove_file(&next).unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
        let mut log = small_segments(dir.path(), 50);
        log.append(2, &record(2)).unwrap();
        log.append(3, &record(3)).unwrap();
        assert_eq!(log.segments(), vec![1, 2, 3]);
        assert_eq!(
            all(&mut log, 0),
            expected(1..=3),
            "new segments only in the buffer are scanned"
        );
    }
}
