//! The SQLite form of CREATE TRIGGER, parsed inside the dialect wrapper
//! (parse.rs) because sqlparser's own CREATE TRIGGER follows PostgreSQL:
//!
//! ```text
//!   CREATE [TEMP] TRIGGER [IF NOT EXISTS] name
//!     [BEFORE | AFTER | INSTEAD OF] DELETE | INSERT | UPDATE [OF col, ...]
//!     ON table [FOR EACH ROW] [WHEN expr]
//!   BEGIN stmt; [stmt; ...] END
//! ```
//!
//! The result is sqlparser's `CreateTrigger` node, so it displays back as
//! the SQLite text stored in the catalog. sqlparser's node has no IF NOT
//! EXISTS; the flag rides in `or_alter`, which SQLite has no syntax for
//! and which this parser is the only producer of (every `CREATE ...
//! TRIGGER` text comes here). [`stored_form`] clears it before display.
//!
//! The checks SQLite makes while parsing a trigger body are made here too:
//! only INSERT, UPDATE, DELETE and SELECT; no RETURNING; no schema-
//! qualified target tables.

use sqlparser::ast::helpers::attached_token::AttachedToken;
use sqlparser::ast::{
    self, BeginEndStatements, ConditionalStatements, CreateTrigger, Statement, TriggerEvent,
    TriggerObject, TriggerObjectKind, TriggerPeriod,
};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

fn is_keyword(t: &Token, keyword: Keyword) -> bool {
    matches!(t, Token::Word(w) if w.keyword == keyword)
}

/// True if the parser is at `CREATE [TEMP | TEMPORARY] TRIGGER`, or at a
/// CREATE form with a trigger that SQLite does not have.
pub fn at_create_trigger(parser: &Parser) -> bool {
    let t = |i: usize| &parser.peek_nth_token_ref(i).token;
    if !is_keyword(t(0), Keyword::CREATE) {
        return false;
    }
    let lead = [Keyword::TEMP, Keyword::TEMPORARY, Keyword::CONSTRAINT];
    is_keyword(t(1), Keyword::TRIGGER)
        || (lead.iter().any(|&k| is_keyword(t(1), k)) && is_keyword(t(2), Keyword::TRIGGER))
        || (is_keyword(t(1), Keyword::OR) && is_keyword(t(3), Keyword::TRIGGER))
}

fn error(msg: &str) -> ParserError {
    ParserError::ParserError(msg.to_string())
}

/// Parses a CREATE TRIGGER statement (see the module comment).
pub fn create_trigger(parser: &mut Parser) -> Result<Statement, ParserError> {
    parser.expect_keyword(Keyword::CREATE)?;
    let temporary = parser
        .parse_one_of_keywords(&[Keyword::TEMP, Keyword::TEMPORARY])
        .is_some();
    parser.expect_keyword(Keyword::TRIGGER)?;
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = parser.parse_object_name(false)?;
    let period =
        match parser.parse_one_of_keywords(&[Keyword::BEFORE, Keyword::AFTER, Keyword::INSTEAD]) {
            Some(Keyword::BEFORE) => Some(TriggerPeriod::Before),
            Some(Keyword::AFTER) => Some(TriggerPeriod::After),
            Some(_) => {
                parser.expect_keyword(Keyword::OF)?;
                Some(TriggerPeriod::InsteadOf)
            }
            None => None,
        };
    let event = match parser.expect_one_of_keywords(&[
        Keyword::DELETE,
        Keyword::INSERT,
        Keyword::UPDATE,
    ])? {
        Keyword::DELETE => TriggerEvent::Delete,
        Keyword::INSERT => TriggerEvent::Insert,
        _ if parser.parse_keyword(Keyword::OF) => {
            TriggerEvent::Update(parser.parse_comma_separated(|p| p.parse_identifier())?)
        }
        _ => TriggerEvent::Update(Vec::new()),
    };
    parser.expect_keyword(Keyword::ON)?;
    let table_name = parser.parse_object_name(false)?;
    let trigger_object = if parser.parse_keyword(Keyword::FOR) {
        parser.expect_keyword(Keyword::EACH)?;
        parser.expect_keyword(Keyword::ROW)?;
        Some(TriggerObjectKind::ForEach(TriggerObject::Row))
    } else {
        None
    };
    let condition = if parser.parse_keyword(Keyword::WHEN) {
        Some(parser.parse_expr()?)
    } else {
        None
    };
    let begin = parser.expect_keyword(Keyword::BEGIN)?;
    let mut statements = Vec::new();
    loop {
        let next = &parser.peek_token_ref().token;
        if is_keyword(next, Keyword::END) && !statements.is_empty() {
            break;
        }
        check_raises(parser)?;
        let stmt = parser.parse_statement()?;
        check_step(&stmt)?;
        statements.push(stmt);
        parser.expect_token(&Token::SemiColon)?;
    }
    let end = parser.expect_keyword(Keyword::END)?;
    Ok(Statement::CreateTrigger(CreateTrigger {
        or_alter: if_not_exists,
        temporary,
        or_replace: false,
        is_constraint: false,
        name,
        period,
        period_before_table: true,
        events: vec![event],
        table_name,
        referenced_table_name: None,
        referencing: Vec::new(),
        trigger_object,
        condition,
        exec_body: None,
        statements_as: false,
        statements: Some(ConditionalStatements::BeginEnd(BeginEndStatements {
            begin_token: AttachedToken(begin),
            statements,
            end_token: AttachedToken(end),
        })),
        characteristics: None,
    }))
}

