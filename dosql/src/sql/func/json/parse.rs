//! JSON (and JSON5) text -> [`Node`] tree: a port of SQLite's
//! `jsonTranslateTextToBlob`, including its exact acceptance rules.
//!
//! SQLite accepts JSON5 everywhere (comments, unquoted keys, single quotes,
//! hex and `.5`/`5.` numbers, `Infinity`/`NaN`, trailing commas, extra
//! whitespace) and only `json_valid(X, 1)` distinguishes it, so the parser
//! reports whether any non-standard syntax was seen.

use super::node::{Kind, Node, TextKind};

/// JSON nesting limit, as SQLite's JSON_MAX_DEPTH.
const MAX_DEPTH: usize = 1000;

/// SQLite's `jsonIsspace`: the four RFC 8259 whitespace bytes.
fn is_json_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// `sqlite3JsonId1`: may start an unquoted JSON5 key.
fn id1(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80
}

/// `sqlite3JsonId2`: may continue an unquoted JSON5 key.
fn id2(c: u8) -> bool {
    id1(c) || c.is_ascii_digit()
}

fn is_4hex(z: &[u8], i: usize) -> bool {
    (0..4).all(|k| z.get(i + k).is_some_and(u8::is_ascii_hexdigit))
}

/// Outcome of one `jsonTranslateTextToBlob` step.
enum Step {
    /// A value and the index just past it.
    Value(Node, usize),
    /// A structural byte (or end/error) at this index: -1 error, 0 end of
    /// input, -2 '}', -3 ']', -4 ',', -5 ':'.
    Mark(i32, usize),
}

