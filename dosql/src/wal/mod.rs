//! The write-ahead log: logical redo records of committed transactions.
//!
//! Only committed transactions are logged, one [`Record`] per commit, with
//! every change it made as before and after images. Recovery replays the
//! after images of records newer than the last checkpoint; change data
//! capture reads the same records later.
//!
//! ```text
//!   LogStore:  ... | lsn 41 | lsn 42 | lsn 43 | lsn 44 |
//!                    ^ truncate_before(42) may drop 41    ^ last_lsn
//!              |<---- durable (synced) ---->|  appended, not yet durable
//!                                       durable_lsn
//! ```
//!
//! Invariants:
//! * LSNs are consecutive from 1: each append takes `last_lsn + 1`. An
//!   append that fails takes no LSN.
//! * `durable_lsn <= last_lsn`. One [`Wal::sync`] makes every record
//!   appended so far durable (group commit). `durable_lsn` counts syncs made
//!   through this `Wal` only, so it is 0 after open until the first sync:
//!   records found at open may have reached the OS without reaching the disk.
//! * Truncation may remove every durable record (after a checkpoint the
//!   pages hold them all), never one that is not yet durable. The store
//!   keeps reporting the last LSN after that, across restarts too (the
//!   [`LogStore`] contract), so LSNs never restart below a checkpoint.
//!
//! The body encoding is in [`codec`]; the store adds the framing.

pub mod codec;

pub use codec::{decode_record, encode_record};

use crate::error::Result;
use crate::store::{LogStore, Lsn};

/// Identifies a transaction.
pub type TxnId = u64;
/// Identifies a tree (table or index) across restarts.
pub type TreeId = u64;
/// MVCC commit timestamp (a logical counter).
pub type Timestamp = u64;

/// One logged commit.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub lsn: Lsn,
    pub txn: TxnId,
    pub commit_ts: Timestamp,
    /// Wall-clock time of the commit in Unix milliseconds, as passed in.
    pub wall_time_ms: u64,
    pub changes: Vec<Change>,
}

/// One change within a committed transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Put {
        tree: TreeId,
        key: Vec<u8>,
        before: Option<Vec<u8>>,
        after: Vec<u8>,
    },
    Delete {
        tree: TreeId,
        key: Vec<u8>,
        before: Option<Vec<u8>>,
    },
    CreateTree {
        tree: TreeId,
        name: String,
        index: bool,
    },
    DropTree {
        tree: TreeId,
    },
}

/// A [`Change`] whose bytes are borrowed, so that a commit can log what it
/// applies without copying keys and values into owned changes first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ChangeRef<'a> {
    Put {
        tree: TreeId,
        key: &'a [u8],
        before: Option<&'a [u8]>,
        after: &'a [u8],
    },
    Delete {
        tree: TreeId,
        key: &'a [u8],
        before: Option<&'a [u8]>,
    },
    CreateTree {
        tree: TreeId,
        name: &'a str,
        index: bool,
    },
    DropTree {
        tree: TreeId,
    },
}

impl Change {
    /// The same change, borrowed.
    pub fn borrowed(&self) -> ChangeRef<'_> {
        match self {
            Change::Put {
                tree,
                key,
                before,
                after,
            } => ChangeRef::Put {
                tree: *tree,
                key,
                before: before.as_deref(),
                after,
            },
            Change::Delete { tree, key, before } => ChangeRef::Delete {
                tree: *tree,
                key,
                before: before.as_deref(),
            },
            Change::CreateTree { tree, name, index } => ChangeRef::CreateTree {
                tree: *tree,
                name,
                index: *index,
            },
            Change::DropTree { tree } => ChangeRef::DropTree { tree: *tree },
        }
    }
}

/// Capacity kept in the encode buffer between appends; a bulk commit may
/// grow it far beyond, and that memory is returned afterwards.
const KEEP_BUFFER: usize = 4 << 20;

