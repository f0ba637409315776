//! Aggregate functions: count, sum, total, avg, min, max, group_concat.
//!
//! An aggregate is a small state machine fed one row at a time:
//!
//! ```text
//!   aggregate(name, argc, distinct) -> state --step(args)*--> finish()
//! ```
//!
//! `sum/total/avg` follow SQLite 3.43+: exact i64 addition while every
//! input is an integer (overflow is the error "integer overflow" for sum),
//! then Kahan-Babuska-Neumaier compensated f64 summation. DISTINCT wraps any
//! one-argument aggregate and drops arguments already seen, equal under
//! `compare` with BINARY collation (so 1 and 1.0 are the same value).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use crate::sql::value::{compare, numeric_value, Collation, Value};
use crate::{Error, Result};

/// The state of one aggregate call over a group.
pub trait Aggregate {
    /// Adds one row's arguments.
    fn step(&mut self, args: &[Value]) -> Result<()>;
    /// The result over the rows stepped so far.
    fn finish(&mut self) -> Result<Value>;
    /// Removes the oldest row still stepped in (a window frame sliding
    /// forward), as SQLite's `xInverse`. False when the function has no
    /// inverse, and the caller recomputes the frame instead.
    fn inverse(&mut self, _args: &[Value]) -> Result<bool> {
        Ok(false)
    }
}

/// Names of the aggregate functions.
pub(super) const NAMES: &[&str] = &[
    "count",
    "sum",
    "total",
    "avg",
    "min",
    "max",
    "group_concat",
    "string_agg",
];

pub(super) fn create(
    name: &str,
    argc: usize,
    distinct: bool,
    collation: Collation,
) -> Option<Box<dyn Aggregate>> {
    let inner: Box<dyn Aggregate> = match (name, argc) {
        ("count", 0) if !distinct => Box::new(Count { n: 0, star: true }),
        ("count", 1) => Box::new(Count { n: 0, star: false }),
        ("sum", 1) => Box::new(Sum {
            kind: SumKind::Sum,
            acc: Kbn::default(),
        }),
        ("total", 1) => Box::new(Sum {
            kind: SumKind::Total,
            acc: Kbn::default(),
        }),
        ("avg", 1) => Box::new(Sum {
            kind: SumKind::Avg,
            acc: Kbn::default(),
        }),
        ("min", 1) => Box::new(MinMax {
            best: None,
            max: false,
            collation,
        }),
        ("max", 1) => Box::new(MinMax {
            best: None,
            max: true,
            collation,
        }),
        ("group_concat", 1 | 2) | ("string_agg", 2) => {
            Box::<super::group_concat::GroupConcat>::default()
        }
        ("json_group_array", 1) => Box::new(JsonGroup {
            items: Vec::new(),
            object: false,
        }),
        ("json_group_object", 2) => Box::new(JsonGroup {
            items: Vec::new(),
            object: true,
        }),
        _ => return None,
    };
    if distinct {
        if argc != 1 {
            return None;
        }
        return Some(Box::new(Distinct {
            seen: BTreeSet::new(),
            inner,
            collation,
        }));
    }
    Some(inner)
}

/// A real result; NaN is NULL in SQL.
fn real(r: f64) -> Value {
    if r.is_nan() {
        Value::Null
    } else {
        Value::Real(r)
    }
}

struct Count {
    n: i64,
    star: bool,
}

