//! Frames: for each row of a partition, the half-open range of rows
//! `[start, end)` its frame covers (empty when `start >= end`).
//!
//! ```text
//!   ROWS    offsets count rows:         [i - N, i + M]
//!   GROUPS  offsets count peer groups:  [first of g(i) - N, last of g(i) + M]
//!   RANGE   offsets compare the one ORDER BY value:
//!           ASC: v >= v(i) - N ... v <= v(i) + M   (DESC mirrors it)
//!           CURRENT ROW means the current row's peers
//! ```
//!
//! RANGE follows SQLite's `windowCodeRangeTest` to the letter: a boundary
//! row is the first one (in window order, never moving back) that passes
//! a comparison whose arithmetic touches only numeric values, so NULL,
//! TEXT and BLOB keys behave exactly as in SQLite. Offsets are evaluated
//! once and checked with SQLite's messages.

use std::cmp::Ordering;

use super::{Bound, Partition, Units, WindowDef};
use crate::error::{Error, Result};
use crate::sql::exec::Exec;
use crate::sql::expr::{Env, Expr};
use crate::sql::value::{add, apply_affinity, compare, neg, sub, Affinity, Value};

/// Frames of every row of `part`.
pub(crate) fn frames(
    def: &WindowDef,
    part: &Partition,
    ex: &mut Exec,
    outer: Option<&Env>,
) -> Result<Vec<(usize, usize)>> {
    let n = part.rows.len();
    let f = &def.frame;
    let range = f.units == Units::Range;
    let start_off = offset(&f.start, range, true, ex, outer)?;
    let end_off = offset(&f.end, range, false, ex, outer)?;
    let mut out = Vec::with_capacity(n);
    // RANGE offset boundaries only move forward, as SQLite's cursors.
    let (mut s_ptr, mut e_ptr) = (0usize, 0usize);
    for i in 0..n {
        let g = part.group[i];
        let groups = part.group_start.len() - 1;
        let s = match (&f.start, f.units) {
            (Bound::Unbounded, _) => 0,
            (Bound::Current, Units::Rows) => i,
            (Bound::Current, _) => part.group_start[g],
            (Bound::Preceding(_), Units::Rows) => i.saturating_sub(clamp(&start_off)),
            (Bound::Following(_), Units::Rows) => i.saturating_add(clamp(&start_off)).min(n),
            (Bound::Preceding(_), Units::Groups) => {
                part.group_start[g.saturating_sub(clamp(&start_off))]
            }
            (Bound::Following(_), Units::Groups) => {
                part.group_start[g.saturating_add(clamp(&start_off)).min(groups)]
            }
            (Bound::Preceding(_), Units::Range) => {
                let (key, off) = (&part.keys, &start_off);
                while s_ptr < n && !range_test(def, Op::Ge, &key[s_ptr][0], off, &key[i][0]) {
                    s_ptr = next_group(part, s_ptr);
                }
                s_ptr
            }
            (Bound::Following(_), Units::Range) => {
                let (key, off) = (&part.keys, &start_off);
                while s_ptr < n && !range_test(def, Op::Le, &key[i][0], off, &key[s_ptr][0]) {
                    s_ptr = next_group(part, s_ptr);
                }
                s_ptr
            }
        };
        let e = match (&f.end, f.units) {
            (Bound::Unbounded, _) => n,
            (Bound::Current, Units::Rows) => i + 1,
            (Bound::Current, _) => part.group_start[g + 1],
            (Bound::Preceding(_), Units::Rows) => (i + 1).saturating_sub(clamp(&end_off)),
            (Bound::Following(_), Units::Rows) => {
                i.saturating_add(clamp(&end_off)).saturating_add(1).min(n)
            }
            (Bound::Preceding(_), Units::Groups) => {
                let k = clamp(&end_off);
                if k > g {
                    0
                } else {
                    part.group_start[g - k + 1]
                }
            }
            (Bound::Following(_), Units::Groups) => {
                part.group_start[g
                    .saturating_add(clamp(&end_off))
                    .saturating_add(1)
                    .min(groups)]
            }
            (Bound::Preceding(_) | Bound::Following(_), Units::Range) => {
                // Step while `end + off > current` fails, with `off`
                // negated for FOLLOWING (SQLite's regEnd).
                let off = match &f.end {
                    Bound::Following(_) => neg(&end_off),
                    _ => end_off.clone(),
                };
                let key = &part.keys;
                while e_ptr < n && !range_test(def, Op::Gt, &key[e_ptr][0], &off, &key[i][0]) {
                    e_ptr = next_group(part, e_ptr);
                }
                e_ptr
            }
        };
        out.push((s, e));
    }
    Ok(out)
}

