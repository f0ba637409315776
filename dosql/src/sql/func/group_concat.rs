//! `group_concat(x [, sep])` (and `string_agg(x, sep)`), including the
//! inverse step window frames use, bug for bug with SQLite's
//! `GroupConcatCtx`.
//!
//! The accumulator is the text so far plus enough bookkeeping to cut the
//! oldest value off its front:
//!
//! ```text
//!   "a" "." "b" "-" "c"      seps = [1, 1]  (separator bytes before b, c)
//!   inverse("a") removes len("a") + seps[0] bytes -> "b-c"
//! ```
//!
//! As in SQLite, separator lengths are only tracked once they vary (until
//! then every separator is assumed as long as the first row's), and an
//! accumulator whose text becomes empty starts over, without resetting
//! its count: the next value gets no separator, and later removals still
//! cut what SQLite's would. Window results read the value as SQLite's
//! `xValue` does, where empty text is NULL.

use std::collections::VecDeque;

use super::aggregate::Aggregate;
use crate::sql::value::Value;
use crate::Result;

#[derive(Default)]
pub(super) struct GroupConcat {
    text: Vec<u8>,
    /// A value was appended since the start (SQLite's `mxAlloc != 0`).
    started: bool,
    /// Values stepped in and not removed (`nAccum`).
    count: usize,
    /// Separator lengths, once they differ (`pnSepLengths`).
    seps: Option<VecDeque<usize>>,
    /// Length of the first value's separator argument (`nFirstSepLength`).
    first_sep: usize,
    /// Some value was ever stepped (a NULL-only group is NULL).
    any: bool,
}

impl Aggregate for GroupConcat {
    fn step(&mut self, args: &[Value]) -> Result<()> {
        let Some(value) = args[0].to_text() else {
            return Ok(());
        };
        self.any = true;
        let first = !self.started;
        self.started = true;
        match args.get(1) {
            None if !first => self.text.push(b','),
            None => self.first_sep = 1,
            Some(sep) if !first => {
                let sep = sep.to_text().unwrap_or_default();
                self.text.extend_from_slice(sep.as_bytes());
                if sep.len() != self.first_sep || self.seps.is_some() {
                    let first_sep = self.first_sep;
                    let seps = self.seps.get_or_insert_with(|| {
                        vec![first_sep; self.count.saturating_sub(1)].into()
                    });
                    seps.resize(self.count.max(1), 0);
                    seps[self.count.max(1) - 1] = sep.len();
                }
            }
            Some(sep) => self.first_sep = sep.to_text().map_or(0, |s| s.len()),
        }
        self.count += 1;
        self.text.extend_from_slice(value.as_bytes());
        if self.text.len() as i64 > super::MAX_LENGTH {
            return Err(super::too_big());
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Value> {
        if !self.any {
            return Ok(Value::Null);
        }
        Ok(Value::Text(
            String::from_utf8_lossy(&self.text).into_owned(),
        ))
    }

    fn inverse(&mut self, args: &[Value]) -> Result<bool> {
        let Some(value) = args[0].to_text() else {
            return Ok(true);
        };
        let mut cut = value.len();
        self.count = self.count.saturating_sub(1);
        match &mut self.seps {
            Some(seps) => {
                if self.count > 0 {
                    cut += seps.pop_front().unwrap_or(0);
                }
            }
            None => cut += self.first_sep,
        }
        if cut >= self.text.len() {
            self.text.clear();
        } else {
            self.text.drain(..cut);
        }
        if self.text.is_empty() {
            self.started = false;
            self.seps = None;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn removes_the_oldest_value_and_its_separator() {
        let mut g = GroupConcat::default();
        for v in ["a", "b", "c"] {
            g.step(&[t(v), t("--")]).unwrap();
        }
        assert!(g.inverse(&[t("a"), t("--")]).unwrap());
        assert_eq!(g.finish().unwrap(), t("b--c"));
        g.step(&[t("d"), t("+")]).unwrap();
        g.inverse(&[t("b"), t("--")]).unwrap();
        assert_eq!(g.finish().unwrap(), t("c+d"));
    }

    #[test]
    fn an_emptied_accumulator_starts_over_as_in_sqlite() {
        let mut g = GroupConcat::default();
        g.step(&[t("a"), t(".")]).unwrap();
        g.step(&[t(""), t(".")]).unwrap();
        g.inverse(&[t("a"), t(".")]).unwrap();
        g.step(&[t("c"), t(".")]).unwrap();
        assert_eq!(g.finish().unwrap(), t("c"));
        // SQLite still believes "" is first and cuts one separator's worth.
        g.inverse(&[t(""), t(".")]).unwrap();
        g.step(&[t("a"), t(".")]).unwrap();
        assert_eq!(g.finish().unwrap(), t("a"));
    }

    #[test]
    fn nulls_are_skipped() {
        let mut g = GroupConcat::default();
        g.step(&[Value::Null]).unwrap();
        assert_eq!(g.finish().unwrap(), Value::Null);
        g.step(&[t("")]).unwrap();
        assert_eq!(g.finish().unwrap(), t(""));
    }
}
