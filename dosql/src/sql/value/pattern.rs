//! LIKE and GLOB matching: a port of SQLite's `patternCompare`.
//!
//! ```text
//!   LIKE  %  any run      _  one character   ESCAPE c  next is literal
//!         ASCII letters match case-insensitively; other characters exactly
//!   GLOB  *  any run      ?  one character   [abc] [a-z] [^...]  sets
//!         case-sensitive
//! ```
//!
//! Matching works on characters (not bytes): on the bytes directly when
//! both strings are ASCII (no allocation, the common case in scans), else
//! on decoded `char`s. A `*`/`%` followed by a literal scans for that
//! literal before recursing, so typical patterns are linear; pathological
//! ones are exponential in SQLite too, which bounds LIKE pattern length
//! instead (`like()` checks it).

#[derive(PartialEq, Eq)]
enum Match {
    Yes,
    No,
    /// No match, and no later start position can match either.
    NoWildcard,
}

/// A unit of matching: a byte of an ASCII string, or a `char`.
trait Unit: Copy + Eq + Ord {
    fn ascii(c: u8) -> Self;
    fn eq_ignore_case(self, o: Self) -> bool;
}

impl Unit for u8 {
    fn ascii(c: u8) -> u8 {
        c
    }
    fn eq_ignore_case(self, o: u8) -> bool {
        self.eq_ignore_ascii_case(&o)
    }
}

impl Unit for char {
    fn ascii(c: u8) -> char {
        c as char
    }
    fn eq_ignore_case(self, o: char) -> bool {
        self.is_ascii() && o.is_ascii() && self.eq_ignore_ascii_case(&o)
    }
}

struct Info<T> {
    match_all: T,
    match_one: T,
    /// Whether `[` starts a set (GLOB) or `other` is an escape (LIKE).
    match_set: bool,
    no_case: bool,
}

fn eq_char<T: Unit>(a: T, b: T, no_case: bool) -> bool {
    a == b || (no_case && a.eq_ignore_case(b))
}

fn pattern_compare<T: Unit>(pat: &[T], s: &[T], info: &Info<T>, other: Option<T>) -> Match {
    let (mut p, mut i) = (0usize, 0usize);
    let mut escaped_at: Option<usize> = None;
    while p < pat.len() {
        let mut c = pat[p];
        p += 1;
        if c == info.match_all {
            // Collapse runs of "*" and "?": each "?" consumes one character.
            loop {
                let Some(&n) = pat.get(p) else {
                    return Match::Yes;
                };
                if n == info.match_all {
                    p += 1;
                } else if n == info.match_one {
                    p += 1;
                    if i >= s.len() {
                        return Match::NoWildcard;
                    }
                    i += 1;
                } else {
                    break;
                }
            }
            c = pat[p];
            p += 1;
            if Some(c) == other {
                if !info.match_set {
                    let Some(&n) = pat.get(p) else {
                        return Match::NoWildcard;
                    };
                    c = n;
                    p += 1;
                } else {
                    // "[...]" right after "*": try every start position.
                    while i < s.len() {
                        let m = pattern_compare(&pat[p - 1..], &s[i..], info, other);
                        if m != Match::No {
                            return m;
                        }
                        i += 1;
                    }
                    return Match::NoWildcard;
                }
            }
            while i < s.len() {
                let c2 = s[i];
                i += 1;
                if !eq_char(c, c2, info.no_case) {
                    continue;
                }
                let m = pattern_compare(&pat[p..], &s[i..], info, other);
                if m != Match::No {
                    return m;
                }
            }
            return Match::NoWildcard;
        }
        if Some(c) == other {
            if !info.match_set {
                let Some(&n) = pat.get(p) else {
                    return Match::No;
                };
                c = n;
                p += 1;
                escaped_at = Some(p);
            } else {
                let Some(&sc) = s.get(i) else {
                    return Match::No;
                };
                i += 1;
                let mut seen = false;
                let mut invert = false;
                let mut prior: Option<T> = None;
                let mut c2 = pat.get(p).copied();
                p += 1;
                if c2 == Some(T::ascii(b'^')) {
                    invert = true;
                    c2 = pat.get(p).copied();
                    p += 1;
                }
                if c2 == Some(T::ascii(b']')) {
                    if sc == T::ascii(b']') {
                        seen = true;
                    }
                    c2 = pat.get(p).copied();
                    p += 1;
                }
                while let Some(cc) = c2 {
                    if cc == T::ascii(b']') {
                        break;
                    }
                    let next = pat.get(p).copied();
                    if let (true, Some(hi), Some(lo)) = (
                        cc == T::ascii(b'-'),
                        next.filter(|&n| n != T::ascii(b']')),
                        prior,
                    ) {
                        p += 1;
                        if sc >= lo && sc <= hi {
                            seen = true;
                        }
                        prior = None;
                    } else {
                        if sc == cc {
                            seen = true;
                        }
                        prior = Some(cc);
                    }
                    c2 = pat.get(p).copied();
                    p += 1;
                }
                if c2.is_none() || seen == invert {
                    return Match::No;
                }
                continue;
            }
        }
        let Some(&c2) = s.get(i) else {
            return Match::No;
        };
        i += 1;
        if eq_char(c, c2, info.no_case) {
            continue;
        }
        if c == info.match_one && escaped_at != Some(p) {
            continue;
        }
        return Match::No;
    }
    if i == s.len() {
        Match::Yes
    } else {
        Match::No
    }
}

