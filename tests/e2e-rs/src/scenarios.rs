//! The scenarios, each a function of a running [`Target`] that asserts
//! what protocol v1 (docs/protocol.md) promises, whichever server runs it.
//!
//! [`run_all`] runs them in sequence on one target, each on databases of
//! its own, and reports every failing scenario (not only the first) with
//! the tail of the server's log. `E2E_SCENARIOS=name,name` runs a subset.
//!
//! | scenario | promise |
//! |---|---|
//! | `crud_and_transactions` | statements, typed errors, BEGIN..COMMIT/ROLLBACK, snapshot isolation |
//! | `malformed_frames` | a bad frame gets `INVALID_REQUEST`, the connection goes on serving |
//! | `auth_rejection` | no or a wrong token: `401 AUTH` on HTTP and WebSocket, nothing created |
//! | `databases_apart` | two names, two databases |
//! | `conflicting_writers` | first committer wins; the loser's `CONFLICT` is retryable; no lost update |
//! | `transaction_dies_with_socket` | a closed or dropped socket rolls its transaction back |
//! | `persistence_across_restart` | committed data survives a restart, uncommitted does not |

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use serde_json::{json, Value as Json};
use sql_client::{Client, Config, Error, ErrorCode, Value};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::raw::{Auth, RawWs};
use crate::{eventually, within, Target};

/// Runs every scenario (or those named in `$E2E_SCENARIOS`) on `target`,
/// then fails if any failed.
pub async fn run_all(target: &mut Target) {
    let only: Option<Vec<String>> = std::env::var("E2E_SCENARIOS")
        .ok()
        .map(|s| s.split(',').map(|n| n.trim().to_owned()).collect());
    let runtime = target.runtime();
    let mut failed = Vec::new();
    macro_rules! scenario {
        ($name:ident) => {
            let name = stringify!($name);
            if only.as_ref().is_none_or(|o| o.iter().any(|n| n == name)) {
                // A failed scenario may have left the server stopped.
                target.ensure_running().await;
                eprintln!("e2e [{runtime:?}] {name} ...");
                let start = Instant::now();
                match AssertUnwindSafe($name(target)).catch_unwind().await {
                    Ok(()) => eprintln!("e2e [{runtime:?}] {name} ok ({:?})", start.elapsed()),
                    Err(_) => {
                        eprintln!("e2e [{runtime:?}] {name} FAILED");
                        failed.push(name);
                    }
                }
            }
        };
    }
    scenario!(crud_and_transactions);
    scenario!(malformed_frames);
    scenario!(auth_rejection);
    scenario!(databases_apart);
    scenario!(conflicting_writers);
    scenario!(transaction_dies_with_socket);
    scenario!(persistence_across_restart);
    assert!(
        failed.is_empty(),
        "scenarios failed against {runtime:?}: {failed:?} (panics above)\n\
         --- server log (last 60 lines) ---\n{}",
        target.log_tail(60)
    );
}

/// A client of database `db`, connected over its WebSocket.
pub async fn client(target: &Target, db: &str) -> Client {
    let c = within("connect", Client::connect(&target.url(db), target.token()))
        .await
        .unwrap_or_else(|e| panic!("connect to {db}: {e}"));
    assert!(c.uses_websocket(), "{db}: the server offers WebSockets");
    c
}

