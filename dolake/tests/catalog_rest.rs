//! The REST catalog driven through its sans-IO handler, with an in-memory
//! bucket: every route, the spec's error shapes, commit requirements and
//! updates, concurrent commits, multi-level namespaces and restarts.

use std::collections::BTreeMap;

use dolake::catalog::{Catalog, CatalogConfig, Env, Request, Step, TableIdent};
use dolake::iceberg::TableMetadata;
use dosql::mvcc::{Engine, EngineConfig};
use serde_json::{json, Value};

struct Harness {
    catalog: Catalog,
    engine: Engine,
    bucket: BTreeMap<String, Vec<u8>>,
    seed: u8,
}

fn config() -> CatalogConfig {
    CatalogConfig {
        bucket: "lake".into(),
        warehouse: "wh".into(),
        client_properties: BTreeMap::from([("s3.endpoint".into(), "http://x/s3".into())]),
    }
}

impl Harness {
    fn open(dir: &std::path::Path) -> Harness {
        Harness {
            catalog: Catalog::new(config()).unwrap(),
            engine: Engine::open_dir(dir, 4096, EngineConfig::default()).unwrap(),
            bucket: BTreeMap::new(),
            seed: 0,
        }
    }

    fn env(&mut self) -> Env {
        self.seed = self.seed.wrapping_add(1);
        Env {
            now_ms: 1_700_000_000_000 + i64::from(self.seed),
            entropy: [self.seed; 32],
        }
    }

    fn step(&mut self, method: &str, path: &str, body: &Value) -> Step {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        let env = self.env();
        let req = Request {
            method,
            path,
            query,
            body: &body,
        };
        self.catalog.handle(&mut self.engine, &req, &env)
    }

    fn call(&mut self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let response = match self.step(method, path, &body) {
            Step::Done(r) => r,
            Step::Write(p) => {
                for o in &p.objects {
                    self.bucket.insert(o.key.clone(), o.bytes.clone());
                }
                self.catalog.apply(&mut self.engine, p)
            }
        };
        let v = response.body.map_or(Value::Null, |b| serde_json::from_str(&b).unwrap());
        (response.status, v)
    }

    fn ok(&mut self, method: &str, path: &str, body: Value) -> Value {
        let (status, v) = self.call(method, path, body);
        assert!(status == 200 || status == 204, "{method} {path}: {status} {v}");
        v
    }

    fn error(&mut self, method: &str, path: &str, body: Value, status: u16, kind: &str) -> String {
        let (got, v) = self.call(method, path, body);
        assert_eq!((got, v["error"]["type"].as_str()), (status, Some(kind)), "{method} {path}: {v}");
        assert_eq!(v["error"]["code"], status);
        v["error"]["message"].as_str().unwrap().to_owned()
    }

    /// The metadata location must exist in the bucket and hold the metadata.
    fn check_location(&self, loaded: &Value) {
        let url = loaded["metadata-location"].as_str().unwrap();
        let key = url.strip_prefix("s3://lake/").unwrap();
        let stored = TableMetadata::from_json(&self.bucket[key]).unwrap();
        let served: TableMetadata = serde_json::from_value(loaded["metadata"].clone()).unwrap();
        assert_eq!(stored, served);
    }
}

fn schema() -> Value {
    json!({"type": "struct", "schema-id": 0, "fields": [
        {"id": 1, "name": "id", "required": true, "type": "long"},
        {"id": 2, "name": "name", "required": false, "type": "string"}]})
}

const T: &str = "/v1/namespaces/db/tables/t";

fn with_table(h: &mut Harness) -> Value {
    h.ok("POST", "/v1/namespaces", json!({"namespace": ["db"]}));
    h.ok("POST", "/v1/namespaces/db/tables", json!({"name": "t", "schema": schema()}))
}

