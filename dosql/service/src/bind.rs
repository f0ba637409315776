//! Between wire and engine: values, parameters, errors and limits.
//!
//! ```text
//!   Params::Positional [v1, v2]      -> [v1, v2]            (?1, ?2)
//!   Params::Named {"a": 1, ":b": 2}  -> slots by name:  "a" matches :a @a $a,
//!                                      ":b" matches :b only; unnamed slots NULL
//! ```
//!
//! The engine binds one parameter slice to every statement of a script,
//! each statement numbering its own parameters (like SQLite). Named
//! parameters therefore bind a script only when every statement gives each
//! name the same number; otherwise the request is refused and a batch
//! (one parameter set per statement) is the way to send it.

use std::io;

use dosql::sql::{StatementResult as EngineResult, Value as EngineValue};
use shared_types::limits::{
    MAX_BATCH_STATEMENTS, MAX_PARAMS, MAX_RESULT_BYTES, MAX_SQL_BYTES, MAX_VALUE_BYTES,
};
use shared_types::{ErrorCode, Params, Request, Response, StatementResult, Value, WireError};

/// An engine error as it travels; the message is the engine's.
pub fn wire_error(e: &dosql::Error) -> WireError {
    WireError::new(ErrorCode::from_engine(e.code()), e.to_string())
}

pub fn invalid(message: impl Into<String>) -> WireError {
    WireError::new(ErrorCode::InvalidRequest, message)
}

pub fn limit(message: impl Into<String>) -> WireError {
    WireError::new(ErrorCode::LimitExceeded, message)
}

pub fn to_engine(v: &Value) -> EngineValue {
    match v {
        Value::Null => EngineValue::Null,
        Value::Integer(i) => EngineValue::Integer(*i),
        // SQLite binds NaN as NULL.
        Value::Real(r) if r.is_nan() => EngineValue::Null,
        Value::Real(r) => EngineValue::Real(*r),
        Value::Text(t) => EngineValue::Text(t.clone()),
        Value::Blob(b) => EngineValue::Blob(b.clone()),
    }
}

pub fn to_wire(v: EngineValue) -> Value {
    match v {
        EngineValue::Null => Value::Null,
        EngineValue::Integer(i) => Value::Integer(i),
        EngineValue::Real(r) => Value::Real(r),
        EngineValue::Text(t) => Value::Text(t),
        EngineValue::Blob(b) => Value::Blob(b),
    }
}

/// Converts an engine result, refusing values larger than a row may hold.
pub fn result(r: EngineResult) -> Result<StatementResult, WireError> {
    let mut rows = Vec::with_capacity(r.rows.len());
    for row in r.rows {
        let mut out = Vec::with_capacity(row.len());
        for v in row {
            let v = to_wire(v);
            if v.payload_len() > MAX_VALUE_BYTES {
                return Err(limit(format!(
                    "a result value of {} bytes exceeds the maximum of {MAX_VALUE_BYTES}",
                    v.payload_len()
                )));
            }
            out.push(v);
        }
        rows.push(out);
    }
    Ok(StatementResult {
        columns: r.columns,
        rows,
        rows_affected: r.rows_affected,
        last_insert_rowid: r.last_insert_rowid,
    })
}

/// Checks the size limits of a request before anything runs.
pub fn check_request(request: &Request) -> Result<(), WireError> {
    if let Request::Batch { statements, .. } = request {
        check_count(statements.len(), "statements in a batch")?;
    }
    for (sql, params) in request.statements() {
        check_statement(sql, params)?;
    }
    Ok(())
}

/// Checks one SQL text and its parameters against the limits.
pub fn check_statement(sql: &str, params: &Params) -> Result<(), WireError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(limit(format!(
            "SQL text of {} bytes exceeds the maximum of {MAX_SQL_BYTES}",
            sql.len()
        )));
    }
    if params.len() > MAX_PARAMS {
        return Err(limit(format!(
            "{} parameters exceed the maximum of {MAX_PARAMS}",
            params.len()
        )));
    }
    if let Some(v) = params.values().find(|v| v.payload_len() > MAX_VALUE_BYTES) {
        return Err(limit(format!(
            "a parameter of {} bytes exceeds the maximum of {MAX_VALUE_BYTES}",
            v.payload_len()
        )));
    }
    Ok(())
}

/// Checks the number of requests of a pipeline or statements of a batch.
pub fn check_count(n: usize, what: &str) -> Result<(), WireError> {
    if n > MAX_BATCH_STATEMENTS {
        return Err(limit(format!(
            "{n} {what} exceed the maximum of {MAX_BATCH_STATEMENTS}"
        )));
    }
    Ok(())
}

/// Bytes of `response` encoded as JSON, counted without building it.
pub fn encoded_len(response: &Response) -> usize {
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail, and every Response serialises.
    let _ = serde_json::to_writer(&mut count, response);
    count.0
}

/// `response`, or a `LIMIT_EXCEEDED` error in its place when its encoding
/// would exceed `budget` bytes.
pub fn within(response: Response, budget: usize) -> Response {
    let len = encoded_len(&response);
    if len > budget {
        return Response::Error(limit(format!(
            "the result of {len} bytes exceeds the maximum of {MAX_RESULT_BYTES}; \
             page through it with LIMIT/OFFSET or a key range"
        )));
    }
    response
}

