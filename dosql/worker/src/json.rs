//! JSON encoding of the bootstrap SQL endpoint (`POST /db/{name}/sql`), the
//! stand-in for issue 4's wire protocol.
//!
//! ```text
//!   request   {"sql": "...", "params": [p, ...]}        params optional
//!   p         null | true/false (1/0) | number | "text"
//!             | {"int": "-9223372036854775808"}         any i64, exact
//!             | {"blob": "<base64>"}
//!   response  {"results": [{"columns": [...], "rows": [[v, ...], ...],
//!                           "rows_affected": n, "last_insert_rowid": i}, ...]}
//!   v         null | number | "text" | {"blob": "<base64>"}
//!             | "<decimal>"   an integer outside +-(2^53 - 1), as a string
//!             | "Infinity" / "-Infinity"   (a REAL overflow)
//!   error     {"error": {"code": "SYNTAX", "message": "...", "retryable": false}}
//! ```
//!
//! Blobs are standard base64 with padding. A JSON number parameter that is
//! an integer is bound as INTEGER, any other number as REAL. Integers in
//! results are numbers exactly when JavaScript can hold them exactly.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use dosql::error::Error;
use dosql::invalid;
use dosql::sql::{StatementResult, Value};
use serde_json::{json, Map, Value as Json};

/// Largest integer magnitude a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// A parsed request of the bootstrap endpoint.
#[derive(Debug, PartialEq)]
pub struct SqlRequest {
    pub sql: String,
    pub params: Vec<Value>,
}

/// Parses the request body; every problem is `InvalidInput`.
pub fn parse_request(body: &[u8]) -> Result<SqlRequest, Error> {
    let json: Json =
        serde_json::from_slice(body).map_err(|e| invalid!("request body is not JSON: {e}"))?;
    let Json::Object(mut fields) = json else {
        return Err(invalid!("request body must be a JSON object"));
    };
    let sql = match fields.remove("sql") {
        Some(Json::String(sql)) => sql,
        _ => return Err(invalid!("\"sql\" must be a string")),
    };
    let params = match fields.remove("params") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(params)) => params.into_iter().map(param).collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid!("\"params\" must be an array")),
    };
    if let Some(key) = fields.keys().next() {
        return Err(invalid!("unknown field {key:?}"));
    }
    Ok(SqlRequest { sql, params })
}

fn param(json: Json) -> Result<Value, Error> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Integer(b as i64),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(
                n.as_f64()
                    .ok_or_else(|| invalid!("number {n} out of range"))?,
            ),
        },
        Json::String(s) => Value::Text(s),
        Json::Object(obj) => tagged(obj)?,
        Json::Array(_) => return Err(invalid!("a parameter cannot be an array")),
    })
}

fn tagged(obj: Map<String, Json>) -> Result<Value, Error> {
    let mut entries = obj.into_iter();
    let (Some((tag, Json::String(text))), None) = (entries.next(), entries.next()) else {
        return Err(invalid!(
            "an object parameter must be {{\"int\": \"...\"}} or {{\"blob\": \"...\"}}"
        ));
    };
    match tag.as_str() {
        "int" => text
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| invalid!("{text:?} is not a 64-bit integer")),
        "blob" => BASE64
            .decode(text.as_bytes())
            .map(Value::Blob)
            .map_err(|e| invalid!("blob parameter is not base64: {e}")),
        _ => Err(invalid!("unknown parameter tag {tag:?}")),
    }
}

/// Encodes one result value.
pub fn value(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Integer(i) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(i) => json!(i),
        Value::Integer(i) => Json::String(i.to_string()),
        Value::Real(r) if r.is_finite() => json!(r),
        Value::Real(r) => Json::String(if *r > 0.0 { "Infinity" } else { "-Infinity" }.into()),
        Value::Text(s) => Json::String(s.clone()),
        Value::Blob(b) => json!({ "blob": BASE64.encode(b) }),
    }
}