/// One value of a single-row, single-column query.
async fn scalar(db: &Client, sql: &str) -> i64 {
    within(sql, db.query(sql, ()))
        .await
        .and_then(|r| r.one())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Decoded rows of a query.
async fn rows<T: serde::de::DeserializeOwned>(db: &Client, sql: &str) -> Vec<T> {
    within(sql, db.query(sql, ()))
        .await
        .and_then(|r| r.decode())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn exec(db: &Client, sql: &str) {
    within(sql, db.exec_script(sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Statements, typed errors, and interactive transactions over the client's
/// WebSockets: commit, rollback on error, rollback on request, isolation.
pub async fn crud_and_transactions(t: &mut Target) {
    let db = client(t, "crud").await;
    exec(
        &db,
        "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)",
    )
    .await;
    let r = db
        .execute("INSERT INTO users(name, score) VALUES (?, ?)", ("ada", 9.5))
        .await
        .unwrap();
    assert_eq!((r.rows_affected, r.last_insert_rowid), (1, 1));
    let r = db
        .execute(
            "INSERT INTO users(name, score) VALUES (?1, ?2), (?1, NULL)",
            sql_client::params!["bob", 7],
        )
        .await
        .unwrap();
    assert_eq!((r.rows_affected, r.last_insert_rowid), (2, 3));
    let r = db
        .execute("UPDATE users SET score = score + 1 WHERE name = ?", ["bob"])
        .await
        .unwrap();
    assert_eq!(r.rows_affected, 2);
    let all = db
        .query("SELECT id, name, score FROM users ORDER BY id", ())
        .await
        .unwrap();
    assert_eq!(all.columns, ["id", "name", "score"]);
    assert_eq!(
        all.rows,
        vec![
            vec![Value::Integer(1), "ada".into(), Value::Real(9.5)],
            vec![Value::Integer(2), "bob".into(), Value::Real(8.0)],
            vec![Value::Integer(3), "bob".into(), Value::Null],
        ]
    );
    let r = db
        .execute("DELETE FROM users WHERE score IS NULL", ())
        .await
        .unwrap();
    assert_eq!(r.rows_affected, 1);
    assert_eq!(scalar(&db, "SELECT count(*) FROM users").await, 2);
    // Exact 64-bit integers and blobs.
    let blob: Vec<u8> = (0..=255).collect();
    db.execute("CREATE TABLE v(i INTEGER, b BLOB)", ())
        .await
        .unwrap();
    db.execute("INSERT INTO v VALUES (?, ?)", (i64::MAX, blob.clone()))
        .await
        .unwrap();
    let got: Vec<(i64, Vec<u8>)> = rows(&db, "SELECT i, b FROM v").await;
    assert_eq!(got, [(i64::MAX, blob)]);

    for (sql, code) in [
        ("SELEC 1", ErrorCode::Syntax),
        ("SELECT * FROM nope", ErrorCode::NotFound),
        (
            "INSERT INTO users(id, name) VALUES (1, 'dup')",
            ErrorCode::Constraint,
        ),
    ] {
        let e = db.query(sql, ()).await.unwrap_err();
        assert_eq!(e.code(), Some(code), "{sql}: {e}");
        assert!(!e.is_retryable(), "{sql}: {e}");
    }
    db.ping().await.expect("the connection serves after errors");
    // A script stops at its failing statement, names it, and keeps the
    // effect of the statements before it.
    let e = db
        .exec_script(
            "INSERT INTO users(id, name) VALUES (10, 'kept'); -- one; two\n\
             INSERT INTO users(id, name) VALUES (1, 'dup'); INSERT INTO users(id, name) VALUES (11, 'never')",
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Constraint), "{e}");
    assert_eq!(e.wire().and_then(|w| w.statement), Some(1), "{e}");
    let ids: Vec<i64> = rows(&db, "SELECT id FROM users WHERE id >= 10").await;
    assert_eq!(ids, [10]);
    exec(&db, "DELETE FROM users WHERE id = 10").await;

    // Commit, with snapshot isolation: another client does not see the
    // transaction's writes until it commits.
    exec(&db, "CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER); INSERT INTO acct VALUES (1, 100), (2, 0)").await;
    let other = client(t, "crud").await;
    let seen = db
        .transaction(|tx| {
            let other = other.clone();
            async move {
                tx.execute("UPDATE acct SET bal = bal - 30 WHERE id = 1", ())
                    .await?;
                tx.execute("UPDATE acct SET bal = bal + 30 WHERE id = 2", ())
                    .await?;
                let inside: i64 = tx
                    .query("SELECT bal FROM acct WHERE id = 2", ())
                    .await?
                    .one()?;
                let outside: i64 = other
                    .query("SELECT bal FROM acct WHERE id = 2", ())
                    .await?
                    .one()?;
                Ok((inside, outside))
            }
        })
        .await
        .unwrap();
    assert_eq!(seen, (30, 0), "inside sees its write, outside does not");
    let balances = "SELECT id, bal FROM acct ORDER BY id";
    assert_eq!(
        rows::<(i64, i64)>(&other, balances).await,
        [(1, 70), (2, 30)]
    );

    // Rollback when a statement fails, and when the closure gives up.
    let e = db
        .transaction(|tx| async move {
            tx.execute("UPDATE acct SET bal = 0", ()).await?;
            tx.execute("INSERT INTO acct VALUES (1, 0)", ()).await?;
            Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Constraint), "{e}");
    let e = db
        .transaction(|tx| async move {
            tx.execute("DELETE FROM acct", ()).await?;
            Err::<(), _>(Error::Invalid("changed my mind".into()))
        })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e}");
    assert_eq!(
        rows::<(i64, i64)>(&other, balances).await,
        [(1, 70), (2, 30)],
        "both failed transactions were rolled back"
    );

    // The same over a raw socket: begin/rollback/commit answer `ok` with
    // the transaction state, and only the committed write remains.
    let mut ws = RawWs::open(t, "crud").await;
    let r = ws.ok(json!({"type": "begin"})).await;
    assert_eq!(
        r,
        json!({"id": r["id"], "type": "ok", "in_transaction": true})
    );
    ws.ok(json!({"type": "query", "sql": "INSERT INTO acct VALUES (3, 1)"}))
        .await;
    let r = ws.ok(json!({"type": "rollback"})).await;
    assert_eq!(r["in_transaction"], false, "{r}");
    ws.ok(json!({"type": "begin", "mode": "immediate"})).await;
    ws.ok(json!({"type": "query", "sql": "INSERT INTO acct VALUES (4, 4)"}))
        .await;
    let r = ws.ok(json!({"type": "commit"})).await;
    assert_eq!(r["in_transaction"], false, "{r}");
    let r = ws.call(json!({"type": "commit"})).await;
    assert_eq!(
        r["code"], "INVALID_REQUEST",
        "commit outside a transaction: {r}"
    );
    ws.close().await;
    assert_eq!(
        rows::<(i64, i64)>(&other, balances).await,
        [(1, 70), (2, 30), (4, 4)]
    );
}

/// Bad frames are answered with a typed `INVALID_REQUEST` (with the id when
/// it could be read) and the same connection then serves good requests,
/// also inside an open transaction.
pub async fn malformed_frames(t: &mut Target) {
    let mut ws = RawWs::open(t, "frames").await;
    ws.ok(json!({"type": "exec", "sql": "CREATE TABLE f(x INTEGER PRIMARY KEY)"}))
        .await;
    ws.ok(json!({"type": "begin"})).await;
    ws.ok(json!({"type": "query", "sql": "INSERT INTO f VALUES (1)"}))
        .await;
    let bad: [(&str, Json); 11] = [
        ("{nope", Json::Null),
        ("", Json::Null),
        ("[1, 2, 3]", Json::Null),
        (r#"{"type": "ping"}"#, Json::Null),
        (r#"{"id": -1, "type": "ping"}"#, Json::Null),
        (r#"{"id": 5, "type": "launch"}"#, json!(5)),
        (r#"{"id": 6, "type": "query"}"#, json!(6)),
        (
            r#"{"id": 7, "type": "query", "sql": "SELECT 1", "bogus": 1}"#,
            json!(7),
        ),
        (
            r#"{"id": 8, "type": "query", "sql": "SELECT ?", "params": [[1]]}"#,
            json!(8),
        ),
        (
            r#"{"id": 9, "type": "query", "sql": "SELECT ?", "params": [{"blob": "%%"}]}"#,
            json!(9),
        ),
        (
            r#"{"id": 10, "type": "query", "sql": "SELECT ?", "params": [1, 2]}"#,
            json!(10),
        ),
    ];
    let mut good = 0;
    for (frame, id) in bad {
        let r = ws.send_text(frame).await;
        assert_eq!(r["type"], "error", "{frame:?}: {r}");
        assert_eq!(r["code"], "INVALID_REQUEST", "{frame:?}: {r}");
        assert_eq!(r["id"], id, "{frame:?}: {r}");
        assert_eq!(r["retryable"], false, "{frame:?}: {r}");
        good += 1;
        let r = ws.query(&format!("SELECT {good} * 7")).await;
        assert_eq!(r["rows"], json!([[good * 7]]), "after {frame:?}: {r}");
    }
    ws.send(Message::binary(vec![0x7b, 0x7d, 0xff])).await;
    let r = ws.recv().await;
    assert_eq!(
        (&r["type"], &r["code"], &r["id"]),
        (&json!("error"), &json!("INVALID_REQUEST"), &Json::Null),
        "binary frame: {r}"
    );
    // Still the same session: the transaction opened before is still open.
    let r = ws
        .ok(json!({"type": "query", "sql": "INSERT INTO f VALUES (2)"}))
        .await;
    assert_eq!(r["rows_affected"], 1);
    let r = ws.ok(json!({"type": "commit"})).await;
    assert_eq!(r["in_transaction"], false);
    let db = client(t, "frames").await;
    assert_eq!(rows::<i64>(&db, "SELECT x FROM f ORDER BY x").await, [1, 2]);
    ws.close().await;
}

/// Asserts that `e` is a WebSocket upgrade refused with 401.
fn assert_refused_upgrade(e: &tungstenite::Error, what: &str) {
    match e {
        tungstenite::Error::Http(response) => {
            assert_eq!(response.status().as_u16(), 401, "{what}: {response:?}")
        }
        other => panic!("{what}: expected an HTTP 401 refusal, got {other}"),
    }
}

/// Without the right token nothing runs and nothing is created: HTTP
/// routes answer `401 AUTH`, WebSocket upgrades are refused with 401, the
/// client reports `AUTH`.
pub async fn auth_rejection(t: &mut Target) {
    let db = "auth";
    let before = t.stored_databases();
    let create = json!({"statements": [{"sql": "CREATE TABLE stolen(x)"}]});
    let pipeline = json!({"requests": [{"type": "exec", "sql": "CREATE TABLE stolen(x)"}]});
    for token in [None, Some("wrong"), Some(""), Some(&t.token()[1..])] {
        for (route, body) in [("batch", &create), ("pipeline", &pipeline)] {
            let (status, body) = within("POST", t.post(db, route, token, body)).await;
            assert_eq!(status, 401, "{route} with {token:?}: {body}");
            assert_eq!(
                body["error"]["code"], "AUTH",
                "{route} with {token:?}: {body}"
            );
            assert_eq!(body["error"]["retryable"], false, "{body}");
        }
    }
    for auth in [
        Auth::None,
        Auth::Query("wrong"),
        Auth::Query(""),
        Auth::Header("wrong"),
    ] {
        match RawWs::connect(t, db, auth).await {
            Ok(_) => panic!("WebSocket with {auth:?} was accepted"),
            Err(e) => assert_refused_upgrade(&e, &format!("WebSocket with {auth:?}")),
        }
    }
    for token in ["wrong", ""] {
        let e = within("connect", Client::connect(&t.url(db), token))
            .await
            .expect_err("a wrong token is refused");
        assert_eq!(e.code(), Some(ErrorCode::Auth), "{e}");
        let http_only = Config {
            http_only: true,
            ..Config::default()
        };
        let e = within(
            "connect",
            Client::connect_with(&t.url(db), token, http_only),
        )
        .await
        .expect_err("a wrong token is refused over HTTP");
        assert_eq!(e.code(), Some(ErrorCode::Auth), "{e}");
    }
    assert_eq!(
        t.stored_databases(),
        before,
        "refused requests created storage"
    );

    // The right token, in the header this time, reaches an empty database.
    let mut ws = RawWs::connect(t, db, Auth::Header(t.token()))
        .await
        .expect("the header token is accepted");
    let r = ws.ok(json!({"type": "schema"})).await;
    assert_eq!(r["tables"], json!([]), "nothing was created: {r}");
    let r = ws.query("SELECT * FROM stolen").await;
    assert_eq!(r["code"], "NOT_FOUND", "{r}");
    // The storage count does see a database that is written to.
    ws.ok(json!({"type": "exec", "sql": "CREATE TABLE mine(x); INSERT INTO mine VALUES (1)"}))
        .await;
    ws.close().await;
    eventually(
        "storage for a written database",
        Duration::from_secs(10),
        || async { (t.stored_databases() > before).then_some(()) },
    )
    .await;
}

/// Two database names are two databases: tables, rows and schema apart.
pub async fn databases_apart(t: &mut Target) {
    let a = client(t, "apart_a").await;
    let b = client(t, "apart_b").await;
    exec(
        &a,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'only in a')",
    )
    .await;
    let e = b.query("SELECT * FROM t", ()).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NotFound), "b sees a's table: {e}");
    exec(
        &b,
        "CREATE TABLE t(k TEXT, n INTEGER); INSERT INTO t VALUES ('only in b', 2)",
    )
    .await;
    assert_eq!(
        rows::<(i64, String)>(&a, "SELECT * FROM t").await,
        [(1, "only in a".to_owned())]
    );
    assert_eq!(
        rows::<(String, i64)>(&b, "SELECT * FROM t").await,
        [("only in b".to_owned(), 2)]
    );
    // Over HTTP too, and the schemas differ.
    let (status, body) = t
        .post(
            "apart_b",
            "batch",
            Some(t.token()),
            &json!({"statements": [{"sql": "SELECT count(*) FROM t"}]}),
        )
        .await;
    assert_eq!(
        (status, &body["results"][0]["rows"]),
        (200, &json!([[1]])),
        "{body}"
    );
    let columns = |s: sql_client::SchemaInfo| -> Vec<String> {
        s.tables[0].columns.iter().map(|c| c.name.clone()).collect()
    };
    assert_eq!(columns(a.schema().await.unwrap()), ["id", "v"]);
    assert_eq!(columns(b.schema().await.unwrap()), ["k", "n"]);
    // A transaction open in one does not hold the other.
    let mut ws = RawWs::open(t, "apart_a").await;
    ws.ok(json!({"type": "begin"})).await;
    ws.ok(json!({"type": "query", "sql": "DELETE FROM t"}))
        .await;
    exec(&b, "DELETE FROM t").await;
    assert_eq!(scalar(&b, "SELECT count(*) FROM t").await, 0);
    assert_eq!(scalar(&a, "SELECT count(*) FROM t").await, 1);
    ws.ok(json!({"type": "rollback"})).await;
    ws.close().await;
}

/// Two writers of the same row: the second to commit gets a retryable
/// `CONFLICT`; `Client::transaction` retries, and both increments land.
pub async fn conflicting_writers(t: &mut Target) {
    let a = client(t, "conflict").await;
    let b = client(t, "conflict").await;
    exec(&a, "CREATE TABLE counter(id INTEGER PRIMARY KEY, n INTEGER); INSERT INTO counter VALUES (1, 0)").await;

    // On the wire: both begin and write the row; the first commit wins.
    let mut first = RawWs::open(t, "conflict").await;
    let mut second = RawWs::open(t, "conflict").await;
    first.ok(json!({"type": "begin"})).await;
    second.ok(json!({"type": "begin"})).await;
    first
        .ok(json!({"type": "query", "sql": "SELECT n FROM counter"}))
        .await;
    second
        .ok(json!({"type": "query", "sql": "SELECT n FROM counter"}))
        .await;
    first
        .ok(json!({"type": "query", "sql": "UPDATE counter SET n = 10"}))
        .await;
    let mut loser = second
        .call(json!({"type": "query", "sql": "UPDATE counter SET n = 20"}))
        .await;
    first.ok(json!({"type": "commit"})).await;
    if loser["type"] != "error" {
        // Not detected at the write: then at the commit.
        loser = second.call(json!({"type": "commit"})).await;
    }
    assert_eq!(loser["code"], "CONFLICT", "{loser}");
    assert_eq!(loser["retryable"], true, "{loser}");
    // The loser's transaction is over (or ends on rollback); nothing of it stays.
    let r = second.call(json!({"type": "rollback"})).await;
    assert!(r["type"] == "ok" || r["code"] == "INVALID_REQUEST", "{r}");
    assert_eq!(scalar(&a, "SELECT n FROM counter").await, 10);
    first.close().await;
    second.close().await;

    // Through the client: both read before either writes, so one must
    // conflict, retry on a fresh snapshot, and see the other's commit.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let attempts = Arc::new(AtomicU32::new(0));
    let increment = |db: Client| {
        let barrier = barrier.clone();
        let attempts = attempts.clone();
        tokio::spawn(async move {
            db.transaction(|tx| {
                let barrier = barrier.clone();
                let first_round = attempts.fetch_add(1, Ordering::SeqCst) < 2;
                async move {
                    let n: i64 = tx
                        .query("SELECT n FROM counter WHERE id = 1", ())
                        .await?
                        .one()?;
                    if first_round {
                        barrier.wait().await;
                    }
                    tx.execute("UPDATE counter SET n = ? WHERE id = 1", [n + 1])
                        .await?;
                    Ok(n)
                }
            })
            .await
        })
    };
    let (ra, rb) = (increment(a.clone()), increment(b.clone()));
    let (ra, rb) = within("two increments", async { (ra.await, rb.await) }).await;
    let mut seen = [ra.unwrap().unwrap(), rb.unwrap().unwrap()];
    seen.sort();
    assert_eq!(
        seen,
        [10, 11],
        "each increment saw the other's commit or none"
    );
    assert_eq!(
        scalar(&a, "SELECT n FROM counter").await,
        12,
        "no lost update"
    );
    assert!(
        attempts.load(Ordering::SeqCst) >= 3,
        "one transaction had to retry"
    );

    // Without retries the conflict reaches the caller, typed and retryable.
    let no_retry = Client::connect_with(
        &t.url("conflict"),
        t.token(),
        Config {
            transaction_retries: 0,
            ..Config::default()
        },
    )
    .await
    .unwrap();
    let gate = Arc::new(tokio::sync::Barrier::new(2));
    let run = |db: Client| {
        let gate = gate.clone();
        tokio::spawn(async move {
            db.transaction(|tx| {
                let gate = gate.clone();
                async move {
                    let n: i64 = tx.query("SELECT n FROM counter", ()).await?.one()?;
                    gate.wait().await;
                    tx.execute("UPDATE counter SET n = ?", [n + 1]).await?;
                    Ok(())
                }
            })
            .await
        })
    };
    let (x, y) = (run(no_retry.clone()), run(no_retry));
    let (x, y) = within("two transactions", async { (x.await, y.await) }).await;
    let outcomes = [x.unwrap(), y.unwrap()];
    let errors: Vec<&Error> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert_eq!(errors.len(), 1, "{outcomes:?}");
    assert_eq!(errors[0].code(), Some(ErrorCode::Conflict), "{}", errors[0]);
    assert!(errors[0].is_retryable());
    assert_eq!(scalar(&a, "SELECT n FROM counter").await, 13);
}

/// A transaction open when its WebSocket closes (with the closing
/// handshake, or by a dropped TCP connection) is rolled back: the server
/// holds no transaction any more, and another client sees no trace of it
/// and can write the same row.
pub async fn transaction_dies_with_socket(t: &mut Target) {
    let db = client(t, "dropped").await;
    exec(
        &db,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'base')",
    )
    .await;
    for (round, clean) in [(1, true), (2, false)] {
        let mut ws = RawWs::open(t, "dropped").await;
        ws.ok(json!({"type": "begin"})).await;
        ws.ok(json!({"type": "query", "sql": "UPDATE t SET v = 'ghost' WHERE id = 1"}))
            .await;
        ws.ok(json!({"type": "query", "sql": "INSERT INTO t VALUES (100, 'ghost')"}))
            .await;
        assert_eq!(within("stats", t.open_transactions("dropped")).await, 1);
        if clean {
            ws.close().await;
        } else {
            ws.abort();
        }
        eventually(
            &format!("rollback after the socket closed (clean: {clean})"),
            Duration::from_secs(15),
            || async { (t.open_transactions("dropped").await == 0).then_some(()) },
        )
        .await;
        let now: Vec<(i64, String)> = rows(&db, "SELECT id, v FROM t ORDER BY id").await;
        let want = if round == 1 { "base" } else { "after 1" };
        assert_eq!(now, [(1, want.to_owned())], "round {round}");
        // The same row and key are free to write, in a transaction too.
        db.transaction(|tx| async move {
            tx.execute(
                "UPDATE t SET v = ? WHERE id = 1",
                [format!("after {round}")],
            )
            .await?;
            tx.execute("INSERT INTO t VALUES (100, 'mine')", ()).await?;
            tx.execute("DELETE FROM t WHERE id = 100", ()).await?;
            Ok(())
        })
        .await
        .unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
    assert_eq!(
        rows::<(i64, String)>(&db, "SELECT id, v FROM t").await,
        [(1, "after 2".to_owned())]
    );
}

/// Committed data survives a restart of the runtime on the same state;
/// a transaction open at the restart leaves nothing; clients reconnect.
pub async fn persistence_across_restart(t: &mut Target) {
    let db = client(t, "persist").await;
    exec(&db, "CREATE TABLE p(id INTEGER PRIMARY KEY, n INTEGER, t TEXT, b BLOB); CREATE INDEX p_t ON p(t)").await;
    let blob: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    db.execute(
        "INSERT INTO p VALUES (1, ?, ?, ?)",
        (i64::MIN, "ünïcödé 🦀", blob.clone()),
    )
    .await
    .unwrap();
    db.transaction(|tx| async move {
        tx.execute("INSERT INTO p VALUES (2, 2, 'committed', NULL)", ())
            .await?;
        Ok(())
    })
    .await
    .unwrap();
    let mut open = RawWs::open(t, "persist").await;
    open.ok(json!({"type": "begin"})).await;
    open.ok(json!({"type": "query", "sql": "INSERT INTO p VALUES (3, 3, 'uncommitted', NULL)"}))
        .await;

    within("restart", t.restart()).await;
    drop(open);

    let fresh = client(t, "persist").await;
    let want = vec![
        (1, i64::MIN, "ünïcödé 🦀".to_owned(), Some(blob)),
        (2, 2, "committed".to_owned(), None),
    ];
    let got: Vec<(i64, i64, String, Option<Vec<u8>>)> =
        rows(&fresh, "SELECT id, n, t, b FROM p ORDER BY id").await;
    assert_eq!(
        got, want,
        "committed rows survive, the open transaction does not"
    );
    let schema = fresh.schema().await.unwrap();
    assert_eq!(schema.tables.len(), 1);
    assert_eq!(schema.tables[0].indexes[0].name, "p_t");
    // The client from before the restart reconnects on its next call.
    let n = scalar(&db, "SELECT count(*) FROM p WHERE t = 'committed'").await;
    assert_eq!(n, 1);
    // And the restarted database takes writes.
    db.execute("INSERT INTO p VALUES (3, 3, 'after', NULL)", ())
        .await
        .unwrap();
    assert_eq!(scalar(&fresh, "SELECT sum(id) FROM p").await, 6);
}
