//! The live pipeline end to end: rows written through `sql-client` to a
//! real `dosql-server` reach Iceberg tables in the server's bucket, with no
//! other process involved (each database ships to the server's lake,
//! which flushes on its own clock), and are read back by the Rust reader,
//! by PyIceberg through the REST catalog and by DuckDB over the S3 route.
//!
//! ```text
//!   sql-client ──> dosql-server: db thread ── frames ──> lake thread ── flush ──> LAKE/bucket
//!   test: probe slot -> commit LSN; poll the catalog until the current
//!         snapshot's summary dolake.lsn.<db> >= that LSN; compare rows
//! ```
//!
//! The commit LSN of a change is read from a slot of the test's own
//! ("probe"), which holds the WAL back, so it is exact whatever the lake's
//! slot has acknowledged meanwhile. The Python readers come from
//! `dosql_testkit::python()`; a missing interpreter fails the test.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use dolake::reader::TableReader;
use dolake::store::DirStore;
use dolake::table::LSN_SUMMARY_PREFIX;
use dosql_testkit::{Server, TOKEN};
use serde_json::{json, Value as Json};
use sql_client::cdc::ChangeFilter;
use sql_client::{Client, Value};

/// How long a flush may take to show up (the policy age is 300 ms).
const PATIENCE: Duration = Duration::from_secs(60);

const PROBE: &str = "probe";

async fn connect(server: &Server, db: &str) -> Client {
    Client::connect(&server.url(db), TOKEN)
        .await
        .expect("connect")
}

/// `GET path` with the token: (status, JSON body).
async fn get(server: &Server, path: &str, token: Option<&str>) -> (u16, Json) {
    let mut request = reqwest::Client::new().get(format!("{}{path}", server.base));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Json::String(text)),
    )
}