#[test]
fn config_and_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::open(dir.path());
    let config = h.ok("GET", "/v1/config", Value::Null);
    assert_eq!(config["defaults"]["s3.endpoint"], "http://x/s3");
    assert!(config["endpoints"].as_array().unwrap().iter().any(|e| e == "POST /v1/{prefix}/tables/rename"));

    let created = h.ok("POST", "/v1/namespaces", json!({"namespace": ["a"], "properties": {"owner": "me"}}));
    assert_eq!(created, json!({"namespace": ["a"], "properties": {"owner": "me"}}));
    h.error("POST", "/v1/namespaces", json!({"namespace": ["a"]}), 409, "AlreadyExistsException");
    h.ok("POST", "/v1/namespaces", json!({"namespace": ["a", "b"]}));
    h.ok("POST", "/v1/namespaces", json!({"namespace": ["a", "b", "c"]}));
    h.ok("POST", "/v1/namespaces", json!({"namespace": ["z"]}));

    assert_eq!(h.ok("GET", "/v1/namespaces", Value::Null)["namespaces"], json!([["a"], ["z"]]));
    assert_eq!(h.ok("GET", "/v1/namespaces?parent=a", Value::Null)["namespaces"], json!([["a", "b"]]));
    assert_eq!(
        h.ok("GET", "/v1/namespaces?parent=a%1Fb", Value::Null)["namespaces"],
        json!([["a", "b", "c"]])
    );
    h.error("GET", "/v1/namespaces?parent=nope", Value::Null, 404, "NoSuchNamespaceException");

    assert_eq!(h.ok("GET", "/v1/namespaces/a%1Fb%1Fc", Value::Null)["namespace"], json!(["a", "b", "c"]));
    assert_eq!(h.call("HEAD", "/v1/namespaces/a%1Fb", Value::Null), (204, Value::Null));
    assert_eq!(h.call("HEAD", "/v1/namespaces/q", Value::Null).0, 404);
    h.error("GET", "/v1/namespaces/q", Value::Null, 404, "NoSuchNamespaceException");

    let props = h.ok(
        "POST",
        "/v1/namespaces/a/properties",
        json!({"removals": ["owner", "gone"], "updates": {"k": "v"}}),
    );
    assert_eq!(props, json!({"updated": ["k"], "removed": ["owner"], "missing": ["gone"]}));
    assert_eq!(h.ok("GET", "/v1/namespaces/a", Value::Null)["properties"], json!({"k": "v"}));
    h.error(
        "POST",
        "/v1/namespaces/a/properties",
        json!({"removals": ["k"], "updates": {"k": "w"}}),
        422,
        "UnprocessableEntityException",
    );
    assert_eq!(h.ok("GET", "/v1/namespaces/a", Value::Null)["properties"], json!({"k": "v"}));

    h.error("DELETE", "/v1/namespaces/a", Value::Null, 409, "NamespaceNotEmptyException");
    h.ok("DELETE", "/v1/namespaces/a%1Fb%1Fc", Value::Null);
    h.ok("DELETE", "/v1/namespaces/a%1Fb", Value::Null);
    h.ok("DELETE", "/v1/namespaces/a", Value::Null);
    h.error("DELETE", "/v1/namespaces/a", Value::Null, 404, "NoSuchNamespaceException");
    assert_eq!(h.ok("GET", "/v1/namespaces", Value::Null)["namespaces"], json!([["z"]]));
}

#[test]
fn bad_requests_have_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::open(dir.path());
    h.error("POST", "/v1/namespaces", json!({"nope": 1}), 400, "BadRequestException");
    h.error("POST", "/v1/namespaces", json!({"namespace": []}), 400, "BadRequestException");
    h.error("POST", "/v1/namespaces", json!({"namespace": ["a/b"]}), 400, "BadRequestException");
    h.error("GET", "/v1/namespaces/%zz", Value::Null, 400, "BadRequestException");
    h.error("GET", "/v1/nothing", Value::Null, 404, "NoSuchEndpointException");
    h.error("PUT", "/v1/namespaces", Value::Null, 405, "MethodNotAllowedException");
    let (status, _) = h.call("POST", "/v1/namespaces", Value::String("{".into()));
    assert_eq!(status, 400);
    h.ok("POST", "/v1/namespaces", json!({"namespace": ["db"]}));
    let bad_location = json!({"name": "t", "schema": schema(), "location": "s3://other/x"});
    h.error("POST", "/v1/namespaces/db/tables", bad_location, 400, "BadRequestException");
    let bad_schema = json!({"name": "t", "schema": {"type": "struct", "fields": [{"id": 1}]}});
    h.error("POST", "/v1/namespaces/db/tables", bad_schema, 400, "BadRequestException");
    h.error("POST", "/v1/namespaces/nope/tables", json!({"name": "t", "schema": schema()}), 404, "NoSuchNamespaceException");
    assert!(h.bucket.is_empty(), "failed creates write nothing");
}

