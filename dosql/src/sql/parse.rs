//! SQL text to statements: sqlparser's SQLite dialect, size limits, and a
//! cache of parsed statements keyed by the exact text.
//!
//! The cache holds whole scripts (`Arc<[Statement]>`), so a repeated
//! statement costs one hash lookup instead of a parse. It is bounded: when
//! full it is emptied and refills with what is used again, which keeps it
//! simple and never lets a workload of one-off statements grow memory.
//!
//! Parameters are numbered here, in textual order, exactly as SQLite
//! numbers them, and every placeholder is rewritten to its `?N` form: the
//! binder visits clauses in its own order (WHERE before the select list),
//! so numbering there would bind `SELECT ?, ? FROM t WHERE a = ?` wrongly.
//!
//! ```text
//!   SELECT :a, ?, ?5, :a, ?     ->   SELECT ?1, ?2, ?5, ?1, ?6
//!   names:  [":a", None, None, None, None, None]
//! ```

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use sqlparser::ast::{self, visit_expressions_mut, Expr, Statement, VacuumStatement};
use sqlparser::dialect::{Dialect, Precedence, SQLiteDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::error::{Error, Result};

/// Longest SQL text accepted, in bytes (the Durable Object limit).
pub const MAX_SQL_LEN: usize = 100_000;
/// Most bound parameters per call (the Durable Object limit).
pub const MAX_PARAMS: usize = 100;
/// Deepest expression nesting the parser accepts. Binding and evaluation
/// recurse as deep, so this bounds stack use on every platform.
pub const RECURSION_LIMIT: usize = 200;
/// Scripts the statement cache holds before it starts over.
pub const CACHE_ENTRIES: usize = 512;

/// For each statement, the name of each parameter by index (`names[0]` is
/// `?1`), with its prefix; `None` for positional ones. Its length is the
/// number of parameters the statement binds.
pub type ParamNames = Vec<Option<String>>;

/// Parses `sql` into its statements.
pub fn parse(sql: &str) -> Result<Vec<Statement>> {
    Ok(parse_numbered(sql)?.0)
}

/// Parses `sql` into its statements, with their parameters numbered and
/// named (see the module documentation).
pub fn parse_numbered(sql: &str) -> Result<(Vec<Statement>, Vec<ParamNames>)> {
    let mut statements = parse_text(sql)?;
    let names = statements
        .iter_mut()
        .map(number_params)
        .collect::<Result<_>>()?;
    Ok((statements, names))
}

fn parse_text(sql: &str) -> Result<Vec<Statement>> {
    if sql.len() > MAX_SQL_LEN {
        return Err(Error::LimitExceeded(format!(
            "SQL text of {} bytes exceeds the maximum of {MAX_SQL_LEN}",
            sql.len()
        )));
    }
    let dialect = Sqlite(SQLiteDialect {});
    Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(ParserError::from)
        .and_then(|tokens| {
            Parser::new(&dialect)
                .with_recursion_limit(RECURSION_LIMIT)
                .with_tokens_with_locations(desugar_exclude(desugar(tokens)))
                .parse_statements()
        })
        .map_err(|e| {
            let text = e.to_string();
            Error::Syntax(
                text.strip_prefix("sql parser error: ")
                    .unwrap_or(&text)
                    .to_string(),
            )
        })
}

/// sqlparser's SQLite dialect plus the SQLite operators it lacks: `<<`
/// and `>>`, and `IS` / `IS NOT` with any right operand.
///
/// `dialect()` answers as the SQLite dialect, so every SQLite-specific
/// branch inside the parser still applies; every other method delegates.
/// SQLite binds `& | << >>` at one level, tighter than comparison and
/// looser than `+ -`, left to right: `1 | 2 << 3` is `(1 | 2) << 3`.
#[derive(Debug)]
struct Sqlite(SQLiteDialect);

impl Dialect for Sqlite {
    fn dialect(&self) -> std::any::TypeId {
        self.0.dialect()
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.0.is_delimited_identifier_start(ch)
    }
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.0.identifier_quote_style(identifier)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        self.0.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        self.0.is_identifier_part(ch)
    }
    fn supports_filter_during_aggregation(&self) -> bool {
        self.0.supports_filter_during_aggregation()
    }
    fn supports_start_transaction_modifier(&self) -> bool {
        self.0.supports_start_transaction_modifier()
    }
    fn parse_statement(&self, parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
        if parser.parse_keyword(Keyword::REINDEX) {
            return Some(parse_reindex(parser));
        }
        if parser.parse_keyword(Keyword::PRAGMA) {
            return Some(parse_pragma(parser));
        }
        if crate::sql::trigger::parse::at_create_trigger(parser) {
            return Some(crate::sql::trigger::parse::create_trigger(parser));
        }
        if is_keyword(&parser.peek_token_ref().token, Keyword::VACUUM)
            && is_keyword(&parser.peek_nth_token_ref(1).token, Keyword::REINDEX)
        {
            // Redshift syntax; refused so that the REINDEX spelling below
            // cannot be reached by any other text.
            return Some(Err(ParserError::ParserError(
                "VACUUM REINDEX is not supported".into(),
            )));
        }
        self.0.parse_statement(parser)
    }
    fn supports_in_empty_list(&self) -> bool {
        self.0.supports_in_empty_list()
    }
    fn supports_limit_comma(&self) -> bool {
        self.0.supports_limit_comma()
    }
    fn supports_asc_desc_in_column_definition(&self) -> bool {
        self.0.supports_asc_desc_in_column_definition()
    }
    fn supports_dollar_placeholder(&self) -> bool {
        self.0.supports_dollar_placeholder()
    }
    fn supports_notnull_operator(&self) -> bool {
        self.0.supports_notnull_operator()
    }
    fn supports_comma_separated_trim(&self) -> bool {
        self.0.supports_comma_separated_trim()
    }
    fn supports_numeric_literal_underscores(&self) -> bool {
        self.0.supports_numeric_literal_underscores()
    }
    fn supports_bitwise_shift_operators(&self) -> bool {
        true
    }

    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        match parser.peek_token_ref().token {
            Token::Ampersand | Token::Pipe | Token::ShiftLeft | Token::ShiftRight => {
                Some(Ok(self.prec_value(Precedence::Caret)))
            }
            _ => None,
        }
    }

    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        if let Some(found) = self.0.parse_infix(parser, expr, precedence) {
            return Some(found);
        }
        // `a IS b` is SQLite's null-safe equality; sqlparser only knows the
        // fixed forms (`IS NULL`, `IS TRUE`, `IS DISTINCT FROM`, ...), which
        // are left to it.
        if !is_keyword(&parser.peek_token_ref().token, Keyword::IS) {
            return None;
        }
        let negated = is_keyword(&parser.peek_nth_token_ref(1).token, Keyword::NOT);
        let operand = &parser.peek_nth_token_ref(if negated { 2 } else { 1 }).token;
        let fixed = [
            Keyword::NULL,
            Keyword::TRUE,
            Keyword::FALSE,
            Keyword::UNKNOWN,
            Keyword::DISTINCT,
            Keyword::JSON,
            Keyword::NORMALIZED,
            Keyword::NFC,
            Keyword::NFD,
            Keyword::NFKC,
            Keyword::NFKD,
        ];
        if fixed.iter().any(|&k| is_keyword(operand, k)) {
            return None;
        }
        parser.next_token();
        if negated {
            parser.next_token();
        }
        let right = match parser.parse_subexpr(self.prec_value(Precedence::Is)) {
            Ok(right) => Box::new(right),
            Err(e) => return Some(Err(e)),
        };
        let left = Box::new(expr.clone());
        Some(Ok(if negated {
            Expr::IsDistinctFrom(left, right)
        } else {
            Expr::IsNotDistinctFrom(left, right)
        }))
    }
}

