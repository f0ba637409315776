//! Text and blob functions: length, case, substr, trim, replace, instr,
//! char/unicode, concat.
//!
//! Text is measured in characters, blobs in bytes. Non-text arguments are
//! rendered as text first (numbers as `Value::to_text`), except where SQLite
//! works on the bytes of a blob (`length`, `substr`, `instr` of two blobs).
//! Case mapping is ASCII-only, as in SQLite built without ICU.

use super::scalar::value_int;
use super::{too_big, FuncContext, ScalarFn, MAX_LENGTH};
use crate::sql::value::Value;
use crate::Result;

pub(super) fn lookup(name: &str, argc: usize) -> Option<ScalarFn> {
    let f: ScalarFn = match (name, argc) {
        ("length", 1) => length,
        ("octet_length", 1) => octet_length,
        ("lower", 1) => lower,
        ("upper", 1) => upper,
        ("substr" | "substring", 2 | 3) => substr,
        ("trim", 1 | 2) => trim,
        ("ltrim", 1 | 2) => ltrim,
        ("rtrim", 1 | 2) => rtrim,
        ("replace", 3) => replace,
        ("instr", 2) => instr,
        ("char", _) => char_fn,
        ("unicode", 1) => unicode,
        ("concat", n) if n >= 1 => concat,
        ("concat_ws", n) if n >= 2 => concat_ws,
        ("like", 2 | 3) => like_fn,
        ("glob", 2) => glob_fn,
        _ => return None,
    };
    Some(f)
}

fn length(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(match &args[0] {
        Value::Null => Value::Null,
        Value::Blob(b) => Value::Integer(b.len() as i64),
        // Text length stops at the first NUL, as in SQLite.
        v => Value::Integer(
            v.to_text()
                .unwrap_or_default()
                .chars()
                .take_while(|&c| c != '\0')
                .count() as i64,
        ),
    })
}

fn octet_length(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(match &args[0] {
        Value::Null => Value::Null,
        Value::Blob(b) => Value::Integer(b.len() as i64),
        v => Value::Integer(v.to_text().unwrap_or_default().len() as i64),
    })
}

fn lower(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(args[0]
        .to_text()
        .map(|s| Value::Text(s.to_ascii_lowercase()))
        .unwrap_or(Value::Null))
}

fn upper(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(args[0]
        .to_text()
        .map(|s| Value::Text(s.to_ascii_uppercase()))
        .unwrap_or(Value::Null))
}

/// Start offset and length (both >= 0, in units) for substr, from SQLite's
/// 1-based start `p1` (negative counts from the end, 0 is before the first)
/// and length `p2` (negative takes characters before the start).
fn substr_range(len: i64, p1: i64, p2: Option<i64>) -> (i64, i64) {
    let mut p1 = p1;
    let (mut p2, neg) = match p2 {
        Some(p) if p < 0 => (-p, true),
        Some(p) => (p, false),
        None => (MAX_LENGTH, false),
    };
    if p1 < 0 {
        p1 += len;
        if p1 < 0 {
            p2 = (p2 + p1).max(0);
            p1 = 0;
        }
    } else if p1 > 0 {
        p1 -= 1;
    } else if p2 > 0 {
        p2 -= 1;
    }
    if neg {
        p1 -= p2;
        if p1 < 0 {
            p2 += p1;
            p1 = 0;
        }
    }
    (p1, p2.max(0))
}

fn substr(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    if args[1].is_null() || (args.len() == 3 && args[2].is_null()) {
        return Ok(Value::Null);
    }
    let p1 = value_int(&args[1]);
    let p2 = args.get(2).map(value_int);
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Blob(b) => {
            let (p1, p2) = substr_range(b.len() as i64, p1, p2);
            let start = (p1 as usize).min(b.len());
            let end = (p1 + p2).min(b.len() as i64).max(p1) as usize;
            Ok(Value::Blob(b[start..end.min(b.len()).max(start)].to_vec()))
        }
        v => {
            let s = v.to_text().unwrap_or_default();
            let n = if p1 < 0 { s.chars().count() as i64 } else { 0 };
            let (p1, p2) = substr_range(n, p1, p2);
            Ok(Value::Text(
                s.chars().skip(p1 as usize).take(p2 as usize).collect(),
            ))
        }
    }
}

