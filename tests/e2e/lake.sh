#!/usr/bin/env bash
# End-to-end test of the Worker's lake side under `wrangler dev` (local,
# offline), against a fresh persistence directory:
#
#   1. the lake routes need the token: the catalog a bearer token, the S3
#      read path the SigV4 access key id;
#   2. PyIceberg, given only the catalog URI and the token, creates a
#      namespace and a table through the Worker's REST catalog (the DoLake
#      Object puts the metadata into the local R2 bucket) and loads it back,
#      reading the metadata file through the Worker's S3 route;
#   3. the S3 route answers HEAD, whole GETs and byte ranges (206, 416)
#      from R2, byte for byte;
#   4. a database writes, updates and deletes rows; its changes are shipped
#      to DoLake over the ingest WebSocket, flushed by DoLake's alarm to
#      Parquet on R2 and committed as Iceberg snapshots; PyIceberg reads
#      exactly the current rows and time-travels to the first snapshot, and
#      DuckDB scans the same rows, both through the Worker; after a restart
#      of wrangler every row is still there and the catalog still lists the
#      tables;
#   5. one transaction larger than a WebSocket message reaches the lake in
#      parts, whole.
#
# Needs scripts/setup.sh (wrangler, worker-build) and scripts/setup-python.sh
# (PyIceberg; interpreter DOSQL_PYTHON, default .tools/py/bin/python).
#   SKIP_SETUP=1 / SKIP_BUILD=1 reuse what an earlier run installed/built.
set -euo pipefail
cd "$(dirname "$0")/../.."

NAME=lake
. tests/e2e/wrangler.sh
py=${DOSQL_PYTHON:-$PWD/.tools/py/bin/python}
if ! "$py" -c 'import pyiceberg, pyarrow' 2>/dev/null; then
    echo "lake: no PyIceberg at $py: run scripts/setup-python.sh (or set DOSQL_PYTHON)" >&2
    exit 1
fi


# expect <label> <expected HTTP status> <curl args...>: the body on stdout.
expect() {
    local label=$1 want=$2 status
    shift 2
    status=$(curl -s -m 60 -o "$work/out" -w '%{http_code}' "$@")
    if [ "$status" != "$want" ]; then
        echo "lake: FAILED $label: HTTP $status, expected $want: $(head -c 500 "$work/out")" >&2
        return 1
    fi
    echo "lake: ok  $label" >&2
    cat "$work/out"
}

sql() {
    expect "$1" 200 -X POST -H 'content-type: application/json' -H "Authorization: Bearer $token" \
        --data-binary "{\"statements\": $2}" "$base/db/shop/v1/batch" >/dev/null
}

start_wrangler
echo "lake: wrangler ready on $base"
catalog="$base/lake/default/iceberg"

# 1. Auth.
expect "catalog without a token is 401" 401 "$catalog/v1/config" >/dev/null
expect "catalog with the token" 200 -H "Authorization: Bearer $token" "$catalog/v1/config" >/dev/null
expect "S3 route without a credential is 403" 403 "$base/lake/default/s3/lake/warehouse/x" >/dev/null

# 2. PyIceberg through the Worker's catalog and S3 route.
"$py" - "$catalog" "$token" "$work/metadata-key" <<'PY'
import sys
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

uri, token, out = sys.argv[1:4]
cat = RestCatalog("dolake", uri=uri, token=token)
cat.create_namespace("e2e")
schema = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "v", StringType()))
created = cat.create_table("e2e.items", schema=schema)
loaded = cat.load_table("e2e.items")
assert loaded.metadata_location == created.metadata_location, (loaded.metadata_location, created.metadata_location)
assert [f.name for f in loaded.schema().fields] == ["id", "v"]
assert ("e2e", "items") in cat.list_tables("e2e")
# The metadata file read back through the S3 route is the catalog's.
io = loaded.io
with io.new_input(loaded.metadata_location).open() as f:
    raw = f.read()
