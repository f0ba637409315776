//! The catalog and the S3 route as dosql-server hosts them: bearer-token
//! auth, error shapes over HTTP, object reads with every range form, and
//! state that survives a restart.

mod catalog_common;

use catalog_common::{http, write_managed, Answer};
use dosql_testkit::{Server, TOKEN};
use serde_json::json;

const BEARER: &str = "Bearer test-token";

fn sigv4(key_id: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={key_id}/20260101/us-east-1/s3/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=0123"
    )
}

fn catalog(server: &Server, method: &str, path: &str, body: serde_json::Value) -> Answer {
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    http(
        &server.addr,
        method,
        &format!("/iceberg{path}"),
        &[("Authorization", BEARER)],
        &body,
    )
}

fn s3(server: &Server, method: &str, key: &str, range: Option<&str>) -> Answer {
    let auth = sigv4(TOKEN);
    let mut headers = vec![("Authorization", auth.as_str())];
    if let Some(r) = range {
        headers.push(("Range", r));
    }
    http(
        &server.addr,
        method,
        &format!("/s3/lake/{key}"),
        &headers,
        b"",
    )
}

#[test]
fn the_catalog_needs_the_token_and_answers_error_models() {
    let server = Server::start();
    for auth in [None, Some("Bearer wrong")] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let a = http(&server.addr, "GET", "/iceberg/v1/config", &headers, b"");
        assert_eq!(a.status, 401);
        assert_eq!(a.json()["error"]["type"], "NotAuthorizedException");
        assert_eq!(a.json()["error"]["code"], 401);
    }
    let config = catalog(&server, "GET", "/v1/config", json!(null)).json();
    let defaults = &config["defaults"];
    assert_eq!(defaults["s3.endpoint"], format!("{}/s3", server.base));
    assert_eq!(defaults["s3.access-key-id"], TOKEN);
    assert_eq!(defaults["s3.path-style-access"], "true");
    let a = catalog(&server, "GET", "/v1/namespaces/nope", json!(null));
    assert_eq!(
        (a.status, a.json()["error"]["type"].as_str()),
        (404, Some("NoSuchNamespaceException"))
    );
    let a = catalog(
        &server,
        "POST",
        "/v1/namespaces",
        json!({"namespace": "not a list"}),
    );
    assert_eq!(
        (a.status, a.json()["error"]["type"].as_str()),
        (400, Some("BadRequestException"))
    );
}

