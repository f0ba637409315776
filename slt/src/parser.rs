//! Parser for sqllogictest scripts.
//!
//! A script is a sequence of records separated by blank lines. The line
//! model is that of SQLite's reference driver (`sqllogictest.c`):
//!
//! * one trailing `\r` is removed from every line, so CRLF files parse like
//!   LF files; a line of only whitespace counts as blank;
//! * a line starting with `#` is a comment wherever it appears (even
//!   between SQL lines or result lines) and is dropped;
//! * a record starts with any number of condition lines, `skipif <engine>`
//!   or `onlyif <engine>`; only the engine name (the second word) counts,
//!   so trailing `# comments` on those lines are ignored.
//!
//! ```text
//!   onlyif sqlite            <- conditions (apply to this record only)
//!   query IT rowsort label-1 <- command: type letters, sort mode, label
//!   SELECT a, b FROM t1      <- SQL, up to "----" or a blank line
//!   ----
//!   1                        <- expected values, one per line, or
//!   x                           "N values hashing to <md5>"
//!                            <- blank line ends the record
//!   statement ok|error       <- SQL up to the blank line
//!   hash-threshold N         <- results above N values are hashed (0: never)
//!   halt                     <- stop running this file
//! ```
//!
//! The parser is strict about what it cannot interpret (an unknown record
//! type, type letter or sort mode is an error with its line number) because
//! silently skipping such a record would let a test pass without running.

use crate::format::{ColumnType, SortMode};

/// A parsed script.
#[derive(Clone, Debug, PartialEq)]
pub struct Script {
    /// Records in file order.
    pub records: Vec<Record>,
}

/// One record: its conditions and what it does.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// 1-based line number of the command line (after the conditions).
    pub line: usize,
    /// `skipif`/`onlyif` lines preceding the command, in order.
    pub conditions: Vec<Condition>,
    /// The record's command.
    pub command: Command,
}

/// A `skipif` or `onlyif` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Skip the record on this engine.
    SkipIf(String),
    /// Run the record only on this engine.
    OnlyIf(String),
}

impl Condition {
    /// Whether this condition lets the record run on `engine`; engine names
    /// compare case-insensitively, as in the reference driver.
    pub fn allows(&self, engine: &str) -> bool {
        match self {
            Condition::SkipIf(name) => !name.eq_ignore_ascii_case(engine),
            Condition::OnlyIf(name) => name.eq_ignore_ascii_case(engine),
        }
    }
}

impl Record {
    /// Whether all conditions let the record run on `engine`.
    pub fn applies_to(&self, engine: &str) -> bool {
        self.conditions.iter().all(|c| c.allows(engine))
    }
}

/// What a record does.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// `statement ok` or `statement error`.
    Statement {
        /// True for `statement error`: the record passes only if the
        /// engine reports an error.
        expect_error: bool,
        /// The SQL, lines joined by `\n`.
        sql: String,
    },
    /// `query <types> [sort] [label]`.
    Query(Query),
    /// `hash-threshold N`.
    HashThreshold(usize),
    /// `halt`.
    Halt,
}

impl Command {
    /// Statements and queries run on the engine and count as records;
    /// `hash-threshold` and `halt` only steer the runner.
    pub fn is_runnable(&self) -> bool {
        matches!(self, Command::Statement { .. } | Command::Query(_))
    }
}

/// A query record.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// One type per result column.
    pub types: Vec<ColumnType>,
    /// How results are ordered before comparison (`nosort` if absent).
    pub sort: SortMode,
    /// The label (fourth word): all queries of a file with the same label
    /// must produce results with the same hash.
    pub label: Option<String>,
    /// The SQL, lines joined by `\n`.
    pub sql: String,
    /// The expected results.
    pub expected: Expected,
}

/// Expected query results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Values one per line, after sorting (empty if the record has no
    /// `----` section or nothing after it).
    Values(Vec<String>),
    /// `count values hashing to md5`.
    Hash {
        /// Number of values.
        count: usize,
        /// 32 lowercase hex digits.
        md5: String,
    },
}

