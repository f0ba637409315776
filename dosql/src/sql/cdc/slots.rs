//! Replication slots: named consumer positions that hold the WAL back.
//!
//! ```text
//!   engine tree "cdc:slots"   key: slot name (UTF-8)
//!                             value: 01 | acked LSN (u64 LE) | flags (bit 0: lagging)
//!
//!   WAL:   ... | acked+1 ... | ... last_lsn
//!                ^ low-water mark = min(acked + 1) over slots not lagging
//! ```
//!
//! Invariants:
//! * A slot's acknowledged LSN only grows, and never passes the last LSN.
//! * Slot state is written in a transaction of its own and cached here;
//!   the cache equals the tree after every successful call.
//! * A slot more than `cap` records behind the last LSN is marked lagging
//!   (durably) and stops holding the WAL back, so the database keeps
//!   serving; reading it fails until it is dropped and created again.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::catalog::{CatalogState, TreeNames};
use crate::error::{Error, Result};
use crate::mvcc::{Engine, TreeKind};
use crate::store::Lsn;
use crate::{corruption, invalid};

/// Name of the slot tree.
pub const SLOTS_TREE: &str = "cdc:slots";
/// Longest slot name in bytes.
pub const MAX_SLOT_NAME: usize = 64;
/// Default retention cap: WAL records a slot may fall behind.
pub const DEFAULT_RETENTION_CAP: u64 = 1_000_000;
/// Version byte of a slot value.
const SLOT_FORMAT: u8 = 1;
const LAGGING: u8 = 1;

/// A slot as reported to callers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    pub name: String,
    /// Every transaction with an LSN up to this one is processed.
    pub acked_lsn: Lsn,
    /// The WAL after `acked_lsn` was discarded: the slot cannot be read.
    pub lagging: bool,
    /// WAL records after `acked_lsn` (what the slot holds back).
    pub retained_records: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotState {
    pub acked: Lsn,
    pub lagging: bool,
}

impl SlotState {
    fn encode(self) -> [u8; 10] {
        let mut out = [0u8; 10];
        out[0] = SLOT_FORMAT;
        out[1..9].copy_from_slice(&self.acked.to_le_bytes());
        out[9] = if self.lagging { LAGGING } else { 0 };
        out
    }

    fn decode(bytes: &[u8]) -> Result<SlotState> {
        match bytes {
            [SLOT_FORMAT, lsn @ .., flags] if lsn.len() == 8 => Ok(SlotState {
                acked: u64::from_le_bytes(lsn.try_into().expect("8 bytes")),
                lagging: flags & LAGGING != 0,
            }),
            _ => Err(corruption!("replication slot value of {} bytes", bytes.len())),
        }
    }
}

