//! `dosql-server` end to end: the binary is started on 127.0.0.1:0 and
//! driven over real sockets, WebSocket (tokio-tungstenite) and HTTP/1.1
//! (a few lines of client below).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value as Json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

const TOKEN: &str = "test-token";

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    async fn start(data: &Path) -> Server {
        Server::start_with(data, &[]).await
    }

    async fn start_with(data: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dosql-server"))
            .args(["--listen", "127.0.0.1:0", "--token", TOKEN, "--data"])
            .arg(data)
            .args(extra)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next_line().await.unwrap().expect("server output");
            if let Some(addr) = line.strip_prefix("listening on http://") {
                break addr.to_string();
            }
        };
        Server { child, addr }
    }

    async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }

    /// One HTTP/1.1 request: (status, body).
    async fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &str,
    ) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).await.unwrap();
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(body.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        let status = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").unwrap().1.to_string();
        (status, body)
    }

    async fn post(&self, db: &str, route: &str, body: Json) -> (u16, Json) {
        let (status, text) = self
            .http(
                "POST",
                &format!("/db/{db}/v1/{route}"),
                Some(TOKEN),
                &body.to_string(),
            )
            .await;
        (status, serde_json::from_str(&text).unwrap_or(Json::Null))
    }

    /// Rows of one query over HTTP.
    async fn rows(&self, db: &str, sql: &str) -> Json {
        let (status, body) = self
            .post(db, "batch", json!({"statements": [{"sql": sql}]}))
            .await;
        assert_eq!(status, 200, "{body}");
        body["results"][0]["rows"].clone()
    }

    async fn ws(&self, db: &str) -> Ws {
        let url = format!("ws://{}/db/{db}/v1/ws?token={TOKEN}", self.addr);
        Ws {
            socket: connect_async(url).await.unwrap().0,
            next_id: 0,
        }
    }

    async fn health(&self) -> Json {
        let (status, body) = self.http("GET", "/health", None, "").await;
        assert_eq!(status, 200);
        serde_json::from_str(&body).unwrap()
    }
}

struct Ws {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Ws {
    async fn send_text(&mut self, text: String) -> Json {
        self.socket.send(Message::text(text)).await.unwrap();
        self.recv().await
    }

