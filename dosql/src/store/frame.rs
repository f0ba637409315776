//! The record frame: how one log record is laid out in a byte stream.
//!
//! Every store that persists log bytes as a stream (the file log store now, a
//! Durable Object store later) wraps each record in one frame:
//!
//! ```text
//!   0        4        8                16                 16 + len
//!   +--------+--------+----------------+------ ... -------+
//!   | len    | crc32  | lsn            | payload          |
//!   | u32 LE | u32 LE | u64 LE         | len bytes        |
//!   +--------+--------+----------------+------ ... -------+
//!                     \___________ crc32 covers ___________/
//! ```
//!
//! The checksum covers the LSN too, so that a frame copied to the wrong place
//! or an LSN with a flipped bit is caught, not only a damaged payload.
//!
//! Decoding distinguishes the two ways a frame goes bad, because a store
//! reacts differently to them:
//! * [`FrameError::Incomplete`]: the bytes end before the frame does. At the
//!   end of a log this is a torn tail (a write cut short by a crash).
//! * [`FrameError::Checksum`]: the frame is whole but its checksum does not
//!   match. At the end of a log it is also a torn tail (the file grew but not
//!   all of the new data reached the disk); anywhere else it is corruption.

use crate::error::{Error, Result};
use crate::store::Lsn;

/// Bytes of frame header before the payload.
pub const FRAME_HEADER_LEN: usize = 16;

/// Largest payload a frame can carry (the length field is a `u32`).
pub const MAX_FRAME_PAYLOAD: usize = u32::MAX as usize;

/// Why a byte slice does not start with a valid frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The slice ends before the frame does; `needed` is the total frame
    /// length if the header was readable, else the header length.
    Incomplete { needed: u64 },
    /// The frame is whole but its checksum does not match; `len` is the
    /// total frame length the header declares.
    Checksum { len: u64 },
}

impl FrameError {
    /// Converts into the crate error, naming where the frame was found.
    pub fn into_error(self, context: &str) -> Error {
        match self {
            FrameError::Incomplete { needed } => Error::Corruption(format!(
                "{context}: incomplete frame ({needed} bytes needed)"
            )),
            FrameError::Checksum { len } => Error::Corruption(format!(
                "{context}: checksum mismatch in frame of {len} bytes"
            )),
        }
    }
}

/// A frame decoded in place: the payload borrows from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub lsn: Lsn,
    pub payload: &'a [u8],
    /// Total bytes the frame occupies (header plus payload).
    pub len: usize,
}

