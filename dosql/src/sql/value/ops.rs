//! SQL operators on values, as SQLite's VDBE evaluates them.
//!
//! Arithmetic (`OP_Add` ... `OP_Remainder`):
//!
//! ```text
//!   NULL operand            -> NULL
//!   both integer-valued     -> i64 math; + - * overflow (and MIN / -1)
//!                              fall back to REAL
//!   otherwise               -> f64 math; a NaN result is NULL
//!   x / 0, x % 0            -> NULL
//! ```
//!
//! Text and blob operands count as integers when they are an integer that
//! fits (`'12abc'` is 12, `'abc'` is 0) and as reals otherwise (`'1e5'`).
//! Bitwise operators convert each operand with CAST(x AS INTEGER) rules.

use super::num::double_to_i64;
use super::{Num, Value};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

fn arith(a: &Value, b: &Value, op: Op) -> Value {
    let (Some(x), Some(y)) = (Num::of(a), Num::of(b)) else {
        return Value::Null;
    };
    if let (Num::Int(x), Num::Int(y)) = (x, y) {
        let r = match op {
            Op::Add => x.checked_add(y),
            Op::Sub => x.checked_sub(y),
            Op::Mul => x.checked_mul(y),
            Op::Div => {
                if y == 0 {
                    return Value::Null;
                }
                x.checked_div(y)
            }
            Op::Rem => {
                if y == 0 {
                    return Value::Null;
                }
                // SQLite maps a divisor of -1 to 1 so MIN % -1 cannot trap.
                Some(x % if y == -1 { 1 } else { y })
            }
        };
        if let Some(r) = r {
            return Value::Integer(r);
        }
    }
    let r = match op {
        Op::Add => x.as_real() + y.as_real(),
        Op::Sub => x.as_real() - y.as_real(),
        Op::Mul => x.as_real() * y.as_real(),
        Op::Div => {
            let d = y.as_real();
            if d == 0.0 {
                return Value::Null;
            }
            x.as_real() / d
        }
        Op::Rem => {
            let ia = a.to_integer().unwrap_or(0);
            let ib = b.to_integer().unwrap_or(0);
            if ib == 0 {
                return Value::Null;
            }
            (ia % if ib == -1 { 1 } else { ib }) as f64
        }
    };
    if r.is_nan() {
        Value::Null
    } else {
        Value::Real(r)
    }
}

/// `a + b`.
pub fn add(a: &Value, b: &Value) -> Value {
    arith(a, b, Op::Add)
}

/// `a - b`.
pub fn sub(a: &Value, b: &Value) -> Value {
    arith(a, b, Op::Sub)
}

/// `a * b`.
pub fn mul(a: &Value, b: &Value) -> Value {
    arith(a, b, Op::Mul)
}

/// `a / b`: integer division truncates; division by zero is NULL.
pub fn div(a: &Value, b: &Value) -> Value {
    arith(a, b, Op::Div)
}

/// `a % b`: on integers (reals are truncated first), REAL if either
/// operand is REAL; remainder by zero is NULL.
pub fn rem(a: &Value, b: &Value) -> Value {
    arith(a, b, Op::Rem)
}

/// Unary `-a`, which SQLite compiles as `0 - a`.
pub fn neg(a: &Value) -> Value {
    sub(&Value::Integer(0), a)
}

fn int_of(v: &Value) -> i64 {
    match v {
        Value::Real(r) => double_to_i64(*r),
        other => other.to_integer().unwrap_or(0),
    }
}

/// `~a`.
pub fn bit_not(a: &Value) -> Value {
    if a.is_null() {
        return Value::Null;
    }
    Value::Integer(!int_of(a))
}

/// `a & b`.
pub fn bit_and(a: &Value, b: &Value) -> Value {
    if a.is_null() || b.is_null() {
        return Value::Null;
    }
    Value::Integer(int_of(a) & int_of(b))
}

/// `a | b`.
pub fn bit_or(a: &Value, b: &Value) -> Value {
    if a.is_null() || b.is_null() {
        return Value::Null;
    }
    Value::Integer(int_of(a) | int_of(b))
}

