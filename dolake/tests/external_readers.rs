//! End-to-end: DoLake writes an Iceberg table to a directory (insert,
//! update, delete, ADD COLUMN, insert), then PyIceberg and DuckDB (with the
//! iceberg extension) read it through `verify_iceberg.py`; both must return
//! exactly the rows of a model kept here, currently and at older snapshots.
//!
//! The interpreter comes from `DOSQL_PYTHON` (default
//! `<repo>/.tools/py/bin/python`, made by `scripts/setup-python.sh`). A
//! missing interpreter fails the test: it never silently skips.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use dolake::reader::TableReader;
use dolake::sqltypes::SqlColumn;
use dolake::store::DirStore;
use dolake::table::{Flush, RowPosition, TableState, COERCED_NULLS_KEY, LSN_SUMMARY_PREFIX};
use serde_json::{json, Value as Json};
use shared_types::Value;

fn python() -> PathBuf {
    let p = std::env::var_os("DOSQL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/py/bin/python")
        });
    assert!(
        p.exists(),
        "Python interpreter {} not found: run scripts/setup-python.sh or set DOSQL_PYTHON",
        p.display()
    );
    p
}

// The writer plus the caller's side of the contract: a primary key ->
// position index and a model of the current rows.
struct Harness {
    store: DirStore,
    state: TableState,
    index: BTreeMap<i64, RowPosition>,
    model: BTreeMap<i64, Json>,
    columns: Vec<String>,
    next_nonce: u8,
    lsn: u64,
}

impl Harness {
    fn nonce(&mut self) -> [u8; 16] {
        self.next_nonce += 1;
        [self.next_nonce; 16]
    }

    // Upserts (`Some(row)`) and deletes (`None`) by key, as one flush.
    fn flush(&mut self, changes: Vec<(i64, Option<(Vec<Value>, Json)>)>) -> i64 {
        let snapshot_id = 1000 + self.next_nonce as i64;
        let mut rows = Vec::new();
        let mut keys = Vec::new();
        let mut deletes = Vec::new();
        for (key, change) in changes {
            if let Some(old) = self.index.remove(&key) {
                deletes.push(old);
            }
            match change {
                Some((row, model)) => {
                    rows.push(row);
                    keys.push(key);
                    self.model.insert(key, model);
                }
                None => {
                    self.model.remove(&key);
                }
            }
        }
        self.lsn += 10;
        let nonce = self.nonce();
        let commit = self
            .state
            .flush(Flush {
                rows,
                deletes,
                shard_lsns: vec![("shard-0".into(), self.lsn)],
                snapshot_id,
                timestamp_ms: 1_700_000_000_000 + self.lsn as i64,
                nonce,
            })
            .unwrap();
        commit.put_all(&self.store).unwrap();
        for (key, pos) in keys.into_iter().zip(commit.positions) {
            self.index.insert(key, pos);
        }
        self.state = commit.state;
        snapshot_id
    }

    fn expected(&self) -> Json {
        Json::Array(
            self.model
                .values()
                .map(|m| {
                    let mut obj = serde_json::Map::new();
                    for (i, c) in self.columns.iter().enumerate() {
                        obj.insert(c.clone(), m.get(i).cloned().unwrap_or(Json::Null));
                    }
                    Json::Object(obj)
                })
                .collect(),
        )
    }
}

// Rows of a scan as JSON objects sorted by the first column.
fn rust_rows(h: &Harness, snapshot: Option<i64>) -> Json {
    let reader = TableReader::new(&h.store, &h.state.warehouse);
    let md = reader.load_metadata(&h.state.metadata_location).unwrap();
    let scan = reader.scan(&md, snapshot).unwrap();
    let mut rows = Vec::new();
    for b in &scan.batches {
        let json = arrow_json_rows(b);
        rows.extend(json);
    }
    rows.sort_by_key(|r: &Json| r[&scan.schema.fields[0].name].as_i64());
    Json::Array(rows)
}

fn arrow_json_rows(b: &arrow_array::RecordBatch) -> Vec<Json> {
    use arrow_array::{Array, Float64Array, Int64Array, StringArray};
    (0..b.num_rows())
        .map(|i| {
            let mut obj = serde_json::Map::new();
            for (f, col) in b.schema().fields().iter().zip(b.columns()) {
                let v = if col.is_null(i) {
                    Json::Null
                } else if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
                    json!(a.value(i))
                } else if let Some(a) = col.as_any().downcast_ref::<Float64Array>() {
                    json!(a.value(i))
                } else if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
                    json!(a.value(i))
                } else {
                    panic!("unexpected column type {}", col.data_type())
                };
                obj.insert(f.name().clone(), v);
            }
            Json::Object(obj)
        })
        .collect()
}

fn row(id: i64, name: &str, score: Value) -> Vec<Value> {
    vec![Value::Integer(id), Value::Text(name.into()), score]
}