/// The checksum of a frame: CRC32 over the LSN bytes then the payload.
pub fn frame_crc(lsn: Lsn, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&lsn.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Builds the 16-byte header of a frame. Fails if the payload is too large
/// for the length field.
pub fn frame_header(lsn: Lsn, payload: &[u8]) -> Result<[u8; FRAME_HEADER_LEN]> {
    let len = u32::try_from(payload.len()).map_err(|_| {
        Error::LimitExceeded(format!(
            "log record of {} bytes exceeds {MAX_FRAME_PAYLOAD}",
            payload.len()
        ))
    })?;
    let mut header = [0u8; FRAME_HEADER_LEN];
    header[0..4].copy_from_slice(&len.to_le_bytes());
    header[4..8].copy_from_slice(&frame_crc(lsn, payload).to_le_bytes());
    header[8..16].copy_from_slice(&lsn.to_le_bytes());
    Ok(header)
}

/// Appends the frame of `payload` at `lsn` to `out`.
pub fn encode_frame(lsn: Lsn, payload: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let header = frame_header(lsn, payload)?;
    out.reserve(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    Ok(())
}

/// Reads the header fields `(payload len, crc, lsn)` if `bytes` holds a whole
/// header.
pub fn decode_header(bytes: &[u8]) -> Option<(u32, u32, Lsn)> {
    let header: &[u8; FRAME_HEADER_LEN] = bytes.get(..FRAME_HEADER_LEN)?.try_into().ok()?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let mut lsn = [0u8; 8];
    lsn.copy_from_slice(&header[8..16]);
    Some((len, crc, u64::from_le_bytes(lsn)))
}

/// Decodes the frame at the start of `bytes`. Bytes after the frame are
/// ignored; `Frame::len` says where the next frame starts.
pub fn decode_frame(bytes: &[u8]) -> Result<Frame<'_>, FrameError> {
    let Some((len, crc, lsn)) = decode_header(bytes) else {
        return Err(FrameError::Incomplete {
            needed: FRAME_HEADER_LEN as u64,
        });
    };
    let total = FRAME_HEADER_LEN as u64 + u64::from(len);
    if (bytes.len() as u64) < total {
        return Err(FrameError::Incomplete { needed: total });
    }
    // `total <= bytes.len()`, so it fits in usize.
    let payload = &bytes[FRAME_HEADER_LEN..total as usize];
    if frame_crc(lsn, payload) != crc {
        return Err(FrameError::Checksum { len: total });
    }
    Ok(Frame {
        lsn,
        payload,
        len: total as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_concatenation() {
        let mut buf = Vec::new();
        encode_frame(7, b"hello", &mut buf).unwrap();
        encode_frame(9, b"", &mut buf).unwrap();
        let first = decode_frame(&buf).unwrap();
        assert_eq!(
            (first.lsn, first.payload, first.len),
            (7, &b"hello"[..], 21)
        );
        let second = decode_frame(&buf[first.len..]).unwrap();
        assert_eq!((second.lsn, second.payload, second.len), (9, &b""[..], 16));
        assert_eq!(first.len + second.len, buf.len());
    }

    #[test]
    fn every_truncation_is_incomplete() {
        let mut buf = Vec::new();
        encode_frame(1, b"some payload", &mut buf).unwrap();
        for cut in 0..buf.len() {
            let err = decode_frame(&buf[..cut]).unwrap_err();
            let needed = if cut < FRAME_HEADER_LEN {
                16
            } else {
                buf.len() as u64
            };
            assert_eq!(err, FrameError::Incomplete { needed }, "cut at {cut}");
        }
    }

    #[test]
    fn every_flipped_bit_outside_len_is_a_checksum_mismatch() {
        let mut buf = Vec::new();
        encode_frame(42, b"payload bytes", &mut buf).unwrap();
        for byte in 4..buf.len() {
            for bit in 0..8 {
                let mut bad = buf.clone();
                bad[byte] ^= 1 << bit;
                assert_eq!(
                    decode_frame(&bad).unwrap_err(),
                    FrameError::Checksum {
                        len: buf.len() as u64
                    },
                    "byte {byte} bit {bit}"
                );
            }
        }
        // A damaged length either overruns the input or misplaces the payload.
        for bit in 0..32 {
            let mut bad = buf.clone();
            let len = u32::from_le_bytes(bad[0..4].try_into().unwrap()) ^ (1 << bit);
            bad[0..4].copy_from_slice(&len.to_le_bytes());
            assert!(decode_frame(&bad).is_err(), "len bit {bit}");
        }
    }

    #[test]
    fn zeroed_bytes_are_not_a_frame() {
        let zeros = [0u8; 64];
        assert_eq!(
            decode_frame(&zeros).unwrap_err(),
            FrameError::Checksum { len: 16 }
        );
    }

    #[test]
    fn header_matches_layout() {
        let header = frame_header(0x0102_0304_0506_0708, b"ab").unwrap();
        assert_eq!(&header[0..4], &[2, 0, 0, 0]);
        assert_eq!(&header[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
        let crc = frame_crc(0x0102_0304_0506_0708, b"ab");
        assert_eq!(&header[4..8], &crc.to_le_bytes());
        assert_eq!(
            decode_header(&header),
            Some((2, crc, 0x0102_0304_0506_0708))
        );
        assert!(FrameError::Checksum { len: 3 }
            .into_error("x")
            .to_string()
            .contains("checksum"));
    }
}
