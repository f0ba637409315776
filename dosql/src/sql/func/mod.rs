//! The SQL function library: scalar functions, aggregates, date/time, JSON
//! and printf, with SQLite's semantics (NULL handling, argument coercion,
//! result types).
//!
//! ```text
//!   executor --name, argc--> scalar()    -> ScalarFn(args, ctx) -> Value
//!            --name, argc--> aggregate() -> Box<dyn Aggregate>: step* finish
//! ```
//!
//! Functions are plain `fn` pointers looked up once at bind time. They never
//! read a clock or OS randomness: the caller passes both in a
//! [`FuncContext`] (`now_millis` for 'now', `random` as the state of a
//! deterministic generator that `random()`/`randomblob()` advance), which
//! keeps the engine portable to wasm32 and replayable.
//!
//! `random` is a *state*: keep one `FuncContext` per statement and pass the
//! same `&mut` to every call, or every row draws the same number.
//!
//! Connection-dependent functions (`last_insert_rowid`, `changes`,
//! `total_changes`) belong to the executor, not to this library. Besides
//! the name lookups the executor may use: [`aggregate_collated`] (min/max
//! and DISTINCT under a collation), the `like`/`glob` scalars (exact
//! operator semantics including the ESCAPE check and pattern length
//! limit), and [`json::call_with_json_args`]/[`json::returns_json`] (SQLite's
//! JSON subtype, which plain `Value`s cannot carry).

pub mod aggregate;
pub mod datetime;
mod group_concat;
pub mod json;
pub mod printf;
mod scalar;
mod text;

pub use aggregate::Aggregate;
pub use json::{json_each, JsonEachRow};

use std::cell::Cell;

use crate::sql::value::{Collation, Value};
use crate::Result;

/// Per-statement inputs a function may need: the current time and a
/// random-number state. The executor fills them; the engine reads neither
/// clocks nor OS randomness itself.
#[derive(Clone, Debug)]
pub struct FuncContext {
    /// The wall clock (milliseconds since the Unix epoch), read at the
    /// first 'now' of the statement: most statements never ask, and a
    /// clock read was 2 % of a point query.
    clock: fn() -> u64,
    /// 'now' once read: one value for the whole statement, as in SQLite.
    now: Cell<Option<u64>>,
    /// State of the pseudo-random generator (SplitMix64), advanced per draw.
    pub random: u64,
}

fn epoch() -> u64 {
    0
}

impl Default for FuncContext {
    /// 'now' is the Unix epoch; the random state is 0.
    fn default() -> FuncContext {
        FuncContext::new(epoch, 0)
    }
}

impl FuncContext {
    /// A statement's context: `clock` is read once, at the first 'now'.
    pub fn new(clock: fn() -> u64, random: u64) -> FuncContext {
        FuncContext {
            clock,
            now: Cell::new(None),
            random,
        }
    }

    /// A context whose 'now' is `now_millis`.
    pub fn at(now_millis: u64, random: u64) -> FuncContext {
        FuncContext {
            clock: epoch,
            now: Cell::new(Some(now_millis)),
            random,
        }
    }

    /// Milliseconds since the Unix epoch for 'now', the same at every call.
    pub fn now_millis(&self) -> u64 {
        match self.now.get() {
            Some(now) => now,
            None => {
                let now = (self.clock)();
                self.now.set(Some(now));
                now
            }
        }
    }

    /// Draws the next 64 random bits (SplitMix64).
    pub fn next_random(&mut self) -> u64 {
        self.random = self.random.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.random;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A scalar SQL function.
pub type ScalarFn = fn(&[Value], &mut FuncContext) -> Result<Value>;

/// Looks up a scalar function by lower-case name and argument count.
/// Returns None when there is no such function or it does not take `argc`
/// arguments.
pub fn scalar(name: &str, argc: usize) -> Option<ScalarFn> {
    scalar::lookup(name, argc)
        .or_else(|| text::lookup(name, argc))
        .or_else(|| datetime::lookup(name, argc))
        .or_else(|| json::lookup(name, argc))
}

/// Creates a fresh accumulator for an aggregate call; `count(*)` is
/// `("count", 0)`. None when there is no such aggregate or arity.
pub fn aggregate(name: &str, argc: usize, distinct: bool) -> Option<Box<dyn Aggregate>> {
    aggregate::create(name, argc, distinct, Collation::Binary)
}

/// Like [`aggregate()`], for an argument with a collating sequence (a column
/// declared `COLLATE NOCASE`, or `max(x COLLATE RTRIM)`): `min`/`max`
/// compare and DISTINCT deduplicates under it, as in SQLite.
pub fn aggregate_collated(
    name: &str,
    argc: usize,
    distinct: bool,
    collation: Collation,
) -> Option<Box<dyn Aggregate>> {
    aggregate::create(name, argc, distinct, collation)
}

/// True when `name` (lower case) names an aggregate function. `min` and
/// `max` are aggregates with one argument and scalars with more; the
/// caller decides by arity.
pub fn is_aggregate(name: &str) -> bool {
    aggregate::NAMES.contains(&name)
}

/// Error for a result exceeding SQLite's default length limit (1e9 bytes).
pub(crate) fn too_big() -> crate::Error {
    crate::Error::LimitExceeded("string or blob too big".into())
}

/// SQLite's default SQLITE_LIMIT_LENGTH.
pub(crate) const MAX_LENGTH: i64 = 1_000_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_name_and_arity() {
        assert!(scalar("abs", 1).is_some());
        assert!(scalar("abs", 2).is_none());
        assert!(scalar("substr", 2).is_some() && scalar("substr", 3).is_some());
        assert!(scalar("coalesce", 1).is_none() && scalar("coalesce", 5).is_some());
        assert!(scalar("nosuch", 1).is_none());
        assert!(scalar("max", 2).is_some());
        assert!(aggregate("count", 0, false).is_some());
        assert!(aggregate("count", 0, true).is_none());
        assert!(aggregate("group_concat", 2, false).is_some());
        assert!(aggregate("sum", 2, false).is_none());
        assert!(is_aggregate("total") && is_aggregate("max") && !is_aggregate("abs"));
    }

    #[test]
    fn now_is_read_once_and_only_when_asked() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static READS: AtomicU64 = AtomicU64::new(0);
        fn clock() -> u64 {
            1000 + READS.fetch_add(1, Ordering::SeqCst)
        }
        let ctx = FuncContext::new(clock, 0);
        assert_eq!(READS.load(Ordering::SeqCst), 0, "no 'now', no clock read");
        assert_eq!(ctx.now_millis(), 1000);
        assert_eq!(ctx.now_millis(), 1000, "one 'now' per statement");
        assert_eq!(READS.load(Ordering::SeqCst), 1);
        assert_eq!(FuncContext::new(clock, 0).now_millis(), 1001);
    }

    #[test]
    fn random_is_deterministic_per_seed() {
        let mut a = FuncContext::at(0, 7);
        let mut b = FuncContext::at(0, 7);
        let x = a.next_random();
        assert_eq!(x, b.next_random());
        assert_ne!(x, a.next_random());
    }
}
