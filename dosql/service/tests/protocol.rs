//! Every request type of protocol v1 through `dosql-service`, with limits,
//! malformed frames, conflicts between connections, idle-timeout rollback,
//! drop rollback, HTTP bodies and persistence on files.

use dosql::sql::Database;
use dosql_service::{transport, ConnId, Service};
use serde_json::{json, Value as Json};
use shared_types::limits::{
    MAX_BATCH_STATEMENTS, MAX_PARAMS, MAX_PREPARED_PER_CONNECTION, MAX_RESULT_BYTES,
    MAX_VALUE_BYTES, MAX_WS_FRAME_BYTES, TRANSACTION_IDLE_TIMEOUT_MS,
};
use shared_types::{
    BeginMode, ErrorCode, Params, Request, Response, ServerFrame, Statement, StatementResult, Value,
};

fn service() -> Service {
    Service::new(Database::open_memory().unwrap())
}

fn q(sql: &str, params: impl Into<Params>) -> Request {
    Request::Query {
        sql: sql.into(),
        params: params.into(),
    }
}

fn exec(sql: &str) -> Request {
    Request::Exec {
        sql: sql.into(),
        params: Params::default(),
    }
}

fn ok(in_transaction: bool) -> Response {
    Response::Ok { in_transaction }
}

fn begin() -> Request {
    Request::Begin {
        mode: BeginMode::Deferred,
    }
}

fn result(r: Response) -> StatementResult {
    match r {
        Response::Result(r) => r,
        other => panic!("expected a result, got {other:?}"),
    }
}

