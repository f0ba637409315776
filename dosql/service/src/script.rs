//! Scripts (`exec`) run statement by statement, so that an error names the
//! statement that failed (`WireError::statement`), as protocol v1 promises.
//!
//! ```text
//!   "CREATE TABLE t(x); INSERT INTO t VALUES (1); INSERT INTO nope VALUES (2)"
//!    └──── piece 0 ────┘ └─────── piece 1 ──────┘ └──────── piece 2 ────────┘
//!   candidate cuts: every ';' outside quotes and comments
//!   verified:       each piece parses (engine parser) as exactly one statement,
//!                   and the pieces hold as many statements as the whole script
//!   error in piece 2 ──> WireError { statement: Some(2), .. }
//! ```
//!
//! Invariant: the engine's parser decides what a statement is. The lexer
//! below only proposes cuts; a piece that does not parse as one statement
//! is merged with the next (a `;` inside a trigger body), and if the pieces
//! still disagree with the parse of the whole script, the script runs whole
//! as before (its errors then name no statement). The whole script is
//! parsed first, so a syntax error anywhere still runs nothing.

use dosql::sql::{Database, Session};
use shared_types::{Params, StatementResult, WireError};

use crate::bind::{self, wire_error};

/// Runs a script with its parameters; stops at the first failing statement,
/// whose error names it.
pub(crate) fn exec(
    db: &mut Database,
    session: &mut Session,
    sql: &str,
    params: &Params,
) -> Result<Vec<StatementResult>, WireError> {
    let names = match db.parameter_names(sql) {
        Ok(names) => names,
        Err(e) => {
            let error = wire_error(&e);
            // Name the statement that does not parse, when the cuts agree.
            return Err(match first_unparsable(db, sql) {
                Some(i) => error.at_statement(i),
                None => error,
            });
        }
    };
    let pieces = if names.len() == 1 {
        Some(vec![sql])
    } else {
        split(db, sql, names.len())
    };
    let Some(pieces) = pieces else {
        // Cuts that disagree with the parser: run whole, unattributed.
        return execute(db, session, sql, &names, params);
    };
    // Every statement of a script binds the same values (see
    // `Database::execute`), so binding once for all is binding each.
    let values = bind::bind(&names, params)?;
    let mut results = Vec::with_capacity(pieces.len());
    for (i, piece) in pieces.iter().enumerate() {
        let out = db
            .execute(session, piece, &values)
            .map_err(|e| wire_error(&e).at_statement(i))?;
        for r in out {
            results.push(bind::result(r).map_err(|e| e.at_statement(i))?);
        }
    }
    Ok(results)
}

/// Runs `sql` (one statement or a whole script) with its parameters.
pub(crate) fn execute(
    db: &mut Database,
    session: &mut Session,
    sql: &str,
    names: &[Vec<Option<String>>],
    params: &Params,
) -> Result<Vec<StatementResult>, WireError> {
    let values = bind::bind(names, params)?;
    db.execute(session, sql, &values)
        .map_err(|e| wire_error(&e))?
        .into_iter()
        .map(bind::result)
        .collect()
}

/// `sql` cut into its statements, each verified by the engine's parser;
/// `None` when the cuts do not reproduce the `expected` statement count.
fn split<'a>(db: &mut Database, sql: &'a str, expected: usize) -> Option<Vec<&'a str>> {
    let mut pieces = Vec::with_capacity(expected);
    let mut start = 0;
    for cut in candidate_cuts(sql) {
        let piece = &sql[start..=cut];
        match db.parameter_names(piece).map(|n| n.len()) {
            Ok(1) => {
                pieces.push(piece);
                start = cut + 1;
            }
            // Only blanks and comments: part of the next statement.
            Ok(0) => {}
            // A cut inside a statement (a trigger body): try the next one.
            _ => {}
        }
    }
    let rest = &sql[start..];
    match db.parameter_names(rest).map(|n| n.len()) {
        Ok(1) => pieces.push(rest),
        Ok(0) => {}
        _ => return None,
    }
    (pieces.len() == expected).then_some(pieces)
}

/// The index of the first statement that does not parse, when the cuts
/// before it are verified statements.
fn first_unparsable(db: &mut Database, sql: &str) -> Option<usize> {
    let mut start = 0;
    let mut index = 0;
    for cut in candidate_cuts(sql) {
        match db.parameter_names(&sql[start..=cut]).map(|n| n.len()) {
            Ok(0) => {}
            Ok(1) => {
                index += 1;
                start = cut + 1;
            }
            // Either a statement with an error or a cut inside a trigger
            // body: only the first case is certain, and only a
            // trigger-free script makes it so.
            _ => {
                let lower = sql.to_ascii_lowercase();
                return (!lower.contains("trigger")).then_some(index);
            }
        }
    }
    Some(index)
}

