//! Streaming frames out of a region of a file.
//!
//! ```text
//!   file:   ... [ frame ][ frame ][ fra|me ][ frame ] ...   region [start, end)
//!   buf:             [ frame ][ fra|          read ahead in chunks
//!                    ^ base   ^ pos        ^ filled
//! ```
//!
//! A frame is handed out as a slice of the buffer, so reading copies each
//! byte once (file to buffer). A frame larger than the buffer grows it.

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::error::Result;
use crate::store::frame::{decode_frame, decode_header, Frame, FrameError, FRAME_HEADER_LEN};

/// Bytes read ahead at a time.
const READ_CHUNK: usize = 256 << 10;

/// What the next position of the region holds.
pub(super) enum Step<'a> {
    Frame {
        offset: u64,
        frame: Frame<'a>,
    },
    /// A torn or damaged frame starts at `offset`.
    Bad {
        offset: u64,
        error: FrameError,
    },
    End,
}

pub(super) struct FrameReader<'a> {
    file: &'a File,
    /// File offset of `buf[0]`.
    base: u64,
    /// The next frame starts at `buf[pos]`.
    pos: usize,
    /// Bytes of `buf` read from the file.
    filled: usize,
    end: u64,
    buf: &'a mut Vec<u8>,
}

impl<'a> FrameReader<'a> {
    /// Reads frames from `[start, end)` of `file`, through `buf`.
    pub(super) fn new(file: &'a File, start: u64, end: u64, buf: &'a mut Vec<u8>) -> Self {
        FrameReader {
            file,
            base: start,
            pos: 0,
            filled: 0,
            end: end.max(start),
            buf,
        }
    }

    /// File offset of the next frame.
    pub(super) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(super) fn next(&mut self) -> Result<Step<'_>> {
        let offset = self.offset();
        if offset >= self.end {
            return Ok(Step::End);
        }
        self.fill(FRAME_HEADER_LEN as u64)?;
        let needed = match decode_header(&self.buf[self.pos..self.filled]) {
            Some((len, _, _)) => FRAME_HEADER_LEN as u64 + u64::from(len),
            None => {
                return Ok(Step::Bad {
                    offset,
                    error: FrameError::Incomplete {
                        needed: FRAME_HEADER_LEN as u64,
                    },
                })
            }
        };
        if needed > self.end - offset {
            return Ok(Step::Bad {
                offset,
                error: FrameError::Incomplete { needed },
            });
        }
        self.fill(needed)?;
        match decode_frame(&self.buf[self.pos..self.filled]) {
            Ok(frame) => {
                self.pos += frame.len;
                Ok(Step::Frame { offset, frame })
            }
            Err(error) => Ok(Step::Bad { offset, error }),
        }
    }

    /// Makes `buf[pos..filled]` hold `want` bytes, or all that is left of
    /// the region if that is less.
    fn fill(&mut self, want: u64) -> Result<()> {
        let want = want.min(self.end - self.offset()) as usize;
        if self.filled - self.pos >= want {
            return Ok(());
        }
        self.buf.copy_within(self.pos..self.filled, 0);
        self.filled -= self.pos;
        self.base += self.pos as u64;
        self.pos = 0;
        let left = self.end - self.base;
        let size = (want.max(READ_CHUNK) as u64).min(left) as usize;
        if self.buf.len() < size {
            self.buf.resize(size, 0);
        }
        let limit = (self.buf.len() as u64).min(left) as usize;
        while self.filled < want {
            let n = self.file.read_at(
                &mut self.buf[self.filled..limit],
                self.base + self.filled as u64,
            )?;
            if n == 0 {
                return Err(crate::corruption!(
                    "log segment ends at {} before its recorded end {}",
                    self.base + self.filled as u64,
                    self.end
                ));
            }
            self.filled += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::frame::encode_frame;

    #[test]
    fn reads_frames_across_chunk_boundaries_and_reports_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut bytes = vec![9u8; 5]; // a prefix outside the region
        let sizes = [10usize, READ_CHUNK - 7, 3, 2 * READ_CHUNK, 0, 100];
        for (i, size) in sizes.iter().enumerate() {
            encode_frame(i as u64 + 1, &vec![i as u8; *size], &mut bytes).unwrap();
        }
        let whole = bytes.len() as u64;
        bytes.extend_from_slice(&[1, 2, 3]); // the start of a torn frame
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        let mut buf = Vec::new();
        let mut reader = FrameReader::new(&file, 5, bytes.len() as u64, &mut buf);
        for (i, size) in sizes.iter().enumerate() {
            match reader.next().unwrap() {
                Step::Frame { frame, .. } => {
                    assert_eq!(frame.lsn, i as u64 + 1);
                    assert_eq!(frame.payload, &vec![i as u8; *size][..]);
                }
                _ => panic!("frame {i} missing"),
            }
        }
        match reader.next().unwrap() {
            Step::Bad {
                offset,
                error: FrameError::Incomplete { .. },
            } => assert_eq!(offset, whole),
            _ => panic!("torn tail not reported"),
        }
        // A region recorded longer than the file is an error, not a panic.
        let mut reader = FrameReader::new(&file, 5, bytes.len() as u64 + 100, &mut buf);
        let mut frames = 0;
        while let Step::Frame { .. } = reader.next().expect("whole frames read fine") {
            frames += 1;
            if frames == sizes.len() {
                break;
            }
        }
        assert!(reader.next().is_err());
        let mut reader = FrameReader::new(&file, whole, whole + 100, &mut buf);
        assert!(reader.next().is_err());
        let mut empty = FrameReader::new(&file, 5, 5, &mut buf);
        assert!(matches!(empty.next().unwrap(), Step::End));
    }
}