/// `REINDEX [[schema.]name]`, after the keyword. sqlparser has no REINDEX
/// statement, so it is carried as the `VACUUM REINDEX [name]` node, whose
/// own text the dialect refuses to parse.
fn parse_reindex(parser: &mut Parser) -> Result<Statement, ParserError> {
    let table_name = match parser.peek_token_ref().token {
        Token::EOF | Token::SemiColon => None,
        _ => Some(parser.parse_object_name(false)?),
    };
    Ok(Statement::Vacuum(VacuumStatement {
        full: false,
        sort_only: false,
        delete_only: false,
        reindex: true,
        recluster: false,
        table_name,
        threshold: None,
        boost: false,
    }))
}

/// `PRAGMA name [= value | (value)]`, after the keyword. SQLite takes any
/// word as a value (`ON`, `OFF`, `YES`, ...), which sqlparser's PRAGMA
/// does not; a word becomes a string value.
fn parse_pragma(parser: &mut Parser) -> Result<Statement, ParserError> {
    let name = parser.parse_object_name(false)?;
    let is_eq = parser.consume_token(&Token::Eq);
    let paren = !is_eq && parser.consume_token(&Token::LParen);
    if !is_eq && !paren {
        return Ok(Statement::Pragma {
            name,
            value: None,
            is_eq: false,
        });
    }
    let negative = parser.consume_token(&Token::Minus);
    let token = parser.next_token();
    let value = match token.token {
        Token::Word(w) => ast::Value::SingleQuotedString(w.value),
        Token::Number(n, long) if negative => ast::Value::Number(format!("-{n}"), long),
        Token::Number(n, long) => ast::Value::Number(n, long),
        Token::SingleQuotedString(s) => ast::Value::SingleQuotedString(s),
        other => {
            return Err(ParserError::ParserError(format!(
                "Expected: a PRAGMA value, found: {other}"
            )))
        }
    };
    if paren {
        parser.expect_token(&Token::RParen)?;
    }
    Ok(Statement::Pragma {
        name,
        value: Some(value.with_empty_span()),
        is_eq,
    })
}

