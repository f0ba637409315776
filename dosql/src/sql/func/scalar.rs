//! Core scalar functions: NULL handling, numbers, types, quoting,
//! randomness and printf.
//!
//! Each function takes its arguments already evaluated and coerces them the
//! way the C implementation does (`sqlite3_value_int64`, `_double`,
//! `_text`), so for example `abs('-5')` is the REAL 5.0 and `round('2.5')`
//! is 3.0.

use std::cmp::Ordering;

use super::{printf, too_big, FuncContext, ScalarFn, MAX_LENGTH};
use crate::sql::value::{compare, Collation, Value};
use crate::{Error, Result};

pub(super) fn lookup(name: &str, argc: usize) -> Option<ScalarFn> {
    let f: ScalarFn = match (name, argc) {
        ("abs", 1) => abs,
        ("coalesce", n) if n >= 2 => coalesce,
        ("ifnull", 2) => coalesce,
        ("nullif", 2) => nullif,
        ("iif", 3) => iif,
        ("typeof", 1) => type_of,
        ("round", 1 | 2) => round,
        ("random", 0) => random,
        ("randomblob", 1) => randomblob,
        ("zeroblob", 1) => zeroblob,
        ("min", n) if n >= 2 => min,
        ("max", n) if n >= 2 => max,
        ("sign", 1) => sign,
        ("likely" | "unlikely", 1) => first,
        ("likelihood", 2) => first,
        ("printf" | "format", n) if n >= 1 => printf_fn,
        ("hex", 1) => hex,
        ("unhex", 1 | 2) => unhex,
        ("quote", 1) => quote_fn,
        _ => return None,
    };
    Some(f)
}

fn abs(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(match &args[0] {
        Value::Null => Value::Null,
        Value::Integer(i) => Value::Integer(
            i.checked_abs()
                .ok_or_else(|| Error::InvalidInput("integer overflow".into()))?,
        ),
        other => Value::Real(other.to_real().unwrap_or(0.0).abs()),
    })
}

fn coalesce(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(args
        .iter()
        .find(|v| !v.is_null())
        .cloned()
        .unwrap_or(Value::Null))
}

fn nullif(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(
        if compare(&args[0], &args[1], Collation::Binary) == Ordering::Equal {
            Value::Null
        } else {
            args[0].clone()
        },
    )
}

fn iif(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(if args[0].truthy() == Some(true) {
        args[1].clone()
    } else {
        args[2].clone()
    })
}

fn type_of(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(Value::Text(args[0].type_name().into()))
}

fn first(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(args[0].clone())
}

/// `sqlite3_value_int`: the low 32 bits of the int64 conversion.
pub(super) fn value_int(v: &Value) -> i64 {
    v.to_integer().unwrap_or(0) as i32 as i64
}

fn round(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    let mut n = 0;
    if args.len() == 2 {
        if args[1].is_null() {
            return Ok(Value::Null);
        }
        n = value_int(&args[1]).clamp(0, 30);
    }
    let Some(mut r) = args[0].to_real() else {
        return Ok(Value::Null);
    };
    if !(-4503599627370496.0..=4503599627370496.0).contains(&r) {
        // Already integral: nothing to round.
    } else if n == 0 {
        r = (r + if r < 0.0 { -0.5 } else { 0.5 }) as i64 as f64;
    } else {
        // SQLite rounds through its own decimal rendering ("%!.*f").
        let s = printf::format_text(&format!("%!.{n}f"), &[Value::Real(r)]);
        r = crate::sql::value::num::atof(s.as_bytes()).0;
    }
    Ok(Value::Real(r))
}

fn random(_: &[Value], ctx: &mut FuncContext) -> Result<Value> {
    let r = ctx.next_random() as i64;
    // Like SQLite, never return i64::MIN so that abs(random()) is safe.
    Ok(Value::Integer(if r < 0 { -(r & i64::MAX) } else { r }))
}