/// Encodes the results of one request.
pub fn results(results: &[StatementResult]) -> Json {
    let results: Vec<Json> = results
        .iter()
        .map(|r| {
            json!({
                "columns": r.columns,
                "rows": r.rows.iter().map(|row| row.iter().map(value).collect::<Vec<_>>()).collect::<Vec<_>>(),
                "rows_affected": r.rows_affected,
                "last_insert_rowid": value(&Value::Integer(r.last_insert_rowid)),
            })
        })
        .collect();
    json!({ "results": results })
}

/// The HTTP status of an engine error: the client's fault (400), a lost
/// race worth retrying (409), or the Object's (500).
pub fn status(e: &Error) -> u16 {
    match e {
        Error::Conflict(_) => 409,
        Error::Io(_) | Error::Corruption(_) => 500,
        Error::InvalidInput(_)
        | Error::Syntax(_)
        | Error::NotFound(_)
        | Error::TypeMismatch(_)
        | Error::Constraint(_)
        | Error::LimitExceeded(_) => 400,
    }
}

/// Encodes an engine error.
pub fn error(e: &Error) -> Json {
    json!({ "error": { "code": e.code(), "message": e.to_string(), "retryable": e.is_retryable() } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_parameter_kind() {
        let req = parse_request(
            br#"{"sql": "SELECT ?", "params": [null, true, 7, 1.5, "t", {"int": "-9223372036854775808"}, {"blob": "AAH/"}]}"#,
        )
        .unwrap();
        assert_eq!(req.sql, "SELECT ?");
        assert_eq!(
            req.params,
            vec![
                Value::Null,
                Value::Integer(1),
                Value::Integer(7),
                Value::Real(1.5),
                Value::Text("t".into()),
                Value::Integer(i64::MIN),
                Value::Blob(vec![0, 1, 255]),
            ]
        );
        assert_eq!(parse_request(br#"{"sql": "x"}"#).unwrap().params, vec![]);
    }

    #[test]
    fn rejects_malformed_requests_as_invalid_input() {
        for body in [
            &b"not json"[..],
            br#"[1]"#,
            br#"{"params": []}"#,
            br#"{"sql": 1}"#,
            br#"{"sql": "x", "params": {}}"#,
            br#"{"sql": "x", "params": [[1]]}"#,
            br#"{"sql": "x", "params": [{"int": "1e3"}]}"#,
            br#"{"sql": "x", "params": [{"blob": "!!"}]}"#,
            br#"{"sql": "x", "params": [{"big": "1"}]}"#,
            br#"{"sql": "x", "params": [{"int": "1", "blob": ""}]}"#,
            br#"{"sql": "x", "extra": 1}"#,
        ] {
            let err = parse_request(body).unwrap_err();
            assert_eq!(
                err.code(),
                "INVALID_INPUT",
                "{}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(status(&err), 400);
        }
    }

    #[test]
    fn encodes_values_exactly() {
        assert_eq!(
            value(&Value::Integer(MAX_SAFE_INTEGER)),
            json!(9007199254740991i64)
        );
        assert_eq!(
            value(&Value::Integer(MAX_SAFE_INTEGER + 1)),
            json!("9007199254740992")
        );
        assert_eq!(
            value(&Value::Integer(i64::MIN)),
            json!("-9223372036854775808")
        );
        assert_eq!(value(&Value::Real(0.5)), json!(0.5));
        assert_eq!(value(&Value::Real(f64::NEG_INFINITY)), json!("-Infinity"));
        assert_eq!(
            value(&Value::Blob(vec![0, 1, 255])),
            json!({"blob": "AAH/"})
        );
        assert_eq!(value(&Value::Null), Json::Null);
    }

    #[test]
    fn encodes_results_and_errors() {
        let r = StatementResult {
            columns: vec!["a".into()],
            rows: vec![vec![Value::Text("x".into())]],
            rows_affected: 0,
            last_insert_rowid: 3,
        };
        assert_eq!(
            results(&[r]),
            json!({"results": [{"columns": ["a"], "rows": [["x"]], "rows_affected": 0, "last_insert_rowid": 3}]})
        );
        let e = Error::Conflict("k".into());
        assert_eq!(status(&e), 409);
        assert_eq!(error(&e)["error"]["code"], "CONFLICT");
        assert_eq!(error(&e)["error"]["retryable"], true);
        assert_eq!(status(&dosql::corruption!("x")), 500);
    }
}