#[test]
fn pyiceberg_and_duckdb_read_current_and_older_snapshots() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let warehouse = format!("file://{}", dir.path().display());
    let columns = vec![
        SqlColumn::new("id", "INTEGER", true),
        SqlColumn::new("name", "TEXT", false),
        SqlColumn::new("score", "REAL", false),
    ];
    let store = DirStore::new(dir.path());
    let create =
        TableState::create(&warehouse, "ns/users", &columns, 1_700_000_000_000, [0; 16]).unwrap();
    create.put_all(&store).unwrap();
    let mut h = Harness {
        store,
        state: create.state,
        index: BTreeMap::new(),
        model: BTreeMap::new(),
        columns: vec!["id".into(), "name".into(), "score".into()],
        next_nonce: 0,
        lsn: 0,
    };

    // 1: insert five rows (an integer score is widened to double; a text
    // score cannot be and becomes NULL, counted in the summary).
    let mut changes = Vec::new();
    for id in 1..=5 {
        let name = format!("user{id}");
        let (score, model_score) = match id {
            2 => (Value::Integer(7), json!(7.0)),
            5 => (Value::Text("n/a".into()), Json::Null),
            _ => (Value::Real(id as f64 + 0.5), json!(id as f64 + 0.5)),
        };
        changes.push((
            id,
            Some((row(id, &name, score), json!([id, name, model_score]))),
        ));
    }
    let s1 = h.flush(changes);
    let expected_s1 = h.expected();
    let summary = &h
        .state
        .metadata
        .current_snapshot()
        .unwrap()
        .summary
        .properties;
    assert_eq!(summary[COERCED_NULLS_KEY], "1");
    assert_eq!(summary[&format!("{LSN_SUMMARY_PREFIX}shard-0")], "10");

    // 2: update two rows (delete old position + append new image).
    let s2 = h.flush(vec![
        (
            2,
            Some((
                row(2, "renamed", Value::Real(2.25)),
                json!([2, "renamed", 2.25]),
            )),
        ),
        (
            4,
            Some((
                row(4, "user4", Value::Real(40.0)),
                json!([4, "user4", 40.0]),
            )),
        ),
    ]);
    let expected_s2 = h.expected();

    // 3: delete one row, update an already-updated row again.
    h.flush(vec![
        (3, None),
        (
            2,
            Some((row(2, "again", Value::Null), json!([2, "again", null]))),
        ),
    ]);

    // 4: ADD COLUMN, then insert and update with the new column.
    let mut cols = columns.clone();
    cols.push(SqlColumn::new("email", "VARCHAR(80)", false));
    let nonce = h.nonce();
    let alter = h.state.alter(&cols, &[], 1_700_000_000_500, nonce).unwrap();
    alter.put_all(&h.store).unwrap();
    h.state = alter.state;
    h.columns.push("email".into());
    let email_row = |id: i64, name: &str, email: &str| {
        vec![
            Value::Integer(id),
            Value::Text(name.into()),
            Value::Real(1.0),
            Value::Text(email.into()),
        ]
    };
    let s4 = h.flush(vec![
        (
            6,
            Some((
                email_row(6, "six", "six@x"),
                json!([6, "six", 1.0, "six@x"]),
            )),
        ),
        (
            1,
            Some((
                email_row(1, "user1", "one@x"),
                json!([1, "user1", 1.0, "one@x"]),
            )),
        ),
    ]);
    let md = &h.state.metadata;
    assert_eq!(md.current_schema().fields[3].id, 4);
    assert_eq!(md.last_column_id, 4);
    assert_eq!(md.current_snapshot_id, Some(s4));
    assert_eq!(
        md.snapshot_by_id(s4).unwrap().summary.properties[&format!("{LSN_SUMMARY_PREFIX}shard-0")],
        "40"
    );

    // DoLake's own reader agrees, currently and by snapshot id.
    assert_eq!(rust_rows(&h, None), h.expected());
    assert_eq!(rust_rows(&h, Some(s1)), expected_s1);
    assert_eq!(rust_rows(&h, Some(s2)), expected_s2);

    let metadata_path = h
        .state
        .metadata_location
        .strip_prefix("file://")
        .unwrap()
        .to_string();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/verify_iceberg.py");
    let out = Command::new(&py)
        .arg(&script)
        .arg(&metadata_path)
        .arg(s1.to_string())
        .arg(s2.to_string())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "verify_iceberg.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Json = serde_json::from_slice(&out.stdout).unwrap();

    // Older snapshots were written before ADD COLUMN, so they have no email.
    let current = h.expected();
    assert_eq!(got["pyiceberg"], current, "PyIceberg current rows");
    assert_eq!(got["duckdb"], current, "DuckDB current rows");
    for (s, exp) in [(s1, &expected_s1), (s2, &expected_s2)] {
        assert_eq!(
            &got["pyiceberg_snapshots"][s.to_string()],
            exp,
            "PyIceberg at snapshot {s}"
        );
        assert_eq!(
            &got["duckdb_snapshots"][s.to_string()],
            exp,
            "DuckDB at snapshot {s}"
        );
    }
}
