//! Flushing through the Iceberg writer and reading the tables back with
//! the Rust reader: net effects and position deletes against a model,
//! schema evolution, crashes between prepare and complete, stale plans,
//! and recovery from backpressure.

mod lake_common;

use std::collections::BTreeMap;

use arrow_array::{Array, BinaryArray, Float64Array, Int64Array, StringArray};
use dolake::lake::{Lake, LakeConfig, Reply};
use dolake::reader::TableReader;
use dolake::store::{MemoryStore, ObjectStore};
use dolake::Error;
use lake_common::*;
use proptest::prelude::*;
use shared_types::Value;

const WAREHOUSE: &str = "s3://lake/warehouse";

fn config() -> LakeConfig {
    LakeConfig {
        warehouse: WAREHOUSE.into(),
        ..LakeConfig::default()
    }
}

/// Prepares, puts and completes a flush of `table`; false when it had
/// nothing to flush.
fn flush(lake: &mut Lake, store: &MemoryStore, table: &str, now: u64) -> bool {
    let entropy = [
        (now % 251) as u8,
        (now >> 8) as u8,
        7,
        7,
        7,
        7,
        7,
        7,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
    ];
    let Some(plan) = lake.prepare_flush(table, now, entropy).unwrap() else {
        return false;
    };
    for o in &plan.objects {
        store.put(&o.key, &o.bytes).unwrap();
    }
    let done = lake.complete_flush(plan).unwrap();
    assert_eq!(
        lake.table(table).unwrap().metadata_location.as_deref(),
        Some(done.metadata_location.as_str())
    );
    true
}

fn cell(c: &dyn Array, i: usize) -> Value {
    if c.is_null(i) {
        Value::Null
    } else if let Some(a) = c.as_any().downcast_ref::<StringArray>() {
        Value::Text(a.value(i).into())
    } else if let Some(a) = c.as_any().downcast_ref::<Int64Array>() {
        Value::Integer(a.value(i))
    } else if let Some(a) = c.as_any().downcast_ref::<Float64Array>() {
        Value::Real(a.value(i))
    } else if let Some(a) = c.as_any().downcast_ref::<BinaryArray>() {
        Value::Blob(a.value(i).to_vec())
    } else {
        panic!("unexpected column type {}", c.data_type())
    }
}

/// The table's current rows as `column -> value` maps, sorted.
fn read(lake: &Lake, store: &MemoryStore, table: &str) -> Vec<BTreeMap<String, Value>> {
    let reader = TableReader::new(store, WAREHOUSE);
    let location = lake
        .table(table)
        .unwrap()
        .metadata_location
        .clone()
        .unwrap();
    let md = reader.load_metadata(&location).unwrap();
    let scan = reader.scan(&md, None).unwrap();
    let mut rows = Vec::new();
    for b in &scan.batches {
        for i in 0..b.num_rows() {
            rows.push(
                b.schema()
                    .fields()
                    .iter()
                    .zip(b.columns())
                    .map(|(f, c)| (f.name().clone(), cell(c.as_ref(), i)))
                    .collect::<BTreeMap<_, _>>(),
            );
        }
    }
    rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    rows
}