#[test]
fn tables_create_load_list_rename_drop() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::open(dir.path());
    let created = with_table(&mut h);
    h.check_location(&created);
    assert_eq!(created["config"]["s3.endpoint"], "http://x/s3");
    let md = &created["metadata"];
    assert_eq!(md["location"], "s3://lake/wh/db/t");
    assert_eq!(md["last-column-id"], 2);
    assert!(created["metadata-location"].as_str().unwrap().starts_with("s3://lake/wh/db/t/metadata/00001-"));
    h.error("POST", "/v1/namespaces/db/tables", json!({"name": "t", "schema": schema()}), 409, "AlreadyExistsException");

    let loaded = h.ok("GET", T, Value::Null);
    assert_eq!(loaded["metadata-location"], created["metadata-location"]);
    assert_eq!(h.call("HEAD", T, Value::Null), (204, Value::Null));
    h.error("GET", "/v1/namespaces/db/tables/u", Value::Null, 404, "NoSuchTableException");
    h.error("GET", "/v1/namespaces/no/tables/u", Value::Null, 404, "NoSuchNamespaceException");
    assert_eq!(
        h.ok("GET", "/v1/namespaces/db/tables", Value::Null)["identifiers"],
        json!([{"namespace": ["db"], "name": "t"}])
    );

    h.ok("POST", "/v1/namespaces", json!({"namespace": ["x", "y"]}));
    let rename = |to: Value| json!({"source": {"namespace": ["db"], "name": "t"}, "destination": to});
    h.error("POST", "/v1/tables/rename", rename(json!({"namespace": ["q"], "name": "t"})), 404, "NoSuchNamespaceException");
    h.ok("POST", "/v1/tables/rename", rename(json!({"namespace": ["x", "y"], "name": "t2"})));
    h.error("GET", T, Value::Null, 404, "NoSuchTableException");
    let moved = h.ok("GET", "/v1/namespaces/x%1Fy/tables/t2", Value::Null);
    assert_eq!(moved["metadata-location"], created["metadata-location"]);
    h.error("POST", "/v1/tables/rename", rename(json!({"namespace": ["x"], "name": "t"})), 404, "NoSuchTableException");

    with_table_again(&mut h);
    let clash = json!({"source": {"namespace": ["db"], "name": "t"}, "destination": {"namespace": ["x", "y"], "name": "t2"}});
    h.error("POST", "/v1/tables/rename", clash, 409, "AlreadyExistsException");

    h.ok("DELETE", "/v1/namespaces/x%1Fy/tables/t2?purgeRequested=false", Value::Null);
    h.error("DELETE", "/v1/namespaces/x%1Fy/tables/t2", Value::Null, 404, "NoSuchTableException");
    assert_eq!(h.ok("GET", "/v1/namespaces/x%1Fy/tables", Value::Null)["identifiers"], json!([]));
}

fn with_table_again(h: &mut Harness) {
    h.ok("POST", "/v1/namespaces/db/tables", json!({"name": "t", "schema": schema()}));
}

fn add_column_commit(schema_id: i32, last_column_id: i32) -> Value {
    json!({
        "requirements": [
            {"type": "assert-current-schema-id", "current-schema-id": schema_id},
            {"type": "assert-last-assigned-field-id", "last-assigned-field-id": last_column_id}],
        "updates": [
            {"action": "add-schema", "schema": {"type": "struct", "schema-id": schema_id + 1, "fields": [
                {"id": 1, "name": "id", "required": true, "type": "long"},
                {"id": 2, "name": "name", "required": false, "type": "string"},
                {"id": last_column_id + 1, "name": format!("c{}", last_column_id + 1), "required": false, "type": "int"}]},
             "last-column-id": last_column_id + 1},
            {"action": "set-current-schema", "schema-id": -1},
            {"action": "set-properties", "updates": {"k": "v"}}]
    })
}

