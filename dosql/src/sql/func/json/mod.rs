//! JSON functions: json, json_valid, json_type, json_extract, json_array,
//! json_object, json_array_length, json_quote, the `->`/`->>` operators
//! (`json_arrow`, `json_arrow2`) and the table-valued `json_each`.
//!
//! A path is `$` followed by steps, resolved left to right exactly like
//! SQLite's `jsonLookupStep` (so a malformed tail after a missing key is
//! "not found", not an error):
//!
//! ```text
//!   .key   ."quoted key"   [N]   [#]   [#-N]
//! ```
//!
//! JSON5 input is accepted and rendered canonically, and BLOB arguments
//! that look like JSONB are read as JSONB, as in SQLite. Deviation
//! (documented, deliberate): values carry no "JSON subtype", so
//! `json_array(json('[1]'))` embeds the text `"[1]"` unless the caller uses
//! [`call_with_json_args`] to say which arguments are JSON.

mod edit;
mod jsonb;
mod node;
mod parse;
mod patch;

use node::{Kind, Node, TextKind};
use parse::{parse, parse_full};

use super::{FuncContext, ScalarFn};
use crate::sql::value::num::{atof, atoi64};
use crate::sql::value::Value;
use crate::{Error, Result};

pub(super) fn lookup(name: &str, argc: usize) -> Option<ScalarFn> {
    let f: ScalarFn = match (name, argc) {
        ("json", 1) => json,
        ("json_valid", 1 | 2) => json_valid,
        ("json_type", 1 | 2) => json_type,
        ("json_extract", n) if n >= 2 => json_extract,
        ("json_array", _) => json_array,
        ("json_object", _) => json_object,
        ("json_array_length", 1 | 2) => json_array_length,
        ("json_quote", 1) => json_quote,
        ("json_arrow", 2) => json_arrow,
        ("json_arrow2", 2) => json_arrow2,
        ("json_remove", n) if n >= 1 => edit::json_remove,
        ("json_insert", n) if n >= 1 => edit::json_insert,
        ("json_replace", n) if n >= 1 => edit::json_replace,
        ("json_set", n) if n >= 1 => edit::json_set,
        ("json_patch", 2) => patch::json_patch,
        ("json_pretty", 1 | 2) => patch::json_pretty,
        _ => return None,
    };
    Some(f)
}

pub(super) fn malformed() -> Error {
    Error::InvalidInput("malformed JSON".into())
}

pub(super) fn bad_path(p: &str) -> Error {
    Error::InvalidInput(format!("bad JSON path: '{}'", p.replace('\'', "''")))
}

/// Parses a JSON argument: None for SQL NULL. A BLOB is read as JSONB
/// when it looks like JSONB, else as text, like SQLite's
/// `jsonParseFuncArg`.
pub(super) fn parse_arg(v: &Value) -> Result<Option<Node>> {
    let text = match v {
        Value::Null => return Ok(None),
        Value::Blob(b) if jsonb::looks_like_jsonb(b) => {
            return jsonb::decode(b).map(Some).ok_or_else(malformed)
        }
        other => other.to_text().unwrap_or_default(),
    };
    if text.is_empty() {
        return Err(malformed());
    }
    parse(&text).map(Some).ok_or_else(malformed)
}

/// Result of a path lookup.
enum Found<'a> {
    /// The node, its JSONB offset, and the offset of its label when it is
    /// an object member.
    At(&'a Node, u64, Option<u64>),
    Missing,
    PathError,
}

