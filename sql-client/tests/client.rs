//! The client against a real `dosql-server`: every call crosses the wire.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use dosql_testkit::{Server, TOKEN};
use serde::Deserialize;
use sql_client::{named, params, BatchStatement, Client, Config, Error, ErrorCode, Value};

async fn client(server: &Server) -> Client {
    Client::connect(&server.url("test"), TOKEN)
        .await
        .expect("connect")
}

#[tokio::test]
async fn crud_round_trip() {
    let server = Server::start();
    let db = client(&server).await;
    assert!(db.uses_websocket());
    db.execute(
        "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)",
        (),
    )
    .await
    .unwrap();
    let r = db
        .execute("INSERT INTO users(name, score) VALUES (?, ?)", ("ada", 9.5))
        .await
        .unwrap();
    assert_eq!((r.rows_affected, r.last_insert_rowid), (1, 1));
    let r = db
        .execute(
            "INSERT INTO users(name, score) VALUES (?1, ?2), (?1, NULL)",
            params!["bob", 7],
        )
        .await
        .unwrap();
    assert_eq!((r.rows_affected, r.last_insert_rowid), (2, 3));
    let r = db
        .execute(
            "UPDATE users SET score = score + 1 WHERE name = :n",
            named! {"n" => "bob"},
        )
        .await
        .unwrap();
    assert_eq!(r.rows_affected, 2);
    let rows = db
        .query("SELECT id, name, score FROM users ORDER BY id", ())
        .await
        .unwrap();
    assert_eq!(rows.columns, ["id", "name", "score"]);
    assert_eq!(
        rows.rows,
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
    let n: i64 = db
        .query("SELECT count(*) FROM users", ())
        .await
        .unwrap()
        .one()
        .unwrap();
    assert_eq!(n, 2);

    let e = db.query("SELEC 1", ()).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Syntax), "{e}");
    let e = db.query("SELECT * FROM nope", ()).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NotFound), "{e}");
    let e = db
        .execute("INSERT INTO users(id, name) VALUES (1, 'dup')", ())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Constraint), "{e}");
    assert!(!e.is_retryable());
    // The connection goes on serving after errors.
    db.ping().await.unwrap();
}

#[tokio::test]
async fn bigints_blobs_and_reals_are_exact() {
    let server = Server::start();
    let db = client(&server).await;
    db.execute("CREATE TABLE v(i INTEGER, r REAL, t TEXT, b BLOB)", ())
        .await
        .unwrap();
    let all_bytes: Vec<u8> = (0..=255).collect();
    let cases = [
        (i64::MIN, 0.1, "ünïcödé 🦀", all_bytes.clone()),
        (i64::MAX, -1e300, "", vec![]),
        ((1 << 53) + 1, 5e-324, "it's \"quoted\"", vec![0]),
        (-(1 << 53) - 1, 1.0, "\n\t\0", vec![255; 3]),
    ];
    for (i, r, t, b) in &cases {
        db.execute("INSERT INTO v VALUES (?, ?, ?, ?)", (*i, *r, *t, b.clone()))
            .await
            .unwrap();
    }
    let got: Vec<(i64, f64, String, Vec<u8>)> = db
        .query("SELECT i, r, t, b FROM v", ())
        .await
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(got.len(), cases.len());
    for ((i, r, t, b), want) in got.iter().zip(&cases) {
        assert_eq!(*i, want.0);
        assert_eq!(r.to_bits(), want.1.to_bits());
        assert_eq!(t, want.2);
        assert_eq!(b, &want.3);
    }
    let types: Vec<(String, String, String, String)> = db
        .query(
            "SELECT typeof(i), typeof(r), typeof(t), typeof(b) FROM v LIMIT 1",
            (),
        )
        .await
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(
        types[0],
        (
            "integer".into(),
            "real".into(),
            "text".into(),
            "blob".into()
        )
    );
    // Arithmetic on the server sees the exact value.
    let max: i64 = db
        .query("SELECT ? - 1", [i64::MAX])
        .await
        .unwrap()
        .one()
        .unwrap();
    assert_eq!(max, i64::MAX - 1);
}

