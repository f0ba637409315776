//! PyIceberg and DuckDB against the REST catalog and S3 route of a real
//! dosql-server: `catalog_pyiceberg.py` creates, evolves, renames and drops
//! namespaces and tables through `RestCatalog(uri, token)` only, and reads a
//! table DoLake wrote (registered as managed) through the catalog and the
//! S3 endpoint the catalog hands out.
//!
//! The interpreter comes from `DOSQL_PYTHON` (default
//! `<repo>/.tools/py/bin/python`, made by `scripts/setup-python.sh`); a
//! missing interpreter fails the test, it never skips.

mod catalog_common;

use std::path::PathBuf;
use std::process::Command;

use dosql_testkit::{Server, TOKEN};

#[test]
fn pyiceberg_and_duckdb_use_the_catalog_and_the_bucket() {
    let lake = tempfile::tempdir().unwrap();
    catalog_common::write_managed(lake.path());
    let lake_arg = lake.path().to_str().unwrap();
    let server = Server::start_with(&["--lake", lake_arg]);
    let ident = catalog_common::managed_ident();
    let managed = serde_json::json!({
        "namespace": ident.namespace,
        "name": ident.name,
        "rows": catalog_common::MANAGED_ROWS,
    });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/catalog_pyiceberg.py");
    let out = Command::new(dosql_testkit::python())
        .arg(&script)
        .env("CATALOG_URI", format!("{}/iceberg", server.base))
        .env("TOKEN", TOKEN)
        .env("S3_ENDPOINT", format!("{}/s3", server.addr))
        .env("MANAGED", managed.to_string())
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "catalog_pyiceberg.py failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