/// `jsonLookupStep`: resolves `path` (without the leading `$`) from `node`
/// at JSONB offset `off`.
fn lookup_step<'a>(node: &'a Node, off: u64, path: &[u8], label: Option<u64>) -> Found<'a> {
    if path.is_empty() {
        return Found::At(node, off, label);
    }
    match path[0] {
        b'.' => {
            let p = &path[1..];
            let (key, rest): (&[u8], &[u8]) = if p.first() == Some(&b'"') {
                let Some(end) = p[1..].iter().position(|&c| c == b'"') else {
                    return Found::PathError;
                };
                (&p[1..1 + end], &p[end + 2..])
            } else {
                let end = p
                    .iter()
                    .position(|&c| c == b'.' || c == b'[')
                    .unwrap_or(p.len());
                if end == 0 {
                    return Found::PathError;
                }
                (&p[..end], &p[end..])
            };
            let Kind::Object(members) = &node.kind else {
                return Found::Missing;
            };
            let mut pos = off + node.header();
            for (k, v) in members {
                if label_matches(k, key) {
                    return lookup_step(v, pos + k.size, rest, Some(pos));
                }
                pos += k.size + v.size;
            }
            Found::Missing
        }
        b'[' => {
            let Kind::Array(items) = &node.kind else {
                return Found::Missing;
            };
            let mut i = 1;
            let mut k: u64 = 0;
            while i < path.len() && path[i].is_ascii_digit() {
                k = k.saturating_mul(10).saturating_add((path[i] - b'0') as u64);
                i += 1;
            }
            if i < 2 || path.get(i) != Some(&b']') {
                if path.get(1) != Some(&b'#') {
                    return Found::PathError;
                }
                k = items.len() as u64;
                i = 2;
                if path.get(2) == Some(&b'-') && path.get(3).is_some_and(u8::is_ascii_digit) {
                    let mut nn: u64 = 0;
                    i = 3;
                    while i < path.len() && path[i].is_ascii_digit() {
                        nn = nn
                            .saturating_mul(10)
                            .saturating_add((path[i] - b'0') as u64);
                        i += 1;
                    }
                    if nn > k {
                        return Found::Missing;
                    }
                    k -= nn;
                }
                if path.get(i) != Some(&b']') {
                    return Found::PathError;
                }
            }
            let mut pos = off + node.header();
            for (idx, item) in items.iter().enumerate() {
                if idx as u64 == k {
                    return lookup_step(item, pos, &path[i + 1..], None);
                }
                pos += item.size;
            }
            Found::Missing
        }
        _ => Found::PathError,
    }
}

/// `jsonLabelCompare`: compares a path key with an object label, resolving
/// escapes on the label side (path keys are taken literally).
pub(super) fn label_matches(label: &Node, key: &[u8]) -> bool {
    let raw_label = matches!(label.kind, Kind::Text(TextKind::Plain | TextKind::Raw));
    let raw_key = !key.contains(&b'\\');
    if raw_label && raw_key {
        return label.raw.as_bytes() == key;
    }
    let key = if raw_key {
        String::from_utf8_lossy(key).into_owned()
    } else {
        node::unescape(&String::from_utf8_lossy(key))
    };
    label.text() == key
}

/// The SQL value of a node (`jsonReturnFromBlob`).
fn sql_value(n: &Node) -> Result<Value> {
    Ok(match &n.kind {
        Kind::Null => Value::Null,
        Kind::True => Value::Integer(1),
        Kind::False => Value::Integer(0),
        Kind::Int => {
            let (neg, digits) = match n.raw.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, n.raw.as_str()),
            };
            let (v, rc) = atoi64(digits.as_bytes());
            match rc {
                0 => Value::Integer(if neg { -v } else { v }),
                3 if neg => Value::Integer(i64::MIN),
                _ => {
                    let (r, rc) = atof(n.raw.as_bytes());
                    if rc <= 0 {
                        return Err(malformed());
                    }
                    real(r)
                }
            }
        }
        Kind::Int5 => {
            let (neg, z) = match n.raw.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, n.raw.as_str()),
            };
            // sqlite3DecOrHexToI64: at most 16 significant hex digits.
            let digits = z[2..].trim_start_matches('0');
            if digits.len() > 16 {
                return Err(malformed());
            }
            let u = u64::from_str_radix(if digits.is_empty() { "0" } else { digits }, 16)
                .unwrap_or(0) as i64;
            Value::Integer(if neg { u.wrapping_neg() } else { u })
        }
        Kind::Float | Kind::Float5 => {
            let (r, rc) = atof(n.raw.as_bytes());
            if rc <= 0 {
                return Err(malformed());
            }
            real(r)
        }
        Kind::Text(_) => Value::Text(n.text()),
        Kind::Array(_) | Kind::Object(_) => Value::Text(n.to_json()),
    })
}

fn real(r: f64) -> Value {
    if r.is_nan() {
        Value::Null
    } else {
        Value::Real(r)
    }
}

