//! Property: replaying the change stream of random DML onto a model
//! reproduces every table's contents exactly, and every before image is
//! the row the model holds at that point.

mod cdc_common;

use std::collections::{BTreeMap, HashMap};

use cdc_common::*;
use dosql::sql::cdc::{ChangeEvent, ChangeTxn, RowOp, SchemaChange};
use dosql::sql::{Database, Session, Value};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Insert(usize, i64, i64),
    Update(usize, i64, i64),
    Delete(usize, i64),
    Replace(usize, i64, i64),
    Upsert(usize, i64, i64),
    AddColumn(usize),
    Begin,
    Commit,
    Rollback,
}

const TABLES: [&str; 3] = ["r", "p", "w"];

fn op() -> impl Strategy<Value = Op> {
    let t = 0..TABLES.len();
    let k = 0..8i64;
    let v = -3..100i64;
    prop_oneof![
        4 => (t.clone(), k.clone(), v.clone()).prop_map(|(t, k, v)| Op::Insert(t, k, v)),
        3 => (t.clone(), k.clone(), v.clone()).prop_map(|(t, k, v)| Op::Update(t, k, v)),
        2 => (t.clone(), k.clone()).prop_map(|(t, k)| Op::Delete(t, k)),
        2 => (t.clone(), k.clone(), v.clone()).prop_map(|(t, k, v)| Op::Replace(t, k, v)),
        2 => (t.clone(), k, v).prop_map(|(t, k, v)| Op::Upsert(t, k, v)),
        1 => t.prop_map(Op::AddColumn),
        1 => Just(Op::Begin),
        1 => Just(Op::Commit),
        1 => Just(Op::Rollback),
    ]
}

/// The SQL of `op`; failures (constraint violations) are part of the test.
fn sql(op: &Op, added: &mut [usize]) -> String {
    // Rows are identified by `k` in every table: the rowid of `r` (through
    // a UNIQUE column), the alias of `p`, the key of `w`.
    let key = |t: usize, k: i64| match t {
        0 => format!("a = {k}"),
        1 => format!("id = {k}"),
        _ => format!("k1 = 'k{}' AND k2 = {}", k % 3, k),
    };
    let values = |t: usize, k: i64, v: i64| match t {
        0 => format!("(a, b) VALUES ({k}, {v})"),
        1 => format!("(id, v) VALUES ({k}, {v})"),
        _ => format!("(k1, k2, v) VALUES ('k{}', {k}, {v})", k % 3),
    };
    let set = |t: usize| if t == 0 { "b" } else { "v" };
    match op {
        Op::Insert(t, k, v) => format!("INSERT INTO {} {}", TABLES[*t], values(*t, *k, *v)),
        Op::Update(t, k, v) => format!("UPDATE {} SET {} = {v} WHERE {}", TABLES[*t], set(*t), key(*t, *k)),
        Op::Delete(t, k) => format!("DELETE FROM {} WHERE {}", TABLES[*t], key(*t, *k)),
        Op::Replace(t, k, v) => format!("REPLACE INTO {} {}", TABLES[*t], values(*t, *k, *v)),
        Op::Upsert(t, k, v) => {
            let target = ["a", "id", "k1, k2"][*t];
            format!(
                "INSERT INTO {} {} ON CONFLICT({target}) DO UPDATE SET {} = {} + 1000",
                TABLES[*t],
                values(*t, *k, *v),
                set(*t),
                set(*t)
            )
        }
        Op::AddColumn(t) => {
            added[*t] += 1;
            format!("ALTER TABLE {} ADD COLUMN c{} DEFAULT {}", TABLES[*t], added[*t], added[*t] * 10)
        }
        Op::Begin => "BEGIN".into(),
        Op::Commit => "COMMIT".into(),
        Op::Rollback => "ROLLBACK".into(),
    }
}

type Rows = BTreeMap<String, Vec<Value>>;

fn key_of(key: &[Value]) -> String {
    format!("{key:?}")
}