/// A script that cannot be interpreted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// A script line after comment removal: its number and text.
#[derive(Clone, Copy)]
struct Line<'a> {
    number: usize,
    text: &'a str,
}

impl Line<'_> {
    fn is_blank(&self) -> bool {
        self.text.is_empty()
    }
}

/// Splits text into lines, normalising `\r\n`, blanking whitespace-only
/// lines and dropping `#` comment lines.
fn script_lines(text: &str) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.starts_with('#') {
            continue;
        }
        let line = if line.trim().is_empty() { "" } else { line };
        lines.push(Line {
            number: index + 1,
            text: line,
        });
    }
    // A final newline yields one empty trailing piece: harmless, blank.
    lines
}

fn error(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

/// Parses a whole script.
pub fn parse(text: &str) -> Result<Script, ParseError> {
    let lines = script_lines(text);
    let mut records = Vec::new();
    let mut i = 0;
    loop {
        while i < lines.len() && lines[i].is_blank() {
            i += 1;
        }
        if i == lines.len() {
            break;
        }
        let mut conditions = Vec::new();
        let mut words: Vec<&str> = lines[i].text.split_whitespace().collect();
        while matches!(words[0], "skipif" | "onlyif") {
            let Some(engine) = words.get(1) else {
                return Err(error(
                    lines[i].number,
                    format!("{} without an engine name", words[0]),
                ));
            };
            conditions.push(if words[0] == "skipif" {
                Condition::SkipIf(engine.to_string())
            } else {
                Condition::OnlyIf(engine.to_string())
            });
            let condition_line = lines[i].number;
            i += 1;
            if i == lines.len() || lines[i].is_blank() {
                return Err(error(condition_line, "condition not followed by a record"));
            }
            words = lines[i].text.split_whitespace().collect();
        }
        let line = lines[i].number;
        i += 1;
        let command = match words[0] {
            "statement" => {
                let expect_error = match words.get(1).copied() {
                    Some("ok") => false,
                    Some("error") => true,
                    other => {
                        let found = other.unwrap_or("nothing");
                        return Err(error(
                            line,
                            format!("statement expects ok or error, found {found}"),
                        ));
                    }
                };
                let sql = take_until(&lines, &mut i, |_| false);
                if sql.is_empty() {
                    return Err(error(line, "statement without SQL"));
                }
                Command::Statement { expect_error, sql }
            }
            "query" => Command::Query(parse_query(&words, line, &lines, &mut i)?),
            "hash-threshold" => {
                let threshold = words.get(1).and_then(|w| w.parse().ok());
                let Some(threshold) = threshold else {
                    return Err(error(line, "hash-threshold needs a non-negative integer"));
                };
                skip_record(&lines, &mut i);
                Command::HashThreshold(threshold)
            }
            "halt" => {
                skip_record(&lines, &mut i);
                Command::Halt
            }
            other => return Err(error(line, format!("unknown record type '{other}'"))),
        };
        records.push(Record {
            line,
            conditions,
            command,
        });
    }
    Ok(Script { records })
}

/// Joins lines from `*i` up to a blank line, the end, or a line for which
/// `stop` holds (left unconsumed), with `\n`.
fn take_until(lines: &[Line<'_>], i: &mut usize, stop: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    while *i < lines.len() && !lines[*i].is_blank() && !stop(lines[*i].text) {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(lines[*i].text);
        *i += 1;
    }
    text
}

/// Skips the rest of a record, as the reference driver does after a
/// one-line command.
fn skip_record(lines: &[Line<'_>], i: &mut usize) {
    while *i < lines.len() && !lines[*i].is_blank() {
        *i += 1;
    }
}

fn parse_query(
    words: &[&str],
    line: usize,
    lines: &[Line<'_>],
    i: &mut usize,
) -> Result<Query, ParseError> {
    let Some(letters) = words.get(1) else {
        return Err(error(line, "query without type string"));
    };
    let types = letters
        .chars()
        .map(|c| {
            ColumnType::from_letter(c)
                .ok_or_else(|| error(line, format!("unknown type character '{c}' in type string")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sort = match words.get(2) {
        None => SortMode::NoSort,
        Some(name) => SortMode::from_name(name)
            .ok_or_else(|| error(line, format!("unknown sort method '{name}'")))?,
    };
    let label = words.get(3).map(|w| w.to_string());
    let sql = take_until(lines, i, |text| text == "----");
    if sql.is_empty() {
        return Err(error(line, "query without SQL"));
    }
    let mut values = Vec::new();
    if *i < lines.len() && lines[*i].text == "----" {
        *i += 1;
        while *i < lines.len() && !lines[*i].is_blank() {
            values.push(lines[*i].text.to_string());
            *i += 1;
        }
    }
    let expected = match values.as_slice() {
        [only] => parse_hash_line(only).unwrap_or(Expected::Values(values)),
        _ => Expected::Values(values),
    };
    Ok(Query {
        types,
        sort,
        label,
        sql,
        expected,
    })
}

/// Recognises `N values hashing to <32 hex digits>`.
fn parse_hash_line(text: &str) -> Option<Expected> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let [count, "values", "hashing", "to", md5] = words.as_slice() else {
        return None;
    };
    let count = count.parse().ok()?;
    if md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(Expected::Hash {
        count,
        md5: md5.to_ascii_lowercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(record: &Record) -> &Query {
        match &record.command {
            Command::Query(q) => q,
            other => panic!("expected a query, got {other:?}"),
        }
    }

    #[test]
    fn statements_and_multiline_sql() {
        let script =
            parse("statement ok\nCREATE TABLE t(a,\n b)\n\nstatement error\nSELECT nope\n")
                .unwrap();
        assert_eq!(script.records.len(), 2);
        assert_eq!(script.records[0].line, 1);
        assert_eq!(
            script.records[0].command,
            Command::Statement {
                expect_error: false,
                sql: "CREATE TABLE t(a,\n b)".into()
            }
        );
        assert_eq!(script.records[1].line, 5);
        assert_eq!(
            script.records[1].command,
            Command::Statement {
                expect_error: true,
                sql: "SELECT nope".into()
            }
        );
    }

    #[test]
    fn query_with_values_sort_and_label() {
        let text = "query ITR rowsort label-7\nSELECT a,\nb, c FROM t\n----\n1\nx\n2.500\n";
        let script = parse(text).unwrap();
        let q = query(&script.records[0]);
        assert_eq!(
            q.types,
            [ColumnType::Integer, ColumnType::Text, ColumnType::Real]
        );
        assert_eq!(q.sort, SortMode::RowSort);
        assert_eq!(q.label.as_deref(), Some("label-7"));
        assert_eq!(q.sql, "SELECT a,\nb, c FROM t");
        assert_eq!(
            q.expected,
            Expected::Values(vec!["1".into(), "x".into(), "2.500".into()])
        );
    }

    #[test]
    fn query_defaults_to_nosort_and_empty_result() {
        let script = parse("query I\nSELECT 1 WHERE 0\n----\n\nquery T\nSELECT 'x'\n").unwrap();
        let first = query(&script.records[0]);
        assert_eq!(first.sort, SortMode::NoSort);
        assert_eq!(first.label, None);
        assert_eq!(first.expected, Expected::Values(vec![]));
        // No "----" at all: nothing is expected.
        assert_eq!(query(&script.records[1]).expected, Expected::Values(vec![]));
    }

    #[test]
    fn hash_lines() {
        let text = "query I valuesort\nSELECT x FROM t\n----\n30 values hashing to 3C13DC48630A6F4E0C1D4F0ED8E8D4B1\n";
        let q = query(&parse(text).unwrap().records[0]).clone();
        assert_eq!(
            q.expected,
            Expected::Hash {
                count: 30,
                md5: "3c13dc48630a6f4e0c1d4f0ed8e8d4b1".into()
            }
        );
        // Not a hash line: wrong digest length, extra value lines.
        let short = "query T\nSELECT x\n----\n3 values hashing to abc\n";
        assert_eq!(
            query(&parse(short).unwrap().records[0]).expected,
            Expected::Values(vec!["3 values hashing to abc".into()])
        );
    }

    #[test]
    fn conditions_with_trailing_comments() {
        let text = "skipif mysql # not supported there\nonlyif sqlite # only here\nstatement ok\nSELECT 1\n";
        let script = parse(text).unwrap();
        let record = &script.records[0];
        assert_eq!(record.line, 3);
        assert_eq!(
            record.conditions,
            [
                Condition::SkipIf("mysql".into()),
                Condition::OnlyIf("sqlite".into())
            ]
        );
        assert!(record.applies_to("sqlite"));
        assert!(record.applies_to("SQLite"));
        assert!(!record.applies_to("mysql"));
        assert!(!record.applies_to("postgresql"));
    }

    #[test]
    fn skipif_engine_itself_and_onlyif_other() {
        let script =
            parse("skipif sqlite\nstatement ok\nX\n\nonlyif mssql\nstatement ok\nY\n").unwrap();
        assert!(!script.records[0].applies_to("sqlite"));
        assert!(!script.records[1].applies_to("sqlite"));
        assert!(script.records[1].applies_to("mssql"));
    }

    #[test]
    fn crlf_lines_parse_like_lf() {
        let lf = "hash-threshold 8\n\nstatement ok\nCREATE TABLE t(x)\n\nquery I nosort\nSELECT 1\n----\n1\n";
        let crlf = lf.replace('\n', "\r\n");
        assert_eq!(parse(&crlf).unwrap(), parse(lf).unwrap());
        let q = query(&parse(&crlf).unwrap().records[2]).clone();
        assert_eq!(q.expected, Expected::Values(vec!["1".into()]));
        assert_eq!(q.sort, SortMode::NoSort);
    }

    #[test]
    fn comments_are_dropped_everywhere() {
        let text = "# header\nquery I nosort\n# inside sql\nSELECT 1\n----\n# inside results\n1\n";
        let script = parse(text).unwrap();
        let q = query(&script.records[0]);
        assert_eq!(q.sql, "SELECT 1");
        assert_eq!(q.expected, Expected::Values(vec!["1".into()]));
        assert_eq!(script.records[0].line, 2);
    }

    #[test]
    fn whitespace_only_lines_separate_records() {
        let script = parse("statement ok\nSELECT 1\n   \t\nstatement ok\nSELECT 2\n").unwrap();
        assert_eq!(script.records.len(), 2);
    }

    #[test]
    fn halt_and_hash_threshold() {
        let text = "onlyif mssql\nhalt\n\nhash-threshold 0\n\nhalt\n\nstatement ok\nSELECT 1\n";
        let script = parse(text).unwrap();
        assert_eq!(script.records[0].command, Command::Halt);
        assert!(!script.records[0].applies_to("sqlite"));
        assert_eq!(script.records[1].command, Command::HashThreshold(0));
        assert_eq!(script.records[2].command, Command::Halt);
        assert!(script.records[2].applies_to("sqlite"));
        assert_eq!(script.records.len(), 4);
    }

    #[test]
    fn errors_carry_line_numbers() {
        let cases = [
            (
                "statement ok\nSELECT 1\n\nfrobnicate\n",
                4,
                "unknown record type",
            ),
            ("query IX\nSELECT 1\n", 1, "unknown type character 'X'"),
            ("query I sorted\nSELECT 1\n", 1, "unknown sort method"),
            ("statement maybe\nSELECT 1\n", 1, "ok or error"),
            (
                "skipif mysql\n\nstatement ok\nSELECT 1\n",
                1,
                "not followed",
            ),
            ("hash-threshold many\n", 1, "hash-threshold"),
            ("query I\n----\n1\n", 1, "without SQL"),
        ];
        for (text, line, needle) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err}");
            assert!(err.message.contains(needle), "{text:?}: {err}");
        }
    }
}
