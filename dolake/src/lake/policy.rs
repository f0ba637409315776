//! When a table's buffer is flushed.
//!
//! ```text
//!   due_at(table) = oldest          if rows >= max_rows or bytes >= max_bytes
//!                                      or the whole buffer is under pressure
//!                 = oldest + max_age otherwise
//!   oldest        = min(receive time of the oldest buffered entry,
//!                       receive time of the first unflushed schema change)
//! ```
//!
//! A table with nothing to flush has no due time. Age is measured from
//! receive time, not commit time, so that a shard replaying an old backlog
//! is not flushed one batch at a time. The host sets its alarm to
//! [`Lake::next_flush_at`](super::Lake::next_flush_at): the age rule works
//! without further messages.
//!
//! Pressure: when the whole buffer holds at least half its byte cap, every
//! table with work is due, so that the buffer drains before receives are
//! refused.

use serde::{Deserialize, Serialize};

use super::state::LakeTable;

/// Thresholds of a flush. Defaults: 10,000 rows, 8 MiB, 5 s
/// (docs/lake-state.md explains them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushPolicy {
    pub max_rows: u64,
    pub max_bytes: u64,
    pub max_age_ms: u64,
}

impl Default for FlushPolicy {
    fn default() -> Self {
        FlushPolicy {
            max_rows: 10_000,
            max_bytes: 8 << 20,
            max_age_ms: 5_000,
        }
    }
}

impl FlushPolicy {
    /// When `table` must be flushed; `None` when it has nothing to flush.
    pub(crate) fn due_at(&self, table: &LakeTable, pressure: bool) -> Option<u64> {
        if !table.has_work() {
            return None;
        }
        let oldest = match (table.oldest_ms, table.schema_since_ms) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(0),
        };
        let full = table.buffered_rows >= self.max_rows || table.buffered_bytes >= self.max_bytes;
        Some(if full || pressure {
            oldest
        } else {
            oldest.saturating_add(self.max_age_ms)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: u64, bytes: u64, oldest: Option<u64>) -> LakeTable {
        let mut t = LakeTable::new();
        t.flushed_schema = t.schema.version;
        t.buffered_rows = rows;
        t.buffered_bytes = bytes;
        t.oldest_ms = oldest;
        t
    }

    #[test]
    fn due_by_rows_bytes_age_and_pressure() {
        let p = FlushPolicy {
            max_rows: 10,
            max_bytes: 100,
            max_age_ms: 1000,
        };
        assert_eq!(p.due_at(&table(0, 0, None), false), None);
        assert_eq!(p.due_at(&table(1, 1, Some(50)), false), Some(1050));
        assert_eq!(p.due_at(&table(10, 1, Some(50)), false), Some(50));
        assert_eq!(p.due_at(&table(1, 100, Some(50)), false), Some(50));
        assert_eq!(p.due_at(&table(1, 1, Some(50)), true), Some(50));
        // A schema change alone is work, aged from when it arrived.
        let mut t = table(0, 0, None);
        t.schema.version += 1;
        t.schema_since_ms = Some(7);
        assert_eq!(p.due_at(&t, false), Some(1007));
    }
}