#[derive(Debug, Deserialize, PartialEq)]
struct Item {
    id: i64,
    name: String,
    note: Option<String>,
    data: Option<Vec<u8>>,
    active: bool,
}

#[tokio::test]
async fn rows_decode_into_structs_and_tuples() {
    let server = Server::start();
    let db = client(&server).await;
    db.exec_script(
        "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, note TEXT, data BLOB, active INTEGER);
         INSERT INTO items VALUES (1, 'a', NULL, X'0102', 1), (2, 'b', 'x', NULL, 0);",
    )
    .await
    .unwrap();
    // Column order differs from field order: structs map by name.
    let items: Vec<Item> = db
        .query(
            "SELECT active, data, note, name, id FROM items ORDER BY id",
            (),
        )
        .await
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(
        items,
        vec![
            Item {
                id: 1,
                name: "a".into(),
                note: None,
                data: Some(vec![1, 2]),
                active: true
            },
            Item {
                id: 2,
                name: "b".into(),
                note: Some("x".into()),
                data: None,
                active: false
            },
        ]
    );
    let pairs: Vec<(i64, Option<String>)> = db
        .query("SELECT id, note FROM items ORDER BY id", ())
        .await
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(pairs, vec![(1, None), (2, Some("x".into()))]);
    let e = db
        .query("SELECT name FROM items", ())
        .await
        .unwrap()
        .decode::<(i64,)>()
        .unwrap_err();
    assert!(matches!(e, Error::Decode { row: 0, .. }), "{e}");
}

#[tokio::test]
async fn exec_script_schema_and_ping() {
    let server = Server::start();
    let db = client(&server).await;
    let results = db
        .exec_script(
            "CREATE TABLE a(x INTEGER PRIMARY KEY, y TEXT NOT NULL DEFAULT 'z');
             CREATE INDEX a_y ON a(y);
             INSERT INTO a(x) VALUES (1), (2);
             SELECT count(*) FROM a;",
        )
        .await
        .unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[2].rows_affected, 2);
    assert_eq!(results[3].rows, vec![vec![Value::Integer(2)]]);
    let schema = db.schema().await.unwrap();
    let a = schema
        .tables
        .iter()
        .find(|t| t.name == "a")
        .expect("table a");
    assert_eq!(a.kind, "table");
    let cols: Vec<&str> = a.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(cols, ["x", "y"]);
    assert!(a.columns[1].not_null);
    assert!(a
        .indexes
        .iter()
        .any(|i| i.name == "a_y" && i.columns == ["y"]));
    db.ping().await.unwrap();
    // A script stops at its first failure, which names the statement.
    let e = db
        .exec_script("INSERT INTO a(x) VALUES (3); INSERT INTO a(x) VALUES (1); INSERT INTO a(x) VALUES (4);")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Constraint));
    let xs: Vec<i64> = db
        .query("SELECT x FROM a ORDER BY x", ())
        .await
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(xs, [1, 2, 3]);
}

#[tokio::test]
async fn prepared_statements_run_repeatedly_and_survive_a_restart() {
    let server = Server::start();
    let db = client(&server).await;
    db.execute("CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)", ())
        .await
        .unwrap();
    let insert = db.prepare("INSERT INTO kv VALUES (?, ?)").await.unwrap();
    assert_eq!(insert.param_count(), 2);
    for k in 0..20 {
        let r = insert.execute((k, format!("v{k}"))).await.unwrap();
        assert_eq!(r.last_insert_rowid, k);
    }
    let get = db.prepare("SELECT v FROM kv WHERE k = :k").await.unwrap();
    assert_eq!(get.columns(), ["v"]);
    assert_eq!(get.param_names(), [Some(":k".to_string())]);
    let v: String = get.query(named! {"k" => 7}).await.unwrap().one().unwrap();
    assert_eq!(v, "v7");
    let e = db.prepare("SELECT * FROM missing").await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NotFound));

    // The socket drops. A call that finds it dead fails with a transport
    // error if its frame may have left (it is not re-sent: it may have
    // run), or goes once more on a new socket if the death was noticed
    // first; either way the call after it reconnects.
    let server = server.restart();
    match get.query(named! {"k" => 19}).await {
        Ok(rows) => assert_eq!(rows.one::<String>().unwrap(), "v19"),
        Err(e) => assert!(matches!(e, Error::Transport(_)), "{e}"),
    }
    let v: String = get.query(named! {"k" => 19}).await.unwrap().one().unwrap();
    assert_eq!(v, "v19");
    insert.execute((100, "after")).await.unwrap();
    let n: i64 = db
        .query("SELECT count(*) FROM kv", ())
        .await
        .unwrap()
        .one()
        .unwrap();
    assert_eq!(n, 21);
    drop(server);
}