assert b'"format-version"' in raw, raw[:200]
prefix = "s3://lake/"
assert loaded.metadata_location.startswith(prefix), loaded.metadata_location
open(out, "w").write(loaded.metadata_location[len(prefix):])
print("lake: ok  PyIceberg creates and loads a table through the Worker")
PY

# 3. The S3 route: HEAD, whole, ranges.
key=$(cat "$work/metadata-key")
s3="$base/lake/default/s3/lake/$key"
auth="Authorization: AWS4-HMAC-SHA256 Credential=$token/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
expect "GET a metadata object" 200 -H "$auth" "$s3" > "$work/whole"
size=$(wc -c < "$work/whole")
expect "HEAD a metadata object" 200 -I -H "$auth" "$s3" | tr -d '\r' | grep -qi "^content-length: $size$"
expect "GET bytes=5-24" 206 -H "$auth" -H "Range: bytes=5-24" "$s3" > "$work/part"
cmp "$work/part" <(tail -c +6 "$work/whole" | head -c 20)
expect "GET bytes=-10" 206 -H "$auth" -H "Range: bytes=-10" "$s3" > "$work/tail"
cmp "$work/tail" <(tail -c 10 "$work/whole")
expect "GET past the end is 416" 416 -H "$auth" -H "Range: bytes=$((size + 10))-" "$s3" >/dev/null
expect "a missing key is 404" 404 -H "$auth" "$base/lake/default/s3/lake/warehouse/none" >/dev/null

# 4. A database ships its changes; DoLake flushes them to Parquet on R2
#    (age policy, driven by its alarm) and records Iceberg snapshots that
#    PyIceberg and DuckDB read through the Worker.
sql "create a table" '[{"sql": "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)"}]'
# One statement, so that the first flush holds all 20 rows.
values=$(for i in $(seq 1 20); do printf "($i, 'v$i'),"; done)
sql "insert 20 rows" "[{\"sql\": \"INSERT INTO items VALUES ${values%,}\"}]"

# wait_snapshot <n>: until dosql.items has at least n snapshots; prints the
# current snapshot id.
wait_snapshot() {
    "$py" - "$catalog" "$token" "$1" <<'PY'
import sys, time
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.exceptions import NoSuchTableError
uri, token, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
cat = RestCatalog("dolake", uri=uri, token=token)
deadline = time.time() + 90
while True:
    try:
        t = cat.load_table("dosql.items")
        if len(t.metadata.snapshots) >= want:
            print(t.metadata.current_snapshot_id)
            break
    except NoSuchTableError:
        pass
    if time.time() > deadline:
        sys.exit("lake: FAILED no snapshot %d of dosql.items within 90 s" % want)
    time.sleep(0.5)
PY
}
first=$(wait_snapshot 1)
echo "lake: ok  the inserts reached an Iceberg snapshot ($first)"
sql "update and delete" '[{"sql": "UPDATE items SET v = '"'"'new'"'"' WHERE id <= 5"}, {"sql": "DELETE FROM items WHERE id > 15"}]'
second=$(wait_snapshot 2)
echo "lake: ok  the update and delete reached snapshot $second"
expect "database stats" 200 -H "Authorization: Bearer $token" "$base/db/shop/v1/stats" \
    | python3 -c '
import json, sys
s = json.load(sys.stdin)["shipping"]
assert s["shard"] == "shop", s
assert s["stopped"] is None, s
print("lake: ok  the database is shard shop and shipping has not stopped: %s" % json.dumps(s))
'
S3_ENDPOINT="127.0.0.1:$port/lake/default/s3" "$py" - "$catalog" "$token" "$first" <<'PY'
import os, pathlib, sys
from pyiceberg.catalog.rest import RestCatalog
uri, token, first = sys.argv[1], sys.argv[2], int(sys.argv[3])
cat = RestCatalog("dolake", uri=uri, token=token)
t = cat.load_table("dosql.items")
want = sorted([(i, "new" if i <= 5 else "v%d" % i) for i in range(1, 16)])
cur = t.scan(selected_fields=("id", "v", "_shard")).to_arrow().to_pylist()
assert sorted((r["id"], r["v"]) for r in cur) == want, cur
assert {r["_shard"] for r in cur} == {"shop"}, cur
old = t.scan(snapshot_id=first, selected_fields=("id", "v")).to_arrow().to_pylist()
assert sorted((r["id"], r["v"]) for r in old) == [(i, "v%d" % i) for i in range(1, 21)], old
lsns = {k: v for k, v in t.current_snapshot().summary.additional_properties.items() if k.startswith("dolake.lsn.")}
assert "dolake.lsn.shop" in lsns, t.current_snapshot().summary
print("lake: ok  PyIceberg reads exactly the current rows and time-travels to snapshot %d (%s)" % (first, lsns))

