//! Managed tables: the tables DoLake writes itself, recorded in the catalog
//! by the lake state machine through this Rust API rather than REST.
//!
//! ```text
//!   lake flush (one engine txn):  write lake: trees ...
//!                                 catalog.put_managed(engine, txn, table, url, md, expected)
//!                                 commit  -> data and catalog advance together
//! ```
//!
//! Invariants: a managed table only moves from the location its writer
//! last recorded (`expected_previous`), so two writers never silently
//! overwrite each other; REST clients can load managed tables but not
//! commit to, rename or drop them (403), because DoLake keeps per-row
//! position indexes of its data files that an external change would
//! invalidate. The metadata object must be put before the transaction
//! commits (the catalog's invariant that recorded locations exist).

use dosql::mvcc::{Engine, TxnId};

use super::error::{Kind, RestError};
use super::state::{self, TableEntry, TableIdent};
use super::Catalog;
use crate::iceberg::TableMetadata;
use crate::{Error, Result};

impl From<RestError> for Error {
    fn from(e: RestError) -> Error {
        match e.kind {
            Kind::CommitFailed | Kind::AlreadyExists => Error::Conflict(e.message),
            Kind::NoSuchNamespace | Kind::NoSuchTable | Kind::NoSuchEndpoint => Error::NotFound(e.message),
            Kind::Internal => Error::Io(e.message),
            _ => Error::InvalidInput(e.message),
        }
    }
}

impl Catalog {
    /// Records `metadata`, stored at `location` (an `s3://` URL in the
    /// catalog's bucket), as the current metadata of managed table `ident`,
    /// within the caller's transaction `txn`. `expected_previous` is the
    /// location the caller last recorded (`None`: the table is new); a
    /// mismatch is [`Error::Conflict`] and changes nothing. The table's
    /// namespace (and its ancestors) are created if missing.
    pub fn put_managed(
        &self,
        engine: &mut Engine,
        txn: TxnId,
        ident: &TableIdent,
        location: &str,
        metadata: &TableMetadata,
        expected_previous: Option<&str>,
    ) -> Result<()> {
        state::check_namespace(&ident.namespace)?;
        state::check_name("table name", &ident.name)?;
        if self.key_of(location).is_none() || self.key_of(&metadata.location).is_none() {
            return Err(Error::InvalidInput(format!(
                "managed table {ident}: {location:?} and its table location must be in bucket {}",
                self.config.bucket
            )));
        }
        metadata.validate()?;
        let current = state::table(engine, txn, ident)?;
        if current.as_ref().is_some_and(|c| !c.managed) {
            return Err(Error::Conflict(format!(
                "table {ident} exists and is not managed by DoLake"
            )));
        }
        let at = current.as_ref().map(|c| c.metadata_location.as_str());
        if at != expected_previous {
            return Err(Error::Conflict(format!(
                "managed table {ident} is at {at:?}, not {expected_previous:?}"
            )));
        }
        // The namespace and its ancestors, so that listings reach it.
        for depth in 1..=ident.namespace.len() {
            let ns = &ident.namespace[..depth];
            if state::namespace(engine, txn, ns)?.is_none() {
                state::put_namespace(engine, txn, ns, &Default::default())?;
            }
        }
        let entry = TableEntry {
            metadata_location: location.to_owned(),
            metadata: serde_json::to_value(metadata).expect("metadata serialises"),
            version: current.map_or(1, |c| c.version + 1),
            managed: true,
        };
        Ok(state::put_table(engine, txn, ident, &entry)?)
    }

    /// The current entry of table `ident` (managed or not), as `txn` sees it.
    pub fn table_entry(&self, engine: &mut Engine, txn: TxnId, ident: &TableIdent) -> Result<Option<TableEntry>> {
        Ok(state::table(engine, txn, ident)?)
    }

    /// Removes managed table `ident` from the catalog (its objects stay);
    /// whether it existed. An unmanaged table of that name is a conflict.
    pub fn drop_managed(&self, engine: &mut Engine, txn: TxnId, ident: &TableIdent) -> Result<bool> {
        match state::table(engine, txn, ident)? {
            None => Ok(false),
            Some(e) if !e.managed => Err(Error::Conflict(format!("table {ident} is not managed by DoLake"))),
            Some(_) => Ok(state::delete_table(engine, txn, ident)?),
        }
    }
}
