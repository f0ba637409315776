//! Reading SQLite's binary JSON (JSONB) from BLOB arguments.
//!
//! SQLite treats a BLOB argument of a JSON function as JSONB when its first
//! header describes exactly the whole blob; otherwise the blob's bytes are
//! read as JSON text. Each JSONB element is a header and a payload:
//!
//! ```text
//!   byte 0: low nibble = type (0 null, 1 true, 2 false, 3 int, 4 int5,
//!           5 float, 6 float5, 7 text, 8 textj, 9 text5, 10 textraw,
//!           11 array, 12 object); high nibble = payload size 0..11, or
//!           12/13/14/15 = size in the next 1/2/4/8 bytes (big-endian)
//!   then:   payload (number or string text, or the child elements)
//! ```
//!
//! DoSQL never produces JSONB (the `jsonb_*` functions are not provided);
//! it only reads it so that such blobs behave as in SQLite.

use super::node::{Kind, Node, TextKind};

/// Decodes the header at `i`: (header length, payload size).
fn header(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let x = *b.get(i)?;
    let be = |n: usize| -> Option<usize> {
        let bytes = b.get(i + 1..i + 1 + n)?;
        Some(
            bytes
                .iter()
                .fold(0usize, |acc, &c| acc.wrapping_shl(8) | c as usize),
        )
    };
    Some(match x >> 4 {
        s @ 0..=11 => (1, s as usize),
        12 => (2, be(1)?),
        13 => (3, be(2)?),
        14 => (5, be(4)?),
        _ => (9, be(8)?),
    })
}

/// `jsonFuncArgMightBeBinary`: does this blob look like one JSONB element?
pub(crate) fn looks_like_jsonb(b: &[u8]) -> bool {
    let Some(&first) = b.first() else {
        return false;
    };
    if first & 0x0f > 12 {
        return false;
    }
    match header(b, 0) {
        Some((n, sz)) => n.checked_add(sz) == Some(b.len()) && !(first & 0x0f <= 2 && sz > 0),
        None => false,
    }
}

/// Decodes the element at `i` ending before `end`; None if malformed.
fn element(b: &[u8], i: usize, end: usize, depth: usize) -> Option<(Node, usize)> {
    if depth > 1000 {
        return None;
    }
    let (n, sz) = header(b, i)?;
    let start = i + n;
    let stop = start.checked_add(sz)?;
    if stop > end {
        return None;
    }
    let text = || {
        std::str::from_utf8(&b[start..stop])
            .ok()
            .map(str::to_string)
    };
    let kind = match b[i] & 0x0f {
        0 => Kind::Null,
        1 => Kind::True,
        2 => Kind::False,
        3 => Kind::Int,
        4 => Kind::Int5,
        5 => Kind::Float,
        6 => Kind::Float5,
        7 => Kind::Text(TextKind::Plain),
        8 => Kind::Text(TextKind::J),
        9 => Kind::Text(TextKind::Five),
        10 => Kind::Text(TextKind::Raw),
        11 => {
            let mut items = Vec::new();
            let mut j = start;
            while j < stop {
                let (node, next) = element(b, j, stop, depth + 1)?;
                items.push(node);
                j = next;
            }
            return Some((Node::array(items), stop));
        }
        12 => {
            let mut members = Vec::new();
            let mut j = start;
            while j < stop {
                let (label, next) = element(b, j, stop, depth + 1)?;
                if !matches!(label.kind, Kind::Text(_)) {
                    return None;
                }
                let (value, next) = element(b, next, stop, depth + 1)?;
                members.push((label, value));
                j = next;
            }
            return Some((Node::object(members), stop));
        }
        _ => return None,
    };
    let raw = match kind {
        Kind::Null | Kind::True | Kind::False => String::new(),
        Kind::Int | Kind::Int5 | Kind::Float | Kind::Float5 if sz == 0 => return None,
        _ => text()?,
    };
    Some((Node::leaf(kind, raw), stop))
}

/// Decodes a whole JSONB blob (the caller checked `looks_like_jsonb`).
pub(crate) fn decode(b: &[u8]) -> Option<Node> {
    let (node, next) = element(b, 0, b.len(), 0)?;
    (next == b.len()).then_some(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_and_decodes() {
        assert!(looks_like_jsonb(&[0x00]));
        assert!(!looks_like_jsonb(&[0x9f]));
        assert!(!looks_like_jsonb(b"[1]"));
        // [1, "ab"] = array(payload 5): int "1", text "ab"
        let blob = [0x5b, 0x13, b'1', 0x27, b'a', b'b'];
        assert!(looks_like_jsonb(&blob));
        assert_eq!(decode(&blob).unwrap().to_json(), r#"[1,"ab"]"#);
        assert_eq!(decode(&[0x2b, 0x13, b'1']).unwrap().to_json(), "[1]");
        assert!(decode(&[0x2b, 0x23, b'1']).is_none());
    }
}