#[tokio::test]
async fn requests_in_flight_fail_when_the_server_dies_and_the_next_call_reconnects() {
    let mut server = Server::start();
    let db = client(&server).await;
    db.execute("CREATE TABLE t(x)", ()).await.unwrap();
    server.kill();
    let e = db.query("SELECT 1", ()).await.unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e}");
    let e = db.query("SELECT 1", ()).await.unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e}");
}

#[tokio::test]
async fn concurrent_calls_pipeline_over_one_socket() {
    let server = Server::start();
    let db = client(&server).await;
    let calls = (0..64i64).map(|i| {
        let db = db.clone();
        tokio::spawn(async move {
            let rows = db
                .query("SELECT ?1 * 2, ?2", (i, format!("n{i}")))
                .await
                .unwrap();
            rows.one::<(i64, String)>().unwrap()
        })
    });
    let mut answers = Vec::new();
    for c in calls {
        answers.push(c.await.unwrap());
    }
    for (i, (double, name)) in answers.into_iter().enumerate() {
        assert_eq!(double, 2 * i as i64);
        assert_eq!(name, format!("n{i}"));
    }
}

#[tokio::test]
async fn batches_are_atomic_when_transactional() {
    let server = Server::start();
    let db = client(&server).await;
    db.execute("CREATE TABLE b(id INTEGER PRIMARY KEY, v TEXT)", ())
        .await
        .unwrap();
    let ok = db
        .batch(
            vec![
                BatchStatement::new("INSERT INTO b VALUES (?, ?)", params![1, "one"]),
                BatchStatement::new("INSERT INTO b VALUES (?, ?)", params![2, "two"]),
                BatchStatement::new("SELECT count(*) FROM b", params![]),
            ],
            true,
        )
        .await
        .unwrap();
    assert_eq!(ok.len(), 3);
    assert_eq!(ok[2].rows, vec![vec![Value::Integer(2)]]);

    let failing = || {
        vec![
            BatchStatement::new("INSERT INTO b VALUES (3, 'three')", params![]),
            BatchStatement::new("INSERT INTO b VALUES (1, 'dup')", params![]),
            BatchStatement::new("INSERT INTO b VALUES (4, 'four')", params![]),
        ]
    };
    let e = db.batch(failing(), true).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Constraint), "{e}");
    assert_eq!(e.wire().unwrap().statement, Some(1));
    let ids: Vec<i64> = db
        .query("SELECT id FROM b ORDER BY id", ())
        .await
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(ids, [1, 2], "a failed transactional batch left changes");

    let e = db.batch(failing(), false).await.unwrap_err();
    assert_eq!(e.wire().unwrap().statement, Some(1));
    let ids: Vec<i64> = db
        .query("SELECT id FROM b ORDER BY id", ())
        .await
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(
        ids,
        [1, 2, 3],
        "a non-transactional batch keeps what ran before the failure"
    );
}

