//! Transaction handles and the set of snapshots still in use.
//!
//! A transaction is a [`TxnId`] handle into the engine's table of open
//! transactions; finishing it (commit or rollback) removes the entry, so a
//! stale handle is reported as unknown rather than silently reused.
//!
//! ```text
//!   commit ts:   1   2   3   4   5   6        (last_ts = 6)
//!   snapshots:       ^A      ^B  ^B'          counts {2:1, 4:1, 5:1}
//!   GC horizon:      2 = oldest snapshot; versions overwritten at ts <= 2
//!                    are invisible to every open transaction
//! ```
//!
//! Invariant: `Snapshots` holds exactly one count per open transaction, at
//! that transaction's snapshot timestamp.

use std::collections::BTreeMap;

use super::writeset::WriteSet;
use crate::wal::Timestamp;

/// One open transaction.
pub(crate) struct Txn {
    /// Sees every commit with `commit_ts <= snapshot`, and nothing later.
    pub snapshot: Timestamp,
    pub read_only: bool,
    pub writes: WriteSet,
}

/// A multiset of the snapshot timestamps of open transactions.
#[derive(Default)]
pub(crate) struct Snapshots {
    counts: BTreeMap<Timestamp, u32>,
    len: usize,
}

impl Snapshots {
    pub fn add(&mut self, ts: Timestamp) {
        *self.counts.entry(ts).or_default() += 1;
        self.len += 1;
    }

    pub fn remove(&mut self, ts: Timestamp) {
        let count = self
            .counts
            .get_mut(&ts)
            .expect("removed snapshot is registered");
        *count -= 1;
        if *count == 0 {
            self.counts.remove(&ts);
        }
        self.len -= 1;
    }

    /// The oldest snapshot in use: versions overwritten at or before it are
    /// garbage.
    pub fn oldest(&self) -> Option<Timestamp> {
        self.counts.keys().next().copied()
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_track_the_oldest_with_duplicates() {
        let mut s = Snapshots::default();
        assert_eq!(s.oldest(), None);
        s.add(5);
        s.add(3);
        s.add(3);
        assert_eq!((s.oldest(), s.len()), (Some(3), 3));
        s.remove(3);
        assert_eq!(s.oldest(), Some(3));
        s.remove(3);
        assert_eq!((s.oldest(), s.len()), (Some(5), 1));
        s.remove(5);
        assert_eq!((s.oldest(), s.len()), (None, 0));
    }
}