/// Checks the `RAISE(...)` calls of the next statement (up to its `;`):
/// SQLite's grammar takes `RAISE(IGNORE)` or `RAISE(word, 'literal')`
/// only, where an expression would be a syntax error.
fn check_raises(parser: &Parser) -> Result<(), ParserError> {
    let t = |i: usize| &parser.peek_nth_token_ref(i).token;
    let mut i = 0;
    loop {
        match t(i) {
            Token::EOF | Token::SemiColon => return Ok(()),
            Token::Word(w)
                if w.value.eq_ignore_ascii_case("raise") && *t(i + 1) == Token::LParen =>
            {
                let bad = if !matches!(t(i + 2), Token::Word(_)) {
                    Some(i + 2)
                } else if *t(i + 3) == Token::RParen {
                    None
                } else if *t(i + 3) != Token::Comma {
                    Some(i + 3)
                } else if !matches!(t(i + 4), Token::SingleQuotedString(_)) {
                    Some(i + 4)
                } else if *t(i + 5) != Token::RParen {
                    Some(i + 5)
                } else {
                    None
                };
                if let Some(at) = bad {
                    return Err(error(&format!("near \"{}\": syntax error", t(at))));
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
}

/// True if the CREATE TRIGGER statement said IF NOT EXISTS.
pub fn if_not_exists(create: &CreateTrigger) -> bool {
    create.or_alter
}

/// The statement as stored in the catalog: without IF NOT EXISTS.
pub fn stored_form(create: &CreateTrigger) -> String {
    let mut plain = create.clone();
    plain.or_alter = false;
    Statement::CreateTrigger(plain).to_string()
}

fn check_target(name: &ast::ObjectName) -> Result<(), ParserError> {
    if name.0.len() > 1 {
        return Err(error(
            "qualified table names are not allowed on INSERT, UPDATE, and DELETE \
             statements within triggers",
        ));
    }
    Ok(())
}

fn no_returning(r: &Option<Vec<ast::SelectItem>>) -> Result<(), ParserError> {
    match r {
        Some(_) => Err(error("cannot use RETURNING in a trigger")),
        None => Ok(()),
    }
}

/// Refuses what SQLite refuses in a trigger body.
fn check_step(stmt: &Statement) -> Result<(), ParserError> {
    match stmt {
        Statement::Insert(ins) => {
            if let ast::TableObject::TableName(name) = &ins.table {
                check_target(name)?;
            }
            no_returning(&ins.returning)
        }
        Statement::Update(upd) => {
            if let ast::TableFactor::Table { name, .. } = &upd.table.relation {
                check_target(name)?;
            }
            no_returning(&upd.returning)
        }
        Statement::Delete(del) => {
            let from = match &del.from {
                ast::FromTable::WithFromKeyword(v) | ast::FromTable::WithoutKeyword(v) => v,
            };
            for twj in from {
                if let ast::TableFactor::Table { name, .. } = &twj.relation {
                    check_target(name)?;
                }
            }
            no_returning(&del.returning)
        }
        Statement::Query(_) => Ok(()),
        _ => Err(error(
            "a trigger body holds only INSERT, UPDATE, DELETE and SELECT statements",
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::sql::parse::parse;

    #[test]
    fn sqlite_forms_parse_and_display_back() {
        let sql = "CREATE TRIGGER IF NOT EXISTS tr AFTER UPDATE OF a, b ON t FOR EACH ROW \
                   WHEN new.a > 1 BEGIN INSERT INTO l VALUES (new.a); \
                   SELECT RAISE(ABORT, 'no'); END";
        let s = parse(sql).unwrap();
        let sqlparser::ast::Statement::CreateTrigger(c) = &s[0] else {
            panic!("a trigger")
        };
        assert!(super::if_not_exists(c));
        let stored = super::stored_form(c);
        assert!(stored.starts_with("CREATE TRIGGER tr AFTER UPDATE OF a, b ON t"));
        // The stored text parses to the same statement.
        let again = parse(&stored).unwrap();
        assert_eq!(again[0].to_string(), stored);
        let s = parse("CREATE TRIGGER t2 INSTEAD OF DELETE ON v BEGIN DELETE FROM t; END").unwrap();
        assert!(s[0].to_string().contains("INSTEAD OF DELETE ON v"));
    }

    #[test]
    fn bad_bodies_are_refused() {
        assert!(parse("CREATE TRIGGER t AFTER INSERT ON t BEGIN END").is_err());
        assert!(parse("CREATE TRIGGER t AFTER INSERT ON t BEGIN CREATE TABLE x(a); END").is_err());
        let e =
            parse("CREATE TRIGGER t AFTER INSERT ON t BEGIN DELETE FROM main.x; END").unwrap_err();
        assert!(e.to_string().contains("qualified table names"), "{e}");
        let e = parse("CREATE TRIGGER t AFTER INSERT ON t BEGIN DELETE FROM x RETURNING *; END")
            .unwrap_err();
        assert!(e.to_string().contains("RETURNING"), "{e}");
        assert!(parse("CREATE TRIGGER t AFTER TRUNCATE ON t BEGIN SELECT 1; END").is_err());
        assert!(
            parse("CREATE TRIGGER t AFTER INSERT ON t FOR EACH STATEMENT BEGIN SELECT 1; END")
                .is_err()
        );
    }
}