fn next_group(part: &Partition, i: usize) -> usize {
    part.group_start[part.group[i] + 1]
}

/// An offset as a row or group count (it is a non-negative integer).
fn clamp(v: &Value) -> usize {
    match v {
        Value::Integer(i) => usize::try_from(*i).unwrap_or(usize::MAX),
        _ => 0,
    }
}

/// Evaluates and checks a boundary's offset (`Null` when it has none).
fn offset(
    b: &Bound,
    range: bool,
    start: bool,
    ex: &mut Exec,
    outer: Option<&Env>,
) -> Result<Value> {
    let e: &Expr = match b {
        Bound::Preceding(e) | Bound::Following(e) => e,
        _ => return Ok(Value::Null),
    };
    let v = e.eval(&Env::new(&[], outer), ex)?;
    let which = if start { "starting" } else { "ending" };
    if range {
        let v = apply_affinity(v, Affinity::Numeric);
        let ok = match &v {
            Value::Integer(i) => *i >= 0,
            Value::Real(r) => *r >= 0.0,
            _ => false,
        };
        if !ok {
            return Err(Error::InvalidInput(format!(
                "frame {which} offset must be a non-negative number"
            )));
        }
        return Ok(v);
    }
    match must_be_int(&v) {
        Some(i) if i >= 0 => Ok(Value::Integer(i)),
        _ => Err(Error::InvalidInput(format!(
            "frame {which} offset must be a non-negative integer"
        ))),
    }
}

/// SQLite's `OP_MustBeInt`: the value as an integer, if it is one after
/// numeric affinity.
pub(crate) fn must_be_int(v: &Value) -> Option<i64> {
    match apply_affinity(v.clone(), Affinity::Numeric) {
        Value::Integer(i) => Some(i),
        Value::Real(r) if r.fract() == 0.0 && (-9.2e18..=9.2e18).contains(&r) => Some(r as i64),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
}

impl Op {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Op::Ge => ord != Ordering::Less,
            Op::Gt => ord == Ordering::Greater,
            Op::Le => ord != Ordering::Greater,
            Op::Lt => ord == Ordering::Less,
        }
    }
}

/// `windowCodeRangeTest`: whether `a + off  op  b` (ASC), or
/// `a - off  mirrored-op  b` (DESC). The arithmetic only applies when `a`
/// is a number; NULLs compare equal to each other and below every value,
/// unless the ORDER BY puts NULLs on the "big" side.
fn range_test(def: &WindowDef, op: Op, a: &Value, off: &Value, b: &Value) -> bool {
    let key = &def.order[0];
    let (op, plus) = if key.desc {
        let mirrored = match op {
            Op::Ge => Op::Le,
            Op::Gt => Op::Lt,
            Op::Le => Op::Ge,
            Op::Lt => Op::Gt,
        };
        (mirrored, false)
    } else {
        (op, true)
    };
    let big_null = key.nulls_first == key.desc;
    if big_null {
        if a.is_null() {
            return match op {
                Op::Ge => true,
                Op::Gt => !b.is_null(),
                Op::Le => b.is_null(),
                Op::Lt => false,
            };
        }
        if b.is_null() {
            return matches!(op, Op::Le | Op::Lt);
        }
    }
    let cmp = |x: &Value| match (x.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => compare(x, b, key.coll),
    };
    let numeric = matches!(a, Value::Integer(_) | Value::Real(_) | Value::Null);
    if !numeric {
        return op.holds(cmp(a));
    }
    if ((op == Op::Ge && plus) || (op == Op::Le && !plus)) && op.holds(cmp(a)) {
        return true;
    }
    let moved = if plus { add(a, off) } else { sub(a, off) };
    op.holds(cmp(&moved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn must_be_int_follows_sqlite() {
        assert_eq!(must_be_int(&Value::Integer(3)), Some(3));
        assert_eq!(must_be_int(&Value::Real(2.0)), Some(2));
        assert_eq!(must_be_int(&Value::Text("2".into())), Some(2));
        assert_eq!(must_be_int(&Value::Real(1.5)), None);
        assert_eq!(must_be_int(&Value::Text("a".into())), None);
        assert_eq!(must_be_int(&Value::Null), None);
    }

    #[test]
    fn offsets_as_counts() {
        assert_eq!(clamp(&Value::Integer(2)), 2);
        assert_eq!(clamp(&Value::Null), 0);
    }
}