fn error(r: Response) -> shared_types::WireError {
    match r {
        Response::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn rows(svc: &mut Service, conn: ConnId, sql: &str) -> Vec<Vec<Value>> {
    result(svc.handle(conn, q(sql, vec![]), 0)).rows
}

/// One WebSocket round trip, as JSON.
fn frame(svc: &mut Service, conn: ConnId, text: &str) -> Json {
    let f = svc.handle_frame(conn, text.as_bytes(), 0);
    serde_json::from_str(&transport::encode_frame(&f)).unwrap()
}

#[test]
fn every_request_type() {
    let mut svc = service();
    let c = svc.open_connection(0);
    assert_eq!(
        svc.handle(c, Request::Hello { version: 1 }, 0),
        Response::Hello {
            version: 1,
            server: format!("dosql/{}", env!("CARGO_PKG_VERSION")),
        }
    );
    assert_eq!(
        error(svc.handle(c, Request::Hello { version: 2 }, 0)).code,
        ErrorCode::InvalidRequest
    );
    assert_eq!(svc.handle(c, Request::Ping, 0), Response::Pong);

    let Response::Results { results } = svc.handle(
        c,
        exec(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('a'), ('b')",
        ),
        0,
    ) else {
        panic!()
    };
    assert_eq!(results.len(), 2);
    assert_eq!(results[1].rows_affected, 2);
    assert_eq!(results[1].last_insert_rowid, 2);

    let r = result(svc.handle(
        c,
        q("SELECT id, v FROM t WHERE id = ?", vec![Value::Integer(2)]),
        0,
    ));
    assert_eq!(r.columns, ["id", "v"]);
    assert_eq!(
        r.rows,
        vec![vec![Value::Integer(2), Value::Text("b".into())]]
    );
    // query is for one statement only.
    let e = error(svc.handle(c, q("SELECT 1; SELECT 2", vec![]), 0));
    assert_eq!(e.code, ErrorCode::InvalidRequest);

    // Named parameters, with and without their prefix.
    let named = Params::Named(
        [
            ("v".to_string(), Value::Text("c".into())),
            (":id".to_string(), Value::Integer(10)),
        ]
        .into(),
    );
    let r = result(svc.handle(c, q("INSERT INTO t VALUES (:id, $v)", named), 0));
    assert_eq!((r.rows_affected, r.last_insert_rowid), (1, 10));

    // Prepared statements.
    let Response::Prepared(p) = svc.handle(
        c,
        Request::Prepare {
            sql: "SELECT v FROM t WHERE id = :id OR id = ?".into(),
        },
        0,
    ) else {
        panic!()
    };
    assert_eq!(p.params, 2);
    assert_eq!(p.param_names, vec![Some(":id".to_string()), None]);
    assert_eq!(p.columns, ["v"]);
    let r = result(svc.handle(
        c,
        Request::Execute {
            stmt: p.stmt,
            params: vec![Value::Integer(1), Value::Integer(10)].into(),
        },
        0,
    ));
    assert_eq!(
        r.rows,
        vec![vec![Value::Text("a".into())], vec![Value::Text("c".into())]]
    );
    assert_eq!(svc.handle(c, Request::Close { stmt: p.stmt }, 0), ok(false));
    let e = error(svc.handle(
        c,
        Request::Execute {
            stmt: p.stmt,
            params: Params::default(),
        },
        0,
    ));
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = error(svc.handle(
        c,
        Request::Prepare {
            sql: "SELECT * FROM missing".into(),
        },
        0,
    ));
    assert_eq!(e.code, ErrorCode::NotFound);

    // Transactions.
    let begin = Request::Begin {
        mode: BeginMode::Immediate,
    };
    assert_eq!(svc.handle(c, begin, 0), ok(true));
    svc.handle(c, q("DELETE FROM t", vec![]), 0);
    assert_eq!(svc.handle(c, Request::Rollback, 0), ok(false));
    assert_eq!(
        rows(&mut svc, c, "SELECT count(*) FROM t"),
        [[Value::Integer(3)]]
    );
    let e = error(svc.handle(c, Request::Commit, 0));
    assert_eq!(e.code, ErrorCode::InvalidRequest);

    // Batches.
    let Response::Results { results } = svc.handle(
        c,
        Request::Batch {
            statements: vec![
                Statement::new("INSERT INTO t(v) VALUES (?)", vec![Value::Text("d".into())]),
                Statement::new("SELECT count(*) FROM t", vec![]),
            ],
            transactional: true,
        },
        0,
    ) else {
        panic!()
    };
    assert_eq!(results[1].rows, [[Value::Integer(4)]]);

    // Schema.
    let Response::Schema(s) = svc.handle(c, Request::Schema, 0) else {
        panic!()
    };
    assert_eq!(s.tables.len(), 1);
    assert_eq!(s.tables[0].columns[1].name, "v");

    // Syntax errors carry the engine's message.
    let e = error(svc.handle(c, q("SELEC 1", vec![]), 0));
    assert_eq!(e.code, ErrorCode::Syntax);
    assert!(e.message.contains("SELEC"), "{}", e.message);
    let e = error(svc.handle(c, q("SELECT * FROM nope", vec![]), 0));
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = error(svc.handle(c, q("INSERT INTO t VALUES (1, 'dup')", vec![]), 0));
    assert_eq!((e.code, e.retryable), (ErrorCode::Constraint, false));
}

#[test]
fn values_round_trip_exactly() {
    let mut svc = service();
    let c = svc.open_connection(0);
    let values = vec![
        Value::Null,
        Value::Integer(i64::MIN),
        Value::Integer(i64::MAX),
        Value::Real(1.0),
        Value::Real(-0.5),
        Value::Text("héllo".into()),
        Value::Blob(vec![0, 1, 255]),
    ];
    let r = result(svc.handle(c, q("SELECT ?, ?, ?, ?, ?, ?, ?", values.clone()), 0));
    assert_eq!(r.rows, vec![values]);
}

#[test]
fn transactional_batches_are_atomic_and_name_the_failing_statement() {
    let mut svc = service();
    let c = svc.open_connection(0);
    svc.handle(c, exec("CREATE TABLE t(x UNIQUE)"), 0);
    let bad = |transactional| Request::Batch {
        statements: vec![
            Statement::new("INSERT INTO t VALUES (1)", vec![]),
            Statement::new("INSERT INTO t VALUES (2)", vec![]),
            Statement::new("INSERT INTO t VALUES (1)", vec![]),
            Statement::new("INSERT INTO t VALUES (3)", vec![]),
        ],
        transactional,
    };
    let e = error(svc.handle(c, bad(true), 0));
    assert_eq!((e.code, e.statement), (ErrorCode::Constraint, Some(2)));
    assert_eq!(
        rows(&mut svc, c, "SELECT count(*) FROM t"),
        [[Value::Integer(0)]]
    );
    assert!(!svc.in_transaction(c));

    // Inside an open transaction: the batch is undone, the transaction stays.
    svc.handle(c, begin(), 0);
    svc.handle(c, exec("INSERT INTO t VALUES (9)"), 0);
    let e = error(svc.handle(c, bad(true), 0));
    assert_eq!(e.statement, Some(2));
    assert!(svc.in_transaction(c));
    svc.handle(c, Request::Commit, 0);
    assert_eq!(rows(&mut svc, c, "SELECT x FROM t"), [[Value::Integer(9)]]);

    // Not transactional: statements before the failure keep their effect.
    let e = error(svc.handle(c, bad(false), 0));
    assert_eq!(e.statement, Some(2));
    assert_eq!(
        rows(&mut svc, c, "SELECT x FROM t ORDER BY x"),
        [
            [Value::Integer(1)],
            [Value::Integer(2)],
            [Value::Integer(9)]
        ]
    );
}

#[test]
fn limits_are_enforced() {
    let mut svc = service();
    let c = svc.open_connection(0);
    let lim = |r: Response| assert_eq!(error(r).code, ErrorCode::LimitExceeded);
    lim(svc.handle(
        c,
        q(&format!("SELECT '{}'", "x".repeat(100_000)), vec![]),
        0,
    ));
    lim(svc.handle(c, q("SELECT 1", vec![Value::Null; MAX_PARAMS + 1]), 0));
    lim(svc.handle(
        c,
        q("SELECT ?", vec![Value::Blob(vec![7; MAX_VALUE_BYTES + 1])]),
        0,
    ));
    // Values the SQL computes are held to the same limit.
    lim(svc.handle(
        c,
        q(&format!("SELECT zeroblob({})", MAX_VALUE_BYTES + 1), vec![]),
        0,
    ));
    lim(svc.handle(
        c,
        Request::Batch {
            statements: vec![Statement::new("SELECT 1", vec![]); MAX_BATCH_STATEMENTS + 1],
            transactional: false,
        },
        0,
    ));
    // A result too large to send is refused; smaller pages are not.
    let row = Value::Blob(vec![1; MAX_VALUE_BYTES]);
    svc.handle(c, exec("CREATE TABLE big(b)"), 0);
    let n = MAX_RESULT_BYTES / MAX_VALUE_BYTES + 1;
    for _ in 0..n {
        svc.handle(c, q("INSERT INTO big VALUES (?)", vec![row.clone()]), 0);
    }
    lim(svc.handle(c, q("SELECT b FROM big", vec![]), 0));
    assert_eq!(
        result(svc.handle(c, q("SELECT b FROM big LIMIT 2", vec![]), 0))
            .rows
            .len(),
        2
    );
    // Prepared statements per connection.
    for i in 0..MAX_PREPARED_PER_CONNECTION {
        let r = svc.handle(
            c,
            Request::Prepare {
                sql: format!("SELECT {i}"),
            },
            0,
        );
        assert!(matches!(r, Response::Prepared(_)), "{r:?}");
    }
    lim(svc.handle(
        c,
        Request::Prepare {
            sql: "SELECT 1".into(),
        },
        0,
    ));
    // Limits fail the request only: the connection goes on serving.
    assert_eq!(svc.handle(c, Request::Ping, 0), Response::Pong);
}

#[test]
fn malformed_frames_get_typed_errors_and_the_connection_keeps_serving() {
    let mut svc = service();
    let c = svc.open_connection(0);
    let f = frame(&mut svc, c, "not json");
    assert_eq!(f["id"], Json::Null);
    assert_eq!(f["code"], "INVALID_REQUEST");
    let f = frame(
        &mut svc,
        c,
        r#"{"id": 4, "type": "query", "sql": "SELECT 1", "typo": 1}"#,
    );
    assert_eq!(
        (f["id"].clone(), f["code"].clone()),
        (json!(4), json!("INVALID_REQUEST"))
    );
    let f = frame(&mut svc, c, r#"{"id": 5, "type": "launch"}"#);
    assert_eq!(f["id"], 5);
    let huge = format!(
        r#"{{"id": 6, "type": "query", "sql": "SELECT ?", "params": ["{}"]}}"#,
        "x".repeat(MAX_WS_FRAME_BYTES)
    );
    let f = frame(&mut svc, c, &huge);
    assert_eq!(f["code"], "LIMIT_EXCEEDED");
    let f = frame(
        &mut svc,
        c,
        r#"{"id": 7, "type": "query", "sql": "SELECT ?1 + 1", "params": [41]}"#,
    );
    assert_eq!(
        f,
        json!({"id": 7, "type": "result", "columns": ["?1 + 1"], "rows": [[42]],
               "rows_affected": 0, "last_insert_rowid": 0})
    );
    let f: ServerFrame =
        serde_json::from_str(&transport::encode_frame(&transport::binary_frame_error())).unwrap();
    assert_eq!(f.response.error().unwrap().code, ErrorCode::InvalidRequest);
}

#[test]
fn two_connections_writing_one_row_conflict_and_the_loser_may_retry() {
    let mut svc = service();
    let a = svc.open_connection(0);
    let b = svc.open_connection(0);
    svc.handle(
        a,
        exec("CREATE TABLE t(id INTEGER PRIMARY KEY, n); INSERT INTO t VALUES (1, 0)"),
        0,
    );
    for c in [a, b] {
        svc.handle(c, begin(), 0);
    }
    // Snapshot isolation: b does not see a's uncommitted write.
    svc.handle(a, q("UPDATE t SET n = n + 1 WHERE id = 1", vec![]), 0);
    assert_eq!(rows(&mut svc, b, "SELECT n FROM t"), [[Value::Integer(0)]]);
    svc.handle(b, q("UPDATE t SET n = n + 10 WHERE id = 1", vec![]), 0);
    assert_eq!(svc.handle(a, Request::Commit, 0), ok(false));
    let e = error(svc.handle(b, Request::Commit, 0));
    assert_eq!((e.code, e.retryable), (ErrorCode::Conflict, true));
    assert!(!svc.in_transaction(b));
    // The retry sees a's commit and succeeds.
    svc.handle(b, begin(), 0);
    svc.handle(b, q("UPDATE t SET n = n + 10 WHERE id = 1", vec![]), 0);
    assert_eq!(svc.handle(b, Request::Commit, 0), ok(false));
    assert_eq!(rows(&mut svc, a, "SELECT n FROM t"), [[Value::Integer(11)]]);
}

#[test]
fn idle_transactions_are_rolled_back_and_reported_as_timeouts() {
    let mut svc = service();
    let a = svc.open_connection(0);
    let b = svc.open_connection(0);
    svc.handle(a, exec("CREATE TABLE t(id INTEGER PRIMARY KEY, n)"), 0);
    svc.handle(a, begin(), 1_000);
    svc.handle(a, q("INSERT INTO t VALUES (1, 1)", vec![]), 1_000);
    let later = 1_001 + TRANSACTION_IDLE_TIMEOUT_MS;
    assert_eq!(svc.expire_idle(later), 1);
    // The rolled-back transaction no longer wins conflicts.
    let r = result(svc.handle(b, q("INSERT INTO t VALUES (1, 2)", vec![]), later));
    assert_eq!(r.rows_affected, 1);
    let e = error(svc.handle(a, q("INSERT INTO t VALUES (2, 2)", vec![]), later));
    assert_eq!((e.code, e.retryable), (ErrorCode::Timeout, false));
    assert_eq!(
        rows(&mut svc, a, "SELECT id, n FROM t"),
        [[Value::Integer(1), Value::Integer(2)]]
    );
}

#[test]
fn dropped_connections_leave_nothing_behind() {
    let mut svc = service();
    let a = svc.open_connection(0);
    svc.handle(a, exec("CREATE TABLE t(id INTEGER PRIMARY KEY)"), 0);
    svc.handle(a, begin(), 0);
    svc.handle(a, q("INSERT INTO t VALUES (1)", vec![]), 0);
    let b = svc.open_connection(0);
    svc.handle(b, begin(), 0);
    svc.close_connection(a);
    // b writes the same row and commits without conflict: a held nothing.
    svc.handle(b, q("INSERT INTO t VALUES (1)", vec![]), 0);
    assert_eq!(svc.handle(b, Request::Commit, 0), ok(false));
    assert_eq!(
        rows(&mut svc, b, "SELECT count(*) FROM t"),
        [[Value::Integer(1)]]
    );
}

#[test]
fn http_pipelines_and_batches() {
    let mut svc = service();
    let body = json!({"requests": [
        {"type": "exec", "sql": "CREATE TABLE t(x)"},
        {"type": "begin"},
        {"type": "query", "sql": "INSERT INTO t VALUES (?)", "params": [1]},
        {"type": "query", "sql": "SELEC"},
        {"type": "commit"},
        {"type": "query", "sql": "SELECT x FROM t"},
        {"type": "begin"},
        {"type": "query", "sql": "INSERT INTO t VALUES (2)"}
    ]});
    let (status, text) = svc.http_pipeline(body.to_string().as_bytes(), 0);
    assert_eq!(status, 200, "{text}");
    let out: Json = serde_json::from_str(&text).unwrap();
    let types: Vec<_> = out["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].clone())
        .collect();
    assert_eq!(
        types,
        ["results", "ok", "result", "error", "ok", "result", "ok", "result"].map(|t| json!(t))
    );
    assert_eq!(out["responses"][5]["rows"], json!([[1]]));
    assert_eq!(svc.connection_count(), 0);
    // The transaction left open at the end was rolled back.
    let (_, text) = svc.http_pipeline(
        br#"{"requests":[{"type":"query","sql":"SELECT count(*) FROM t"}]}"#,
        0,
    );
    assert!(text.contains("[[1]]"), "{text}");

    let (status, text) = svc.http_batch(
        br#"{"statements":[{"sql":"INSERT INTO t VALUES (:v)","params":{"v":5}},{"sql":"SELECT sum(x) FROM t"}]}"#,
        0,
    );
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("[[6]]"), "{text}");
    let (status, text) = svc.http_batch(
        br#"{"statements":[{"sql":"INSERT INTO nope VALUES (1)"}]}"#,
        0,
    );
    assert_eq!(status, 404);
    let e: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(e["error"]["code"], "NOT_FOUND");
    assert_eq!(e["error"]["statement"], 0);
    let (status, _) = svc.http_batch(b"{\"statements\":[], \"extra\": 1}", 0);
    assert_eq!(status, 400);
    let (status, _) = svc.http_pipeline(b"[", 0);
    assert_eq!(status, 400);
}

#[test]
fn a_database_on_files_persists_across_services() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut svc = Service::new(Database::open_dir(dir.path()).unwrap());
        let c = svc.open_connection(0);
        svc.handle(
            c,
            exec("CREATE TABLE t(x); INSERT INTO t VALUES ('kept')"),
            0,
        );
        assert!(!svc.is_poisoned());
    }
    let mut svc = Service::new(Database::open_dir(dir.path()).unwrap());
    let c = svc.open_connection(0);
    assert_eq!(
        rows(&mut svc, c, "SELECT x FROM t"),
        [[Value::Text("kept".into())]]
    );
    // A reopened database loses open transactions, and says so once.
    svc.handle(c, begin(), 0);
    svc.replace_database(Database::open_dir(dir.path()).unwrap());
    let e = error(svc.handle(c, Request::Commit, 0));
    assert_eq!(e.code, ErrorCode::Internal);
    assert!(!svc.in_transaction(c));
    assert_eq!(
        rows(&mut svc, c, "SELECT x FROM t"),
        [[Value::Text("kept".into())]]
    );
}