/// The write-ahead log over a [`LogStore`].
pub struct Wal {
    log: Box<dyn LogStore>,
    /// The record being built: `MAX_HEAD_LEN` bytes of room for its head,
    /// then the encoded changes.
    buf: Vec<u8>,
    /// Changes in `buf`.
    pending: u64,
    last_lsn: Lsn,
    durable_lsn: Lsn,
    bytes_appended: u64,
}

impl Wal {
    /// Opens the log held by `log`, continuing after its last record.
    pub fn open(log: Box<dyn LogStore>) -> Result<Wal> {
        let last_lsn = log.last_lsn().unwrap_or(0);
        Ok(Wal {
            log,
            buf: Vec::new(),
            pending: 0,
            last_lsn,
            durable_lsn: 0,
            bytes_appended: 0,
        })
    }

    /// Logs one committed transaction under the next LSN and returns it.
    /// Not durable until [`Wal::sync`] (or, against a process crash only,
    /// [`Wal::flush`]).
    pub fn append(
        &mut self,
        txn: TxnId,
        commit_ts: Timestamp,
        wall_time_ms: u64,
        changes: &[Change],
    ) -> Result<Lsn> {
        self.start_record();
        for change in changes {
            self.push_change(change.borrowed());
        }
        self.append_record(txn, commit_ts, wall_time_ms)
    }

    /// Starts building a record change by change ([`Wal::push_change`],
    /// then [`Wal::append_record`]), dropping any unfinished one. This
    /// encodes each change straight into the record, while it is applied.
    pub fn start_record(&mut self) {
        self.buf.clear();
        self.buf.resize(codec::MAX_HEAD_LEN, 0);
        self.pending = 0;
    }

    /// Makes room for `additional` more bytes of changes, so that a large
    /// record is allocated once instead of grown by doubling.
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    /// Adds a change to the record started by [`Wal::start_record`] (or
    /// starts one).
    pub fn push_change(&mut self, change: ChangeRef<'_>) {
        self.ensure_started();
        codec::encode_change(change, &mut self.buf);
        self.pending += 1;
    }

    /// A record is being built exactly when `buf` holds at least its head
    /// room: `append_record` leaves it empty.
    fn ensure_started(&mut self) {
        if self.buf.len() < codec::MAX_HEAD_LEN {
            self.start_record();
        }
    }

    /// Changes added to the record being built.
    pub fn pending_changes(&self) -> u64 {
        self.pending
    }