/// A port of SQLite's `jsonTranslateTextToBlob` producing nodes; it
/// accepts JSON5 and records whether any non-standard syntax was seen.
struct Parser<'a> {
    z: &'a [u8],
    src: &'a str,
    depth: usize,
    nonstd: bool,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.z.get(i).copied().unwrap_or(0)
    }

    /// `json5Whitespace`: bytes of JSON5 whitespace and comments at `i`.
    fn ws5(&self, i: usize) -> usize {
        let mut n = 0;
        loop {
            let c = self.at(i + n);
            match c {
                0x09 | 0x0a | 0x0b | 0x0c | 0x0d | 0x20 => n += 1,
                b'/' => {
                    if self.at(i + n + 1) == b'*' && self.at(i + n + 2) != 0 {
                        let mut j = i + n + 3;
                        while !(self.at(j) == b'/' && self.at(j - 1) == b'*') {
                            if self.at(j) == 0 {
                                return n;
                            }
                            j += 1;
                        }
                        n = j + 1 - i;
                    } else if self.at(i + n + 1) == b'/' {
                        let mut j = i + n + 2;
                        loop {
                            let c = self.at(j);
                            if c == 0 || c == b'\n' || c == b'\r' {
                                break;
                            }
                            if c == 0xe2
                                && self.at(j + 1) == 0x80
                                && matches!(self.at(j + 2), 0xa8 | 0xa9)
                            {
                                j += 2;
                                break;
                            }
                            j += 1;
                        }
                        n = j - i;
                        if self.at(j) != 0 {
                            n += 1;
                        }
                    } else {
                        return n;
                    }
                }
                0xc2 if self.at(i + n + 1) == 0xa0 => n += 2,
                0xe1 if self.at(i + n + 1) == 0x9a && self.at(i + n + 2) == 0x80 => n += 3,
                0xe2 => {
                    let (c1, c2) = (self.at(i + n + 1), self.at(i + n + 2));
                    if (c1 == 0x80
                        && c2 >= 0x80
                        && (c2 <= 0x8a || matches!(c2, 0xa8 | 0xa9 | 0xaf)))
                        || (c1 == 0x81 && c2 == 0x9f)
                    {
                        n += 3;
                    } else {
                        return n;
                    }
                }
                0xe3 if self.at(i + n + 1) == 0x80 && self.at(i + n + 2) == 0x80 => n += 3,
                0xef if self.at(i + n + 1) == 0xbb && self.at(i + n + 2) == 0xbf => n += 3,
                _ => return n,
            }
        }
    }

    fn skip_spaces(&self, mut j: usize) -> usize {
        while is_json_space(self.at(j)) {
            j += 1;
        }
        j
    }

    fn leaf(&self, kind: Kind, from: usize, to: usize) -> Node {
        Node::leaf(kind, self.src.get(from..to).unwrap_or("").to_string())
    }

    fn step(&mut self, mut i: usize) -> Step {
        loop {
            let c = self.at(i);
            match c {
                b'{' => return self.object(i),
                b'[' => return self.array(i),
                b'\'' | b'"' => return self.string(i),
                b't' if self.z[i..].starts_with(b"true")
                    && !self.at(i + 4).is_ascii_alphanumeric() =>
                {
                    return Step::Value(Node::leaf(Kind::True, String::new()), i + 4)
                }
                b'f' if self.z[i..].starts_with(b"false")
                    && !self.at(i + 5).is_ascii_alphanumeric() =>
                {
                    return Step::Value(Node::leaf(Kind::False, String::new()), i + 5)
                }
                b'n' if self.z[i..].starts_with(b"null")
                    && !self.at(i + 4).is_ascii_alphanumeric() =>
                {
                    return Step::Value(Node::leaf(Kind::Null, String::new()), i + 4)
                }
                b't' | b'f' => return Step::Mark(-1, i),
                b'+' | b'.' | b'-' | b'0'..=b'9' => return self.number(i),
                b'}' => return Step::Mark(-2, i),
                b']' => return Step::Mark(-3, i),
                b',' => return Step::Mark(-4, i),
                b':' => return Step::Mark(-5, i),
                0 => return Step::Mark(0, i),
                0x09 | 0x0a | 0x0d | 0x20 => i = self.skip_spaces(i),
                0x0b | 0x0c | b'/' | 0xc2 | 0xe1 | 0xe2 | 0xe3 | 0xef => {
                    let j = self.ws5(i);
                    if j == 0 {
                        return Step::Mark(-1, i);
                    }
                    i += j;
                    self.nonstd = true;
                }
                _ => return self.nan_inf(i),
            }
        }
    }

    fn nan_inf(&mut self, i: usize) -> Step {
        const NAMES: [(&str, bool); 5] = [
            ("inf", true),
            ("infinity", true),
            ("nan", false),
            ("qnan", false),
            ("snan", false),
        ];
        for (name, is_inf) in NAMES {
            let n = name.len();
            if self.z.len() >= i + n
                && self.z[i..i + n].eq_ignore_ascii_case(name.as_bytes())
                && !self.at(i + n).is_ascii_alphanumeric()
            {
                self.nonstd = true;
                let node = if is_inf {
                    Node::leaf(Kind::Float, "9e999".into())
                } else {
                    Node::leaf(Kind::Null, String::new())
                };
                return Step::Value(node, i + n);
            }
        }
        Step::Mark(-1, i)
    }

    fn object(&mut self, i: usize) -> Step {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Step::Mark(-1, i);
        }
        let mut members: Vec<(Node, Node)> = Vec::new();
        let mut j = i + 1;
        loop {
            let (label, x) = match self.step(j) {
                Step::Value(n, x) => (n, x),
                Step::Mark(-2, at) => {
                    if !members.is_empty() {
                        self.nonstd = true;
                    }
                    j = at;
                    break;
                }
                Step::Mark(..) => {
                    j += self.ws5(j);
                    let mut escaped = false;
                    if id1(self.at(j))
                        || (self.at(j) == b'\\' && self.at(j + 1) == b'u' && is_4hex(self.z, j + 2))
                    {
                        if self.at(j) == b'\\' {
                            escaped = true;
                        }
                        let mut k = j + 1;
                        loop {
                            if id2(self.at(k)) && self.ws5(k) == 0 {
                                k += 1;
                            } else if self.at(k) == b'\\'
                                && self.at(k + 1) == b'u'
                                && is_4hex(self.z, k + 2)
                            {
                                escaped = true;
                                k += 1;
                            } else {
                                break;
                            }
                        }
                        self.nonstd = true;
                        (
                            self.leaf(
                                Kind::Text(if escaped {
                                    TextKind::J
                                } else {
                                    TextKind::Plain
                                }),
                                j,
                                k,
                            ),
                            k,
                        )
                    } else {
                        return Step::Mark(-1, j);
                    }
                }
            };
            if !matches!(label.kind, Kind::Text(_)) {
                return Step::Mark(-1, j);
            }
            j = x;
            if self.at(j) == b':' {
                j += 1;
            } else {
                let mut found = false;
                if is_json_space(self.at(j)) {
                    j = self.skip_spaces(j);
                    if self.at(j) == b':' {
                        j += 1;
                        found = true;
                    }
                }
                if !found {
                    match self.step(j) {
                        Step::Mark(-5, at) => j = at + 1,
                        _ => return Step::Mark(-1, j),
                    }
                }
            }
            let (value, x) = match self.step(j) {
                Step::Value(n, x) => (n, x),
                Step::Mark(_, at) => return Step::Mark(-1, at),
            };
            members.push((label, value));
            j = x;
            match self.at(j) {
                b',' => {
                    j += 1;
                    continue;
                }
                b'}' => break,
                c => {
                    if is_json_space(c) {
                        j = self.skip_spaces(j + 1);
                        match self.at(j) {
                            b',' => {
                                j += 1;
                                continue;
                            }
                            b'}' => break,
                            _ => {}
                        }
                    }
                    match self.step(j) {
                        Step::Mark(-4, at) => {
                            j = at + 1;
                            continue;
                        }
                        Step::Mark(-2, at) => {
                            j = at;
                            break;
                        }
                        _ => return Step::Mark(-1, j),
                    }
                }
            }
        }
        self.depth -= 1;
        Step::Value(Node::object(members), j + 1)
    }

    fn array(&mut self, i: usize) -> Step {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Step::Mark(-1, i);
        }
        let mut items = Vec::new();
        let mut j = i + 1;
        loop {
            match self.step(j) {
                Step::Value(n, x) => {
                    items.push(n);
                    j = x;
                }
                Step::Mark(-3, at) => {
                    if !items.is_empty() {
                        self.nonstd = true;
                    }
                    j = at;
                    break;
                }
                Step::Mark(_, at) => return Step::Mark(-1, at),
            }
            match self.at(j) {
                b',' => {
                    j += 1;
                    continue;
                }
                b']' => break,
                c => {
                    if is_json_space(c) {
                        j = self.skip_spaces(j + 1);
                        match self.at(j) {
                            b',' => {
                                j += 1;
                                continue;
                            }
                            b']' => break,
                            _ => {}
                        }
                    }
                    match self.step(j) {
                        Step::Mark(-4, at) => {
                            j = at + 1;
                            continue;
                        }
                        Step::Mark(-3, at) => {
                            j = at;
                            break;
                        }
                        _ => return Step::Mark(-1, j),
                    }
                }
            }
        }
        self.depth -= 1;
        Step::Value(Node::array(items), j + 1)
    }

    fn string(&mut self, i: usize) -> Step {
        let delim = self.at(i);
        let mut kind = TextKind::Plain;
        if delim == b'\'' {
            self.nonstd = true;
        }
        let mut j = i + 1;
        loop {
            let mut c = self.at(j);
            if c == delim {
                break;
            }
            if c == b'\\' {
                j += 1;
                c = self.at(j);
                if matches!(c, b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't')
                    || (c == b'u' && is_4hex(self.z, j + 1))
                {
                    if kind == TextKind::Plain {
                        kind = TextKind::J;
                    }
                } else if matches!(c, b'\'' | b'0' | b'v' | b'\n')
                    || (c == 0xe2
                        && self.at(j + 1) == 0x80
                        && matches!(self.at(j + 2), 0xa8 | 0xa9))
                    || (c == b'x'
                        && self.at(j + 1).is_ascii_hexdigit()
                        && self.at(j + 2).is_ascii_hexdigit())
                {
                    kind = TextKind::Five;
                    self.nonstd = true;
                } else if c == b'\r' {
                    if self.at(j + 1) == b'\n' {
                        j += 1;
                    }
                    kind = TextKind::Five;
                    self.nonstd = true;
                } else {
                    return Step::Mark(-1, j);
                }
            } else if c <= 0x1f {
                if c == 0 {
                    return Step::Mark(-1, j);
                }
                kind = TextKind::Five;
                self.nonstd = true;
            } else if c == b'"' {
                kind = TextKind::Five;
            }
            j += 1;
        }
        Step::Value(self.leaf(Kind::Text(kind), i + 1, j), j + 1)
    }

    fn number(&mut self, mut i: usize) -> Step {
        let mut t = 0u8; // bit 0: JSON5 spelling, bit 1: real
        let mut seen_e = false;
        let c = self.at(i);
        let hex_end = |p: &Self, mut j: usize| {
            while p.at(j).is_ascii_hexdigit() {
                j += 1;
            }
            j
        };
        let mut j;
        'finish: {
            if c == b'.' {
                if !self.at(i + 1).is_ascii_digit() {
                    return Step::Mark(-1, i);
                }
                self.nonstd = true;
                t = 3;
            } else {
                if c == b'+' {
                    self.nonstd = true;
                }
                if c == b'0' {
                    if matches!(self.at(i + 1), b'x' | b'X') && self.at(i + 2).is_ascii_hexdigit() {
                        self.nonstd = true;
                        t = 1;
                        j = hex_end(self, i + 3);
                        break 'finish;
                    } else if self.at(i + 1).is_ascii_digit() {
                        return Step::Mark(-1, i + 1);
                    }
                } else if c == b'+' || c == b'-' {
                    let c1 = self.at(i + 1);
                    if !c1.is_ascii_digit() {
                        if matches!(c1, b'I' | b'i')
                            && self.z.len() >= i + 4
                            && self.z[i + 1..i + 4].eq_ignore_ascii_case(b"inf")
                        {
                            self.nonstd = true;
                            let raw = if c == b'-' { "-9e999" } else { "9e999" };
                            let len = if self.z.len() >= i + 9
                                && self.z[i + 4..i + 9].eq_ignore_ascii_case(b"inity")
                            {
                                9
                            } else {
                                4
                            };
                            return Step::Value(Node::leaf(Kind::Float, raw.into()), i + len);
                        }
                        if c1 == b'.' {
                            self.nonstd = true;
                            t |= 1;
                        } else {
                            return Step::Mark(-1, i);
                        }
                    } else if c1 == b'0' {
                        if self.at(i + 2).is_ascii_digit() {
                            return Step::Mark(-1, i + 1);
                        } else if matches!(self.at(i + 2), b'x' | b'X')
                            && self.at(i + 3).is_ascii_hexdigit()
                        {
                            self.nonstd = true;
                            t |= 1;
                            j = hex_end(self, i + 4);
                            break 'finish;
                        }
                    }
                }
            }
            j = i + 1;
            loop {
                let c = self.at(j);
                if c.is_ascii_digit() {
                    j += 1;
                    continue;
                }
                if c == b'.' {
                    if t & 2 != 0 {
                        return Step::Mark(-1, j);
                    }
                    t |= 2;
                    j += 1;
                    continue;
                }
                if c == b'e' || c == b'E' {
                    if self.at(j - 1) < b'0' {
                        if self.at(j - 1) == b'.' && j >= i + 2 && self.at(j - 2).is_ascii_digit() {
                            self.nonstd = true;
                            t |= 1;
                        } else {
                            return Step::Mark(-1, j);
                        }
                    }
                    if seen_e {
                        return Step::Mark(-1, j);
                    }
                    t |= 2;
                    seen_e = true;
                    let mut c = self.at(j + 1);
                    if c == b'+' || c == b'-' {
                        j += 1;
                        c = self.at(j + 1);
                    }
                    if !c.is_ascii_digit() {
                        return Step::Mark(-1, j);
                    }
                    j += 1;
                    continue;
                }
                break;
            }
            if self.at(j - 1) < b'0' {
                if self.at(j - 1) == b'.' && j >= i + 2 && self.at(j - 2).is_ascii_digit() {
                    self.nonstd = true;
                    t |= 1;
                } else {
                    return Step::Mark(-1, j);
                }
            }
        }
        if self.at(i) == b'+' {
            i += 1;
        }
        let kind = match t {
            0 => Kind::Int,
            1 => Kind::Int5,
            2 => Kind::Float,
            _ => Kind::Float5,
        };
        Step::Value(self.leaf(kind, i, j), j)
    }
}