fn randomblob(args: &[Value], ctx: &mut FuncContext) -> Result<Value> {
    let n = args[0].to_integer().unwrap_or(0).max(1);
    if n > MAX_LENGTH {
        return Err(too_big());
    }
    let mut out = Vec::with_capacity(n as usize);
    while out.len() < n as usize {
        let r = ctx.next_random().to_le_bytes();
        let take = (n as usize - out.len()).min(8);
        out.extend_from_slice(&r[..take]);
    }
    Ok(Value::Blob(out))
}

fn zeroblob(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    let n = args[0].to_integer().unwrap_or(0).max(0);
    if n > MAX_LENGTH {
        return Err(too_big());
    }
    Ok(Value::Blob(vec![0; n as usize]))
}

/// Multi-argument min/max: NULL if any argument is NULL; on ties min()
/// keeps the last equal argument and max() the first, as SQLite does.
fn min_max(args: &[Value], want_max: bool) -> Value {
    let mut best = 0;
    if args[0].is_null() {
        return Value::Null;
    }
    for i in 1..args.len() {
        if args[i].is_null() {
            return Value::Null;
        }
        let c = compare(&args[best], &args[i], Collation::Binary);
        let take = if want_max {
            c == Ordering::Less
        } else {
            c != Ordering::Less
        };
        if take {
            best = i;
        }
    }
    args[best].clone()
}

fn min(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(min_max(args, false))
}

fn max(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(min_max(args, true))
}

fn sign(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    // sqlite3_value_numeric_type: text converts only if it is wholly a number.
    let v = crate::sql::value::numeric_value(&args[0]);
    let x = match v {
        Value::Integer(i) => i as f64,
        Value::Real(r) => r,
        _ => return Ok(Value::Null),
    };
    Ok(Value::Integer(if x < 0.0 {
        -1
    } else if x > 0.0 {
        1
    } else {
        0
    }))
}

fn printf_fn(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    let Some(fmt) = args[0].to_text() else {
        return Ok(Value::Null);
    };
    Ok(printf::sql_printf(&fmt, &args[1..])?
        .map(Value::Text)
        .unwrap_or(Value::Null))
}

/// Upper-case hexadecimal of bytes.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

fn hex(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(Value::Text(match &args[0] {
        Value::Blob(b) => hex_upper(b),
        other => hex_upper(other.to_text().unwrap_or_default().as_bytes()),
    }))
}

/// `unhex(X [, Y])`: the blob spelled by hex digit pairs in X; characters
/// listed in Y may separate (not split) pairs; NULL on anything else.
fn unhex(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    let Some(hex) = args[0].to_text() else {
        return Ok(Value::Null);
    };
    let pass = match args.get(1) {
        None => String::new(),
        Some(v) => match v.to_text() {
            Some(p) => p,
            None => return Ok(Value::Null),
        },
    };
    let digit = |c: char| c.to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(hex.len() / 2);
    let mut chars = hex.chars().take_while(|&c| c != '\0');
    while let Some(c) = chars.next() {
        let Some(hi) = digit(c) else {
            if pass.contains(c) {
                continue;
            }
            return Ok(Value::Null);
        };
        let Some(lo) = chars.next().and_then(digit) else {
            return Ok(Value::Null);
        };
        out.push(hi << 4 | lo);
    }
    Ok(Value::Blob(out))
}

/// SQL literal for a value (`sqlite3QuoteValue`), as used by quote().
pub(crate) fn quote(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => {
            // 15 significant digits if they round-trip, else 20.
            let s = printf::format_text("%!0.15g", &[Value::Real(*r)]);
            let back = crate::sql::value::num::atof(s.as_bytes()).0;
            if back == *r || r.is_infinite() {
                s
            } else {
                printf::format_text("%!0.20e", &[Value::Real(*r)])
            }
        }
        Value::Text(t) => {
            let t = t.split('\0').next().unwrap_or("");
            let mut s = String::with_capacity(t.len() + 2);
            s.push('\'');
            for c in t.chars() {
                if c == '\'' {
                    s.push('\'');
                }
                s.push(c);
            }
            s.push('\'');
            s
        }
        Value::Blob(b) => format!("X'{}'", hex_upper(b)),
    }
}

