//! Evaluating one window function call over one partition.
//!
//! Ranking functions (`row_number`, `rank`, `dense_rank`, `percent_rank`,
//! `cume_dist`, `ntile`) and `lag`/`lead` read positions in the partition;
//! `first_value`, `last_value`, `nth_value` and aggregates read each row's
//! frame. See the module above for the two aggregate strategies.

use super::frame::must_be_int;
use super::{Exclude, Partition, WinFunc, WinKind, WindowDef};
use crate::error::{Error, Result};
use crate::sql::exec::Exec;
use crate::sql::expr::Env;
use crate::sql::func::{self, Aggregate};
use crate::sql::value::{add, sub, Value};

/// The call's value for every row of `part`, in window order.
pub(crate) fn evaluate(
    f: &WinFunc,
    def: &WindowDef,
    part: &Partition,
    frames: &[(usize, usize)],
    ex: &mut Exec,
    outer: Option<&Env>,
) -> Result<Vec<Value>> {
    let n = part.rows.len();
    let arg = |k: usize, i: usize, ex: &mut Exec| -> Result<Value> {
        f.args[k].eval(&Env::new(part.rows[i], outer), ex)
    };
    let int = |i: usize| Value::Integer(i as i64);
    let rank = |i: usize| part.group_start[part.group[i]] + 1;
    let mut out = Vec::with_capacity(n);
    match &f.kind {
        WinKind::RowNumber => out.extend((1..=n).map(int)),
        WinKind::Rank => out.extend((0..n).map(|i| int(rank(i)))),
        WinKind::DenseRank => out.extend((0..n).map(|i| int(part.group[i] + 1))),
        WinKind::PercentRank => out.extend((0..n).map(|i| {
            Value::Real(if n > 1 {
                (rank(i) - 1) as f64 / (n - 1) as f64
            } else {
                0.0
            })
        })),
        WinKind::CumeDist => out.extend(
            (0..n).map(|i| Value::Real(part.group_start[part.group[i] + 1] as f64 / n as f64)),
        ),
        WinKind::Ntile => {
            // The bucket count comes from the partition's first row.
            let buckets = if n > 0 {
                arg(0, 0, ex)?.to_integer().unwrap_or(0)
            } else {
                1
            };
            if buckets <= 0 {
                return Err(Error::InvalidInput(
                    "argument of ntile must be a positive integer".into(),
                ));
            }
            out.extend((0..n).map(|i| Value::Integer(ntile(n as i64, buckets, i as i64))));
        }
        WinKind::Lag | WinKind::Lead => {
            for i in 0..n {
                let by = if f.args.len() > 1 {
                    arg(1, i, ex)?
                } else {
                    Value::Integer(1)
                };
                // SQLite adds the offset to the row's position, and finds a
                // row only at an integral position inside the partition.
                let here = Value::Integer(i as i64);
                let target = if f.kind == WinKind::Lag {
                    sub(&here, &by)
                } else {
                    add(&here, &by)
                };
                let found = match target {
                    Value::Integer(t) => usize::try_from(t).ok().filter(|t| *t < n),
                    Value::Real(r) if r.fract() == 0.0 && r >= 0.0 && r < n as f64 => {
                        Some(r as usize)
                    }
                    _ => None,
                };
                out.push(match found {
                    Some(t) => arg(0, t, ex)?,
                    None if f.args.len() > 2 => arg(2, i, ex)?,
                    None => Value::Null,
                });
            }
        }
        WinKind::FirstValue | WinKind::LastValue | WinKind::NthValue
            if def.frame.exclude == Exclude::None =>
        {
            for (i, &(s, e)) in frames.iter().enumerate() {
                let at = match f.kind {
                    WinKind::FirstValue => s,
                    WinKind::LastValue => e.wrapping_sub(1),
                    _ => s.saturating_add(nth(&arg(1, i, ex)?)? - 1),
                };
                out.push(if s < e && at >= s && at < e {
                    arg(0, at, ex)?
                } else {
                    Value::Null
                });
            }
        }
        WinKind::FirstValue | WinKind::LastValue | WinKind::NthValue => {
            for (i, &(s, e)) in frames.iter().enumerate() {
                let wanted = match f.kind {
                    WinKind::NthValue => nth(&arg(1, i, ex)?)?,
                    _ => 1,
                };
                let rows: Vec<usize> = (s..e).filter(|&j| !excluded(def, part, i, j)).collect();
                let pick = match f.kind {
                    WinKind::LastValue => rows.last().copied(),
                    _ => rows.get(wanted - 1).copied(),
                };
                out.push(match pick {
                    Some(j) => arg(0, j, ex)?,
                    None => Value::Null,
                });
            }
        }
        WinKind::Agg(name) => return aggregate(f, name, def, part, frames, ex, outer),
    }
    Ok(out)
}