/// A JSON node for an SQL value (`jsonAppendSqlValue`); `is_json` marks
/// text that carries SQLite's JSON subtype and is embedded as JSON.
pub(super) fn node_of_sql(v: &Value, is_json: bool) -> Result<Node> {
    Ok(match v {
        Value::Null => Node::leaf(Kind::Null, String::new()),
        Value::Integer(i) => Node::leaf(Kind::Int, i.to_string()),
        Value::Real(r) => Node::leaf(
            Kind::Float,
            super::printf::format_text("%!0.15g", &[Value::Real(*r)]),
        ),
        Value::Text(t) if is_json => parse(t).ok_or_else(malformed)?,
        Value::Text(t) => Node::leaf(Kind::Text(TextKind::Raw), t.clone()),
        Value::Blob(b) if jsonb::looks_like_jsonb(b) => jsonb::decode(b).ok_or_else(malformed)?,
        Value::Blob(_) => return Err(Error::InvalidInput("JSON cannot hold BLOB values".into())),
    })
}

fn json(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(match parse_arg(&args[0])? {
        Some(n) => Value::Text(n.to_json()),
        None => Value::Null,
    })
}

fn json_valid(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    let mut flags = 1;
    if args.len() == 2 {
        let f = args[1].to_integer().unwrap_or(0);
        if !(1..=15).contains(&f) {
            return Err(Error::InvalidInput(
                "FLAGS parameter to json_valid() must be between 1 and 15".into(),
            ));
        }
        flags = f;
    }
    Ok(match &args[0] {
        Value::Null => Value::Null,
        Value::Blob(b) if jsonb::looks_like_jsonb(b) => Value::Integer(if flags & 4 != 0 {
            1
        } else {
            (flags & 8 != 0 && jsonb::decode(b).is_some()) as i64
        }),
        _ if flags & 3 == 0 => Value::Integer(0),
        v => Value::Integer(match parse_full(&v.to_text().unwrap_or_default()) {
            Some(p) => (flags & 2 != 0 || !p.nonstd) as i64,
            None => 0,
        }),
    })
}

/// Resolves `path` (a full `$...` path) in `root`, mapping errors.
fn find<'a>(root: &'a Node, path: &str) -> Result<Option<(&'a Node, u64, Option<u64>)>> {
    if !path.starts_with('$') {
        return Err(bad_path(path));
    }
    match lookup_step(root, 0, &path.as_bytes()[1..], None) {
        Found::At(n, off, label) => Ok(Some((n, off, label))),
        Found::Missing => Ok(None),
        Found::PathError => Err(bad_path(path)),
    }
}

fn json_type(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    let Some(root) = parse_arg(&args[0])? else {
        return Ok(Value::Null);
    };
    let node = match args.get(1) {
        None => &root,
        Some(p) => {
            let Some(p) = p.to_text() else {
                return Ok(Value::Null);
            };
            match find(&root, &p)? {
                Some((n, _, _)) => n,
                None => return Ok(Value::Null),
            }
        }
    };
    Ok(Value::Text(node.type_name().into()))
}

fn json_array_length(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    let Some(root) = parse_arg(&args[0])? else {
        return Ok(Value::Null);
    };
    let node = match args.get(1) {
        None => &root,
        Some(p) => {
            let Some(p) = p.to_text() else {
                return Ok(Value::Null);
            };
            let p = if p.starts_with('$') {
                p
            } else {
                "@".to_string()
            };
            match find(&root, &p)? {
                Some((n, _, _)) => n,
                None => return Ok(Value::Null),
            }
        }
    };
    Ok(Value::Integer(match &node.kind {
        Kind::Array(items) => items.len() as i64,
        _ => 0,
    }))
}

/// How a json_extract-style call returns a found node.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// json_extract: SQL value.
    Extract,
    /// `->`: JSON text.
    Arrow,
    /// `->>`: SQL value.
    Arrow2,
}

/// Builds the `$` path for an abbreviated `->`/`->>` operand.
fn abbreviated_path(v: &Value, p: &str) -> String {
    if p.starts_with('$') {
        p.to_string()
    } else if matches!(v, Value::Integer(_)) {
        format!("$[{p}]")
    } else if p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        format!("$.{p}")
    } else if p.starts_with('[') && p.len() >= 3 && p.ends_with(']') {
        format!("${p}")
    } else {
        format!("$.\"{p}\"")
    }
}