fn is_keyword(t: &Token, keyword: Keyword) -> bool {
    matches!(t, Token::Word(w) if w.keyword == keyword)
}

fn is_word(t: &Token, text: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(text))
}

/// Rewrites SQLite syntax the SQLite dialect of sqlparser lacks into
/// equivalent syntax it has:
///
/// * `expr IN table` is `expr IN (SELECT * FROM table)`;
/// * `NOT INDEXED` and `INDEXED BY name` after a table name are planner
///   hints that do not change results; they are dropped;
/// * a table constraint's `UNIQUE (...) ON CONFLICT word` (and `PRIMARY
///   KEY (...)`'s) becomes the index option `COMMENT 'ON CONFLICT word'`,
///   which the schema reads back (schema.rs).
fn desugar(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let significant = |j: usize| !matches!(tokens[j].token, Token::Whitespace(_));
    let next = |from: usize| (from..tokens.len()).find(|&j| significant(j));
    let mut out = Vec::with_capacity(tokens.len());
    // For each open parenthesis: does it follow UNIQUE or KEY? And did
    // the last one closed?
    let mut parens: Vec<bool> = Vec::new();
    let mut closed_constraint = false;
    let mut last: Option<&Token> = None;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i].token;
        match t {
            Token::LParen => parens.push(
                last.is_some_and(|l| is_keyword(l, Keyword::UNIQUE) || is_keyword(l, Keyword::KEY)),
            ),
            Token::RParen => closed_constraint = parens.pop().unwrap_or(false),
            Token::Whitespace(_) => {}
            _ => {
                if last == Some(&Token::RParen) && closed_constraint && is_keyword(t, Keyword::ON) {
                    let conflict =
                        next(i + 1).filter(|&j| is_keyword(&tokens[j].token, Keyword::CONFLICT));
                    let word = conflict.and_then(|j| next(j + 1));
                    if let (Some(word), Some(_)) = (word, conflict) {
                        if let Token::Word(w) = &tokens[word].token {
                            let span = tokens[i].span;
                            let text = format!("ON CONFLICT {}", w.value);
                            out.push(TokenWithSpan {
                                token: Token::make_keyword("COMMENT"),
                                span,
                            });
                            out.push(TokenWithSpan {
                                token: Token::SingleQuotedString(text),
                                span,
                            });
                            last = Some(&tokens[word].token);
                            i = word + 1;
                            continue;
                        }
                    }
                }
            }
        }
        if !matches!(t, Token::Whitespace(_)) {
            last = Some(t);
        }
        if matches!(t, Token::Word(w) if w.keyword == Keyword::NOT) {
            if let Some(j) = next(i + 1).filter(|&j| is_word(&tokens[j].token, "INDEXED")) {
                i = j + 1;
                continue;
            }
        }
        if is_word(t, "INDEXED") {
            if let Some(j) = next(i + 1)
                .filter(|&j| matches!(&tokens[j].token, Token::Word(w) if w.keyword == Keyword::BY))
            {
                if let Some(k) = next(j + 1) {
                    i = k + 1;
                    continue;
                }
            }
        }
        out.push(tokens[i].clone());
        if matches!(t, Token::Word(w) if w.keyword == Keyword::IN) {
            // After IN, anything but `(` is a table name.
            let name = next(i + 1).filter(|&j| matches!(tokens[j].token, Token::Word(_)));
            if let Some(j) = name {
                let span = tokens[j].span;
                let tok = |token: Token| TokenWithSpan { token, span };
                out.push(tok(Token::LParen));
                out.push(tok(Token::make_keyword("SELECT")));
                out.push(tok(Token::Mul));
                out.push(tok(Token::make_keyword("FROM")));
                out.push(tokens[j].clone());
                i = j + 1;
                // A schema-qualified name: `main.t`.
                if let (Some(dot), Some(last)) = (next(i), next(i).and_then(|d| next(d + 1))) {
                    if tokens[dot].token == Token::Period
                        && matches!(tokens[last].token, Token::Word(_))
                    {
                        out.push(tokens[dot].clone());
                        out.push(tokens[last].clone());
                        i = last + 1;
                    }
                }
                out.push(tok(Token::RParen));
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Numbers the placeholders of `stmt` in textual order with SQLite's rules
/// (`?` is one more than the largest index so far, `?N` is N, a name keeps
/// the index of its first appearance) and rewrites each to `?N`.
fn number_params(stmt: &mut Statement) -> Result<ParamNames> {
    // Placeholders are leaves, so both walks meet them in the same order;
    // the order of the walk is not textual, their spans are.
    let mut found = Vec::new();
    let _ = visit_expressions_mut(stmt, |e| {
        if let Expr::Value(v) = e {
            if let sqlparser::ast::Value::Placeholder(p) = &v.value {
                found.push((v.span.start, p.clone()));
            }
        }
        ControlFlow::<()>::Continue(())
    });
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let mut textual: Vec<usize> = (0..found.len()).collect();
    textual.sort_by_key(|&i| found[i].0);
    let mut index = vec![0; found.len()];
    let mut named: HashMap<&str, usize> = HashMap::new();
    let mut max = 0;
    for i in textual {
        let text = found[i].1.as_str();
        let n = if text == "?" {
            max + 1
        } else if let Some(digits) = text.strip_prefix('?') {
            digits
                .parse::<usize>()
                .map_err(|_| Error::Syntax(format!("bad parameter {text}")))?
        } else {
            *named.entry(text).or_insert(max + 1)
        };
        if n == 0 || n > MAX_PARAMS {
            return Err(Error::LimitExceeded(format!(
                "parameter {text} is number {n}, outside 1..={MAX_PARAMS}"
            )));
        }
        index[i] = n;
        max = max.max(n);
    }
    let mut names = vec![None; max];
    for (name, n) in named {
        names[n - 1] = Some(name.to_owned());
    }
    let mut next = index.into_iter();
    let _ = visit_expressions_mut(stmt, |e| {
        if let Expr::Value(v) = e {
            if let sqlparser::ast::Value::Placeholder(p) = &mut v.value {
                *p = format!("?{}", next.next().expect("counted above"));
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(names)
}

/// sqlparser has no frame EXCLUDE clause, so `EXCLUDE NO OTHERS |
/// CURRENT ROW | GROUP | TIES` is moved to the window's name, the first
/// thing inside its parentheses: `(w ORDER BY x ROWS ... EXCLUDE TIES)`
/// becomes `(__exclude_ties__w ORDER BY x ROWS ...)`, which the binder
/// splits again (`bind/window.rs`).
fn desugar_exclude(mut tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let mut i = 0;
    while i < tokens.len() {
        if !is_word(&tokens[i].token, "EXCLUDE") {
            i += 1;
            continue;
        }
        let words: Vec<usize> = (i + 1..tokens.len())
            .filter(|&j| !matches!(tokens[j].token, Token::Whitespace(_)))
            .take(2)
            .collect();
        let word = |k: usize, text: &str| {
            words
                .get(k)
                .is_some_and(|&j| is_word(&tokens[j].token, text))
        };
        let (kind, last) = if word(0, "NO") && word(1, "OTHERS") {
            ("no", words[1])
        } else if word(0, "CURRENT") && word(1, "ROW") {
            ("current", words[1])
        } else if word(0, "GROUP") {
            ("group", words[0])
        } else if word(0, "TIES") {
            ("ties", words[0])
        } else {
            i += 1;
            continue;
        };
        // The unmatched `(` before EXCLUDE opens the window specification.
        let mut depth = 0usize;
        let open = (0..i).rev().find(|&j| match tokens[j].token {
            Token::RParen => {
                depth += 1;
                false
            }
            Token::LParen if depth == 0 => true,
            Token::LParen => {
                depth -= 1;
                false
            }
            _ => false,
        });
        let Some(open) = open else {
            i += 1;
            continue;
        };
        tokens.drain(i..=last);
        let marker = format!("__exclude_{kind}");
        let first =
            (open + 1..tokens.len()).find(|&j| !matches!(tokens[j].token, Token::Whitespace(_)));
        let base = first.filter(
            |&j| matches!(&tokens[j].token, Token::Word(w) if w.keyword == Keyword::NoKeyword),
        );
        match base {
            Some(j) => {
                let Token::Word(w) = &tokens[j].token else {
                    unreachable!("filtered above")
                };
                let value = format!("{marker}__{}", w.value);
                tokens[j].token = Token::make_word(&value, None);
            }
            None => {
                let span = tokens[open].span;
                let token = Token::make_word(&marker, None);
                tokens.insert(open + 1, TokenWithSpan { token, span });
            }
        }
    }
    tokens
}

/// Parses text that must hold exactly one statement.
pub fn parse_one(sql: &str) -> Result<Statement> {
    let mut statements = parse(sql)?;
    if statements.len() != 1 {
        return Err(Error::Syntax(format!(
            "expected one statement, found {}",
            statements.len()
        )));
    }
    Ok(statements.pop().expect("one statement"))
}

/// A parsed script: its statements and their parameter names.
type Parsed = (Arc<[Statement]>, Arc<[ParamNames]>);

/// Parsed scripts keyed by their text.
#[derive(Default)]
pub struct StatementCache {
    map: FxHashMap<String, Parsed>,
    hits: u64,
    misses: u64,
}

impl StatementCache {
    /// The statements of `sql`, parsed at most once while cached.
    pub fn get(&mut self, sql: &str) -> Result<Arc<[Statement]>> {
        Ok(self.entry(sql)?.0)
    }

    /// The parameter names of each statement of `sql` (see [`ParamNames`]).
    pub fn params(&mut self, sql: &str) -> Result<Arc<[ParamNames]>> {
        Ok(self.entry(sql)?.1)
    }

    fn entry(&mut self, sql: &str) -> Result<Parsed> {
        if let Some(found) = self.map.get(sql) {
            self.hits += 1;
            return Ok(found.clone());
        }
        self.misses += 1;
        let (statements, names) = parse_numbered(sql)?;
        let parsed: Parsed = (statements.into(), names.into());
        if self.map.len() >= CACHE_ENTRIES {
            self.map.clear();
        }
        self.map.insert(sql.to_owned(), parsed.clone());
        Ok(parsed)
    }

    /// (hits, misses) since the cache was created.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_line_and_column() {
        let err = parse("SELECT 1;\nSELEC 2").unwrap_err();
        assert!(matches!(err, Error::Syntax(_)));
        assert!(err.to_string().contains("Line: 2"), "{err}");
    }

    #[test]
    fn sqlite_only_syntax_is_desugared() {
        let s = parse("SELECT 1 IN t1, 2 NOT IN main.t2 FROM t3 NOT INDEXED, t4 INDEXED BY i4")
            .unwrap();
        let text = s[0].to_string();
        assert!(text.contains("1 IN (SELECT * FROM t1)"), "{text}");
        assert!(text.contains("2 NOT IN (SELECT * FROM main.t2)"), "{text}");
        assert!(!text.contains("INDEXED"), "{text}");
        // Table constraints' ON CONFLICT rides as an index option; column
        // constraints and INSERT's ON CONFLICT are untouched.
        let s = parse(
            "CREATE TABLE t(a UNIQUE ON CONFLICT IGNORE, b, UNIQUE (a, b) ON CONFLICT replace)",
        )
        .unwrap();
        let text = s[0].to_string();
        assert!(text.contains("UNIQUE ON CONFLICT IGNORE"), "{text}");
        assert!(
            text.contains("UNIQUE (a, b) COMMENT 'ON CONFLICT replace'"),
            "{text}"
        );
        let s = parse("INSERT INTO t(a) VALUES (1) ON CONFLICT (a) DO NOTHING").unwrap();
        assert!(
            s[0].to_string().contains("ON CONFLICT(a) DO NOTHING"),
            "{}",
            s[0]
        );
        // Ordinary IN lists and subqueries are untouched.
        let s = parse("SELECT 1 IN (1, 2), 1 IN (SELECT 1)").unwrap();
        assert_eq!(s[0].to_string(), "SELECT 1 IN (1, 2), 1 IN (SELECT 1)");
    }

    #[test]
    fn sqlite_operators_parse_at_sqlite_precedence() {
        let text = |sql: &str| parse(sql).unwrap()[0].to_string();
        // & | << >> share one level, left to right, above comparison.
        assert_eq!(text("SELECT 1 | 2 << 3"), "SELECT 1 | 2 << 3");
        let s = parse("SELECT 1 | 2 << 3 = 24").unwrap();
        let sqlparser::ast::Statement::Query(q) = &s[0] else {
            panic!("a query")
        };
        let body = q.body.to_string();
        assert_eq!(body, "SELECT 1 | 2 << 3 = 24");
        assert!(matches!(
            &q.body.as_ref(),
            sqlparser::ast::SetExpr::Select(sel)
                if matches!(&sel.projection[0],
                    sqlparser::ast::SelectItem::UnnamedExpr(Expr::BinaryOp { op, left, .. })
                        if *op == sqlparser::ast::BinaryOperator::Eq
                            && matches!(left.as_ref(), Expr::BinaryOp { op, left, .. }
                                if *op == sqlparser::ast::BinaryOperator::PGBitwiseShiftLeft
                                    && matches!(left.as_ref(), Expr::BinaryOp { .. })))
        ));
        assert_eq!(
            text("SELECT a IS b + 1, a IS NOT b AND c, a IS NULL, a IS NOT TRUE"),
            "SELECT a IS NOT DISTINCT FROM b + 1, a IS DISTINCT FROM b AND c, \
             a IS NULL, a IS NOT TRUE"
        );
        assert_eq!(text("REINDEX"), "VACUUM REINDEX");
        assert_eq!(text("REINDEX main.t1;"), "VACUUM REINDEX main.t1");
        assert!(parse("VACUUM REINDEX t1").is_err());
    }

    #[test]
    fn pragma_values_may_be_words() {
        let text = |sql: &str| parse(sql).unwrap()[0].to_string();
        assert_eq!(
            text("PRAGMA foreign_keys = ON"),
            "PRAGMA foreign_keys = 'ON'"
        );
        assert_eq!(text("PRAGMA foreign_keys(0)"), "PRAGMA foreign_keys(0)");
        assert_eq!(text("PRAGMA main.foreign_keys"), "PRAGMA main.foreign_keys");
        assert!(parse("PRAGMA foreign_keys = (").is_err());
    }

    #[test]
    fn long_text_is_refused() {
        let sql = format!("SELECT '{}'", "x".repeat(MAX_SQL_LEN));
        assert!(matches!(parse(&sql), Err(Error::LimitExceeded(_))));
    }

    #[test]
    fn parameters_are_numbered_in_textual_order() {
        let (s, names) = parse_numbered("SELECT :a, ?, ?5, :a, ? FROM t WHERE x = @b").unwrap();
        assert_eq!(
            s[0].to_string(),
            "SELECT ?1, ?2, ?5, ?1, ?6 FROM t WHERE x = ?7"
        );
        let mut want = vec![None; 7];
        want[0] = Some(":a".to_string());
        want[6] = Some("@b".to_string());
        assert_eq!(names, vec![want]);
        // Each statement of a script is numbered on its own.
        let (_, names) = parse_numbered("SELECT 1; SELECT ?2; SELECT $x").unwrap();
        assert_eq!(
            names,
            vec![vec![], vec![None, None], vec![Some("$x".to_string())]]
        );
        for bad in ["SELECT ?0", "SELECT ?101"] {
            assert!(matches!(parse(bad), Err(Error::LimitExceeded(_))), "{bad}");
        }
        let many = format!("SELECT {}", vec!["?"; 101].join(","));
        assert!(matches!(parse(&many), Err(Error::LimitExceeded(_))));
    }

    #[test]
    fn cache_parses_once() {
        let mut cache = StatementCache::default();
        let a = cache.get("SELECT 1; SELECT 2").unwrap();
        let b = cache.get("SELECT 1; SELECT 2").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.len(), 2);
        assert_eq!(cache.stats(), (1, 1));
        assert!(cache.get("SELEC").is_err());
    }
}
