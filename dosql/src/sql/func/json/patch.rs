//! json_patch (RFC 7396 MergePatch, as SQLite's `jsonMergePatch`) and
//! json_pretty.

use super::node::{Kind, Node, TextKind};
use super::parse_arg;
use crate::sql::func::FuncContext;
use crate::sql::value::Value;
use crate::Result;

/// Label equality as `jsonLabelCompare`: raw bytes when neither label has
/// escapes, else the unescaped texts.
fn same_label(a: &Node, b: &Node) -> bool {
    let raw = |n: &Node| matches!(n.kind, Kind::Text(TextKind::Plain | TextKind::Raw));
    if raw(a) && raw(b) {
        a.raw == b.raw
    } else {
        a.text() == b.text()
    }
}

/// Merges `patch` into `target`: a non-object patch replaces the target;
/// an object patch turns the target into an object, deletes members whose
/// patch value is null and merges the others recursively.
fn merge(target: &mut Node, patch: &Node) {
    let Kind::Object(pm) = &patch.kind else {
        *target = patch.clone();
        return;
    };
    if !matches!(target.kind, Kind::Object(_)) {
        *target = Node::object(Vec::new());
    }
    let Kind::Object(tm) = &mut target.kind else {
        unreachable!("target was just made an object");
    };
    for (pl, pv) in pm {
        let is_null = matches!(pv.kind, Kind::Null);
        match tm.iter().position(|(tl, _)| same_label(pl, tl)) {
            Some(i) if is_null => {
                tm.remove(i);
            }
            Some(i) => merge(&mut tm[i].1, pv),
            None if is_null => {}
            None => {
                let mut v = Node::leaf(Kind::Null, String::new());
                merge(&mut v, pv);
                tm.push((pl.clone(), v));
            }
        }
    }
}

pub(super) fn json_patch(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    let Some(mut target) = parse_arg(&args[0])? else {
        return Ok(Value::Null);
    };
    let Some(patch) = parse_arg(&args[1])? else {
        return Ok(Value::Null);
    };
    merge(&mut target, &patch);
    Ok(Value::Text(target.to_json()))
}

fn pretty(n: &Node, indent: &str, level: usize, out: &mut String) {
    let pad = |out: &mut String, level: usize| {
        for _ in 0..level {
            out.push_str(indent);
        }
    };
    match &n.kind {
        Kind::Array(items) => {
            out.push('[');
            if !items.is_empty() {
                out.push('\n');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    pad(out, level + 1);
                    pretty(item, indent, level + 1, out);
                }
                out.push('\n');
                pad(out, level);
            }
            out.push(']');
        }
        Kind::Object(members) => {
            out.push('{');
            if !members.is_empty() {
                out.push('\n');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    pad(out, level + 1);
                    k.write(out);
                    out.push_str(": ");
                    pretty(v, indent, level + 1, out);
                }
                out.push('\n');
                pad(out, level);
            }
            out.push('}');
        }
        _ => n.write(out),
    }
}

pub(super) fn json_pretty(args: &[Value], _: &mut FuncContext) -> Result<Value> {
    let Some(root) = parse_arg(&args[0])? else {
        return Ok(Value::Null);
    };
    let indent = args
        .get(1)
        .and_then(Value::to_text)
        .unwrap_or_else(|| "    ".into());
    let mut out = String::new();
    pretty(&root, &indent, 0, &mut out);
    Ok(Value::Text(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn merge_patch_follows_rfc7396() {
        let mut ctx = FuncContext::default();
        let r = json_patch(
            &[
                t(r#"{"a":1,"b":{"c":2,"d":3}}"#),
                t(r#"{"a":null,"b":{"c":9},"e":{"f":null,"g":1}}"#),
            ],
            &mut ctx,
        );
        assert_eq!(r.unwrap(), t(r#"{"b":{"c":9,"d":3},"e":{"g":1}}"#));
        assert_eq!(json_patch(&[t("[1]"), t("5")], &mut ctx).unwrap(), t("5"));
        assert_eq!(
            json_patch(&[t("[1]"), Value::Null], &mut ctx).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn pretty_prints() {
        let mut ctx = FuncContext::default();
        let r = json_pretty(&[t(r#"{"a":[1,{}],"b":[]}"#)], &mut ctx).unwrap();
        assert_eq!(
            r,
            t("{\n    \"a\": [\n        1,\n        {}\n    ],\n    \"b\": []\n}")
        );
        assert_eq!(
            json_pretty(&[t("[1]"), t("\t")], &mut ctx).unwrap(),
            t("[\n\t1\n]")
        );
    }
}