/// Shift `a` left (`left`) or right by `n`; a negative count shifts the
/// other way, counts of 64 or more give 0 (or -1 for a negative `a` shifted
/// right, which is arithmetic).
fn shift(a: i64, n: i64, left: bool) -> i64 {
    if n == 0 {
        return a;
    }
    let (left, n) = if n < 0 {
        (!left, if n > -64 { -n } else { 64 })
    } else {
        (left, n)
    };
    if n >= 64 {
        return if a >= 0 || left { 0 } else { -1 };
    }
    if left {
        ((a as u64) << n) as i64
    } else {
        a >> n
    }
}

/// `a << b`.
pub fn shl(a: &Value, b: &Value) -> Value {
    if a.is_null() || b.is_null() {
        return Value::Null;
    }
    Value::Integer(shift(int_of(a), int_of(b), true))
}

/// `a >> b`.
pub fn shr(a: &Value, b: &Value) -> Value {
    if a.is_null() || b.is_null() {
        return Value::Null;
    }
    Value::Integer(shift(int_of(a), int_of(b), false))
}

/// `a || b`: both rendered as text; NULL if either is NULL.
pub fn concat(a: &Value, b: &Value) -> Value {
    match (a.to_text(), b.to_text()) {
        (Some(mut x), Some(y)) => {
            x.push_str(&y);
            Value::Text(x)
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn integer_math_and_overflow() {
        assert_eq!(add(&i(2), &i(3)), i(5));
        assert_eq!(add(&i(i64::MAX), &i(1)), r(9223372036854775808.0));
        assert_eq!(sub(&i(i64::MIN), &i(1)), r(-9223372036854775808.0));
        assert_eq!(mul(&i(i64::MAX), &i(2)), r(1.8446744073709552e19));
        assert_eq!(div(&i(7), &i(2)), i(3));
        assert_eq!(div(&i(-7), &i(2)), i(-3));
        assert_eq!(div(&i(i64::MIN), &i(-1)), r(9223372036854775808.0));
        assert_eq!(rem(&i(-7), &i(3)), i(-1));
        assert_eq!(rem(&i(i64::MIN), &i(-1)), i(0));
        assert_eq!(div(&i(1), &i(0)), Value::Null);
        assert_eq!(rem(&i(1), &i(0)), Value::Null);
        assert_eq!(neg(&i(i64::MIN)), r(9223372036854775808.0));
    }

    #[test]
    fn mixed_and_text_operands() {
        assert_eq!(add(&i(1), &r(0.5)), r(1.5));
        assert_eq!(add(&t("12abc"), &i(1)), i(13));
        assert_eq!(add(&t("abc"), &i(1)), i(1));
        assert_eq!(add(&t("1e5"), &i(1)), r(100001.0));
        assert_eq!(div(&r(1.0), &i(0)), Value::Null);
        assert_eq!(rem(&r(5.5), &i(2)), r(1.0));
        assert_eq!(add(&Value::Null, &i(1)), Value::Null);
        assert_eq!(sub(&r(f64::INFINITY), &r(f64::INFINITY)), Value::Null);
        assert_eq!(neg(&t("abc")), i(0));
    }

    #[test]
    fn bitwise() {
        assert_eq!(bit_and(&i(6), &i(3)), i(2));
        assert_eq!(bit_or(&i(6), &i(3)), i(7));
        assert_eq!(bit_not(&i(0)), i(-1));
        assert_eq!(shl(&i(1), &i(62)), i(1 << 62));
        assert_eq!(shl(&i(1), &i(64)), i(0));
        assert_eq!(shr(&i(-8), &i(1)), i(-4));
        assert_eq!(shr(&i(-8), &i(100)), i(-1));
        assert_eq!(shl(&i(8), &i(-2)), i(2));
        assert_eq!(shl(&r(2.9), &t("1")), i(4));
        assert_eq!(bit_and(&Value::Null, &i(1)), Value::Null);
    }

    #[test]
    fn concatenation() {
        assert_eq!(concat(&t("a"), &i(1)), t("a1"));
        assert_eq!(concat(&r(1.0), &t("x")), t("1.0x"));
        assert_eq!(concat(&Value::Blob(b"AB".to_vec()), &t("c")), t("ABc"));
        assert_eq!(concat(&Value::Null, &t("c")), Value::Null);
    }
}
