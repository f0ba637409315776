//! JSON nodes and their canonical text.
//!
//! Nodes keep numbers and strings as their *source text* (SQLite keeps the
//! original spelling too: `json('1E5')` is `1E5` and `json('"\u0041"')`
//! keeps the escape); JSON5 spellings are rewritten to RFC 8259 on output.
//! Each node also records the size it would occupy in SQLite's JSONB
//! encoding, because `json_each.id` is a JSONB byte offset:
//!
//! ```text
//!   JSONB node = header (1, 2, 3 or 5 bytes: type + payload size)
//!              + payload (number/string text, or the children)
//! ```

/// How a string node's text is spelled (SQLite's four JSONB text types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextKind {
    /// No escapes (JSONB TEXT).
    Plain,
    /// RFC 8259 escapes (TEXTJ).
    J,
    /// JSON5 escapes or raw control characters (TEXT5).
    Five,
    /// Unescaped text from SQL, escaped on output (TEXTRAW).
    Raw,
}

/// The kind of a JSON node.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Null,
    True,
    False,
    /// A decimal integer literal; `raw` holds its text.
    Int,
    /// A hexadecimal (JSON5) integer literal.
    Int5,
    /// A real literal.
    Float,
    /// A JSON5 real such as `.5` or `5.`.
    Float5,
    /// A string; `raw` holds the text between the quotes as written.
    Text(TextKind),
    Array(Vec<Node>),
    Object(Vec<(Node, Node)>),
}

/// One JSON value.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub raw: String,
    /// Size of this node in SQLite's JSONB encoding (header + payload).
    pub size: u64,
}