fn quote_fn(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(Value::Text(quote(&args[0])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[Value]) -> Value {
        let f = super::super::scalar(name, args.len()).expect("function exists");
        f(args, &mut FuncContext::default()).expect("no error")
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
    fn abs_and_sign() {
        assert_eq!(call("abs", &[i(-5)]), i(5));
        assert_eq!(call("abs", &[t("-5")]), r(5.0));
        assert_eq!(call("abs", &[Value::Null]), Value::Null);
        let f = super::super::scalar("abs", 1).unwrap();
        assert!(f(&[i(i64::MIN)], &mut FuncContext::default()).is_err());
        assert_eq!(call("sign", &[r(-2.5)]), i(-1));
        assert_eq!(call("sign", &[t("7")]), i(1));
        assert_eq!(call("sign", &[t("abc")]), Value::Null);
    }

    #[test]
    fn null_functions() {
        assert_eq!(call("coalesce", &[Value::Null, i(2), i(3)]), i(2));
        assert_eq!(call("ifnull", &[Value::Null, Value::Null]), Value::Null);
        assert_eq!(call("nullif", &[i(1), r(1.0)]), Value::Null);
        assert_eq!(call("nullif", &[i(1), t("1")]), i(1));
        assert_eq!(call("iif", &[t("1x"), i(1), i(2)]), i(1));
        assert_eq!(call("iif", &[Value::Null, i(1), i(2)]), i(2));
    }

    #[test]
    fn rounding() {
        assert_eq!(call("round", &[r(2.5)]), r(3.0));
        assert_eq!(call("round", &[r(-2.5)]), r(-3.0));
        assert_eq!(call("round", &[r(2.675), i(2)]), r(2.67));
        assert_eq!(call("round", &[r(2.6751), i(2)]), r(2.68));
        assert_eq!(call("round", &[i(5)]), r(5.0));
        assert_eq!(call("round", &[r(1.23456), i(-3)]), r(1.0));
        assert_eq!(call("round", &[r(1.5), Value::Null]), Value::Null);
    }

    #[test]
    fn min_max_ties() {
        assert_eq!(call("min", &[i(1), r(1.0)]), r(1.0));
        assert_eq!(call("max", &[i(1), r(1.0)]), i(1));
        assert_eq!(
            call("max", &[i(1), t("a"), Value::Blob(vec![])]),
            Value::Blob(vec![])
        );
        assert_eq!(call("min", &[i(1), Value::Null]), Value::Null);
    }

    #[test]
    fn quoting_and_hex() {
        assert_eq!(call("quote", &[t("it's")]), t("'it''s'"));
        assert_eq!(call("quote", &[r(0.1)]), t("0.1"));
        assert_eq!(call("quote", &[r(1.0)]), t("1.0"));
        assert_eq!(call("quote", &[Value::Blob(vec![1, 0xab])]), t("X'01AB'"));
        assert_eq!(call("quote", &[Value::Null]), t("NULL"));
        assert_eq!(call("hex", &[i(10)]), t("3130"));
        assert_eq!(call("typeof", &[r(1.0)]), t("real"));
        assert_eq!(call("printf", &[t("%d-%s"), i(1), t("x")]), t("1-x"));
    }

    #[test]
    fn blobs_and_random() {
        assert_eq!(call("zeroblob", &[i(3)]), Value::Blob(vec![0, 0, 0]));
        assert_eq!(call("zeroblob", &[i(-3)]), Value::Blob(vec![]));
        match call("randomblob", &[i(0)]) {
            Value::Blob(b) => assert_eq!(b.len(), 1),
            v => panic!("{v:?}"),
        }
        let mut ctx = FuncContext::at(0, 1);
        let a = random(&[], &mut ctx).unwrap();
        let b = random(&[], &mut ctx).unwrap();
        assert_ne!(a, b);
    }
}
