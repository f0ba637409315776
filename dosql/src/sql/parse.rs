//! SQL text to statements: sqlparser's SQLite dialect, size limits, and a
//! cache of parsed statements keyed by the exact text.
//!
//! The cache holds whole scripts (`Arc<[Statement]>`), so a repeated
//! statement costs one hash lookup instead of a parse. It is bounded: when
//! full it is emptied and refills with what is used again, which keeps it
//! simple and never lets a workload of one-off statements grow memory.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use sqlparser::ast::Statement;
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;

use crate::error::{Error, Result};

/// Longest SQL text accepted, in bytes (the Durable Object limit).
pub const MAX_SQL_LEN: usize = 100_000;
/// Most bound parameters per call (the Durable Object limit).
pub const MAX_PARAMS: usize = 100;
/// Scripts the statement cache holds before it starts over.
pub const CACHE_ENTRIES: usize = 512;

/// Parses `sql` into its statements.
pub fn parse(sql: &str) -> Result<Vec<Statement>> {
    if sql.len() > MAX_SQL_LEN {
        return Err(Error::LimitExceeded(format!(
            "SQL text of {} bytes exceeds the maximum of {MAX_SQL_LEN}",
            sql.len()
        )));
    }
    Parser::parse_sql(&SQLiteDialect {}, sql).map_err(|e| {
        let text = e.to_string();
        Error::Syntax(
            text.strip_prefix("sql parser error: ")
                .unwrap_or(&text)
                .to_string(),
        )
    })
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

/// Parsed scripts keyed by their text.
#[derive(Default)]
pub struct StatementCache {
    map: FxHashMap<String, Arc<[Statement]>>,
    hits: u64,
    misses: u64,
}

impl StatementCache {
    /// The statements of `sql`, parsed at most once while cached.
    pub fn get(&mut self, sql: &str) -> Result<Arc<[Statement]>> {
        if let Some(found) = self.map.get(sql) {
            self.hits += 1;
            return Ok(found.clone());
        }
        self.misses += 1;
        let parsed: Arc<[Statement]> = parse(sql)?.into();
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
    fn long_text_is_refused() {
        let sql = format!("SELECT '{}'", "x".repeat(MAX_SQL_LEN));
        assert!(matches!(parse(&sql), Err(Error::LimitExceeded(_))));
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