fn row(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

fn i(v: i64) -> Value {
    Value::Integer(v)
}

#[test]
fn updates_and_deletes_across_flushes_give_the_current_rows() {
    let store = MemoryStore::new();
    let mut lake = lake(config());
    let mut a = Shard::new("a");
    let mut b = Shard::new("b");
    for s in [&mut a, &mut b] {
        s.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    }
    a.exec("INSERT INTO t VALUES (1, 'a1'), (2, 'a2'), (3, 'a3')");
    a.exec("UPDATE t SET v = 'a2b' WHERE id = 2");
    a.exec("DELETE FROM t WHERE id = 3");
    b.exec("INSERT INTO t VALUES (1, 'b1')");
    ack(&mut lake, "a", &a.batch(), 1);
    ack(&mut lake, "b", &b.batch(), 1);
    assert!(flush(&mut lake, &store, "t", 2));
    let want1 = vec![
        row(&[("_shard", t("a")), ("id", i(1)), ("v", t("a1"))]),
        row(&[("_shard", t("a")), ("id", i(2)), ("v", t("a2b"))]),
        row(&[("_shard", t("b")), ("id", i(1)), ("v", t("b1"))]),
    ];
    assert_eq!(read(&lake, &store, "t"), want1);
    let stats = &lake.stats().tables["t"];
    assert_eq!((stats.buffered_rows, stats.flushes), (0, 1));
    assert_eq!(stats.lsns["a"], lake.shard_lsn("a").unwrap());
    // Second flush: updates and deletes of flushed rows are position deletes.
    a.exec("UPDATE t SET v = 'a1c' WHERE id = 1");
    a.exec("DELETE FROM t WHERE id = 2");
    a.exec("INSERT INTO t VALUES (2, 'again')");
    b.exec("DELETE FROM t WHERE id = 1");
    ack(&mut lake, "a", &a.batch(), 3);
    ack(&mut lake, "b", &b.batch(), 3);
    assert!(flush(&mut lake, &store, "t", 4));
    assert_eq!(
        read(&lake, &store, "t"),
        [
            row(&[("_shard", t("a")), ("id", i(1)), ("v", t("a1c"))]),
            row(&[("_shard", t("a")), ("id", i(2)), ("v", t("again"))]),
        ]
    );
    assert!(!flush(&mut lake, &store, "t", 5), "nothing left to flush");
    // The snapshot summary carries each shard's LSN.
    let reader = TableReader::new(&store, WAREHOUSE);
    let md = reader
        .load_metadata(lake.table("t").unwrap().metadata_location.as_ref().unwrap())
        .unwrap();
    let summary = &md.current_snapshot().unwrap().summary.properties;
    assert_eq!(
        summary.get("dolake.lsn.a"),
        Some(&lake.shard_lsn("a").unwrap().to_string())
    );
    assert_eq!(
        summary.get("dolake.lsn.b"),
        Some(&lake.shard_lsn("b").unwrap().to_string())
    );
}

#[test]
fn schema_changes_evolve_the_table_across_flushes() {
    let store = MemoryStore::new();
    let mut lake = lake(config());
    let mut a = Shard::new("a");
    a.exec("CREATE TABLE t(k TEXT PRIMARY KEY, n INTEGER, old TEXT) WITHOUT ROWID");
    a.exec("INSERT INTO t VALUES ('x', 1, 'o')");
    ack(&mut lake, "a", &a.batch(), 1);
    flush(&mut lake, &store, "t", 2);
    a.exec("ALTER TABLE t ADD COLUMN score REAL");
    a.exec("ALTER TABLE t RENAME COLUMN n TO num");
    a.exec("ALTER TABLE t DROP COLUMN old");
    a.exec("INSERT INTO t VALUES ('y', 2, 0.5)");
    a.exec("UPDATE t SET score = 1.5 WHERE k = 'x'");
    ack(&mut lake, "a", &a.batch(), 3);
    flush(&mut lake, &store, "t", 4);
    assert_eq!(
        read(&lake, &store, "t"),
        [
            row(&[
                ("_shard", t("a")),
                ("k", t("x")),
                ("num", i(1)),
                ("score", Value::Real(1.5))
            ]),
            row(&[
                ("_shard", t("a")),
                ("k", t("y")),
                ("num", i(2)),
                ("score", Value::Real(0.5))
            ]),
        ]
    );
    // The renamed column kept its field id.
    let reader = TableReader::new(&store, WAREHOUSE);
    let md = reader
        .load_metadata(lake.table("t").unwrap().metadata_location.as_ref().unwrap())
        .unwrap();
    let first = &md.schemas[0];
    let now = md.current_schema();
    assert_eq!(
        first.field_by_name("n").unwrap().id,
        now.field_by_name("num").unwrap().id
    );
    // A second shard with a wider table: the union, with NULLs elsewhere.
    let mut b = Shard::new("b");
    b.exec("CREATE TABLE t(k TEXT PRIMARY KEY, num INTEGER, extra BLOB) WITHOUT ROWID");
    b.exec("INSERT INTO t VALUES ('x', 9, x'00ff')");
    ack(&mut lake, "b", &b.batch(), 5);
    flush(&mut lake, &store, "t", 6);
    let rows = read(&lake, &store, "t");
    assert_eq!(rows.len(), 3);
    assert!(rows.contains(&row(&[
        ("_shard", t("b")),
        ("k", t("x")),
        ("num", i(9)),
        ("score", Value::Null),
        ("extra", Value::Blob(vec![0, 255])),
    ])));
    // DROP TABLE in b: its rows go, a's stay.
    b.exec("DROP TABLE t");
    ack(&mut lake, "b", &b.batch(), 7);
    flush(&mut lake, &store, "t", 8);
    let rows = read(&lake, &store, "t");
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["_shard"] == t("a")), "{rows:?}");
}

