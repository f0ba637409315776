//! The change stream of a database: replication slots and a subscription
//! that yields committed transactions in LSN order (see `docs/cdc.md`).
//!
//! ```text
//!   client.subscribe(Subscription::slot("audit").tables(["orders"]))
//!     loop: read_changes{slot | from_lsn, filter} ──> ChangeBatch
//!             txns ──> yielded one by one by ChangeStream::next
//!             none ──> sleep(poll interval, doubling up to the maximum), read again
//!   stream.ack(lsn) ──> ack_slot: the server may forget the WAL up to lsn
//! ```
//!
//! Invariants:
//! * Transactions come in LSN order, each at most once per stream: the
//!   stream keeps its own position (`next_lsn` of the last batch) and
//!   reads from it, so reading never depends on acknowledgements.
//! * Resuming is by position: a stream on a slot starts after the slot's
//!   acknowledged LSN (what a restarted consumer has not confirmed comes
//!   again: at least once); a stream from an LSN starts there. Nothing
//!   is acknowledged behind the caller's back.

use std::collections::VecDeque;
use std::time::Duration;

use shared_types::cdc::{ChangeBatch, ChangeFilter, ChangeTxn, RowOp, SlotInfo};
use shared_types::{Request, Response};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::transport::ws::unexpected;

/// Where a subscription starts and what it passes.
#[derive(Clone, Debug)]
pub struct Subscription {
    slot: Option<String>,
    from_lsn: u64,
    filter: ChangeFilter,
    poll: Duration,
    max_poll: Duration,
    max_txns: u32,
}

impl Subscription {
    /// After the acknowledged LSN of replication slot `name` (create it
    /// first with [`Client::create_slot`]).
    pub fn slot(name: &str) -> Subscription {
        Subscription {
            slot: Some(name.to_owned()),
            ..Subscription::from_lsn(0)
        }
    }

    /// Transactions with an LSN of `lsn` and above (0: the oldest the
    /// server still holds). The
    /// server must still hold them: a slot keeps them for its consumer.
    pub fn from_lsn(lsn: u64) -> Subscription {
        Subscription {
            slot: None,
            from_lsn: lsn,
            filter: ChangeFilter::default(),
            poll: Duration::from_millis(50),
            max_poll: Duration::from_secs(2),
            max_txns: 1000,
        }
    }

    /// Only these tables (case-insensitive); all when never called.
    pub fn tables<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tables: I) -> Self {
        self.filter.tables = tables.into_iter().map(Into::into).collect();
        self
    }

    /// Only these row operations; schema events always pass with their
    /// table.
    pub fn operations(mut self, ops: impl IntoIterator<Item = RowOp>) -> Self {
        self.filter.ops = ops.into_iter().collect();
        self
    }

    /// The first and the longest wait between reads that found nothing.
    pub fn poll_interval(mut self, first: Duration, max: Duration) -> Self {
        self.poll = first;
        self.max_poll = max.max(first);
        self
    }
}

/// An open subscription; see the module doc.
pub struct ChangeStream {
    client: Client,
    slot: Option<String>,
    filter: ChangeFilter,
    /// The next read starts here (`None`: at the slot's position).
    next_lsn: Option<u64>,
    ready: VecDeque<ChangeTxn>,
    poll: Duration,
    max_poll: Duration,
    max_txns: u32,
}

impl ChangeStream {
    /// The next committed transaction that passes the filter, waiting for
    /// one if there is none yet.
    pub async fn next(&mut self) -> Result<ChangeTxn> {
        let mut wait = self.poll;
        loop {
            if let Some(txn) = self.ready.pop_front() {
                return Ok(txn);
            }
            let batch = self.read().await?;
            let moved = self.next_lsn != Some(batch.next_lsn);
            self.next_lsn = Some(batch.next_lsn);
            if batch.txns.is_empty() && !moved {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(self.max_poll);
            }
            self.ready.extend(batch.txns);
        }
    }

    /// Where the stream continues: every LSN below it was delivered or
    /// filtered out.
    pub fn position(&self) -> Option<u64> {
        let queued = self.ready.front().map(|t| t.lsn);
        queued.or(self.next_lsn)
    }

    /// Acknowledges every transaction up to `lsn` on the stream's slot.
    pub async fn ack(&self, lsn: u64) -> Result<()> {
        let slot = self.slot.as_deref().ok_or_else(|| {
            Error::Invalid("a stream opened from an LSN has no slot to acknowledge".into())
        })?;
        self.client.ack_slot(slot, lsn).await
    }

    async fn read(&self) -> Result<ChangeBatch> {
        let (slot, from_lsn) = match self.next_lsn {
            Some(lsn) => (None, Some(lsn)),
            None => (self.slot.clone(), None),
        };
        self.client
            .read_changes_with(slot, from_lsn, self.filter.clone(), self.max_txns)
            .await
    }
}

impl Client {
    /// Creates replication slot `name` at the database's last LSN.
    pub async fn create_slot(&self, name: &str) -> Result<SlotInfo> {
        match self
            .call(Request::CreateSlot {
                slot: name.to_owned(),
            })
            .await?
        {
            Response::Slot(info) => Ok(info),
            other => Err(unexpected("slot", &other)),
        }
    }

    /// Removes replication slot `name`: the WAL it held may go.
    pub async fn drop_slot(&self, name: &str) -> Result<()> {
        let request = Request::DropSlot {
            slot: name.to_owned(),
        };
        match self.call(request).await? {
            Response::Ok { .. } => Ok(()),
            other => Err(unexpected("ok", &other)),
        }
    }

    /// Every replication slot.
    pub async fn list_slots(&self) -> Result<Vec<SlotInfo>> {
        match self.call(Request::ListSlots).await? {
            Response::Slots { slots } => Ok(slots),
            other => Err(unexpected("slots", &other)),
        }
    }

    /// Acknowledges every transaction of slot `name` up to `lsn`.
    pub async fn ack_slot(&self, name: &str, lsn: u64) -> Result<()> {
        let request = Request::AckSlot {
            slot: name.to_owned(),
            lsn,
        };
        match self.call(request).await? {
            Response::Ok { .. } => Ok(()),
            other => Err(unexpected("ok", &other)),
        }
    }

    /// One bounded batch of committed transactions from `from_lsn`.
    pub async fn read_changes(&self, from_lsn: u64, filter: ChangeFilter) -> Result<ChangeBatch> {
        self.read_changes_with(None, Some(from_lsn), filter, 1000)
            .await
    }

    async fn read_changes_with(
        &self,
        slot: Option<String>,
        from_lsn: Option<u64>,
        filter: ChangeFilter,
        max_txns: u32,
    ) -> Result<ChangeBatch> {
        let filter = (filter != ChangeFilter::default()).then_some(filter);
        let request = Request::ReadChanges {
            slot,
            from_lsn,
            filter,
            max_txns: Some(max_txns),
            max_bytes: None,
        };
        match self.call(request).await? {
            Response::Changes(batch) => Ok(batch),
            other => Err(unexpected("changes", &other)),
        }
    }

    /// Opens a subscription to the change stream (see the module doc).
    pub fn subscribe(&self, subscription: Subscription) -> ChangeStream {
        let Subscription {
            slot,
            from_lsn,
            filter,
            poll,
            max_poll,
            max_txns,
        } = subscription;
        ChangeStream {
            client: self.clone(),
            next_lsn: slot.is_none().then_some(from_lsn),
            slot,
            filter,
            ready: VecDeque::new(),
            poll,
            max_poll,
            max_txns,
        }
    }
}
