//! Unsigned LEB128 varints: the one implementation behind every varint in
//! the formats (WAL records, B-tree cells, MVCC stamps and version keys).
//!
//! ```text
//!   value 300 = 0b10_0101100
//!   bytes       1010_1100  0000_0010
//!               ^ more     ^ last (high bit clear)
//!               low 7 bits first
//! ```
//!
//! Invariants:
//! * An encoding is 1 to [`MAX_LEN`] bytes; every byte but the last has its
//!   high bit set.
//! * Only the shortest form is valid: [`read`] rejects a last byte of `0x00`
//!   after the first byte (a longer spelling of a shorter value) and a tenth
//!   byte other than `0x00`/`0x01` (bits beyond 64), so that each value has
//!   exactly one encoding and a decoded structure re-encodes to its bytes.
//! * [`read`] never panics and never reads past its slice; callers turn
//!   `None` into a `Corruption` error that names what they were decoding.

/// Longest encoding of a `u64`.
pub const MAX_LEN: usize = 10;

/// Number of bytes [`write`] and [`push`] use for `v`.
#[inline]
pub fn len(v: u64) -> usize {
    // 7 value bits per byte; `| 1` makes zero take one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Writes `v` at the start of `dst` and returns the bytes written.
///
/// Panics if `dst` is shorter than [`len`]`(v)`: callers size their buffers
/// from [`len`], so a short one is a bug in the caller, not bad input.
#[inline]
pub fn write(dst: &mut [u8], mut v: u64) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        dst[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    dst[i] = v as u8;
    i + 1
}

/// Appends `v` to `out`.
#[inline]
pub fn push(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; MAX_LEN];
    let n = write(&mut buf, v);
    out.extend_from_slice(&buf[..n]);
}

/// Decodes the varint starting at `bytes[at]`, returning its value and
/// length; `None` when it is truncated (runs past the slice, or `at` is
/// out of range) or not in shortest form.
#[inline]
pub fn read(bytes: &[u8], at: usize) -> Option<(u64, usize)> {
    let first = *bytes.get(at)?;
    if first < 0x80 {
        return Some((u64::from(first), 1));
    }
    read_long(bytes.get(at..)?)
}

/// The multi-byte case of [`read`], kept out of line so that the one-byte
/// fast path inlines into B-tree searches.
#[inline(never)]
fn read_long(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(MAX_LEN) {
        if (i == MAX_LEN - 1 && b > 1) || (i > 0 && b == 0) {
            return None;
        }
        v |= u64::from(b & 0x7F) << (7 * i);
        if b < 0x80 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const EDGES: [u64; 12] = [
        0,
        1,
        127,
        128,
        16383,
        16384,
        (1 << 21) - 1,
        1 << 21,
        u32::MAX as u64,
        (1 << 63) - 1,
        1 << 63,
        u64::MAX,
    ];

    #[test]
    fn round_trips_with_exact_lengths() {
        for v in EDGES {
            let mut out = vec![0xAA];
            push(&mut out, v);
            assert_eq!(out.len() - 1, len(v), "{v}");
            assert_eq!(read(&out, 1), Some((v, len(v))), "{v}");
            let mut buf = [0u8; MAX_LEN];
            assert_eq!(write(&mut buf, v), len(v));
            assert_eq!(&buf[..len(v)], &out[1..]);
        }
        let expected = [1, 1, 1, 2, 2, 3, 3, 4, 5, 9, 10, 10];
        assert_eq!(EDGES.map(len), expected);
    }

    #[test]
    fn known_bytes() {
        let mut out = Vec::new();
        push(&mut out, 300);
        assert_eq!(out, [0xAC, 0x02]);
        let mut max = Vec::new();
        push(&mut max, u64::MAX);
        assert_eq!(
            max,
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        );
    }

    #[test]
    fn rejects_truncated_and_non_canonical_input() {
        let bad: [&[u8]; 8] = [
            &[],
            &[0x80],
            &[0x80, 0x80],
            &[0x80, 0x00],
            &[0xFF, 0x80, 0x00],
            &[0xFF; 10],
            &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02],
            &[0xFF; 11],
        ];
        for bytes in bad {
            assert_eq!(read(bytes, 0), None, "{bytes:?}");
        }
        assert_eq!(read(&[0x05], 1), None, "offset past the end");
        assert_eq!(read(&[0x05], usize::MAX), None);
        // Zero alone is canonical; so is a zero byte that starts a varint.
        assert_eq!(read(&[0x00], 0), Some((0, 1)));
        assert_eq!(read(&[0x80, 0x01], 0), Some((128, 2)));
    }
}