    async fn recv(&mut self) -> Json {
        loop {
            match self.socket.next().await.unwrap().unwrap() {
                Message::Text(t) => return serde_json::from_str(&t).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Sends a request and returns its response, checking the id.
    async fn call(&mut self, mut request: Json) -> Json {
        self.next_id += 1;
        request["id"] = json!(self.next_id);
        let r = self.send_text(request.to_string()).await;
        assert_eq!(r["id"], self.next_id, "{r}");
        r
    }

    async fn query(&mut self, sql: &str) -> Json {
        self.call(json!({"type": "query", "sql": sql})).await
    }
}

#[tokio::test]
async fn crud_and_transactions_over_websocket_and_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    assert_eq!(server.health().await["status"], "ok");
    let (status, body) = server
        .post("app", "pipeline", json!({"requests": [
            {"type": "exec", "sql": "CREATE TABLE kv(k TEXT PRIMARY KEY, v)"},
            {"type": "query", "sql": "INSERT INTO kv VALUES (:k, :v)", "params": {"k": "a", "v": 1}}
        ]}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["responses"][1]["rows_affected"], 1);

    let mut a = server.ws("app").await;
    let mut b = server.ws("app").await;
    let hello = a.call(json!({"type": "hello", "version": 1})).await;
    assert_eq!(hello["type"], "hello");
    let r = a
        .call(
            json!({"type": "query", "sql": "UPDATE kv SET v = ? WHERE k = ?", "params": [2, "a"]}),
        )
        .await;
    assert_eq!(r["rows_affected"], 1);
    assert_eq!(
        a.call(json!({"type": "begin"})).await["in_transaction"],
        true
    );
    a.query("INSERT INTO kv VALUES ('b', x'00ff')").await;
    a.query("DELETE FROM kv WHERE k = 'a'").await;
    // Not visible to another connection before the commit.
    assert_eq!(b.query("SELECT k FROM kv").await["rows"], json!([["a"]]));
    assert_eq!(
        a.call(json!({"type": "commit"})).await["in_transaction"],
        false
    );
    let r = b.query("SELECT k, v FROM kv").await;
    assert_eq!(r["rows"], json!([["b", {"blob": "AP8="}]]));
    let schema = b.call(json!({"type": "schema"})).await;
    assert_eq!(schema["tables"][0]["name"], "kv");
    server.stop().await;
}

#[tokio::test]
async fn pipelined_frames_are_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut ws = server.ws("p").await;
    ws.call(json!({"type": "exec", "sql": "CREATE TABLE t(x)"}))
        .await;
    for i in 0..20 {
        let f = json!({"id": 100 + i, "type": "query", "sql": "INSERT INTO t VALUES (?)", "params": [i]});
        ws.socket.send(Message::text(f.to_string())).await.unwrap();
    }
    for i in 0..20 {
        let r = ws.recv().await;
        assert_eq!(r["id"], 100 + i);
        assert_eq!(r["rows_affected"], 1);
    }
    assert_eq!(
        ws.query("SELECT count(*) FROM t").await["rows"],
        json!([[20]])
    );
    server.stop().await;
}

#[tokio::test]
async fn two_connections_conflict_and_the_loser_is_told_to_retry() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut a = server.ws("c").await;
    let mut b = server.ws("c").await;
    a.call(json!({"type": "exec", "sql": "CREATE TABLE t(id INTEGER PRIMARY KEY, n); INSERT INTO t VALUES (1, 0)"})).await;
    a.call(json!({"type": "begin"})).await;
    b.call(json!({"type": "begin"})).await;
    a.query("UPDATE t SET n = 1 WHERE id = 1").await;
    b.query("UPDATE t SET n = 2 WHERE id = 1").await;
    assert_eq!(a.call(json!({"type": "commit"})).await["type"], "ok");
    let e = b.call(json!({"type": "commit"})).await;
    assert_eq!(
        (e["code"].clone(), e["retryable"].clone()),
        (json!("CONFLICT"), json!(true))
    );
    assert_eq!(server.rows("c", "SELECT n FROM t").await, json!([[1]]));
    server.stop().await;
}

#[tokio::test]
async fn requests_without_the_token_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let create = json!({"statements": [{"sql": "CREATE TABLE t(x)"}]}).to_string();
    for token in [None, Some("wrong")] {
        for route in ["batch", "pipeline"] {
            let (status, body) = server
                .http("POST", &format!("/db/auth/v1/{route}"), token, &create)
                .await;
            assert_eq!(status, 401, "{body}");
            let body: Json = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"]["code"], "AUTH");
        }
    }
    for url in [
        format!("ws://{}/db/auth/v1/ws", server.addr),
        format!("ws://{}/db/auth/v1/ws?token=wrong", server.addr),
    ] {
        let err = connect_async(url).await.unwrap_err().to_string();
        assert!(err.contains("401"), "{err}");
    }
    // Nothing was created, not even the database directory.
    assert!(!dir.path().join("auth").exists());
    assert_eq!(server.health().await["databases"], 0);
    // The header works for WebSockets too.
    let mut req = format!("ws://{}/db/auth/v1/ws", server.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let mut ws = Ws {
        socket: connect_async(req).await.unwrap().0,
        next_id: 0,
    };
    assert_eq!(
        ws.query("SELECT count(*) FROM sqlite_schema").await["type"],
        "error"
    );
    assert_eq!(
        ws.call(json!({"type": "schema"})).await["tables"],
        json!([])
    );
    let (status, _) = server
        .post("bad.name", "batch", json!({"statements": []}))
        .await;
    assert_eq!(status, 400);
    server.stop().await;
}

#[tokio::test]
async fn bad_frames_get_typed_errors_and_the_connection_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut ws = server.ws("f").await;
    let r = ws.send_text("{nope".into()).await;
    assert_eq!(
        (r["id"].clone(), r["code"].clone()),
        (Json::Null, json!("INVALID_REQUEST"))
    );
    let r = ws.send_text(r#"{"id": 9, "type": "query"}"#.into()).await;
    assert_eq!(
        (r["id"].clone(), r["code"].clone()),
        (json!(9), json!("INVALID_REQUEST"))
    );
    let big = format!(
        r#"{{"id": 10, "type": "query", "sql": "SELECT '{}'"}}"#,
        "x".repeat(1 << 20)
    );
    let r = ws.send_text(big).await;
    assert_eq!(r["code"], "LIMIT_EXCEEDED");
    ws.socket
        .send(Message::binary(vec![1, 2, 3]))
        .await
        .unwrap();
    assert_eq!(ws.recv().await["code"], "INVALID_REQUEST");
    assert_eq!(ws.query("SELECT 6 * 7").await["rows"], json!([[42]]));
    // Oversized and malformed HTTP bodies too.
    let huge = "x".repeat((16 << 20) + 10);
    let (status, body) = server
        .http("POST", "/db/f/v1/pipeline", Some(TOKEN), &huge)
        .await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("LIMIT_EXCEEDED"), "{body}");
    let (status, body) = server
        .http("POST", "/db/f/v1/batch", Some(TOKEN), "{")
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("INVALID_REQUEST"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn databases_are_kept_apart_and_persist_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    for (db, v) in [("one", 1), ("two", 2)] {
        let (status, body) = server
            .post(
                db,
                "batch",
                json!({"statements": [
                    {"sql": "CREATE TABLE t(v)"},
                    {"sql": "INSERT INTO t VALUES (?)", "params": [v]}
                ]}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(server.rows("one", "SELECT v FROM t").await, json!([[1]]));
    assert_eq!(server.rows("two", "SELECT v FROM t").await, json!([[2]]));
    server.stop().await;

    let server = Server::start(dir.path()).await;
    assert_eq!(server.rows("one", "SELECT v FROM t").await, json!([[1]]));
    assert_eq!(server.rows("two", "SELECT v FROM t").await, json!([[2]]));
    server.stop().await;
}

/// Polls /health until `ready` holds (the server acts on its own time).
async fn wait_health(server: &Server, ready: impl Fn(&Json) -> bool) -> Json {
    let mut health = Json::Null;
    for _ in 0..100 {
        health = server.health().await;
        if ready(&health) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    health
}

#[tokio::test]
async fn idle_transactions_are_rolled_back_by_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &["--txn-timeout-ms", "200"]).await;
    let mut a = server.ws("idle").await;
    a.call(json!({"type": "exec", "sql": "CREATE TABLE t(id INTEGER PRIMARY KEY)"}))
        .await;
    a.call(json!({"type": "begin"})).await;
    a.query("INSERT INTO t VALUES (1)").await;
    // No request comes: the database thread expires the transaction.
    let health = wait_health(&server, |h| h["transactions"] == 0).await;
    assert_eq!(
        (
            health["transactions"].clone(),
            health["connections"].clone()
        ),
        (json!(0), json!(1))
    );
    let e = a.call(json!({"type": "commit"})).await;
    assert_eq!(e["code"], "TIMEOUT");
    assert_eq!(
        a.query("SELECT count(*) FROM t").await["rows"],
        json!([[0]])
    );
    server.stop().await;
}

#[tokio::test]
async fn a_dropped_connection_rolls_back_its_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut a = server.ws("d").await;
    a.call(json!({"type": "exec", "sql": "CREATE TABLE t(id INTEGER PRIMARY KEY)"}))
        .await;
    a.call(json!({"type": "begin"})).await;
    a.query("INSERT INTO t VALUES (1)").await;
    assert_eq!(server.health().await["transactions"], 1);
    drop(a);
    let left = wait_health(&server, |h| h["transactions"] == 0 && h["connections"] == 0).await;
    assert_eq!(
        (left["transactions"].clone(), left["connections"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(
        server.rows("d", "SELECT count(*) FROM t").await,
        json!([[0]])
    );
    let mut b = server.ws("d").await;
    b.call(json!({"type": "begin"})).await;
    b.query("INSERT INTO t VALUES (1)").await;
    assert_eq!(b.call(json!({"type": "commit"})).await["type"], "ok");
    assert_eq!(
        server.rows("d", "SELECT count(*) FROM t").await,
        json!([[1]])
    );
    server.stop().await;
}
