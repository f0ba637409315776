//! The pager's meta blob: the root of everything a checkpoint stores.
//!
//! The store keeps one small meta blob next to the pages and replaces it
//! atomically with every batch, so the meta always describes exactly the
//! pages of the same batch. It holds the pager's own state (page size, page
//! high-water mark, free-list head) and embeds the caller's `user_meta`
//! (the transaction layer's catalog root, counters and checkpoint LSN).
//!
//! ```text
//! offset  size  field
//!      0     8  magic "DOSQLPGR"
//!      8     4  format version (1)
//!     12     4  page size
//!     16     8  page count: ids 1..=count have been handed out
//!     24     8  free-list head trunk page (0 = empty list)
//!     32     8  free page count (trunk pages included)
//!     40     4  user meta length N
//!     44     N  user meta
//!   44+N     4  CRC32 of bytes 0..44+N
//! ```
//!
//! Invariant: a blob that fails any check decodes to `Error::Corruption`,
//! never to a plausible but wrong state.

use crate::corruption;
use crate::error::{Error, Result};
use crate::store::{PageId, MAX_META_SIZE};

const MAGIC: &[u8; 8] = b"DOSQLPGR";
/// Format version of the pager meta and of every page kind it manages.
pub const FORMAT_VERSION: u32 = 1;
const FIXED: usize = 44;
const TRAILER: usize = 4;

/// Largest `user_meta` a checkpoint accepts.
pub const MAX_USER_META: usize = MAX_META_SIZE - FIXED - TRAILER;

/// The pager state persisted at each checkpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetaState {
    /// High-water mark: every id in `1..=page_count` is in use or free.
    pub page_count: u64,
    /// First trunk page of the free list, 0 when the list is empty.
    pub free_head: PageId,
    /// Number of free pages, trunk pages included.
    pub free_count: u64,
}

/// Encodes the meta blob for `state` and `user_meta` into `out`.
pub fn encode(
    page_size: u32,
    state: &MetaState,
    user_meta: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    if user_meta.len() > MAX_USER_META {
        return Err(Error::LimitExceeded(format!(
            "user meta of {} bytes exceeds {MAX_USER_META}",
            user_meta.len()
        )));
    }
    out.clear();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&page_size.to_le_bytes());
    out.extend_from_slice(&state.page_count.to_le_bytes());
    out.extend_from_slice(&state.free_head.to_le_bytes());
    out.extend_from_slice(&state.free_count.to_le_bytes());
    out.extend_from_slice(&(user_meta.len() as u32).to_le_bytes());
    out.extend_from_slice(user_meta);
    let crc = crc32fast::hash(out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Decodes a meta blob written by [`encode`], checking it against the
/// store's page size.
pub fn decode(page_size: u32, blob: &[u8]) -> Result<(MetaState, Vec<u8>)> {
    if blob.len() < FIXED + TRAILER {
        return Err(corruption!("pager meta is {} bytes, too short", blob.len()));
    }
    let (body, trailer) = blob.split_at(blob.len() - TRAILER);
    if crc32fast::hash(body) != u32_at(trailer, 0) {
        return Err(corruption!("pager meta checksum mismatch"));
    }
    if &body[..8] != MAGIC {
        return Err(corruption!("pager meta has a bad magic number"));
    }
    let version = u32_at(body, 8);
    if version != FORMAT_VERSION {
        return Err(corruption!(
            "pager meta has unsupported format version {version}"
        ));
    }
    let stored_size = u32_at(body, 12);
    if stored_size != page_size {
        return Err(corruption!(
            "pager meta page size {stored_size} differs from the store's {page_size}"
        ));
    }
    let state = MetaState {
        page_count: u64_at(body, 16),
        free_head: u64_at(body, 24),
        free_count: u64_at(body, 32),
    };
    let len = u32_at(body, 40) as usize;
    if body.len() - FIXED != len {
        return Err(corruption!(
            "pager meta user length {len} does not match the blob"
        ));
    }
    if state.free_head > state.page_count
        || state.free_count > state.page_count
        || (state.free_head == 0) != (state.free_count == 0)
    {
        return Err(corruption!(
            "pager meta has an inconsistent free list {state:?}"
        ));
    }
    Ok((state, body[FIXED..].to_vec()))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let state = MetaState {
            page_count: 9,
            free_head: 4,
            free_count: 3,
        };
        let mut out = Vec::new();
        encode(4096, &state, b"user", &mut out).unwrap();
        assert_eq!(out.len(), FIXED + 4 + TRAILER);
        let (back, user) = decode(4096, &out).unwrap();
        assert_eq!(back, state);
        assert_eq!(user, b"user");
    }

    #[test]
    fn every_damage_is_corruption() {
        let state = MetaState {
            page_count: 9,
            free_head: 0,
            free_count: 0,
        };
        let mut out = Vec::new();
        encode(1024, &state, b"xyz", &mut out).unwrap();
        for i in 0..out.len() {
            let mut bad = out.clone();
            bad[i] ^= 0x40;
            assert!(
                matches!(decode(1024, &bad), Err(Error::Corruption(_))),
                "byte {i}"
            );
        }
        for len in 0..out.len() {
            assert!(
                matches!(decode(1024, &out[..len]), Err(Error::Corruption(_))),
                "len {len}"
            );
        }
        assert!(matches!(decode(2048, &out), Err(Error::Corruption(_))));
    }

    #[test]
    fn inconsistent_state_is_corruption_even_with_valid_crc() {
        let state = MetaState {
            page_count: 2,
            free_head: 7,
            free_count: 1,
        };
        let mut out = Vec::new();
        encode(1024, &state, b"", &mut out).unwrap();
        assert!(matches!(decode(1024, &out), Err(Error::Corruption(_))));
    }

    #[test]
    fn oversized_user_meta_is_a_limit() {
        let big = vec![0u8; MAX_USER_META + 1];
        let err = encode(1024, &MetaState::default(), &big, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, Error::LimitExceeded(_)));
        let ok = vec![0u8; MAX_USER_META];
        let mut out = Vec::new();
        encode(1024, &MetaState::default(), &ok, &mut out).unwrap();
        assert_eq!(out.len(), MAX_META_SIZE);
    }
}
