//! Shared by the catalog's server tests: a minimal blocking HTTP/1.1
//! client, and a DoLake-written table registered as managed in a lake
//! directory before the server opens it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use dolake::catalog::{Catalog, CatalogConfig, TableIdent};
use dolake::sqltypes::SqlColumn;
use dolake::store::DirStore;
use dolake::table::{Flush, TableState};
use dosql::mvcc::{Engine, EngineConfig};
use shared_types::Value;

/// One answer: status, headers (lower-case names), body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request over a fresh connection (`Connection: close`).
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v == "chunked")
    {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 4 + size..];
    }
}

/// The table `write_managed` writes, and its rows.
pub fn managed_ident() -> TableIdent {
    TableIdent {
        namespace: vec!["dolake".into(), "shard0".into()],
        name: "orders".into(),
    }
}

pub const MANAGED_ROWS: &[(i64, &str)] = &[(1, "one"), (2, "two"), (3, "three")];

/// Writes a table with DoLake's writer into `lake/bucket` (the server's
/// bucket directory) and registers it as managed in `lake/catalog`.
/// Returns its metadata location.
pub fn write_managed(lake: &Path) -> String {
    // The warehouse URL s3://lake/warehouse is the bucket directory's
    // warehouse/ subdirectory: keys of the store are relative to it.
    let store = DirStore::new(lake.join("bucket").join("warehouse"));
    let columns = [
        SqlColumn::new("id", "INTEGER", true),
        SqlColumn::new("name", "TEXT", false),
    ];
    let created = TableState::create(
        "s3://lake/warehouse",
        "dolake/shard0/orders",
        &columns,
        1_700_000_000_000,
        [1; 16],
    )
    .unwrap();
    created.put_all(&store).unwrap();
    let rows = MANAGED_ROWS
        .iter()
        .map(|(id, name)| vec![Value::Integer(*id), Value::Text((*name).into())])
        .collect();
    let flushed = created
        .state
        .flush(Flush {
            rows,
            deletes: Vec::new(),
            shard_lsns: vec![("shard0".into(), 10)],
            snapshot_id: 77,
            timestamp_ms: 1_700_000_000_001,
            nonce: [2; 16],
        })
        .unwrap();
    flushed.put_all(&store).unwrap();
    let state = flushed.state;
    let mut engine =
        Engine::open_dir(&lake.join("catalog"), 4096, EngineConfig::default()).unwrap();
    let catalog = Catalog::new(CatalogConfig {
        bucket: "lake".into(),
        warehouse: "warehouse".into(),
        client_properties: Default::default(),
    })
    .unwrap();
    let txn = engine.begin().unwrap();
    catalog
        .put_managed(
            &mut engine,
            txn,
            &managed_ident(),
            &state.metadata_location,
            &state.metadata,
            None,
        )
        .unwrap();
    engine.commit(txn).unwrap();
    state.metadata_location
}