sys.path.insert(0, "tests/py")
import lakeduck
con = lakeduck.connect(token, os.environ["S3_ENDPOINT"])
rows = con.execute(f"SELECT id, v FROM iceberg_scan('{t.metadata_location}') ORDER BY id").fetchall()
assert [tuple(r) for r in rows] == want, rows
print("lake: ok  DuckDB scans the same rows through the Worker's S3 route")
PY

stop_wrangler
start_wrangler
expect "rows survive a restart" 200 -X POST -H 'content-type: application/json' -H "Authorization: Bearer $token" \
    --data-binary '{"statements": [{"sql": "SELECT COUNT(*), SUM(v = '"'"'new'"'"') FROM items"}]}' \
    "$base/db/shop/v1/batch" | python3 -c '
import json, sys
rows = json.load(sys.stdin)["results"][0]["rows"]
assert rows == [[15, 5]], rows
print("lake: ok  15 rows, 5 updated, after the restart")
'
"$py" - "$catalog" "$token" <<'PY'
import sys
from pyiceberg.catalog.rest import RestCatalog
cat = RestCatalog("dolake", uri=sys.argv[1], token=sys.argv[2])
assert ("e2e", "items") in cat.list_tables("e2e")
assert cat.load_table("dosql.items").scan().to_arrow().num_rows == 15
print("lake: ok  the catalog and the lake survive the restart")
PY

# 5. One transaction larger than a WebSocket message (5,000 rows of 400
#    characters with quotes, about 2.5 MiB of change events) goes to DoLake
#    in parts and lands whole in one table.
sql "bulk insert in one transaction" '[{"sql": "CREATE TABLE bulk (id INTEGER PRIMARY KEY, v TEXT)"}, {"sql": "INSERT INTO bulk WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) SELECT i, printf('"'"'%d \"%s\"'"'"', i, hex(zeroblob(196))) FROM n"}]'
"$py" - "$catalog" "$token" <<'PY'
import sys, time
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.exceptions import NoSuchTableError
cat = RestCatalog("dolake", uri=sys.argv[1], token=sys.argv[2])
deadline = time.time() + 120
while True:
    try:
        rows = cat.load_table("dosql.bulk").scan(selected_fields=("id", "v")).to_arrow().to_pylist()
        if rows:
            break
    except NoSuchTableError:
        pass
    if time.time() > deadline:
        sys.exit("lake: FAILED dosql.bulk has no rows within 120 s")
    time.sleep(0.5)
assert len(rows) == 5000, len(rows)
assert sorted(r["id"] for r in rows) == list(range(1, 5001))
want = '7 "' + "00" * 196 + '"'
assert [r["v"] for r in rows if r["id"] == 7] == [want], [r for r in rows if r["id"] == 7]
print("lake: ok  a 5,000-row transaction reached the lake whole (one snapshot)")
PY
expect "database stats after the bulk load" 200 -H "Authorization: Bearer $token" "$base/db/shop/v1/stats" \
    | python3 -c '
import json, sys
s = json.load(sys.stdin)["shipping"]
assert s["stopped"] is None, s
assert s["parts_sent"] >= 3, s
print("lake: ok  it went in %d parts and shipping goes on" % s["parts_sent"])
'
echo "lake: all checks passed"