#[test]
fn commits_apply_updates_and_check_requirements() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::open(dir.path());
    let created = with_table(&mut h);
    let uuid = created["metadata"]["table-uuid"].as_str().unwrap().to_owned();

    let committed = h.ok("POST", T, add_column_commit(0, 2));
    h.check_location(&committed);
    let md = &committed["metadata"];
    assert_eq!((md["current-schema-id"].as_i64(), md["last-column-id"].as_i64()), (Some(1), Some(3)));
    assert_eq!(md["properties"]["k"], "v");
    assert_eq!(md["metadata-log"][0]["metadata-file"], created["metadata-location"]);
    assert!(committed["metadata-location"].as_str().unwrap().contains("/metadata/00002-"));

    // Every requirement kind, failing: 409 and nothing changes.
    let before = h.ok("GET", T, Value::Null);
    let objects = h.bucket.len();
    for failing in [
        json!({"type": "assert-create"}),
        json!({"type": "assert-table-uuid", "uuid": "00000000-0000-0000-0000-000000000000"}),
        json!({"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": 5}),
        json!({"type": "assert-current-schema-id", "current-schema-id": 0}),
        json!({"type": "assert-last-assigned-field-id", "last-assigned-field-id": 2}),
        json!({"type": "assert-last-assigned-partition-id", "last-assigned-partition-id": 1000}),
        json!({"type": "assert-default-spec-id", "default-spec-id": 1}),
        json!({"type": "assert-default-sort-order-id", "default-sort-order-id": 1}),
    ] {
        let body = json!({"requirements": [{"type": "assert-table-uuid", "uuid": uuid}, failing],
                          "updates": [{"action": "set-properties", "updates": {"k": "changed"}}]});
        h.error("POST", T, body, 409, "CommitFailedException");
    }
    assert_eq!(h.ok("GET", T, Value::Null), before);
    assert_eq!(h.bucket.len(), objects, "a failed commit writes nothing");

    // Passing requirements of every kind, and the remaining updates.
    let body = json!({
        "requirements": [
            {"type": "assert-table-uuid", "uuid": uuid},
            {"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": null},
            {"type": "assert-last-assigned-partition-id", "last-assigned-partition-id": 999},
            {"type": "assert-default-spec-id", "default-spec-id": 0},
            {"type": "assert-default-sort-order-id", "default-sort-order-id": 0}],
        "updates": [
            {"action": "assign-uuid", "uuid": uuid},
            {"action": "upgrade-format-version", "format-version": 2},
            {"action": "add-spec", "spec": {"fields": [{"source-id": 1, "name": "id_b", "transform": "bucket[4]"}]}},
            {"action": "set-default-spec", "spec-id": -1},
            {"action": "add-sort-order", "sort-order": {"order-id": 1, "fields": [
                {"transform": "identity", "source-id": 1, "direction": "asc", "null-order": "nulls-first"}]}},
            {"action": "set-default-sort-order", "sort-order-id": -1},
            {"action": "add-snapshot", "snapshot": {"snapshot-id": 10, "sequence-number": 1, "timestamp-ms": 5,
                "manifest-list": "s3://lake/wh/db/t/metadata/snap-10.avro", "summary": {"operation": "append"}, "schema-id": 1}},
            {"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": 10},
            {"action": "add-snapshot", "snapshot": {"snapshot-id": 11, "parent-snapshot-id": 10, "sequence-number": 2,
                "timestamp-ms": 6, "manifest-list": "s3://lake/wh/db/t/metadata/snap-11.avro", "summary": {"operation": "append"}}},
            {"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": 11},
            {"action": "set-snapshot-ref", "ref-name": "tag1", "type": "tag", "snapshot-id": 10},
            {"action": "set-location", "location": "s3://lake/elsewhere/t"},
            {"action": "remove-properties", "removals": ["k"]}]
    });
    let md = h.ok("POST", T, body)["metadata"].clone();
    assert_eq!(md["default-spec-id"], 1);
    assert_eq!(md["partition-specs"][1]["fields"][0]["field-id"], 1000);
    assert_eq!(md["last-partition-id"], 1000);
    assert_eq!(md["default-sort-order-id"], 1);
    assert_eq!(md["current-snapshot-id"], 11);
    assert_eq!(md["last-sequence-number"], 2);
    assert_eq!(md["refs"]["tag1"]["snapshot-id"], 10);
    assert_eq!(md["location"], "s3://lake/elsewhere/t");
    assert!(md["properties"].get("k").is_none());
    assert_eq!(md["snapshot-log"].as_array().unwrap().len(), 2);

    let body = json!({"updates": [
        {"action": "remove-snapshot-ref", "ref-name": "tag1"},
        {"action": "remove-snapshots", "snapshot-ids": [10]}]});
    let md = h.ok("POST", T, body)["metadata"].clone();
    assert_eq!(md["snapshots"].as_array().unwrap().len(), 1);
    assert!(md["refs"].get("tag1").is_none());
    let body = json!({"updates": [{"action": "remove-snapshot-ref", "ref-name": "main"}]});
    let md = h.ok("POST", T, body)["metadata"].clone();
    assert!(md.get("current-snapshot-id").is_none());

    // Invalid updates: 400, nothing changes.
    let before = h.ok("GET", T, Value::Null);
    for bad in [
        json!({"action": "set-current-schema", "schema-id": 9}),
        json!({"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": 99}),
        json!({"action": "upgrade-format-version", "format-version": 3}),
        json!({"action": "assign-uuid", "uuid": "other"}),
        json!({"action": "set-location", "location": "s3://elsewhere/t"}),
        json!({"action": "no-such-action"}),
    ] {
        h.error("POST", T, json!({"updates": [bad]}), 400, "BadRequestException");
    }
    assert_eq!(h.ok("GET", T, Value::Null), before);
}