impl Aggregate for Count {
    fn step(&mut self, args: &[Value]) -> Result<()> {
        if self.star || !args[0].is_null() {
            self.n += 1;
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<Value> {
        Ok(Value::Integer(self.n))
    }
    fn inverse(&mut self, args: &[Value]) -> Result<bool> {
        if self.star || !args[0].is_null() {
            self.n -= 1;
        }
        Ok(true)
    }
}

/// The running sum of SQLite's `SumCtx`.
#[derive(Default)]
struct Kbn {
    r_sum: f64,
    r_err: f64,
    i_sum: i64,
    cnt: i64,
    approx: bool,
    overflow: bool,
}

impl Kbn {
    fn step_real(&mut self, r: f64) {
        let s = self.r_sum;
        let t = s + r;
        if s.abs() > r.abs() {
            self.r_err += (s - t) + r;
        } else {
            self.r_err += (r - t) + s;
        }
        self.r_sum = t;
    }

    fn step_int(&mut self, v: i64) {
        if !(-4503599627370495..4503599627370496).contains(&v) {
            let small = v % 16384;
            self.step_real((v - small) as f64);
            self.step_real(small as f64);
        } else {
            self.step_real(v as f64);
        }
    }

    fn init(&mut self, v: i64) {
        if !(-4503599627370495..4503599627370496).contains(&v) {
            let small = v % 16384;
            self.r_sum = (v - small) as f64;
            self.r_err = small as f64;
        } else {
            self.r_sum = v as f64;
            self.r_err = 0.0;
        }
    }

    fn add(&mut self, v: &Value) {
        // sqlite3_value_numeric_type: whole-number text becomes a number.
        let v = numeric_value(v);
        if v.is_null() {
            return;
        }
        self.cnt += 1;
        let int = if let Value::Integer(i) = v {
            Some(i)
        } else {
            None
        };
        if !self.approx {
            match int {
                Some(i) => match self.i_sum.checked_add(i) {
                    Some(s) => self.i_sum = s,
                    None => {
                        self.overflow = true;
                        self.init(self.i_sum);
                        self.approx = true;
                        self.step_int(i);
                    }
                },
                None => {
                    self.init(self.i_sum);
                    self.approx = true;
                    self.step_real(v.to_real().unwrap_or(0.0));
                }
            }
        } else if let Some(i) = int {
            self.step_int(i);
        } else {
            self.overflow = false;
            self.step_real(v.to_real().unwrap_or(0.0));
        }
    }

    /// SQLite's `sumInverse`: once approximate, the sum stays a REAL even
    /// after the non-integers leave the frame.
    fn remove(&mut self, v: &Value) {
        let v = numeric_value(v);
        if v.is_null() {
            return;
        }
        self.cnt -= 1;
        if !self.approx {
            let i = v.to_integer().unwrap_or(0);
            match self.i_sum.checked_sub(i) {
                Some(s) => self.i_sum = s,
                None => {
                    self.overflow = true;
                    self.approx = true;
                }
            }
        } else if let Value::Integer(i) = v {
            if i == i64::MIN {
                self.step_int(i64::MAX);
                self.step_int(1);
            } else {
                self.step_int(-i);
            }
        } else {
            self.step_real(-v.to_real().unwrap_or(0.0));
        }
    }

    fn value(&self) -> f64 {
        if self.approx {
            if self.r_err.is_finite() {
                self.r_sum + self.r_err
            } else {
                self.r_sum
            }
        } else {
            self.i_sum as f64
        }
    }
}

enum SumKind {
    Sum,
    Total,
    Avg,
}

struct Sum {
    kind: SumKind,
    acc: Kbn,
}

impl Aggregate for Sum {
    fn step(&mut self, args: &[Value]) -> Result<()> {
        self.acc.add(&args[0]);
        Ok(())
    }
    fn finish(&mut self) -> Result<Value> {
        let a = &self.acc;
        Ok(match self.kind {
            SumKind::Total => real(a.value()),
            _ if a.cnt == 0 => Value::Null,
            SumKind::Avg => real(a.value() / a.cnt as f64),
            SumKind::Sum if a.approx && a.overflow => {
                return Err(Error::InvalidInput("integer overflow".into()))
            }
            SumKind::Sum if a.approx => real(a.value()),
            SumKind::Sum => Value::Integer(a.i_sum),
        })
    }
    fn inverse(&mut self, args: &[Value]) -> Result<bool> {
        self.acc.remove(&args[0]);
        Ok(true)
    }
}

struct MinMax {
    best: Option<Value>,
    max: bool,
    collation: Collation,
}

impl Aggregate for MinMax {
    fn step(&mut self, args: &[Value]) -> Result<()> {
        let v = &args[0];
        if v.is_null() {
            return Ok(());
        }
        let replace = match &self.best {
            None => true,
            Some(b) => {
                let c = compare(b, v, self.collation);
                (self.max && c == Ordering::Less) || (!self.max && c == Ordering::Greater)
            }
        };
        if replace {
            self.best = Some(v.clone());
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<Value> {
        Ok(self.best.clone().unwrap_or(Value::Null))
    }
}

/// `json_group_array(x)` / `json_group_object(k, v)`: the JSON text of
/// the stepped values (NULLs included, as JSON null); `[]`/`{}` when empty.
/// Labels are rendered as text; a NULL label renders as nothing at all,
/// which is invalid JSON but exactly what SQLite 3.46 produces.
struct JsonGroup {
    items: Vec<Value>,
    object: bool,
}

impl Aggregate for JsonGroup {
    fn step(&mut self, args: &[Value]) -> Result<()> {
        let n = if self.object { 2 } else { 1 };
        self.items.extend_from_slice(&args[..n]);
        Ok(())
    }
    fn finish(&mut self) -> Result<Value> {
        if self.object {
            super::json::group_object(&self.items)
        } else {
            super::json::call_with_json_args("json_array", &self.items, &[])
        }
    }
}

/// A value ordered by `compare` under a collation, for DISTINCT sets.
struct Key(Value, Collation);

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0, self.1)
    }
}

struct Distinct {
    seen: BTreeSet<Key>,
    inner: Box<dyn Aggregate>,
    collation: Collation,
}

impl Aggregate for Distinct {
    fn step(&mut self, args: &[Value]) -> Result<()> {
        // NULLs count as equal to each other, as in SQLite's DISTINCT.
        if !self.seen.insert(Key(args[0].clone(), self.collation)) {
            return Ok(());
        }
        self.inner.step(args)
    }
    fn finish(&mut self) -> Result<Value> {
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, distinct: bool, rows: &[&[Value]]) -> Result<Value> {
        let argc = rows.first().map(|r| r.len()).unwrap_or(1);
        let mut a = create(name, argc, distinct, Collation::Binary).expect("aggregate exists");
        for r in rows {
            a.step(r)?;
        }
        a.finish()
    }
    fn i(x: i64) -> Value {
        Value::Integer(x)
    }
    fn r(x: f64) -> Value {
        Value::Real(x)
    }
    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn counts() {
        assert_eq!(run("count", false, &[&[], &[]]).unwrap(), i(2));
        assert_eq!(
            run("count", false, &[&[i(1)], &[Value::Null]]).unwrap(),
            i(1)
        );
        assert_eq!(
            run("count", true, &[&[i(1)], &[r(1.0)], &[i(2)]]).unwrap(),
            i(2)
        );
        assert_eq!(run("count", false, &[]).unwrap(), i(0));
    }