/// Trims characters of `set` from the left (`mode & 1`) and right (`& 2`).
fn trim_impl(args: &[Value], mode: u8) -> Result<Value> {
    let Some(s) = args[0].to_text() else {
        return Ok(Value::Null);
    };
    let set: Vec<char> = match args.get(1) {
        None => vec![' '],
        Some(v) => match v.to_text() {
            None => return Ok(Value::Null),
            Some(t) => t.chars().collect(),
        },
    };
    let mut out: &str = &s;
    if mode & 1 != 0 {
        out = out.trim_start_matches(|c| set.contains(&c));
    }
    if mode & 2 != 0 {
        out = out.trim_end_matches(|c| set.contains(&c));
    }
    Ok(Value::Text(out.to_string()))
}

fn trim(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    trim_impl(args, 3)
}

fn ltrim(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    trim_impl(args, 1)
}

fn rtrim(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    trim_impl(args, 2)
}

fn replace(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    let (Some(s), Some(pat)) = (args[0].to_text(), args[1].to_text()) else {
        return Ok(Value::Null);
    };
    if pat.is_empty() {
        return Ok(Value::Text(s));
    }
    let Some(rep) = args[2].to_text() else {
        return Ok(Value::Null);
    };
    let out = s.replace(&pat, &rep);
    if out.len() as i64 > MAX_LENGTH {
        return Err(too_big());
    }
    Ok(Value::Text(out))
}

fn instr(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    if args[0].is_null() || args[1].is_null() {
        return Ok(Value::Null);
    }
    if let (Value::Blob(h), Value::Blob(n)) = (&args[0], &args[1]) {
        if n.is_empty() {
            return Ok(Value::Integer(1));
        }
        let pos = h.windows(n.len()).position(|w| w == n.as_slice());
        return Ok(Value::Integer(pos.map(|p| p as i64 + 1).unwrap_or(0)));
    }
    let h = args[0].to_text().unwrap_or_default();
    let n = args[1].to_text().unwrap_or_default();
    Ok(Value::Integer(match h.find(&n) {
        Some(byte) => h[..byte].chars().count() as i64 + 1,
        None => 0,
    }))
}

fn char_fn(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    let mut s = String::with_capacity(args.len());
    for a in args {
        let x = a.to_integer().unwrap_or(0);
        // Out-of-range code points (and, in Rust, surrogates) become U+FFFD.
        let c = u32::try_from(x)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{fffd}');
        s.push(c);
    }
    Ok(Value::Text(s))
}

fn unicode(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(match args[0].to_text().and_then(|s| s.chars().next()) {
        Some(c) if c != '\0' => Value::Integer(c as i64),
        _ => Value::Null,
    })
}

/// SQLite's default SQLITE_LIMIT_LIKE_PATTERN_LENGTH.
const MAX_PATTERN: usize = 50_000;

/// `like(pattern, text [, escape])`, which is also how SQLite evaluates
/// `text LIKE pattern [ESCAPE escape]`: a bad ESCAPE is an error even with
/// NULL operands, then NULL if any argument is NULL; numbers and blobs are
/// matched as their text.
pub(crate) fn like_fn(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    pattern_fn(args, false)
}

/// `glob(pattern, text)`, also `text GLOB pattern`.
pub(crate) fn glob_fn(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    pattern_fn(args, true)
}

fn pattern_fn(args: &[Value], is_glob: bool) -> Result<Value> {
    let pattern_len = match &args[0] {
        Value::Text(t) => t.len(),
        v => v.to_text().map_or(0, |t| t.len()),
    };
    if pattern_len > MAX_PATTERN {
        return Err(crate::Error::LimitExceeded(
            "LIKE or GLOB pattern too complex".into(),
        ));
    }
    let mut escape = None;
    if let Some(e) = args.get(2) {
        let Some(e) = e.to_text() else {
            return Ok(Value::Null);
        };
        let mut chars = e.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => escape = Some(c),
            _ => {
                return Err(crate::Error::InvalidInput(
                    "ESCAPE expression must be a single character".into(),
                ))
            }
        }
    }
    let (Some(pattern), Some(text)) = (args[0].to_text(), args[1].to_text()) else {
        return Ok(Value::Null);
    };
    let matched = if is_glob {
        crate::sql::value::glob(&pattern, &text)
    } else {
        crate::sql::value::like(&pattern, &text, escape)
    };
    Ok(Value::Integer(matched as i64))
}

fn concat(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    let mut s = String::new();
    for a in args {
        if let Some(t) = a.to_text() {
            s.push_str(&t);
        }
    }
    Ok(Value::Text(s))
}