fn extract(args: &[Value], mode: Mode) -> Result<Value> {
    let Some(root) = parse_arg(&args[0])? else {
        return Ok(Value::Null);
    };
    let multi = args.len() > 2;
    let mut out = String::from("[");
    for (k, pv) in args[1..].iter().enumerate() {
        let Some(p) = pv.to_text() else {
            return Ok(Value::Null);
        };
        let path = if mode == Mode::Extract {
            if !p.starts_with('$') {
                return Err(bad_path(&p));
            }
            p.clone()
        } else {
            abbreviated_path(pv, &p)
        };
        let found = match lookup_step(&root, 0, &path.as_bytes()[1..], None) {
            Found::At(n, _, _) => Some(n),
            Found::Missing => None,
            Found::PathError => return Err(bad_path(&p)),
        };
        if !multi {
            return Ok(match (found, mode) {
                (None, _) => Value::Null,
                (Some(n), Mode::Arrow) => Value::Text(n.to_json()),
                (Some(n), _) => sql_value(n)?,
            });
        }
        if k > 0 {
            out.push(',');
        }
        match found {
            Some(n) => n.write(&mut out),
            None => out.push_str("null"),
        }
    }
    out.push(']');
    Ok(Value::Text(out))
}

fn json_extract(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    extract(args, Mode::Extract)
}

fn json_arrow(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    extract(args, Mode::Arrow)
}

fn json_arrow2(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    extract(args, Mode::Arrow2)
}

fn build_array(args: &[Value], is_json: &[bool]) -> Result<Value> {
    let mut items = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        items.push(node_of_sql(a, is_json.get(i).copied().unwrap_or(false))?);
    }
    Ok(Value::Text(Node::array(items).to_json()))
}

fn build_object(args: &[Value], is_json: &[bool]) -> Result<Value> {
    if args.len() % 2 == 1 {
        return Err(Error::InvalidInput(
            "json_object() requires an even number of arguments".into(),
        ));
    }
    let mut members = Vec::with_capacity(args.len() / 2);
    for (i, pair) in args.chunks(2).enumerate() {
        let Value::Text(k) = &pair[0] else {
            return Err(Error::InvalidInput(
                "json_object() labels must be TEXT".into(),
            ));
        };
        let key = Node::leaf(Kind::Text(TextKind::Raw), k.clone());
        members.push((
            key,
            node_of_sql(&pair[1], is_json.get(2 * i + 1).copied().unwrap_or(false))?,
        ));
    }
    Ok(Value::Text(Node::object(members).to_json()))
}

fn json_array(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    build_array(args, &[])
}

fn json_object(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    build_object(args, &[])
}

fn json_quote(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    Ok(Value::Text(node_of_sql(&args[0], false)?.to_json()))
}

/// Calls a JSON-building function (`json_array`, `json_object`,
/// `json_quote`, `json_insert`, `json_replace`, `json_set`) knowing which
/// arguments carry SQLite's JSON subtype (are results of JSON functions,
/// see [`returns_json`]), so they are embedded as JSON rather than as
/// strings. `is_json[i]` refers to `args[i]`.
pub fn call_with_json_args(name: &str, args: &[Value], is_json: &[bool]) -> Result<Value> {
    match name {
        "json_array" => build_array(args, is_json),
        "json_object" => build_object(args, is_json),
        "json_quote" => Ok(Value::Text(
            node_of_sql(&args[0], is_json.first().copied().unwrap_or(false))?.to_json(),
        )),
        "json_insert" => edit::insert_like("insert", args, edit::Edit::Insert, is_json),
        "json_replace" => edit::insert_like("replace", args, edit::Edit::Replace, is_json),
        "json_set" => edit::insert_like("set", args, edit::Edit::Set, is_json),
        _ => Err(Error::NotFound(format!("no such function: {name}"))),
    }
}

/// `json_group_object` over (label, value) pairs: labels are rendered as
/// text (a NULL label as nothing, reproducing SQLite), values as JSON.
pub(crate) fn group_object(pairs: &[Value]) -> Result<Value> {
    let mut out = String::from("{");
    for (i, pair) in pairs.chunks(2).enumerate() {
        if i > 0 {
            out.push(',');
        }
        // SQLite measures the label with strlen(): it ends at a NUL.
        if let Some(label) = pair[0].to_text() {
            node::escape_into(label.split('\0').next().unwrap_or(""), &mut out);
        }
        out.push(':');
        node_of_sql(&pair[1], false)?.write(&mut out);
    }
    out.push('}');
    Ok(Value::Text(out))
}