async fn stats(server: &Server) -> Json {
    let (status, body) = get(server, "/lake/stats", Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The LSN of the last change to `table` since the previous call, read
/// through the probe slot (created on first use, before the changes).
async fn last_change(db: &Client, table: &str) -> u64 {
    let probe = db
        .list_slots()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == PROBE)
        .expect("the probe slot exists");
    let filter = ChangeFilter {
        tables: vec![table.to_owned()],
        ops: Vec::new(),
    };
    let batch = db.read_changes(probe.acked_lsn + 1, filter).await.unwrap();
    assert_eq!(batch.next_lsn, batch.last_lsn + 1, "one batch reads it all");
    let lsn = batch.txns.last().expect("a change to the table").lsn;
    db.ack_slot(PROBE, lsn).await.unwrap();
    lsn
}

/// Polls the catalog until the current snapshot of `dosql.<table>` covers
/// every (shard, LSN) of `covers`: (snapshot id, metadata location).
async fn wait_snapshot(server: &Server, table: &str, covers: &[(&str, u64)]) -> (i64, String) {
    let path = format!("/iceberg/v1/namespaces/dosql/tables/{table}");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, body) = get(server, &path, Some(TOKEN)).await;
        if status == 200 {
            let md = &body["metadata"];
            let current = md["current-snapshot-id"].as_i64();
            let snapshot = md["snapshots"]
                .as_array()
                .and_then(|s| s.iter().find(|s| s["snapshot-id"].as_i64() == current));
            let covered = |s: &Json| {
                covers.iter().all(|(shard, lsn)| {
                    s["summary"][format!("{LSN_SUMMARY_PREFIX}{shard}")]
                        .as_str()
                        .and_then(|v| v.parse::<u64>().ok())
                        .is_some_and(|v| v >= *lsn)
                })
            };
            if let (Some(id), Some(s)) = (current, snapshot) {
                if covered(s) {
                    let location = body["metadata-location"].as_str().unwrap().to_owned();
                    return (id, location);
                }
            }
        } else {
            assert_eq!(status, 404, "{body}");
        }
        assert!(
            Instant::now() < deadline,
            "no snapshot of {table} covers {covers:?} after {PATIENCE:?}: {}",
            stats(server).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The rows of the table at `metadata_location` (a snapshot, or the
/// current one), read from the bucket's files by dolake's reader.
fn lake_rows(server: &Server, metadata_location: &str, snapshot: Option<i64>) -> Vec<Json> {
    let store = DirStore::new(server.dir.path().join(".lake/bucket"));
    let reader = TableReader::new(&store, "s3://lake");
    let metadata = reader.load_metadata(metadata_location).unwrap();
    let scan = reader.scan(&metadata, snapshot).unwrap();
    ordered(scan.batches.iter().flat_map(batch_rows).collect())
}

fn batch_rows(b: &RecordBatch) -> Vec<Json> {
    (0..b.num_rows())
        .map(|i| {
            let mut row = serde_json::Map::new();
            for (field, col) in b.schema().fields().iter().zip(b.columns()) {
                let any = col.as_any();
                let v = if col.is_null(i) {
                    Json::Null
                } else if let Some(a) = any.downcast_ref::<Int64Array>() {
                    json!(a.value(i))
                } else if let Some(a) = any.downcast_ref::<Float64Array>() {
                    json!(a.value(i))
                } else if let Some(a) = any.downcast_ref::<StringArray>() {
                    json!(a.value(i))
                } else {
                    panic!("unexpected column type {}", col.data_type())
                };
                row.insert(field.name().clone(), v);
            }
            Json::Object(row)
        })
        .collect()
}

fn ordered(mut rows: Vec<Json>) -> Vec<Json> {
    rows.sort_by_key(|r| {
        (
            r["_shard"].as_str().unwrap_or("").to_owned(),
            r["id"].as_i64(),
        )
    });
    rows
}

/// What the lake must hold for `db`: its rows of `sql`, with `_shard`.
async fn sql_rows(db: &Client, shard: &str, sql: &str) -> Vec<Json> {
    let rows = db.query(sql, ()).await.unwrap();
    let out = rows
        .rows
        .iter()
        .map(|values| {
            let mut row = serde_json::Map::new();
            row.insert("_shard".into(), json!(shard));
            for (c, v) in rows.columns.iter().zip(values) {
                let v = match v {
                    Value::Null => Json::Null,
                    Value::Integer(i) => json!(i),
                    Value::Real(f) => json!(f),
                    Value::Text(s) => json!(s),
                    Value::Blob(b) => json!(b),
                };
                row.insert(c.clone(), v);
            }
            Json::Object(row)
        })
        .collect();
    ordered(out)
}

/// The external readers' view of `dosql.<table>` (see lake_pipeline.py).
fn external_rows(server: &Server, table: &str, old_snapshot: i64) -> Json {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lake_pipeline.py");
    let out = Command::new(dosql_testkit::python())
        .arg(&script)
        .env("CATALOG_URI", format!("{}/iceberg", server.base))
        .env("TOKEN", TOKEN)
        .env("S3_ENDPOINT", format!("{}/s3", server.addr))
        .env("TABLE", table)
        .env("OLD_SNAPSHOT", old_snapshot.to_string())
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "lake_pipeline.py failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("one JSON line")
}

const SELECT_T: &str = "SELECT id, name, score FROM t";

#[tokio::test]
async fn commits_become_snapshots_that_pyiceberg_and_duckdb_read() {
    let server = Server::start_with(&["--lake-flush-ms", "300"]);
    let db = connect(&server, "shop").await;
    db.create_slot(PROBE).await.unwrap();
    db.execute(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL)",
        (),
    )
    .await
    .unwrap();
    for chunk in 0..4 {
        let values: Vec<String> = (1..=10)
            .map(|i| chunk * 10 + i)
            .map(|id| format!("({id}, 'row-{id}', {})", id as f64 * 0.5))
            .collect();
        let sql = format!("INSERT INTO t VALUES {}", values.join(", "));
        db.execute(&sql, ()).await.unwrap();
    }
    let first_lsn = last_change(&db, "t").await;
    let (first, _) = wait_snapshot(&server, "t", &[("shop", first_lsn)]).await;
    let first_rows = sql_rows(&db, "shop", SELECT_T).await;
    assert_eq!(first_rows.len(), 40);

    db.execute(
        "UPDATE t SET name = 'renamed-' || id, score = score * 2 WHERE id % 3 = 0",
        (),
    )
    .await
    .unwrap();
    db.execute("DELETE FROM t WHERE id % 5 = 0", ())
        .await
        .unwrap();
    db.execute("INSERT INTO t VALUES (100, 'late', NULL)", ())
        .await
        .unwrap();
    let second_lsn = last_change(&db, "t").await;
    let (second, location) = wait_snapshot(&server, "t", &[("shop", second_lsn)]).await;
    assert_ne!(first, second);
    let rows = sql_rows(&db, "shop", SELECT_T).await;
    assert_eq!(rows.len(), 40 - 8 + 1);

    // The Rust reader over the bucket's files: now and at the first snapshot.
    assert_eq!(lake_rows(&server, &location, None), rows);
    assert_eq!(lake_rows(&server, &location, Some(first)), first_rows);

    // PyIceberg through the catalog, DuckDB over the S3 route (blocking
    // is fine: the server is another process).
    let external = external_rows(&server, "t", first);
    assert_eq!(external["current_snapshot"], json!(second));
    for reader in ["pyiceberg", "duckdb"] {
        assert_eq!(external[reader], json!(rows), "{reader}, current");
        assert_eq!(
            external[format!("{reader}_old")],
            json!(first_rows),
            "{reader}, snapshot {first}"
        );
    }

    // The stats route tells the same story.
    let s = stats(&server).await;
    assert!(
        s["lake"]["tables"]["t"]["flushes"].as_u64().unwrap() >= 2,
        "{s}"
    );
    assert!(
        s["lake"]["shards"]["shop"].as_u64().unwrap() >= second_lsn,
        "{s}"
    );
    let shipping = &s["databases"]["shop"];
    assert!(shipping["acked_lsn"].as_u64().unwrap() >= second_lsn, "{s}");
    assert_eq!(shipping["stopped"], Json::Null, "{s}");
}

#[tokio::test]
async fn a_restart_before_the_flush_loses_and_duplicates_nothing() {
    // A flush age no test waits for: nothing is flushed before the kill.
    let mut server = Server::start_with(&["--lake-flush-ms", "600000"]);
    let lsn = {
        let db = connect(&server, "crash").await;
        db.create_slot(PROBE).await.unwrap();
        db.execute(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL)",
            (),
        )
        .await
        .unwrap();
        for id in 1..=20 {
            db.execute(
                "INSERT INTO t VALUES (?, ?, ?)",
                (id, format!("r{id}"), 1.5),
            )
            .await
            .unwrap();
        }
        // The lake has these (acknowledged, buffered, not flushed)...
        let acked = last_change(&db, "t").await;
        let deadline = Instant::now() + PATIENCE;
        loop {
            let s = stats(&server).await;
            if s["lake"]["shards"]["crash"]
                .as_u64()
                .is_some_and(|l| l >= acked)
            {
                assert_eq!(s["lake"]["tables"]["t"]["flushes"], 0, "{s}");
                assert!(s["lake"]["tables"]["t"]["buffered_rows"].as_u64() >= Some(20));
                break;
            }
            assert!(Instant::now() < deadline, "never shipped: {s}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // ...and these are killed in flight or in the slot.
        db.execute("UPDATE t SET score = 9.0 WHERE id <= 5", ())
            .await
            .unwrap();
        db.execute("DELETE FROM t WHERE id > 18", ()).await.unwrap();
        db.execute("INSERT INTO t VALUES (21, 'r21', NULL)", ())
            .await
            .unwrap();
        last_change(&db, "t").await
    };
    let (status, _) = get(
        &server,
        "/iceberg/v1/namespaces/dosql/tables/t",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 404, "no flush before the kill");
    let server = server.restart_with(&["--lake-flush-ms", "300"]);

    // No client comes: the server reopens its databases and ships.
    let (_, location) = wait_snapshot(&server, "t", &[("crash", lsn)]).await;
    let db = connect(&server, "crash").await;
    let rows = sql_rows(&db, "crash", SELECT_T).await;
    assert_eq!(rows.len(), 19);
    assert_eq!(lake_rows(&server, &location, None), rows);
}

#[tokio::test]
async fn two_databases_fill_one_table_with_a_shard_column() {
    let server = Server::start_with(&["--lake-flush-ms", "300"]);
    let (status, _) = get(&server, "/lake/stats", None).await;
    assert_eq!(status, 401);
    let (status, _) = get(&server, "/lake/stats", Some("wrong")).await;
    assert_eq!(status, 401);
    let mut covers = Vec::new();
    let mut expected = Vec::new();
    for (shard, first) in [("east", 1), ("west", 1000)] {
        let db = connect(&server, shard).await;
        db.create_slot(PROBE).await.unwrap();
        db.execute(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL)",
            (),
        )
        .await
        .unwrap();
        for id in first..first + 5 {
            db.execute("INSERT INTO t VALUES (?, ?, ?)", (id, shard, id as f64))
                .await
                .unwrap();
        }
        // The same key in both shards is two rows: `_shard` is in the key.
        db.execute("INSERT INTO t VALUES (7, 'both', 0.25)", ())
            .await
            .unwrap();
        covers.push((shard, last_change(&db, "t").await));
        expected.extend(sql_rows(&db, shard, SELECT_T).await);
    }
    let (_, location) = wait_snapshot(&server, "t", &covers).await;
    let rows = lake_rows(&server, &location, None);
    assert_eq!(rows.len(), 12);
    assert_eq!(rows, ordered(expected));
    let s = stats(&server).await;
    for (shard, lsn) in &covers {
        assert!(
            s["databases"][shard]["acked_lsn"].as_u64() >= Some(*lsn),
            "{s}"
        );
        assert_eq!(s["databases"][shard]["shard"], json!(shard), "{s}");
    }
}

#[tokio::test]
async fn a_transaction_larger_than_a_link_frame_arrives_whole() {
    let server = Server::start_with(&["--lake-flush-ms", "300"]);
    let db = connect(&server, "bulk").await;
    db.create_slot(PROBE).await.unwrap();
    db.execute(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL)",
        (),
    )
    .await
    .unwrap();
    // One statement, one transaction: 5,000 rows of 400 characters with
    // quotes, about 2.5 MiB of change events, over two link frames.
    db.execute(
        "INSERT INTO t WITH RECURSIVE n(i) AS \
         (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) \
         SELECT i, printf('%d \"%s\"', i, hex(zeroblob(196))), i * 0.25 FROM n",
        (),
    )
    .await
    .unwrap();
    let lsn = last_change(&db, "t").await;
    let (_, location) = wait_snapshot(&server, "t", &[("bulk", lsn)]).await;
    let rows = sql_rows(&db, "bulk", SELECT_T).await;
    assert_eq!(rows.len(), 5_000);
    assert_eq!(lake_rows(&server, &location, None), rows);
    let s = stats(&server).await;
    let parts = s["databases"]["bulk"]["parts_sent"].as_u64().unwrap_or(0);
    assert!(parts >= 3, "sent in parts: {s}");
    assert_eq!(s["databases"]["bulk"]["stopped"], Json::Null, "{s}");
}
