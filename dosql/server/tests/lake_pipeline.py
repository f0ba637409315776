"""External readers of a table the live pipeline wrote (lake_pipeline.rs).

Environment: CATALOG_URI, TOKEN, S3_ENDPOINT (host:port/s3, for DuckDB),
TABLE (a table of namespace "dosql"), OLD_SNAPSHOT (a snapshot id to time
travel to). PyIceberg loads the table through the REST catalog and reads
its files through the S3 route the catalog hands out; DuckDB (httpfs,
avro, iceberg extensions, loaded from their pip packages, offline) scans
the metadata file the catalog names over the same route.

Prints one JSON object: the rows of each reader, current and at
OLD_SNAPSHOT, as lists of {column: value} sorted by (_shard, id).
"""

import json
import os
import pathlib
import sys

from pyiceberg.catalog.rest import RestCatalog

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tests" / "py"))
import lakeduck  # noqa: E402


def ordered(rows):
    return sorted(rows, key=lambda r: (r["_shard"], r["id"]))


cat = RestCatalog("dolake", uri=os.environ["CATALOG_URI"], token=os.environ["TOKEN"])
table = cat.load_table(("dosql", os.environ["TABLE"]))
old = int(os.environ["OLD_SNAPSHOT"])
out = {
    "current_snapshot": table.current_snapshot().snapshot_id,
    "pyiceberg": ordered(table.scan().to_arrow().to_pylist()),
    "pyiceberg_old": ordered(table.scan(snapshot_id=old).to_arrow().to_pylist()),
}

con = lakeduck.connect(os.environ["TOKEN"], os.environ["S3_ENDPOINT"])


def scan(sql, *params):
    cur = con.execute(sql, list(params))
    cols = [d[0] for d in cur.description]
    return ordered([dict(zip(cols, r)) for r in cur.fetchall()])


out["duckdb"] = scan("SELECT * FROM iceberg_scan(?)", table.metadata_location)
out["duckdb_old"] = scan(
    "SELECT * FROM iceberg_scan(?, snapshot_from_id => %d)" % old, table.metadata_location
)
print(json.dumps(out))