/// `text LIKE pattern [ESCAPE escape]`: `%` and `_`, ASCII case-insensitive.
pub fn like(pattern: &str, text: &str, escape: Option<char>) -> bool {
    // An escape character equal to a wildcard disables that wildcard.
    let wild = |c: char| if escape == Some(c) { '\0' } else { c };
    if pattern.is_ascii() && text.is_ascii() && escape.is_none_or(|c| c.is_ascii()) {
        let info = Info {
            match_all: wild('%') as u8,
            match_one: wild('_') as u8,
            match_set: false,
            no_case: true,
        };
        let esc = escape.map(|c| c as u8);
        return pattern_compare(pattern.as_bytes(), text.as_bytes(), &info, esc) == Match::Yes;
    }
    let pat: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = text.chars().collect();
    let info = Info {
        match_all: wild('%'),
        match_one: wild('_'),
        match_set: false,
        no_case: true,
    };
    pattern_compare(&pat, &s, &info, escape) == Match::Yes
}

/// `text GLOB pattern`: `*`, `?` and `[...]` sets, case-sensitive.
pub fn glob(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        let info = Info {
            match_all: b'*',
            match_one: b'?',
            match_set: true,
            no_case: false,
        };
        return pattern_compare(pattern.as_bytes(), text.as_bytes(), &info, Some(b'['))
            == Match::Yes;
    }
    let pat: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = text.chars().collect();
    let info = Info {
        match_all: '*',
        match_one: '?',
        match_set: true,
        no_case: false,
    };
    pattern_compare(&pat, &s, &info, Some('[')) == Match::Yes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like("a%", "ABC", None));
        assert!(like("%b%", "abc", None));
        assert!(like("a_c", "abc", None));
        assert!(!like("a_c", "ac", None));
        assert!(like("%", "", None));
        assert!(!like("_", "", None));
        assert!(like("10!%", "10%", Some('!')));
        assert!(!like("10!%", "100", Some('!')));
        assert!(like("é%", "éa", None));
        assert!(!like("É%", "éa", None));
        assert!(like("%a%b%c%", "xxaxxbxxcxx", None));
        assert!(!like("abc", "abcd", None));
    }

    #[test]
    fn glob_patterns() {
        assert!(glob("a*", "abc"));
        assert!(!glob("A*", "abc"));
        assert!(glob("a?c", "abc"));
        assert!(glob("[a-c]x", "bx"));
        assert!(!glob("[^a-c]x", "bx"));
        assert!(glob("[]]", "]"));
        assert!(glob("*[0-9]", "abc7"));
        assert!(!glob("*[0-9]", "abc"));
        assert!(glob("[a-]", "-"));
        assert!(!glob("[abc", "a"));
    }
}
