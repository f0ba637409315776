//! lake-client against a real dosql-server serving a lake written by
//! DoLake's writer (see `fixture`): browsing, scans of the current state
//! and of every snapshot (position deletes applied), and error kinds.

mod fixture;

use std::collections::BTreeMap;

use arrow_array::{Array, Int64Array, StringArray};
use dosql_testkit::{Server, TOKEN};
use fixture::{Fixture, Rows, LSNS, SNAPSHOTS, T0};
use lake_client::{Config, Error, LakeClient, Operation, ScanResult};

struct Lake {
    _dir: tempfile::TempDir,
    server: Server,
    fixture: Fixture,
}

fn lake() -> Lake {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture::write(dir.path());
    let server = Server::start_with(&["--lake", dir.path().to_str().unwrap()]);
    Lake {
        _dir: dir,
        server,
        fixture,
    }
}

fn catalog_url(server: &Server) -> String {
    format!("{}/iceberg", server.base)
}

/// The rows of a scan as the fixture's model, checking the columns' types.
fn rows(scan: &ScanResult) -> Rows {
    let mut out = Rows::new();
    for b in &scan.batches {
        assert_eq!(b.schema(), scan.schema);
        let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        let names = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        let qty = b.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 0..b.num_rows() {
            assert!(!ids.is_null(i) && !names.is_null(i) && !qty.is_null(i));
            let dup = out.insert(ids.value(i), (names.value(i).to_owned(), qty.value(i)));
            assert!(dup.is_none(), "id {} read twice", ids.value(i));
        }
    }
    assert_eq!(out.len(), scan.num_rows());
    out
}

#[tokio::test]
async fn browses_namespaces_tables_and_snapshots() {
    let lake = lake();
    let client = LakeClient::connect(&catalog_url(&lake.server), TOKEN)
        .await
        .unwrap();
    // The endpoint comes from the catalog, never from the client.
    assert_eq!(
        client.storage_config()["s3.endpoint"],
        format!("{}/s3", lake.server.base)
    );
    let ns = |levels: &[&str]| levels.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        client.namespaces().await.unwrap(),
        vec![ns(&["dolake"]), ns(&["dolake", "app"]), ns(&["shop"])]
    );
    assert_eq!(
        client.child_namespaces(Some(&["dolake"])).await.unwrap(),
        vec![ns(&["dolake", "app"])]
    );
    let tables = client.tables(&["shop"]).await.unwrap();
    assert_eq!(
        tables.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        ["shop.orders"]
    );
    assert!(client.tables(&["dolake"]).await.unwrap().is_empty());

    let t = client.table(&["shop"], "orders").await.unwrap();
    assert_eq!(
        t.metadata_location.as_deref(),
        Some(lake.fixture.orders_location.as_str())
    );
    assert_eq!(t.location, "s3://lake/warehouse/shop/orders");
    assert_eq!(t.current_snapshot_id, Some(SNAPSHOTS[2]));
    assert_eq!(
        t.properties.get("dolake.owned").map(String::as_str),
        Some("true")
    );
    let cols: Vec<(i32, &str, bool, &str)> = t
        .columns
        .iter()
        .map(|c| (c.id, c.name.as_str(), c.required, c.data_type.as_str()))
        .collect();
    assert_eq!(
        cols,
        [
            (1, "id", true, "long"),
            (2, "name", false, "string"),
            (3, "qty", false, "long")
        ]
    );

    let snaps = client.snapshots(&["shop"], "orders").await.unwrap();
    let ids: Vec<i64> = snaps.iter().map(|s| s.snapshot_id).collect();
    assert_eq!(ids, SNAPSHOTS);
    let parents: Vec<Option<i64>> = snaps.iter().map(|s| s.parent_snapshot_id).collect();
    assert_eq!(parents, [None, Some(SNAPSHOTS[0]), Some(SNAPSHOTS[1])]);
    let ops: Vec<Operation> = snaps.iter().map(|s| s.operation).collect();
    assert_eq!(
        ops,
        [Operation::Append, Operation::Overwrite, Operation::Delete]
    );
    for (i, s) in snaps.iter().enumerate() {
        assert_eq!(s.shard_lsns, BTreeMap::from([("app".to_string(), LSNS[i])]));
        assert_eq!(s.timestamp_ms, T0 + 1000 * (i as i64 + 1));
        assert_eq!(s.sequence_number, i as i64 + 1);
        assert_eq!(s.current, i == 2);
    }
    // Iceberg's totals count written records; deletes are counted apart.
    let totals: Vec<&str> = snaps
        .iter()
        .map(|s| s.summary["total-records"].as_str())
        .collect();
    assert_eq!(totals, ["5", "6", "6"]);
    assert_eq!(snaps[1].summary["added-position-deletes"], "2");
    assert_eq!(t.current_snapshot().unwrap().unwrap(), snaps[2]);

    let empty = client.table(&["dolake", "app"], "empty").await.unwrap();
    assert_eq!(
        empty.metadata_location.as_deref(),
        Some(lake.fixture.empty_location.as_str())
    );
    assert_eq!(empty.current_snapshot_id, None);
    assert!(client
        .snapshots(&["dolake", "app"], "empty")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn scans_read_the_current_state_and_every_snapshot() {
    let lake = lake();
    let client = LakeClient::connect(&catalog_url(&lake.server), TOKEN)
        .await
        .unwrap();
    let current = client.scan(&["shop"], "orders").await.unwrap();
    assert_eq!(current.snapshot_id, Some(SNAPSHOTS[2]));
    assert_eq!(rows(&current), lake.fixture.rows[&SNAPSHOTS[2]]);
    assert_eq!(
        current
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["id", "name", "qty"]
    );
    for id in SNAPSHOTS {
        let scan = client.scan_snapshot(&["shop"], "orders", id).await.unwrap();
        assert_eq!(scan.snapshot_id, Some(id));
        assert_eq!(rows(&scan), lake.fixture.rows[&id], "snapshot {id}");
    }
    // The first snapshot still has the rows later ones deleted or updated.
    let first = &lake.fixture.rows[&SNAPSHOTS[0]];
    assert_eq!(first.len(), 5);
    assert_eq!(first[&2], ("pear".to_string(), 1));

    // A table loaded once can be scanned at any of its snapshots.
    let t = client.table(&["shop"], "orders").await.unwrap();
    let mid = client.scan_table(&t, Some(SNAPSHOTS[1])).await.unwrap();
    assert_eq!(rows(&mid), lake.fixture.rows[&SNAPSHOTS[1]]);

    let empty = client.scan(&["dolake", "app"], "empty").await.unwrap();
    assert_eq!((empty.snapshot_id, empty.num_rows()), (None, 0));
    assert_eq!(empty.schema.fields().len(), 3);

    let e = client
        .scan_snapshot(&["shop"], "orders", 999)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::NotFound(ref m) if m.contains("999")),
        "{e}"
    );
}

