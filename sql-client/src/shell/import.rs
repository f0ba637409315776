//! `.import FILE.csv TABLE`: CSV into a table, in transactional batches.
//!
//! ```text
//!   table missing:  CREATE TABLE t("col 1" TEXT, ...) from the header row;
//!                   the remaining rows are data
//!   table present:  every row is data (sqlite3's rule)
//!   each row:       INSERT INTO t VALUES(?, ?, ..) with text values;
//!                   too few fields are filled with NULL, extra ones dropped,
//!                   both with a warning (as sqlite3 does)
//!   every BATCH_ROWS rows: one transactional batch
//! ```
//!
//! Values are bound as TEXT; the column affinity of an existing table
//! converts them as SQLite would. A batch that fails stops the import; the
//! batches before it stay committed, and the error names the CSV line.

use std::io::Read;

use shared_types::{Statement as BatchStatement, Value};

use super::quote::ident;
use crate::error::{Error, Result};

/// Rows per batch (well under the protocol's 1000 statements per batch).
pub const BATCH_ROWS: usize = 500;

/// Reads CSV records and turns them into batches of INSERT statements.
pub struct CsvImport<R: Read> {
    reader: csv::Reader<R>,
    insert: String,
    columns: usize,
    /// Statements for CREATE TABLE when the table was missing.
    pub create: Option<String>,
    /// Problems that did not stop the import.
    pub warnings: Vec<String>,
    pub rows: u64,
}

impl<R: Read> CsvImport<R> {
    /// `existing_columns` is the column count of the table if it exists.
    pub fn new(input: R, table: &str, existing_columns: Option<usize>) -> Result<CsvImport<R>> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut create = None;
        let columns = match existing_columns {
            Some(n) => n,
            None => {
                let mut header = csv::StringRecord::new();
                if !reader.read_record(&mut header).map_err(csv_error)? {
                    return Err(Error::Invalid(
                        "the CSV file is empty: no header to create the table from".into(),
                    ));
                }
                let cols: Vec<String> = header
                    .iter()
                    .map(|name| format!("{} TEXT", ident(name)))
                    .collect();
                create = Some(format!(
                    "CREATE TABLE {}({})",
                    ident(table),
                    cols.join(", ")
                ));
                header.len()
            }
        };
        if columns == 0 {
            return Err(Error::Invalid("a table needs at least one column".into()));
        }
        let marks = vec!["?"; columns].join(", ");
        Ok(CsvImport {
            reader,
            insert: format!("INSERT INTO {} VALUES({marks})", ident(table)),
            columns,
            create,
            warnings: Vec::new(),
            rows: 0,
        })
    }

    /// The next batch of at most [`BATCH_ROWS`] inserts, with the CSV line
    /// of each; None at the end.
    pub fn next_batch(&mut self) -> Result<Option<(Vec<u64>, Vec<BatchStatement>)>> {
        let mut batch = Vec::new();
        let mut lines = Vec::new();
        let mut record = csv::StringRecord::new();
        while batch.len() < BATCH_ROWS {
            if !self.reader.read_record(&mut record).map_err(csv_error)? {
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            lines.push(line);
            if record.len() != self.columns {
                self.warnings.push(format!(
                    "line {line}: expected {} columns but found {} - {}",
                    self.columns,
                    record.len(),
                    if record.len() < self.columns {
                        "filling the rest with NULL"
                    } else {
                        "extras ignored"
                    }
                ));
            }
            let mut values: Vec<Value> = record
                .iter()
                .take(self.columns)
                .map(|f| Value::Text(f.to_owned()))
                .collect();
            values.resize(self.columns, Value::Null);
            batch.push(BatchStatement::new(self.insert.clone(), values));
            self.rows += 1;
        }
        Ok((!batch.is_empty()).then_some((lines, batch)))
    }

    /// Bytes of input consumed so far, for progress.
    pub fn position(&self) -> u64 {
        self.reader.position().byte()
    }
}

fn csv_error(e: csv::Error) -> Error {
    Error::Invalid(format!("bad CSV: {e}"))
}

#[cfg(test)]
mod tests {
    use shared_types::Params;

    use super::*;

    fn values(s: &BatchStatement) -> Vec<Value> {
        match &s.params {
            Params::Positional(v) => v.clone(),
            Params::Named(_) => panic!("named"),
        }
    }

    #[test]
    fn header_creates_the_table_and_rows_become_inserts() {
        let csv = "id,full name,\"no\"\"te\"\n1,Ada Lovelace,\"a,b\"\n2,\"multi\nline\",\n";
        let mut imp = CsvImport::new(csv.as_bytes(), "people", None).unwrap();
        assert_eq!(
            imp.create.as_deref(),
            Some("CREATE TABLE people(id TEXT, \"full name\" TEXT, \"no\"\"te\" TEXT)")
        );
        let (lines, batch) = imp.next_batch().unwrap().unwrap();
        assert_eq!(lines, vec![2, 3]);
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[0].sql, "INSERT INTO people VALUES(?, ?, ?)");
        assert_eq!(
            values(&batch[0]),
            vec!["1".into(), "Ada Lovelace".into(), Value::Text("a,b".into())]
        );
        assert_eq!(
            values(&batch[1]),
            vec!["2".into(), "multi\nline".into(), Value::Text("".into())]
        );
        assert!(imp.next_batch().unwrap().is_none());
        assert_eq!(imp.rows, 2);
        assert!(imp.warnings.is_empty());
    }

    #[test]
    fn existing_tables_take_every_row_and_ragged_rows_warn() {
        let csv = "a,b\n1\n1,2,3\n";
        let mut imp = CsvImport::new(csv.as_bytes(), "t", Some(2)).unwrap();
        assert!(imp.create.is_none());
        let (_, batch) = imp.next_batch().unwrap().unwrap();
        let got: Vec<Vec<Value>> = batch.iter().map(values).collect();
        assert_eq!(
            got,
            vec![
                vec!["a".into(), "b".into()],
                vec!["1".into(), Value::Null],
                vec!["1".into(), "2".into()],
            ]
        );
        assert_eq!(imp.warnings.len(), 2);
        assert!(imp.warnings[0].contains("line 2"), "{:?}", imp.warnings);
        assert!(imp.warnings[1].contains("extras ignored"));
    }

    #[test]
    fn batches_are_bounded() {
        let mut csv = String::from("n\n");
        for i in 0..(BATCH_ROWS * 2 + 3) {
            csv.push_str(&format!("{i}\n"));
        }
        let mut imp = CsvImport::new(csv.as_bytes(), "t", None).unwrap();
        let sizes: Vec<usize> = std::iter::from_fn(|| imp.next_batch().unwrap())
            .map(|(_, b)| b.len())
            .collect();
        assert_eq!(sizes, vec![BATCH_ROWS, BATCH_ROWS, 3]);
        assert_eq!(imp.position(), csv.len() as u64);
    }

    #[test]
    fn empty_input_is_an_error() {
        assert!(CsvImport::new("".as_bytes(), "t", None).is_err());
    }
}
