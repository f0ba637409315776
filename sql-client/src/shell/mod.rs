//! The `dosql` shell: statements and dot-commands against one database.
//!
//! ```text
//!   input line ──┬─ idle and starts with '.' ──> dot-command
//!                └─ Splitter ── complete statements ──> query ──> table
//! ```
//!
//! The shell core is independent of where its input comes from: the binary
//! (`src/bin/dosql`) feeds it lines from rustyline, stdin, `-c` or a file.
//! Results go to `out`, errors and progress to `err`; an error does not
//! stop the input (as in sqlite3), but is counted so that a script run
//! can exit non-zero.

pub mod dump;
pub mod import;
pub mod quote;
pub mod table;

use std::future::Future;
use std::io::Write;
use std::pin::Pin;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::split::Splitter;

/// What the input loop does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

pub const HELP: &str = "\
.dump                  SQL text that recreates the database
.help                  this text
.import FILE TABLE     import CSV (a missing table is created from the header)
.quit / .exit          leave
.read FILE             run the statements and commands of FILE
.schema [TABLE]        CREATE statements of all tables, or of TABLE
.tables                names of tables and views
.timer on|off          print the run time of each statement
Statements end with ';' (outside quotes and comments) and may span lines.
";

/// One shell session.
pub struct Shell {
    client: Client,
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    splitter: Splitter,
    pub timer: bool,
    /// Statements and commands that failed.
    pub errors: u64,
}

impl Shell {
    pub fn new(client: Client, out: Box<dyn Write + Send>, err: Box<dyn Write + Send>) -> Shell {
        Shell {
            client,
            out,
            err,
            splitter: Splitter::new(),
            timer: false,
            errors: 0,
        }
    }

    /// True when no statement is partly entered.
    pub fn is_idle(&self) -> bool {
        self.splitter.is_idle()
    }

    /// Drops a partly entered statement (Ctrl-C).
    pub fn reset(&mut self) {
        self.splitter = Splitter::new();
    }

    /// Handles one line of input (without its newline).
    pub async fn line(&mut self, line: &str) -> Flow {
        if self.splitter.is_idle() && line.trim_start().starts_with('.') {
            return self.dot(line.trim()).await;
        }
        for sql in self.splitter.push(&format!("{line}\n")) {
            self.statement(&sql).await;
        }
        Flow::Continue
    }

    /// Runs what is left at the end of input.
    pub async fn finish(&mut self) {
        if let Some(sql) = self.splitter.finish() {
            self.statement(&sql).await;
        }
    }

    /// Runs a whole text (a file, `-c`), line by line, then its remainder.
    pub fn text<'a>(&'a mut self, text: &'a str) -> Pin<Box<dyn Future<Output = Flow> + 'a>> {
        // Boxed: `.read` inside a file recurses.
        Box::pin(async move {
            for line in text.lines() {
                if self.line(line).await == Flow::Quit {
                    return Flow::Quit;
                }
            }
            self.finish().await;
            Flow::Continue
        })
    }

    async fn statement(&mut self, sql: &str) {
        let start = tokio::time::Instant::now();
        let result = self.client.query(sql, ()).await;
        let elapsed = start.elapsed();
        match result {
            Ok(rows) => {
                let _ = self.out.write_all(table::render(&rows).as_bytes());
            }
            Err(e) => self.error(&e),
        }
        if self.timer {
            let _ = writeln!(self.out, "Run Time: real {:.3}", elapsed.as_secs_f64());
        }
        let _ = self.out.flush();
    }

    fn error(&mut self, e: &dyn std::fmt::Display) {
        self.errors += 1;
        let _ = writeln!(self.err, "Error: {e}");
        let _ = self.err.flush();
    }

