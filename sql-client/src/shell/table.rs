//! Results as aligned text tables.
//!
//! ```text
//!   +----+-------+
//!   | id | name  |
//!   +----+-------+
//!   |  1 | ada   |
//!   |  2 | NULL  |
//!   +----+-------+
//!   (2 rows)
//! ```
//!
//! Numbers are right-aligned, everything else left-aligned. Widths count
//! characters, and control characters are shown escaped, so a value can
//! neither break the grid nor move the terminal's cursor.

use std::fmt::Write as _;

use shared_types::Value;

use super::quote::display;
use crate::rows::Rows;

/// Renders rows as a table followed by a row count. A statement without
/// result columns renders as nothing.
pub fn render(rows: &Rows) -> String {
    if rows.columns.is_empty() {
        return String::new();
    }
    let cells: Vec<Vec<String>> = rows
        .rows
        .iter()
        .map(|r| r.iter().map(|v| escape(&display(v))).collect())
        .collect();
    let headers: Vec<String> = rows.columns.iter().map(|c| escape(c)).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let rule = {
        let mut s = String::from("+");
        for w in &widths {
            s.push_str(&"-".repeat(w + 2));
            s.push('+');
        }
        s.push('\n');
        s
    };
    let line = |out: &mut String, cells: &[String], right: &dyn Fn(usize) -> bool| {
        out.push('|');
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w - cell.chars().count();
            let (l, r) = if right(i) { (pad, 0) } else { (0, pad) };
            write!(out, " {}{}{} |", " ".repeat(l), cell, " ".repeat(r)).expect("String");
        }
        out.push('\n');
    };
    let mut out = rule.clone();
    line(&mut out, &headers, &|_| false);
    out.push_str(&rule);
    for (row, values) in cells.iter().zip(&rows.rows) {
        line(&mut out, row, &|i| {
            matches!(values.get(i), Some(Value::Integer(_) | Value::Real(_)))
        });
    }
    if !cells.is_empty() {
        out.push_str(&rule);
    }
    let n = rows.rows.len();
    writeln!(out, "({n} row{})", if n == 1 { "" } else { "s" }).expect("String");
    out
}

/// Control characters as escapes (`\n`, `\t`, `\u{1b}`).
fn escape(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(columns: &[&str], rows: Vec<Vec<Value>>) -> Rows {
        Rows {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
            ..Rows::default()
        }
    }

    #[test]
    fn aligned_with_numbers_on_the_right() {
        let r = rows(
            &["id", "name"],
            vec![
                vec![Value::Integer(1), Value::Text("ada".into())],
                vec![Value::Integer(-20), Value::Null],
                vec![Value::Real(2.5), Value::Blob(vec![0xff])],
            ],
        );
        assert_eq!(
            render(&r),
            "+-----+-------+\n\
             | id  | name  |\n\
             +-----+-------+\n\
             |   1 | ada   |\n\
             | -20 | NULL  |\n\
             | 2.5 | X'FF' |\n\
             +-----+-------+\n\
             (3 rows)\n"
        );
    }

    #[test]
    fn empty_results_and_statements_without_columns() {
        assert_eq!(render(&rows(&[], vec![])), "");
        assert_eq!(
            render(&rows(&["x"], vec![])),
            "+---+\n| x |\n+---+\n(0 rows)\n"
        );
    }

    #[test]
    fn unicode_widths_and_control_characters() {
        let r = rows(&["é"], vec![vec![Value::Text("a\nb\u{1b}".into())]]);
        assert_eq!(
            render(&r),
            "+------------+\n| é          |\n+------------+\n| a\\nb\\u{1b} |\n+------------+\n(1 row)\n"
        );
    }
}