    /// Logs the record built since [`Wal::start_record`] under the next LSN
    /// and returns it; the same bytes as [`Wal::append`] with its changes.
    pub fn append_record(
        &mut self,
        txn: TxnId,
        commit_ts: Timestamp,
        wall_time_ms: u64,
    ) -> Result<Lsn> {
        self.ensure_started();
        let lsn = self.last_lsn + 1;
        let mut head = [0u8; codec::MAX_HEAD_LEN];
        let n = codec::encode_head(&mut head, txn, commit_ts, wall_time_ms, self.pending);
        // The head goes right before the changes, in the room left for it.
        let start = codec::MAX_HEAD_LEN - n;
        self.buf[start..codec::MAX_HEAD_LEN].copy_from_slice(&head[..n]);
        let result = self.log.append(lsn, &self.buf[start..]);
        let len = (self.buf.len() - start) as u64;
        self.buf.clear();
        self.pending = 0;
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = Vec::new();
        }
        result?;
        self.last_lsn = lsn;
        self.bytes_appended += len;
        Ok(lsn)
    }

    /// Hands every appended record to the operating system: it survives a
    /// process crash, not a machine crash.
    pub fn flush(&mut self) -> Result<()> {
        self.log.flush()
    }

    /// Makes every record appended so far durable with one store sync.
    pub fn sync(&mut self) -> Result<()> {
        let target = self.last_lsn;
        self.log.sync()?;
        self.durable_lsn = target;
        Ok(())
    }

    /// The LSN of the last record appended; 0 if there is none.
    pub fn last_lsn(&self) -> Lsn {
        self.last_lsn
    }

    /// The highest LSN covered by a successful sync since open; 0 if none.
    pub fn durable_lsn(&self) -> Lsn {
        self.durable_lsn
    }

    /// Calls `f` with every record whose LSN is `>= from`, in LSN order.
    pub fn replay(&mut self, from: Lsn, f: &mut dyn FnMut(Record) -> Result<()>) -> Result<()> {
        self.scan(from, &mut |record| {
            f(record)?;
            Ok(true)
        })
    }

    /// Like [`Wal::replay`], but stops early when `f` returns `Ok(false)`.
    pub fn scan(&mut self, from: Lsn, f: &mut dyn FnMut(Record) -> Result<bool>) -> Result<()> {
        self.log
            .scan(from, &mut |lsn, bytes| f(decode_record(lsn, bytes)?))
    }

    /// Discards records with LSN `< lsn` (the store may keep some). Only
    /// durable records are discarded, so nothing before the first sync
    /// since open.
    pub fn truncate_before(&mut self, lsn: Lsn) -> Result<()> {
        self.log.truncate_before(lsn.min(self.durable_lsn + 1))
    }

    /// Body bytes appended since open, for checkpoint triggers.
    pub fn bytes_appended(&self) -> u64 {
        self.bytes_appended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemLogStore;

    fn put(key: &[u8]) -> Change {
        Change::Put {
            tree: 1,
            key: key.to_vec(),
            before: None,
            after: b"value".to_vec(),
        }
    }

    fn lsns(wal: &mut Wal, from: Lsn) -> Vec<Lsn> {
        let mut out = Vec::new();
        wal.replay(from, &mut |r| {
            out.push(r.lsn);
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn append_sync_and_reopen() {
        let store = MemLogStore::new();
        let mut wal = Wal::open(Box::new(store.clone())).unwrap();
        assert_eq!((wal.last_lsn(), wal.durable_lsn()), (0, 0));
        assert_eq!(wal.append(10, 1, 99, &[put(b"a")]).unwrap(), 1);
        assert_eq!(wal.append(11, 2, 100, &[put(b"b"), put(b"c")]).unwrap(), 2);
        assert_eq!((wal.last_lsn(), wal.durable_lsn()), (2, 0));
        wal.flush().unwrap();
        wal.sync().unwrap();
        assert_eq!(wal.durable_lsn(), 2);
        assert_eq!(store.sync_count(), 1);
        assert!(wal.bytes_appended() > 0);
        wal.append(12, 3, 101, &[]).unwrap();
        drop(wal);
        store.crash();
        let mut wal = Wal::open(Box::new(store)).unwrap();
        assert_eq!(
            (wal.last_lsn(), wal.durable_lsn(), wal.bytes_appended()),
            (2, 0, 0)
        );
        let mut records = Vec::new();
        wal.replay(2, &mut |r| {
            records.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            records,
            vec![Record {
                lsn: 2,
                txn: 11,
                commit_ts: 2,
                wall_time_ms: 100,
                changes: vec![put(b"b"), put(b"c")]
            }]
        );
        assert_eq!(wal.append(13, 3, 102, &[]).unwrap(), 3);
    }

    #[test]
    fn scan_stops_early_and_truncate_drops_old_records() {
        let store = MemLogStore::new();
        let mut wal = Wal::open(Box::new(store.clone())).unwrap();
        for i in 0..5u8 {
            wal.append(u64::from(i), u64::from(i), 0, &[put(&[i])])
                .unwrap();
        }
        let mut seen = 0;
        wal.scan(2, &mut |_| {
            seen += 1;
            Ok(seen < 2)
        })
        .unwrap();
        assert_eq!(seen, 2);
        wal.truncate_before(4).unwrap();
        assert_eq!(
            lsns(&mut wal, 0),
            vec![1, 2, 3, 4, 5],
            "nothing durable yet"
        );
        wal.sync().unwrap();
        wal.truncate_before(4).unwrap();
        assert_eq!(lsns(&mut wal, 0), vec![4, 5]);
        wal.append(9, 9, 0, &[put(b"x")]).unwrap();
        wal.truncate_before(100).unwrap();
        assert_eq!(
            lsns(&mut wal, 0),
            vec![6],
            "the record not yet durable stays"
        );
        wal.sync().unwrap();
        wal.truncate_before(100).unwrap();
        assert_eq!(
            lsns(&mut wal, 0),
            Vec::<Lsn>::new(),
            "every durable record goes"
        );
        drop(wal);
        let mut wal = Wal::open(Box::new(store)).unwrap();
        assert_eq!(
            wal.append(10, 10, 0, &[]).unwrap(),
            7,
            "LSNs continue after a full truncation"
        );
    }

    #[test]
    fn failed_append_takes_no_lsn() {
        use crate::store::{FaultInjector, FaultLogStore};
        let injector = FaultInjector::new();
        let mut wal = Wal::open(Box::new(FaultLogStore::new(
            MemLogStore::new(),
            injector.clone(),
        )))
        .unwrap();
        wal.append(1, 1, 0, &[put(b"a")]).unwrap();
        injector.crash_at(2);
        assert!(wal.append(2, 2, 0, &[put(b"b")]).is_err());
        assert_eq!(wal.last_lsn(), 1);
        assert!(wal.sync().is_err());
        assert_eq!(wal.durable_lsn(), 0);
        assert_eq!(lsns(&mut wal, 0), vec![1]);
    }

    #[test]
    fn large_records_release_the_buffer() {
        let mut wal = Wal::open(Box::new(MemLogStore::new())).unwrap();
        let big = Change::Put {
            tree: 1,
            key: vec![1],
            before: None,
            after: vec![7; KEEP_BUFFER + 1],
        };
        wal.append(1, 1, 0, std::slice::from_ref(&big)).unwrap();
        assert!(wal.buf.capacity() <= KEEP_BUFFER);
        let mut got = None;
        wal.replay(1, &mut |r| {
            got = Some(r.changes);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, Some(vec![big]));
    }

    #[test]
    fn records_built_change_by_change_match_whole_appends() {
        let store = MemLogStore::new();
        let mut wal = Wal::open(Box::new(store.clone())).unwrap();
        let changes = vec![
            Change::DropTree { tree: 3 },
            Change::CreateTree {
                tree: 4,
                name: "t".into(),
                index: true,
            },
            put(b"k"),
            Change::Delete {
                tree: 1,
                key: b"gone".to_vec(),
                before: Some(vec![7; 300]),
            },
        ];
        wal.append(9, 500, 1_700_000_000_000, &changes).unwrap();
        // Without start_record: push_change starts the record itself.
        for change in &changes {
            wal.push_change(change.borrowed());
        }
        assert_eq!(wal.pending_changes(), 4);
        wal.append_record(9, 500, 1_700_000_000_000).unwrap();
        // A started and abandoned record leaves nothing behind.
        wal.start_record();
        wal.push_change(put(b"dropped").borrowed());
        wal.start_record();
        wal.append_record(10, 501, 0).unwrap();
        let mut records = Vec::new();
        let mut log: Box<dyn LogStore> = Box::new(store);
        log.scan(0, &mut |lsn, bytes| {
            records.push((lsn, bytes.to_vec()));
            Ok(true)
        })
        .unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].1, records[1].1, "the same bytes either way");
        let mut expected = Vec::new();
        encode_record(
            &Record {
                lsn: 3,
                txn: 10,
                commit_ts: 501,
                wall_time_ms: 0,
                changes: vec![],
            },
            &mut expected,
        );
        assert_eq!(records[2], (3, expected));
    }
}