    async fn dot(&mut self, line: &str) -> Flow {
        let args = match words(line) {
            Ok(args) => args,
            Err(e) => {
                self.error(&e);
                return Flow::Continue;
            }
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let outcome = match args.as_slice() {
            [".quit" | ".exit"] => return Flow::Quit,
            [".help"] => self.write(HELP),
            [".timer", "on"] => {
                self.timer = true;
                Ok(())
            }
            [".timer", "off"] => {
                self.timer = false;
                Ok(())
            }
            [".tables"] => self.tables().await,
            [".schema"] => self.schema(None).await,
            [".schema", table] => self.schema(Some(table)).await,
            [".dump"] => dump::dump(&self.client, &mut self.out).await,
            [".read", file] => match std::fs::read_to_string(file) {
                Ok(text) => {
                    if self.text(&text).await == Flow::Quit {
                        return Flow::Quit;
                    }
                    Ok(())
                }
                Err(e) => Err(Error::Invalid(format!("cannot read {file}: {e}"))),
            },
            [".import", file, table] => self.import(file, table).await,
            [cmd, ..] if HELP.contains(&format!("{cmd} ")) => {
                Err(Error::Invalid(format!("bad arguments to {cmd}; see .help")))
            }
            [cmd, ..] => Err(Error::Invalid(format!("unknown command {cmd}; see .help"))),
            [] => Ok(()),
        };
        if let Err(e) = outcome {
            self.error(&e);
        }
        let _ = self.out.flush();
        Flow::Continue
    }

    fn write(&mut self, text: &str) -> Result<()> {
        self.out
            .write_all(text.as_bytes())
            .map_err(|e| Error::Invalid(format!("cannot write output: {e}")))
    }

    async fn tables(&mut self) -> Result<()> {
        let schema = self.client.schema().await?;
        let mut names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        let text: String = names.iter().map(|n| format!("{n}\n")).collect();
        self.write(&text)
    }

    async fn schema(&mut self, only: Option<&str>) -> Result<()> {
        let schema = self.client.schema().await?;
        let mut text = String::new();
        for t in &schema.tables {
            if only.is_some_and(|name| !name.eq_ignore_ascii_case(&t.name)) {
                continue;
            }
            text.push_str(&format!("{};\n", t.sql.trim_end_matches(';')));
            for sql in t.indexes.iter().filter_map(|i| i.sql.as_ref()) {
                text.push_str(&format!("{};\n", sql.trim_end_matches(';')));
            }
        }
        self.write(&text)
    }

    async fn import(&mut self, file: &str, table: &str) -> Result<()> {
        let opened = std::fs::File::open(file)
            .map_err(|e| Error::Invalid(format!("cannot open {file}: {e}")))?;
        let size = opened.metadata().map(|m| m.len()).unwrap_or(0);
        let schema = self.client.schema().await?;
        let existing = schema
            .tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(table))
            .map(|t| t.columns.len());
        let mut csv = import::CsvImport::new(std::io::BufReader::new(opened), table, existing)?;
        if let Some(create) = &csv.create {
            self.client.execute(create, ()).await?;
        }
        let bar = indicatif::ProgressBar::new(size);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
        {
            bar.set_style(style);
        }
        let outcome = async {
            while let Some((lines, batch)) = csv.next_batch()? {
                self.client.batch(batch, true).await.map_err(|e| match e {
                    Error::Server(w) => {
                        let line = w.statement.and_then(|i| lines.get(i as usize));
                        let at = line.map_or(String::new(), |l| format!(" at line {l}"));
                        Error::Invalid(format!("{file}{at}: {w} (this batch was rolled back)"))
                    }
                    other => other,
                })?;
                bar.set_position(csv.position());
                bar.set_message(format!("{} rows", csv.rows));
            }
            Ok(())
        }
        .await;
        bar.finish_and_clear();
        for w in &csv.warnings {
            let _ = writeln!(self.err, "{file}: {w}");
        }
        outcome
    }
}

/// Splits a dot-command into words; '..' and ".." quote a word.
fn words(line: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else {
            return Ok(out);
        };
        let mut word = String::new();
        if first == '\'' || first == '"' {
            chars.next();
            loop {
                match chars.next() {
                    Some(c) if c == first => break,
                    Some(c) => word.push(c),
                    None => return Err(Error::Invalid(format!("unterminated {first} in command"))),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        out.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_words_honour_quotes() {
        assert_eq!(
            words(".import 'my file.csv' t").unwrap(),
            vec![".import", "my file.csv", "t"]
        );
        assert_eq!(words("  .tables  ").unwrap(), vec![".tables"]);
        assert_eq!(words(".read \"a b\"").unwrap(), vec![".read", "a b"]);
        assert!(words(".read 'x").is_err());
    }
}