/// JSONB header size for a payload of `n` bytes.
fn header_size(n: u64) -> u64 {
    match n {
        0..=11 => 1,
        12..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

impl Node {
    pub(crate) fn leaf(kind: Kind, raw: String) -> Node {
        let payload = raw.len() as u64;
        Node {
            kind,
            raw,
            size: header_size(payload) + payload,
        }
    }

    pub(crate) fn array(items: Vec<Node>) -> Node {
        let payload: u64 = items.iter().map(|n| n.size).sum();
        Node {
            kind: Kind::Array(items),
            raw: String::new(),
            size: header_size(payload) + payload,
        }
    }

    pub(crate) fn object(members: Vec<(Node, Node)>) -> Node {
        let payload: u64 = members.iter().map(|(k, v)| k.size + v.size).sum();
        Node {
            kind: Kind::Object(members),
            raw: String::new(),
            size: header_size(payload) + payload,
        }
    }

    /// JSONB header size of this node.
    pub(crate) fn header(&self) -> u64 {
        let payload = match &self.kind {
            Kind::Array(items) => items.iter().map(|n| n.size).sum(),
            Kind::Object(m) => m.iter().map(|(k, v)| k.size + v.size).sum(),
            _ => self.raw.len() as u64,
        };
        header_size(payload)
    }

    /// The `json_type()` name.
    pub(crate) fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::True => "true",
            Kind::False => "false",
            Kind::Int | Kind::Int5 => "integer",
            Kind::Float | Kind::Float5 => "real",
            Kind::Text(_) => "text",
            Kind::Array(_) => "array",
            Kind::Object(_) => "object",
        }
    }

    /// Appends the canonical minified JSON text of this node
    /// (`jsonTranslateBlobToText`): JSON5 spellings become RFC 8259.
    pub(crate) fn write(&self, out: &mut String) {
        match &self.kind {
            Kind::Null => out.push_str("null"),
            Kind::True => out.push_str("true"),
            Kind::False => out.push_str("false"),
            Kind::Int | Kind::Float => out.push_str(&self.raw),
            Kind::Int5 => {
                let z = self.raw.as_bytes();
                let mut k = 2;
                if z.first() == Some(&b'-') {
                    out.push('-');
                    k += 1;
                }
                let mut u: u64 = 0;
                let mut overflow = false;
                for &c in &z[k.min(z.len())..] {
                    if u >> 60 != 0 {
                        overflow = true;
                    } else {
                        u = u * 16 + (c as char).to_digit(16).unwrap_or(0) as u64;
                    }
                }
                if overflow {
                    out.push_str("9.0e999");
                } else {
                    out.push_str(&u.to_string());
                }
            }
            Kind::Float5 => {
                let z = self.raw.as_bytes();
                let mut k = 0;
                if z.first() == Some(&b'-') {
                    out.push('-');
                    k = 1;
                }
                if z.get(k) == Some(&b'.') {
                    out.push('0');
                }
                while k < z.len() {
                    out.push(z[k] as char);
                    if z[k] == b'.' && (k + 1 == z.len() || !z[k + 1].is_ascii_digit()) {
                        out.push('0');
                    }
                    k += 1;
                }
            }
            Kind::Text(TextKind::Raw) => escape_into(&self.raw, out),
            Kind::Text(TextKind::Five) => text5_into(&self.raw, out),
            Kind::Text(_) => {
                out.push('"');
                out.push_str(&self.raw);
                out.push('"');
            }
            Kind::Array(items) => {
                out.push('[');
                for (i, n) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    n.write(out);
                }
                out.push(']');
            }
            Kind::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    k.write(out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    pub(crate) fn to_json(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }

    /// The string content with escapes resolved (for text nodes).
    pub(crate) fn text(&self) -> String {
        match self.kind {
            Kind::Text(TextKind::J | TextKind::Five) => unescape(&self.raw),
            _ => self.raw.clone(),
        }
    }
}

fn control_into(c: u8, out: &mut String) {
    const H: &[u8; 16] = b"0123456789abcdef";
    match c {
        8 => out.push_str("\\b"),
        9 => out.push_str("\\t"),
        10 => out.push_str("\\n"),
        12 => out.push_str("\\f"),
        13 => out.push_str("\\r"),
        _ => {
            out.push_str("\\u00");
            out.push(H[(c >> 4) as usize] as char);
            out.push(H[(c & 15) as usize] as char);
        }
    }
}

/// Renders a TEXT5 string body as an RFC 8259 string literal.
fn text5_into(raw: &str, out: &mut String) {
    let z = raw.as_bytes();
    out.push('"');
    let mut i = 0;
    let mut start = 0;
    let flush =
        |out: &mut String, from: usize, to: usize| out.push_str(raw.get(from..to).unwrap_or(""));
    while i < z.len() {
        let c = z[i];
        if c == b'"' {
            flush(out, start, i);
            out.push_str("\\\"");
            i += 1;
            start = i;
        } else if c <= 0x1f {
            flush(out, start, i);
            control_into(c, out);
            i += 1;
            start = i;
        } else if c == b'\\' {
            flush(out, start, i);
            let e = z.get(i + 1).copied().unwrap_or(0);
            let mut skip = 2;
            match e {
                b'\'' => out.push('\''),
                b'v' => out.push_str("\\u0009"),
                b'x' => {
                    out.push_str("\\u00");
                    out.push_str(raw.get(i + 2..i + 4).unwrap_or(""));
                    skip = 4;
                }
                b'0' => out.push_str("\\u0000"),
                b'\r' => {
                    if z.get(i + 2) == Some(&b'\n') {
                        skip = 3;
                    }
                }
                b'\n' => {}
                0xe2 => skip = 4,
                _ => out.push_str(raw.get(i..i + 2).unwrap_or("")),
            }
            i += skip;
            start = i;
        } else {
            i += 1;
        }
    }
    flush(out, start.min(z.len()), z.len());
    out.push('"');
}

/// Appends `s` as a JSON string literal (`jsonAppendString`).
pub(crate) fn escape_into(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => control_into(c as u8, out),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn hex4(b: &[u8]) -> Option<u32> {
    if b.len() < 4 || !b[..4].iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let s = std::str::from_utf8(&b[..4]).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// Resolves the escapes (JSON and JSON5) of a validated string body
/// (`jsonUnescapeOneChar`). Lone surrogates become U+FFFD (SQLite emits
/// their invalid 3-byte encoding, which a Rust string cannot hold).
pub(crate) fn unescape(raw: &str) -> String {
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    let mut start = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&raw[start..i]);
        let c = b.get(i + 1).copied().unwrap_or(0);
        i += 2;
        match c {
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'v' => out.push('\u{b}'),
            b'0' => out.push('\0'),
            b'\'' | b'"' | b'/' | b'\\' => out.push(c as char),
            b'x' => {
                let v = b
                    .get(i..i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u32::from_str_radix(h, 16).ok());
                if let Some(ch) = v.and_then(char::from_u32) {
                    out.push(ch);
                }
                i += 2;
            }
            b'u' => {
                let v = hex4(&b[i.min(b.len())..]).unwrap_or(0xfffd);
                i += 4;
                let v = if v & 0xfc00 == 0xd800
                    && b.get(i) == Some(&b'\\')
                    && b.get(i + 1) == Some(&b'u')
                {
                    match hex4(&b[i + 2..]) {
                        Some(lo) if lo & 0xfc00 == 0xdc00 => {
                            i += 6;
                            ((v & 0x3ff) << 10) + (lo & 0x3ff) + 0x10000
                        }
                        _ => v,
                    }
                } else {
                    v
                };
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            b'\r' if b.get(i) == Some(&b'\n') => i += 1,
            b'\r' | b'\n' => {}
            0xe2 => i += 2,
            _ => {}
        }
        start = i.min(b.len());
        i = start;
    }
    out.push_str(&raw[start.min(raw.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_json_and_json5() {
        assert_eq!(unescape(r"a\n\u00e9\ud83d\ude00\/"), "a\né😀/");
        assert_eq!(unescape(r"\x41\v\0\'"), "A\u{b}\0'");
        assert_eq!(unescape(r"\ud800x"), "\u{fffd}x");
    }

    #[test]
    fn renders_canonical_text() {
        let mut s = String::new();
        escape_into("a\"\u{1}\n", &mut s);
        assert_eq!(s, r#""a\"\u0001\n""#);
        assert_eq!(Node::leaf(Kind::Int5, "-0x1f".into()).to_json(), "-31");
        assert_eq!(Node::leaf(Kind::Float5, "5.".into()).to_json(), "5.0");
        assert_eq!(Node::leaf(Kind::Float5, "-.5".into()).to_json(), "-0.5");
        assert_eq!(
            Node::leaf(Kind::Text(TextKind::Five), "it\\'s\t\"".into()).to_json(),
            r#""it's\t\"""#
        );
        assert_eq!(
            Node::leaf(Kind::Text(TextKind::Plain), "abcdefghijkl".into()).size,
            14
        );
    }
}
