//! Table commits through the public API against an in-memory store: object
//! order and naming, state round trips, schema evolution read back by id,
//! and typed errors for every bad input.

use dolake::iceberg::manifest::read_manifest_list;
use dolake::reader::TableReader;
use dolake::sqltypes::SqlColumn;
use dolake::store::{MemoryStore, ObjectStore};
use dolake::table::{Commit, Flush, RowPosition, TableState};
use dolake::Error;
use shared_types::Value;

const WAREHOUSE: &str = "s3://bucket/warehouse";

fn columns() -> Vec<SqlColumn> {
    vec![
        SqlColumn::new("k", "TEXT", true),
        SqlColumn::new("v", "INTEGER", false),
    ]
}

fn flush(rows: Vec<Vec<Value>>, deletes: Vec<RowPosition>, snapshot_id: i64) -> Flush {
    Flush {
        rows,
        deletes,
        shard_lsns: vec![("a".into(), snapshot_id as u64), ("b".into(), 7)],
        snapshot_id,
        timestamp_ms: 1000 + snapshot_id,
        nonce: [snapshot_id as u8; 16],
    }
}

fn kv(k: &str, v: i64) -> Vec<Value> {
    vec![Value::Text(k.into()), Value::Integer(v)]
}

fn apply(store: &MemoryStore, c: Commit) -> (TableState, Vec<RowPosition>) {
    c.put_all(store).unwrap();
    (c.state, c.positions)
}

fn scan_strings(store: &MemoryStore, state: &TableState, snapshot: Option<i64>) -> Vec<String> {
    use arrow_array::Array;
    let r = TableReader::new(store, WAREHOUSE);
    let md = r.load_metadata(&state.metadata_location).unwrap();
    let scan = r.scan(&md, snapshot).unwrap();
    let mut out = Vec::new();
    for b in &scan.batches {
        for i in 0..b.num_rows() {
            let cells: Vec<String> = b
                .columns()
                .iter()
                .zip(b.schema().fields())
                .map(|(c, f)| {
                    let v = if c.is_null(i) {
                        "null".to_string()
                    } else if let Some(a) = c.as_any().downcast_ref::<arrow_array::StringArray>() {
                        a.value(i).to_string()
                    } else if let Some(a) = c.as_any().downcast_ref::<arrow_array::Int64Array>() {
                        a.value(i).to_string()
                    } else {
                        panic!("type {}", c.data_type())
                    };
                    format!("{}={v}", f.name())
                })
                .collect();
            out.push(cells.join(","));
        }
    }
    out.sort();
    out
}

#[test]
fn commit_objects_are_ordered_and_named_under_the_table() {
    let store = MemoryStore::new();
    let (state, _) = apply(
        &store,
        TableState::create(WAREHOUSE, "ns/t", &columns(), 1, [1; 16]).unwrap(),
    );
    let c = state
        .flush(flush(vec![kv("a", 1), kv("b", 2)], vec![], 5))
        .unwrap();
    let keys: Vec<&str> = c.objects.iter().map(|o| o.key.as_str()).collect();
    assert!(keys.iter().all(|k| k.starts_with("ns/t/")));
    assert!(keys[0].starts_with("ns/t/data/") && keys[0].ends_with("-data.parquet"));
    assert!(keys
        .last()
        .unwrap()
        .ends_with("00002-05050505-0505-4505-8505-050505050505.metadata.json"));
    for o in &c.objects {
        assert_eq!(o.location, format!("{WAREHOUSE}/{}", o.key));
    }
    assert_eq!(c.positions.len(), 2);
    assert_eq!(c.positions[1].pos, 1);
    let (state, pos) = apply(&store, c);
    // A second commit's manifest list carries the first one's manifests.
    let (state, _) = apply(
        &store,
        state
            .flush(flush(vec![kv("c", 3)], vec![pos[0].clone()], 6))
            .unwrap(),
    );
    let snap = state.metadata.current_snapshot().unwrap();
    let list_key = dolake::store::key_of(WAREHOUSE, &snap.manifest_list).unwrap();
    let list = read_manifest_list(&store.get(&list_key).unwrap()).unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list, state.manifests);
    assert_eq!(state.metadata.metadata_log.len(), 2);
    assert_eq!(snap.summary.properties["dolake.lsn.a"], "6");
    assert_eq!(snap.summary.properties["dolake.lsn.b"], "7");
    assert_eq!(snap.summary.properties["total-records"], "3");
    assert_eq!(snap.summary.properties["total-position-deletes"], "1");
    assert_eq!(
        scan_strings(&store, &state, None),
        vec!["k=b,v=2", "k=c,v=3"]
    );
    assert_eq!(
        scan_strings(&store, &state, Some(5)),
        vec!["k=a,v=1", "k=b,v=2"]
    );
}

#[test]
fn state_survives_a_json_round_trip() {
    let store = MemoryStore::new();
    let (state, _) = apply(
        &store,
        TableState::create(WAREHOUSE, "ns/t", &columns(), 1, [1; 16]).unwrap(),
    );
    let (state, pos) = apply(
        &store,
        state.flush(flush(vec![kv("a", 1)], vec![], 5)).unwrap(),
    );
    let json = serde_json::to_string(&state).unwrap();
    let restored: TableState = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, state);
    let (state, _) = apply(
        &store,
        restored.flush(flush(vec![kv("a", 9)], pos, 6)).unwrap(),
    );
    assert_eq!(scan_strings(&store, &state, None), vec!["k=a,v=9"]);
}