#[test]
fn a_concurrent_commit_fails_instead_of_losing_an_update() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::open(dir.path());
    with_table(&mut h);
    let first = json!({"updates": [{"action": "set-properties", "updates": {"a": "1"}}]});
    let second = json!({"updates": [{"action": "set-properties", "updates": {"b": "2"}}]});
    // Both prepared from the same base, before either is applied.
    let (Step::Write(p1), Step::Write(p2)) = (h.step("POST", T, &first), h.step("POST", T, &second)) else {
        panic!("commits prepare writes");
    };
    assert_ne!(p1.objects[0].key, p2.objects[0].key, "racing commits never share an object");
    assert_eq!(h.catalog.apply(&mut h.engine, p1).status, 200);
    let lost = h.catalog.apply(&mut h.engine, p2);
    assert_eq!(lost.status, 409);
    assert!(lost.body.unwrap().contains("CommitFailedException"));
    let md = h.ok("GET", T, Value::Null)["metadata"].clone();
    assert_eq!(md["properties"], json!({"a": "1"}));

    // Two creates of one table: the second is AlreadyExists.
    let create = json!({"name": "n", "schema": schema()});
    let (Step::Write(c1), Step::Write(c2)) = (
        h.step("POST", "/v1/namespaces/db/tables", &create),
        h.step("POST", "/v1/namespaces/db/tables", &create),
    ) else {
        panic!("creates prepare writes");
    };
    assert_eq!(h.catalog.apply(&mut h.engine, c1).status, 200);
    assert_eq!(h.catalog.apply(&mut h.engine, c2).status, 409);
}

