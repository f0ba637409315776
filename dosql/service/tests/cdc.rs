//! Change capture over protocol v1: slot management, filtered reads with
//! resume and acknowledgement, errors, and the JSON of a change batch.

use dosql::sql::Database;
use dosql_service::Service;
use serde_json::{json, Value as Json};
use shared_types::cdc::{ChangeBatch, ChangeEvent, ChangeFilter, RowOp, SchemaChange};
use shared_types::{ErrorCode, Params, Request, Response, Value};

fn exec(sql: &str) -> Request {
    Request::Exec {
        sql: sql.into(),
        params: Params::default(),
    }
}

fn read(slot: Option<&str>, from_lsn: Option<u64>, filter: Option<ChangeFilter>) -> Request {
    Request::ReadChanges {
        slot: slot.map(str::to_string),
        from_lsn,
        filter,
        max_txns: None,
        max_bytes: None,
    }
}

fn changes(r: Response) -> ChangeBatch {
    match r {
        Response::Changes(b) => b,
        other => panic!("expected changes, got {other:?}"),
    }
}

fn error_code(r: Response) -> ErrorCode {
    match r {
        Response::Error(e) => e.code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn slots_reads_and_acks_over_the_protocol() {
    let mut svc = Service::new(Database::open_memory().unwrap());
    svc.set_shard("shard-7");
    let c = svc.open_connection(0);
    let Response::Slot(slot) = svc.handle(
        c,
        Request::CreateSlot {
            slot: "lake".into(),
        },
        0,
    ) else {
        panic!("expected a slot");
    };
    assert_eq!((slot.name.as_str(), slot.lagging), ("lake", false));
    let dup = svc.handle(
        c,
        Request::CreateSlot {
            slot: "lake".into(),
        },
        0,
    );
    assert_eq!(error_code(dup), ErrorCode::InvalidRequest);
    let bad = svc.handle(
        c,
        Request::CreateSlot {
            slot: "Bad Name".into(),
        },
        0,
    );
    assert_eq!(error_code(bad), ErrorCode::InvalidRequest);

    svc.handle(
        c,
        exec("CREATE TABLE a(x INTEGER PRIMARY KEY, y); CREATE TABLE b(z)"),
        0,
    );
    svc.handle(
        c,
        exec("INSERT INTO a VALUES (1, 'one'); INSERT INTO b VALUES (2)"),
        0,
    );
    svc.handle(c, exec("UPDATE a SET y = 'uno'; DELETE FROM b"), 0);

    let all = changes(svc.handle(c, read(Some("lake"), None, None), 0));
    assert_eq!(all.version, 1);
    assert_eq!(all.txns.len(), 6);
    assert!(all.txns.iter().all(|t| t.shard == "shard-7"));
    let ChangeEvent::Schema(create) = &all.txns[0].events[0] else {
        panic!("a schema event first");
    };
    assert_eq!(
        (create.change, create.schema.rowid_alias),
        (SchemaChange::Create, Some(0))
    );
    let ChangeEvent::Row(update) = &all.txns[4].events[0] else {
        panic!("a row event");
    };
    assert_eq!(update.op, RowOp::Update);
    assert_eq!(
        update.before,
        Some(vec![Value::Integer(1), Value::Text("one".into())])
    );

    // Filtered by table and operation.
    let filter = ChangeFilter {
        tables: vec!["a".into()],
        ops: vec![RowOp::Update],
    };
    let only = changes(svc.handle(c, read(Some("lake"), None, Some(filter)), 0));
    let kinds: Vec<_> = only
        .txns
        .iter()
        .flat_map(|t| &t.events)
        .map(|e| match e {
            ChangeEvent::Schema(s) => format!("schema {}", s.table),
            ChangeEvent::Row(r) => format!("{:?} {}", r.op, r.table),
        })
        .collect();
    assert_eq!(kinds, vec!["schema a", "Update a"]);

    // Bounded reads resume where the last stopped, by slot after an ack.
    let one = Request::ReadChanges {
        slot: Some("lake".into()),
        from_lsn: None,
        filter: None,
        max_txns: Some(2),
        max_bytes: None,
    };
    let first = changes(svc.handle(c, one.clone(), 0));
    assert_eq!(first.txns, all.txns[..2].to_vec());
    let ack = Request::AckSlot {
        slot: "lake".into(),
        lsn: first.next_lsn - 1,
    };
    assert!(matches!(svc.handle(c, ack, 0), Response::Ok { .. }));
    let second = changes(svc.handle(c, one, 0));
    assert_eq!(second.txns, all.txns[2..4].to_vec());
    let from = changes(svc.handle(c, read(None, Some(all.txns[3].lsn), None), 0));
    assert_eq!(from.txns, all.txns[3..].to_vec());

    let Response::Slots { slots } = svc.handle(c, Request::ListSlots, 0) else {
        panic!("expected slots");
    };
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0].acked_lsn, first.next_lsn - 1);

    // Errors: both or neither position, unknown slot, going back.
    assert_eq!(
        error_code(svc.handle(c, read(Some("lake"), Some(1), None), 0)),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        error_code(svc.handle(c, read(None, None, None), 0)),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        error_code(svc.handle(c, read(Some("nope"), None, None), 0)),
        ErrorCode::NotFound
    );
    let back = Request::AckSlot {
        slot: "lake".into(),
        lsn: 0,
    };
    assert_eq!(
        error_code(svc.handle(c, back, 0)),
        ErrorCode::InvalidRequest
    );
    assert!(matches!(
        svc.handle(
            c,
            Request::DropSlot {
                slot: "lake".into()
            },
            0
        ),
        Response::Ok { .. }
    ));
    assert_eq!(
        error_code(svc.handle(
            c,
            Request::DropSlot {
                slot: "lake".into()
            },
            0
        )),
        ErrorCode::NotFound
    );
}