#[tokio::test]
async fn frames_over_the_websocket_limit_go_over_http() {
    let server = Server::start();
    let db = client(&server).await;
    db.execute("CREATE TABLE big(b BLOB)", ()).await.unwrap();
    // 1.5 MiB of bytes is 2 MiB of base64: twice the WebSocket limit.
    let blob: Vec<u8> = (0..(3 << 19)).map(|i: u32| (i % 251) as u8).collect();
    db.execute("INSERT INTO big VALUES (?)", [blob.clone()])
        .await
        .unwrap();
    let insert = db.prepare("INSERT INTO big VALUES (?)").await.unwrap();
    insert.execute([blob.clone()]).await.unwrap();
    let got: Vec<Vec<u8>> = db
        .query("SELECT b FROM big", ())
        .await
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(got, vec![blob.clone(), blob.clone()]);

    // HTTP would run it outside a transaction opened on the socket: refused.
    db.execute("BEGIN", ()).await.unwrap();
    let e = db
        .execute("INSERT INTO big VALUES (?)", [blob.clone()])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::LimitExceeded), "{e}");
    db.execute("INSERT INTO big VALUES (x'00')", ())
        .await
        .unwrap();
    db.execute("ROLLBACK", ()).await.unwrap();
    db.execute("INSERT INTO big VALUES (?)", [blob])
        .await
        .unwrap();
    let n: i64 = db
        .query("SELECT count(*) FROM big", ())
        .await
        .unwrap()
        .one()
        .unwrap();
    assert_eq!(n, 3);
}

#[tokio::test]
async fn transactions_commit_or_roll_back() {
    let server = Server::start();
    let db = client(&server).await;
    db.execute("CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER)", ())
        .await
        .unwrap();
    db.execute("INSERT INTO acct VALUES (1, 100), (2, 0)", ())
        .await
        .unwrap();
    let moved = db
        .transaction(|tx| async move {
            tx.execute("UPDATE acct SET bal = bal - 30 WHERE id = 1", ())
                .await?;
            tx.execute("UPDATE acct SET bal = bal + 30 WHERE id = 2", ())
                .await?;
            let inside: i64 = tx
                .query("SELECT bal FROM acct WHERE id = 2", ())
                .await?
                .one()?;
            Ok(inside)
        })
        .await
        .unwrap();
    assert_eq!(moved, 30);
    let e = db
        .transaction(|tx| async move {
            tx.execute("UPDATE acct SET bal = 0", ()).await?;
            tx.execute("INSERT INTO acct VALUES (1, 0)", ()).await?;
            Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Constraint));
    let bals: Vec<(i64, i64)> = db
        .query("SELECT id, bal FROM acct ORDER BY id", ())
        .await
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(
        bals,
        [(1, 70), (2, 30)],
        "the failed transaction was rolled back"
    );
    // A handle kept past the closure refuses to run.
    let kept = db.transaction(|tx| async move { Ok(tx) }).await.unwrap();
    assert!(matches!(
        kept.query("SELECT 1", ()).await,
        Err(Error::Invalid(_))
    ));
}