/// Applies `txns` to `model`, checking each before image against it.
fn replay(model: &mut HashMap<String, Rows>, txns: &[ChangeTxn]) {
    for txn in txns {
        for event in &txn.events {
            match event {
                ChangeEvent::Schema(s) => match s.change {
                    SchemaChange::Create => {
                        model.insert(s.table.clone(), Rows::new());
                    }
                    SchemaChange::Drop => {
                        model.remove(&s.table);
                    }
                    SchemaChange::AddColumn => {
                        let default = s.schema.columns.last().unwrap().default.clone();
                        for row in model.get_mut(&s.table).unwrap().values_mut() {
                            row.push(default.clone().unwrap_or(Value::Null));
                        }
                    }
                    other => panic!("unexpected schema change {other:?}"),
                },
                ChangeEvent::Row(r) => {
                    let rows = model.get_mut(&r.table).expect("row of a known table");
                    let key = key_of(&r.key);
                    let old = match r.op {
                        RowOp::Insert => rows.insert(key, r.after.clone().unwrap()),
                        RowOp::Update => rows.insert(key, r.after.clone().unwrap()),
                        RowOp::Delete => rows.remove(&key),
                    };
                    // A before image has the columns of the schema before
                    // the transaction: a prefix of the model's row when the
                    // transaction added columns.
                    let old = old.map(|mut o| {
                        o.truncate(r.before.as_ref().map_or(0, Vec::len));
                        o
                    });
                    assert_eq!(old, r.before.clone(), "before image of {r:?}");
                }
            }
        }
    }
}

fn contents(db: &mut Database, table: &str) -> Rows {
    let mut s = Session::new();
    let rowid = table != "w";
    let q = if rowid {
        format!("SELECT rowid, * FROM {table}")
    } else {
        format!("SELECT k2, k1, * FROM {table}")
    };
    let result = db.execute(&mut s, &q, &[]).unwrap().remove(0);
    result
        .rows
        .into_iter()
        .map(|mut row| {
            if rowid {
                let key = row.remove(0);
                (key_of(&[key]), row)
            } else {
                let k: Vec<Value> = row.drain(..2).rev().collect();
                (key_of(&k), row)
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn replaying_the_stream_reproduces_every_table(ops in prop::collection::vec(op(), 1..60), batch in 1usize..6) {
        let mut db = Database::open_memory().unwrap();
        db.create_slot("model").unwrap();
        let mut s = Session::new();
        exec(&mut db, &mut s, "CREATE TABLE r(a UNIQUE, b)");
        exec(&mut db, &mut s, "CREATE TABLE p(id INTEGER PRIMARY KEY, v)");
        exec(&mut db, &mut s, "CREATE TABLE w(k1 TEXT, k2 INT, v, PRIMARY KEY (k1, k2)) WITHOUT ROWID");
        let mut added = [0usize; 3];
        let mut model = HashMap::new();
        for op in &ops {
            // A column added inside a transaction that rolls back is undone.
            let saved = added;
            let text = sql(op, &mut added);
            let ok = db.execute(&mut s, &text, &[]).is_ok();
            if !ok && matches!(op, Op::AddColumn(_)) {
                added = saved;
            }
            if matches!(op, Op::Rollback) && ok {
                // Columns added in the rolled-back transaction are gone.
                added = [0; 3];
                let schema = db.schema();
                for (t, name) in TABLES.iter().enumerate() {
                    added[t] = schema.table(name).unwrap().columns.len() - 2 - usize::from(t == 2);
                }
            }
            // Read as a consumer would: bounded batches from the slot.
            if !s.in_transaction() {
                let limits = dosql::sql::cdc::ReadLimits { max_txns: batch, max_bytes: usize::MAX };
                let b = db.read_slot("model", limits, &Default::default()).unwrap();
                replay(&mut model, &b.txns);
                db.ack_slot("model", b.next_lsn - 1).unwrap();
            }
        }
        if s.in_transaction() {
            exec(&mut db, &mut s, "COMMIT");
        }
        loop {
            let b = db.read_slot("model", Default::default(), &Default::default()).unwrap();
            if b.txns.is_empty() {
                break;
            }
            replay(&mut model, &b.txns);
            db.ack_slot("model", b.next_lsn - 1).unwrap();
        }
        for table in TABLES {
            prop_assert_eq!(&contents(&mut db, table), &model[table], "table {}", table);
        }
        // The whole stream from the start, read again, gives the same.
        let mut again = HashMap::new();
        replay(&mut again, &read_all(&mut db, 0));
        prop_assert_eq!(again, model);
    }
}
