//! JSON editing: json_remove, json_insert, json_replace, json_set — the
//! editing mode of SQLite's `jsonLookupStep`.
//!
//! Each (path, value) pair is applied in order to the evolving document:
//!
//! ```text
//!   found?   remove: delete it   insert: no-op   replace/set: overwrite
//!   missing  insert/set: create it, building the missing tail as nested
//!            objects ('.key') or arrays ('[N]' with N == length, '[#]')
//!            remove/replace: no-op
//! ```
//!
//! A path must start with `$`; a malformed step is an error only when the
//! walk reaches it, exactly as in SQLite.

use super::node::{Kind, Node, TextKind};
use super::{bad_path, label_matches, node_of_sql, parse_arg};
use crate::sql::func::FuncContext;
use crate::sql::value::Value;
use crate::{Error, Result};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Edit {
    Remove,
    Insert,
    Replace,
    Set,
}

enum Status {
    Done,
    Missing,
    PathError,
}

/// An array step resolved against the array length: `Some(i)` (which may
/// equal the length: an append position) or `None` for `[#-N]` before the
/// start, and the rest of the path.
enum Step<'a> {
    Index(Option<usize>, &'a [u8]),
}

fn parse_key(path: &[u8]) -> Option<(&[u8], &[u8])> {
    let p = &path[1..];
    if p.first() == Some(&b'"') {
        let end = p[1..].iter().position(|&c| c == b'"')?;
        Some((&p[1..1 + end], &p[end + 2..]))
    } else {
        let end = p
            .iter()
            .position(|&c| c == b'.' || c == b'[')
            .unwrap_or(p.len());
        (end > 0).then(|| (&p[..end], &p[end..]))
    }
}

fn parse_index(path: &[u8], len: usize) -> Option<Step<'_>> {
    let mut i = 1;
    let mut k: u64 = 0;
    while i < path.len() && path[i].is_ascii_digit() {
        k = k.saturating_mul(10).saturating_add((path[i] - b'0') as u64);
        i += 1;
    }
    if i < 2 || path.get(i) != Some(&b']') {
        if path.get(1) != Some(&b'#') {
            return None;
        }
        k = len as u64;
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
                return Some(Step::Index(None, &path[i.min(path.len())..]));
            }
            k -= nn;
        }
        if path.get(i) != Some(&b']') {
            return None;
        }
    }
    let k = usize::try_from(k).unwrap_or(usize::MAX);
    Some(Step::Index(Some(k), &path[i + 1..]))
}

/// The value to insert for a missing element with path tail `rest`.
fn substructure(rest: &[u8], edit: Edit, value: &Node) -> std::result::Result<Node, Status> {
    if rest.is_empty() {
        return Ok(value.clone());
    }
    let mut sub = if rest[0] == b'.' {
        Node::object(Vec::new())
    } else {
        Node::array(Vec::new())
    };
    match edit_step(&mut sub, rest, edit, value) {
        Status::Done => Ok(sub),
        other => Err(other),
    }
}

fn edit_step(node: &mut Node, path: &[u8], edit: Edit, value: &Node) -> Status {
    match path[0] {
        b'.' => {
            let Some((key, rest)) = parse_key(path) else {
                return Status::PathError;
            };
            let Kind::Object(members) = &mut node.kind else {
                return Status::Missing;
            };
            if let Some(idx) = members.iter().position(|(k, _)| label_matches(k, key)) {
                if rest.is_empty() {
                    match edit {
                        Edit::Remove => {
                            members.remove(idx);
                        }
                        Edit::Insert => {}
                        Edit::Replace | Edit::Set => members[idx].1 = value.clone(),
                    }
                    return Status::Done;
                }
                return edit_step(&mut members[idx].1, rest, edit, value);
            }
            if !matches!(edit, Edit::Insert | Edit::Set) {
                return Status::Missing;
            }
            match substructure(rest, edit, value) {
                Ok(sub) => {
                    let key = String::from_utf8_lossy(key).into_owned();
                    let kind = if key.contains('\\') {
                        TextKind::Five
                    } else {
                        TextKind::Raw
                    };
                    members.push((Node::leaf(Kind::Text(kind), key), sub));
                    Status::Done
                }
                Err(s) => s,
            }
        }
        b'[' => {
            let Kind::Array(items) = &mut node.kind else {
                return Status::Missing;
            };
            let Some(step) = parse_index(path, items.len()) else {
                return Status::PathError;
            };
            let Step::Index(Some(k), rest) = step else {
                return Status::Missing;
            };
            if k < items.len() {
                if rest.is_empty() {
                    match edit {
                        Edit::Remove => {
                            items.remove(k);
                        }
                        Edit::Insert => {}
                        Edit::Replace | Edit::Set => items[k] = value.clone(),
                    }
                    return Status::Done;
                }
                return edit_step(&mut items[k], rest, edit, value);
            }
            if k > items.len() || !matches!(edit, Edit::Insert | Edit::Set) {
                return Status::Missing;
            }
            match substructure(rest, edit, value) {
                Ok(sub) => {
                    items.push(sub);
                    Status::Done
                }
                Err(s) => s,
            }
        }
        _ => Status::PathError,
    }
}

