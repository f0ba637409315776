"""Reads a DoLake-written Iceberg table with external readers.

Usage: verify_iceberg.py <metadata.json path> <snapshot id> [<snapshot id>...]

Prints one JSON object: for PyIceberg and for DuckDB (iceberg extension),
the current rows and the rows of each given snapshot (time travel), each as
a list of {column: value} sorted by the first column. The Rust test
(dolake/tests/external_readers.rs) compares them with its own model.
"""

import glob
import json
import math
import os
import sys

import duckdb
from pyiceberg.table import StaticTable


def clean(rows):
    out = []
    for r in rows:
        row = {}
        for k, v in r.items():
            if isinstance(v, float) and math.isnan(v):
                v = "NaN"
            elif isinstance(v, (bytes, bytearray)):
                v = list(v)
            row[k] = v
        out.append(row)
    first = next(iter(out[0])) if out else None
    return sorted(out, key=lambda r: r[first])


def extension(name):
    pkg = __import__("duckdb_extension_" + name)
    base = os.path.dirname(pkg.__file__)
    found = glob.glob(os.path.join(base, "**", name + ".duckdb_extension"), recursive=True)
    if not found:
        raise SystemExit("no %s.duckdb_extension under %s" % (name, base))
    return found[0]


def main():
    metadata = sys.argv[1]
    snapshots = [int(s) for s in sys.argv[2:]]
    result = {}

    table = StaticTable.from_metadata(metadata)
    result["pyiceberg"] = clean(table.scan().to_arrow().to_pylist())
    result["pyiceberg_snapshots"] = {
        str(s): clean(table.scan(snapshot_id=s).to_arrow().to_pylist()) for s in snapshots
    }

    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute("LOAD '%s'" % extension("avro"))
    con.execute("LOAD '%s'" % extension("iceberg"))

    def scan(sql, *params):
        cur = con.execute(sql, list(params))
        cols = [d[0] for d in cur.description]
        return clean([dict(zip(cols, r)) for r in cur.fetchall()])

    result["duckdb"] = scan("SELECT * FROM iceberg_scan(?)", metadata)
    result["duckdb_snapshots"] = {
        str(s): scan("SELECT * FROM iceberg_scan(?, snapshot_from_id => %d)" % s, metadata)
        for s in snapshots
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
