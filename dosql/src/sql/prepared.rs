//! Bound statements reused across executions of the same SQL text: the
//! bind step of a repeated SELECT or INSERT runs once, not per execution.
//!
//! ```text
//!   execute(sql, params)
//!     parse.rs   StatementCache   sql -> Arc<[Statement]>     (parse once)
//!     here       PlanCache        (sql, statement index) -> Entry
//!                  Entry { schema: Arc<Schema>, plan: Prepared }
//!                  hit  <=> Arc::ptr_eq(entry.schema, committed schema)
//!     exec       runs the plan with this execution's params
//! ```
//!
//! Invariants:
//! * An entry is used only while the database's committed schema is the
//!   very `Arc` it was bound against; every schema change commits a new
//!   `Arc`, so a stale plan is never run. The entry holds its `Arc`, so
//!   the address cannot be reused by another schema while it lives.
//! * Only statements the binder marked `cacheable` are stored: nothing
//!   session-dependent was folded into them, and they hold no subquery
//!   (whose rows are cached inside the plan for one execution).
//!   Parameters stay [`Expr::Param`](crate::sql::expr::Expr) and are read
//!   from each execution's `Exec::params`.
//! * Inside a transaction that changed the schema (its working copy is not
//!   the committed `Arc`), statements are neither served nor stored.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::sql::dml::InsertPlan;
use crate::sql::parse::CACHE_ENTRIES;
use crate::sql::plan::QueryPlan;
use crate::sql::schema::Schema;

/// A statement's bound form.
pub enum Prepared {
    Query(Box<QueryPlan>),
    Insert(Box<InsertPlan>),
}

struct Entry {
    schema: Arc<Schema>,
    plan: Prepared,
}

/// Where a statement comes from: its SQL text and position in it.
#[derive(Clone, Copy, Debug)]
pub struct Slot<'a> {
    pub sql: &'a str,
    pub index: usize,
}

/// Bound statements by [`Slot`] (see the module doc).
#[derive(Default)]
pub struct PlanCache {
    map: FxHashMap<String, Vec<Option<Entry>>>,
    hits: u64,
    misses: u64,
}

impl PlanCache {
    /// True if a plan bound for `slot` against `schema` is cached.
    pub fn has(&mut self, slot: Slot, schema: &Arc<Schema>) -> bool {
        let found = self
            .entry(slot)
            .is_some_and(|e| Arc::ptr_eq(&e.schema, schema));
        if found {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        found
    }

    /// The plan cached for `slot`, whatever schema it was bound against:
    /// check [`PlanCache::has`] first.
    pub fn get(&self, slot: Slot) -> Option<&Prepared> {
        self.entry(slot).map(|e| &e.plan)
    }

    fn entry(&self, slot: Slot) -> Option<&Entry> {
        self.map
            .get(slot.sql)
            .and_then(|entries| entries.get(slot.index))
            .and_then(Option::as_ref)
    }

    /// Stores `plan`, bound for `slot` against `schema`, and lends it back.
    pub fn put(&mut self, slot: Slot, schema: &Arc<Schema>, plan: Prepared) -> &Prepared {
        if self.map.len() >= CACHE_ENTRIES && !self.map.contains_key(slot.sql) {
            self.map.clear();
        }
        let entries = self.map.entry(slot.sql.to_owned()).or_default();
        if entries.len() <= slot.index {
            entries.resize_with(slot.index + 1, || None);
        }
        let entry = entries[slot.index].insert(Entry {
            schema: schema.clone(),
            plan,
        });
        &entry.plan
    }

    /// (hits, misses) since the cache was created.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::expr::Expr;
    use crate::sql::plan::Body;
    use crate::sql::value::Value;

    fn plan() -> Prepared {
        Prepared::Query(Box::new(QueryPlan {
            ctes: Vec::new(),
            body: Body::Values(vec![vec![Expr::Lit(Value::Integer(1))]]),
            order: Vec::new(),
            limit: None,
            offset: None,
            columns: vec!["1".into()],
            out_aff: vec![None],
            out_coll: Vec::new(),
        }))
    }

    #[test]
    fn entries_are_per_slot_and_per_schema() {
        let mut cache = PlanCache::default();
        let s1 = Arc::new(Schema::default());
        let s2 = Arc::new(Schema::default());
        let a = Slot {
            sql: "SELECT 1; SELECT 1",
            index: 1,
        };
        assert!(!cache.has(a, &s1));
        cache.put(a, &s1, plan());
        assert!(cache.has(a, &s1));
        assert!(cache.get(a).is_some());
        // Another statement of the same text, or another schema: a miss.
        assert!(!cache.has(Slot { index: 0, ..a }, &s1));
        assert!(!cache.has(a, &s2));
        assert_eq!(cache.stats(), (1, 3));
    }
}