/// True when a function's text result carries SQLite's JSON subtype (is
/// JSON to be embedded as-is by `json_array`/`json_object`/`json_set`...).
/// `json_extract` also carries it when its result is an array or object
/// (or it has several paths); the caller can test the result for that.
pub fn returns_json(name: &str) -> bool {
    matches!(
        name,
        "json"
            | "json_array"
            | "json_object"
            | "json_quote"
            | "json_arrow"
            | "json_insert"
            | "json_replace"
            | "json_set"
            | "json_remove"
            | "json_patch"
            | "json_group_array"
            | "json_group_object"
    )
}

/// One row of `json_each(json, path)`.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonEachRow {
    /// Array index (INTEGER) or object key (TEXT); NULL for a scalar root.
    pub key: Value,
    /// The element as an SQL value (arrays/objects as JSON text).
    pub value: Value,
    /// `json_type()` of the element.
    pub type_name: &'static str,
    /// The SQL value for scalars; NULL for arrays and objects.
    pub atom: Value,
    /// Byte offset of the element (or its label) in SQLite's JSONB form.
    pub id: i64,
    /// Always NULL for json_each (json_tree fills it).
    pub parent: Value,
    /// Path of the element, like `$.a[2]`.
    pub fullkey: String,
    /// Path of the container, like `$.a`.
    pub path: String,
}

impl JsonEachRow {
    /// The columns in declaration order: key, value, type, atom, id,
    /// parent, fullkey, path.
    pub fn columns(&self) -> [Value; 8] {
        [
            self.key.clone(),
            self.value.clone(),
            Value::Text(self.type_name.into()),
            self.atom.clone(),
            Value::Integer(self.id),
            self.parent.clone(),
            Value::Text(self.fullkey.clone()),
            Value::Text(self.path.clone()),
        ]
    }
}

fn row(key: Value, n: &Node, id: u64, fullkey: String, path: String) -> Result<JsonEachRow> {
    let container = matches!(n.kind, Kind::Array(_) | Kind::Object(_));
    let value = sql_value(n)?;
    Ok(JsonEachRow {
        key,
        atom: if container {
            Value::Null
        } else {
            value.clone()
        },
        value,
        type_name: n.type_name(),
        id: id as i64,
        parent: Value::Null,
        fullkey,
        path,
    })
}

/// Appends `.key` (quoted unless alphanumeric starting with a letter).
fn push_key(path: &mut String, key: &str) {
    let plain = key.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && key.bytes().all(|c| c.is_ascii_alphanumeric());
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str(".\"");
        path.push_str(key);
        path.push('"');
    }
}