/// SQLite's `ntileValueFunc`: the 1-based bucket of row `row` of `total`.
fn ntile(total: i64, buckets: i64, row: i64) -> i64 {
    let size = total / buckets;
    if size == 0 {
        return row + 1;
    }
    let large = total - buckets * size;
    let small_rows = large * (size + 1);
    if row < small_rows {
        1 + row / (size + 1)
    } else {
        1 + large + (row - small_rows) / size
    }
}

/// The N of `nth_value(x, N)`: a positive integer.
fn nth(v: &Value) -> Result<usize> {
    match must_be_int(v) {
        Some(k) if k > 0 => Ok(usize::try_from(k).unwrap_or(usize::MAX)),
        _ => Err(Error::InvalidInput(
            "second argument to nth_value must be a positive integer".into(),
        )),
    }
}

/// True when the EXCLUDE clause removes row `j` from row `i`'s frame.
fn excluded(def: &WindowDef, part: &Partition, i: usize, j: usize) -> bool {
    match def.frame.exclude {
        Exclude::None | Exclude::NoOthers => false,
        Exclude::CurrentRow => i == j,
        Exclude::Group => part.group[i] == part.group[j],
        Exclude::Ties => i != j && part.group[i] == part.group[j],
    }
}

fn new_state(f: &WinFunc, name: &str) -> Result<Box<dyn Aggregate>> {
    func::aggregate_collated(name, f.args.len(), false, f.coll)
        .ok_or_else(|| Error::NotFound(format!("no such window function: {name}")))
}

/// Steps (or inverts) row `j` into `state`, unless FILTER rejects it.
fn feed(
    f: &WinFunc,
    state: &mut dyn Aggregate,
    row: &[crate::sql::value::Value],
    inverse: bool,
    ex: &mut Exec,
    outer: Option<&Env>,
) -> Result<bool> {
    let env = Env::new(row, outer);
    if let Some(filter) = &f.filter {
        if !filter.test(&env, ex)? {
            return Ok(true);
        }
    }
    let args = f
        .args
        .iter()
        .map(|a| a.eval(&env, ex))
        .collect::<Result<Vec<_>>>()?;
    if inverse {
        state.inverse(&args)
    } else {
        state.step(&args)?;
        Ok(true)
    }
}

#[allow(clippy::too_many_arguments)]
fn aggregate(
    f: &WinFunc,
    name: &str,
    def: &WindowDef,
    part: &Partition,
    frames: &[(usize, usize)],
    ex: &mut Exec,
    outer: Option<&Env>,
) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(frames.len());
    let unbounded_start = matches!(def.frame.start, super::Bound::Unbounded);
    let min_max = name == "min" || name == "max";
    let recompute = def.frame.exclude != Exclude::None || (min_max && !unbounded_start);
    if recompute {
        // SQLite's min/max over a moving frame reads an index of the
        // frame's values that FILTER does not apply to.
        let filtered = if def.frame.exclude == Exclude::None {
            None
        } else {
            f.filter.clone()
        };
        let g = WinFunc {
            filter: filtered,
            ..f.clone()
        };
        for (i, &(s, e)) in frames.iter().enumerate() {
            let mut state = new_state(f, name)?;
            for j in s..e {
                if !excluded(def, part, i, j) {
                    feed(&g, state.as_mut(), part.rows[j], false, ex, outer)?;
                }
            }
            out.push(state.finish()?);
        }
        return Ok(out);
    }
    let concat = name == "group_concat" || name == "string_agg";
    // One accumulator holding rows [a, b) of the partition.
    let mut state = new_state(f, name)?;
    let (mut a, mut b) = (0usize, 0usize);
    for &(s, e) in frames {
        while a < s.min(b) {
            if !feed(f, state.as_mut(), part.rows[a], true, ex, outer)? {
                // No inverse: start over from the frame's first row.
                state = new_state(f, name)?;
                b = s;
                a = s;
                break;
            }
            a += 1;
        }
        if a >= b {
            a = a.max(s);
            b = b.max(a);
        }
        while b < e {
            feed(f, state.as_mut(), part.rows[b], false, ex, outer)?;
            b += 1;
        }
        // SQLite's xValue of group_concat reads empty text as NULL.
        out.push(match state.finish()? {
            Value::Text(t) if t.is_empty() && concat => Value::Null,
            v => v,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntile_spreads_the_remainder_over_the_first_buckets() {
        let buckets: Vec<i64> = (0..7).map(|r| ntile(7, 3, r)).collect();
        assert_eq!(buckets, [1, 1, 1, 2, 2, 3, 3]);
        let more: Vec<i64> = (0..3).map(|r| ntile(3, 5, r)).collect();
        assert_eq!(more, [1, 2, 3]);
    }

    #[test]
    fn nth_needs_a_positive_integer() {
        assert_eq!(nth(&Value::Integer(2)).unwrap(), 2);
        assert_eq!(nth(&Value::Real(2.0)).unwrap(), 2);
        assert!(nth(&Value::Integer(0)).is_err());
        assert!(nth(&Value::Real(1.5)).is_err());
    }
}
