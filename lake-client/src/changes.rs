//! The change stream: DoSQL's committed transactions, live, filtered by
//! table and operation. The stream is DoSQL's, not the lake's, so this
//! wraps `sql_client` rather than re-implementing it.
//!
//! ```text
//!   lake snapshot S ── shard_lsns["app"] = L ──┐
//!                                              ▼
//!   after_snapshot(&S, "app")? = Subscription::from_lsn(L + 1)
//!        .tables(["orders"]).operations([RowOp::Insert])
//!   subscribe(&sql_client, subscription) ─▶ ChangeStream::next() ─▶ ChangeTxn
//! ```
//!
//! Invariant: a snapshot includes every change of shard `s` up to
//! `shard_lsns[s]`, and a stream from `L + 1` yields exactly the later
//! ones; so "scan the snapshot, then apply the stream from
//! [`after_snapshot`]" sees each committed change once (the stream is
//! at-least-once across reconnects: drop a `(shard, lsn)` seen before).
//! The shard of a DoSQL database is the name DoLake receives its changes
//! under (each `ChangeTxn` carries it in `shard`).

pub use sql_client::cdc::{ChangeEvent, ChangeFilter, ChangeTxn, RowEvent, RowOp, SchemaEvent};
pub use sql_client::{ChangeStream, Subscription};

use crate::error::{Error, Result};
use crate::model::SnapshotInfo;

/// Opens a subscription on `db`, a connected `sql_client::Client` of the
/// DoSQL database whose changes the lake receives; see
/// [`sql_client::Subscription`] for slots, filters and polling.
pub fn subscribe(db: &sql_client::Client, subscription: Subscription) -> ChangeStream {
    db.subscribe(subscription)
}

/// A subscription starting right after what `snapshot` includes of
/// `shard`; `NotFound` when the snapshot holds nothing of that shard.
pub fn after_snapshot(snapshot: &SnapshotInfo, shard: &str) -> Result<Subscription> {
    let lsn = snapshot.shard_lsns.get(shard).ok_or_else(|| {
        Error::NotFound(format!(
            "snapshot {} has no LSN for shard {shard:?} (it has {:?})",
            snapshot.snapshot_id,
            snapshot.shard_lsns.keys().collect::<Vec<_>>()
        ))
    })?;
    let next = lsn.checked_add(1).ok_or_else(|| {
        Error::Corrupt(format!(
            "snapshot {}: LSN {lsn} of shard {shard:?} has no successor",
            snapshot.snapshot_id
        ))
    })?;
    Ok(Subscription::from_lsn(next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dolake::iceberg::Operation;
    use std::collections::BTreeMap;

    fn snapshot(lsns: &[(&str, u64)]) -> SnapshotInfo {
        SnapshotInfo {
            snapshot_id: 1,
            parent_snapshot_id: None,
            sequence_number: 1,
            timestamp_ms: 0,
            operation: Operation::Append,
            summary: BTreeMap::new(),
            shard_lsns: lsns.iter().map(|(s, l)| (s.to_string(), *l)).collect(),
            schema_id: None,
            current: true,
        }
    }

    #[test]
    fn a_stream_after_a_snapshot_starts_at_the_next_lsn() {
        let sub = after_snapshot(&snapshot(&[("app", 41)]), "app").unwrap();
        assert_eq!(
            format!("{sub:?}"),
            format!("{:?}", Subscription::from_lsn(42))
        );
        assert!(matches!(
            after_snapshot(&snapshot(&[("app", 41)]), "other"),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            after_snapshot(&snapshot(&[("app", u64::MAX)]), "app"),
            Err(Error::Corrupt(_))
        ));
    }
}