#[test]
fn a_crash_between_prepare_and_complete_redoes_the_flush() {
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::new();
    let mut a = Shard::new("a");
    a.exec("CREATE TABLE t(x)");
    a.exec("INSERT INTO t VALUES (1), (2)");
    let batch = a.batch();
    {
        let mut lake = Lake::open(dir_engine(dir.path()), config()).unwrap();
        ack(&mut lake, "a", &batch, 1);
        let plan = lake.prepare_flush("t", 2, [9; 16]).unwrap().unwrap();
        for o in &plan.objects {
            store.put(&o.key, &o.bytes).unwrap();
        }
        // Crash: the plan is never completed.
        drop(lake.into_engine());
    }
    let orphans = store.list("").unwrap().len();
    let mut lake = Lake::open(dir_engine(dir.path()), config()).unwrap();
    assert_eq!(lake.stats().tables["t"].buffered_rows, 2);
    assert_eq!(lake.table("t").unwrap().metadata_location, None);
    assert!(flush(&mut lake, &store, "t", 3));
    assert!(
        store.list("").unwrap().len() > orphans,
        "new names, no overwrite"
    );
    assert_eq!(
        read(&lake, &store, "t"),
        [
            row(&[("_shard", t("a")), ("x", t("1")), ("_rowid", i(1))]),
            row(&[("_shard", t("a")), ("x", t("2")), ("_rowid", i(2))]),
        ]
    );
    // (An untyped column is a string column: docs/lakehouse.md.)
    // After another restart the row index still turns deletes into
    // position deletes.
    drop(lake.into_engine());
    let mut lake = Lake::open(dir_engine(dir.path()), config()).unwrap();
    a.exec("DELETE FROM t WHERE x = 1");
    ack(&mut lake, "a", &a.batch(), 4);
    flush(&mut lake, &store, "t", 5);
    assert_eq!(
        read(&lake, &store, "t"),
        [row(&[("_shard", t("a")), ("x", t("2")), ("_rowid", i(2))])]
    );
}