/// A parsed JSON document.
pub(crate) struct Parsed {
    pub root: Node,
    /// True when JSON5 (non-RFC 8259) syntax was used.
    pub nonstd: bool,
}

/// Parses a complete JSON (or JSON5) text like `jsonConvertTextToBlob`;
/// None if malformed. Parsing stops at a NUL character, as in SQLite.
pub(crate) fn parse_full(src: &str) -> Option<Parsed> {
    let mut p = Parser {
        z: src.as_bytes(),
        src,
        depth: 0,
        nonstd: false,
    };
    let (root, mut i) = match p.step(0) {
        Step::Value(n, i) => (n, i),
        Step::Mark(..) => return None,
    };
    i = p.skip_spaces(i);
    if p.at(i) != 0 {
        i += p.ws5(i);
        if p.at(i) != 0 {
            return None;
        }
        p.nonstd = true;
    }
    Some(Parsed {
        root,
        nonstd: p.nonstd,
    })
}

/// Parses JSON or JSON5 text into its root node.
pub(crate) fn parse(src: &str) -> Option<Node> {
    parse_full(src).map(|p| p.root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_minified() {
        let n = parse(" { \"a\" : [1, 2.5e3, true, null, \"x\\u0041\"], \"b\": {} } ").unwrap();
        assert_eq!(n.to_json(), r#"{"a":[1,2.5e3,true,null,"x\u0041"],"b":{}}"#);
        assert_eq!(parse("-0").unwrap().to_json(), "-0");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "", "01", "[1,,]", "{1:1}", "\"\0\"", "1.5.2", ".", "tru", "[", "nul", "1 2",
            "\"\\q\"", "--1",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
        let deep = "[".repeat(1001) + &"]".repeat(1001);
        assert!(parse(&deep).is_none());
        let ok = "[".repeat(1000) + &"]".repeat(1000);
        assert!(parse(&ok).is_some());
    }

    #[test]
    fn json5_becomes_canonical() {
        let p =
            parse_full("{a:0x1F, 'b':.5, c:[1,2,], d:+Infinity, e:'it\\'s', f:5., // c\n g:NaN}")
                .unwrap();
        assert!(p.nonstd);
        assert_eq!(
            p.root.to_json(),
            r#"{"a":31,"b":0.5,"c":[1,2],"d":9e999,"e":"it's","f":5.0,"g":null}"#
        );
        assert!(!parse_full("[1]").unwrap().nonstd);
    }

    #[test]
    fn sizes_follow_jsonb() {
        assert_eq!(parse("[1,2]").unwrap().size, 5);
        assert_eq!(parse("\"abcdefghijkl\"").unwrap().size, 14);
    }
}