pub(super) fn json_remove(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    let Some(mut root) = parse_arg(&args[0])? else {
        return Ok(Value::Null);
    };
    let null = Node::leaf(Kind::Null, String::new());
    for p in &args[1..] {
        let Some(path) = p.to_text() else {
            return Ok(Value::Null);
        };
        if !path.starts_with('$') {
            return Err(bad_path(&path));
        }
        if path.len() == 1 {
            return Ok(Value::Null);
        }
        match edit_step(&mut root, &path.as_bytes()[1..], Edit::Remove, &null) {
            Status::Done | Status::Missing => {}
            Status::PathError => return Err(bad_path(&path)),
        }
    }
    Ok(Value::Text(root.to_json()))
}

pub(super) fn insert_like(
    name: &str,
    args: &[Value],
    edit: Edit,
    is_json: &[bool],
) -> Result<Value> {
    if args.len() & 1 == 0 {
        return Err(Error::InvalidInput(format!(
            "json_{name}() needs an odd number of arguments"
        )));
    }
    let Some(mut root) = parse_arg(&args[0])? else {
        return Ok(Value::Null);
    };
    for (i, pair) in args[1..].chunks(2).enumerate() {
        let Some(path) = pair[0].to_text() else {
            continue;
        };
        if !path.starts_with('$') {
            return Err(bad_path(&path));
        }
        let value = node_of_sql(&pair[1], is_json.get(2 + 2 * i).copied().unwrap_or(false))?;
        if path.len() == 1 {
            if matches!(edit, Edit::Replace | Edit::Set) {
                root = value;
            }
            continue;
        }
        match edit_step(&mut root, &path.as_bytes()[1..], edit, &value) {
            Status::Done | Status::Missing => {}
            Status::PathError => return Err(bad_path(&path)),
        }
    }
    Ok(Value::Text(root.to_json()))
}

pub(super) fn json_insert(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    insert_like("insert", args, Edit::Insert, &[])
}

pub(super) fn json_replace(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    insert_like("replace", args, Edit::Replace, &[])
}

pub(super) fn json_set(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    insert_like("set", args, Edit::Set, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }
    fn run(f: fn(&[Value], &mut FuncContext) -> Result<Value>, args: &[Value]) -> Result<Value> {
        f(args, &mut FuncContext::default())
    }

    #[test]
    fn edits() {
        let j = t(r#"{"a":[1,2,3],"b":{"c":1}}"#);
        assert_eq!(
            run(json_remove, &[j.clone(), t("$.a[1]"), t("$.b.c")]).unwrap(),
            t(r#"{"a":[1,3],"b":{}}"#)
        );
        assert_eq!(run(json_remove, &[j.clone(), t("$")]).unwrap(), Value::Null);
        assert_eq!(
            run(
                json_set,
                &[
                    j.clone(),
                    t("$.a[#]"),
                    Value::Integer(4),
                    t("$.x.y[0]"),
                    t("z")
                ]
            )
            .unwrap(),
            t(r#"{"a":[1,2,3,4],"b":{"c":1},"x":{"y":["z"]}}"#)
        );
        assert_eq!(
            run(json_insert, &[j.clone(), t("$.b.c"), Value::Integer(9)]).unwrap(),
            j
        );
        assert_eq!(
            run(
                json_replace,
                &[
                    j.clone(),
                    t("$.b.c"),
                    Value::Integer(9),
                    t("$.q"),
                    Value::Integer(1)
                ]
            )
            .unwrap(),
            t(r#"{"a":[1,2,3],"b":{"c":9}}"#)
        );
        assert!(run(json_set, &[j.clone(), t("$.a")]).is_err());
        let args = [t("{}"), t("$.k"), t("[1]")];
        assert_eq!(
            insert_like("set", &args, Edit::Set, &[false, false, true]).unwrap(),
            t(r#"{"k":[1]}"#)
        );
        assert_eq!(
            insert_like("set", &args, Edit::Set, &[]).unwrap(),
            t(r#"{"k":"[1]"}"#)
        );
        assert!(run(json_set, &[j, t("x"), Value::Integer(1)]).is_err());
    }
}