#[test]
fn stale_plans_are_refused_and_receives_during_a_flush_are_kept() {
    let store = MemoryStore::new();
    let mut lake = lake(config());
    let mut a = Shard::new("a");
    a.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v)");
    a.exec("INSERT INTO t VALUES (1, 'one')");
    ack(&mut lake, "a", &a.batch(), 1);
    let first = lake.prepare_flush("t", 2, [1; 16]).unwrap().unwrap();
    let second = lake.prepare_flush("t", 2, [2; 16]).unwrap().unwrap();
    // A receive while the first plan's objects are being put.
    a.exec("UPDATE t SET v = 'uno' WHERE id = 1");
    ack(&mut lake, "a", &a.batch(), 3);
    for o in &first.objects {
        store.put(&o.key, &o.bytes).unwrap();
    }
    lake.complete_flush(first).unwrap();
    assert!(matches!(
        lake.complete_flush(second),
        Err(Error::Conflict(_))
    ));
    assert_eq!(
        lake.stats().tables["t"].buffered_rows,
        1,
        "the update stays"
    );
    assert_eq!(lake.next_flush_at(), Some(3 + 5_000));
    assert_eq!(
        read(&lake, &store, "t"),
        [row(&[("_shard", t("a")), ("id", i(1)), ("v", t("one"))])]
    );
    flush(&mut lake, &store, "t", 4);
    assert_eq!(
        read(&lake, &store, "t"),
        [row(&[("_shard", t("a")), ("id", i(1)), ("v", t("uno"))])]
    );
    assert!(matches!(
        lake.prepare_flush("nope", 1, [0; 16]),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn a_nacked_shard_is_accepted_after_a_flush() {
    let store = MemoryStore::new();
    let mut lake = lake(LakeConfig {
        max_buffer_bytes: 3_000,
        ..config()
    });
    let mut a = Shard::new("a");
    a.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    let mut model = Vec::new();
    let mut pending;
    let mut id = 0;
    loop {
        id += 1;
        a.exec(&format!(
            "INSERT INTO t VALUES ({id}, '{}')",
            "p".repeat(200)
        ));
        model.push(id);
        pending = a.batch();
        if let Reply::Nack { .. } = lake.receive("a", &pending, id as u64).unwrap() {
            break;
        }
    }
    for table in lake.due_flushes(id as u64) {
        flush(&mut lake, &store, &table, id as u64);
    }
    // The resent batch now fits.
    ack(&mut lake, "a", &pending, 1_000);
    flush(&mut lake, &store, "t", 1_001);
    let ids: Vec<Value> = read(&lake, &store, "t")
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    let mut ids: Vec<i64> = ids
        .into_iter()
        .map(|v| match v {
            Value::Integer(i) => i,
            other => panic!("{other:?}"),
        })
        .collect();
    ids.sort();
    assert_eq!(ids, model);
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u8, i64),
    Update(u8, i64),
    Delete(u8),
    Flush,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..12, any::<i64>()).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => (0u8..12, any::<i64>()).prop_map(|(k, v)| Op::Update(k, v)),
        2 => (0u8..12).prop_map(Op::Delete),
        1 => Just(Op::Flush),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random operations on two shards with random flush points: the
    /// table read back always equals a BTreeMap model of the current rows.
    #[test]
    fn the_table_matches_a_model_of_current_rows(
        ops in proptest::collection::vec((0usize..2, op()), 1..40)
    ) {
        let store = MemoryStore::new();
        let mut lake = lake(config());
        let mut shards = [Shard::new("s0"), Shard::new("s1")];
        for s in &mut shards {
            s.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)");
        }
        let mut model: BTreeMap<(String, i64), i64> = BTreeMap::new();
        let mut now = 0;
        let check = |lake: &mut Lake, model: &BTreeMap<(String, i64), i64>, now: u64| {
            flush(lake, &store, "t", now);
            let got: BTreeMap<(String, i64), i64> = read(lake, &store, "t")
                .into_iter()
                .map(|r| match (&r["_shard"], &r["id"], &r["v"]) {
                    (Value::Text(s), Value::Integer(k), Value::Integer(v)) => ((s.clone(), *k), *v),
                    other => panic!("{other:?}"),
                })
                .collect();
            prop_assert_eq!(&got, model);
            Ok(())
        };
        for (which, op) in ops {
            now += 1;
            let shard = &mut shards[which];
            let name = shard.name.clone();
            match op {
                Op::Insert(k, v) => {
                    shard.exec(&format!("INSERT OR REPLACE INTO t VALUES ({k}, {v})"));
                    model.insert((name, k.into()), v);
                }
                Op::Update(k, v) => {
                    shard.exec(&format!("UPDATE t SET v = {v} WHERE id = {k}"));
                    if let Some(old) = model.get_mut(&(name, k.into())) {
                        *old = v;
                    }
                }
                Op::Delete(k) => {
                    shard.exec(&format!("DELETE FROM t WHERE id = {k}"));
                    model.remove(&(name, k.into()));
                }
                Op::Flush => {
                    for s in &mut shards {
                        let b = s.batch();
                        ack(&mut lake, &s.name.clone(), &b, now);
                    }
                    check(&mut lake, &model, now)?;
                }
            }
        }
        for s in &mut shards {
            let b = s.batch();
            ack(&mut lake, &s.name.clone(), &b, now);
        }
        check(&mut lake, &model, now + 1)?;
    }
}