#[test]
fn change_requests_travel_as_json_frames() {
    let mut svc = Service::new(Database::open_memory().unwrap());
    svc.set_shard("s1");
    let c = svc.open_connection(0);
    let frame = |svc: &mut Service, v: Json| -> Json {
        let out = svc.handle_frame(c, v.to_string().as_bytes(), 0);
        serde_json::to_value(out).unwrap()
    };
    let created = frame(
        &mut svc,
        json!({"id": 1, "type": "create_slot", "slot": "sub"}),
    );
    assert_eq!(created["type"], "slot");
    assert_eq!(created["name"], "sub");
    frame(
        &mut svc,
        json!({"id": 2, "type": "exec", "sql": "CREATE TABLE t(a); INSERT INTO t VALUES (x'01')"}),
    );
    let batch = frame(
        &mut svc,
        json!({"id": 3, "type": "read_changes", "slot": "sub", "filter": {"ops": ["insert"]}, "max_txns": 10}),
    );
    assert_eq!(batch["id"], 3);
    assert_eq!(batch["type"], "changes");
    let row = &batch["txns"][1]["events"][0];
    assert_eq!(
        row,
        &json!({"type": "row", "table": "t", "op": "insert", "key": [1], "after": [{"blob": "AQ=="}]})
    );
    assert_eq!(batch["txns"][1]["shard"], "s1");
    let lsn = batch["next_lsn"].as_u64().unwrap() - 1;
    let acked = frame(
        &mut svc,
        json!({"id": 4, "type": "ack_slot", "slot": "sub", "lsn": lsn}),
    );
    assert_eq!(acked["type"], "ok");
    let listed = frame(&mut svc, json!({"id": 5, "type": "list_slots"}));
    assert_eq!(listed["slots"][0]["acked_lsn"], lsn);
    // Unknown fields of requests are refused.
    let typo = frame(
        &mut svc,
        json!({"id": 6, "type": "read_changes", "slots": "sub"}),
    );
    assert_eq!(typo["type"], "error");
}