#[tokio::test]
async fn errors_are_typed() {
    let mut lake = lake();
    let url = catalog_url(&lake.server);
    let e = LakeClient::connect(&url, "wrong-token")
        .await
        .err()
        .unwrap();
    assert!(
        matches!(e, Error::Unauthorized(ref m) if m.contains("NotAuthorized")),
        "{e}"
    );

    let client = LakeClient::connect(&url, TOKEN).await.unwrap();
    let e = client.table(&["shop"], "nope").await.unwrap_err();
    assert!(
        matches!(e, Error::NotFound(ref m) if m.contains("NoSuchTable")),
        "{e}"
    );
    let e = client.scan(&["shop"], "nope").await.unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
    let e = client.tables(&["nowhere"]).await.unwrap_err();
    assert!(
        matches!(e, Error::NotFound(ref m) if m.contains("NoSuchNamespace")),
        "{e}"
    );
    let e = client.tables::<&str>(&[]).await.unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e}");
    // Dot segments would be resolved away by URL parsing: refused.
    let e = client.table(&["shop"], "..").await.unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e}");
    // A name the catalog refuses (it would become a key segment).
    let e = client.table(&["shop"], "a\u{1}b").await.unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput(ref m) if m.contains("BadRequest")),
        "{e}"
    );

    // The memory bound stops a scan before it downloads data files.
    let small = Config {
        max_scan_bytes: 64,
        ..Config::default()
    };
    let tight = LakeClient::connect_with(&url, TOKEN, small).await.unwrap();
    let e = tight.scan(&["shop"], "orders").await.unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e}");

    // An object missing from the bucket is NotFound from S3, typed.
    let data = lake._dir.path().join("bucket/warehouse/shop/orders/data");
    for f in std::fs::read_dir(&data).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    let e = client.scan(&["shop"], "orders").await.unwrap_err();
    assert!(
        matches!(e, Error::NotFound(ref m) if m.contains("NoSuchKey")),
        "{e}"
    );

    // Nobody listening: a transport error, retryable.
    lake.server.kill();
    let e = client.namespaces().await.unwrap_err();
    assert!(matches!(e, Error::Transport(_)) && e.is_retryable(), "{e}");
}