    #[test]
    fn sums() {
        assert_eq!(run("sum", false, &[&[i(1)], &[i(2)]]).unwrap(), i(3));
        assert_eq!(run("sum", false, &[&[i(1)], &[r(0.5)]]).unwrap(), r(1.5));
        assert_eq!(run("sum", false, &[&[Value::Null]]).unwrap(), Value::Null);
        assert_eq!(run("sum", false, &[&[t("3")], &[t("x")]]).unwrap(), r(3.0));
        assert!(run("sum", false, &[&[i(i64::MAX)], &[i(1)]]).is_err());
        assert_eq!(
            run("total", false, &[&[i(i64::MAX)], &[i(1)]]).unwrap(),
            r(9223372036854775808.0)
        );
        assert_eq!(run("total", false, &[]).unwrap(), r(0.0));
        assert_eq!(run("avg", false, &[&[i(1)], &[i(2)]]).unwrap(), r(1.5));
        assert_eq!(run("avg", false, &[]).unwrap(), Value::Null);
        // Verified against SQLite 3.46 (compensated summation, not exact).
        assert_eq!(
            run("sum", false, &[&[r(0.1)], &[r(0.2)], &[r(-0.3)]]).unwrap(),
            r(2.7755575615628914e-17)
        );
        assert_eq!(
            run("sum", true, &[&[i(2)], &[i(2)], &[i(3)]]).unwrap(),
            i(5)
        );
    }

    #[test]
    fn min_max_and_concat() {
        assert_eq!(
            run("min", false, &[&[i(3)], &[Value::Null], &[t("a")], &[i(1)]]).unwrap(),
            i(1)
        );
        assert_eq!(
            run("max", false, &[&[i(3)], &[t("a")], &[i(1)]]).unwrap(),
            t("a")
        );
        assert_eq!(run("max", false, &[&[Value::Null]]).unwrap(), Value::Null);
        assert_eq!(
            run("group_concat", false, &[&[t("a")], &[Value::Null], &[i(1)]]).unwrap(),
            t("a,1")
        );
        assert_eq!(
            run(
                "group_concat",
                false,
                &[&[t("a"), t("-")], &[t("b"), t("+")]]
            )
            .unwrap(),
            t("a+b")
        );
        assert_eq!(
            run("group_concat", false, &[&[Value::Null]]).unwrap(),
            Value::Null
        );
        assert_eq!(
            run("group_concat", true, &[&[t("a")], &[t("a")], &[t("b")]]).unwrap(),
            t("a,b")
        );
        assert!(create("group_concat", 2, true, Collation::Binary).is_none());
        let mut m = create("max", 1, false, Collation::NoCase).unwrap();
        for v in ["b", "A", "B"] {
            m.step(&[t(v)]).unwrap();
        }
        assert_eq!(m.finish().unwrap(), t("b"));
        let mut c = create("count", 1, true, Collation::NoCase).unwrap();
        for v in ["a", "A", "b"] {
            c.step(&[t(v)]).unwrap();
        }
        assert_eq!(c.finish().unwrap(), i(2));
        assert_eq!(
            run(
                "json_group_array",
                false,
                &[&[i(1)], &[Value::Null], &[t("a")]]
            )
            .unwrap(),
            t(r#"[1,null,"a"]"#)
        );
        assert_eq!(run("json_group_array", false, &[]).unwrap(), t("[]"));
        assert_eq!(
            run(
                "json_group_object",
                false,
                &[&[t("k"), r(1.5)], &[Value::Null, i(2)]]
            )
            .unwrap(),
            t(r#"{"k":1.5,:2}"#)
        );
    }
}