fn concat_ws(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    let Some(sep) = args[0].to_text() else {
        return Ok(Value::Null);
    };
    let parts: Vec<String> = args[1..].iter().filter_map(Value::to_text).collect();
    Ok(Value::Text(parts.join(&sep)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[Value]) -> Value {
        let f = lookup(name, args.len()).expect("function exists");
        f(args, &mut FuncContext::default()).expect("no error")
    }
    fn i(x: i64) -> Value {
        Value::Integer(x)
    }
    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn substr_edges() {
        let s = t("hello");
        assert_eq!(call("substr", &[s.clone(), i(2)]), t("ello"));
        assert_eq!(call("substr", &[s.clone(), i(2), i(3)]), t("ell"));
        assert_eq!(call("substr", &[s.clone(), i(0), i(2)]), t("h"));
        assert_eq!(call("substr", &[s.clone(), i(-3)]), t("llo"));
        assert_eq!(call("substr", &[s.clone(), i(-3), i(2)]), t("ll"));
        assert_eq!(call("substr", &[s.clone(), i(3), i(-2)]), t("he"));
        assert_eq!(call("substr", &[s.clone(), i(-10), i(7)]), t("he"));
        assert_eq!(call("substr", &[s.clone(), i(10)]), t(""));
        assert_eq!(call("substr", &[t("héllo"), i(2), i(2)]), t("él"));
        assert_eq!(
            call("substr", &[Value::Blob(vec![1, 2, 3]), i(2)]),
            Value::Blob(vec![2, 3])
        );
        assert_eq!(
            call("substr", &[Value::Blob(vec![1, 2, 3]), i(-1), i(5)]),
            Value::Blob(vec![3])
        );
        assert_eq!(call("substr", &[s, Value::Null]), Value::Null);
        assert_eq!(call("substr", &[i(12345), i(2), i(2)]), t("23"));
    }

    #[test]
    fn lengths_and_case() {
        assert_eq!(call("length", &[t("héllo")]), i(5));
        assert_eq!(call("length", &[Value::Blob(vec![0, 0])]), i(2));
        assert_eq!(call("length", &[Value::Real(1.5)]), i(3));
        assert_eq!(call("length", &[Value::Null]), Value::Null);
        assert_eq!(call("upper", &[t("abcé")]), t("ABCé"));
        assert_eq!(call("lower", &[t("ABC")]), t("abc"));
    }

    #[test]
    fn trim_replace_instr() {
        assert_eq!(call("trim", &[t("  a  ")]), t("a"));
        assert_eq!(call("ltrim", &[t("xxaxx"), t("x")]), t("axx"));
        assert_eq!(call("rtrim", &[t("xxaxy"), t("xy")]), t("xxa"));
        assert_eq!(call("trim", &[t("a"), Value::Null]), Value::Null);
        assert_eq!(
            call("replace", &[t("abcabc"), t("b"), t("XY")]),
            t("aXYcaXYc")
        );
        assert_eq!(call("replace", &[t("abc"), t(""), t("X")]), t("abc"));
        assert_eq!(call("replace", &[i(1212), i(1), i(3)]), t("3232"));
        assert_eq!(call("instr", &[t("héllo"), t("l")]), i(3));
        assert_eq!(call("instr", &[t("abc"), t("")]), i(1));
        assert_eq!(call("instr", &[t("abc"), t("z")]), i(0));
        assert_eq!(
            call("instr", &[Value::Blob(vec![1, 2, 3]), Value::Blob(vec![3])]),
            i(3)
        );
    }

    #[test]
    fn like_and_glob_functions() {
        assert_eq!(call("like", &[t("a%"), t("ABC")]), i(1));
        assert_eq!(call("like", &[t("a!%"), t("a%"), t("!")]), i(1));
        assert_eq!(call("like", &[t("a%"), Value::Null]), Value::Null);
        assert_eq!(call("like", &[t("a%"), Value::Blob(b"abc".to_vec())]), i(1));
        assert_eq!(call("like", &[i(1), i(1)]), i(1));
        assert_eq!(call("glob", &[t("a*"), t("ABC")]), i(0));
        let f = lookup("like", 3).unwrap();
        assert!(f(&[t("a"), t("a"), t("xy")], &mut FuncContext::default()).is_err());
    }

    #[test]
    fn chars_and_concat() {
        assert_eq!(call("char", &[i(72), i(105)]), t("Hi"));
        assert_eq!(call("char", &[i(-1)]), t("\u{fffd}"));
        assert_eq!(call("unicode", &[t("é")]), i(233));
        assert_eq!(call("unicode", &[t("")]), Value::Null);
        assert_eq!(call("concat", &[t("a"), Value::Null, i(1)]), t("a1"));
        assert_eq!(
            call("concat_ws", &[t(","), t("a"), Value::Null, t("b")]),
            t("a,b")
        );
    }
}
