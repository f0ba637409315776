//! Splitting shell input into statements.
//!
//! ```text
//!   SELECT 'a;b' -- c;d
//!     , "x;y" /* e;
//!   f */ ;  SELECT 2;       ->  ["SELECT 'a;b' -- c;d\n  , \"x;y\" /* e;\nf */ ;", "SELECT 2;"]
//! ```
//!
//! A statement ends at a `;` outside string literals ('..'), quoted
//! identifiers ("..", `..`, [..]) and comments (`--` to the end of the
//! line, `/* .. */`). Doubled quotes inside a literal (`'it''s'`) need no
//! special case: they close and reopen it. Text that holds only whitespace
//! and comments is not a statement. State persists across lines, so input
//! may arrive line by line.

/// Where the scanner is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Code,
    /// Inside a quoted token closed by this character.
    Quoted(char),
    LineComment,
    BlockComment,
}

/// Accumulates input and hands out complete statements.
#[derive(Debug)]
pub struct Splitter {
    buf: String,
    state: State,
    /// Whether `buf` holds anything besides whitespace and comments.
    has_code: bool,
}

impl Default for Splitter {
    fn default() -> Splitter {
        Splitter {
            buf: String::new(),
            state: State::Code,
            has_code: false,
        }
    }
}

impl Splitter {
    pub fn new() -> Splitter {
        Splitter::default()
    }

    /// True when no statement is partly entered (the shell then accepts a
    /// dot-command, and shows its primary prompt).
    pub fn is_idle(&self) -> bool {
        !self.has_code && self.state != State::BlockComment
    }

    /// Adds text (a line should include its newline) and returns the
    /// statements it completed, each ending with its `;`.
    pub fn push(&mut self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            self.buf.push(c);
            self.state = match (self.state, c) {
                (State::Code, ';') => {
                    let stmt = std::mem::take(&mut self.buf);
                    if self.has_code {
                        out.push(stmt.trim().to_owned());
                    }
                    self.has_code = false;
                    State::Code
                }
                (State::Code, '-') if chars.peek() == Some(&'-') => {
                    self.buf.push(chars.next().expect("peeked"));
                    State::LineComment
                }
                (State::Code, '/') if chars.peek() == Some(&'*') => {
                    self.buf.push(chars.next().expect("peeked"));
                    State::BlockComment
                }
                (State::Code, q @ ('\'' | '"' | '`')) => {
                    self.has_code = true;
                    State::Quoted(q)
                }
                (State::Code, '[') => {
                    self.has_code = true;
                    State::Quoted(']')
                }
                (State::Code, c) => {
                    self.has_code |= !c.is_whitespace();
                    State::Code
                }
                (State::Quoted(q), c) if c == q => State::Code,
                (State::LineComment, '\n') => State::Code,
                (State::BlockComment, '*') if chars.peek() == Some(&'/') => {
                    self.buf.push(chars.next().expect("peeked"));
                    State::Code
                }
                (s, _) => s,
            };
        }
        out
    }

    /// What is left at the end of input: an unterminated statement (run
    /// as if it ended with `;`, like sqlite3 does), or None.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buf);
        let had_code = std::mem::replace(&mut self.has_code, false);
        self.state = State::Code;
        had_code.then(|| rest.trim().to_owned())
    }
}

/// How running `sql` changes whether its connection has a transaction
/// open: `Some(true)` if it (last) opens one, `Some(false)` if it (last)
/// ends one, `None` if it does neither. Judged by each statement's first
/// keyword (BEGIN, SAVEPOINT / COMMIT, END, ROLLBACK without TO).
pub fn transaction_effect(sql: &str) -> Option<bool> {
    split_script(sql)
        .iter()
        .rev()
        .find_map(|stmt| match code_words(stmt).next().as_deref() {
            Some("BEGIN" | "SAVEPOINT") => Some(true),
            Some("COMMIT" | "END") => Some(false),
            Some("ROLLBACK") if !stmt.to_ascii_uppercase().contains(" TO ") => Some(false),
            _ => None,
        })
}

/// The upper-cased words of a statement, after leading comments.
fn code_words(stmt: &str) -> impl Iterator<Item = String> + '_ {
    let mut rest = stmt.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r
                .split_once('\n')
                .map_or("", |(_, after)| after)
                .trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r
                .split_once("*/")
                .map_or("", |(_, after)| after)
                .trim_start();
        } else {
            break;
        }
    }
    rest.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_uppercase())
}

/// Splits a whole script (a `.read` file, `-c` text) into statements.
pub fn split_script(text: &str) -> Vec<String> {
    let mut s = Splitter::new();
    let mut out = s.push(text);
    out.extend(s.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolons_in_quotes_and_comments_do_not_split() {
        let got = split_script(
            "SELECT 'a;b' -- c;d\n  , \"x;y\" /* e;\nf */ , [p;q], `r;s` ;  SELECT 2;",
        );
        assert_eq!(
            got,
            vec![
                "SELECT 'a;b' -- c;d\n  , \"x;y\" /* e;\nf */ , [p;q], `r;s` ;",
                "SELECT 2;"
            ]
        );
    }

    #[test]
    fn doubled_quotes_and_line_by_line_input() {
        let mut s = Splitter::new();
        assert!(s.push("INSERT INTO t VALUES ('it''s;\n").is_empty());
        assert!(!s.is_idle());
        assert_eq!(
            s.push("still;');\n"),
            vec!["INSERT INTO t VALUES ('it''s;\nstill;');"]
        );
        assert!(s.is_idle());
        assert!(s.push("SELECT\n").is_empty());
        assert!(!s.is_idle());
        assert_eq!(s.push("1;\n"), vec!["SELECT\n1;"]);
    }

    #[test]
    fn comment_only_text_is_not_a_statement() {
        assert!(split_script("-- nothing;\n/* still; nothing */ ;\n ;").is_empty());
        let mut s = Splitter::new();
        s.push("-- a comment\n");
        assert!(s.is_idle());
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn unterminated_last_statement_still_runs() {
        assert_eq!(
            split_script("SELECT 1; SELECT 2"),
            vec!["SELECT 1;", "SELECT 2"]
        );
        assert_eq!(split_script("SELECT '--;'"), vec!["SELECT '--;'"]);
    }

    #[test]
    fn transaction_effects_follow_the_last_boundary() {
        assert_eq!(transaction_effect("begin"), Some(true));
        assert_eq!(
            transaction_effect("-- x\n/* y */ BEGIN IMMEDIATE;"),
            Some(true)
        );
        assert_eq!(
            transaction_effect("BEGIN; INSERT INTO t VALUES (1); COMMIT;"),
            Some(false)
        );
        assert_eq!(transaction_effect("end transaction"), Some(false));
        assert_eq!(transaction_effect("ROLLBACK"), Some(false));
        assert_eq!(transaction_effect("ROLLBACK TO sp"), None);
        assert_eq!(transaction_effect("SAVEPOINT sp"), Some(true));
        assert_eq!(transaction_effect("SELECT 'BEGIN'"), None);
        assert_eq!(transaction_effect("INSERT INTO begin_log VALUES (1)"), None);
    }

    #[test]
    fn dashes_and_slashes_alone_are_code() {
        assert_eq!(split_script("SELECT 4-2/1;"), vec!["SELECT 4-2/1;"]);
        assert_eq!(split_script("SELECT 1 -- x\n;"), vec!["SELECT 1 -- x\n;"]);
    }
}