/// Byte offsets of the `;` that lie outside string literals, quoted
/// identifiers and comments.
fn candidate_cuts(sql: &str) -> Vec<usize> {
    let bytes = sql.as_bytes();
    let mut cuts = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b';' => cuts.push(i),
            quote @ (b'\'' | b'"' | b'`') => i = skip_quoted(bytes, i, quote),
            b'[' => i = find(bytes, i + 1, b"]").unwrap_or(bytes.len()),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = find(bytes, i + 2, b"\n").unwrap_or(bytes.len())
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = find(bytes, i + 2, b"*/").map_or(bytes.len(), |end| end + 1)
            }
            _ => {}
        }
        i += 1;
    }
    cuts
}

/// The offset of the closing quote of the literal opened at `open`; a
/// doubled quote is an escaped one.
fn skip_quoted(bytes: &[u8], open: usize, quote: u8) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i;
        }
        i += 1;
    }
    bytes.len()
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_types::ErrorCode;

    #[test]
    fn cuts_skip_quotes_and_comments() {
        let sql = "SELECT ';'; SELECT \"a;b\" -- c;\n; /* d; */ SELECT [e;f]; SELECT 'it''s;'";
        let cuts: Vec<&str> = candidate_cuts(sql).iter().map(|&c| &sql[..c]).collect();
        assert_eq!(
            cuts,
            [
                "SELECT ';'",
                "SELECT ';'; SELECT \"a;b\" -- c;\n",
                "SELECT ';'; SELECT \"a;b\" -- c;\n; /* d; */ SELECT [e;f]",
            ]
        );
    }

    fn run(db: &mut Database, session: &mut Session, sql: &str) -> Result<usize, WireError> {
        exec(db, session, sql, &Params::default()).map(|r| r.len())
    }

    #[test]
    fn an_error_names_the_failing_statement_and_keeps_earlier_effects() {
        let mut db = Database::open_memory().unwrap();
        let mut s = Session::new();
        let e = run(
            &mut db,
            &mut s,
            "CREATE TABLE t(x PRIMARY KEY); INSERT INTO t VALUES (1);\n\
             -- a comment; with a semicolon\n\
             INSERT INTO t VALUES (2); INSERT INTO t VALUES (1); INSERT INTO t VALUES (3)",
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.statement),
            (ErrorCode::Constraint, Some(3)),
            "{e}"
        );
        let rows = execute(
            &mut db,
            &mut s,
            "SELECT x FROM t",
            &[vec![]],
            &Params::default(),
        );
        assert_eq!(
            rows.unwrap()[0].rows.len(),
            2,
            "statements 0..3 kept their effect"
        );
        let e = run(&mut db, &mut s, "SELECT 1; SELECT * FROM nope").unwrap_err();
        assert_eq!((e.code, e.statement), (ErrorCode::NotFound, Some(1)));
        // A syntax error runs nothing and names its statement too.
        let e = run(&mut db, &mut s, "INSERT INTO t VALUES (9); SELEC 1").unwrap_err();
        assert_eq!((e.code, e.statement), (ErrorCode::Syntax, Some(1)));
        let r = exec(
            &mut db,
            &mut s,
            "SELECT * FROM t WHERE x = 9",
            &Params::default(),
        );
        assert!(
            r.unwrap()[0].rows.is_empty(),
            "the syntax error ran nothing"
        );
        // A single statement is statement 0.
        let e = run(&mut db, &mut s, "INSERT INTO t VALUES (1)").unwrap_err();
        assert_eq!(e.statement, Some(0));
    }

    #[test]
    fn trigger_bodies_hold_semicolons() {
        let mut db = Database::open_memory().unwrap();
        let mut s = Session::new();
        // The body's `;` do not cut the trigger: it is statement 2, whole,
        // and it fires (twice per row) for statement 3.
        let script = "CREATE TABLE a(x); CREATE TABLE log(y);\n\
             CREATE TRIGGER tr AFTER INSERT ON a BEGIN INSERT INTO log VALUES (new.x); \
             INSERT INTO log VALUES (new.x * 10); END;\n\
             INSERT INTO a VALUES (1);";
        assert_eq!(run(&mut db, &mut s, script).unwrap(), 4);
        let r = exec(
            &mut db,
            &mut s,
            "SELECT y FROM log ORDER BY y",
            &Params::default(),
        )
        .unwrap();
        assert_eq!(
            r[0].rows,
            [
                [shared_types::Value::Integer(1)],
                [shared_types::Value::Integer(10)]
            ]
        );
        // A failure after a trigger definition is named by its position.
        let e = run(
            &mut db,
            &mut s,
            "CREATE TRIGGER tr2 AFTER DELETE ON a BEGIN DELETE FROM log; END; \
             INSERT INTO nowhere VALUES (1);",
        )
        .unwrap_err();
        assert_eq!(e.statement, Some(1), "{e}");
    }

    #[test]
    fn parameters_bind_in_every_statement() {
        let mut db = Database::open_memory().unwrap();
        let mut s = Session::new();
        let params = Params::Positional(vec![shared_types::Value::Integer(7)]);
        let r = exec(
            &mut db,
            &mut s,
            "CREATE TABLE p(v); INSERT INTO p VALUES (?1); SELECT v + ?1 FROM p",
            &params,
        )
        .unwrap();
        assert_eq!(r[2].rows, [[shared_types::Value::Integer(14)]]);
    }
}