#[test]
fn tables_live_in_the_bucket_and_survive_a_restart() {
    let lake = tempfile::tempdir().unwrap();
    let lake_arg = lake.path().to_str().unwrap().to_owned();
    let server = Server::start_with(&["--lake", &lake_arg]);
    catalog(
        &server,
        "POST",
        "/v1/namespaces",
        json!({"namespace": ["a", "b"], "properties": {"p": "1"}}),
    );
    let schema = json!({"type": "struct", "schema-id": 0, "fields": [
        {"id": 1, "name": "id", "required": true, "type": "long"}]});
    let created = catalog(
        &server,
        "POST",
        "/v1/namespaces/a%1Fb/tables",
        json!({"name": "t", "schema": schema}),
    );
    assert_eq!(created.status, 200, "{}", created.text());
    let location = created.json()["metadata-location"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = location.strip_prefix("s3://lake/").unwrap().to_owned();

    // The metadata location is an object of the bucket, served whole.
    let object = s3(&server, "GET", &key, None);
    assert_eq!(object.status, 200);
    let served: serde_json::Value = serde_json::from_slice(&object.body).unwrap();
    assert_eq!(served, created.json()["metadata"]);

    let mut server = server;
    let server = server.restart_with(&["--lake", &lake_arg]);
    let loaded = catalog(&server, "GET", "/v1/namespaces/a%1Fb/tables/t", json!(null));
    assert_eq!(loaded.status, 200);
    assert_eq!(loaded.json()["metadata-location"], location);
    let ns = catalog(&server, "GET", "/v1/namespaces/a%1Fb", json!(null)).json();
    assert_eq!(ns["properties"], json!({"p": "1"}));
    assert_eq!(s3(&server, "HEAD", &key, None).status, 200);
}

#[test]
fn the_bucket_serves_get_and_head_with_byte_ranges() {
    let lake = tempfile::tempdir().unwrap();
    let location = write_managed(lake.path());
    let key = location.strip_prefix("s3://lake/").unwrap();
    let whole = std::fs::read(lake.path().join("bucket").join(key)).unwrap();
    let size = whole.len();
    let server = Server::start_with(&["--lake", lake.path().to_str().unwrap()]);

    let full = s3(&server, "GET", key, None);
    assert_eq!(full.status, 200);
    assert_eq!(full.body, whole);
    assert_eq!(
        full.header("content-length"),
        Some(size.to_string().as_str())
    );
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    let etag = full.header("etag").unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(full.header("last-modified").unwrap().ends_with(" GMT"));

    let head = s3(&server, "HEAD", key, None);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(size.to_string().as_str())
    );
    assert_eq!(head.header("etag"), Some(etag.as_str()));

    let cases = [
        ("bytes=0-9", 0, 9),
        ("bytes=5-", 5, size - 1),
        ("bytes=-7", size - 7, size - 1),
        ("bytes=10-100000000", 10, size - 1),
    ];
    for (range, first, last) in cases {
        let part = s3(&server, "GET", key, Some(range));
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(part.body, &whole[first..=last], "{range}");
        assert_eq!(
            part.header("content-range"),
            Some(format!("bytes {first}-{last}/{size}").as_str()),
            "{range}"
        );
        let head = s3(&server, "HEAD", key, Some(range));
        assert_eq!(
            (head.status, head.header("content-length")),
            (206, Some((last - first + 1).to_string().as_str()))
        );
    }
    for range in [
        format!("bytes={size}-"),
        format!("bytes={}-{}", size + 5, size + 9),
    ] {
        let a = s3(&server, "GET", key, Some(&range));
        assert_eq!(a.status, 416, "{range}");
        assert!(
            a.text().contains("<Code>InvalidRange</Code>"),
            "{}",
            a.text()
        );
    }

    let missing = s3(&server, "GET", "warehouse/nope.parquet", None);
    assert_eq!(missing.status, 404);
    assert!(
        missing.text().contains("<Code>NoSuchKey</Code>"),
        "{}",
        missing.text()
    );
    assert_eq!(
        s3(&server, "HEAD", "warehouse/nope.parquet", None).status,
        404
    );
    let escape = s3(&server, "GET", "../catalog/pages", None);
    assert_eq!(escape.status, 400);
    let other = http(
        &server.addr,
        "GET",
        &format!("/s3/other/{key}"),
        &[("Authorization", &sigv4(TOKEN))],
        b"",
    );
    assert!(other.text().contains("NoSuchBucket"));

    // The token is the access key id (or a bearer token); nothing else.
    for auth in [Some(sigv4("wrong")), Some("Bearer wrong".to_owned()), None] {
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let a = http(
            &server.addr,
            "GET",
            &format!("/s3/lake/{key}"),
            &headers,
            b"",
        );
        assert_eq!(a.status, 403);
        assert!(a.text().contains("AccessDenied"));
    }
    let bearer = http(
        &server.addr,
        "GET",
        &format!("/s3/lake/{key}"),
        &[("Authorization", BEARER)],
        b"",
    );
    assert_eq!(bearer.body, whole);
    let put = http(
        &server.addr,
        "PUT",
        &format!("/s3/lake/{key}"),
        &[("Authorization", BEARER)],
        b"x",
    );
    assert_eq!(put.status, 405);
    assert_eq!(
        std::fs::read(lake.path().join("bucket").join(key)).unwrap(),
        whole
    );
}