/// The parameter slice for a script whose statements have `names` (see
/// `Database::parameter_names`).
pub fn bind(names: &[Vec<Option<String>>], params: &Params) -> Result<Vec<EngineValue>, WireError> {
    let slots = names.iter().map(Vec::len).max().unwrap_or(0);
    match params {
        Params::Positional(values) => {
            if values.len() > slots {
                return Err(invalid(format!(
                    "{} parameters given but the statement takes {slots}",
                    values.len()
                )));
            }
            Ok(values.iter().map(to_engine).collect())
        }
        Params::Named(map) => {
            let merged = merge_names(names, slots)?;
            let mut out = vec![EngineValue::Null; slots];
            let mut filled: Vec<Option<&str>> = vec![None; slots];
            for (key, value) in map {
                let mut matched = false;
                for (i, name) in merged.iter().enumerate() {
                    let Some(name) = name else { continue };
                    if !name_matches(name, key) {
                        continue;
                    }
                    if let Some(first) = filled[i] {
                        return Err(invalid(format!(
                            "parameter {name} is given twice (as {first:?} and {key:?})"
                        )));
                    }
                    filled[i] = Some(key);
                    out[i] = to_engine(value);
                    matched = true;
                }
                if !matched {
                    return Err(invalid(format!("the SQL has no parameter named {key:?}")));
                }
            }
            Ok(out)
        }
    }
}

/// One name per slot across every statement of a script.
fn merge_names(
    names: &[Vec<Option<String>>],
    slots: usize,
) -> Result<Vec<Option<String>>, WireError> {
    let mut merged: Vec<Option<String>> = vec![None; slots];
    let mut seen = vec![false; slots];
    for statement in names {
        for (i, name) in statement.iter().enumerate() {
            if seen[i] && merged[i] != *name {
                return Err(invalid(
                    "named parameters of a script must have the same positions in every \
                     statement; send a batch (one parameter set per statement) instead",
                ));
            }
            seen[i] = true;
            merged[i] = name.clone();
        }
    }
    Ok(merged)
}

/// Whether parameter `name` (with its prefix) answers to `key`: a key
/// with a prefix must match exactly, one without matches any prefix.
fn name_matches(name: &str, key: &str) -> bool {
    if key.starts_with([':', '@', '$']) {
        name == key
    } else {
        &name[1..] == key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(pairs: &[(&str, i64)]) -> Params {
        Params::Named(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::Integer(*v)))
                .collect(),
        )
    }

    fn names(slots: &[&[Option<&str>]]) -> Vec<Vec<Option<String>>> {
        slots
            .iter()
            .map(|s| s.iter().map(|n| n.map(String::from)).collect())
            .collect()
    }

    #[test]
    fn named_parameters_find_their_slots() {
        let n = names(&[&[Some(":a"), None, Some("@b")]]);
        let got = bind(&n, &named(&[("a", 1), ("@b", 2)])).unwrap();
        assert_eq!(
            got,
            vec![
                EngineValue::Integer(1),
                EngineValue::Null,
                EngineValue::Integer(2)
            ]
        );
        let e = bind(&n, &named(&[(":b", 2)])).unwrap_err();
        assert!(e.message.contains("no parameter named"), "{e}");
        let e = bind(&n, &named(&[("a", 1), (":a", 2)])).unwrap_err();
        assert!(e.message.contains("given twice"), "{e}");
    }

    #[test]
    fn scripts_bind_named_parameters_only_when_consistent() {
        let same = names(&[&[], &[Some(":a")], &[Some(":a"), Some(":b")]]);
        assert_eq!(bind(&same, &named(&[("a", 1), ("b", 2)])).unwrap().len(), 2);
        let clash = names(&[&[Some(":a")], &[Some(":b")]]);
        let e = bind(&clash, &named(&[("a", 1)])).unwrap_err();
        assert!(e.message.contains("send a batch"), "{e}");
    }

    #[test]
    fn positional_parameters_may_not_exceed_the_statement() {
        let n = names(&[&[None]]);
        assert!(bind(&n, &vec![Value::Integer(1)].into()).is_ok());
        let e = bind(&n, &vec![Value::Integer(1), Value::Integer(2)].into()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn limits_are_typed_errors() {
        let big = Params::Positional(vec![Value::Blob(vec![0; MAX_VALUE_BYTES + 1])]);
        assert_eq!(
            check_statement("SELECT ?", &big).unwrap_err().code,
            ErrorCode::LimitExceeded
        );
        let many = Params::Positional(vec![Value::Null; MAX_PARAMS + 1]);
        assert!(check_statement("SELECT 1", &many).is_err());
        let long = "x".repeat(MAX_SQL_BYTES + 1);
        assert!(check_statement(&long, &Params::default()).is_err());
        assert!(check_count(MAX_BATCH_STATEMENTS + 1, "requests").is_err());
        let r = Response::Pong;
        assert_eq!(encoded_len(&r), serde_json::to_string(&r).unwrap().len());
        assert!(matches!(within(Response::Pong, 3), Response::Error(_)));
        assert_eq!(within(Response::Pong, 100), Response::Pong);
    }
}