/// The rows of the table-valued function `json_each(json, path)`.
pub fn json_each(json: &str, path: Option<&str>) -> Result<Vec<JsonEachRow>> {
    let root = parse(json).ok_or_else(malformed)?;
    let root_path = path.unwrap_or("$");
    let (node, off, label) = match path {
        None => (&root, 0, None),
        Some(p) => match find(&root, p)? {
            Some(found) => found,
            None => return Ok(Vec::new()),
        },
    };
    let mut rows = Vec::new();
    match &node.kind {
        Kind::Array(items) => {
            let mut pos = off + node.header();
            for (i, item) in items.iter().enumerate() {
                rows.push(row(
                    Value::Integer(i as i64),
                    item,
                    pos,
                    format!("{root_path}[{i}]"),
                    root_path.to_string(),
                )?);
                pos += item.size;
            }
        }
        Kind::Object(members) => {
            let mut pos = off + node.header();
            for (k, v) in members {
                let mut fullkey = root_path.to_string();
                push_key(&mut fullkey, &k.raw);
                rows.push(row(
                    Value::Text(k.text()),
                    v,
                    pos,
                    fullkey,
                    root_path.to_string(),
                )?);
                pos += k.size + v.size;
            }
        }
        _ => rows.push(row(
            Value::Null,
            node,
            label.unwrap_or(off),
            root_path.to_string(),
            root_path.to_string(),
        )?),
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[Value]) -> Result<Value> {
        lookup(name, args.len()).expect("function exists")(args, &mut FuncContext::default())
    }
    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn extract_and_type() {
        let j = t(r#"{"a":[1,2.5,"x",true,null,{"b":"\u0041"}],"c d":-3}"#);
        assert_eq!(
            call("json_extract", &[j.clone(), t("$.a[0]")]).unwrap(),
            Value::Integer(1)
        );
        assert_eq!(
            call("json_extract", &[j.clone(), t("$.a[#-1].b")]).unwrap(),
            t("A")
        );
        assert_eq!(
            call("json_extract", &[j.clone(), t("$.\"c d\"")]).unwrap(),
            Value::Integer(-3)
        );
        assert_eq!(
            call("json_extract", &[j.clone(), t("$.a[3]")]).unwrap(),
            Value::Integer(1)
        );
        assert_eq!(
            call("json_extract", &[j.clone(), t("$.zz")]).unwrap(),
            Value::Null
        );
        assert_eq!(
            call("json_extract", &[j.clone(), t("$.a[1]"), t("$.zz")]).unwrap(),
            t("[2.5,null]")
        );
        assert!(call("json_extract", &[j.clone(), t("a")]).is_err());
        assert_eq!(
            call("json_type", &[j.clone(), t("$.a")]).unwrap(),
            t("array")
        );
        assert_eq!(
            call("json_type", &[j.clone(), t("$.a[1]")]).unwrap(),
            t("real")
        );
        assert_eq!(
            call("json_array_length", &[j.clone(), t("$.a")]).unwrap(),
            Value::Integer(6)
        );
        assert_eq!(
            call("json_arrow", &[j.clone(), t("a")]).unwrap(),
            t(r#"[1,2.5,"x",true,null,{"b":"\u0041"}]"#)
        );
        assert_eq!(
            call("json_arrow2", &[j.clone(), t("c d")]).unwrap(),
            Value::Integer(-3)
        );
        assert_eq!(
            call("json_arrow2", &[t("[5,6]"), Value::Integer(1)]).unwrap(),
            Value::Integer(6)
        );
        assert!(call("json", &[t("{bad")]).is_err());
    }

    #[test]
    fn builders() {
        assert_eq!(
            call(
                "json_array",
                &[Value::Integer(1), Value::Real(1.5), t("a\"b"), Value::Null]
            )
            .unwrap(),
            t(r#"[1,1.5,"a\"b",null]"#)
        );
        assert_eq!(
            call("json_object", &[t("k"), Value::Real(1.0)]).unwrap(),
            t(r#"{"k":1.0}"#)
        );
        assert!(call("json_object", &[Value::Integer(1), Value::Integer(2)]).is_err());
        assert!(call("json_object", &[t("k")]).is_err());
        assert_eq!(call("json_quote", &[t("x\ny")]).unwrap(), t(r#""x\ny""#));
        assert_eq!(
            call_with_json_args("json_array", &[t("[1]"), t("[1]")], &[true, false]).unwrap(),
            t(r#"[[1],"[1]"]"#)
        );
        assert_eq!(call("json_valid", &[t("{}")]).unwrap(), Value::Integer(1));
        assert_eq!(call("json_valid", &[t("{")]).unwrap(), Value::Integer(0));
        assert_eq!(call("json_valid", &[Value::Null]).unwrap(), Value::Null);
    }

    #[test]
    fn each_rows() {
        let rows = json_each(r#"{"a":1,"b c":[2]}"#, None).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].key, t("a"));
        assert_eq!(rows[0].fullkey, "$.a");
        assert_eq!(rows[0].id, 1);
        assert_eq!(rows[1].fullkey, "$.\"b c\"");
        assert_eq!(rows[1].value, t("[2]"));
        assert_eq!(rows[1].atom, Value::Null);
        let rows = json_each("[10,20]", Some("$[1]")).unwrap();
        assert_eq!(
            (
                rows[0].key.clone(),
                rows[0].value.clone(),
                rows[0].path.as_str()
            ),
            (Value::Null, Value::Integer(20), "$[1]")
        );
        assert!(json_each("[1]", Some("x")).is_err());
        assert!(json_each("[1]", Some("$[5]")).unwrap().is_empty());
    }
}