#[test]
fn staged_create_then_commit_with_assert_create() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::open(dir.path());
    h.ok("POST", "/v1/namespaces", json!({"namespace": ["db"]}));
    let staged = h.ok("POST", "/v1/namespaces/db/tables", json!({"name": "s", "schema": schema(), "stage-create": true}));
    assert!(staged.get("metadata-location").is_none());
    h.error("GET", "/v1/namespaces/db/tables/s", Value::Null, 404, "NoSuchTableException");
    let uuid = "11111111-2222-4333-8444-555555555555";
    let body = json!({"requirements": [{"type": "assert-create"}], "updates": [
        {"action": "assign-uuid", "uuid": uuid},
        {"action": "upgrade-format-version", "format-version": 2},
        {"action": "add-schema", "schema": schema()},
        {"action": "set-current-schema", "schema-id": -1},
        {"action": "add-spec", "spec": {"spec-id": 0, "fields": []}},
        {"action": "set-default-spec", "spec-id": -1},
        {"action": "add-sort-order", "sort-order": {"order-id": 0, "fields": []}},
        {"action": "set-default-sort-order", "sort-order-id": -1},
        {"action": "set-location", "location": "s3://lake/wh/db/s"},
        {"action": "set-properties", "updates": {"p": "q"}}]});
    let committed = h.ok("POST", "/v1/namespaces/db/tables/s", body.clone());
    h.check_location(&committed);
    assert_eq!(committed["metadata"]["table-uuid"], uuid);
    let loaded = h.ok("GET", "/v1/namespaces/db/tables/s", Value::Null);
    assert_eq!(loaded["metadata"]["properties"]["p"], "q");
    h.error("POST", "/v1/namespaces/db/tables/s", body, 409, "CommitFailedException");
}

#[test]
fn managed_tables_are_read_only_over_rest_and_state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let ident = TableIdent {
        namespace: vec!["lake".into(), "shard0".into()],
        name: "orders".into(),
    };
    let location = "s3://lake/wh/lake/shard0/orders/metadata/00001-x.metadata.json";
    {
        let mut h = Harness::open(dir.path());
        with_table(&mut h);
        let md = TableMetadata::from_json(&h.ok("GET", T, Value::Null)["metadata"].to_string().into_bytes()).unwrap();
        let mut md = TableMetadata { location: "s3://lake/wh/lake/shard0/orders".into(), ..md };
        md.table_uuid = "m".into();
        let txn = h.engine.begin().unwrap();
        h.catalog.put_managed(&mut h.engine, txn, &ident, location, &md, None).unwrap();
        // A stale writer conflicts, and its transaction is the caller's to end.
        let stale = h.catalog.put_managed(&mut h.engine, txn, &ident, location, &md, Some("s3://lake/old"));
        assert!(matches!(stale, Err(dolake::Error::Conflict(_))), "{stale:?}");
        h.engine.commit(txn).unwrap();
        // An unmanaged table is not the lake's to take over.
        let txn = h.engine.begin().unwrap();
        let db_t = TableIdent { namespace: vec!["db".into()], name: "t".into() };
        assert!(h.catalog.put_managed(&mut h.engine, txn, &db_t, location, &md, None).is_err());
        h.engine.rollback(txn).unwrap();
    }
    let mut h = Harness::open(dir.path());
    let path = "/v1/namespaces/lake%1Fshard0/tables/orders";
    let loaded = h.ok("GET", path, Value::Null);
    assert_eq!(loaded["metadata-location"], location);
    assert_eq!(h.ok("GET", "/v1/namespaces?parent=lake", Value::Null)["namespaces"], json!([["lake", "shard0"]]));
    let commit = json!({"updates": [{"action": "set-properties", "updates": {"a": "b"}}]});
    h.error("POST", path, commit, 403, "ForbiddenException");
    h.error("DELETE", path, Value::Null, 403, "ForbiddenException");
    let rename = json!({"source": {"namespace": ["lake", "shard0"], "name": "orders"},
                        "destination": {"namespace": ["db"], "name": "o"}});
    h.error("POST", "/v1/tables/rename", rename, 403, "ForbiddenException");
    // The REST-created table and namespaces survived too.
    assert_eq!(h.ok("GET", "/v1/namespaces", Value::Null)["namespaces"], json!([["db"], ["lake"]]));
    h.ok("GET", T, Value::Null);
}