#[tokio::test]
async fn conflicting_transactions_retry_until_both_commit() {
    let server = Server::start();
    let a = client(&server).await;
    let b = client(&server).await;
    a.execute(
        "CREATE TABLE counter(id INTEGER PRIMARY KEY, n INTEGER)",
        (),
    )
    .await
    .unwrap();
    a.execute("INSERT INTO counter VALUES (1, 0)", ())
        .await
        .unwrap();
    // Both read before either writes, so one of them must conflict.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let attempts = Arc::new(AtomicU32::new(0));
    let increment = |db: Client| {
        let barrier = barrier.clone();
        let attempts = attempts.clone();
        tokio::spawn(async move {
            db.transaction(|tx| {
                let barrier = barrier.clone();
                let first = attempts.fetch_add(1, Ordering::SeqCst) < 2;
                async move {
                    let n: i64 = tx
                        .query("SELECT n FROM counter WHERE id = 1", ())
                        .await?
                        .one()?;
                    if first {
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
    let (ra, rb) = (increment(a.clone()), increment(b));
    let (ra, rb) = (ra.await.unwrap().unwrap(), rb.await.unwrap().unwrap());
    let mut seen = [ra, rb];
    seen.sort();
    assert_eq!(
        seen,
        [0, 1],
        "each increment saw the other's commit or none"
    );
    let n: i64 = a
        .query("SELECT n FROM counter", ())
        .await
        .unwrap()
        .one()
        .unwrap();
    assert_eq!(n, 2, "no lost update");
    assert!(
        attempts.load(Ordering::SeqCst) >= 3,
        "one transaction had to retry"
    );

    // Without retries the conflict reaches the caller, typed and retryable.
    let no_retry = Client::connect_with(
        &server.url("test"),
        TOKEN,
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
    let outcomes = [x.await.unwrap(), y.await.unwrap()];
    let errors: Vec<&Error> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert_eq!(errors.len(), 1, "{outcomes:?}");
    assert_eq!(errors[0].code(), Some(ErrorCode::Conflict));
    assert!(errors[0].is_retryable());
}

#[tokio::test]
async fn a_transaction_whose_server_dies_is_reported_lost() {
    let server = Server::start();
    let db = client(&server).await;
    db.execute("CREATE TABLE t(x)", ()).await.unwrap();
    let server = std::sync::Mutex::new(Some(server));
    let e = db
        .transaction(|tx| {
            let victim = server.lock().unwrap().take();
            async move {
                tx.execute("INSERT INTO t VALUES (1)", ()).await?;
                drop(victim); // kills the server
                tx.execute("INSERT INTO t VALUES (2)", ()).await?;
                Ok(())
            }
        })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::TransactionLost(_)), "{e}");
}

#[tokio::test]
async fn bad_tokens_are_refused_on_every_transport() {
    let server = Server::start();
    let url = server.url("test");
    let e = Client::connect(&url, "wrong").await.expect_err("refused");
    assert_eq!(e.code(), Some(ErrorCode::Auth), "{e}");
    let http = Config {
        http_only: true,
        ..Config::default()
    };
    let e = Client::connect_with(&url, "wrong", http.clone())
        .await
        .expect_err("refused");
    assert_eq!(e.code(), Some(ErrorCode::Auth), "{e}");
    // HTTP-only with the right token works, including prepared statements.
    let db = Client::connect_with(&url, TOKEN, http).await.unwrap();
    assert!(!db.uses_websocket());
    db.execute("CREATE TABLE h(x)", ()).await.unwrap();
    let ins = db.prepare("INSERT INTO h VALUES (?)").await.unwrap();
    ins.execute([5]).await.unwrap();
    let x: i64 = db
        .query("SELECT x FROM h", ())
        .await
        .unwrap()
        .one()
        .unwrap();
    assert_eq!(x, 5);
    assert!(db.transaction(|_tx| async { Ok(()) }).await.is_err());
}

#[tokio::test]
async fn bad_urls_fail_before_any_io() {
    let e = Client::connect("http://127.0.0.1:1/nodb", TOKEN)
        .await
        .err()
        .unwrap();
    assert!(matches!(e, Error::Invalid(_)), "{e}");
}

#[tokio::test]
async fn per_handle_timeouts_give_up_and_leave_the_connection_usable() {
    let server = Server::start();
    let db = client(&server).await;
    let values: Vec<String> = (0..100).map(|i| format!("({i})")).collect();
    db.execute("CREATE TABLE n(x INTEGER)", ()).await.unwrap();
    db.execute(&format!("INSERT INTO n VALUES {}", values.join(",")), ())
        .await
        .unwrap();
    // A million-row join takes far longer than 10 ms.
    let slow = "SELECT count(*) FROM n a, n b, n c";
    let impatient = db.with_timeout(std::time::Duration::from_millis(10));
    let e = impatient.query(slow, ()).await.unwrap_err();
    assert!(matches!(e, Error::Timeout(_)), "{e}");
    let stmt = impatient.prepare(slow).await.unwrap();
    assert!(matches!(stmt.query(()).await, Err(Error::Timeout(_))));
    // The late answers are dropped; the shared socket goes on serving.
    let n: i64 = db.query(slow, ()).await.unwrap().one().unwrap();
    assert_eq!(n, 1_000_000);
    let patient = db.with_timeout(std::time::Duration::from_secs(60));
    let n: i64 = patient.query("SELECT 4", ()).await.unwrap().one().unwrap();
    assert_eq!(n, 4);
}