/// Checks a slot name: 1 to 64 bytes of `a-z`, `0-9` and `_`.
pub fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_SLOT_NAME {
        return Err(invalid!(
            "replication slot name must be 1 to {MAX_SLOT_NAME} bytes, got {}",
            name.len()
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(invalid!(
            "replication slot name {name:?} may hold only a-z, 0-9 and _"
        ));
    }
    Ok(())
}

/// Change capture state of a [`crate::sql::Database`].
pub struct Cdc {
    pub(super) slots: BTreeMap<String, SlotState>,
    pub(super) cap: u64,
    /// Where the last read stopped, with the catalog and tree names that
    /// held just before that LSN: the next read from there skips
    /// reconstructing them.
    pub(super) resume: Option<(Lsn, CatalogState, TreeNames)>,
}

impl Cdc {
    /// Keeps every WAL record until [`Cdc::open`] has loaded the slots: a
    /// checkpoint while the database opens must not drop what they hold.
    pub fn hold_wal(engine: &mut Engine) {
        engine.set_wal_low_water_mark(Some(0));
    }

    /// Loads the slots and sets the WAL low-water mark from them.
    pub fn open(engine: &mut Engine) -> Result<Cdc> {
        let txn = engine.begin_read_only()?;
        let loaded = load_slots(engine, txn);
        engine.rollback(txn)?;
        let cdc = Cdc {
            slots: loaded?,
            cap: DEFAULT_RETENTION_CAP,
            resume: None,
        };
        cdc.set_low_water(engine);
        Ok(cdc)
    }

    /// The low-water mark: the oldest record a slot not lagging still needs.
    pub fn set_low_water(&self, engine: &mut Engine) {
        let mark = self
            .slots
            .values()
            .filter(|s| !s.lagging)
            .map(|s| s.acked + 1)
            .min();
        engine.set_wal_low_water_mark(mark);
    }

    /// Writes slot `name` (`None`: removes it) in a transaction of its own,
    /// then updates the cache and the low-water mark.
    pub fn persist(&mut self, engine: &mut Engine, name: &str, state: Option<SlotState>) -> Result<()> {
        let txn = engine.begin()?;
        let written = (|| {
            let tree = match engine.tree(txn, SLOTS_TREE)? {
                Some(tree) => tree,
                None => engine.create_tree(txn, SLOTS_TREE, TreeKind::Table)?,
            };
            match state {
                Some(s) => engine.put(txn, tree, name.as_bytes(), &s.encode()),
                None => engine.delete(txn, tree, name.as_bytes()).map(|_| ()),
            }
        })();
        if let Err(e) = written {
            let _ = engine.rollback(txn);
            return Err(e);
        }
        engine.commit(txn)?;
        match state {
            Some(s) => self.slots.insert(name.to_string(), s),
            None => self.slots.remove(name),
        };
        self.set_low_water(engine);
        Ok(())
    }

    /// Marks every slot more than `cap` records behind `last_lsn` as
    /// lagging. Cheap when none is: called after every commit.
    pub fn enforce_cap(&mut self, engine: &mut Engine, last_lsn: Lsn) -> Result<()> {
        let over: Vec<(String, SlotState)> = self
            .slots
            .iter()
            .filter(|(_, s)| !s.lagging && last_lsn.saturating_sub(s.acked) > self.cap)
            .map(|(n, s)| (n.clone(), *s))
            .collect();
        for (name, state) in over {
            let lagging = SlotState {
                lagging: true,
                ..state
            };
            self.persist(engine, &name, Some(lagging))?;
        }
        Ok(())
    }

    /// The state of slot `name`.
    pub fn get(&self, name: &str) -> Result<SlotState> {
        self.slots
            .get(name)
            .copied()
            .ok_or_else(|| Error::NotFound(format!("no such replication slot: {name}")))
    }

    pub fn info(&self, last_lsn: Lsn) -> Vec<SlotInfo> {
        self.slots
            .iter()
            .map(|(name, s)| SlotInfo {
                name: name.clone(),
                acked_lsn: s.acked,
                lagging: s.lagging,
                retained_records: last_lsn.saturating_sub(s.acked),
            })
            .collect()
    }
}

fn load_slots(engine: &mut Engine, txn: u64) -> Result<BTreeMap<String, SlotState>> {
    let mut slots = BTreeMap::new();
    if let Some(tree) = engine.tree(txn, SLOTS_TREE)? {
        let mut cursor = engine.cursor(txn, tree, Bound::Unbounded, Bound::Unbounded)?;
        while let Some((key, value)) = cursor.next(engine)? {
            let name =
                String::from_utf8(key).map_err(|_| corruption!("slot name is not UTF-8"))?;
            slots.insert(name, SlotState::decode(&value)?);
        }
    }
    Ok(slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for good in ["a", "lake_1", &"x".repeat(MAX_SLOT_NAME)] {
            validate_name(good).unwrap();
        }
        for bad in ["", "Lake", "a-b", "a b", "é", &"x".repeat(MAX_SLOT_NAME + 1)] {
            assert!(
                matches!(validate_name(bad), Err(Error::InvalidInput(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn state_round_trips_and_bad_bytes_are_corruption() {
        for state in [
            SlotState { acked: 0, lagging: false },
            SlotState { acked: u64::MAX, lagging: true },
        ] {
            assert_eq!(SlotState::decode(&state.encode()).unwrap(), state);
        }
        let mut wrong = SlotState { acked: 7, lagging: false }.encode();
        wrong[0] = 2;
        assert!(matches!(SlotState::decode(&wrong), Err(Error::Corruption(_))));
        assert!(SlotState::decode(&[1, 2, 3]).is_err());
    }
}