#[test]
fn rename_drop_and_readd_are_read_by_field_id() {
    let store = MemoryStore::new();
    let (state, _) = apply(
        &store,
        TableState::create(WAREHOUSE, "ns/t", &columns(), 1, [1; 16]).unwrap(),
    );
    let (state, _) = apply(
        &store,
        state.flush(flush(vec![kv("a", 1)], vec![], 5)).unwrap(),
    );
    let renamed = vec![
        SqlColumn::new("k", "TEXT", true),
        SqlColumn::new("value", "INTEGER", false),
    ];
    let ren = [("v".to_string(), "value".to_string())];
    let (state, _) = apply(&store, state.alter(&renamed, &ren, 2, [2; 16]).unwrap());
    assert_eq!(scan_strings(&store, &state, None), vec!["k=a,value=1"]);
    // Time travel reads with the snapshot's own schema (old name).
    assert_eq!(scan_strings(&store, &state, Some(5)), vec!["k=a,v=1"]);
    // Drop, then re-add the same name: a new id, so old rows read NULL.
    let dropped = vec![SqlColumn::new("k", "TEXT", true)];
    let (state, _) = apply(&store, state.alter(&dropped, &[], 3, [3; 16]).unwrap());
    let (state, _) = apply(&store, state.alter(&renamed, &[], 4, [4; 16]).unwrap());
    assert_eq!(state.metadata.current_schema().fields[1].id, 3);
    assert_eq!(state.metadata.last_column_id, 3);
    let (state, _) = apply(
        &store,
        state.flush(flush(vec![kv("b", 2)], vec![], 6)).unwrap(),
    );
    assert_eq!(
        scan_strings(&store, &state, None),
        vec!["k=a,value=null", "k=b,value=2"]
    );
    // An unchanged column list writes nothing.
    assert!(state
        .alter(&renamed, &[], 5, [5; 16])
        .unwrap()
        .objects
        .is_empty());
}

#[test]
fn bad_flushes_are_invalid_input() {
    let store = MemoryStore::new();
    let (state, _) = apply(
        &store,
        TableState::create(WAREHOUSE, "ns/t", &columns(), 1, [1; 16]).unwrap(),
    );
    let (state, pos) = apply(
        &store,
        state.flush(flush(vec![kv("a", 1)], vec![], 5)).unwrap(),
    );
    let invalid =
        |r: dolake::Result<Commit>| assert!(matches!(r, Err(Error::InvalidInput(_))), "{r:?}");
    invalid(state.flush(flush(vec![], vec![], 6)));
    invalid(state.flush(flush(vec![kv("b", 1)], vec![], 5)));
    invalid(state.flush(flush(vec![kv("b", 1)], vec![], 0)));
    invalid(state.flush(flush(vec![vec![Value::Text("x".into())]], vec![], 6)));
    invalid(state.flush(flush(vec![vec![Value::Null, Value::Integer(1)]], vec![], 6)));
    invalid(state.flush(flush(
        vec![vec![Value::Blob(vec![0xff]), Value::Integer(1)]],
        vec![],
        6,
    )));
    let mut beyond = pos[0].clone();
    beyond.pos = 1;
    invalid(state.flush(flush(vec![], vec![beyond], 6)));
    let unknown = RowPosition {
        file_path: "s3://bucket/warehouse/ns/t/data/x.parquet".into(),
        pos: 0,
    };
    invalid(state.flush(flush(vec![], vec![unknown], 6)));
    // An unconvertible non-key value is NULL and counted, not an error.
    let c = state
        .flush(flush(
            vec![vec![Value::Text("z".into()), Value::Text("seven".into())]],
            vec![],
            6,
        ))
        .unwrap();
    assert_eq!(
        c.state
            .metadata
            .current_snapshot()
            .unwrap()
            .summary
            .properties["dolake.coerced-nulls"],
        "1"
    );
    assert!(TableState::create(WAREHOUSE, "../t", &columns(), 1, [1; 16]).is_err());
    assert!(TableState::create(WAREHOUSE, "ns/t", &[], 1, [1; 16]).is_err());
}

#[test]
fn reader_reports_missing_snapshots_and_objects() {
    let store = MemoryStore::new();
    let (state, _) = apply(
        &store,
        TableState::create(WAREHOUSE, "ns/t", &columns(), 1, [1; 16]).unwrap(),
    );
    let r = TableReader::new(&store, WAREHOUSE);
    let md = r.load_metadata(&state.metadata_location).unwrap();
    assert_eq!(r.scan(&md, None).unwrap().num_rows(), 0);
    assert!(matches!(r.scan(&md, Some(9)), Err(Error::NotFound(_))));
    // Objects not put (a failed commit) are reported, not panicked on.
    let c = state.flush(flush(vec![kv("a", 1)], vec![], 5)).unwrap();
    let md_obj = c.objects.last().unwrap();
    store.put(&md_obj.key, &md_obj.bytes).unwrap();
    let md = r.load_metadata(&c.state.metadata_location).unwrap();
    assert!(matches!(r.scan(&md, None), Err(Error::NotFound(_))));
    store.put("ns/t/metadata/bad.json", b"{").unwrap();
    assert!(matches!(
        r.load_metadata(&format!("{WAREHOUSE}/ns/t/metadata/bad.json")),
        Err(Error::Corrupt(_))
    ));
}
